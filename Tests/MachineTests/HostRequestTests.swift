import Foundation
import XCTest
import CPU
@testable import Machine

/// Host threads reach the machine only through `hostRequests`: work runs on
/// the machine's thread between batches, and a paused machine runs no
/// instructions and holds its guest time.
final class HostRequestTests: XCTestCase {
    func makeMachine() throws -> Machine {
        guard FileManager.default.fileExists(atPath: MachineConfiguration.defaultBIOS) else {
            throw XCTSkip("SeaBIOS is not installed (apt-get install seabios)")
        }
        var config = MachineConfiguration()
        config.serial = .none
        config.instructionCountShift = 2
        return try Machine(config)
    }

    func testPausedMachineRunsNothingAndStillServesRequests() throws {
        let machine = try makeMachine()
        XCTAssertEqual(machine.run(until: 0.0002), .timeLimit)
        let before = machine.status
        XCTAssertGreaterThan(before.instructions, 0)

        final class Box: @unchecked Sendable { var seen: MachineStatus? }
        let box = Box()
        machine.hostRequests.post { $0.pause() }
        // Posted from another thread while the machine waits, paused.
        Thread.detachNewThread {
            usleep(50_000)
            machine.hostRequests.post { m in box.seen = m.status; m.stop() }
        }
        XCTAssertEqual(machine.run(until: 1), .stopped)
        let paused = try XCTUnwrap(box.seen)
        XCTAssertTrue(paused.isPaused)
        XCTAssertEqual(paused.instructions, before.instructions, "no instruction ran while paused")
        XCTAssertEqual(paused.guestNanoseconds, before.guestNanoseconds, "guest time stood still")
    }

    func testCPUModeNamesFollowTheControlRegisters() {
        typealias Mode = MachineStatus.CPUMode
        XCTAssertEqual(Mode(cr0: 0x6000_0010, cr4: 0, efer: 0, eflags: 2), .real)
        XCTAssertEqual(Mode(cr0: 0x11, cr4: 0, efer: 0, eflags: 2), .protected)
        XCTAssertEqual(Mode(cr0: 0x11, cr4: 0, efer: 0, eflags: 2 | EFLAGS.vm), .virtual8086)
        XCTAssertEqual(Mode(cr0: 0x8000_0011, cr4: 0, efer: 0, eflags: 2), .paging(pae: false))
        XCTAssertEqual(Mode(cr0: 0x8000_0011, cr4: 0x20, efer: 0, eflags: 2), .paging(pae: true))
        XCTAssertEqual(Mode(cr0: 0x8000_0011, cr4: 0x20, efer: 0x500, eflags: 2), .long)
        XCTAssertEqual(Mode.paging(pae: true).name, "paging (PAE)")
    }
}
