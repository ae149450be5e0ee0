/// A device reached through x86 port I/O. `size` is 1, 2 or 4 bytes.
public protocol PortDevice: AnyObject {
    func portRead(_ port: UInt16, size: Int) -> UInt32
    func portWrite(_ port: UInt16, size: Int, value: UInt32)
}

/// The 64 Ki x86 I/O ports, dispatched by a flat table to the device that
/// claimed each port. Unclaimed ports read as all ones and ignore writes,
/// as on an ISA bus with no one driving it.
public final class IOBus {
    private var owners = [PortDevice?](repeating: nil, count: 0x10000)
    /// Observers for tracing (`-d ioport`); nil costs one compare.
    public var trace: ((_ port: UInt16, _ size: Int, _ value: UInt32, _ isWrite: Bool) -> Void)?

    public init() {}

    public func register(_ device: PortDevice, ports: ClosedRange<UInt16>) {
        for p in ports { owners[Int(p)] = device }
    }

    public func register(_ device: PortDevice, ports: [UInt16]) {
        for p in ports { owners[Int(p)] = device }
    }

    public func unregister(ports: ClosedRange<UInt16>) {
        for p in ports { owners[Int(p)] = nil }
    }

    public func owner(of port: UInt16) -> PortDevice? { owners[Int(port)] }

    public func read(_ port: UInt16, size: Int) -> UInt32 {
        let value: UInt32
        if let d = owners[Int(port)] {
            value = d.portRead(port, size: size)
        } else {
            value = size == 4 ? 0xFFFF_FFFF : (1 << (size * 8)) - 1
        }
        trace?(port, size, value, false)
        return value
    }

    public func write(_ port: UInt16, size: Int, value: UInt32) {
        trace?(port, size, value, true)
        owners[Int(port)]?.portWrite(port, size: size, value: value)
    }
}
