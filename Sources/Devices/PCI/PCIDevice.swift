/// A PCI function's 256-byte configuration space with the standard header
/// behaviour: read-only identity, writable command/status bits, and BARs
/// that read back their size mask. Subclasses add their own registers by
/// overriding `configWrite` and watching `barMoved`.
open class PCIDevice {
    public var config = [UInt8](repeating: 0, count: 256)
    /// Bits guests may change, byte by byte.
    public var writable = [UInt8](repeating: 0, count: 256)
    /// BAR sizes (0 = unused); I/O BARs have `ioBAR` bit set.
    public private(set) var barSizes = [UInt32](repeating: 0, count: 6)
    private var barIsIO = [Bool](repeating: false, count: 6)

    public init(vendor: UInt16, device: UInt16, classCode: UInt32, revision: UInt8 = 0, headerType: UInt8 = 0,
                subsystemVendor: UInt16 = 0x1af4, subsystem: UInt16 = 0x1100) {
        set16(0x00, vendor); set16(0x02, device)
        config[0x08] = revision
        config[0x09] = UInt8(classCode & 0xFF)
        config[0x0A] = UInt8((classCode >> 8) & 0xFF)
        config[0x0B] = UInt8((classCode >> 16) & 0xFF)
        config[0x0E] = headerType
        if headerType & 0x7F == 0 {
            set16(0x2C, subsystemVendor); set16(0x2E, subsystem)
        }
        // Command: I/O space, memory space, bus master, interrupt disable.
        writable[0x04] = 0x07; writable[0x05] = 0x04
        writable[0x0C] = 0xFF  // cache line size
        writable[0x0D] = 0xFF  // latency timer
        writable[0x3C] = 0xFF  // interrupt line
    }

    public func set16(_ o: Int, _ v: UInt16) { config[o] = UInt8(v & 0xFF); config[o + 1] = UInt8(v >> 8) }
    public func set32(_ o: Int, _ v: UInt32) { for i in 0..<4 { config[o + i] = UInt8((v >> (8 * i)) & 0xFF) } }
    public func get16(_ o: Int) -> UInt16 { UInt16(config[o]) | UInt16(config[o + 1]) << 8 }
    public func get32(_ o: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(config[o + $1]) << (8 * $1) } }

    /// Declares BAR `index` of `size` bytes (a power of two).
    public func defineBAR(_ index: Int, size: UInt32, io: Bool, prefetchable: Bool = false) {
        barSizes[index] = size
        barIsIO[index] = io
        let o = 0x10 + 4 * index
        let low: UInt32 = io ? 1 : (prefetchable ? 8 : 0)
        set32(o, low)
        let mask = ~(size - 1) & (io ? 0xFFFF_FFFC : 0xFFFF_FFF0)
        for i in 0..<4 { writable[o + i] = UInt8((mask >> (8 * i)) & 0xFF) }
    }

    /// Current address of a BAR (without the type bits).
    public func barAddress(_ index: Int) -> UInt32 {
        get32(0x10 + 4 * index) & (barIsIO[index] ? 0xFFFF_FFFC : 0xFFFF_FFF0)
    }

    public var ioEnabled: Bool { config[0x04] & 1 != 0 }
    public var memoryEnabled: Bool { config[0x04] & 2 != 0 }
    public var busMasterEnabled: Bool { config[0x04] & 4 != 0 }

    /// Sets the interrupt pin (1 = INTA#).
    public func setInterruptPin(_ pin: UInt8) { config[0x3D] = pin }

    open func configRead(_ offset: Int, size: Int) -> UInt32 {
        var v: UInt32 = 0
        for i in 0..<size where offset + i < 256 { v |= UInt32(config[offset + i]) << (8 * i) }
        return v
    }

    open func configWrite(_ offset: Int, size: Int, value: UInt32) {
        let oldCommand = config[0x04]
        var barsTouched = false
        for i in 0..<size where offset + i < 256 {
            let o = offset + i
            let b = UInt8((value >> (8 * i)) & 0xFF)
            config[o] = (config[o] & ~writable[o]) | (b & writable[o])
            if o >= 0x10 && o < 0x28 { barsTouched = true }
        }
        // Status bits are write-one-to-clear.
        if offset <= 0x06 && offset + size > 0x06 {
            let clear = UInt16(truncatingIfNeeded: value >> (8 * (0x06 - offset)))
            set16(0x06, get16(0x06) & ~(clear & 0xF900))
        }
        if barsTouched || config[0x04] & 3 != oldCommand & 3 {
            for i in 0..<6 where barSizes[i] != 0 { barMoved(i) }
        }
    }

    /// A BAR was written or decoding switched on or off: remap it.
    open func barMoved(_ index: Int) {}
}

/// PCI configuration mechanism #1 (ports CF8h/CFCh–CFFh) on bus 0.
public final class PCIBus: PortDevice {
    private var address: UInt32 = 0
    private var slots: [Int: PCIDevice] = [:]   // key: device << 3 | function

    public init() {}

    public func attach(_ device: PCIDevice, slot: Int, function: Int = 0) {
        slots[slot << 3 | function] = device
    }

    public func device(slot: Int, function: Int = 0) -> PCIDevice? { slots[slot << 3 | function] }

    private var selected: PCIDevice? {
        guard address & 0x8000_0000 != 0, (address >> 16) & 0xFF == 0 else { return nil }
        return slots[Int((address >> 8) & 0xFF)]
    }

    public func portRead(_ port: UInt16, size: Int) -> UInt32 {
        if port >= 0xCF8 && port < 0xCFC {
            guard port == 0xCF8 && size == 4 else { return size == 4 ? 0xFFFF_FFFF : (1 << (8 * size)) - 1 }
            return address
        }
        let offset = Int(address & 0xFC) + Int(port - 0xCFC)
        guard let d = selected else { return size == 4 ? 0xFFFF_FFFF : (1 << (8 * size)) - 1 }
        return d.configRead(offset, size: size)
    }

    public func portWrite(_ port: UInt16, size: Int, value: UInt32) {
        if port >= 0xCF8 && port < 0xCFC {
            if port == 0xCF8 && size == 4 { address = value & 0x80FF_FFFC }
            return
        }
        let offset = Int(address & 0xFC) + Int(port - 0xCFC)
        selected?.configWrite(offset, size: size, value: value)
    }
}
