/// The Bochs/QEMU debug console: a byte written to port E9h (Bochs) or
/// 402h (where SeaBIOS built for QEMU sends its debug log) is a character
/// of debug output. Reading the port returns E9h, which is how software
/// detects the console is there.
public final class DebugConsole: PortDevice {
    public static let ports: [UInt16] = [0xE9, 0x402]
    public static let presenceValue: UInt8 = 0xE9

    /// Each byte written.
    public var output: ((UInt8) -> Void)?

    public init() {}

    public func register(on bus: IOBus) {
        bus.register(self, ports: Self.ports)
    }

    public func portRead(_ port: UInt16, size: Int) -> UInt32 { UInt32(Self.presenceValue) }

    public func portWrite(_ port: UInt16, size: Int, value: UInt32) {
        output?(UInt8(truncatingIfNeeded: value))
    }
}
