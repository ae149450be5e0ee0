import XCTest
@testable import CPU
@testable import MMU

/// Interrupt and exception delivery against Intel SDM vol. 3 chapter 6 and
/// the INT n pseudo-code of vol. 2: stack frames (figures 6-4 and the
/// virtual-8086 frame), gate types, privilege checks, error codes with
/// EXT/IDT bits (6.13), and the double-fault table (table 6-5).
final class SystemInterruptTests: XCTestCase {
    let bench = CPUTestBench()
    var cpu: CPU { bench.cpu }
    var state: UnsafeMutablePointer<CPUState> { bench.state }
    var tripleFaults = 0

    override func setUp() {
        cpu.onTripleFault = { [unowned self] in self.tripleFaults += 1 }
    }

    /// IDT gate `vector` → `selector`:`Layout.handler + vector`.
    func gate(_ vector: UInt8, type: UInt8 = 0xE, dpl: UInt8 = 0, selector: UInt16 = Selector.code0, present: Bool = true) {
        bench.setIDTGate(vector, Descriptors.gate(selector: selector, offset: Layout.handler + UInt32(vector),
                                                  type: type, dpl: dpl, present: present))
    }

    // MARK: Real mode

    func testRealModeInterruptThroughTheIVT() {
        bench.realMode(code: [], segment: 0x1000, ip: 0x0105)
        bench.memory.write(0x21 * 4, size: 4, value: 0x1234_5678) // 1234:5678
        state.pointee.eflags = 0x0302 | EFLAGS.ac // IF, TF, AC
        cpu.deliverExternalInterrupt(0x21)
        XCTAssertEqual(cpu.segment(.cs).pointee.selector, 0x1234)
        XCTAssertEqual(cpu.segment(.cs).pointee.base, 0x12340)
        XCTAssertEqual(cpu.eip, 0x5678)
        XCTAssertEqual(cpu.reg16(4), 0xFFEA)
        XCTAssertEqual(bench.stack(3, size: 2), [0x0105, 0x1000, 0x0302], "IP, CS, FLAGS")
        XCTAssertEqual(state.pointee.eflags & (EFLAGS.if | EFLAGS.tf | EFLAGS.ac), 0)
    }

    func testRealModeExceptionsPushNoErrorCode() {
        bench.realMode(code: [])
        bench.memory.write(13 * 4, size: 4, value: 0xF000_1111)
        cpu.deliverException(.generalProtection(0), eip: 0x0100)
        XCTAssertEqual(cpu.reg16(4), 0xFFF0 - 6)
        XCTAssertEqual(cpu.eip, 0x1111)
    }

    func testRealModeIDTLimitZeroTripleFaults() {
        bench.realMode(code: [])
        state.pointee.idtr = DescriptorTableRegister(base: 0, limit: 0)
        state.pointee.eflags |= EFLAGS.if
        cpu.deliverException(.invalidOpcode, eip: 0x100)
        XCTAssertEqual(tripleFaults, 1)
        XCTAssertTrue(state.pointee.halted)
        XCTAssertEqual(state.pointee.eflags & EFLAGS.if, 0)
        XCTAssertTrue(cpu.stopRequested)
        XCTAssertEqual(bench.exceptions.map(\.vector), [13, 13, 8, 13],
                       "#UD → #GP (IDT limit) → #GP → #DF → #GP → shutdown: each fault and the #DF are reported")
    }

    // MARK: Protected mode, same privilege

    func testInterruptGateSamePrivilege() {
        bench.protectedMode()
        gate(0x30)
        state.pointee.eflags = 0x0202
        cpu.eip = 0x0010_0123
        cpu.deliverExternalInterrupt(0x30)
        XCTAssertEqual(cpu.eip, Layout.handler + 0x30)
        XCTAssertEqual(cpu.reg32(4), Layout.ring0StackTop - 12)
        XCTAssertEqual(bench.stack(3), [0x0010_0123, UInt32(Selector.code0), 0x0202], "EIP, CS, EFLAGS")
        XCTAssertEqual(state.pointee.eflags & EFLAGS.if, 0, "an interrupt gate clears IF")
    }

    func testTrapGateKeepsIF() {
        bench.protectedMode()
        gate(0x31, type: 0xF)
        state.pointee.eflags = 0x0302
        cpu.deliverExternalInterrupt(0x31)
        XCTAssertEqual(state.pointee.eflags & (EFLAGS.if | EFLAGS.tf), EFLAGS.if, "IF kept, TF cleared")
    }

    func testSixteenBitGatePushesWords() {
        bench.protectedMode()
        bench.setIDTGate(13, Descriptors.gate(selector: Selector.code16, offset: 0x1234, type: 6, dpl: 0))
        state.pointee.eflags = 0x0202
        cpu.deliverException(.generalProtection(0x28), eip: 0x5678)
        XCTAssertEqual(cpu.reg32(4), Layout.ring0StackTop - 8)
        XCTAssertEqual(bench.stack(4, size: 2), [0x28, 0x5678, UInt32(Selector.code0), 0x0202], "error code, IP, CS, FLAGS")
        XCTAssertEqual(cpu.eip, 0x1234)
        XCTAssertFalse(cpu.segment(.cs).pointee.is32Bit)
    }

    func testErrorCodePushedForGP() {
        bench.protectedMode()
        gate(13)
        cpu.deliverException(.generalProtection(0x28), eip: 0x0010_0000)
        XCTAssertEqual(bench.stack(2), [0x28, 0x0010_0000], "error code on top, then EIP")
    }

    // MARK: Privilege change

    func testInterruptFromCPL3SwitchesToTheTSSStack() {
        bench.protectedMode(cpl: 3)
        gate(0x30)
        state.pointee.eflags = 0x0202
        cpu.eip = 0x0040_0000
        cpu.deliverExternalInterrupt(0x30)
        XCTAssertEqual(cpu.cpl, 0)
        XCTAssertEqual(cpu.segment(.cs).pointee.selector, Selector.code0)
        XCTAssertEqual(cpu.segment(.ss).pointee.selector, Selector.data0, "SS0 from the TSS")
        XCTAssertEqual(cpu.reg32(4), Layout.ring0StackTop - 20)
        XCTAssertEqual(bench.stack(5), [0x0040_0000, UInt32(Selector.code3), 0x0202, Layout.ring3StackTop, UInt32(Selector.data3)],
                       "EIP, CS, EFLAGS, ESP, SS")
        XCTAssertEqual(cpu.segment(.ds).pointee.selector, Selector.data3, "data segments are left alone")
    }

    func testSoftwareInterruptGateDPLCheck() throws {
        bench.protectedMode(cpl: 3)
        gate(0x30, dpl: 0)
        bench.expectFault(.generalProtection(0x30 * 8 + 2)) {
            try cpu.executeSystem(Build.instruction(.int, Operand(.immediate, size: 1), immediate: 0x30))
        }
        XCTAssertEqual(cpu.cpl, 3, "nothing changed")
        gate(0x30, dpl: 3)
        cpu.eip = 0x0040_0002 // after the INT instruction
        try cpu.executeSystem(Build.instruction(.int, Operand(.immediate, size: 1), immediate: 0x30))
        XCTAssertEqual(cpu.cpl, 0)
        XCTAssertEqual(bench.stack(1), [0x0040_0002], "INT n is a trap: the next instruction is saved")
        // Hardware interrupts ignore the gate's DPL.
        bench.protectedMode(cpl: 3)
        gate(0x30, dpl: 0)
        cpu.deliverExternalInterrupt(0x30)
        XCTAssertEqual(cpu.cpl, 0)
    }

    func testINTOOnlyWhenOverflow() throws {
        bench.protectedMode()
        gate(4, type: 0xF, dpl: 0)
        cpu.eip = 0x0010_0001
        state.pointee.eflags = 0x0002
        try cpu.executeSystem(Build.instruction(.into))
        XCTAssertEqual(cpu.eip, 0x0010_0001)
        state.pointee.eflags = 0x0002 | EFLAGS.of
        try cpu.executeSystem(Build.instruction(.into))
        XCTAssertEqual(cpu.eip, Layout.handler + 4)
        XCTAssertEqual(bench.stack(1), [0x0010_0001])
    }

    // MARK: Faults during delivery

    func testEXTBitForFaultsWhileDeliveringAnExternalInterrupt() {
        bench.protectedMode()
        gate(13)
        state.pointee.idtr.limit = 0x20 * 8 - 1
        cpu.deliverExternalInterrupt(0x40) // past the IDT limit
        XCTAssertEqual(cpu.eip, Layout.handler + 13)
        XCTAssertEqual(bench.stack(1), [0x40 * 8 + 2 + 1], "#GP(vector·8 + IDT + EXT)")
    }

    func testGateNotPresentIsNP() {
        bench.protectedMode()
        gate(11)
        gate(0x30, present: false)
        cpu.deliverExternalInterrupt(0x30)
        XCTAssertEqual(cpu.eip, Layout.handler + 11)
        XCTAssertEqual(bench.stack(1), [0x30 * 8 + 2 + 1])
    }

    func testContributoryDuringContributoryIsDoubleFault() {
        bench.protectedMode()
        gate(8)
        gate(13, present: false)
        cpu.deliverException(.generalProtection(0), eip: 0x0010_0000)
        XCTAssertEqual(cpu.eip, Layout.handler + 8)
        XCTAssertEqual(bench.stack(2), [0, 0x0010_0000], "#DF pushes error code 0")
        XCTAssertEqual(bench.exceptions.map(\.vector), [11, 8])
    }

    func testPageFaultThenContributoryIsDoubleFault() {
        bench.protectedMode()
        gate(8)
        gate(14, selector: Selector.absentCode) // #NP while delivering #PF
        cpu.deliverException(.pageFault(2), eip: 0x0010_0000)
        XCTAssertEqual(cpu.eip, Layout.handler + 8)
    }

    func testBenignThenContributoryIsSerial() {
        bench.protectedMode()
        gate(8)
        gate(11)
        gate(1, present: false)
        cpu.deliverException(.debug, eip: 0x0010_0000)
        XCTAssertEqual(cpu.eip, Layout.handler + 11, "#NP delivered on its own, no #DF")
        XCTAssertEqual(bench.stack(1), [1 * 8 + 2 + 1])
    }

    /// SDM table 6-5, cell by cell.
    func testDoubleFaultTable() {
        XCTAssertFalse(CPU.combinesToDoubleFault(first: 13, second: 14))
        XCTAssertTrue(CPU.combinesToDoubleFault(first: 14, second: 14))
        XCTAssertTrue(CPU.combinesToDoubleFault(first: 14, second: 10))
        XCTAssertTrue(CPU.combinesToDoubleFault(first: 0, second: 12))
        XCTAssertFalse(CPU.combinesToDoubleFault(first: 6, second: 13))
        XCTAssertFalse(CPU.combinesToDoubleFault(first: 14, second: 6))
    }

    func testTripleFaultInProtectedMode() {
        bench.protectedMode()
        gate(13, present: false)
        gate(8, present: false)
        state.pointee.eflags = 0x0202
        cpu.deliverException(.generalProtection(0), eip: 0x0010_0000)
        XCTAssertEqual(tripleFaults, 1)
        XCTAssertTrue(state.pointee.halted)
        XCTAssertEqual(state.pointee.eflags & EFLAGS.if, 0)
        XCTAssertEqual(cpu.run(10), 0, "a shut-down processor runs nothing")
    }

    // MARK: Virtual-8086 mode

    func enterVirtual8086() {
        bench.protectedMode()
        state.pointee.eflags = 0x0002 | EFLAGS.vm | EFLAGS.if
        state.pointee.cpl = 3
        for (s, sel) in zip([SegmentRegister.es, .cs, .ss, .ds, .fs, .gs], [0x1111, 0x2000, 0x3000, 0x4444, 0x5555, 0x6666] as [UInt16]) {
            cpu.loadVirtual8086Segment(s, sel)
        }
        cpu.setReg32(4, 0xFFF0)
        cpu.eip = 0x0100
    }

    func testInterruptFromVirtual8086Mode() {
        enterVirtual8086()
        gate(0x30, dpl: 3)
        cpu.deliverExternalInterrupt(0x30)
        XCTAssertEqual(cpu.cpl, 0)
        XCTAssertEqual(state.pointee.eflags & EFLAGS.vm, 0)
        XCTAssertEqual(cpu.reg32(4), Layout.ring0StackTop - 36)
        XCTAssertEqual(bench.stack(9), [0x0100, 0x2000, 0x0002 | EFLAGS.vm | EFLAGS.if, 0xFFF0, 0x3000,
                                        0x1111, 0x4444, 0x5555, 0x6666],
                       "EIP, CS, EFLAGS, ESP, SS, ES, DS, FS, GS")
        for s in [SegmentRegister.es, .ds, .fs, .gs] {
            XCTAssertEqual(cpu.segment(s).pointee.selector, 0)
            XCTAssertFalse(cpu.segment(s).pointee.present)
        }
    }

    func testVirtual8086HandlerMustBeRingZero() {
        enterVirtual8086()
        bench.setDescriptor(Selector.free, Descriptors.segment(base: 0, limit: 0xFFFFF, access: 0xBA)) // DPL 1 code
        gate(13)
        gate(0x30, selector: Selector.free)
        cpu.deliverExternalInterrupt(0x30)
        XCTAssertEqual(cpu.eip, Layout.handler + 13)
        XCTAssertEqual(bench.stack(1), [UInt32(Selector.free) | 1])
    }

    func testINTnInVirtual8086NeedsIOPL3() throws {
        enterVirtual8086()
        gate(0x21, dpl: 3)
        bench.expectFault(.generalProtection(0)) {
            try cpu.executeSystem(Build.instruction(.int, Operand(.immediate, size: 1), immediate: 0x21))
        }
        // INT3 is not IOPL-sensitive.
        gate(3, dpl: 3)
        try cpu.executeSystem(Build.instruction(.int3))
        XCTAssertEqual(cpu.eip, Layout.handler + 3)
    }
}
