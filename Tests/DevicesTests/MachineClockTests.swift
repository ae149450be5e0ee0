import Devices
import Glibc
import XCTest

/// Guest time across a pause: after `resume(at:)` the clock continues from
/// the time it was paused at, in both clock modes.
final class MachineClockTests: XCTestCase {
    func testRealTimeClockResumesWhereItWasPaused() {
        let clock = MachineClock(mode: .realTime)
        let pausedAt = clock.now
        usleep(30_000)
        XCTAssertGreaterThanOrEqual(clock.now - pausedAt, 30_000_000, "host time runs on")
        clock.resume(at: pausedAt)
        let gap = clock.now - pausedAt
        XCTAssertLessThan(gap, 10_000_000, "the 30 ms pause is not guest time")
    }

    func testInstructionCountClockResumesWhereItWasPaused() {
        let clock = MachineClock(mode: .instructionCount(shift: 1))
        clock.instructions = 1000
        let pausedAt = clock.now
        XCTAssertEqual(pausedAt, 2000)
        clock.resume(at: pausedAt)
        XCTAssertEqual(clock.now, 2000)
        clock.instructions = 1010
        XCTAssertEqual(clock.now, 2020)
    }
}
