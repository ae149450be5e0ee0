import XCTest
import Devices

final class RealTimeClockTests: XCTestCase {
    /// Thursday 2024-02-29 23:59:58 UTC, a leap day two seconds before March.
    static let leapDayEvening: Int64 = 1_709_251_198
    let clock = manualClock()
    let sink = RecordingInterruptSink()
    lazy var rtc = RealTimeClock(clock: clock, irq: InterruptLine(sink, 8), startTime: Self.leapDayEvening)

    /// The clock powers on at machine time 0.
    override func setUp() { _ = rtc }

    func read(_ index: UInt8) -> UInt8 {
        rtc.outb(0x70, index)
        return rtc.inb(0x71)
    }

    func write(_ index: UInt8, _ value: UInt8) {
        rtc.outb(0x70, index)
        rtc.outb(0x71, value)
    }

    func testPowerOnTimeInBCD() {
        XCTAssertEqual(read(0x00), 0x58)
        XCTAssertEqual(read(0x02), 0x59)
        XCTAssertEqual(read(0x04), 0x23)
        XCTAssertEqual(read(0x06), 0x05, "Thursday; Sunday is 1")
        XCTAssertEqual(read(0x07), 0x29)
        XCTAssertEqual(read(0x08), 0x02)
        XCTAssertEqual(read(0x09), 0x24)
        XCTAssertEqual(read(0x32), 0x20, "IBM century byte")
        XCTAssertEqual(read(0x0D), 0x80, "valid RAM and time")
    }

    func testTimeAdvancesWithTheMachineClockAcrossTheLeapDay() {
        clock.set(nanoseconds: 2_000_000_000)
        XCTAssertEqual(read(0x00), 0x00)
        XCTAssertEqual(read(0x04), 0x00)
        XCTAssertEqual(read(0x07), 0x01)
        XCTAssertEqual(read(0x08), 0x03)
        XCTAssertEqual(read(0x06), 0x06, "Friday")
    }

    func testBinaryAnd12HourFormats() {
        write(0x0B, 0x06)   // binary, 24 h
        XCTAssertEqual(read(0x00), 58)
        XCTAssertEqual(read(0x04), 23)
        write(0x0B, 0x00)   // BCD, 12 h
        XCTAssertEqual(read(0x04), 0x91, "11 PM: bit 7 marks PM")
        write(0x0B, 0x04)   // binary, 12 h
        XCTAssertEqual(read(0x04), 0x80 | 11)
    }

    func testUpdateInProgressBitPrecedesEachUpdate() {
        clock.set(nanoseconds: 500_000_000)
        XCTAssertEqual(read(0x0A), 0x26)
        clock.set(nanoseconds: 999_000_000)   // 1 ms before the update: inside the 244 µs + 1984 µs window
        XCTAssertEqual(read(0x0A), 0xA6)
        clock.set(nanoseconds: 1_000_000_000)
        XCTAssertEqual(read(0x0A), 0x26)
        XCTAssertEqual(read(0x00), 0x59)
    }

    func testPeriodicInterruptAt1024Hz() {
        write(0x0A, 0x26)          // rate 6: 976.5625 µs
        write(0x0B, 0x42)          // PIE, 24 h
        let deadline = rtc.advance(to: clock.now)
        XCTAssertEqual(deadline, 976_563)
        XCTAssertFalse(sink.level(8))
        _ = rtc.advance(to: deadline)
        XCTAssertTrue(sink.level(8))
        XCTAssertEqual(read(0x0C), 0xC0, "IRQF and PF")
        XCTAssertFalse(sink.level(8), "reading C clears the request")
        XCTAssertEqual(read(0x0C), 0x00, "and the flags")
        XCTAssertEqual(rtc.advance(to: deadline), 1_953_125)
    }

    func testPeriodicFlagWithoutInterruptEnable() {
        clock.set(nanoseconds: 2_000_000)
        XCTAssertEqual(read(0x0C) & 0xC0, 0x40, "PF is set whatever PIE says; IRQF only with PIE")
        XCTAssertEqual(rtc.advance(to: clock.now), .max, "no wake-ups needed without interrupts enabled")
    }

    func testUpdateEndedInterrupt() {
        write(0x0A, 0x20)          // no periodic rate
        write(0x0B, 0x12)          // UIE
        XCTAssertEqual(rtc.advance(to: 0), 1_000_000_000)
        _ = rtc.advance(to: 1_000_000_000)
        XCTAssertTrue(sink.level(8))
        XCTAssertEqual(read(0x0C), 0x90)
    }

    func testAlarmInterrupt() {
        write(0x0A, 0x20)
        write(0x01, 0x01); write(0x03, 0x00); write(0x05, 0x00)   // 00:00:01
        write(0x0B, 0x22)          // AIE
        clock.set(nanoseconds: 2_500_000_000)
        XCTAssertEqual(read(0x0C) & 0x20, 0, "midnight passed, alarm not yet")
        clock.set(nanoseconds: 3_000_000_000)
        XCTAssertEqual(read(0x0C), 0xB0, "IRQF, AF and the update flag")
    }

    func testAlarmDontCareMatchesEverySecond() {
        write(0x0A, 0x20)
        write(0x01, 0xFF); write(0x03, 0xC0); write(0x05, 0xC0)
        _ = read(0x0C)
        clock.set(nanoseconds: 1_000_000_000)
        XCTAssertEqual(read(0x0C) & 0x20, 0x20)
    }

    func testSetBitFreezesTheClockAndWritesTakeEffect() {
        write(0x0B, 0x82)          // SET
        clock.set(nanoseconds: 5_000_000_000)
        XCTAssertEqual(read(0x00), 0x58, "no updates while SET")
        write(0x00, 0x30); write(0x02, 0x15); write(0x04, 0x08)
        write(0x07, 0x14); write(0x08, 0x07); write(0x09, 0x99); write(0x32, 0x19)
        write(0x0B, 0x02)
        clock.set(nanoseconds: 6_000_000_000)
        XCTAssertEqual(read(0x00), 0x31)
        XCTAssertEqual(read(0x02), 0x15)
        XCTAssertEqual(read(0x07), 0x14)
        XCTAssertEqual(read(0x09), 0x99)
        XCTAssertEqual(read(0x32), 0x19)
    }

    func testDividerResetStopsTimeAndRestartsHalfASecondLater() {
        write(0x0A, 0x70)          // divider reset
        clock.set(nanoseconds: 10_000_000_000)
        XCTAssertEqual(read(0x00), 0x58)
        write(0x0A, 0x26)
        clock.set(nanoseconds: 10_499_000_000)
        XCTAssertEqual(read(0x00), 0x58)
        clock.set(nanoseconds: 10_500_000_000)
        XCTAssertEqual(read(0x00), 0x59)
    }

    func testResetClearsInterruptEnablesButKeepsTime() {
        write(0x0B, 0x72)          // PIE, AIE, UIE
        write(0x40, 0x5A)
        clock.set(nanoseconds: 1_000_000_000)
        _ = rtc.advance(to: clock.now)
        XCTAssertTrue(sink.level(8))
        rtc.reset()
        XCTAssertFalse(sink.level(8))
        XCTAssertEqual(read(0x0B), 0x02)
        XCTAssertEqual(read(0x0C), 0x00)
        XCTAssertEqual(read(0x00), 0x59)
        XCTAssertEqual(read(0x40), 0x5A)
    }

    func testNMIMaskBitAndIndexReadBack() {
        rtc.outb(0x70, 0x8F)
        XCTAssertTrue(rtc.nmiMasked)
        XCTAssertEqual(rtc.inb(0x70), 0x8F)
        rtc.outb(0x71, 0x5A)
        rtc.outb(0x70, 0x0F)
        XCTAssertFalse(rtc.nmiMasked)
        XCTAssertEqual(rtc.inb(0x71), 0x5A, "bit 7 is not part of the index")
    }

    /// The memory size SeaBIOS computes from CMOS when fw_cfg has no e820
    /// table (src/fw/paravirt.c, qemu_preinit), and its boot order decoding
    /// (src/boot.c, boot_init).
    func testConfigurationAsSeaBIOSReadsIt() {
        rtc.configure(ramBelow4G: 128 << 20, ramAbove4G: 1 << 30, cpuCount: 2,
                      bootOrder: [.cdrom, .hardDisk, .network])
        let above16M = UInt32(read(0x34)) << 16 | UInt32(read(0x35)) << 24
        XCTAssertEqual(above16M + (16 << 20), 128 << 20)
        let highMem = UInt64(read(0x5B)) << 16 | UInt64(read(0x5C)) << 24 | UInt64(read(0x5D)) << 32
        XCTAssertEqual(highMem, 1 << 30)
        XCTAssertEqual(UInt16(read(0x31)) << 8 | UInt16(read(0x30)), 0xFFFF, "127 MiB in KiB is capped")
        XCTAssertEqual(UInt16(read(0x16)) << 8 | UInt16(read(0x15)), 640)
        XCTAssertEqual(read(0x5F), 1)
        XCTAssertEqual(read(0x10), 0)
        let order = UInt32(read(0x3D)) | UInt32(read(0x38) & 0xF0) << 4
        XCTAssertEqual([order & 0xF, order >> 4 & 0xF, order >> 8 & 0xF], [3, 2, 4])
        var sum: UInt16 = 0
        for i in UInt8(0x10)...0x2D { sum &+= UInt16(read(i)) }
        XCTAssertEqual(UInt16(read(0x2E)) << 8 | UInt16(read(0x2F)), sum)
    }

    func testSmallMemoryUsesExtendedMemoryBytes() {
        rtc.configure(ramBelow4G: 8 << 20)
        XCTAssertEqual(read(0x34), 0); XCTAssertEqual(read(0x35), 0)
        let kib = UInt32(read(0x30)) << 10 | UInt32(read(0x31)) << 18
        XCTAssertEqual(kib + (1 << 20), 8 << 20)
        XCTAssertEqual(UInt16(read(0x18)) << 8 | UInt16(read(0x17)), 7 * 1024)
    }
}
