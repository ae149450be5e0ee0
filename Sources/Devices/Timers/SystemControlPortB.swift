/// Port 61h, "NMI status and control" on the PIIX3 (port B of the old
/// 8255 PPI): PIT counter 2's gate and the speaker enable, and the status
/// bits BIOSes poll for delays.
///
/// Read: bit 0 counter 2 gate, bit 1 speaker data enable, bits 2–3 the
/// PERR#/IOCHK# NMI enables as written, bit 4 the refresh cycle toggle,
/// bit 5 counter 2's OUT, bits 6–7 IOCHK#/PERR# status (never raised here).
///
/// The refresh toggle flips at every DRAM refresh request, which on a PC is
/// counter 1 as the BIOS programs it: every 15.085 µs (count 18). Nothing
/// on a PC reprograms counter 1 afterwards, so the bit is derived from
/// machine time at that interval.
public final class SystemControlPortB: PortDevice {
    public static let refreshInterval: UInt64 = 15_085   // ns

    private let pit: ProgrammableIntervalTimer
    private let clock: MachineClock
    /// Bits 0–3 as last written.
    private var control: UInt8 = 0

    public init(pit: ProgrammableIntervalTimer, clock: MachineClock) {
        self.pit = pit
        self.clock = clock
    }

    public func reset() {
        control = 0
        pit.counter2Gate = false
    }

    public func register(on bus: IOBus) {
        bus.register(self, ports: [0x61])
    }

    /// Whether the speaker is sounding counter 2's square wave (gate and data enable both set).
    public var speakerEnabled: Bool { control & 3 == 3 }

    public func portRead(_ port: UInt16, size: Int) -> UInt32 {
        let refresh: UInt8 = (clock.now / Self.refreshInterval) & 1 != 0 ? 0x10 : 0
        let out2: UInt8 = pit.counter2Output ? 0x20 : 0
        return UInt32(control | refresh | out2)
    }

    public func portWrite(_ port: UInt16, size: Int, value: UInt32) {
        control = UInt8(truncatingIfNeeded: value) & 0x0F
        pit.counter2Gate = control & 1 != 0
    }
}
