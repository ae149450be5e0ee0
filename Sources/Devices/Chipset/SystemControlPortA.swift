/// Port 92h, "system control port A" (PS/2 and the PIIX3's port 92): the
/// fast A20 gate in bit 1 and the fast CPU reset in bit 0, a quicker path
/// than asking the 8042. The A20 gate here and the 8042's output port
/// bit 1 are ORed by the chipset; the machine combines the two callbacks.
public final class SystemControlPortA: PortDevice {
    private var value: UInt8 = 0

    public var onA20Change: ((Bool) -> Void)?
    public var onResetRequest: (() -> Void)?

    public init() {}

    public func reset() { value = 0 }

    public func register(on bus: IOBus) {
        bus.register(self, ports: [0x92])
    }

    public var a20Enabled: Bool { value & 0x02 != 0 }

    public func portRead(_ port: UInt16, size: Int) -> UInt32 { UInt32(value) }

    public func portWrite(_ port: UInt16, size: Int, value newValue: UInt32) {
        let v = UInt8(truncatingIfNeeded: newValue) & 0x03
        let old = value
        value = v
        if (old ^ v) & 0x02 != 0 { onA20Change?(a20Enabled) }
        // A 0→1 transition of bit 0 pulses the CPU's reset line.
        if old & 0x01 == 0 && v & 0x01 != 0 { onResetRequest?() }
    }
}
