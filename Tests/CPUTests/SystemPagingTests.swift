import XCTest
@testable import CPU
@testable import MMU

/// Paging as the processor sees it (Intel SDM vol. 3, 4.7 page-fault
/// exceptions, 4.10 TLBs and their invalidation): CR2 and error codes,
/// the TLB keeping a translation until an invalidation the architecture
/// defines (INVLPG, MOV CR3 for non-global pages, CR4.PGE changes), CR0.WP,
/// dirty flags set on the first write, and PAE's PDPTE registers.
final class SystemPagingTests: XCTestCase {
    let bench = CPUTestBench(ramSize: 8 << 20)
    var cpu: CPU { bench.cpu }
    var state: UnsafeMutablePointer<CPUState> { bench.state }

    let directory: UInt32 = 0x10000
    let table: UInt32 = 0x11000
    /// A linear page the tests remap: PTE 0x200 of the first table.
    let page: UInt32 = 0x0020_0000

    func pte(_ linear: UInt32) -> UInt32 { table + (linear >> 12 & 0x3FF) * 4 }

    func map(_ linear: UInt32, to physical: UInt32, flags: UInt32 = 7) {
        bench.write32(pte(linear), physical | flags)
    }

    /// Protected mode with paging on: the first 4 MiB identity-mapped as
    /// user-writable pages, except `page`, mapped by each test.
    override func setUp() {
        bench.protectedMode()
        bench.write32(directory, table | 7)
        for k: UInt32 in 0..<1024 { bench.write32(table + 4 * k, k << 12 | 7) }
        bench.write32(pte(page), 0)
        try! cpu.loadCR3(UInt64(directory))
        try! cpu.writeCR0(UInt32(state.pointee.cr0) | CR0.pg)
        bench.write32(0x0030_0000, 0xAAAA_AAAA)
        bench.write32(0x0031_0000, 0xBBBB_BBBB)
    }

    func read(_ linear: UInt32, user: Bool = false) throws -> UInt32 {
        try cpu.readLinear(linear, size: 4, MemoryAccess(write: false, user: user))
    }

    func testPageFaultSetsCR2AndErrorCode() {
        bench.expectFault(.pageFault(0)) { _ = try read(page + 0x10) }
        XCTAssertEqual(state.pointee.cr2, UInt64(page + 0x10))
        map(page, to: 0x0030_0000, flags: 5) // user, read-only
        bench.expectFault(.pageFault(7), "user write to a read-only page") {
            try cpu.writeLinear(page + 4, size: 4, value: 0, MemoryAccess(write: true, user: true))
        }
        XCTAssertEqual(state.pointee.cr2, UInt64(page + 4))
    }

    func testTLBKeepsTranslationUntilINVLPG() throws {
        map(page, to: 0x0030_0000)
        XCTAssertEqual(try read(page), 0xAAAA_AAAA)
        map(page, to: 0x0031_0000) // no invalidation yet: the TLB may (and does) still use the old frame
        XCTAssertEqual(try read(page), 0xAAAA_AAAA)
        try cpu.executeSystem(Build.instruction(.invlpg, Build.memory(1), displacement: page + 0x123))
        XCTAssertEqual(try read(page), 0xBBBB_BBBB)
    }

    func testCR3WriteFlushesNonGlobalEntriesOnly() throws {
        try cpu.writeCR4(CR4.pge)
        map(page, to: 0x0030_0000, flags: 7 | 0x100) // global
        map(page + 0x1000, to: 0x0030_0000)
        XCTAssertEqual(try read(page), 0xAAAA_AAAA)
        XCTAssertEqual(try read(page + 0x1000), 0xAAAA_AAAA)
        map(page, to: 0x0031_0000, flags: 7 | 0x100)
        map(page + 0x1000, to: 0x0031_0000)
        try cpu.loadCR3(UInt64(directory))
        XCTAssertEqual(try read(page), 0xAAAA_AAAA, "global translation survives MOV CR3")
        XCTAssertEqual(try read(page + 0x1000), 0xBBBB_BBBB, "non-global translation is gone")
        try cpu.writeCR4(0)
        XCTAssertEqual(try read(page), 0xBBBB_BBBB, "clearing CR4.PGE flushes global translations too")
    }

    func testFirstWriteSetsDirtyThroughTheTLB() throws {
        map(page, to: 0x0030_0000)
        _ = try read(page)
        XCTAssertEqual(bench.read32(pte(page)) & 0x60, 0x20, "accessed, not dirty")
        try cpu.writeLinear(page, size: 4, value: 0x1234, MemoryAccess(write: true, user: false))
        XCTAssertEqual(bench.read32(pte(page)) & 0x60, 0x60, "dirty after the first write, even with a cached translation")
        XCTAssertEqual(bench.read32(0x0030_0000), 0x1234)
    }

    func testWriteProtectChangeFlushes() throws {
        map(page, to: 0x0030_0000, flags: 1) // supervisor, read-only
        try cpu.writeLinear(page, size: 4, value: 1, MemoryAccess(write: true, user: false))
        try cpu.writeCR0(UInt32(state.pointee.cr0) | CR0.wp)
        bench.expectFault(.pageFault(3)) { try cpu.writeLinear(page, size: 4, value: 2, MemoryAccess(write: true, user: false)) }
        XCTAssertEqual(bench.read32(0x0030_0000), 1)
    }

    func testUserAccessThroughASegment() throws {
        map(page, to: 0x0030_0000, flags: 3) // supervisor only
        state.pointee.cpl = 3
        bench.expectFault(.pageFault(5)) { _ = try cpu.read(.ds, page, size: 4) }
        state.pointee.cpl = 0
        XCTAssertEqual(try cpu.read(.ds, page, size: 4), 0xAAAA_AAAA)
    }

    func testPageFaultDeliveredToItsHandler() {
        bench.setIDTGate(14, Descriptors.gate(selector: Selector.code0, offset: Layout.handler, type: 0xE, dpl: 0))
        cpu.eip = 0x0010_0000
        do throws(CPUFault) {
            _ = try cpu.readLinear(page + 8, size: 4, MemoryAccess(write: false, user: false))
            XCTFail("no fault")
        } catch {
            cpu.deliverException(error, eip: cpu.eip)
        }
        XCTAssertEqual(cpu.eip, Layout.handler)
        XCTAssertEqual(bench.stack(2), [0, 0x0010_0000])
        XCTAssertEqual(state.pointee.cr2, UInt64(page + 8))
    }

    func testPAEUsesThePDPTERegistersLoadedAtMOVCR3() throws {
        // PDPT at 0x20000 → directory 0x21000 → table 0x22000; linear 0x0040_3000 → 0x0030_0000.
        bench.write32(0x20000, 0x21000 | 1)
        bench.write32(0x21000 + 2 * 8, 0x22000 | 7)
        bench.write32(0x22000 + 3 * 8, 0x0030_0000 | 7)
        try cpu.writeCR0(UInt32(state.pointee.cr0) & ~CR0.pg)
        try cpu.writeCR4(CR4.pae)
        try cpu.loadCR3(0x20000)
        try cpu.writeCR0(UInt32(state.pointee.cr0) | CR0.pg)
        XCTAssertEqual(try read(0x0040_3000), 0xAAAA_AAAA)
        bench.write32(0x20000, 0) // the PDPTE registers keep the old entry until CR3 is loaded again
        try cpu.executeSystem(Build.instruction(.invlpg, Build.memory(1), displacement: 0x0040_3000))
        XCTAssertEqual(try read(0x0040_3000), 0xAAAA_AAAA)
        try cpu.loadCR3(0x20000)
        bench.expectFault(.pageFault(0)) { _ = try read(0x0040_3000) }
    }
}
