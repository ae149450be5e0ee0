import XCTest
@testable import Devices
import MMU

/// The PIIX3 IDE function: configuration space and decoding from the
/// 82371SB datasheet, and bus-master DMA through PRD tables with the
/// status bit outcomes of its Table "IDE interrupt status / active".
final class IDEControllerTests: XCTestCase {
    let bench = IDEBench()
    typealias B = IDEBench
    static let table: UInt32 = 0x1_0000

    // MARK: Configuration space

    func testIdentityAndDefaults() {
        let fresh = PIIX3IDEController(memory: bench.memory, interrupts: bench.interrupts)
        XCTAssertEqual(fresh.configRead(0x00, size: 4), 0x7010_8086)
        XCTAssertEqual(fresh.configRead(0x08, size: 4), 0x0101_8000, "class 01 01 80: IDE, compatibility mode, bus master")
        XCTAssertEqual(fresh.configRead(0x04, size: 2), 0x0000, "I/O decoding off at reset")
        XCTAssertEqual(fresh.configRead(0x06, size: 2), 0x0280)
        XCTAssertEqual(fresh.configRead(0x20, size: 4), 0x0000_0001, "BMIBA: I/O indicator")
        XCTAssertEqual(fresh.configRead(0x40, size: 4), 0)
        XCTAssertEqual(fresh.configRead(0x3D, size: 1), 0, "no INTx pin in compatibility mode")
    }

    func testRegisterMasks() {
        let c = bench.controller
        c.configWrite(0x20, size: 4, value: 0xFFFF_FFFF)
        XCTAssertEqual(c.configRead(0x20, size: 4), 0xFFFF_FFF1, "16-byte I/O BAR")
        c.configWrite(0x04, size: 2, value: 0xFFFF)
        XCTAssertEqual(c.configRead(0x04, size: 2), 0x0005, "only I/O space and bus master")
        c.configWrite(0x40, size: 4, value: 0xFFFF_FFFF)
        XCTAssertEqual(c.configRead(0x40, size: 4), 0xF3FF_F3FF, "IDETIM bits 11:10 reserved")
        c.configWrite(0x44, size: 1, value: 0xA5)
        XCTAssertEqual(c.configRead(0x44, size: 1), 0xA5, "SIDETIM")
    }

    func testDecodingFollowsCommandIDETIMAndTheBAR() {
        let c = bench.controller
        XCTAssertTrue(bench.bus.owner(of: 0x1F7) === c.primary)
        XCTAssertTrue(bench.bus.owner(of: 0x3F6) === c.primary)
        XCTAssertNil(bench.bus.owner(of: 0x3F7), "3F7h belongs to the floppy controller")
        XCTAssertTrue(bench.bus.owner(of: 0x177) === c.secondary)
        XCTAssertTrue(bench.bus.owner(of: B.busMasterBase + 15) === c)

        c.configWrite(0x42, size: 2, value: 0x0000)          // secondary decode off
        XCTAssertNil(bench.bus.owner(of: 0x170))
        XCTAssertTrue(bench.bus.owner(of: 0x1F0) === c.primary)

        c.configWrite(0x20, size: 4, value: 0xD000)           // move BAR 4
        XCTAssertNil(bench.bus.owner(of: B.busMasterBase))
        XCTAssertTrue(bench.bus.owner(of: 0xD008) === c)

        c.configWrite(0x04, size: 2, value: 0x0000)           // I/O space off: nothing decoded
        XCTAssertNil(bench.bus.owner(of: 0x1F7))
        XCTAssertNil(bench.bus.owner(of: 0xD000))
        c.reset()
        XCTAssertNil(bench.bus.owner(of: 0x1F7))
    }

    func testBusMasterRegisters() {
        bench.bus.write(B.busMasterBase + 4, size: 4, value: 0x1234_5677)
        XCTAssertEqual(bench.bus.read(B.busMasterBase + 4, size: 4), 0x1234_5674, "table pointer is dword aligned")
        bench.outb(B.busMasterBase + 2, 0x60)
        XCTAssertEqual(bench.busMasterStatus, 0x60, "drive DMA capable bits are read/write")
        bench.outb(B.busMasterBase + 0x0A, 0x20)
        XCTAssertEqual(bench.inb(B.busMasterBase + 0x0A), 0x20, "secondary status at +Ah")
        XCTAssertEqual(bench.busMasterStatus, 0x60)
        bench.outb(B.busMasterBase, 0xFF)
        XCTAssertEqual(bench.inb(B.busMasterBase), 0x09, "command: start and direction only")
        XCTAssertEqual(bench.busMasterStatus & 0x01, 0x01, "active once started")
        bench.outb(B.busMasterBase, 0x00)
        XCTAssertEqual(bench.busMasterStatus & 0x01, 0x00)
    }

    // MARK: DMA

    @discardableResult
    func attachDisk(sectors: Int = 64) throws -> TemporaryFile {
        let file = TemporaryFile(sectors: sectors)
        bench.controller.attach(ATADrive(disk: try DiskImage(path: file.path, readOnly: false)), channel: 0, position: .master)
        return file
    }

    /// Linux's order: PRD table and direction, the command, then start.
    func testDMAReadScattersThroughThePRDTable() throws {
        let file = try attachDisk()
        bench.setUpPRDTable(at: Self.table, regions: [(0x2_0000, 512), (0x3_0F00, 1536)])
        bench.outb(B.busMasterBase, 0x08)                   // direction: write to memory
        bench.command(0xC8, lba: 4, count: 4)               // READ DMA
        XCTAssertEqual(bench.inb(B.control), 0x58, "DRQ while waiting for the bus master")
        XCTAssertEqual(bench.interrupts.edges(14), 0)
        bench.startBusMaster(toMemory: true)

        XCTAssertEqual(bench.memory.copyOut(0x2_0000, count: 512), Array(file.contents[4 * 512..<5 * 512]))
        XCTAssertEqual(bench.memory.copyOut(0x3_0F00, count: 1536), Array(file.contents[5 * 512..<8 * 512]),
                       "the second region crosses a page boundary")
        XCTAssertEqual(bench.interrupts.edges(14), 1)
        XCTAssertEqual(bench.busMasterStatus & 0x07, 0x04, "interrupt set, active clear: table and transfer ended together")
        bench.outb(B.busMasterBase, 0x08)                   // stop
        XCTAssertEqual(bench.inb(B.status), 0x50)
        bench.outb(B.busMasterBase + 2, 0x04)               // write one to clear
        XCTAssertEqual(bench.busMasterStatus & 0x04, 0)
    }

    func testDMAReadWhenTheEngineStartsFirst() throws {
        let file = try attachDisk()
        bench.setUpPRDTable(at: Self.table, regions: [(0x2_0000, 1024)])
        bench.startBusMaster(toMemory: true)
        bench.command48(0x25, lba: 2, count: 2)             // READ DMA EXT
        XCTAssertEqual(bench.memory.copyOut(0x2_0000, count: 1024), Array(file.contents[2 * 512..<4 * 512]))
        XCTAssertEqual(bench.busMasterStatus & 0x07, 0x04)
    }

    func testPRDTableLargerThanTheTransfer() throws {
        try attachDisk()
        bench.setUpPRDTable(at: Self.table, regions: [(0x2_0000, 4096)])
        bench.startBusMaster(toMemory: true)
        bench.command(0xC8, lba: 0, count: 1)
        XCTAssertEqual(bench.busMasterStatus & 0x07, 0x05, "interrupt set, still active: the table was larger")
        XCTAssertEqual(bench.inb(B.status), 0x50)
    }

    func testPRDTableSmallerThanTheTransfer() throws {
        try attachDisk()
        bench.setUpPRDTable(at: Self.table, regions: [(0x2_0000, 512)])
        bench.startBusMaster(toMemory: true)
        bench.command(0xC8, lba: 0, count: 2)
        XCTAssertEqual(bench.busMasterStatus & 0x07, 0x00, "neither: the table ran out first")
        XCTAssertEqual(bench.interrupts.edges(14), 0)
        XCTAssertEqual(bench.inb(B.status), 0x58, "the drive still waits with DRQ")
    }

    func testEndlessPRDTableTerminates() {
        bench.controller.attach(ATADrive(disk: SyntheticDisk(blockCount: 1 << 20)), channel: 0, position: .master)
        // A 64 KiB table of 2-byte regions without End Of Table: 16 KiB in all.
        bench.setUpPRDTable(at: Self.table, regions: Array(repeating: (0x3_0000, 2), count: 8192), endOfTable: false)
        bench.startBusMaster(toMemory: true)
        bench.command(0xC8, lba: 0, count: 64)              // 32 KiB wanted
        XCTAssertEqual(bench.busMasterStatus & 0x07, 0x00, "the walk stops after 8,192 descriptors")
        XCTAssertEqual(bench.inb(B.control), 0x58)
    }

    func testDMAWriteGathersFromMemory() throws {
        let file = try attachDisk()
        let payload = (0..<1024).map { UInt8(truncatingIfNeeded: $0 ^ 0x5A) }
        bench.memory.copyIn(0x2_0000, Array(payload[0..<600]))
        bench.memory.copyIn(0x2_8000, Array(payload[600...]))
        bench.setUpPRDTable(at: Self.table, regions: [(0x2_0000, 600), (0x2_8000, 424)])
        bench.outb(B.busMasterBase, 0x00)                   // direction: read from memory
        bench.command(0xCA, lba: 20, count: 2)              // WRITE DMA
        bench.startBusMaster(toMemory: false)
        XCTAssertEqual(bench.busMasterStatus & 0x07, 0x04)
        XCTAssertEqual(bench.inb(B.status), 0x50)
        XCTAssertEqual(Array(file.contents[20 * 512..<22 * 512]), payload)
    }

    func testDirectionMismatchMovesNothing() throws {
        try attachDisk()
        bench.setUpPRDTable(at: Self.table, regions: [(0x2_0000, 512)])
        bench.command(0xC8, lba: 0, count: 1)
        bench.startBusMaster(toMemory: false)               // wrong way for a read
        XCTAssertEqual(bench.memory.copyOut(0x2_0000, count: 4), [0, 0, 0, 0])
        XCTAssertEqual(bench.busMasterStatus & 0x07, 0x01)
    }

    func testNoDMAWithoutBusMastering() throws {
        try attachDisk()
        bench.controller.configWrite(0x04, size: 2, value: 0x0001)
        bench.setUpPRDTable(at: Self.table, regions: [(0x2_0000, 512)])
        bench.startBusMaster(toMemory: true)
        bench.command(0xC8, lba: 1, count: 1)
        XCTAssertEqual(bench.memory.copyOut(0x2_0000, count: 4), [0, 0, 0, 0])
        XCTAssertEqual(bench.inb(B.control), 0x58)
    }

    func testRegionsOutsideRAM() throws {
        let file = try attachDisk()
        // Reads of unmapped memory give all ones to the disk; writes there vanish.
        bench.setUpPRDTable(at: Self.table, regions: [(0xF000_0000, 512)])
        bench.command(0xCA, lba: 7, count: 1)
        bench.startBusMaster(toMemory: false)
        XCTAssertEqual(Array(file.contents[7 * 512..<8 * 512]), [UInt8](repeating: 0xFF, count: 512))
        bench.outb(B.busMasterBase, 0)
        bench.command(0xC8, lba: 7, count: 1)
        bench.startBusMaster(toMemory: true)
        XCTAssertEqual(bench.inb(B.status), 0x50)
    }

    func testDMAIntoTranslatedCodeIsReported() throws {
        try attachDisk()
        var reported: [UInt32] = []
        bench.memory.onCodePageWrite = { reported.append($0) }
        bench.memory.watch(page: 0x21, true)
        bench.setUpPRDTable(at: Self.table, regions: [(0x2_0F00, 1024)])
        bench.startBusMaster(toMemory: true)
        bench.command(0xC8, lba: 0, count: 2)
        XCTAssertEqual(reported, [0x21], "one report for the watched page, none for the others")
    }

    /// A guest DMA past the last sector: the drive fails the command with
    /// IDNF (ATA/ATAPI-6, READ DMA / WRITE DMA EXT error outputs) and its
    /// interrupt, and no byte moves in either direction.
    func testDMAPastTheEndFailsWithIDNFAndMovesNothing() throws {
        let file = try attachDisk(sectors: 64)
        let original = file.contents
        bench.memory.copyIn(0x2_0000, [UInt8](repeating: 0xA5, count: 1024))
        bench.setUpPRDTable(at: Self.table, regions: [(0x2_0000, 1024)])
        bench.outb(B.busMasterBase, 0x08)
        bench.command(0xC8, lba: 63, count: 2)              // READ DMA of sectors 63–64
        bench.startBusMaster(toMemory: true)
        XCTAssertEqual(bench.interrupts.edges(14), 1)
        XCTAssertEqual(bench.inb(B.status), 0x51, "DRDY DSC ERR, no DRQ")
        XCTAssertEqual(bench.inb(B.error), 0x10, "IDNF")
        XCTAssertEqual(bench.busMasterStatus & 0x04, 0x04, "the driver sees the interrupt through the bus master too")
        XCTAssertEqual(bench.memory.copyOut(0x2_0000, count: 1024), [UInt8](repeating: 0xA5, count: 1024), "nothing read")

        bench.outb(B.busMasterBase, 0x00)
        bench.outb(B.busMasterBase + 2, 0x04)
        bench.command48(0x35, lba: 1 << 40, count: 2)       // WRITE DMA EXT far past the end
        bench.startBusMaster(toMemory: false)
        XCTAssertEqual(bench.interrupts.edges(14), 2)
        XCTAssertEqual(bench.inb(B.status) & 0x09, 0x01, "ERR, no DRQ")
        XCTAssertEqual(bench.inb(B.error), 0x10, "IDNF")
        XCTAssertEqual(file.contents, original, "nothing written")
    }

    /// The bus-master interrupt bit follows any rising edge of the channel's INTRQ.
    func testInterruptStatusFollowsPIOInterruptsToo() throws {
        try attachDisk()
        bench.command(0x20, lba: 0, count: 1)
        XCTAssertEqual(bench.busMasterStatus & 0x04, 0x04)
    }
}
