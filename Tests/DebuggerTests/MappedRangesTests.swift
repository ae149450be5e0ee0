import XCTest
import CPU
import Machine
@testable import Debugger

/// `info mem` over page tables built by hand in the formats of the SDM
/// (vol. 3, 4.3 32-bit paging with PSE, 4.4 PAE): runs contiguous in linear
/// and physical space with the same rights coalesce; a change of rights,
/// a physical gap or a hole splits them; the rights are the AND of the
/// levels.
final class MappedRangesTests: XCTestCase {
    func testThirtyTwoBitTablesWithALargePage() throws {
        let t = try DebugTestMachine()
        let m = t.machine.memory
        let s = t.machine.cpu.state
        // PDE 0 → table at 11000h: pages 0-3 → frames 200000h-203000h (RW),
        // page 4 → 204000h read-only, page 6 → 300000h (after a hole).
        m.write(0x10000, size: 4, value: 0x11000 | 7)          // P RW U
        for k in 0..<4 { m.write(0x11000 + UInt32(4 * k), size: 4, value: 0x20_0000 + UInt32(k) << 12 | 7) }
        m.write(0x11000 + 16, size: 4, value: 0x20_4000 | 5)   // P U, read-only
        m.write(0x11000 + 24, size: 4, value: 0x30_0000 | 7)
        // PDE 300h (linear C0000000h): a 4 MiB page at 400000h, supervisor.
        m.write(0x10000 + 0x300 * 4, size: 4, value: 0x40_0000 | 0x83)
        s.pointee.cr3 = 0x10000
        s.pointee.cr4 = UInt64(CR4.pse)
        s.pointee.cr0 |= UInt64(CR0.pe | CR0.pg)
        XCTAssertEqual(t.session.view.mappedRanges(), [
            MappedRange(linear: 0, physical: 0x20_0000, size: 0x4000, writable: true, user: true),
            MappedRange(linear: 0x4000, physical: 0x20_4000, size: 0x1000, writable: false, user: true),
            MappedRange(linear: 0x6000, physical: 0x30_0000, size: 0x1000, writable: true, user: true),
            MappedRange(linear: 0xC000_0000, physical: 0x40_0000, size: 0x40_0000, writable: true, user: false),
        ])
        let text = t.monitor.execute("info mem")
        XCTAssertEqual(text.count, 5, text.joined(separator: "\n"))
        XCTAssertTrue(text[4].hasPrefix("c0000000-c03fffff -> 00400000-007fffff 4 MiB"), text[4])
        XCTAssertTrue(text[4].hasSuffix("S RW"), text[4])
        XCTAssertTrue(text[2].hasSuffix("U R"), text[2])
        // The debugger's look sets no Accessed bits.
        XCTAssertEqual(m.read(0x10000, size: 4) & 0x20, 0)
    }

    func testPAETablesAndRightsFromBothLevels() throws {
        let t = try DebugTestMachine()
        let m = t.machine.memory
        let s = t.machine.cpu.state
        // PDPTE 3 → directory at 21000h; PDE 0 → table at 22000h (read-only
        // at the directory level); PDE 1 → a 2 MiB page at 600000h.
        m.write(0x20000 + 24, size: 4, value: 0x21000 | 1)
        m.write(0x21000, size: 4, value: 0x22000 | 5)           // P U, read-only
        m.write(0x22000, size: 4, value: 0x50_0000 | 7)
        m.write(0x22008, size: 4, value: 0x50_1000 | 7)
        m.write(0x21008, size: 4, value: 0x60_0000 | 0x83)
        s.pointee.cr3 = 0x20000
        s.pointee.cr4 = UInt64(CR4.pae)
        s.pointee.cr0 |= UInt64(CR0.pe | CR0.pg)
        XCTAssertEqual(t.session.view.mappedRanges(), [
            MappedRange(linear: 0xC000_0000, physical: 0x50_0000, size: 0x2000, writable: false, user: true),
            MappedRange(linear: 0xC020_0000, physical: 0x60_0000, size: 0x20_0000, writable: true, user: false),
        ])
    }
}
