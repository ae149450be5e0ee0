import XCTest
@testable import CPU

/// Near branches, CALL/RET, LOOP/JCXZ, IN/OUT and the flag instructions,
/// including the CS-limit check and the CLI/STI privilege rules.
final class IntegerControlTests: XCTestCase {
    var bench: CPUTestBench!
    let start: UInt32 = 0x10_0000
    let top: UInt32 = 0x1F_0000

    override func setUp() {
        bench = CPUTestBench()
        bench.flat32(code: [])
    }

    private func branch(_ op: Op, displacement: Int32, length: UInt8 = 2, condition: UInt8 = 0,
                        operandSize: UInt8 = 4, addressSize: UInt8 = 4) -> Instruction {
        instruction(op, Operand(.relative, size: operandSize), immediate: UInt32(bitPattern: displacement),
                    operandSize: operandSize, addressSize: addressSize, condition: condition, length: length)
    }

    func testConditionalJumpTakenAndNotTaken() {
        bench.flags = EFLAGS.fixed1 | EFLAGS.zf
        bench.execute(branch(.jcc, displacement: 0x10, condition: 0x4)) // JE
        XCTAssertEqual(bench.cpu.eip, start + 2 + 0x10)
        bench.execute(branch(.jcc, displacement: -0x20, condition: 0x5)) // JNE: falls through
        XCTAssertEqual(bench.cpu.eip, start + 0x12 + 2)
    }

    func testJumpBackwards() {
        bench.execute(branch(.jmp, displacement: -2))
        XCTAssertEqual(bench.cpu.eip, start) // JMP $
    }

    func testSixteenBitOperandSizeTruncatesTheTarget() {
        // In 32-bit code, a 66-prefixed JMP lands at (EIP + disp) AND FFFFh.
        bench.execute(branch(.jmp, displacement: 0x100, length: 4, operandSize: 2))
        XCTAssertEqual(bench.cpu.eip, (start + 4 + 0x100) & 0xFFFF)
    }

    func testRealModeJumpWrapsWithinTheSegment() {
        bench.realMode(code: [], ip: 0xFFF0)
        bench.execute(branch(.jmp, displacement: 0x20, operandSize: 2, addressSize: 2))
        XCTAssertEqual(bench.cpu.eip, 0x0012)
    }

    func testJumpBeyondTheCodeSegmentLimitFaults() {
        bench.cpu.segment(.cs).pointee.limit = 0x10_0FFF
        XCTAssertEqual(bench.execute(branch(.jmp, displacement: 0x1000)), .generalProtection(0))
        XCTAssertEqual(bench.cpu.eip, start)
    }

    func testIndirectJumpThroughRegisterAndMemory() {
        bench.cpu.setReg32(R.eax, 0x12_3456)
        bench.execute(instruction(.jmp, reg(R.eax, 4)))
        XCTAssertEqual(bench.cpu.eip, 0x12_3456)
        bench.memory.write(0x2000, size: 4, value: 0x13_0000)
        bench.execute(instruction(.jmp, mem(4), displacement: 0x2000))
        XCTAssertEqual(bench.cpu.eip, 0x13_0000)
    }

    func testCallPushesTheReturnAddressAndRetPopsIt() {
        bench.execute(branch(.call, displacement: 0x100, length: 5))
        XCTAssertEqual(bench.cpu.eip, start + 5 + 0x100)
        XCTAssertEqual(bench.cpu.reg32(R.esp), top - 4)
        XCTAssertEqual(bench.read32(top - 4), start + 5)
        bench.execute(instruction(.ret, length: 1))
        XCTAssertEqual(bench.cpu.eip, start + 5)
        XCTAssertEqual(bench.cpu.reg32(R.esp), top)
    }

    func testCallToABadTargetPushesNothing() {
        bench.cpu.segment(.cs).pointee.limit = 0x10_0FFF
        XCTAssertEqual(bench.execute(branch(.call, displacement: 0x2000, length: 5)), .generalProtection(0))
        XCTAssertEqual(bench.cpu.reg32(R.esp), top)
    }

    func testIndirectCallThroughESPUsesTheOldStackPointer() {
        bench.memory.write(top, size: 4, value: 0x14_0000)
        bench.execute(instruction(.call, mem(4), base: R.esp, segment: .ss))
        XCTAssertEqual(bench.cpu.eip, 0x14_0000)
        XCTAssertEqual(bench.read32(top - 4), start + 2)
    }

    func testRetWithImmediateReleasesArguments() {
        bench.memory.write(top, size: 4, value: 0x10_2000)
        bench.execute(instruction(.ret, imm(2), immediate: 12, length: 3))
        XCTAssertEqual(bench.cpu.eip, 0x10_2000)
        XCTAssertEqual(bench.cpu.reg32(R.esp), top + 4 + 12)
    }

    func testSixteenBitCallAndRet() {
        bench.realMode(code: [], ip: 0x0100)
        bench.execute(branch(.call, displacement: 0x50, length: 3, operandSize: 2, addressSize: 2))
        XCTAssertEqual(bench.cpu.eip, 0x0153)
        XCTAssertEqual(bench.cpu.reg16(R.esp), 0xFFEE)
        XCTAssertEqual(bench.read16(0x1_0000 + 0xFFEE), 0x0103)
        bench.execute(instruction(.ret, operandSize: 2, addressSize: 2, length: 1))
        XCTAssertEqual(bench.cpu.eip, 0x0103)
    }

    func testLoopCountsDownWithoutTouchingFlags() {
        bench.cpu.setReg32(R.ecx, 2)
        bench.flags = EFLAGS.fixed1
        bench.execute(branch(.loop, displacement: -2))
        XCTAssertEqual(bench.cpu.eip, start)
        XCTAssertEqual(bench.cpu.reg32(R.ecx), 1)
        bench.execute(branch(.loop, displacement: -2))
        XCTAssertEqual(bench.cpu.eip, start + 2) // ECX reached 0: falls through
        XCTAssertEqual(bench.cpu.reg32(R.ecx), 0)
        XCTAssertEqual(bench.flags, EFLAGS.fixed1)
    }

    func testLoopWithSixteenBitAddressSizeUsesCX() {
        bench.cpu.setReg32(R.ecx, 0x0001_0000) // CX = 0: wraps to FFFFh and jumps
        bench.execute(branch(.loop, displacement: 0x10, addressSize: 2))
        XCTAssertEqual(bench.cpu.reg32(R.ecx), 0x0001_FFFF)
        XCTAssertEqual(bench.cpu.eip, start + 2 + 0x10)
    }

    func testLoopeAndLoopne() {
        bench.cpu.setReg32(R.ecx, 5)
        bench.flags = EFLAGS.fixed1 // ZF = 0
        bench.execute(branch(.loope, displacement: 0x10))
        XCTAssertEqual(bench.cpu.eip, start + 2)
        XCTAssertEqual(bench.cpu.reg32(R.ecx), 4)
        bench.execute(branch(.loopne, displacement: 0x10))
        XCTAssertEqual(bench.cpu.eip, start + 4 + 0x10)
        XCTAssertEqual(bench.cpu.reg32(R.ecx), 3)
    }

    func testLoopToABadTargetKeepsTheCount() {
        bench.cpu.segment(.cs).pointee.limit = 0x10_0FFF
        bench.cpu.setReg32(R.ecx, 5)
        XCTAssertEqual(bench.execute(branch(.loop, displacement: 0x2000)), .generalProtection(0))
        XCTAssertEqual(bench.cpu.reg32(R.ecx), 5)
    }

    func testJcxzFollowsTheAddressSize() {
        bench.cpu.setReg32(R.ecx, 0x0001_0000)
        bench.execute(branch(.jcxz, displacement: 0x10)) // JECXZ: ECX ≠ 0
        XCTAssertEqual(bench.cpu.eip, start + 2)
        bench.execute(branch(.jcxz, displacement: 0x10, addressSize: 2)) // JCXZ: CX = 0
        XCTAssertEqual(bench.cpu.eip, start + 4 + 0x10)
    }

    func testInAndOut() {
        bench.ports.reads[0x71] = 0x42
        bench.execute(instruction(.in, reg(R.al, 1), imm(1), immediate: 0x71))
        XCTAssertEqual(bench.cpu.reg8(R.al), 0x42)
        bench.cpu.setReg16(R.edx, 0xCFC)
        bench.ports.reads[0xCFC] = 0x1237_8086
        bench.execute(instruction(.in, reg(R.eax, 4), reg(R.edx, 2)))
        XCTAssertEqual(bench.cpu.reg32(R.eax), 0x1237_8086)
        bench.cpu.setReg16(R.eax, 0xBEEF)
        bench.execute(instruction(.out, reg(R.edx, 2), reg(R.eax, 2), operandSize: 2))
        bench.execute(instruction(.out, imm(1), reg(R.al, 1), immediate: 0x80))
        XCTAssertEqual(bench.ports.writes.count, 2)
        XCTAssertEqual(bench.ports.writes[0].port, 0xCFC)
        XCTAssertEqual(bench.ports.writes[0].size, 2)
        XCTAssertEqual(bench.ports.writes[0].value, 0xBEEF)
        XCTAssertEqual(bench.ports.writes[1].port, 0x80)
        XCTAssertEqual(bench.ports.writes[1].value, 0xEF)
    }

    func testFlagInstructions() {
        bench.flags = EFLAGS.fixed1
        bench.execute(instruction(.stc))
        bench.execute(instruction(.std))
        XCTAssertEqual(bench.flags, EFLAGS.fixed1 | EFLAGS.cf | EFLAGS.df)
        bench.execute(instruction(.cmc))
        bench.execute(instruction(.cld))
        XCTAssertEqual(bench.flags, EFLAGS.fixed1)
        bench.execute(instruction(.cmc))
        bench.execute(instruction(.clc))
        XCTAssertEqual(bench.flags, EFLAGS.fixed1)
    }

    func testStiOpensTheInterruptShadowOnlyWhenIFWasClear() {
        bench.flags = EFLAGS.fixed1
        bench.execute(instruction(.sti))
        XCTAssertNotEqual(bench.flags & EFLAGS.if, 0)
        XCTAssertTrue(bench.state.pointee.interruptShadow)
        bench.state.pointee.interruptShadow = false
        bench.execute(instruction(.sti))
        XCTAssertFalse(bench.state.pointee.interruptShadow)
        bench.execute(instruction(.cli))
        XCTAssertEqual(bench.flags & EFLAGS.if, 0)
    }

    func testCliAndStiNeedCPLAtMostIOPL() {
        bench.flat32(code: [], cpl: 3)
        bench.flags = EFLAGS.fixed1 | EFLAGS.if
        XCTAssertEqual(bench.execute(instruction(.cli)), .generalProtection(0))
        XCTAssertNotEqual(bench.flags & EFLAGS.if, 0)
        bench.flags |= EFLAGS.iopl
        XCTAssertNil(bench.execute(instruction(.cli)))
        XCTAssertEqual(bench.flags & EFLAGS.if, 0)
    }

    func testProtectedModeVirtualInterruptsAtCPL3() {
        bench.flat32(code: [], cpl: 3)
        bench.state.pointee.cr4 |= 2 // PVI
        bench.flags = EFLAGS.fixed1 | EFLAGS.if | EFLAGS.vif
        bench.execute(instruction(.cli))
        XCTAssertEqual(bench.flags, EFLAGS.fixed1 | EFLAGS.if) // VIF cleared, IF kept
        bench.execute(instruction(.sti))
        XCTAssertEqual(bench.flags, EFLAGS.fixed1 | EFLAGS.if | EFLAGS.vif)
        // A pending virtual interrupt makes STI fault.
        bench.flags = EFLAGS.fixed1 | EFLAGS.vip
        XCTAssertEqual(bench.execute(instruction(.sti)), .generalProtection(0))
    }

    func testVirtual8086ModeCliFaultsBelowIOPL3() {
        bench.flat32(code: [], cpl: 3)
        bench.flags = EFLAGS.fixed1 | EFLAGS.vm | EFLAGS.if
        XCTAssertEqual(bench.execute(instruction(.cli)), .generalProtection(0))
        bench.flags |= EFLAGS.iopl
        XCTAssertNil(bench.execute(instruction(.cli)))
        XCTAssertEqual(bench.flags & EFLAGS.if, 0)
    }

    func testRealModeIgnoresIOPLForCli() {
        bench.realMode(code: [])
        bench.flags = EFLAGS.fixed1 | EFLAGS.if
        XCTAssertNil(bench.execute(instruction(.cli, operandSize: 2, addressSize: 2)))
        XCTAssertEqual(bench.flags & EFLAGS.if, 0)
    }
}
