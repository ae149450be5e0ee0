import XCTest
@testable import CPU
@testable import MMU

/// Far JMP/CALL/RET and IRET against the operation sections of Intel SDM
/// vol. 2 and the privilege rules of vol. 3 (5.8 calls through gates,
/// figure 5-13 the inner stack after a gate call; 6.12 IRET).
final class SystemFarTransferTests: XCTestCase {
    let bench = CPUTestBench()
    var cpu: CPU { bench.cpu }
    var state: UnsafeMutablePointer<CPUState> { bench.state }

    func farPointer(_ op: Op, _ selector: UInt16, _ offset: UInt32, size: UInt8 = 4) -> Instruction {
        Build.instruction(op, Operand(.farPointer, size: size + 2), operandSize: size, immediate: offset, immediate2: UInt32(selector))
    }

    func retf(size: UInt8 = 4, release: UInt32? = nil) -> Instruction {
        release.map { Build.instruction(.retFar, Operand(.immediate, size: 2), operandSize: size, immediate: $0) }
            ?? Build.instruction(.retFar, operandSize: size)
    }

    func push(_ values: [UInt32], size: Int = 4) throws {
        for v in values { try cpu.push(v, size: size) }
    }

    // MARK: Real mode

    func testRealModeCallAndReturnReleasingParameters() throws {
        bench.realMode(code: [], segment: 0x1000, ip: 0x0100)
        try push([0xAAAA, 0xBBBB], size: 2) // two word parameters
        cpu.eip = 0x0105 // after the CALL
        try cpu.executeSystem(farPointer(.callFar, 0x2000, 0x1234, size: 2))
        XCTAssertEqual(cpu.segment(.cs).pointee.base, 0x20000)
        XCTAssertEqual(cpu.eip, 0x1234)
        XCTAssertEqual(bench.stack(4, size: 2), [0x0105, 0x1000, 0xBBBB, 0xAAAA])
        try cpu.executeSystem(retf(size: 2, release: 4))
        XCTAssertEqual(cpu.segment(.cs).pointee.selector, 0x1000)
        XCTAssertEqual(cpu.eip, 0x0105)
        XCTAssertEqual(cpu.reg16(4), 0xFFF0)
    }

    func testRealModeJumpPastTheLimit() {
        bench.realMode(code: [])
        bench.expectFault(.generalProtection(0)) { try cpu.executeSystem(farPointer(.jmpFar, 0x2000, 0x1_0000)) }
        XCTAssertEqual(cpu.segment(.cs).pointee.selector, 0x1000)
    }

    func testRealModeIRET() throws {
        bench.realMode(code: [])
        try push([0x0246 | 0x3000, 0x3000, 0x0400], size: 2) // FLAGS (IOPL 3), CS, IP
        try cpu.executeSystem(Build.instruction(.iret, operandSize: 2))
        XCTAssertEqual(cpu.segment(.cs).pointee.base, 0x30000)
        XCTAssertEqual(cpu.eip, 0x0400)
        XCTAssertEqual(state.pointee.eflags, 0x3246, "all of FLAGS, IOPL included, in real mode")
        XCTAssertEqual(cpu.reg16(4), 0xFFF0)
    }

    // MARK: Protected mode, direct

    func testJumpToCodeSegmentSetsAccessed() throws {
        bench.protectedMode()
        try cpu.executeSystem(farPointer(.jmpFar, Selector.code16, 0x4000))
        XCTAssertEqual(cpu.segment(.cs).pointee.selector, Selector.code16)
        XCTAssertFalse(cpu.segment(.cs).pointee.is32Bit)
        XCTAssertEqual(cpu.eip, 0x4000)
        XCTAssertEqual(bench.descriptorHigh(Selector.code16) >> 8 & 0xFF, 0x9B)
    }

    func testJumpChecks() {
        bench.protectedMode()
        bench.expectFault(.generalProtection(0)) { try cpu.executeSystem(farPointer(.jmpFar, 0, 0)) }
        bench.expectFault(.generalProtection(UInt32(Selector.code3 & 0xFFFC)), "DPL 3 ≠ CPL 0") {
            try cpu.executeSystem(farPointer(.jmpFar, Selector.code3, 0))
        }
        bench.expectFault(.generalProtection(UInt32(Selector.data0)), "not code") { try cpu.executeSystem(farPointer(.jmpFar, Selector.data0, 0)) }
        bench.expectFault(.segmentNotPresent(UInt32(Selector.absentCode))) { try cpu.executeSystem(farPointer(.jmpFar, Selector.absentCode, 0)) }
        bench.expectFault(.generalProtection(0), "offset past the limit") { try cpu.executeSystem(farPointer(.jmpFar, Selector.code16, 0x1_0000)) }
        XCTAssertEqual(cpu.segment(.cs).pointee.selector, Selector.code0)
    }

    func testConformingCodeRunsAtTheCallersCPL() throws {
        bench.protectedMode(cpl: 3)
        try cpu.executeSystem(farPointer(.jmpFar, Selector.conforming, 0x1000))
        XCTAssertEqual(cpu.cpl, 3)
        XCTAssertEqual(cpu.segment(.cs).pointee.selector, Selector.conforming | 3, "RPL becomes the CPL")
    }

    func testCallFarPushesCSAndEIP() throws {
        bench.protectedMode()
        cpu.eip = 0x0010_0007
        try cpu.executeSystem(farPointer(.callFar, Selector.code0, 0x0020_0000))
        XCTAssertEqual(bench.stack(2), [0x0010_0007, UInt32(Selector.code0)])
        XCTAssertEqual(cpu.eip, 0x0020_0000)
        try cpu.executeSystem(retf())
        XCTAssertEqual(cpu.eip, 0x0010_0007)
        XCTAssertEqual(cpu.reg32(4), Layout.ring0StackTop)
    }

    func testIndirectCallThroughMemory() throws {
        bench.protectedMode()
        bench.write32(0x6000, 0x0012_3456)
        bench.memory.write(0x6004, size: 2, value: UInt32(Selector.code0))
        try cpu.executeSystem(Build.instruction(.callFar, Build.memory(6), displacement: 0x6000))
        XCTAssertEqual(cpu.eip, 0x0012_3456)
    }

    // MARK: Call gates

    func testCallGateToInnerLevelCopiesParameters() throws {
        bench.protectedMode(cpl: 3)
        let gateSelector = Selector.free | 3
        bench.setDescriptor(Selector.free, Descriptors.gate(selector: Selector.code0, offset: 0x0030_0000, type: 0xC, dpl: 3, parameters: 2))
        try push([0x2222, 0x1111]) // parameter 1, then parameter 0 on top
        cpu.eip = 0x0040_0010
        try cpu.executeSystem(farPointer(.callFar, gateSelector, 0xDEAD)) // the offset is ignored
        XCTAssertEqual(cpu.cpl, 0)
        XCTAssertEqual(cpu.eip, 0x0030_0000)
        XCTAssertEqual(cpu.segment(.ss).pointee.selector, Selector.data0)
        XCTAssertEqual(cpu.reg32(4), Layout.ring0StackTop - 24)
        XCTAssertEqual(bench.stack(6), [0x0040_0010, UInt32(Selector.code3), 0x1111, 0x2222,
                                        Layout.ring3StackTop - 8, UInt32(Selector.data3)],
                       "EIP, CS, parameters in their order, ESP, SS (SDM figure 5-13)")

        // RETF 8 back to CPL 3 releases the parameters on both stacks and
        // nulls a data register the outer level may not use.
        try cpu.loadSegment(.fs, Selector.data0)
        try cpu.executeSystem(retf(release: 8))
        XCTAssertEqual(cpu.cpl, 3)
        XCTAssertEqual(cpu.eip, 0x0040_0010)
        XCTAssertEqual(cpu.segment(.ss).pointee.selector, Selector.data3)
        XCTAssertEqual(cpu.reg32(4), Layout.ring3StackTop)
        XCTAssertEqual(cpu.segment(.fs).pointee.selector, 0, "DPL 0 data nulled at CPL 3")
        XCTAssertEqual(cpu.segment(.ds).pointee.selector, Selector.data3, "DPL 3 data kept")
    }

    func testCallGatePrivilegeAndPresence() {
        bench.protectedMode(cpl: 3)
        bench.setDescriptor(Selector.free, Descriptors.gate(selector: Selector.code0, offset: 0, type: 0xC, dpl: 0))
        bench.expectFault(.generalProtection(UInt32(Selector.free)), "gate DPL < CPL") {
            try cpu.executeSystem(farPointer(.callFar, Selector.free | 3, 0))
        }
        bench.setDescriptor(Selector.free, Descriptors.gate(selector: Selector.code0, offset: 0, type: 0xC, dpl: 3, present: false))
        bench.expectFault(.segmentNotPresent(UInt32(Selector.free))) { try cpu.executeSystem(farPointer(.callFar, Selector.free | 3, 0)) }
        bench.setDescriptor(Selector.free, Descriptors.gate(selector: Selector.absentCode, offset: 0, type: 0xC, dpl: 3))
        bench.expectFault(.segmentNotPresent(UInt32(Selector.absentCode))) { try cpu.executeSystem(farPointer(.callFar, Selector.free | 3, 0)) }
        // JMP through a gate never raises the privilege level.
        bench.setDescriptor(Selector.free, Descriptors.gate(selector: Selector.code0, offset: 0, type: 0xC, dpl: 3))
        bench.expectFault(.generalProtection(UInt32(Selector.code0))) { try cpu.executeSystem(farPointer(.jmpFar, Selector.free | 3, 0)) }
        XCTAssertEqual(cpu.cpl, 3)
        XCTAssertEqual(cpu.reg32(4), Layout.ring3StackTop)
    }

    func testSixteenBitCallGateSamePrivilegePushesWords() throws {
        bench.protectedMode()
        bench.setDescriptor(Selector.free, Descriptors.gate(selector: Selector.code16, offset: 0x0001_2345, type: 4, dpl: 0))
        cpu.eip = 0x0010_0007
        try cpu.executeSystem(farPointer(.callFar, Selector.free, 0))
        XCTAssertEqual(cpu.eip, 0x2345, "a 16-bit gate has a 16-bit offset")
        XCTAssertEqual(cpu.reg32(4), Layout.ring0StackTop - 4)
        XCTAssertEqual(bench.stack(2, size: 2), [0x0007, UInt32(Selector.code0)])
    }

    func testReturnToMorePrivilegedLevelFaults() throws {
        bench.protectedMode(cpl: 3)
        try push([UInt32(Selector.code0), 0x1000])
        bench.expectFault(.generalProtection(UInt32(Selector.code0))) { try cpu.executeSystem(retf()) }
    }

    // MARK: IRET

    func testIRETSamePrivilege() throws {
        bench.protectedMode()
        try push([0x0000_3A02 | EFLAGS.ac, UInt32(Selector.code0), 0x0011_1111]) // IOPL 3, NT… IF
        state.pointee.eflags = 0x0002
        try cpu.executeSystem(Build.instruction(.iret))
        XCTAssertEqual(cpu.eip, 0x0011_1111)
        XCTAssertEqual(state.pointee.eflags, 0x0000_3A02 | EFLAGS.ac, "CPL 0 may change IF and IOPL")
        XCTAssertEqual(cpu.reg32(4), Layout.ring0StackTop)
    }

    func testIRETAtCPL3CannotChangeIFOrIOPL() throws {
        bench.protectedMode(cpl: 3)
        try push([0x0000_3202 | EFLAGS.cf, UInt32(Selector.code3), 0x0040_0000])
        state.pointee.eflags = 0x0002
        try cpu.executeSystem(Build.instruction(.iret))
        XCTAssertEqual(state.pointee.eflags, 0x0002 | EFLAGS.cf)
    }

    func testIRETToOuterLevel() throws {
        bench.protectedMode()
        try cpu.loadSegment(.es, Selector.data0)
        try push([UInt32(Selector.data3), 0x7F00, 0x0202, UInt32(Selector.code3), 0x0040_1000])
        try cpu.executeSystem(Build.instruction(.iret))
        XCTAssertEqual(cpu.cpl, 3)
        XCTAssertEqual(cpu.eip, 0x0040_1000)
        XCTAssertEqual(cpu.segment(.ss).pointee.selector, Selector.data3)
        XCTAssertEqual(cpu.reg32(4), 0x7F00)
        XCTAssertEqual(cpu.segment(.es).pointee.selector, 0)
        XCTAssertEqual(state.pointee.eflags & EFLAGS.if, EFLAGS.if)
    }

    func testIRETToVirtual8086Mode() throws {
        bench.protectedMode()
        try push([0x6666, 0x5555, 0x4444, 0x1111, 0x3000, 0xFFE0, EFLAGS.vm | 0x0202, 0x2000, 0x0100])
        try cpu.executeSystem(Build.instruction(.iret))
        XCTAssertTrue(cpu.virtual8086)
        XCTAssertEqual(cpu.cpl, 3)
        XCTAssertEqual(cpu.segment(.cs).pointee.base, 0x20000)
        XCTAssertEqual(cpu.segment(.ss).pointee.base, 0x30000)
        XCTAssertEqual(cpu.segment(.es).pointee.base, 0x11110)
        XCTAssertEqual(cpu.segment(.ds).pointee.base, 0x44440)
        XCTAssertEqual(cpu.segment(.fs).pointee.base, 0x55550)
        XCTAssertEqual(cpu.segment(.gs).pointee.base, 0x66660)
        XCTAssertEqual(cpu.reg32(4), 0xFFE0)
        XCTAssertEqual(cpu.eip, 0x0100)
        // Inside V86 mode with IOPL 0, IRET traps to the monitor.
        bench.expectFault(.generalProtection(0)) { try cpu.executeSystem(Build.instruction(.iret)) }
    }

    func testIRETChecksTheReturnSegment() throws {
        bench.protectedMode()
        try push([0x0202, UInt32(Selector.absentCode), 0])
        bench.expectFault(.segmentNotPresent(UInt32(Selector.absentCode))) { try cpu.executeSystem(Build.instruction(.iret)) }
        XCTAssertEqual(cpu.reg32(4), Layout.ring0StackTop - 12, "nothing popped")
    }
}
