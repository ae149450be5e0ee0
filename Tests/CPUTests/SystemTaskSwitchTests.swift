import XCTest
@testable import CPU
@testable import MMU

/// Hardware task switches against Intel SDM vol. 3 chapter 7: the TSS
/// layouts (figures 7-2 and 7-11), busy bits and NT/back link for JMP,
/// CALL, interrupts and IRET (table 7-2), and faults in the new task
/// (table 7-1).
final class SystemTaskSwitchTests: XCTestCase {
    let bench = CPUTestBench()
    var cpu: CPU { bench.cpu }
    var state: UnsafeMutablePointer<CPUState> { bench.state }
    let newTSS = Selector.free

    /// A second 32-bit TSS at Layout.otherTSS, available, for a task that
    /// starts at 0x20_0000 with EAX…EDI = 0x11…0x88 and ESP = 0x7000.
    override func setUp() {
        bench.protectedMode()
        bench.setDescriptor(newTSS, Descriptors.segment(base: Layout.otherTSS, limit: 0x67, access: 0x89, flags: 0))
        let t = Layout.otherTSS
        bench.write32(t + 32, 0x0020_0000)  // EIP
        bench.write32(t + 36, 0x0000_0002)  // EFLAGS
        for r in 0..<8 { bench.write32(t + 40 + UInt32(4 * r), UInt32(r + 1) * 0x11) }
        bench.write32(t + 56, 0x7000)       // ESP
        for (k, sel) in [Selector.data0, Selector.code0, Selector.data0, Selector.data0, Selector.data0, Selector.data0].enumerated() {
            bench.write32(t + 72 + UInt32(4 * k), UInt32(sel))
        }
        cpu.setReg32(0, 0xAAAA_AAAA)
        cpu.eip = 0x0010_0007
        state.pointee.cr0 &= ~UInt64(CR0.ts)
    }

    func accessByte(_ selector: UInt16) -> UInt32 { bench.descriptorHigh(selector) >> 8 & 0xFF }

    func farPointer(_ op: Op, _ selector: UInt16) -> Instruction {
        Build.instruction(op, Operand(.farPointer, size: 6), immediate: 0, immediate2: UInt32(selector))
    }

    func testJumpToTSS() throws {
        try cpu.executeSystem(farPointer(.jmpFar, newTSS))
        XCTAssertEqual(state.pointee.tr.selector, newTSS)
        XCTAssertEqual(accessByte(newTSS), 0x8B, "new task busy")
        XCTAssertEqual(accessByte(Selector.tss), 0x89, "old task no longer busy after a JMP")
        XCTAssertEqual(bench.read32(Layout.tss + 32), 0x0010_0007, "old EIP saved")
        XCTAssertEqual(bench.read32(Layout.tss + 40), 0xAAAA_AAAA, "old EAX saved")
        XCTAssertEqual(cpu.eip, 0x0020_0000)
        XCTAssertEqual(cpu.reg32(0), 0x11)
        XCTAssertEqual(cpu.reg32(7), 0x88)
        XCTAssertEqual(cpu.reg32(4), 0x7000)
        XCTAssertEqual(state.pointee.eflags & EFLAGS.nt, 0)
        XCTAssertEqual(bench.read16(Layout.otherTSS), 0, "no back link for a JMP")
        XCTAssertNotEqual(state.pointee.cr0 & UInt64(CR0.ts), 0, "CR0.TS set by every task switch")
        XCTAssertTrue(cpu.stopRequested)
    }

    func testCallNestsAndIRETReturns() throws {
        try cpu.executeSystem(farPointer(.callFar, newTSS))
        XCTAssertEqual(accessByte(newTSS), 0x8B)
        XCTAssertEqual(accessByte(Selector.tss), 0x8B, "the caller stays busy")
        XCTAssertEqual(bench.read16(Layout.otherTSS), UInt32(Selector.tss), "back link")
        XCTAssertEqual(state.pointee.eflags & EFLAGS.nt, EFLAGS.nt)

        cpu.setReg32(0, 0x1234)
        cpu.eip = 0x0020_0001 // after the nested task's IRET
        try cpu.executeSystem(Build.instruction(.iret))
        XCTAssertEqual(state.pointee.tr.selector, Selector.tss)
        XCTAssertEqual(cpu.eip, 0x0010_0007)
        XCTAssertEqual(cpu.reg32(0), 0xAAAA_AAAA)
        XCTAssertEqual(accessByte(newTSS), 0x89, "the nested task is no longer busy")
        XCTAssertEqual(accessByte(Selector.tss), 0x8B)
        XCTAssertEqual(bench.read32(Layout.otherTSS + 36) & EFLAGS.nt, 0, "NT cleared in the saved image")
        XCTAssertEqual(bench.read32(Layout.otherTSS + 32), 0x0020_0001)
        XCTAssertEqual(bench.read32(Layout.otherTSS + 40), 0x1234)
    }

    func testBusyTargetAndShortTSS() {
        bench.expectFault(.generalProtection(UInt32(Selector.tss))) { try cpu.executeSystem(farPointer(.jmpFar, Selector.tss)) }
        bench.setDescriptor(newTSS, Descriptors.segment(base: Layout.otherTSS, limit: 0x60, access: 0x89, flags: 0))
        bench.expectFault(.invalidTSS(UInt32(newTSS))) { try cpu.executeSystem(farPointer(.jmpFar, newTSS)) }
        XCTAssertEqual(state.pointee.tr.selector, Selector.tss, "no switch happened")
    }

    func testTaskGateInTheIDTPushesTheErrorCode() {
        bench.setIDTGate(13, Descriptors.gate(selector: newTSS, offset: 0, type: 5, dpl: 0))
        cpu.deliverException(.generalProtection(0x1234), eip: 0x0010_0000)
        XCTAssertEqual(state.pointee.tr.selector, newTSS)
        XCTAssertEqual(cpu.eip, 0x0020_0000)
        XCTAssertEqual(cpu.reg32(4), 0x7000 - 4)
        XCTAssertEqual(bench.stack(1), [0x1234], "error code on the new task's stack")
        XCTAssertEqual(bench.read32(Layout.tss + 32), 0x0010_0000, "the faulting EIP saved in the old task")
        XCTAssertEqual(state.pointee.eflags & EFLAGS.nt, EFLAGS.nt)
        XCTAssertEqual(bench.read16(Layout.otherTSS), UInt32(Selector.tss))
    }

    func testTaskGateThroughGDT() throws {
        bench.setDescriptor(Selector.free + 8, Descriptors.gate(selector: newTSS, offset: 0, type: 5, dpl: 0))
        try cpu.executeSystem(farPointer(.callFar, Selector.free + 8))
        XCTAssertEqual(state.pointee.tr.selector, newTSS)
        XCTAssertEqual(bench.read16(Layout.otherTSS), UInt32(Selector.tss))
    }

    func testBadSegmentFaultsInTheNewTask() {
        bench.write32(Layout.otherTSS + 76, UInt32(Selector.data0)) // CS = a data segment
        bench.setIDTGate(10, Descriptors.gate(selector: Selector.code0, offset: Layout.handler, type: 0xE, dpl: 0))
        cpu.eip = 0x0010_0007
        XCTAssertNoThrow(try cpu.executeSystem(farPointer(.jmpFar, newTSS)), "the fault belongs to the new task")
        XCTAssertEqual(state.pointee.tr.selector, newTSS, "the switch is committed")
        XCTAssertEqual(cpu.eip, Layout.handler)
        XCTAssertEqual(bench.stack(2), [UInt32(Selector.data0), 0x0020_0000], "#TS(CS selector) at the new task's first instruction")
    }

    func testSixteenBitTSS() throws {
        let t: UInt32 = 0x3400
        bench.setDescriptor(newTSS, Descriptors.segment(base: t, limit: 0x2B, access: 0x81, flags: 0))
        bench.memory.write(t + 14, size: 2, value: 0x0123)              // IP
        bench.memory.write(t + 16, size: 2, value: 0x0002)              // FLAGS
        bench.memory.write(t + 18, size: 2, value: 0xBEEF)              // AX
        bench.memory.write(t + 26, size: 2, value: 0x6000)              // SP
        for (k, sel) in [Selector.data16, Selector.code16, Selector.data16, Selector.data16].enumerated() {
            bench.memory.write(t + 34 + UInt32(2 * k), size: 2, value: UInt32(sel)) // ES, CS, SS, DS
        }
        try cpu.executeSystem(farPointer(.jmpFar, newTSS))
        XCTAssertEqual(cpu.eip, 0x0123)
        XCTAssertEqual(cpu.reg32(0), 0xAAAA_BEEF, "a 16-bit TSS loads the low words")
        XCTAssertEqual(cpu.segment(.cs).pointee.selector, Selector.code16)
        XCTAssertEqual(accessByte(newTSS), 0x83, "busy 16-bit TSS")
    }

    func testLTRMarksBusy() throws {
        cpu.setReg32(0, UInt32(newTSS))
        try cpu.executeSystem(Build.instruction(.ltr, Build.register(0, 2)))
        XCTAssertEqual(state.pointee.tr.selector, newTSS)
        XCTAssertEqual(accessByte(newTSS), 0x8B)
        bench.expectFault(.generalProtection(UInt32(newTSS)), "already busy") {
            try cpu.executeSystem(Build.instruction(.ltr, Build.register(0, 2)))
        }
        var str = Build.instruction(.str, Build.register(3, 4))
        str.operandSize = 4
        try cpu.executeSystem(str)
        XCTAssertEqual(cpu.reg32(3), UInt32(newTSS))
    }
}
