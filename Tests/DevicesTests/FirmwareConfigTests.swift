import XCTest
import Devices
import MMU

final class FirmwareConfigTests: XCTestCase {
    var memory: PhysicalMemory!
    var fwcfg: FirmwareConfig!

    override func setUpWithError() throws {
        memory = try PhysicalMemory(ramSize: 1 << 20)
        fwcfg = FirmwareConfig(memory: memory, ramSize: 1 << 20, cpuCount: 2)
    }

    func select(_ key: UInt16) { fwcfg.portWrite(0x510, size: 2, value: UInt32(key)) }

    func readData(_ count: Int) -> [UInt8] { (0..<count).map { _ in fwcfg.inb(0x511) } }

    func be32(_ b: ArraySlice<UInt8>) -> UInt32 { b.reduce(0) { $0 << 8 | UInt32($1) } }

    /// SeaBIOS's qemu_cfg_detect: select key 0 and compare four data bytes.
    func testSignatureAndFeatureBits() {
        select(0x0000)
        XCTAssertEqual(readData(4), Array("QEMU".utf8))
        XCTAssertEqual(readData(2), [0, 0], "past the end reads zero")
        select(0x0001)
        let id = readData(4)
        XCTAssertEqual(id[0] & 0x03, 0x03, "traditional and DMA interfaces")
        select(0x0005)
        XCTAssertEqual(readData(2), [2, 0], "CPU count, little-endian")
        select(0x0003)
        XCTAssertEqual(readData(8), [0, 0, 0x10, 0, 0, 0, 0, 0], "RAM size, 64-bit little-endian")
    }

    func testDMAAddressRegisterReadsSignature() {
        let bytes = (0x514...0x51B).map { fwcfg.inb(UInt16($0)) }
        XCTAssertEqual(bytes, Array("QEMU CFG".utf8))
    }

    /// The directory as SeaBIOS walks it: BE count, then 64-byte entries.
    func testFileDirectory() {
        let e820 = FirmwareConfig.e820Table([.init(address: 0, length: 0x9FC00, type: .ram),
                                             .init(address: 0x100000, length: 0xF00000, type: .ram)])
        fwcfg.addFile("etc/e820", e820)
        fwcfg.addFile("bootorder", FirmwareConfig.bootOrder(["/pci@i0cf8/ide@1,1/drive@0/disk@0"]))
        select(0x0019)
        let count = be32(readData(4)[...])
        XCTAssertEqual(count, 2)
        var found: [String: (size: UInt32, key: UInt16)] = [:]
        for _ in 0..<count {
            let entry = readData(64)
            let name = String(decoding: entry[8...].prefix { $0 != 0 }, as: UTF8.self)
            found[name] = (be32(entry[0..<4]), UInt16(entry[4]) << 8 | UInt16(entry[5]))
        }
        XCTAssertEqual(found["etc/e820"]?.size, 40)
        XCTAssertEqual(found["bootorder"]?.size, 34)
        guard let key = found["etc/e820"]?.key else { return XCTFail("no etc/e820") }
        XCTAssertGreaterThanOrEqual(key, 0x20)
        select(key)
        let table = readData(40)
        // struct e820_reservation { u64 address; u64 length; u32 type; } packed, little-endian
        XCTAssertEqual(table[8..<16].reversed().reduce(0) { $0 << 8 | UInt64($1) }, 0x9FC00)
        XCTAssertEqual(table[16], 1)
        XCTAssertEqual(table[20..<28].reversed().reduce(0) { $0 << 8 | UInt64($1) }, 0x100000)
    }

    /// Writes an FWCfgDmaAccess at `at` and starts it as SeaBIOS does:
    /// one 32-bit big-endian write to the low half of the address register.
    func dma(control: UInt32, length: UInt32, address: UInt64, at structure: UInt32 = 0x1000) {
        memory.write(structure, size: 4, value: control.bigEndian)
        memory.write(structure + 4, size: 4, value: length.bigEndian)
        memory.write(structure + 8, size: 4, value: UInt32(address >> 32).bigEndian)
        memory.write(structure + 12, size: 4, value: UInt32(truncatingIfNeeded: address).bigEndian)
        fwcfg.portWrite(0x518, size: 4, value: structure.bigEndian)
    }

    func controlWord(at structure: UInt32 = 0x1000) -> UInt32 {
        UInt32(bigEndian: memory.read(structure, size: 4))
    }

    func testDMAReadIntoGuestMemory() {
        let key = fwcfg.addFile("etc/test", Array(1...20))
        dma(control: UInt32(key) << 16 | 0x08 | 0x02, length: 16, address: 0x2000)
        XCTAssertEqual(controlWord(), 0, "finished without error")
        XCTAssertEqual(memory.copyOut(0x2000, count: 16), Array(1...16))
        // The offset continues; past the end, zeros.
        memory.copyIn(0x3000, [0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA])
        dma(control: 0x02, length: 6, address: 0x3000)
        XCTAssertEqual(memory.copyOut(0x3000, count: 6), [17, 18, 19, 20, 0, 0])
    }

    func testDMASkipThenRead() {
        let key = fwcfg.addFile("etc/test", Array(1...20))
        select(key)
        dma(control: 0x04, length: 10, address: 0)
        dma(control: 0x02, length: 2, address: 0x2000)
        XCTAssertEqual(memory.copyOut(0x2000, count: 2), [11, 12])
    }

    func testDMAWriteOnlyToWritableFiles() {
        let ro = fwcfg.addFile("etc/ro", [0, 0, 0, 0])
        let rw = fwcfg.addFile("etc/rw", [0, 0, 0, 0], writable: true)
        memory.copyIn(0x2000, [9, 8, 7])
        dma(control: UInt32(ro) << 16 | 0x08 | 0x10, length: 3, address: 0x2000)
        XCTAssertEqual(controlWord(), 0x01, "error bit")
        dma(control: UInt32(rw) << 16 | 0x08 | 0x10, length: 3, address: 0x2000)
        XCTAssertEqual(controlWord(), 0)
        XCTAssertEqual(fwcfg.file("etc/rw"), [9, 8, 7, 0])
        dma(control: UInt32(rw) << 16 | 0x08 | 0x10, length: 5, address: 0x2000)
        XCTAssertEqual(controlWord(), 0x01, "items cannot grow")
    }

    func testHostileDMADoesNotCrash() {
        fwcfg.addFile("etc/test", [1, 2, 3])
        dma(control: 0x0020_0000 | 0x08 | 0x02, length: 0xFFFF_FFFF, address: 0xFFFF_FFFF_FFFF_0000)
        XCTAssertEqual(controlWord(), 0x01)
        // A structure in unmapped memory reads as all ones; nothing to write back to.
        fwcfg.portWrite(0x514, size: 4, value: 0)
        fwcfg.portWrite(0x518, size: 4, value: UInt32(0xFFFF_FFF8).bigEndian)
        fwcfg.portWrite(0x518, size: 4, value: UInt32(0x8000_0000).bigEndian)
        // A long zero fill over RAM and beyond finishes.
        dma(control: 0x0020_0000 | 0x08 | 0x02, length: 0x0100_0000, address: 0x8000)
        XCTAssertEqual(controlWord(), 0)
        XCTAssertEqual(memory.copyOut(0x8000, count: 4), [1, 2, 3, 0])
    }
}
