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
}
