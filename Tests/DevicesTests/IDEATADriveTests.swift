import XCTest
@testable import Devices

/// An ATA disk on the primary channel, driven through its ports as
/// BIOSes and Linux do; expected values from ATA/ATAPI-6.
final class IDEATADriveTests: XCTestCase {
    let bench = IDEBench()
    typealias B = IDEBench

    @discardableResult
    func attachImage(sectors: Int = 64, access: DiskImage.Access = .readWrite) throws -> TemporaryFile {
        let file = TemporaryFile(sectors: sectors)
        bench.controller.attach(ATADrive(disk: try DiskImage.open(path: file.path, access: access)), channel: 0, position: .master)
        return file
    }

    func attach(_ disk: BlockDevice) {
        bench.controller.attach(ATADrive(disk: disk), channel: 0, position: .master)
    }

    // MARK: IDENTIFY DEVICE

    func testIdentifyWordsOfASmallDisk() {
        attach(SyntheticDisk(blockCount: 20480))          // 10 MiB
        let id = bench.identify()
        XCTAssertEqual(id[0] & 0x8000, 0, "ATA device")
        XCTAssertEqual([id[1], id[3], id[6]], [20, 16, 63], "default CHS: 20 cylinders of 16 × 63")
        XCTAssertEqual([id[54], id[55], id[56]], [20, 16, 63])
        XCTAssertEqual(UInt32(id[57]) | UInt32(id[58]) << 16, 20 * 16 * 63)
        XCTAssertEqual(UInt32(id[60]) | UInt32(id[61]) << 16, 20480, "words 60–61: LBA28 capacity")
        XCTAssertEqual(id[100...103].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (16 * $1.offset) }, 20480)
        XCTAssertNotEqual(id[49] & 0x0200, 0, "LBA supported")
        XCTAssertNotEqual(id[49] & 0x0100, 0, "DMA supported")
        XCTAssertNotEqual(id[83] & 0x0400, 0, "48-bit address feature set")
        XCTAssertEqual(id[83] & 0xC000, 0x4000)
        XCTAssertEqual(id[63] & 0x07, 0x07, "multiword DMA 0–2")
        XCTAssertEqual(id[47] & 0xFF, 16)
        XCTAssertEqual(id[93] & 0x6001, 0x6001, "device 0 valid, bit 14 one, 80-conductor cable")
    }

    /// After a sector read (SeaBIOS reads the MBR before Linux probes),
    /// IDENTIFY's block is one block: once it is read, the command is over
    /// (ATA-6 PIO data-in: BSY and DRQ clear, no interrupt after the last
    /// block). Linux's libata calls DRQ still set an HSM violation and
    /// disables the drive.
    func testIdentifyAfterAReadEndsWithItsBlock() throws {
        try attachImage()
        bench.command(0x20, lba: 0, count: 1)
        _ = bench.readData(512)
        XCTAssertEqual(bench.inb(B.status) & 0x89, 0x00, "read done: BSY, DRQ, ERR clear")
        _ = bench.identify()
        XCTAssertEqual(bench.inb(B.status), 0x50, "IDENTIFY done: DRDY and DSC only")
        // The same after a read the host abandoned half-way.
        bench.command(0x20, lba: 0, count: 4)
        _ = bench.readData(512)
        _ = bench.identify()
        XCTAssertEqual(bench.inb(B.status), 0x50)
    }

    func testIdentifyStringsAreByteSwappedAndBlockChecksums() throws {
        try attachImage()
        bench.command(0xEC)
        let bytes = bench.readData(512)
        // Model in words 27–46: raw little-endian bytes come pairwise swapped.
        XCTAssertEqual(Array(bytes[54..<58]), Array("ONAV".utf8))
        let model = stride(from: 54, to: 94, by: 2).flatMap { [bytes[$0 + 1], bytes[$0]] }
        XCTAssertEqual(String(decoding: model, as: UTF8.self), "NOVABOX HARDDISK" + String(repeating: " ", count: 24))
        XCTAssertEqual(bytes[510], 0xA5, "integrity word signature")
        XCTAssertEqual(bytes.reduce(UInt8(0), &+), 0, "all 512 bytes sum to zero")
    }

    func testGeometryOfLargeDisks() {
        attach(SyntheticDisk(blockCount: 20_000_000))      // past 16,514,064 sectors
        var id = bench.identify()
        XCTAssertEqual([id[1], id[3], id[6]], [16383, 16, 63])
        XCTAssertEqual(UInt32(id[60]) | UInt32(id[61]) << 16, 20_000_000)

        attach(SyntheticDisk(blockCount: 1 << 30))          // past 2^28 sectors
        id = bench.identify()
        XCTAssertEqual(UInt32(id[60]) | UInt32(id[61]) << 16, 0x0FFF_FFFF, "LBA28 capacity saturates")
        XCTAssertEqual(UInt64(id[100]) | UInt64(id[101]) << 16 | UInt64(id[102]) << 32, 1 << 30)
    }

    // MARK: PIO

    func testPIOReadOfOneSector() throws {
        let file = try attachImage()
        bench.command(0x20, lba: 5, count: 1)
        XCTAssertEqual(bench.interrupts.edges(14), 1, "interrupt before the data block")
        XCTAssertEqual(bench.inb(B.control), 0x58, "alternate status: DRDY DSC DRQ")
        XCTAssertEqual(bench.inb(B.status), 0x58)
        XCTAssertFalse(bench.interrupts.level(14), "reading Status acknowledges")
        XCTAssertEqual(bench.readData(512), Array(file.contents[5 * 512..<6 * 512]))
        XCTAssertEqual(bench.inb(B.status), 0x50, "no DRQ after the last block")
    }

    func testThirtyTwoBitDataPort() throws {
        let file = try attachImage()
        bench.command(0x20, lba: 1, count: 1)
        var bytes: [UInt8] = []
        for _ in 0..<128 { let d = bench.bus.read(B.data, size: 4); bytes += (0..<4).map { UInt8(truncatingIfNeeded: d >> (8 * $0)) } }
        XCTAssertEqual(bytes, Array(file.contents[512..<1024]))
    }

    /// The LBA a synthetic sector names in its first 8 bytes.
    func sectorLBA(_ bytes: [UInt8]) -> UInt64 {
        bytes.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * $1.offset) }
    }

    func testCHSAddressingUsesTheCurrentTranslation() {
        attach(SyntheticDisk(blockCount: 20480))
        // Cylinder 0, head 1, sector 1 = LBA 63 with 63 sectors per track.
        bench.outb(B.sectorCount, 1); bench.outb(B.lbaLow, 1); bench.outb(B.lbaMid, 0); bench.outb(B.lbaHigh, 0)
        bench.outb(B.device, 0xA1)
        bench.outb(B.command, 0x20)
        XCTAssertEqual(sectorLBA(bench.readData(512)), 63)
        // Cylinder 2, head 3, sector 5 = (2 × 16 + 3) × 63 + 4.
        bench.outb(B.sectorCount, 1); bench.outb(B.lbaLow, 5); bench.outb(B.lbaMid, 2); bench.outb(B.device, 0xA3)
        bench.outb(B.command, 0x20)
        XCTAssertEqual(sectorLBA(bench.readData(512)), 2209)
        // INITIALIZE DEVICE PARAMETERS: 4 heads (max head 3), 17 sectors per track.
        bench.outb(B.sectorCount, 17); bench.outb(B.device, 0xA3); bench.outb(B.command, 0x91)
        XCTAssertEqual(bench.inb(B.status) & 0x01, 0)
        let id = bench.identify()
        XCTAssertEqual([id[54], id[55], id[56]], [UInt16(20480 / (4 * 17)), 4, 17])
        XCTAssertEqual([id[1], id[3], id[6]], [20, 16, 63], "the default translation stays reported")
        bench.outb(B.sectorCount, 1); bench.outb(B.lbaLow, 1); bench.outb(B.lbaMid, 0); bench.outb(B.device, 0xA1)
        bench.outb(B.command, 0x20)
        XCTAssertEqual(sectorLBA(bench.readData(512)), 17, "head 1 sector 1 is now LBA 17")
        // Sector 0 and a head past the translation do not exist.
        bench.outb(B.sectorCount, 1); bench.outb(B.lbaLow, 0); bench.outb(B.device, 0xA0); bench.outb(B.command, 0x20)
        XCTAssertEqual(bench.inb(B.error), 0x10)
        bench.outb(B.sectorCount, 1); bench.outb(B.lbaLow, 1); bench.outb(B.device, 0xA4); bench.outb(B.command, 0x20)
        XCTAssertEqual(bench.inb(B.error), 0x10)
    }

    func testReadMultipleInterruptsPerBlock() throws {
        let file = try attachImage()
        bench.command(0xC4, lba: 0, count: 8)
        XCTAssertEqual(bench.inb(B.status), 0x51, "READ MULTIPLE before SET MULTIPLE MODE is aborted")
        XCTAssertEqual(bench.inb(B.error), 0x04)

        bench.command(0xC6, count: 3)
        XCTAssertEqual(bench.inb(B.status) & 0x01, 0x01, "3 is not a power of two")
        bench.command(0xC6, count: 4)
        XCTAssertEqual(bench.inb(B.status), 0x50)
        XCTAssertEqual(bench.identify()[59], 0x0104)

        let before = bench.interrupts.edges(14)
        bench.command(0xC4, lba: 2, count: 10)            // blocks of 4, 4, 2
        var data: [UInt8] = []
        for _ in 0..<3 {
            XCTAssertEqual(bench.inb(B.status), 0x58)
            data += bench.readData(bench.inb(B.sectorCount) == 0 ? 0 : min(4, 10 - data.count / 512) * 512)
        }
        XCTAssertEqual(bench.interrupts.edges(14) - before, 3)
        XCTAssertEqual(data, Array(file.contents[2 * 512..<12 * 512]))
        XCTAssertEqual(bench.inb(B.status), 0x50)
    }

    func testLBA48RegisterPairsAndHOB() {
        let disk = SyntheticDisk(blockCount: 1 << 36)
        attach(disk)
        bench.outb(B.sectorCount, 0x12); bench.outb(B.sectorCount, 0x34)
        bench.outb(B.lbaMid, 0x56); bench.outb(B.lbaMid, 0x78)
        XCTAssertEqual(bench.inb(B.sectorCount), 0x34)
        XCTAssertEqual(bench.inb(B.lbaMid), 0x78)
        bench.outb(B.control, 0x80)                        // HOB
        XCTAssertEqual(bench.inb(B.sectorCount), 0x12, "previous value")
        XCTAssertEqual(bench.inb(B.lbaMid), 0x56)
        bench.outb(B.lbaLow, 0)                            // any register write clears HOB
        XCTAssertEqual(bench.inb(B.lbaMid), 0x78)

        let lba: UInt64 = 0x9_8765_4321
        bench.command48(0x24, lba: lba, count: 2)         // READ SECTORS EXT
        XCTAssertEqual(bench.inb(B.status), 0x58)
        let first = bench.readData(512)
        XCTAssertEqual(sectorLBA(first), lba)
        let second = bench.readData(512)
        XCTAssertEqual(sectorLBA(second), lba + 1)
        XCTAssertEqual(bench.inb(B.status), 0x50)
    }

    func testReadPastTheEndFailsWithIDNF() throws {
        try attachImage(sectors: 64)
        let before = bench.interrupts.edges(14)
        bench.command(0x20, lba: 63, count: 2)
        XCTAssertEqual(bench.interrupts.edges(14) - before, 1)
        XCTAssertEqual(bench.inb(B.status), 0x51, "DRDY DSC ERR, no DRQ")
        XCTAssertEqual(bench.inb(B.error), 0x10, "IDNF")
        XCTAssertEqual(bench.inb(B.lbaLow), 64, "the first sector not found")
        bench.command48(0x24, lba: 1 << 40, count: 1)
        XCTAssertEqual(bench.inb(B.status) & 0x09, 0x01)
        XCTAssertEqual(bench.readData(2), [0xFF, 0xFF], "no data phase")
    }

    func testWriteThenFlushCacheReachesTheFile() throws {
        let file = try attachImage()
        let payload = (0..<1024).map { UInt8(truncatingIfNeeded: $0 * 3 + 1) }
        let before = bench.interrupts.edges(14)
        bench.command(0x30, lba: 10, count: 2)
        XCTAssertEqual(bench.inb(B.control), 0x58, "first block requested")
        XCTAssertEqual(bench.interrupts.edges(14), before, "no interrupt before the first block of a PIO write")
        bench.writeData(Array(payload[0..<512]))
        XCTAssertEqual(bench.inb(B.status), 0x58)
        bench.writeData(Array(payload[512...]))
        XCTAssertEqual(bench.inb(B.status), 0x50)
        XCTAssertEqual(bench.interrupts.edges(14) - before, 2)
        bench.command(0xE7)                                // FLUSH CACHE
        XCTAssertEqual(bench.inb(B.status), 0x50)
        XCTAssertEqual(Array(file.contents[10 * 512..<12 * 512]), payload)
    }

    func testFlushCacheReachesTheBackEnd() {
        let disk = SyntheticDisk(blockCount: 100)
        attach(disk)
        bench.command(0xEA)                                // FLUSH CACHE EXT
        XCTAssertEqual(disk.flushes, 1)
        XCTAssertNoThrow(try bench.controller.flushAll())
        XCTAssertEqual(disk.flushes, 2)
    }

    func testSnapshotWritesNeverTouchTheFile() throws {
        let file = try attachImage(access: .snapshot)
        let original = file.contents
        bench.command(0x30, lba: 3, count: 1)
        bench.writeData([UInt8](repeating: 0xCC, count: 512))
        bench.command(0xE7)
        XCTAssertEqual(file.contents, original)
        bench.command(0x20, lba: 3, count: 1)
        XCTAssertEqual(bench.readData(512), [UInt8](repeating: 0xCC, count: 512), "the guest reads its own write")
    }

    func testReadOnlyDiskAbortsWrites() throws {
        try attachImage(access: .readOnly)
        bench.command(0x30, lba: 0, count: 1)
        XCTAssertEqual(bench.inb(B.status), 0x51)
        XCTAssertEqual(bench.inb(B.error), 0x04)
    }

    func testReadVerifyChecksTheRange() throws {
        try attachImage(sectors: 64)
        bench.command(0x40, lba: 60, count: 4)
        XCTAssertEqual(bench.inb(B.status), 0x50)
        bench.command(0x40, lba: 60, count: 5)
        XCTAssertEqual(bench.inb(B.error), 0x10)
    }

    // MARK: Reset, interrupts, registers

    func testSoftwareResetLeavesTheATASignature() throws {
        try attachImage()
        bench.command(0x20, lba: 0, count: 1)              // leave a data phase open
        let edges = bench.interrupts.edges(14)
        bench.outb(B.control, 0x04)                        // SRST
        XCTAssertEqual(bench.inb(B.control) & 0x80, 0x80, "busy while SRST is held")
        bench.outb(B.control, 0x00)
        XCTAssertEqual(bench.inb(B.status), 0x50)
        XCTAssertEqual([bench.inb(B.sectorCount), bench.inb(B.lbaLow), bench.inb(B.lbaMid), bench.inb(B.lbaHigh)], [1, 1, 0, 0])
        XCTAssertEqual(bench.inb(B.error), 0x01, "diagnostic code: passed")
        XCTAssertEqual(bench.interrupts.edges(14), edges, "software reset raises no interrupt")
        XCTAssertEqual(bench.readData(2), [0xFF, 0xFF], "the data phase ended")
    }

    func testNIENMasksTheInterrupt() throws {
        try attachImage()
        bench.outb(B.control, 0x02)
        bench.command(0x20, lba: 0, count: 1)
        XCTAssertFalse(bench.interrupts.level(14))
        XCTAssertEqual(bench.interrupts.edges(14), 0)
        bench.outb(B.control, 0x00)                        // still pending: the line rises now
        XCTAssertTrue(bench.interrupts.level(14))
    }

    func testAbsentSlaveAndEmptyChannel() throws {
        try attachImage()
        bench.outb(B.device, 0xB0)
        XCTAssertEqual(bench.inb(B.device), 0, "an absent device 1 reads as zero")
        bench.outb(B.sectorCount, 0x55)
        XCTAssertEqual(bench.inb(B.sectorCount), 0, "no register echoes for device 1")
        XCTAssertEqual(bench.inb(B.status), 0)
        bench.outb(B.device, 0xA0)
        XCTAssertEqual(bench.inb(B.device), 0xA0, "device 0 keeps the whole byte, obsolete bits too")
        XCTAssertEqual(bench.inb(B.sectorCount), 0x55, "device 0 latched the write")
        XCTAssertEqual(bench.inb(0x177), 0xFF, "no devices on the secondary: floating bus")
    }

    func testExecuteDeviceDiagnostic() throws {
        try attachImage()
        bench.command(0x90)
        XCTAssertEqual(bench.inb(B.error), 0x01)
        XCTAssertEqual(bench.interrupts.edges(14), 1)
        XCTAssertEqual([bench.inb(B.sectorCount), bench.inb(B.lbaLow)], [1, 1])
    }

    func testSetFeaturesTransferModeAndPowerModes() throws {
        try attachImage()
        bench.command(0xEF, count: 0x22, features: 0x03)   // multiword DMA 2
        XCTAssertEqual(bench.inb(B.status), 0x50)
        var id = bench.identify()
        XCTAssertEqual(id[63], 0x0407)
        bench.command(0xEF, count: 0x45, features: 0x03)   // Ultra DMA 5 replaces it
        id = bench.identify()
        XCTAssertEqual(id[63], 0x0007)
        XCTAssertEqual(id[88], 0x203F)
        bench.command(0xEF, count: 0x23, features: 0x03)   // no multiword DMA 3
        XCTAssertEqual(bench.inb(B.error), 0x04)
        bench.command(0xEF, features: 0x99)                // unknown subcommand
        XCTAssertEqual(bench.inb(B.error), 0x04)

        bench.command(0xE0)                                // STANDBY IMMEDIATE
        bench.command(0xE5)
        XCTAssertEqual(bench.inb(B.sectorCount), 0x00)
        bench.command(0xE1)                                // IDLE IMMEDIATE
        bench.command(0xE5)
        XCTAssertEqual(bench.inb(B.sectorCount), 0xFF)
    }

    func testUnknownCommandIsAborted() throws {
        try attachImage()
        bench.command(0xA1)                                // IDENTIFY PACKET DEVICE: not for a disk
        XCTAssertEqual(bench.inb(B.status), 0x51)
        XCTAssertEqual(bench.inb(B.error), 0x04)
        XCTAssertEqual([bench.inb(B.lbaMid), bench.inb(B.lbaHigh)], [0, 0], "no packet signature")
    }
}
