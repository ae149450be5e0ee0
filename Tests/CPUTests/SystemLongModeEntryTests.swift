import XCTest
@testable import CPU

/// Entering long mode, as far as this interpreter carries a guest (AMD APM
/// vol. 2, 3.1.7 EFER and 14.6 "Enabling and Activating Long Mode"; Intel
/// SDM vol. 3, 10.8.5): EFER exists only when CPUID offers long mode,
/// LMA is set by the processor when paging turns on with LME and PAE, and
/// the invalid combinations raise #GP(0).
extension SystemRegisterTests {
    static let efer = MSR.extendedFeatureEnable

    func testEFERExistsOnlyWithTheLongModeIdentity() {
        bench.protectedMode(cpl: 0)
        bench.expectFault(.generalProtection(0), "RDMSR EFER on a P6") { _ = try rdmsr(Self.efer) }
        bench.expectFault(.generalProtection(0), "WRMSR EFER on a P6") { try wrmsr(Self.efer, EFER.lme) }
        XCTAssertLessThan(CPUIDTable().query(0x8000_0000).eax, 0x8000_0001, "no extended leaves on a P6")
        let identity = CPUIDTable(longMode: true)
        XCTAssertEqual(identity.query(0x8000_0000).eax, 0x8000_0008)
        XCTAssertNotEqual(identity.query(0x8000_0001).edx & 1 << 29, 0, "LM")
        XCTAssertEqual(identity.query(0x8000_0001).edx & 1 << 20, 0, "no NX: the interpreter's page walk has none")
        XCTAssertEqual(identity.query(1).edx & 1 << 25, 0, "no SSE: the interpreter does not execute it")
        XCTAssertEqual(identity.leaves.count, 3 + 9)
        let baseline = CPUIDTable(x86_64Baseline: true)
        XCTAssertNotEqual(baseline.query(1).edx & 1 << 26, 0, "SSE2, required by x86-64 operating systems")
        XCTAssertNotEqual(baseline.query(0x8000_0001).edx & 1 << 20, 0, "NX")
    }

    func testPagingWithLMEActivatesLongMode() throws {
        bench.protectedMode(cpl: 0)
        cpu.cpuid = CPUIDTable(longMode: true)
        try movToCR(4, CR4.pae)
        try wrmsr(Self.efer, EFER.lme)
        XCTAssertEqual(try rdmsr(Self.efer), EFER.lme, "LME alone does not activate long mode")
        cpu.stopRequested = false
        try movToCR(0, UInt32(truncatingIfNeeded: state.pointee.cr0) | CR0.pg)
        XCTAssertEqual(try rdmsr(Self.efer), EFER.lme | EFER.lma, "paging on with LME sets LMA")
        XCTAssertTrue(cpu.stopRequested, "the batch ends at the switch so the machine can hand over")
        bench.expectFault(.generalProtection(0), "PAE cannot go while long mode is active") { try movToCR(4, 0) }
        bench.expectFault(.generalProtection(0), "LME cannot change under paging") { try wrmsr(Self.efer, 0) }
        try movToCR(0, UInt32(truncatingIfNeeded: state.pointee.cr0) & ~CR0.pg)
        XCTAssertEqual(try rdmsr(Self.efer), EFER.lme, "paging off leaves long mode")
    }

    func testLongModeNeedsPAE() throws {
        bench.protectedMode(cpl: 0)
        cpu.cpuid = CPUIDTable(longMode: true)
        try wrmsr(Self.efer, EFER.lme)
        bench.expectFault(.generalProtection(0), "PG with LME and without PAE") {
            try movToCR(0, UInt32(truncatingIfNeeded: state.pointee.cr0) | CR0.pg)
        }
        XCTAssertEqual(state.pointee.efer & EFER.lma, 0)
        bench.expectFault(.generalProtection(0), "reserved EFER bits") { try wrmsr(Self.efer, 1 << 12) }
        bench.expectFault(.generalProtection(0), "NXE without NX") { try wrmsr(Self.efer, EFER.lme | EFER.nxe) }
    }
}
