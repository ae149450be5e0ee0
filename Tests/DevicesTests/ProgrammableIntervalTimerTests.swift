import XCTest
import Devices

/// The 8254 at 1.193182 MHz: at time t ns, floor(t · 1193182 / 10⁹) input
/// clocks have passed; a count written at clock k is loaded into the
/// counting element on clock k+1 and counts from there (datasheet).
final class ProgrammableIntervalTimerTests: XCTestCase {
    let clock = manualClock()
    let sink = RecordingInterruptSink()
    lazy var pit = ProgrammableIntervalTimer(clock: clock, irq0: InterruptLine(sink, 0))
    lazy var portB = SystemControlPortB(pit: pit, clock: clock)

    /// The timer powers on at machine time 0.
    override func setUp() { _ = portB }

    /// The first nanosecond at which `ticks` input clocks have passed.
    func time(ofTick ticks: UInt64) -> UInt64 { (ticks * 1_000_000_000 + 1_193_181) / 1_193_182 }

    func latchAndRead(_ counter: UInt16) -> UInt16 {
        pit.outb(0x43, UInt8(counter) << 6)   // counter latch command
        let lo = pit.inb(0x40 + counter)
        return UInt16(pit.inb(0x40 + counter)) << 8 | UInt16(lo)
    }

    func testMode2CountsDownFromTheDivisor() {
        pit.outb(0x43, 0x34)          // counter 0, LSB then MSB, mode 2, binary
        pit.outb(0x40, 0x9C); pit.outb(0x40, 0x2E)   // 11932: 100 Hz
        clock.set(nanoseconds: time(ofTick: 1))
        XCTAssertEqual(latchAndRead(0), 11932)
        clock.set(nanoseconds: 1_000_000)   // 1193 clocks: 1192 counted
        XCTAssertEqual(latchAndRead(0), 11932 - 1192)
        clock.set(nanoseconds: time(ofTick: 1 + 11932 + 5))   // wrapped into the second period
        XCTAssertEqual(latchAndRead(0), 11932 - 5)
    }

    func testLatchHoldsTheValueUntilRead() {
        pit.outb(0x43, 0x34); pit.outb(0x40, 0x00); pit.outb(0x40, 0x10)
        clock.set(nanoseconds: time(ofTick: 101))
        pit.outb(0x43, 0x00)
        clock.set(nanoseconds: time(ofTick: 2001))
        pit.outb(0x43, 0x00)   // a second latch before reading is ignored
        let lo = pit.inb(0x40), hi = pit.inb(0x40)
        XCTAssertEqual(UInt16(hi) << 8 | UInt16(lo), 0x1000 - 100)
    }

    func testIRQ0DeadlinesFollowTheMode2Period() {
        pit.outb(0x43, 0x34); pit.outb(0x40, 0x9C); pit.outb(0x40, 0x2E)
        let first = pit.advance(to: 0)
        XCTAssertEqual(first, time(ofTick: 1 + 11932), "OUT rises when CE reloads after one period")
        XCTAssertEqual(pit.advance(to: first - 1), first)
        XCTAssertEqual(sink.edges(0), 0)
        let second = pit.advance(to: first)
        XCTAssertEqual(sink.edges(0), 1)
        XCTAssertEqual(second, time(ofTick: 1 + 2 * 11932))
    }

    func testNewCountReportsTheNewDeadline() {
        var reported: [UInt64] = []
        pit.onReschedule = { reported.append($0) }
        pit.outb(0x43, 0x30)   // mode 0, as Linux's one-shot clockevent
        pit.outb(0x40, 100); pit.outb(0x40, 0)
        XCTAssertEqual(reported.last, time(ofTick: 1 + 100))
        clock.set(nanoseconds: time(ofTick: 1 + 100))
        XCTAssertEqual(pit.advance(to: clock.now), .max, "mode 0 fires once")
        XCTAssertEqual(sink.edges(0), 1)
    }

    func testNewMode2CountWaitsForTheEndOfThePeriod() {
        pit.outb(0x43, 0x34); pit.outb(0x40, 100); pit.outb(0x40, 0)
        clock.set(nanoseconds: time(ofTick: 31))   // 30 clocks into the first period
        pit.outb(0x40, 50); pit.outb(0x40, 0)
        XCTAssertEqual(latchAndRead(0), 70, "the current period continues")
        clock.set(nanoseconds: time(ofTick: 1 + 100 + 10))
        XCTAssertEqual(latchAndRead(0), 40, "then the new count runs")
    }

    func testMode0OutputSeenThroughPort61LikeSeaBIOSCalibration() {
        portB.outb(0x61, 0x01)        // gate counter 2 on, speaker off
        pit.outb(0x43, 0xB0)          // counter 2, LSB/MSB, mode 0
        pit.outb(0x42, 0x00); pit.outb(0x42, 0x08)   // 2048
        XCTAssertEqual(portB.inb(0x61) & 0x20, 0, "OUT low while counting")
        clock.set(nanoseconds: time(ofTick: 2048))
        XCTAssertEqual(portB.inb(0x61) & 0x20, 0)
        clock.set(nanoseconds: time(ofTick: 2049))
        XCTAssertEqual(portB.inb(0x61) & 0x20, 0x20, "OUT high N+1 clocks after the write")
        XCTAssertEqual(portB.inb(0x61) & 0x0F, 0x01)
    }

    func testMode3SquareWaveOnCounter2() {
        portB.outb(0x61, 0x03)
        pit.outb(0x43, 0xB6)          // counter 2, LSB/MSB, mode 3
        pit.outb(0x42, 4); pit.outb(0x42, 0)
        var pattern: [Bool] = []
        for tick in UInt64(1)...9 {
            clock.set(nanoseconds: time(ofTick: tick))
            pattern.append(portB.inb(0x61) & 0x20 != 0)
        }
        XCTAssertEqual(pattern, [true, true, false, false, true, true, false, false, true])
        XCTAssertTrue(portB.speakerEnabled)
    }

    func testGateLowStopsCounter2() {
        portB.outb(0x61, 0x01)
        pit.outb(0x43, 0xB0); pit.outb(0x42, 0x00); pit.outb(0x42, 0x01)   // 256
        clock.set(nanoseconds: time(ofTick: 11))
        portB.outb(0x61, 0x00)
        clock.set(nanoseconds: time(ofTick: 500))
        XCTAssertEqual(latchAndRead(2), 246, "counting paused with the gate")
        XCTAssertEqual(portB.inb(0x61) & 0x20, 0)
        portB.outb(0x61, 0x01)
        clock.set(nanoseconds: time(ofTick: 510))
        XCTAssertEqual(latchAndRead(2), 236)
    }

    func testMode1OneShotTriggeredByGate() {
        pit.outb(0x43, 0xB2)          // counter 2, LSB/MSB, mode 1
        pit.outb(0x42, 5); pit.outb(0x42, 0)
        func out(atTick t: UInt64) -> Bool {
            clock.set(nanoseconds: time(ofTick: t))
            return portB.inb(0x61) & 0x20 != 0
        }
        XCTAssertTrue(out(atTick: 9), "waits for a trigger")
        clock.set(nanoseconds: time(ofTick: 10))
        portB.outb(0x61, 0x01)        // gate rises: trigger
        XCTAssertTrue(out(atTick: 10))
        XCTAssertFalse(out(atTick: 11), "low from the clock after the trigger")
        XCTAssertFalse(out(atTick: 15))
        XCTAssertTrue(out(atTick: 16), "for N clocks")
    }

    func testMode4StrobeRaisesIRQ0AfterTheLowClock() {
        pit.outb(0x43, 0x38)          // counter 0, LSB/MSB, mode 4
        pit.outb(0x40, 10); pit.outb(0x40, 0)
        XCTAssertEqual(pit.advance(to: 0), time(ofTick: 12), "low at N+1 clocks after the write, high one clock later")
        clock.set(nanoseconds: time(ofTick: 11))
        XCTAssertFalse(pit.output(ofCounter: 0))
        _ = pit.advance(to: time(ofTick: 12))
        XCTAssertEqual(sink.edges(0), 1)
    }

    func testReadBackStatus() {
        pit.outb(0x43, 0x34)
        pit.outb(0x43, 0xE2)   // read-back: status only, counter 0
        XCTAssertEqual(pit.inb(0x40), 0xC0 | 0x34, "OUT high, null count, LSB/MSB, mode 2")
        pit.outb(0x40, 0x10); pit.outb(0x40, 0x00)
        clock.set(nanoseconds: time(ofTick: 5))
        pit.outb(0x43, 0xC2)   // read-back: count and status
        XCTAssertEqual(pit.inb(0x40), 0x80 | 0x34, "count loaded: null count clear")
        XCTAssertEqual(pit.inb(0x40), 0x10 - 4)
        XCTAssertEqual(pit.inb(0x40), 0x00)
    }

    func testBCDCounting() {
        pit.outb(0x43, 0x31)   // counter 0, LSB/MSB, mode 0, BCD
        pit.outb(0x40, 0x00); pit.outb(0x40, 0x10)   // 1000 decimal
        clock.set(nanoseconds: time(ofTick: 1 + 11))
        XCTAssertEqual(latchAndRead(0), 0x0989)
    }

    func testSingleByteAccessModes() {
        pit.outb(0x43, 0x50)   // counter 1, LSB only, mode 0
        pit.outb(0x41, 0x80)
        clock.set(nanoseconds: time(ofTick: 1 + 0x10))
        XCTAssertEqual(pit.inb(0x41), 0x70)
        pit.outb(0x43, 0x60)   // counter 1, MSB only
        pit.outb(0x41, 0x02)   // 0x0200
        clock.set(nanoseconds: time(ofTick: 1 + 0x10 + 1 + 0x100))
        XCTAssertEqual(pit.inb(0x41), 0x01)
    }

    func testRefreshToggleFlips() {
        var seen = Set<UInt8>()
        for step in UInt64(0)..<4 {
            clock.set(nanoseconds: step * 15_085)
            seen.insert(portB.inb(0x61) & 0x10)
        }
        XCTAssertEqual(seen, [0x00, 0x10])
    }
}
