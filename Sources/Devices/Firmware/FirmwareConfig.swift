import MMU

/// QEMU's firmware configuration device (fw_cfg), as docs/specs/fw_cfg.rst
/// defines it: how SeaBIOS learns the machine's RAM layout, CPU count,
/// boot order and option ROMs without probing.
///
/// Ports: 510h selector (16-bit; selecting rewinds the item), 511h data
/// (reads the selected item byte by byte, 0 past its end), 514h–51Bh the
/// big-endian 64-bit DMA address register. Writing its low half (518h)
/// starts a DMA transfer described by an `FWCfgDmaAccess` structure in
/// guest memory; reading the register returns "QEMU CFG". Transfers run to
/// completion inside the port write, so the guest sees its control word
/// cleared (or the error bit set) immediately.
///
/// Items are byte arrays under 16-bit keys; files get keys from 0020h on
/// and an entry in the directory at key 0019h. Keys with bit 14 set (the
/// old write-through-the-data-port range) select the same item.
public final class FirmwareConfig: PortDevice {
    public static let signatureKey: UInt16 = 0x0000
    public static let idKey: UInt16 = 0x0001
    public static let ramSizeKey: UInt16 = 0x0003
    public static let cpuCountKey: UInt16 = 0x0005
    public static let maxCPUsKey: UInt16 = 0x000F
    public static let fileDirectoryKey: UInt16 = 0x0019
    public static let firstFileKey: UInt16 = 0x0020
    /// Feature bits of the ID item: traditional interface, DMA interface.
    public static let features: UInt32 = 0b11
    public static let dmaSignature = Array("QEMU CFG".utf8)
    static let maxFileName = 56

    // DMA control bits.
    static let dmaError: UInt32 = 0x01, dmaRead: UInt32 = 0x02, dmaSkip: UInt32 = 0x04
    static let dmaSelect: UInt32 = 0x08, dmaWrite: UInt32 = 0x10

    private struct File {
        let name: String
        let key: UInt16
    }

    private let memory: PhysicalMemory
    private var items: [UInt16: [UInt8]] = [:]
    private var writableKeys: Set<UInt16> = []
    private var files: [File] = []
    private var selected: UInt16 = 0
    private var offset = 0
    private var dmaAddress: UInt64 = 0

    /// `ramSize`: all guest RAM in bytes; `cpuCount`: CPUs present (and the maximum).
    public init(memory: PhysicalMemory, ramSize: UInt64, cpuCount: Int = 1) {
        self.memory = memory
        addItem(Self.signatureKey, Array("QEMU".utf8))
        addItem(Self.idKey, Self.littleEndian(UInt64(Self.features), bytes: 4))
        addItem(Self.ramSizeKey, Self.littleEndian(ramSize, bytes: 8))
        addItem(Self.cpuCountKey, Self.littleEndian(UInt64(cpuCount), bytes: 2))
        addItem(Self.maxCPUsKey, Self.littleEndian(UInt64(cpuCount), bytes: 2))
        items[Self.fileDirectoryKey] = directory()
    }

    /// Selector back to the signature, DMA address register cleared; items stay.
    public func reset() {
        select(Self.signatureKey)
        dmaAddress = 0
    }

    public func register(on bus: IOBus) {
        bus.register(self, ports: 0x510...0x511)
        bus.register(self, ports: 0x514...0x51B)
    }

    // MARK: - Items

    /// Sets item `key` (replacing any earlier one).
    public func addItem(_ key: UInt16, _ data: [UInt8]) {
        items[key & ~0x4000] = data
    }

    /// Adds a named file and lists it in the directory; returns its key.
    /// A `writable` file may be overwritten by the guest through DMA (as
    /// SeaBIOS does with the SMI feature negotiation files). Names longer
    /// than 55 bytes are cut, as the directory entry holds 56 with the NUL.
    @discardableResult
    public func addFile(_ name: String, _ data: [UInt8], writable: Bool = false) -> UInt16 {
        let name = String(decoding: Array(name.utf8.prefix(Self.maxFileName - 1)), as: UTF8.self)
        let key: UInt16
        if let existing = files.first(where: { $0.name == name }) {
            key = existing.key
        } else {
            key = Self.firstFileKey + UInt16(files.count)
            files.append(File(name: name, key: key))
        }
        items[key] = data
        if writable { writableKeys.insert(key) } else { writableKeys.remove(key) }
        items[Self.fileDirectoryKey] = directory()
        return key
    }

    /// The contents of a file as the guest may have changed it.
    public func file(_ name: String) -> [UInt8]? {
        files.first { $0.name == name }.flatMap { items[$0.key] }
    }

    /// The directory: a big-endian count, then per file its size (BE32),
    /// key (BE16), two reserved bytes and its NUL-padded 56-byte name.
    private func directory() -> [UInt8] {
        var d = Self.bigEndian(UInt64(files.count), bytes: 4)
        for f in files {
            d += Self.bigEndian(UInt64(items[f.key]?.count ?? 0), bytes: 4)
            d += Self.bigEndian(UInt64(f.key), bytes: 2)
            d += [0, 0]
            let name = Array(f.name.utf8)
            d += name + [UInt8](repeating: 0, count: Self.maxFileName - name.count)
        }
        return d
    }

    // MARK: - Builders for standard files

    public enum E820Type: UInt32, Sendable {
        case ram = 1, reserved = 2, acpiReclaimable = 3, acpiNVS = 4, unusable = 5
    }

    public struct E820Entry: Equatable, Sendable {
        public var address: UInt64
        public var length: UInt64
        public var type: E820Type
        public init(address: UInt64, length: UInt64, type: E820Type) {
            self.address = address; self.length = length; self.type = type
        }
    }

    /// The "etc/e820" file: packed little-endian entries of address (64),
    /// length (64) and type (32). SeaBIOS takes RAM from it in preference
    /// to the CMOS sizes, and adds its own reservations.
    public static func e820Table(_ entries: [E820Entry]) -> [UInt8] {
        entries.flatMap {
            littleEndian($0.address, bytes: 8) + littleEndian($0.length, bytes: 8)
                + littleEndian(UInt64($0.type.rawValue), bytes: 4)
        }
    }

    /// The "bootorder" file: one OpenFirmware device path per line, first
    /// choice first (e.g. "/pci@i0cf8/ide@1,1/drive@0/disk@0"), NUL-terminated.
    public static func bootOrder(_ devicePaths: [String]) -> [UInt8] {
        Array(devicePaths.joined(separator: "\n").utf8) + [0]
    }

    static func littleEndian(_ v: UInt64, bytes: Int) -> [UInt8] {
        (0..<bytes).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) }
    }

    static func bigEndian(_ v: UInt64, bytes: Int) -> [UInt8] {
        littleEndian(v, bytes: bytes).reversed()
    }

    // MARK: - Ports

    private func select(_ key: UInt16) {
        selected = key & ~0x4000
        offset = 0
    }

    public func portRead(_ port: UInt16, size: Int) -> UInt32 {
        switch port {
        case 0x511:
            // Wider reads return consecutive bytes, like string-preserving MMIO.
            var v: UInt32 = 0
            for i in 0..<size { v |= UInt32(nextDataByte()) << (8 * i) }
            return v
        case 0x514...0x51B:
            var v: UInt32 = 0
            for i in 0..<size {
                let k = Int(port - 0x514) + i
                if k < 8 { v |= UInt32(Self.dmaSignature[k]) << (8 * i) }
            }
            return v
        default:
            return 0   // the selector is write-only
        }
    }

    public func portWrite(_ port: UInt16, size: Int, value: UInt32) {
        switch port {
        case 0x510:
            select(UInt16(truncatingIfNeeded: value))
        case 0x514 where size == 4:
            dmaAddress = dmaAddress & 0xFFFF_FFFF | UInt64(UInt32(bigEndian: value)) << 32
        case 0x518 where size == 4:
            dmaAddress = dmaAddress & 0xFFFF_FFFF_0000_0000 | UInt64(UInt32(bigEndian: value))
            runDMA(at: dmaAddress)
            dmaAddress = 0
        default:
            return   // the data port is read-only since QEMU 2.4
        }
    }

    private func nextDataByte() -> UInt8 {
        guard let data = items[selected], offset < data.count else { return 0 }
        offset += 1
        return data[offset - 1]
    }

    // MARK: - DMA

    /// Carries out one `FWCfgDmaAccess` (big-endian control, length, address).
    /// Addresses beyond the 32-bit physical space fail with the error bit.
    private func runDMA(at structure: UInt64) {
        guard structure <= 0xFFFF_FFFF - 15 else { return }
        let base = UInt32(structure)
        let control = UInt32(bigEndian: memory.read(base, size: 4))
        let length = Int(UInt32(bigEndian: memory.read(base + 4, size: 4)))
        let address = UInt64(UInt32(bigEndian: memory.read(base + 8, size: 4))) << 32
            | UInt64(UInt32(bigEndian: memory.read(base + 12, size: 4)))

        if control & Self.dmaSelect != 0 { select(UInt16(truncatingIfNeeded: control >> 16)) }
        var failed = false
        if control & Self.dmaRead != 0 {
            failed = !dmaRead(length: length, to: address)
        } else if control & Self.dmaWrite != 0 {
            failed = !dmaWrite(length: length, from: address)
        } else if control & Self.dmaSkip != 0 {
            offset += length
        }
        memory.write(base, size: 4, value: UInt32(bigEndian: failed ? Self.dmaError : 0))
    }

    private func fits(_ address: UInt64, _ length: Int) -> Bool {
        address <= 0x1_0000_0000 && UInt64(length) <= 0x1_0000_0000 - address
    }

    /// Copies the item from the current offset; past its end the guest gets zeros.
    private func dmaRead(length: Int, to address: UInt64) -> Bool {
        guard fits(address, length) else { return false }
        let data = items[selected] ?? []
        let start = min(offset, data.count)
        let available = min(length, data.count - start)
        data.withUnsafeBytes { all in
            let part = UnsafeRawBufferPointer(rebasing: all[start..<start + available])
            storeToGuest(part, count: available, at: address)
        }
        storeToGuest(nil, count: length - available, at: address + UInt64(available))
        offset += length
        return true
    }

    /// Writes `count` bytes from `source` (zeros when nil) into guest
    /// memory a page at a time: plain RAM by memory copy, pages holding
    /// translated code or MMIO through the memory map's write path (so
    /// they are noticed), unmapped pages skipped. A transfer may be as long
    /// as the guest asks, so nothing is staged in host memory.
    private func storeToGuest(_ source: UnsafeRawBufferPointer?, count: Int, at address: UInt64) {
        var done = 0
        while done < count {
            let a = UInt32(truncatingIfNeeded: address + UInt64(done))
            let chunk = min(count - done, PhysicalMemory.pageSize - Int(a & 0xFFF))
            if memory.writeRoutes[Int(a >> 12)] != PhysicalMemory.unmapped {
                if let p = memory.hostPointer(forWriting: a), !memory.isWatched(a) {
                    if let source {
                        UnsafeMutableRawPointer(p).copyMemory(from: source.baseAddress! + done, byteCount: chunk)
                    } else {
                        p.update(repeating: 0, count: chunk)
                    }
                } else {
                    for i in 0..<chunk {
                        let b = source.map { $0[done + i] } ?? 0
                        memory.write(a &+ UInt32(i), size: 1, value: UInt32(b))
                    }
                }
            }
            done += chunk
        }
    }

    /// Overwrites part of a writable item; the item cannot grow.
    private func dmaWrite(length: Int, from address: UInt64) -> Bool {
        guard fits(address, length), writableKeys.contains(selected), var data = items[selected],
              offset + length <= data.count else { return false }
        data.replaceSubrange(offset..<offset + length, with: memory.copyOut(UInt32(address), count: length))
        items[selected] = data
        offset += length
        return true
    }
}
