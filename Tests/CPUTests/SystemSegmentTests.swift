import XCTest
@testable import CPU
@testable import MMU

/// Segment-register loads (SDM vol. 2 MOV/POP Sreg and LDS…, vol. 3 5.5–5.7)
/// and the I/O permission check (SDM vol. 1, 18.5.2).
final class SystemSegmentTests: XCTestCase {
    let bench = CPUTestBench()
    var cpu: CPU { bench.cpu }

    // MARK: Real and virtual-8086 mode

    func testRealModeLoadSetsBaseAndKeepsTheLimit() throws {
        bench.realMode(code: [])
        cpu.segment(.ds).pointee.limit = 0xFFFF_FFFF // unreal mode left behind by protected mode
        try cpu.loadSegment(.ds, 0x1234)
        let ds = cpu.segment(.ds).pointee
        XCTAssertEqual(ds.selector, 0x1234)
        XCTAssertEqual(ds.base, 0x12340)
        XCTAssertEqual(ds.limit, 0xFFFF_FFFF, "unreal mode keeps its 4 GiB limit")
        XCTAssertTrue(ds.present)
    }

    func testUnrealModeAfterLeavingProtectedMode() throws {
        bench.protectedMode()
        try cpu.loadSegment(.fs, Selector.data0)  // flat 4 GiB
        try cpu.writeCR0(UInt32(bench.state.pointee.cr0) & ~CR0.pe)
        try cpu.loadSegment(.fs, 0x2000)
        XCTAssertEqual(cpu.segment(.fs).pointee.base, 0x20000)
        bench.memory.write(0x0012_0000, size: 4, value: 0xCAFE_F00D)
        XCTAssertEqual(try cpu.read(.fs, 0x0010_0000, size: 4), 0xCAFE_F00D, "offsets above 64 KiB still reach memory")
    }

    func testMovSSHoldsInterruptsOffForOneInstruction() throws {
        bench.realMode(code: [])
        bench.state.pointee.interruptShadow = false
        try cpu.loadSegment(.ss, 0x3000)
        XCTAssertTrue(bench.state.pointee.interruptShadow)
    }

    func testVirtual8086Load() throws {
        bench.protectedMode()
        bench.state.pointee.eflags |= EFLAGS.vm
        try cpu.loadSegment(.es, 0xB800)
        XCTAssertEqual(cpu.segment(.es).pointee, SegmentDescriptorCache(selector: 0xB800, base: 0xB8000, limit: 0xFFFF, attributes: 0xF3))
    }

    // MARK: Protected mode

    func testDataLoadReadsTheDescriptorAndSetsAccessed() throws {
        bench.protectedMode()
        XCTAssertEqual(bench.descriptorHigh(Selector.data0) >> 8 & 0xFF, 0x92)
        try cpu.loadSegment(.ds, Selector.data0)
        let ds = cpu.segment(.ds).pointee
        XCTAssertEqual(ds.base, 0)
        XCTAssertEqual(ds.limit, 0xFFFF_FFFF, "G = 1: limit in 4 KiB units")
        XCTAssertEqual(ds.attributes, 0xC093)
        XCTAssertEqual(bench.descriptorHigh(Selector.data0) >> 8 & 0xFF, 0x93, "accessed bit written back to the GDT")
    }

    func testNullSelectorMakesDataRegisterUnusable() throws {
        bench.protectedMode()
        try cpu.loadSegment(.gs, 0x0003)
        XCTAssertEqual(cpu.segment(.gs).pointee.selector, 3)
        XCTAssertFalse(cpu.segment(.gs).pointee.present)
        bench.expectFault(.generalProtection(0)) { _ = try cpu.read(.gs, 0, size: 4) }
        bench.expectFault(.generalProtection(0)) { try cpu.loadSegment(.ss, 0) }
    }

    func testSelectorPastTheGDTLimit() {
        bench.protectedMode()
        bench.expectFault(.generalProtection(0x100)) { try cpu.loadSegment(.ds, 0x100) }
        bench.expectFault(.generalProtection(0x100)) { try cpu.loadSegment(.ds, 0x103) }
    }

    func testStackSegmentRules() {
        bench.protectedMode()
        bench.expectFault(.generalProtection(0x10), "RPL ≠ CPL") { try cpu.loadSegment(.ss, Selector.data0 | 3) }
        bench.expectFault(.generalProtection(UInt32(Selector.readOnly)), "not writable") { try cpu.loadSegment(.ss, Selector.readOnly) }
        bench.expectFault(.generalProtection(UInt32(Selector.code0)), "code") { try cpu.loadSegment(.ss, Selector.code0) }
        bench.expectFault(.stackFault(UInt32(Selector.absentData)), "not present") { try cpu.loadSegment(.ss, Selector.absentData) }
        bench.protectedMode(cpl: 3)
        bench.expectFault(.generalProtection(0x10), "DPL ≠ CPL") { try cpu.loadSegment(.ss, Selector.data0 | 3) }
    }

    func testDataSegmentRules() throws {
        bench.protectedMode(cpl: 3)
        bench.expectFault(.generalProtection(0x10), "DPL 0 data at CPL 3") { try cpu.loadSegment(.ds, Selector.data0 | 3) }
        bench.expectFault(.generalProtection(UInt32(Selector.tss)), "system descriptor") { try cpu.loadSegment(.ds, Selector.tss) }
        try cpu.loadSegment(.ds, Selector.conforming | 3) // readable conforming code: no privilege check
        XCTAssertEqual(cpu.segment(.ds).pointee.selector, Selector.conforming | 3)

        bench.protectedMode()
        bench.expectFault(.segmentNotPresent(UInt32(Selector.absentData))) { try cpu.loadSegment(.es, Selector.absentData) }
        bench.setDescriptor(Selector.free, Descriptors.segment(base: 0, limit: 0xFFFFF, access: 0x98)) // execute-only
        bench.expectFault(.generalProtection(UInt32(Selector.free)), "execute-only code") { try cpu.loadSegment(.es, Selector.free) }
        bench.expectFault(.generalProtection(0x10), "RPL 3 > DPL 0") { try cpu.loadSegment(.es, Selector.data0 | 3) }
    }

    func testLocalDescriptorTable() throws {
        bench.protectedMode()
        bench.state.pointee.ldtr = .null(0)
        bench.expectFault(.generalProtection(0x0C), "no LDT loaded") { try cpu.loadSegment(.ds, 0x0C) }
        // An LDT at Layout.ldt with one data segment based at 0x4_0000 in slot 1.
        bench.setDescriptor(Selector.free, Descriptors.segment(base: Layout.ldt, limit: 0x0F, access: 0x82, flags: 0))
        bench.setDescriptor(0x08, Descriptors.segment(base: 0x4_0000, limit: 0xFFFF, access: 0x92, flags: 0x4), table: Layout.ldt)
        cpu.setReg32(0, UInt32(Selector.free))
        try cpu.executeSystem(Build.instruction(.lldt, Build.register(0, 2)))
        try cpu.loadSegment(.ds, 0x0C)
        XCTAssertEqual(cpu.segment(.ds).pointee.base, 0x4_0000)
        bench.expectFault(.generalProtection(0x14), "past the LDT limit") { try cpu.loadSegment(.ds, 0x14) }
    }

    func testLoadFarPointer() throws {
        bench.protectedMode()
        bench.write32(0x6000, 0x1234_5678)
        bench.memory.write(0x6004, size: 2, value: UInt32(Selector.data16))
        try cpu.executeSystem(Build.instruction(.lss, Build.register(4), Build.memory(6), displacement: 0x6000))
        XCTAssertEqual(cpu.reg32(4), 0x1234_5678)
        XCTAssertEqual(cpu.segment(.ss).pointee.selector, Selector.data16)
        XCTAssertFalse(cpu.segment(.ss).pointee.is32Bit)
        XCTAssertFalse(bench.state.pointee.interruptShadow, "LSS does not hold interrupts off")

        // A faulting segment load leaves the general register alone.
        bench.memory.write(0x6004, size: 2, value: UInt32(Selector.absentData))
        cpu.setReg32(3, 0xAAAA)
        bench.expectFault(.segmentNotPresent(UInt32(Selector.absentData))) {
            try cpu.executeSystem(Build.instruction(.lds, Build.register(3), Build.memory(6), displacement: 0x6000))
        }
        XCTAssertEqual(cpu.reg32(3), 0xAAAA)
    }

    // MARK: I/O permission

    func testIOPermissionBitmap() throws {
        bench.protectedMode(cpl: 3)
        try cpu.checkIOPermission(0x60, size: 1) // bitmap all clear
        bench.memory.write(Layout.tss + 0x68 + 0x60 / 8, size: 1, value: 1) // port 0x60
        bench.expectFault(.generalProtection(0)) { try cpu.checkIOPermission(0x60, size: 1) }
        bench.expectFault(.generalProtection(0), "a word access covering 0x60") { try cpu.checkIOPermission(0x5F, size: 2) }
        try cpu.checkIOPermission(0x61, size: 1)
        bench.expectFault(.generalProtection(0), "port past the bitmap's limit") { try cpu.checkIOPermission(0x400, size: 1) }

        bench.state.pointee.eflags |= EFLAGS.iopl // IOPL 3 ≥ CPL: no bitmap
        try cpu.checkIOPermission(0x60, size: 1)
        bench.state.pointee.eflags |= EFLAGS.vm // V86 always uses the bitmap
        bench.expectFault(.generalProtection(0)) { try cpu.checkIOPermission(0x60, size: 1) }
    }

    func testIOAllowedAtCPLZeroAndInRealMode() throws {
        bench.protectedMode()
        bench.memory.write(Layout.tss + 0x68, size: 1, value: 0xFF)
        try cpu.checkIOPermission(0x01, size: 1)
        bench.realMode(code: [])
        try cpu.checkIOPermission(0x01, size: 1)
    }
}
