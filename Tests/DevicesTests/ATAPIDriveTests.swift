import XCTest
@testable import Devices

/// The ATAPI CD-ROM as the secondary master, driven through the PACKET
/// protocol of ATA/ATAPI-6 with MMC/SPC commands; expected bytes from
/// those standards.
final class ATAPIDriveTests: XCTestCase {
    let bench = IDEBench()
    typealias B = IDEBench
    // Secondary channel registers.
    static let data: UInt16 = 0x170, error: UInt16 = 0x171, reason: UInt16 = 0x172, lbaLow: UInt16 = 0x173
    static let byteLow: UInt16 = 0x174, byteHigh: UInt16 = 0x175, device: UInt16 = 0x176
    static let status: UInt16 = 0x177, control: UInt16 = 0x376
    typealias P = ATAPIDriveTests

    var isoFile: TemporaryFile!
    var drive: ATAPIDrive!

    /// A drive with a 40-block ISO whose power-on unit attention is already reported.
    func attach(withMedium: Bool = true, clearAttention: Bool = true) throws {
        isoFile = TemporaryFile(bytes: makeISO(blocks: 40), name: "cd")
        drive = ATAPIDrive(medium: withMedium ? try ISOImage(path: isoFile.path) : nil)
        bench.controller.attach(drive, channel: 1, position: .master)
        bench.outb(P.device, 0xA0)
        if clearAttention { _ = packet([0x00]) }
    }

    struct Outcome {
        var status: UInt8
        var error: UInt8
        var reason: UInt8
        var data: [UInt8]
        var blocks: [Int]          // DRQ block sizes (PIO)
    }

    /// Sends a PACKET command and takes its data by PIO.
    func packet(_ cdb: [UInt8], limit: Int = 0xFFFE) -> Outcome {
        bench.outb(0x171, 0)
        bench.outb(P.byteLow, UInt8(limit & 0xFF))
        bench.outb(P.byteHigh, UInt8(limit >> 8))
        bench.outb(P.status, 0xA0)
        XCTAssertEqual(bench.inb(P.control) & 0x88, 0x08, "DRQ for the packet")
        XCTAssertEqual(bench.inb(P.reason) & 0x03, 0x01, "CoD=1 IO=0: command packet")
        bench.writeData(cdb + [UInt8](repeating: 0, count: 12 - cdb.count), port: P.data)
        var data: [UInt8] = []
        var blocks: [Int] = []
        while bench.inb(P.status) & 0x08 != 0 {
            XCTAssertEqual(bench.inb(P.reason) & 0x03, 0x02, "IO=1 CoD=0: data to the host")
            let count = Int(bench.inb(P.byteLow)) | Int(bench.inb(P.byteHigh)) << 8
            blocks.append(count)
            data += bench.readData(count, port: P.data)
            if blocks.count > 1000 { XCTFail("endless data phase"); break }
        }
        return Outcome(status: bench.inb(P.status), error: bench.inb(P.error), reason: bench.inb(P.reason), data: data, blocks: blocks)
    }

    func sense() -> [UInt8] { packet([0x03, 0, 0, 0, 18]).data }
    func senseTriple() -> [UInt8] { let s = sense(); return [s[2] & 0x0F, s[12], s[13]] }

    func read10(_ lba: UInt32, _ count: UInt16) -> [UInt8] {
        [0x28, 0, UInt8(lba >> 24), UInt8(lba >> 16 & 0xFF), UInt8(lba >> 8 & 0xFF), UInt8(lba & 0xFF), 0, UInt8(count >> 8), UInt8(count & 0xFF)]
    }

    // MARK: Identification

    func testSignatureAfterReset() throws {
        try attach(clearAttention: false)
        XCTAssertEqual([bench.inb(P.reason), bench.inb(P.lbaLow), bench.inb(P.byteLow), bench.inb(P.byteHigh)], [0x01, 0x01, 0x14, 0xEB])
        XCTAssertEqual(bench.inb(P.status), 0x00, "DRDY clear until a command")
        bench.outb(P.control, 0x04); bench.outb(P.control, 0x00)
        XCTAssertEqual([bench.inb(P.byteLow), bench.inb(P.byteHigh)], [0x14, 0xEB])
        XCTAssertEqual(bench.inb(P.error), 0x01)
    }

    func testIdentifyDeviceIsAbortedWithTheSignature() throws {
        try attach()
        bench.outb(P.byteLow, 0); bench.outb(P.byteHigh, 0)
        bench.outb(P.status, 0xEC)
        XCTAssertEqual(bench.inb(P.status) & 0x09, 0x01)
        XCTAssertEqual(bench.inb(P.error), 0x04)
        XCTAssertEqual([bench.inb(P.byteLow), bench.inb(P.byteHigh)], [0x14, 0xEB])
    }

    func testIdentifyPacketDevice() throws {
        try attach()
        bench.outb(P.status, 0xA1)
        let bytes = bench.readData(512, port: P.data)
        let word = { (i: Int) in UInt16(bytes[2 * i]) | UInt16(bytes[2 * i + 1]) << 8 }
        XCTAssertEqual(word(0) >> 14, 2, "ATAPI")
        XCTAssertEqual(word(0) >> 8 & 0x1F, 5, "CD-ROM device type")
        XCTAssertEqual(word(0) & 0x80, 0x80, "removable")
        XCTAssertEqual(word(0) & 0x03, 0, "12-byte packets")
        XCTAssertNotEqual(word(49) & 0x0100, 0, "DMA")
        XCTAssertEqual(String(decoding: stride(from: 54, to: 68, by: 2).flatMap { [bytes[$0 + 1], bytes[$0]] }, as: UTF8.self), "NOVABOX CD-ROM")
        XCTAssertEqual(bytes.reduce(UInt8(0), &+), 0)
        XCTAssertEqual(bench.inb(P.status) & 0x08, 0)
    }

    func testInquiry() throws {
        try attach()
        let r = packet([0x12, 0, 0, 0, 36])
        XCTAssertEqual(r.status & 0x01, 0)
        XCTAssertEqual(r.data.count, 36)
        XCTAssertEqual(r.data[0], 0x05, "CD/DVD device")
        XCTAssertEqual(r.data[1], 0x80, "removable")
        XCTAssertEqual(r.data[4], 31, "additional length")
        XCTAssertEqual(String(decoding: r.data[8..<16], as: UTF8.self), "NOVABOX ")
        XCTAssertEqual(r.reason & 0x03, 0x03, "IO=1 CoD=1: status")
        XCTAssertEqual(packet([0x12, 0, 0, 0, 8]).data.count, 8, "cut to the allocation length")
    }

    // MARK: Reading the ISO

    func testReadCapacity() throws {
        try attach()
        let r = packet([0x25])
        XCTAssertEqual(r.data, [0, 0, 0, 39, 0, 0, 0x08, 0], "last LBA 39, 2048-byte blocks")
    }

    func testRead10ReturnsTheFileBytesInDRQBlocksWithinTheLimit() throws {
        try attach()
        let edges = bench.interrupts.edges(15)
        let r = packet(read10(17, 3), limit: 2048)
        XCTAssertEqual(r.data, Array(isoFile.contents[17 * 2048..<20 * 2048]))
        XCTAssertEqual(r.blocks, [2048, 2048, 2048])
        XCTAssertEqual(r.status, 0x40)
        XCTAssertEqual(bench.interrupts.edges(15) - edges, 4, "one per DRQ block and one for status")
    }

    func testOddByteCountLimitAndBlocksAcrossSectors() throws {
        try attach()
        let r = packet(read10(20, 2), limit: 1001)
        XCTAssertEqual(r.data, Array(isoFile.contents[20 * 2048..<22 * 2048]))
        XCTAssertTrue(r.blocks.dropLast().allSatisfy { $0 == 1000 }, "an odd limit loses its last byte: \(r.blocks)")
        XCTAssertEqual(r.blocks.reduce(0, +), 4096)
    }

    func testRead12AndZeroLength() throws {
        try attach()
        let r = packet([0xA8, 0, 0, 0, 0, 30, 0, 0, 0, 2])
        XCTAssertEqual(r.data, Array(isoFile.contents[30 * 2048..<32 * 2048]))
        let none = packet(read10(5, 0))
        XCTAssertEqual(none.data, [])
        XCTAssertEqual(none.status, 0x40)
    }

    func testReadPastTheEndIsLBAOutOfRange() throws {
        try attach()
        let r = packet(read10(39, 2))
        XCTAssertEqual(r.status & 0x01, 0x01)
        XCTAssertEqual(r.data, [])
        XCTAssertEqual(senseTriple(), [0x05, 0x21, 0x00])
    }

    func testDMARead() throws {
        try attach()
        bench.setUpPRDTable(at: 0x1_0000, regions: [(0x4_0000, 3 * 2048)])
        bench.outb(IDEBench.busMasterBase + 8, 0x08)        // secondary: write to memory
        bench.outb(0x171, 0x01)                              // DMA
        bench.outb(P.status, 0xA0)
        bench.writeData(read10(10, 3) + [0, 0, 0], port: P.data)
        XCTAssertEqual(bench.inb(P.control) & 0x08, 0x08, "waiting for the bus master")
        bench.bus.write(IDEBench.busMasterBase + 12, size: 4, value: 0x1_0000)
        bench.outb(IDEBench.busMasterBase + 8, 0x09)
        XCTAssertEqual(bench.memory.copyOut(0x4_0000, count: 3 * 2048), Array(isoFile.contents[10 * 2048..<13 * 2048]))
        XCTAssertEqual(bench.inb(IDEBench.busMasterBase + 10) & 0x07, 0x04)
        XCTAssertEqual(bench.inb(P.status), 0x40)
        XCTAssertEqual(bench.inb(P.reason) & 0x03, 0x03)
    }

    // MARK: Errors and sense

    func testRequestSenseAfterAnInvalidOpcode() throws {
        try attach()
        let r = packet([0xFF])
        XCTAssertEqual(r.status, 0x41, "DRDY ERR")
        XCTAssertEqual(r.error, 0x54, "sense key 5 in bits 7:4, ABRT")
        let s = sense()
        XCTAssertEqual(s[0], 0x70, "fixed format, current")
        XCTAssertEqual(s[7], 10)
        XCTAssertEqual([s[2], s[12], s[13]], [0x05, 0x20, 0x00], "ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE")
        XCTAssertEqual(senseTriple(), [0, 0, 0], "REQUEST SENSE consumed it")
    }

    func testTestUnitReadyWithoutMedia() throws {
        try attach(withMedium: false)
        let r = packet([0x00])
        XCTAssertEqual(r.status & 0x01, 0x01)
        XCTAssertEqual(r.error, 0x20, "NOT READY, without ABRT")
        XCTAssertEqual(senseTriple(), [0x02, 0x3A, 0x01], "MEDIUM NOT PRESENT, tray closed")
        XCTAssertEqual(packet([0x25]).status & 0x01, 0x01)
        XCTAssertEqual(packet([0x12, 0, 0, 0, 36]).status & 0x01, 0, "INQUIRY works without a disc")
    }

    func testUnitAttentionAtPowerOnAndAfterAMediaChange() throws {
        try attach(clearAttention: false)
        XCTAssertEqual(packet([0x12, 0, 0, 0, 36]).status & 0x01, 0, "INQUIRY does not report it")
        XCTAssertEqual(packet([0x00]).error >> 4, 0x06)
        XCTAssertEqual(senseTriple(), [0x06, 0x29, 0x00], "power on or reset")
        XCTAssertEqual(packet([0x00]).status, 0x40, "reported once")

        drive.insert(try ISOImage(path: isoFile.path))
        let event = packet([0x4A, 0x01, 0, 0, 0x10, 0, 0, 0, 8]).data
        XCTAssertEqual(event, [0, 6, 4, 0x10, 2, 0x02, 0, 0], "GESN: media class, new media, present")
        XCTAssertEqual(packet([0x4A, 0x01, 0, 0, 0x10, 0, 0, 0, 8]).data[4], 0, "then no change")
        XCTAssertEqual(packet([0x00]).error >> 4, 0x06)
        XCTAssertEqual(senseTriple(), [0x06, 0x28, 0x00], "not ready to ready change")
        XCTAssertEqual(packet([0x4A, 0x00, 0, 0, 0x10, 0, 0, 0, 8]).error, 0x54, "asynchronous GESN is not supported")
    }

    func testTrayAndLock() throws {
        try attach()
        XCTAssertEqual(packet([0x1E, 0, 0, 0, 1]).status, 0x40)          // PREVENT
        XCTAssertEqual(packet([0x1B, 0, 0, 0, 0x02]).status & 0x01, 0x01) // eject refused
        XCTAssertEqual(senseTriple(), [0x05, 0x53, 0x02])
        XCTAssertEqual(packet([0x5A, 0, 0x2A, 0, 0, 0, 0, 0, 30]).data[8 + 6] & 0x02, 0x02, "lock state in page 2Ah")
        _ = packet([0x1E, 0, 0, 0, 0])                                    // ALLOW
        XCTAssertEqual(packet([0x1B, 0, 0, 0, 0x02]).status, 0x40)
        XCTAssertTrue(drive.isTrayOpen)
        _ = packet([0x00])
        XCTAssertEqual(senseTriple(), [0x02, 0x3A, 0x02], "MEDIUM NOT PRESENT, tray open")
        XCTAssertEqual(packet([0xBD, 0, 0, 0, 0, 0, 0, 0, 0, 8]).data[1] & 0x10, 0x10, "door open")
        _ = packet([0x1B, 0, 0, 0, 0x03])                                 // load
        XCTAssertEqual(packet([0x00]).error >> 4, 0x06, "the disc is back: unit attention")
        XCTAssertEqual(packet([0x00]).status, 0x40)
    }

    // MARK: Table of contents and device state

    func testReadTOC() throws {
        try attach()
        let toc = packet([0x43, 0, 0, 0, 0, 0, 0, 0, 100]).data
        XCTAssertEqual(toc, [0, 18, 1, 1,  0, 0x14, 1, 0, 0, 0, 0, 0,  0, 0x14, 0xAA, 0, 0, 0, 0, 40])
        let msf = packet([0x43, 0x02, 0, 0, 0, 0, 0, 0, 100]).data
        XCTAssertEqual(Array(msf[8..<12]), [0, 0, 2, 0], "LBA 0 is 00:02:00")
        XCTAssertEqual(Array(msf[16..<20]), [0, 0, 2, 40], "lead-out at LBA 40")
        // Session information the SFF-8020 way (format in byte 9), as Linux asks.
        let session = packet([0x43, 0, 0, 0, 0, 0, 0, 0, 12, 0x40]).data
        XCTAssertEqual(session, [0, 10, 1, 1, 0, 0x14, 1, 0, 0, 0, 0, 0])
        let raw = packet([0x43, 0x02, 2, 0, 0, 0, 0, 0, 100]).data
        XCTAssertEqual(raw.count, 48)
        XCTAssertEqual(Array(raw[4..<15]), [1, 0x14, 0, 0xA0, 0, 0, 0, 0, 1, 0, 0], "A0: first track 1, CD-ROM disc")
        XCTAssertEqual(Array(raw[26..<37]), [1, 0x14, 0, 0xA2, 0, 0, 0, 0, 0, 2, 40], "A2: lead-out MSF")
        XCTAssertEqual(packet([0x43, 0, 0, 0, 0, 0, 5, 0, 100]).error, 0x54, "track 5 does not exist")
        XCTAssertEqual(packet([0x43, 0, 4, 0, 0, 0, 0, 0, 100]).error, 0x54, "ATIP is not on a pressed disc")
    }

    func testModeSensePages() throws {
        try attach()
        let caps = packet([0x5A, 0, 0x2A, 0, 0, 0, 0, 0, 64]).data
        XCTAssertEqual(caps.count, 30)
        XCTAssertEqual(Array(caps[0..<2]), [0, 28], "mode data length")
        XCTAssertEqual(caps[2], 0x01, "120 mm CD-ROM")
        XCTAssertEqual(Array(caps[8..<10]), [0x2A, 0x14])
        XCTAssertEqual(caps[8 + 6] >> 5, 1, "tray loading mechanism")
        let recovery = packet([0x5A, 0, 0x01, 0, 0, 0, 0, 0, 64]).data
        XCTAssertEqual(Array(recovery[8..<10]), [0x01, 0x0A])
        XCTAssertEqual(packet([0x5A, 0, 0x3F, 0, 0, 0, 0, 0, 64]).data.count, 8 + 12 + 22)
        XCTAssertEqual(packet([0x5A, 0, 0xC1, 0, 0, 0, 0, 0, 64]).error, 0x54, "saved values")
        XCTAssertEqual(senseTriple(), [0x05, 0x39, 0x00])
        XCTAssertEqual(packet([0x5A, 0, 0x05, 0, 0, 0, 0, 0, 64]).error, 0x54, "no write parameters page")
        XCTAssertEqual(senseTriple(), [0x05, 0x24, 0x00])
    }

    func testGetConfigurationAndDiscInformation() throws {
        try attach()
        let config = packet([0x46, 0x02, 0, 0, 0, 0, 0, 0, 64]).data     // RT=2: the profile list only
        XCTAssertEqual(Array(config[6..<8]), [0, 0x08], "current profile: CD-ROM")
        XCTAssertEqual(Array(config[8..<16]), [0, 0, 0x03, 4, 0, 0x08, 0x01, 0], "profile list with CD-ROM current")
        XCTAssertEqual(Array(config[0..<4]), [0, 0, 0, 12])
        let all = packet([0x46, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]).data
        XCTAssertEqual(all.count, 8 + 8 + 12 + 8 + 8 + 12 + 8)
        let disc = packet([0x51, 0, 0, 0, 0, 0, 0, 0, 34]).data
        XCTAssertEqual(Array(disc[0..<7]), [0, 32, 0x0E, 1, 1, 1, 1], "complete single-session disc")

        drive.eject()
        _ = packet([0x00])                                                 // unit attention
        let empty = packet([0x46, 0x02, 0, 0, 0, 0, 0, 0, 64]).data
        XCTAssertEqual(Array(empty[6..<8]), [0, 0], "no current profile without a disc")
        XCTAssertEqual(packet([0xBB, 0, 0xFF, 0xFF]).status, 0x40, "SET CD SPEED")
    }
}
