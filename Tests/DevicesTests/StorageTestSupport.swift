import Foundation
import XCTest
@testable import Devices
import MMU

/// A file in the temporary directory, removed when the test object goes.
final class TemporaryFile {
    let path: String

    init(bytes: [UInt8], name: String = "image") {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("novabox-\(name)-\(UUID().uuidString)").path
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    }

    /// A disk image whose sector n holds bytes (n * 7 + i) & 0xFF.
    convenience init(sectors: Int) {
        self.init(bytes: (0..<sectors * 512).map { UInt8(truncatingIfNeeded: ($0 / 512) * 7 + $0 % 512) })
    }

    var contents: [UInt8] { [UInt8](FileManager.default.contents(atPath: path) ?? Data()) }

    deinit {
        chmod(path, 0o644)
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// A minimal ISO 9660 volume built from ECMA-119: a zeroed system area
/// (blocks 0–15), the primary volume descriptor at block 16 declaring
/// `blocks` logical blocks of 2048 bytes, the set terminator at 17, and
/// data blocks whose bytes are (block * 13 + i) & 0xFF.
func makeISO(blocks: Int, declaredBlocks: Int? = nil, identifier: String = "CD001") -> [UInt8] {
    let size = 2048
    var image = (0..<blocks * size).map { UInt8(truncatingIfNeeded: ($0 / size) * 13 + $0 % size) }
    for i in 0..<(16 * size) { image[i] = 0 }
    func descriptor(_ type: UInt8, at block: Int) {
        let base = block * size
        for i in 0..<size { image[base + i] = 0 }
        image[base] = type
        for (i, c) in identifier.utf8.enumerated() { image[base + 1 + i] = c }
        image[base + 6] = 1   // descriptor version
    }
    descriptor(1, at: 16)
    let declared = UInt32(declaredBlocks ?? blocks)
    let pvd = 16 * size
    for i in 0..<4 {
        image[pvd + 80 + i] = UInt8(truncatingIfNeeded: declared >> (8 * i))        // little-endian half
        image[pvd + 87 - i] = UInt8(truncatingIfNeeded: declared >> (8 * i))        // big-endian half
    }
    image[pvd + 128] = 0x00; image[pvd + 129] = 0x08                                 // 2048, little-endian
    image[pvd + 130] = 0x08; image[pvd + 131] = 0x00                                 // big-endian
    descriptor(255, at: 17)
    return image
}

/// A disk whose sectors hold their own LBA in the first 8 bytes, of any
/// size without a file behind it (for LBA48 addresses and geometry rules).
final class SyntheticDisk: BlockDevice {
    let blockSize = 512
    let blockCount: UInt64
    let isReadOnly = false
    let name = "synthetic"
    private(set) var writes: [UInt64: [UInt8]] = [:]
    private(set) var flushes = 0

    init(blockCount: UInt64) { self.blockCount = blockCount }

    func read(block: UInt64, count: Int, into buffer: UnsafeMutableRawPointer) throws(StorageError) {
        guard contains(block: block, count: count) else { throw .outOfRange(path: name, block: block, count: count) }
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: count * blockSize)
        for i in 0..<count { buffer.storeBytes(of: block + UInt64(i), toByteOffset: i * blockSize, as: UInt64.self) }
    }

    func write(block: UInt64, count: Int, from buffer: UnsafeRawPointer) throws(StorageError) {
        for i in 0..<count {
            writes[block + UInt64(i)] = [UInt8](UnsafeRawBufferPointer(start: buffer + i * blockSize, count: blockSize))
        }
    }

    func flush() throws(StorageError) { flushes += 1 }
}

/// A PIIX3 IDE function on an I/O bus with guest RAM, decoding switched on
/// as SeaBIOS leaves it (I/O and bus master enabled, both IDETIM decode
/// bits, bus-master registers at C000h).
final class IDEBench {
    let memory: PhysicalMemory
    let bus = IOBus()
    let interrupts = RecordingInterruptSink()
    let controller: PIIX3IDEController
    static let busMasterBase: UInt16 = 0xC000

    init() {
        memory = try! PhysicalMemory(ramSize: 4 << 20)
        controller = PIIX3IDEController(memory: memory, interrupts: interrupts)
        controller.register(on: bus)
        controller.configWrite(0x04, size: 2, value: 0x0005)
        controller.configWrite(0x40, size: 2, value: 0x8000)
        controller.configWrite(0x42, size: 2, value: 0x8000)
        controller.configWrite(0x20, size: 4, value: UInt32(IDEBench.busMasterBase))
    }

    // Port access
    func outb(_ port: UInt16, _ value: UInt8) { bus.write(port, size: 1, value: UInt32(value)) }
    func inb(_ port: UInt16) -> UInt8 { UInt8(truncatingIfNeeded: bus.read(port, size: 1)) }
    func outw(_ port: UInt16, _ value: UInt16) { bus.write(port, size: 2, value: UInt32(value)) }
    func inw(_ port: UInt16) -> UInt16 { UInt16(truncatingIfNeeded: bus.read(port, size: 2)) }

    /// Primary channel registers.
    static let data: UInt16 = 0x1F0, error: UInt16 = 0x1F1, features: UInt16 = 0x1F1, sectorCount: UInt16 = 0x1F2
    static let lbaLow: UInt16 = 0x1F3, lbaMid: UInt16 = 0x1F4, lbaHigh: UInt16 = 0x1F5, device: UInt16 = 0x1F6
    static let status: UInt16 = 0x1F7, command: UInt16 = 0x1F7, control: UInt16 = 0x3F6

    /// Reads `count` bytes from the data port in 16-bit words (as `rep insw`).
    func readData(_ count: Int, port: UInt16 = IDEBench.data) -> [UInt8] {
        var bytes: [UInt8] = []
        for _ in 0..<(count + 1) / 2 {
            let w = inw(port)
            bytes.append(UInt8(w & 0xFF)); bytes.append(UInt8(w >> 8))
        }
        return Array(bytes.prefix(count))
    }

    func writeData(_ bytes: [UInt8], port: UInt16 = IDEBench.data) {
        for i in stride(from: 0, to: bytes.count, by: 2) {
            outw(port, UInt16(bytes[i]) | UInt16(i + 1 < bytes.count ? bytes[i + 1] : 0) << 8)
        }
    }

    /// Issues an LBA28 command to the master of the primary channel.
    func command(_ command: UInt8, lba: UInt32 = 0, count: UInt8 = 1, features: UInt8 = 0, slave: Bool = false) {
        outb(IDEBench.features, features)
        outb(IDEBench.sectorCount, count)
        outb(IDEBench.lbaLow, UInt8(lba & 0xFF))
        outb(IDEBench.lbaMid, UInt8((lba >> 8) & 0xFF))
        outb(IDEBench.lbaHigh, UInt8((lba >> 16) & 0xFF))
        outb(IDEBench.device, 0xE0 | (slave ? 0x10 : 0) | UInt8((lba >> 24) & 0x0F))
        outb(IDEBench.command, command)
    }

    /// Issues an LBA48 command: the high-order bytes go first into each register pair.
    func command48(_ command: UInt8, lba: UInt64, count: UInt16) {
        outb(IDEBench.sectorCount, UInt8(count >> 8)); outb(IDEBench.sectorCount, UInt8(count & 0xFF))
        outb(IDEBench.lbaLow, UInt8((lba >> 24) & 0xFF)); outb(IDEBench.lbaLow, UInt8(lba & 0xFF))
        outb(IDEBench.lbaMid, UInt8((lba >> 32) & 0xFF)); outb(IDEBench.lbaMid, UInt8((lba >> 8) & 0xFF))
        outb(IDEBench.lbaHigh, UInt8((lba >> 40) & 0xFF)); outb(IDEBench.lbaHigh, UInt8((lba >> 16) & 0xFF))
        outb(IDEBench.device, 0x40)
        outb(IDEBench.command, command)
    }

    /// The 256 IDENTIFY words after IDENTIFY (PACKET) DEVICE.
    func identify(_ command: UInt8 = 0xEC) -> [UInt16] {
        self.command(command)
        let bytes = readData(512)
        return (0..<256).map { UInt16(bytes[2 * $0]) | UInt16(bytes[2 * $0 + 1]) << 8 }
    }

    // Bus master (primary channel)
    func setUpPRDTable(at table: UInt32, regions: [(address: UInt32, count: Int)], endOfTable: Bool = true) {
        for (i, r) in regions.enumerated() {
            let entry = table + UInt32(8 * i)
            memory.write(entry, size: 4, value: r.address)
            let last = endOfTable && i == regions.count - 1
            memory.write(entry + 4, size: 4, value: UInt32(r.count & 0xFFFF) | (last ? 0x8000_0000 : 0))
        }
        bus.write(IDEBench.busMasterBase + 4, size: 4, value: table)
    }

    func startBusMaster(toMemory: Bool) {
        outb(IDEBench.busMasterBase, (toMemory ? 0x08 : 0) | 0x01)
    }

    var busMasterStatus: UInt8 { inb(IDEBench.busMasterBase + 2) }
}
