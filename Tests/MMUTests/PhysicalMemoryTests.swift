import XCTest
@testable import MMU

final class StubMMIO: MMIOHandler {
    var writes: [(UInt32, Int, UInt32)] = []
    func mmioRead(offset: UInt32, size: Int) -> UInt32 { 0x1234_0000 | offset }
    func mmioWrite(offset: UInt32, size: Int, value: UInt32) { writes.append((offset, size, value)) }
}

final class PhysicalMemoryTests: XCTestCase {
    func testRAMReadsBackWhatWasWrittenAcrossPages() throws {
        let m = try PhysicalMemory(ramSize: 1 << 20)
        m.write(0x1FFE, size: 4, value: 0xAABB_CCDD)
        XCTAssertEqual(m.read(0x1FFE, size: 4), 0xAABB_CCDD)
        XCTAssertEqual(m.read(0x2000, size: 1), 0xBB)
        XCTAssertEqual(m.ram[0x1FFE], 0xDD)
    }

    func testUnmappedReadsAllOnesAndDropsWrites() throws {
        let m = try PhysicalMemory(ramSize: 1 << 20)
        XCTAssertEqual(m.read(0x8000_0000, size: 4), 0xFFFF_FFFF)
        XCTAssertEqual(m.read(0x8000_0000, size: 2), 0xFFFF)
        XCTAssertEqual(m.read(0x8000_0000, size: 1), 0xFF)
        m.write(0x8000_0000, size: 4, value: 0)
        XCTAssertEqual(m.read(0x8000_0000, size: 4), 0xFFFF_FFFF)
    }

    func testROMIsReadOnlyAndShadowSwitchesToRAM() throws {
        let m = try PhysicalMemory(ramSize: 1 << 20)
        let rom = m.addROM([UInt8](repeating: 0x5A, count: 0x10000))
        m.mapROM(at: 0xF0000, size: 0x10000, romOffset: rom)
        m.write(0xF0000, size: 1, value: 0x11)
        XCTAssertEqual(m.read(0xF0000, size: 1), 0x5A)
        // PAM: read ROM, write RAM (how a BIOS copies itself into shadow RAM).
        m.mapShadow(at: 0xF0000, size: 0x10000, readRAM: false, writeRAM: true, romOffset: rom)
        m.write(0xF0000, size: 1, value: 0x11)
        XCTAssertEqual(m.read(0xF0000, size: 1), 0x5A)
        m.mapShadow(at: 0xF0000, size: 0x10000, readRAM: true, writeRAM: false, romOffset: rom)
        XCTAssertEqual(m.read(0xF0000, size: 1), 0x11)
    }

    func testMMIOSeesOffsetsRelativeToItsRange() throws {
        let m = try PhysicalMemory(ramSize: 1 << 20)
        let dev = StubMMIO()
        m.mapMMIO(at: 0xA0000, size: 0x20000, handler: dev)
        XCTAssertEqual(m.read(0xA0010, size: 2), 0x1234_0010)
        m.write(0xB8000, size: 2, value: 0x0741)
        XCTAssertEqual(dev.writes.first?.0, 0x18000)
        XCTAssertNil(m.hostPointer(forReading: 0xA0000))
    }

    /// Writes that reach device memory through the map mark its arena
    /// page for the device; RAM, ROM and reads leave no mark.
    func testDeviceMemoryWritesMarkTheirArenaPage() throws {
        let m = try PhysicalMemory(ramSize: 1 << 20)
        let rom = m.addROM([UInt8](repeating: 0x5A, count: 0x1000))
        m.mapROM(at: 0xF0000, size: 0x1000, romOffset: rom)
        let device = m.allocateArena(0x4000)
        m.mapDeviceMemory(at: 0xE000_0000, size: 0x4000, arenaOffset: device)
        let first = device >> PhysicalMemory.pageShift
        func marks() -> [UInt8] { (0..<4).map { m.deviceMemoryWrites[first + $0] } }

        m.write(0x1000, size: 4, value: 1)
        m.write(0xF0000, size: 1, value: 1)
        _ = m.read(0xE000_0000, size: 4)
        _ = m.hostPointer(forReading: 0xE000_3000)
        XCTAssertEqual(marks(), [0, 0, 0, 0])
        XCTAssertEqual(m.deviceMemoryWrites[rom >> PhysicalMemory.pageShift], 0, "ROM takes no writes")

        m.write(0xE000_1004, size: 2, value: 0xBEEF)
        XCTAssertEqual(marks(), [0, 0xFF, 0, 0])
        _ = m.hostPointer(forWriting: 0xE000_2FFF)
        XCTAssertEqual(marks(), [0, 0xFF, 0xFF, 0])
        [UInt8](repeating: 7, count: 8).withUnsafeBytes { m.copyIn(0xE000_0FFC, from: $0) }
        XCTAssertEqual(marks(), [0xFF, 0xFF, 0xFF, 0], "a copy marks every page it touches")
        XCTAssertEqual(m.read(0xE000_1000, size: 4), 0x0707_0707)
    }
}
