import XCTest
@testable import MMU

/// PageWalk against the formats and rules of Intel SDM vol. 3, chapter 4:
/// entry layouts (tables 4-4…4-6 and 4-8…4-11), access rights (4.6), the
/// page-fault error code (figure 4-12) and the accessed/dirty flags (4.8).
/// Page tables are written by hand with the manual's bit positions.
final class PagingWalkTests: XCTestCase {
    var memory: PhysicalMemory!

    // Entry bits as the SDM numbers them.
    let P: UInt32 = 1, RW: UInt32 = 2, US: UInt32 = 4, A: UInt32 = 0x20, D: UInt32 = 0x40, PS: UInt32 = 0x80, G: UInt32 = 0x100

    override func setUp() {
        memory = try! PhysicalMemory(ramSize: 16 << 20)
    }

    func control(cr3: UInt32, pse: Bool = false, pae: Bool = false, wp: Bool = false, pge: Bool = false,
                 pdptes: PageDirectoryPointers = PageDirectoryPointers()) -> PagingControl {
        PagingControl(cr3: cr3, pse: pse, pae: pae, writeProtect: wp, globalPages: pge, pageDirectoryPointers: pdptes)
    }

    func read(_ a: UInt32) -> UInt32 { memory.read(a, size: 4) }
    func write(_ a: UInt32, _ v: UInt32) { memory.write(a, size: 4, value: v) }

    func errorCode(_ linear: UInt32, write: Bool, user: Bool, _ c: PagingControl) -> UInt32? {
        do {
            _ = try PageWalk.translate(linear, PageAccess(write: write, user: user), c, memory)
            return nil
        } catch {
            return error.errorCode
        }
    }

    // MARK: 32-bit paging

    /// Directory at 0x10000, one table at 0x11000 mapping linear
    /// 0x0040_5000 (PDE 1, PTE 5) to 0x0012_3000.
    func buildSmallPage(pde: UInt32 = 7, pte: UInt32 = 7) -> PagingControl {
        write(0x10000 + 1 * 4, 0x11000 | pde)
        write(0x11000 + 5 * 4, 0x0012_3000 | pte)
        return control(cr3: 0x10000)
    }

    func testFourKiBPageTranslatesAndSetsAccessedThenDirty() throws {
        let c = buildSmallPage()
        let t = try PageWalk.translate(0x0040_5ABC, PageAccess(write: false, user: false), c, memory)
        XCTAssertEqual(t.frame | 0xABC, 0x0012_3ABC)
        XCTAssertFalse(t.largePage)
        XCTAssertEqual(read(0x10004), 0x11000 | 7 | A, "PDE accessed")
        XCTAssertEqual(read(0x11014), 0x0012_3000 | 7 | A, "PTE accessed, not dirty after a read")
        XCTAssertFalse(t.dirty)

        let w = try PageWalk.translate(0x0040_5ABC, PageAccess(write: true, user: true), c, memory)
        XCTAssertTrue(w.dirty)
        XCTAssertEqual(read(0x11014), 0x0012_3000 | 7 | A | D, "a write sets D in the PTE")
        XCTAssertEqual(read(0x10004), 0x11000 | 7 | A, "D is never set in a PDE that points to a table")
    }

    func testNotPresentErrorCodes() {
        let c = control(cr3: 0x10000) // empty directory
        XCTAssertEqual(errorCode(0x1000, write: false, user: false, c), 0)
        XCTAssertEqual(errorCode(0x1000, write: true, user: false, c), 2)
        XCTAssertEqual(errorCode(0x1000, write: true, user: true, c), 6)
        _ = buildSmallPage(pte: 6) // PTE not present
        XCTAssertEqual(errorCode(0x0040_5000, write: false, user: true, control(cr3: 0x10000)), 4)
    }

    func testUserAndReadOnlyProtection() {
        // Supervisor-only table (U/S = 0 in the PDE): user reads fault with P=1, U=1.
        var c = buildSmallPage(pde: P | RW, pte: P | RW | US)
        XCTAssertEqual(errorCode(0x0040_5000, write: false, user: true, c), 5)
        XCTAssertNil(errorCode(0x0040_5000, write: false, user: false, c))
        // Read-only page for users: user writes fault (P|W|U = 7), user reads pass.
        c = buildSmallPage(pde: 7, pte: P | US)
        XCTAssertEqual(errorCode(0x0040_5000, write: true, user: true, c), 7)
        XCTAssertNil(errorCode(0x0040_5000, write: false, user: true, c))
    }

    func testWriteProtectGovernsSupervisorWrites() {
        let c = buildSmallPage(pde: 7, pte: P | US)
        XCTAssertNil(errorCode(0x0040_5000, write: true, user: false, c), "WP = 0: supervisor writes ignore R/W")
        var wp = c
        wp.writeProtect = true
        XCTAssertEqual(errorCode(0x0040_5000, write: true, user: false, wp), 3)
    }

    func testFaultingWalkLeavesAccessedFlagsAlone() {
        let c = buildSmallPage(pde: P | RW, pte: P | RW)
        XCTAssertNotNil(errorCode(0x0040_5000, write: false, user: true, c))
        XCTAssertEqual(read(0x10004) & A, 0)
        XCTAssertEqual(read(0x11014) & A, 0)
    }

    func testFourMiBPagesNeedPSE() throws {
        // PDE 3 maps linear 0x00C0_0000–0x00FF_FFFF to physical 0x0080_0000 as a 4 MiB page.
        write(0x10000 + 3 * 4, 0x0080_0000 | P | RW | PS)
        let t = try PageWalk.translate(0x00C1_2345, PageAccess(write: true, user: false), control(cr3: 0x10000, pse: true), memory)
        XCTAssertEqual(t.frame | 0x345, 0x0081_2345)
        XCTAssertTrue(t.largePage)
        XCTAssertEqual(read(0x1000C), 0x0080_0000 | P | RW | PS | A | D, "A and D set in the 4 MiB PDE")
        // Without CR4.PSE the same PDE points to a page table at 0x80_0000 (all zero: not present).
        XCTAssertEqual(errorCode(0x00C1_2345, write: false, user: false, control(cr3: 0x10000)), 0)
    }

    func testFourMiBReservedBitsAreRSVDFaults() {
        // Bit 13 is reserved without PSE-36 (bit 12 is PAT).
        write(0x10000 + 3 * 4, 0x0080_0000 | P | PS | 1 << 13)
        XCTAssertEqual(errorCode(0x00C0_0000, write: false, user: false, control(cr3: 0x10000, pse: true)), 9)
        write(0x10000 + 3 * 4, 0x0080_0000 | P | PS | 1 << 12)
        XCTAssertNil(errorCode(0x00C0_0000, write: false, user: false, control(cr3: 0x10000, pse: true)))
    }

    func testGlobalOnlyWithPGE() throws {
        let c = buildSmallPage(pte: 7 | G)
        XCTAssertFalse(try PageWalk.translate(0x0040_5000, PageAccess(write: false, user: false), c, memory).global)
        var pge = c
        pge.globalPages = true
        XCTAssertTrue(try PageWalk.translate(0x0040_5000, PageAccess(write: false, user: false), pge, memory).global)
    }

    // MARK: PAE

    /// PDPT at 0x20000; PDPTE 0 → directory 0x21000; PDE 2 → table 0x22000;
    /// PTE 3 → 0x0034_5000. Linear (0 << 30) | (2 << 21) | (3 << 12).
    func buildPAE() -> PagingControl {
        write(0x20000, 0x21000 | P)
        write(0x21000 + 2 * 8, 0x22000 | 7)
        write(0x22000 + 3 * 8, 0x0034_5000 | 7)
        let pdptes = PageWalk.loadPageDirectoryPointers(cr3: 0x20000, memory)!
        return control(cr3: 0x20000, pae: true, pdptes: pdptes)
    }

    func testPAEFourKiBPage() throws {
        let c = buildPAE()
        let t = try PageWalk.translate(0x0040_3678, PageAccess(write: true, user: true), c, memory)
        XCTAssertEqual(t.frame | 0x678, 0x0034_5678)
        XCTAssertEqual(read(0x22018), 0x0034_5000 | 7 | A | D)
        XCTAssertEqual(read(0x21010), 0x22000 | 7 | A)
    }

    func testPAETwoMiBPageIgnoresPSE() throws {
        var c = buildPAE()
        write(0x21000 + 5 * 8, 0x00A0_0000 | P | RW | PS)
        c.pse = false
        let t = try PageWalk.translate(0x00A1_2345, PageAccess(write: false, user: false), c, memory)
        XCTAssertEqual(t.frame | 0x345, 0x00A1_2345)
        XCTAssertTrue(t.largePage)
    }

    func testPAEReservedBits() {
        let c = buildPAE()
        write(0x22000 + 3 * 8 + 4, 1 << 8) // PTE bit 40: above MAXPHYADDR 36
        XCTAssertEqual(errorCode(0x0040_3000, write: false, user: true, c), 0xD, "P | U | RSVD")
        write(0x22000 + 3 * 8 + 4, 0x0000_000F) // bits 35:32 are address bits, not reserved
        XCTAssertNil(errorCode(0x0040_3000, write: false, user: true, c))
        write(0x21000 + 5 * 8, 0x00A0_0000 | P | PS | 1 << 13) // 2 MiB PDE: bits 20:13 reserved
        XCTAssertEqual(errorCode(0x00A0_0000, write: false, user: false, c), 9)
    }

    func testPDPTELoadRejectsReservedBitsOfPresentEntries() {
        write(0x20000 + 8, 0x30000 | P | RW) // bit 1 is reserved in a PDPTE
        XCTAssertNil(PageWalk.loadPageDirectoryPointers(cr3: 0x20000, memory))
        write(0x20000 + 8, 0x30000 | RW) // not present: reserved bits don't matter
        XCTAssertNotNil(PageWalk.loadPageDirectoryPointers(cr3: 0x20000, memory))
    }

    func testPAENotPresentPDPTE() {
        let c = control(cr3: 0x20000, pae: true)
        XCTAssertEqual(errorCode(0xC000_0000, write: true, user: false, c), 2)
    }
}
