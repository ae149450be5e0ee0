import XCTest
@testable import CPU
@testable import MMU

/// Control and debug registers, descriptor-table registers, the selector
/// probes, MSRs, CPUID, RDTSC, SYSENTER/SYSEXIT and HLT, against Intel SDM
/// vol. 2 (instruction operations) and vol. 3 (2.5 control registers, 17.2
/// debug registers, 11.11 MTRRs, 11.12 PAT).
final class SystemRegisterTests: XCTestCase {
    let bench = CPUTestBench()
    var cpu: CPU { bench.cpu }
    var state: UnsafeMutablePointer<CPUState> { bench.state }

    func movToCR(_ n: UInt8, _ value: UInt32) throws {
        cpu.setReg32(0, value)
        try cpu.executeMoveSystemRegister(Build.instruction(.mov, Operand(.control, size: 4, register: n), Build.register(0)))
    }

    func movFromCR(_ n: UInt8) throws -> UInt32 {
        try cpu.executeMoveSystemRegister(Build.instruction(.mov, Build.register(3), Operand(.control, size: 4, register: n)))
        return cpu.reg32(3)
    }

    func movToDR(_ n: UInt8, _ value: UInt32) throws {
        cpu.setReg32(0, value)
        try cpu.executeMoveSystemRegister(Build.instruction(.mov, Operand(.debug, size: 4, register: n), Build.register(0)))
    }

    func movFromDR(_ n: UInt8) throws -> UInt32 {
        try cpu.executeMoveSystemRegister(Build.instruction(.mov, Build.register(3), Operand(.debug, size: 4, register: n)))
        return cpu.reg32(3)
    }

    // MARK: CR0

    func testResetValues() {
        bench.realMode(code: [])
        cpu.reset()
        XCTAssertEqual(state.pointee.cr0, 0x6000_0010, "CD, NW, ET")
        XCTAssertEqual(cpu.reg32(2), CPUIDTable.signature, "EDX = processor signature after RESET")
    }

    func testCR0Rules() throws {
        bench.realMode(code: [])
        var writes: [(Int, UInt64, UInt64)] = []
        cpu.onControlRegisterWrite = { writes.append(($0, $1, $2)) }
        bench.expectFault(.generalProtection(0), "PG without PE") { try movToCR(0, CR0.pg) }
        bench.expectFault(.generalProtection(0), "NW without CD") { try movToCR(0, CR0.nw | CR0.pe) }
        cpu.stopRequested = false
        try movToCR(0, 0xFFFF_FFFF & ~(CR0.pg))
        XCTAssertEqual(try movFromCR(0), CR0.writable & ~CR0.pg | CR0.et, "reserved bits read as 0, ET as 1")
        XCTAssertTrue(cpu.stopRequested)
        XCTAssertEqual(writes.count, 1)
        XCTAssertEqual(writes.first?.0, 0)
        XCTAssertEqual(writes.first?.1, 0x6000_0010)
    }

    func testPrivilegedInProtectedModeOnly() {
        bench.protectedMode(cpl: 3)
        bench.expectFault(.generalProtection(0)) { try movToCR(0, 0x11) }
        bench.expectFault(.generalProtection(0)) { _ = try movFromCR(3) }
        bench.expectFault(.generalProtection(0)) { try cpu.executeSystem(Build.instruction(.hlt)) }
        bench.expectFault(.generalProtection(0)) { try cpu.executeSystem(Build.instruction(.clts)) }
        bench.expectFault(.generalProtection(0)) { try cpu.executeSystem(Build.instruction(.wbinvd)) }
        bench.expectFault(.generalProtection(0)) { try cpu.executeSystem(Build.instruction(.rdmsr)) }
    }

    func testLeavingProtectedModeMakesCPLZero() throws {
        bench.protectedMode()
        state.pointee.cpl = 0
        try movToCR(0, UInt32(state.pointee.cr0) & ~CR0.pe)
        XCTAssertFalse(cpu.protectedMode)
        XCTAssertEqual(cpu.cpl, 0)
    }

    func testLMSWCannotClearPE() throws {
        bench.protectedMode()
        cpu.setReg32(0, CR0.ts | CR0.mp) // PE = 0 in the operand
        try cpu.executeSystem(Build.instruction(.lmsw, Build.register(0, 2)))
        XCTAssertEqual(UInt32(state.pointee.cr0) & 0xF, CR0.pe | CR0.mp | CR0.ts)
        try cpu.executeSystem(Build.instruction(.clts))
        XCTAssertEqual(UInt32(state.pointee.cr0) & CR0.ts, 0)
        bench.realMode(code: [])
        cpu.setReg32(0, CR0.pe)
        try cpu.executeSystem(Build.instruction(.lmsw, Build.register(0, 2)))
        XCTAssertTrue(cpu.protectedMode, "LMSW can enter protected mode")
    }

    func testSMSW() throws {
        bench.protectedMode()
        try cpu.executeSystem(Build.instruction(.smsw, Build.register(3, 4)))
        XCTAssertEqual(cpu.reg32(3), UInt32(state.pointee.cr0))
        try cpu.executeSystem(Build.instruction(.smsw, Build.memory(2), displacement: 0x6000))
        XCTAssertEqual(bench.read16(0x6000), UInt32(state.pointee.cr0) & 0xFFFF)
    }

    // MARK: CR4, CR3

    func testCR4OnlyImplementedBits() throws {
        bench.realMode(code: [])
        bench.expectFault(.generalProtection(0), "VME is not implemented") { try movToCR(4, CR4.vme) }
        bench.expectFault(.generalProtection(0), "OSXMMEXCPT (no SSE)") { try movToCR(4, 1 << 10) }
        try movToCR(4, CR4.pse | CR4.pge | CR4.osfxsr | CR4.tsd | CR4.de | CR4.mce | CR4.pce | CR4.pae)
        XCTAssertEqual(try movFromCR(4), 0x3FC)
    }

    func testPAEPDPTELoadFaultsOnReservedBits() throws {
        bench.protectedMode()
        bench.write32(0x20000, 0x21000 | 3) // P and reserved bit 1
        try movToCR(3, 0x20000)
        try movToCR(4, CR4.pae)
        bench.expectFault(.generalProtection(0), "enabling paging loads the PDPTEs") {
            try movToCR(0, UInt32(state.pointee.cr0) | CR0.pg)
        }
        XCTAssertFalse(cpu.pagingEnabled)
    }

    // MARK: Debug registers

    func testDebugRegisterAliasesAndGeneralDetect() throws {
        bench.realMode(code: [])
        try movToDR(7, 0xFFFF_FFFF & ~0x2000)
        XCTAssertEqual(try movFromDR(5), 0xFFFF_07FF, "DR5 is DR7 without CR4.DE; bits 11, 12, 14, 15 read 0, bit 10 reads 1")
        try movToDR(7, 0x2000) // GD: the next access is a #DB fault with BD set and GD cleared
        bench.expectFault(.debug) { _ = try movFromDR(0) }
        XCTAssertEqual(UInt32(state.pointee.dr.6) & 0x2000, 0x2000)
        XCTAssertEqual(UInt32(state.pointee.dr.7) & 0x2000, 0)
        try movToCR(4, CR4.de)
        bench.expectFault(.invalidOpcode, "DR4 with CR4.DE") { _ = try movFromDR(4) }
        try movToDR(6, 0)
        XCTAssertEqual(try movFromDR(6), 0xFFFF_0FF0)
    }

    // MARK: Descriptor-table registers

    func testLGDTAndSGDTOperandSizes() throws {
        bench.realMode(code: [], segment: 0)
        bench.memory.write(0x6000, size: 2, value: 0x27)
        bench.write32(0x6002, 0xAB12_3456)
        var lgdt = Build.instruction(.lgdt, Build.memory(6), operandSize: 2, displacement: 0x6000)
        try cpu.executeSystem(lgdt)
        XCTAssertEqual(state.pointee.gdtr, DescriptorTableRegister(base: 0x12_3456, limit: 0x27), "16-bit: 24-bit base")
        lgdt.operandSize = 4
        try cpu.executeSystem(lgdt)
        XCTAssertEqual(state.pointee.gdtr.base, 0xAB12_3456)
        try cpu.executeSystem(Build.instruction(.sgdt, Build.memory(6), operandSize: 2, displacement: 0x7000))
        XCTAssertEqual(bench.read16(0x7000), 0x27)
        XCTAssertEqual(bench.read32(0x7002), 0x0012_3456, "the fourth base byte stored as 0")
        try cpu.executeSystem(Build.instruction(.sidt, Build.memory(6), displacement: 0x7000))
        XCTAssertEqual(bench.read16(0x7000), 0xFFFF, "IDTR after RESET: base 0, limit 0xFFFF")
        XCTAssertEqual(bench.read32(0x7002), 0)
    }

    func testProtectedModeOnlyInstructionsAreUDInRealMode() {
        bench.realMode(code: [])
        for op in [Op.sldt, .str, .lldt, .ltr, .verr, .verw] {
            bench.expectFault(.invalidOpcode, "\(op)") { try cpu.executeSystem(Build.instruction(op, Build.register(0, 2))) }
        }
        bench.expectFault(.invalidOpcode) { try cpu.executeSystem(Build.instruction(.arpl, Build.register(0, 2), Build.register(1, 2))) }
        bench.expectFault(.invalidOpcode) { try cpu.executeSystem(Build.instruction(.lar, Build.register(0), Build.register(1, 2))) }
    }

    // MARK: Selector probes

    func probe(_ op: Op, _ selector: UInt16) throws -> (zf: Bool, result: UInt32) {
        cpu.setReg32(1, UInt32(selector))
        cpu.setReg32(0, 0xDEAD_BEEF)
        let i = [.verr, .verw].contains(op) ? Build.instruction(op, Build.register(1, 2))
                                           : Build.instruction(op, Build.register(0), Build.register(1, 2))
        try cpu.executeSystem(i)
        return (state.pointee.eflags & EFLAGS.zf != 0, cpu.reg32(0))
    }

    func testLARAndLSL() throws {
        bench.protectedMode()
        XCTAssertEqual(try probe(.lar, Selector.code0).result, 0x00CF_9A00, "type/S/DPL/P and G/D/AVL, limit 19:16")
        XCTAssertTrue(try probe(.lar, Selector.code0).zf)
        XCTAssertEqual(try probe(.lsl, Selector.code0).result, 0xFFFF_FFFF, "granular limit")
        XCTAssertEqual(try probe(.lsl, Selector.tss).result, 0x67 + 128)
        let null = try probe(.lar, 0)
        XCTAssertFalse(null.zf)
        XCTAssertEqual(null.result, 0xDEAD_BEEF, "destination unchanged")
        XCTAssertFalse(try probe(.lar, 0x1000).zf, "past the GDT: ZF = 0, no fault")
        // An interrupt gate is not a valid LAR or LSL target.
        bench.setDescriptor(Selector.free, Descriptors.gate(selector: Selector.code0, offset: 0, type: 0xE, dpl: 0))
        XCTAssertFalse(try probe(.lar, Selector.free).zf)
        XCTAssertFalse(try probe(.lsl, Selector.free).zf)

        bench.protectedMode(cpl: 3)
        XCTAssertFalse(try probe(.lar, Selector.data0).zf, "DPL 0 invisible at CPL 3")
        XCTAssertTrue(try probe(.lar, Selector.conforming).zf, "conforming code is always visible")
    }

    func testVERRAndVERW() throws {
        bench.protectedMode()
        XCTAssertTrue(try probe(.verr, Selector.data0).zf)
        XCTAssertTrue(try probe(.verw, Selector.data0).zf)
        XCTAssertTrue(try probe(.verr, Selector.readOnly).zf)
        XCTAssertFalse(try probe(.verw, Selector.readOnly).zf)
        XCTAssertTrue(try probe(.verr, Selector.code0).zf, "readable code")
        XCTAssertFalse(try probe(.verw, Selector.code0).zf)
        XCTAssertFalse(try probe(.verr, Selector.tss).zf)
        bench.protectedMode(cpl: 3)
        XCTAssertFalse(try probe(.verr, Selector.data0 | 3).zf)
        XCTAssertTrue(try probe(.verw, Selector.data3).zf)
    }

    func testARPL() throws {
        bench.protectedMode()
        cpu.setReg32(0, 0x0010)
        cpu.setReg32(1, 0x0023)
        try cpu.executeSystem(Build.instruction(.arpl, Build.register(0, 2), Build.register(1, 2)))
        XCTAssertEqual(cpu.reg16(0), 0x0013)
        XCTAssertNotEqual(state.pointee.eflags & EFLAGS.zf, 0)
        try cpu.executeSystem(Build.instruction(.arpl, Build.register(0, 2), Build.register(1, 2)))
        XCTAssertEqual(cpu.reg16(0), 0x0013)
        XCTAssertEqual(state.pointee.eflags & EFLAGS.zf, 0)
    }

    // MARK: CPUID, MSRs, TSC

    func cpuid(_ leaf: UInt32) -> [UInt32] {
        cpu.setReg32(0, leaf)
        XCTAssertNoThrow(try cpu.executeSystem(Build.instruction(.cpuid)))
        return [cpu.reg32(0), cpu.reg32(3), cpu.reg32(1), cpu.reg32(2)]
    }

    func testCPUID() {
        bench.realMode(code: [])
        let vendor = cpuid(0)
        XCTAssertEqual(vendor[0], 2)
        let bytes = [vendor[1], vendor[3], vendor[2]].flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
        XCTAssertEqual(String(decoding: bytes, as: UTF8.self), "GenuineIntel")
        let leaf1 = cpuid(1)
        XCTAssertEqual(leaf1[0] >> 8 & 0xF, 6, "family 6")
        XCTAssertEqual(leaf1[0] >> 4 & 0xF, 5, "model 5")
        let edx = leaf1[3]
        for (bit, name) in [(0, "FPU"), (3, "PSE"), (4, "TSC"), (5, "MSR"), (6, "PAE"), (8, "CX8"), (11, "SEP"),
                            (12, "MTRR"), (13, "PGE"), (15, "CMOV"), (24, "FXSR")] {
            XCTAssertNotEqual(edx & 1 << bit, 0, name)
        }
        for (bit, name) in [(1, "VME"), (9, "APIC"), (17, "PSE36"), (23, "MMX"), (25, "SSE")] {
            XCTAssertEqual(edx & 1 << bit, 0, name)
        }
        XCTAssertEqual(cpuid(2), [0x0302_0101, 0, 0, 0x0C04_0843])
        XCTAssertLessThan(cpuid(0x8000_0000)[0], 0x8000_0001, "no extended leaves")
    }

    func rdmsr(_ index: UInt32) throws -> UInt64 {
        cpu.setReg32(1, index)
        try cpu.executeSystem(Build.instruction(.rdmsr))
        return UInt64(cpu.reg32(2)) << 32 | UInt64(cpu.reg32(0))
    }

    func wrmsr(_ index: UInt32, _ value: UInt64) throws {
        cpu.setReg32(1, index)
        cpu.setReg32(0, UInt32(truncatingIfNeeded: value))
        cpu.setReg32(2, UInt32(truncatingIfNeeded: value >> 32))
        try cpu.executeSystem(Build.instruction(.wrmsr))
    }

    func testMSRs() throws {
        bench.realMode(code: [])
        XCTAssertEqual(try rdmsr(0xFE), 0x508, "MTRRcap: VCNT 8, FIX, WC")
        bench.expectFault(.generalProtection(0), "MTRRcap is read-only") { try wrmsr(0xFE, 0) }
        bench.expectFault(.generalProtection(0), "unknown MSR") { _ = try rdmsr(0xC000_0080) }
        try wrmsr(0x174, 0x10)
        XCTAssertEqual(try rdmsr(0x174), 0x10)
        try wrmsr(0x2FF, 0xC06) // E, FE, default WB
        XCTAssertEqual(try rdmsr(0x2FF), 0xC06)
        bench.expectFault(.generalProtection(0), "type 2 is reserved") { try wrmsr(0x2FF, 0x802) }
        bench.expectFault(.generalProtection(0), "reserved bit 9") { try wrmsr(0x2FF, 0x206) }
        try wrmsr(0x203, 0xF_FFF0_0800) // PHYSMASK1: 1 MiB, valid
        XCTAssertEqual(try rdmsr(0x203), 0xF_FFF0_0800)
        bench.expectFault(.generalProtection(0), "PHYSMASK bits above 35") { try wrmsr(0x203, 0x10_0000_0800) }
        try wrmsr(0x26F, 0x0505_0505_0505_0505)
        XCTAssertEqual(try rdmsr(0x26F), 0x0505_0505_0505_0505)
        XCTAssertEqual(state.pointee.msr.mtrrFixed.10, 0x0505_0505_0505_0505)
        bench.expectFault(.generalProtection(0), "fixed range with type 7") { try wrmsr(0x250, 0x07) }
        XCTAssertEqual(try rdmsr(0x277), 0x0007_0406_0007_0406, "PAT power-up value")
        bench.expectFault(.generalProtection(0), "PAT entry type 2") { try wrmsr(0x277, 0x02) }
        try wrmsr(0x8B, 0)
        _ = cpuid(1)
        XCTAssertEqual(try rdmsr(0x8B) >> 32, UInt64(CPUIDTable.microcodeRevision))
    }

    func testTimeStampCounter() throws {
        bench.realMode(code: [])
        cpu.instructionCount = 1000
        try cpu.executeSystem(Build.instruction(.rdtsc))
        XCTAssertEqual(cpu.reg32(0), 1000)
        try wrmsr(0x10, 0x1_0000_0000)
        cpu.instructionCount += 5
        try cpu.executeSystem(Build.instruction(.rdtsc))
        XCTAssertEqual(cpu.reg32(2), 1)
        XCTAssertEqual(cpu.reg32(0), 5)
        bench.protectedMode(cpl: 3)
        try cpu.executeSystem(Build.instruction(.rdtsc))
        state.pointee.cr4 = UInt64(CR4.tsd)
        bench.expectFault(.generalProtection(0)) { try cpu.executeSystem(Build.instruction(.rdtsc)) }
        bench.expectFault(.generalProtection(0)) { try cpu.executeSystem(Build.instruction(.rdpmc)) }
    }

    // MARK: SYSENTER, SYSEXIT, HLT

    func testSysenterAndSysexit() throws {
        bench.protectedMode(cpl: 3)
        bench.expectFault(.generalProtection(0), "SYSENTER_CS = 0") { try cpu.executeSystem(Build.instruction(.sysenter)) }
        state.pointee.msr.sysenterCS = 0x08
        state.pointee.msr.sysenterESP = 0x9000
        state.pointee.msr.sysenterEIP = 0xC000_1000
        state.pointee.eflags = 0x0202
        try cpu.executeSystem(Build.instruction(.sysenter))
        XCTAssertEqual(cpu.cpl, 0)
        XCTAssertEqual(cpu.segment(.cs).pointee, SegmentDescriptorCache(selector: 0x08, base: 0, limit: 0xFFFF_FFFF, attributes: 0xC09B))
        XCTAssertEqual(cpu.segment(.ss).pointee, SegmentDescriptorCache(selector: 0x10, base: 0, limit: 0xFFFF_FFFF, attributes: 0xC093))
        XCTAssertEqual(cpu.eip, 0xC000_1000)
        XCTAssertEqual(cpu.reg32(4), 0x9000)
        XCTAssertEqual(state.pointee.eflags & EFLAGS.if, 0)

        cpu.setReg32(1, 0x7FF0) // ECX → ESP
        cpu.setReg32(2, 0x0040_0000) // EDX → EIP
        try cpu.executeSystem(Build.instruction(.sysexit))
        XCTAssertEqual(cpu.cpl, 3)
        XCTAssertEqual(cpu.segment(.cs).pointee.selector, 0x1B)
        XCTAssertEqual(cpu.segment(.ss).pointee.selector, 0x23)
        XCTAssertEqual(cpu.segment(.cs).pointee.dpl, 3)
        XCTAssertEqual(cpu.eip, 0x0040_0000)
        XCTAssertEqual(cpu.reg32(4), 0x7FF0)
        bench.expectFault(.generalProtection(0), "SYSEXIT at CPL 3") { try cpu.executeSystem(Build.instruction(.sysexit)) }
    }

    func testHLTAndUndefinedInstructions() throws {
        bench.realMode(code: [])
        cpu.stopRequested = false
        try cpu.executeSystem(Build.instruction(.hlt))
        XCTAssertTrue(state.pointee.halted)
        XCTAssertTrue(cpu.stopRequested)
        bench.expectFault(.invalidOpcode) { try cpu.executeSystem(Build.instruction(.ud2)) }
        bench.expectFault(.invalidOpcode, "no SMM") { try cpu.executeSystem(Build.instruction(.rsm)) }
    }
}
