import XCTest
@testable import MMU

/// Code-page tracking (PhysicalMemory): what makes cached code stale, and
/// — as important for speed — what does not.
final class CodeTrackingTests: XCTestCase {
    func testWritesMakeOnlyTheirOwnLinesStale() throws {
        let m = try PhysicalMemory(ramSize: 1 << 20)
        let page = try XCTUnwrap(m.codePage(forReading: 0x5000))
        m.watchCode(page: page, offset: 0x100, count: 0x30) // lines 4 and 5
        let generation = m.codeGenerations[page], epoch = m.codeEpoch

        m.write(0x50C0, size: 4, value: 0)       // line 3: data beside the code
        m.write(0x5180, size: 2, value: 0)       // line 6
        XCTAssertEqual(m.codeGenerations[page], generation, "no cached byte was written")
        XCTAssertEqual(m.codeEpoch, epoch)
        XCTAssertTrue(m.isWatched(0x5000), "devices must still write this page through `write`")

        m.write(0x513E, size: 4, value: 0)       // crosses from line 4 into line 5
        XCTAssertEqual(m.codeGenerations[page], generation + 1)
        XCTAssertEqual(m.codeEpoch, epoch + 1)
        XCTAssertFalse(m.isWatched(0x5000), "stale code is forgotten until it is cached again")
    }

    func testBulkDMAIntoCodeLines() throws {
        let m = try PhysicalMemory(ramSize: 1 << 20)
        let page = try XCTUnwrap(m.codePage(forReading: 0x7000))
        m.watchCode(page: page, offset: 0xF00, count: 0x10)                // line 60
        let generation = m.codeGenerations[page]
        let data = [UInt8](repeating: 0x90, count: 0x2000)
        data.withUnsafeBytes { m.copyIn(0x6000, from: UnsafeRawBufferPointer(rebasing: $0[0..<0x1EC0])) } // up to line 59
        XCTAssertEqual(m.codeGenerations[page], generation)
        data.withUnsafeBytes { m.copyIn(0x6000, from: $0) }
        XCTAssertEqual(m.codeGenerations[page], generation + 1)
    }

    func testMapChangesAndTheA20GateRaiseTheEpoch() throws {
        let m = try PhysicalMemory(ramSize: 1 << 20)
        var epoch = m.codeEpoch
        let rom = m.addROM([UInt8](repeating: 0xF4, count: 0x1_0000))
        m.mapShadow(at: 0xF_0000, size: 0x1_0000, readRAM: false, writeRAM: true, romOffset: rom)
        XCTAssertGreaterThan(m.codeEpoch, epoch)
        let romPage = m.codePage(forReading: 0xF_0000)
        epoch = m.codeEpoch
        m.mapShadow(at: 0xF_0000, size: 0x1_0000, readRAM: true, writeRAM: false, romOffset: rom)
        XCTAssertGreaterThan(m.codeEpoch, epoch)
        XCTAssertEqual(m.codePage(forReading: 0xF_0000), 0xF0, "the RAM page under the ROM")
        XCTAssertNotEqual(romPage, 0xF0, "cached ROM code is another page")
        epoch = m.codeEpoch
        m.a20Mask = ~UInt32(1 << 20)
        XCTAssertEqual(m.codeEpoch, epoch + 1)
        m.a20Mask = ~UInt32(1 << 20)
        XCTAssertEqual(m.codeEpoch, epoch + 1, "no change, no stale code")
    }

    /// Video RAM is written by its device behind the memory map's back, so
    /// code there is never cached; ROM and RAM are.
    func testDeviceMemoryIsNeverCachedAsCode() throws {
        let m = try PhysicalMemory(ramSize: 1 << 20)
        let vram = m.allocateArena(0x1_0000)
        m.mapDeviceMemory(at: 0xE000_0000, size: 0x1_0000, arenaOffset: vram)
        XCTAssertNil(m.codePage(forReading: 0xE000_0000))
        let rom = m.addROM([0xF4])
        m.mapROM(at: 0xFFFF_F000, size: 0x1000, romOffset: rom)
        XCTAssertNotNil(m.codePage(forReading: 0xFFFF_F000))
        XCTAssertNotNil(m.codePage(forReading: 0x1000))
    }

    func testWatchedPageReportsOneWriteThenIsForgotten() throws {
        let m = try PhysicalMemory(ramSize: 1 << 20)
        var reported: [UInt32] = []
        m.onCodePageWrite = { reported.append($0) }
        m.watch(page: 0x21, true)
        m.write(0x2_1000, size: 1, value: 1)
        m.write(0x2_1001, size: 1, value: 1)
        XCTAssertEqual(reported, [0x21])
    }
}
