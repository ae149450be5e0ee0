import Glibc

/// The Motorola MC146818 real-time clock and its 128 bytes of CMOS RAM,
/// at ports 70h (index; bit 7 masks NMI) and 71h (data), on IRQ8.
///
/// Time is kept as seconds since 1970 plus the machine-clock instant the
/// current second began, so the date registers are computed on read and
/// nothing runs per second. The periodic, alarm and update-ended flags of
/// register C are worked out for the interval since they were last
/// brought up to date, whenever someone looks (a register read or
/// `advance(to:)`); `advance` is asked for only while an interrupt is
/// enabled that needs a wake-up.
///
/// Deviations from the chip: changing the binary/BCD or 12/24-hour format
/// re-presents the current time in the new format (the chip would leave
/// the old bytes to be misread), and the daylight-saving bit is stored
/// but not applied. Byte 32h, the IBM century byte, counts with the clock.
public final class RealTimeClock: PortDevice, TimedDevice {
    // Register B bits.
    static let setBit: UInt8 = 0x80, periodicEnable: UInt8 = 0x40, alarmEnable: UInt8 = 0x20
    static let updateEnable: UInt8 = 0x10, squareWaveEnable: UInt8 = 0x08
    static let binaryMode: UInt8 = 0x04, hour24: UInt8 = 0x02
    // Register C flags.
    static let irqFlag: UInt8 = 0x80, periodicFlag: UInt8 = 0x40, alarmFlag: UInt8 = 0x20, updateFlag: UInt8 = 0x10

    /// The update cycle (1984 µs) and the warning before it (244 µs) during
    /// which register A's UIP bit is set; the registers change at the end.
    static let updateWindow: Int64 = 1_984_000 + 244_000
    static let century = 0x32

    private let clock: MachineClock
    private let irq: InterruptLine
    private var cmos = [UInt8](repeating: 0, count: 128)
    private var index = 0
    /// Last value written to port 70h (SeaBIOS reads it back to keep the NMI bit).
    private var indexPort: UInt8 = 0

    /// Seconds since 1970-01-01 00:00:00 of the time the registers show.
    private var secondsBase: Int64 = 0
    /// Machine time (ns) at which second `secondsBase` began.
    private var secondStart: Int64 = 0
    /// Day-of-week register relative to the computed weekday (the chip only counts it).
    private var weekdayOffset = 0
    /// Machine time (ns) when the divider chain last left reset; periodic
    /// interrupts are phased from it.
    private var dividerStart: Int64 = 0
    /// Flags of register C are current up to this machine time (ns).
    private var flagsUpTo: Int64 = 0
    private var flags: UInt8 = 0

    public var onReschedule: ((_ deadline: UInt64) -> Void)?
    /// Port 70h bit 7 as last written: NMI masked.
    public private(set) var nmiMasked = false

    /// `startTime`: seconds since 1970 (UTC) the clock shows at power-on;
    /// the host's clock when nil.
    public init(clock: MachineClock, irq: InterruptLine, startTime: Int64? = nil) {
        self.clock = clock
        self.irq = irq
        cmos[0x0A] = 0x26   // 32.768 kHz time base, 1024 Hz periodic rate
        cmos[0x0B] = Self.hour24
        cmos[0x0D] = 0x80   // valid RAM and time
        let now = Int64(clock.now)
        secondsBase = startTime ?? Int64(time(nil))
        secondStart = now
        dividerStart = now
        flagsUpTo = now
    }

    public func register(on bus: IOBus) {
        bus.register(self, ports: [0x70, 0x71])
    }

    /// The RESET pin, pulled with the system reset: the interrupt enables
    /// and square-wave output of register B and all flags of register C
    /// clear. Time, format and CMOS RAM survive, as on battery.
    public func reset() {
        let now = Int64(clock.now)
        bringFlagsUp(to: now)
        cmos[0x0B] &= ~(Self.periodicEnable | Self.alarmEnable | Self.updateEnable | Self.squareWaveEnable)
        flags = 0
        irq.lower()
        onReschedule?(nextDeadline(after: now))
    }

    // MARK: - NVRAM for the machine

    /// The boot devices SeaBIOS's QEMU code reads from bytes 3Dh and 38h.
    public enum BootDevice: UInt8 {
        case floppy = 1, hardDisk = 2, cdrom = 3, network = 4
    }

    /// Fills the bytes a BIOS reads to size memory and pick a boot order.
    /// SeaBIOS on QEMU (src/fw/paravirt.c, src/boot.c, src/hw/floppy.c)
    /// reads: 34h/35h, or 30h/31h when those are zero (RAM size, used when
    /// fw_cfg has no "etc/e820"); 5Bh–5Dh (RAM above 4 GiB); 5Fh (CPUs − 1,
    /// compared with fw_cfg's count); 10h (floppy types); 38h and 3Dh (boot
    /// order); 39h (ATA translation, 2 bits per drive); 32h (century);
    /// 0Fh (shutdown status, on resume). Bytes 14h–18h and the checksum at
    /// 2Eh/2Fh are the IBM AT layout other BIOSes and loaders read.
    ///
    /// - ramBelow4G: bytes of RAM mapped from 0 up to the PCI hole.
    /// - ramAbove4G: bytes of RAM remapped above 4 GiB.
    /// - bootOrder: up to three devices, first choice first.
    /// - checkFloppySignature: whether to require 55AAh on a boot floppy.
    public func configure(ramBelow4G: UInt64, ramAbove4G: UInt64 = 0, cpuCount: Int = 1,
                          bootOrder: [BootDevice] = [.cdrom, .hardDisk], checkFloppySignature: Bool = true) {
        let kib: UInt64 = 1024, mib = 1024 * kib
        cmos[0x10] = 0                                   // no diskette drives
        cmos[0x12] = 0                                   // no fixed disks of the old CMOS types
        cmos[0x14] = 0x02                                // math coprocessor; video with its own BIOS; no diskette
        set16(0x15, 640)                                 // base memory, KiB
        let extended = UInt16(min(ramBelow4G > mib ? (ramBelow4G - mib) / kib : 0, 0xFFFF))
        set16(0x17, extended)                            // KiB above 1 MiB
        set16(0x30, extended)
        let above16M = UInt16(min(ramBelow4G > 16 * mib ? (ramBelow4G - 16 * mib) / (64 * kib) : 0, 0xFFFF))
        set16(0x34, above16M)                            // 64 KiB blocks above 16 MiB
        let high = ramAbove4G / (64 * kib)               // 64 KiB blocks above 4 GiB, 24 bits
        cmos[0x5B] = UInt8(truncatingIfNeeded: high)
        cmos[0x5C] = UInt8(truncatingIfNeeded: high >> 8)
        cmos[0x5D] = UInt8(truncatingIfNeeded: high >> 16)
        cmos[0x5F] = UInt8(clamping: cpuCount - 1)
        let devices = bootOrder.prefix(3).map(\.rawValue) + [0, 0, 0]
        cmos[0x3D] = devices[0] | devices[1] << 4
        cmos[0x38] = devices[2] << 4 | (checkFloppySignature ? 0 : 1)
        updateChecksum()
    }

    /// The standard checksum: the 16-bit sum of bytes 10h–2Dh, big-endian at 2Eh/2Fh.
    public func updateChecksum() {
        let sum = cmos[0x10...0x2D].reduce(UInt16(0)) { $0 &+ UInt16($1) }
        cmos[0x2E] = UInt8(sum >> 8)
        cmos[0x2F] = UInt8(sum & 0xFF)
    }

    /// A CMOS RAM byte (0Eh–7Fh; the clock registers below are not plain RAM).
    public func nvram(_ i: Int) -> UInt8 { cmos[i & 0x7F] }
    public func setNVRAM(_ i: Int, _ value: UInt8) { cmos[i & 0x7F] = value }

    private func set16(_ i: Int, _ v: UInt16) {
        cmos[i] = UInt8(v & 0xFF)
        cmos[i + 1] = UInt8(v >> 8)
    }

    // MARK: - Ports

    public func portRead(_ port: UInt16, size: Int) -> UInt32 {
        if port == 0x70 { return UInt32(indexPort) }
        return UInt32(readRegister(index))
    }

    public func portWrite(_ port: UInt16, size: Int, value: UInt32) {
        let v = UInt8(truncatingIfNeeded: value)
        if port == 0x70 {
            indexPort = v
            index = Int(v & 0x7F)
            nmiMasked = v & 0x80 != 0
        } else {
            writeRegister(index, v)
        }
    }

    // MARK: - For the monitor

    /// The clock's registers and the date and time a guest would read now,
    /// without the side effects of reading them (register C clears its
    /// flags; here they are shown as the device last brought them up to
    /// date, so looking changes nothing the guest could notice).
    public struct Snapshot: Equatable {
        public var registerA, registerB: UInt8
        /// Register C's flags as last brought up to date.
        public var registerC: UInt8
        /// The index last written to port 70h (NMI mask bit excluded).
        public var index: Int
        public var nmiMasked: Bool
        public var year, month, day, hour, minute, second: Int
        public var running: Bool
    }

    public var snapshot: Snapshot {
        let now = Int64(clock.now)
        let f = fields(seconds: currentSeconds(at: now))
        return Snapshot(registerA: registerA | (updateInProgress(at: now) ? 0x80 : 0), registerB: registerB,
                        registerC: flags | (interruptRequested ? Self.irqFlag : 0), index: index, nmiMasked: nmiMasked,
                        year: f.year, month: f.month, day: f.day, hour: f.hour, minute: f.minute, second: f.second,
                        running: clockRunning)
    }

    // MARK: - Registers

    private var registerA: UInt8 { cmos[0x0A] }
    private var registerB: UInt8 { cmos[0x0B] }
    /// DV2–0 = 010: the 32.768 kHz time base runs. Other values are test
    /// modes or reset (11x), in which nothing counts.
    private var oscillatorRunning: Bool { registerA & 0x70 == 0x20 }
    private var clockRunning: Bool { oscillatorRunning && registerB & Self.setBit == 0 }

    private func readRegister(_ i: Int) -> UInt8 {
        let now = Int64(clock.now)
        switch i {
        case 0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, Self.century:
            return timeRegister(i, at: now)
        case 0x0A:
            return registerA | (updateInProgress(at: now) ? 0x80 : 0)
        case 0x0C:
            bringFlagsUp(to: now)
            let c = flags | (interruptRequested ? Self.irqFlag : 0)
            flags = 0
            irq.lower()
            return c
        case 0x0D:
            return 0x80
        default:
            return cmos[i]
        }
    }

    private func writeRegister(_ i: Int, _ v: UInt8) {
        let now = Int64(clock.now)
        bringFlagsUp(to: now)
        switch i {
        case 0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, Self.century:
            setTimeRegister(i, v, at: now)
        case 0x0A:
            let wasRunning = clockRunning, oscillatorWas = oscillatorRunning
            cmos[0x0A] = v & 0x7F
            if oscillatorRunning && !oscillatorWas {
                // Leaving divider reset: the first update comes half a second later.
                dividerStart = now
                if registerB & Self.setBit == 0 { startClock(at: now, firstUpdateIn: 500_000_000) }
            } else if wasRunning && !clockRunning {
                stopClock(at: now)
            }
        case 0x0B:
            let wasRunning = clockRunning
            var b = v
            if b & Self.setBit != 0 { b &= ~Self.updateEnable }   // SET clears UIE
            cmos[0x0B] = b
            if wasRunning && !clockRunning { stopClock(at: now) }
            if !wasRunning && clockRunning { startClock(at: now, firstUpdateIn: 1_000_000_000) }
        case 0x0C, 0x0D:
            return   // read-only
        default:
            cmos[i] = v
            return
        }
        irq.set(interruptRequested)
        onReschedule?(nextDeadline(after: now))
    }

    // MARK: - Time keeping

    private func currentSeconds(at now: Int64) -> Int64 {
        guard clockRunning else { return secondsBase }
        return secondsBase + floorDiv(now - secondStart, 1_000_000_000)
    }

    private func stopClock(at now: Int64) {
        secondsBase = currentSeconds(at: now)
    }

    private func startClock(at now: Int64, firstUpdateIn delay: Int64) {
        secondStart = now + delay - 1_000_000_000
    }

    private func updateInProgress(at now: Int64) -> Bool {
        guard clockRunning else { return false }
        let intoSecond = floorMod(now - secondStart, 1_000_000_000)
        return intoSecond >= 1_000_000_000 - Self.updateWindow
    }

    private struct TimeFields {
        var second, minute, hour, weekday, day, month, year: Int   // year in full
    }

    private func fields(seconds: Int64) -> TimeFields {
        let days = Int(floorDiv(seconds, 86_400))
        let secondOfDay = Int(floorMod(seconds, 86_400))
        let date = CivilCalendar.date(dayNumber: days)
        let weekday = (CivilCalendar.weekday(dayNumber: days) - 1 + weekdayOffset) % 7 + 1
        return TimeFields(second: secondOfDay % 60, minute: secondOfDay / 60 % 60, hour: secondOfDay / 3600,
                          weekday: weekday, day: date.day, month: date.month, year: date.year)
    }

    private func seconds(of f: TimeFields) -> Int64 {
        let days = CivilCalendar.dayNumber(year: f.year, month: f.month, day: f.day)
        return Int64(days) * 86_400 + Int64(f.hour * 3600 + f.minute * 60 + f.second)
    }

    private var isBinary: Bool { registerB & Self.binaryMode != 0 }
    private var is24Hour: Bool { registerB & Self.hour24 != 0 }

    private func encode(_ v: Int) -> UInt8 {
        isBinary ? UInt8(v) : UInt8((v / 10) << 4 | v % 10)
    }

    private func decode(_ v: UInt8) -> Int {
        isBinary ? Int(v) : Int(v >> 4) * 10 + Int(v & 0x0F)
    }

    private func encodeHour(_ h: Int) -> UInt8 {
        if is24Hour { return encode(h) }
        let h12 = h % 12 == 0 ? 12 : h % 12
        return encode(h12) | (h >= 12 ? 0x80 : 0)
    }

    private func decodeHour(_ v: UInt8) -> Int {
        if is24Hour { return decode(v) }
        let h12 = decode(v & 0x7F) % 12
        return v & 0x80 != 0 ? h12 + 12 : h12
    }

    private func timeRegister(_ i: Int, at now: Int64) -> UInt8 {
        let f = fields(seconds: currentSeconds(at: now))
        switch i {
        case 0x00: return encode(f.second)
        case 0x02: return encode(f.minute)
        case 0x04: return encodeHour(f.hour)
        case 0x06: return encode(f.weekday)
        case 0x07: return encode(f.day)
        case 0x08: return encode(f.month)
        case 0x09: return encode(f.year % 100)
        default: return encode(f.year / 100 % 100)
        }
    }

    /// A guest write to a date/time register: the clock continues from the
    /// new value. Out-of-range values are clamped (the chip would count them
    /// oddly until they wrapped).
    private func setTimeRegister(_ i: Int, _ v: UInt8, at now: Int64) {
        let current = currentSeconds(at: now)
        var f = fields(seconds: current)
        switch i {
        case 0x00: f.second = min(decode(v), 59)
        case 0x02: f.minute = min(decode(v), 59)
        case 0x04: f.hour = min(decodeHour(v), 23)
        case 0x06:
            let written = min(max(decode(v), 1), 7)
            weekdayOffset = ((weekdayOffset + written - f.weekday) % 7 + 7) % 7
            return
        case 0x07: f.day = min(max(decode(v), 1), 31)
        case 0x08: f.month = min(max(decode(v), 1), 12)
        case 0x09: f.year = f.year / 100 * 100 + min(decode(v), 99)
        default: f.year = min(decode(v), 99) * 100 + f.year % 100
        }
        // Keep the weekday register where it was across date changes.
        let weekdayBefore = f.weekday
        secondsBase += seconds(of: f) - current
        let weekdayAfter = fields(seconds: currentSeconds(at: now)).weekday
        weekdayOffset = ((weekdayOffset + weekdayBefore - weekdayAfter) % 7 + 7) % 7
    }

    // MARK: - Interrupt flags

    private var interruptRequested: Bool {
        flags & registerB & (Self.periodicFlag | Self.alarmFlag | Self.updateFlag) != 0
    }

    /// Periodic interrupt period in 32.768 kHz clocks: rate 1 and 2 repeat
    /// rates 8 and 9; rate 0 is off.
    private var periodicPeriod: Int64? {
        let rate = Int64(registerA & 0x0F)
        guard oscillatorRunning, rate != 0 else { return nil }
        return 1 << ((rate < 3 ? rate + 7 : rate) - 1)
    }

    /// 32.768 kHz clocks since the divider chain started, at `t` ns
    /// (split into whole seconds first so days of run time cannot overflow).
    private func dividerClocks(at t: Int64) -> Int64 {
        let d = t - dividerStart
        return floorDiv(d, 1_000_000_000) * 32_768 + floorMod(d, 1_000_000_000) * 32_768 / 1_000_000_000
    }

    /// Sets the flags for what happened in (flagsUpTo, now].
    private func bringFlagsUp(to now: Int64) {
        guard now > flagsUpTo else { return }
        if let period = periodicPeriod,
           floorDiv(dividerClocks(at: now), period) > floorDiv(dividerClocks(at: flagsUpTo), period) {
            flags |= Self.periodicFlag
        }
        if clockRunning {
            let before = floorDiv(flagsUpTo - secondStart, 1_000_000_000)
            let after = floorDiv(now - secondStart, 1_000_000_000)
            if after > before {
                flags |= Self.updateFlag
                // The alarm is compared at every update; a day covers every pattern.
                var k = max(before + 1, after - 86_399)
                while k <= after {
                    if alarmMatches(fields(seconds: secondsBase + k)) { flags |= Self.alarmFlag; break }
                    k += 1
                }
            }
        }
        flagsUpTo = now
    }

    /// Alarm registers 1, 3, 5; values C0h–FFh match any time.
    private func alarmMatches(_ f: TimeFields) -> Bool {
        func matches(_ alarm: UInt8, _ value: Int, hour: Bool) -> Bool {
            if alarm & 0xC0 == 0xC0 { return true }
            return (hour ? decodeHour(alarm) : decode(alarm)) == value
        }
        return matches(cmos[0x01], f.second, hour: false) && matches(cmos[0x03], f.minute, hour: false)
            && matches(cmos[0x05], f.hour, hour: true)
    }

    // MARK: - TimedDevice

    public func advance(to now: UInt64) -> UInt64 {
        let t = Int64(now)
        bringFlagsUp(to: t)
        irq.set(interruptRequested)
        return nextDeadline(after: t)
    }

    /// The next periodic tick or clock update an enabled interrupt waits for.
    private func nextDeadline(after t: Int64) -> UInt64 {
        var deadline = Int64.max
        if registerB & Self.periodicEnable != 0, let period = periodicPeriod {
            let nextClock = (floorDiv(dividerClocks(at: t), period) + 1) * period
            // First nanosecond at which that many clocks have passed.
            let fraction = (nextClock % 32_768 * 1_000_000_000 + 32_767) / 32_768
            deadline = dividerStart + nextClock / 32_768 * 1_000_000_000 + fraction
        }
        if registerB & (Self.updateEnable | Self.alarmEnable) != 0 && clockRunning {
            let next = secondStart + (floorDiv(t - secondStart, 1_000_000_000) + 1) * 1_000_000_000
            deadline = min(deadline, next)
        }
        return deadline == .max ? .max : UInt64(max(deadline, 0))
    }
}

private func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}

private func floorMod(_ a: Int64, _ b: Int64) -> Int64 {
    a - floorDiv(a, b) * b
}
