/// Port 80h, where BIOSes write power-on self-test progress codes for a
/// POST card to show (and operating systems write to waste a microsecond).
/// It remembers the last code, reads it back as the PIIX3's port 80h
/// latch does, and can report each code to a tracer.
public final class POSTCodePort: PortDevice {
    public private(set) var lastCode: UInt8 = 0
    /// Called with every code written.
    public var trace: ((UInt8) -> Void)?

    public init() {}

    public func register(on bus: IOBus) {
        bus.register(self, ports: [0x80])
    }

    public func portRead(_ port: UInt16, size: Int) -> UInt32 { UInt32(lastCode) }

    public func portWrite(_ port: UInt16, size: Int, value: UInt32) {
        lastCode = UInt8(truncatingIfNeeded: value)
        trace?(lastCode)
    }
}
