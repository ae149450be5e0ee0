import XCTest
@testable import CPU

/// ADD … XOR, INC/DEC, NEG, NOT, CBW/CWD, SALC: results and the status
/// flags the SDM defines for them.
final class IntegerArithmeticTests: XCTestCase {
    var bench: CPUTestBench!

    override func setUp() {
        bench = CPUTestBench()
        bench.flat32(code: [])
    }

    func testAddSetsCarryZeroAuxiliaryOnByteWrap() {
        // 0xFF + 0x01 = 0x00: CF (carry out), ZF, AF (carry out of bit 3), PF (even), OF clear.
        bench.cpu.setReg8(R.al, 0xFF)
        bench.cpu.setReg8(R.bl, 0x01)
        bench.execute(instruction(.add, reg(R.al, 1), reg(R.bl, 1)))
        XCTAssertEqual(bench.cpu.reg8(R.al), 0)
        XCTAssertEqual(bench.statusFlags, "001111")
    }

    func testAddSignedOverflow() {
        // 0x7FFFFFFF + 1: signed overflow into the sign bit; no carry.
        bench.cpu.setReg32(R.eax, 0x7FFF_FFFF)
        bench.execute(instruction(.add, reg(R.eax, 4), imm(4), immediate: 1))
        XCTAssertEqual(bench.cpu.reg32(R.eax), 0x8000_0000)
        // OF, SF; AF from the carry out of bit 3; PF from the low byte 00.
        XCTAssertEqual(bench.statusFlags, "110110")
    }

    func testAdcAndSbbUseTheCarry() {
        bench.cpu.setReg16(R.eax, 0xFFFF)
        bench.flags |= EFLAGS.cf
        bench.execute(instruction(.adc, reg(R.eax, 2), imm(2), immediate: 0, operandSize: 2))
        XCTAssertEqual(bench.cpu.reg16(R.eax), 0)
        XCTAssertNotEqual(bench.flags & EFLAGS.cf, 0)
        XCTAssertNotEqual(bench.flags & EFLAGS.zf, 0)

        // 0 − 0 − borrow = 0xFFFF with a borrow out.
        bench.execute(instruction(.sbb, reg(R.eax, 2), imm(2), immediate: 0, operandSize: 2))
        XCTAssertEqual(bench.cpu.reg16(R.eax), 0xFFFF)
        XCTAssertNotEqual(bench.flags & EFLAGS.cf, 0)
        XCTAssertNotEqual(bench.flags & EFLAGS.sf, 0)
    }

    func testSubAndCmpAgreeAndCmpDoesNotWrite() {
        bench.cpu.setReg32(R.eax, 5)
        bench.cpu.setReg32(R.ebx, 7)
        bench.execute(instruction(.cmp, reg(R.eax, 4), reg(R.ebx, 4)))
        let afterCmp = bench.flags
        XCTAssertEqual(bench.cpu.reg32(R.eax), 5)
        bench.execute(instruction(.sub, reg(R.eax, 4), reg(R.ebx, 4)))
        XCTAssertEqual(bench.cpu.reg32(R.eax), 0xFFFF_FFFE)
        XCTAssertEqual(afterCmp, bench.flags)
        // 5 − 7: borrow, negative, no signed overflow, borrow from bit 4 (5 < 7 in the low nibble).
        XCTAssertEqual(bench.statusFlags, "010101")
    }

    func testSignExtendedImmediateIsTruncatedToTheOperand() {
        // ADD AX, −1 (83 /0 with opsize 16): the immediate arrives as 0xFFFF.
        bench.cpu.setReg32(R.eax, 0x1234_0001)
        bench.execute(instruction(.add, reg(R.eax, 2), imm(2), immediate: 0xFFFF_FFFF, operandSize: 2))
        XCTAssertEqual(bench.cpu.reg32(R.eax), 0x1234_0000)
        XCTAssertNotEqual(bench.flags & EFLAGS.cf, 0)
        XCTAssertNotEqual(bench.flags & EFLAGS.zf, 0)
    }

    func testLogicClearsCarryOverflowAndAuxiliary() {
        bench.flags |= EFLAGS.cf | EFLAGS.of | EFLAGS.af
        bench.cpu.setReg8(R.al, 0xF0)
        bench.execute(instruction(.and, reg(R.al, 1), imm(1), immediate: 0x8F))
        XCTAssertEqual(bench.cpu.reg8(R.al), 0x80)
        XCTAssertEqual(bench.statusFlags, "010000") // SF only; 0x80 has odd parity
        bench.execute(instruction(.xor, reg(R.al, 1), reg(R.al, 1)))
        XCTAssertEqual(bench.statusFlags, "001010")
        bench.cpu.setReg8(R.al, 0x03)
        bench.execute(instruction(.test, reg(R.al, 1), imm(1), immediate: 0x01))
        XCTAssertEqual(bench.cpu.reg8(R.al), 0x03)
        XCTAssertEqual(bench.statusFlags, "000000")
    }

    func testIncAndDecLeaveCarryAlone() {
        bench.flags |= EFLAGS.cf
        bench.cpu.setReg8(R.bl, 0xFF)
        bench.execute(instruction(.inc, reg(R.bl, 1)))
        XCTAssertEqual(bench.cpu.reg8(R.bl), 0)
        XCTAssertEqual(bench.statusFlags, "001111") // ZF, AF, PF; CF kept
        bench.flags &= ~EFLAGS.cf
        bench.cpu.setReg16(R.ecx, 0x8000)
        bench.execute(instruction(.dec, reg(R.ecx, 2), operandSize: 2))
        XCTAssertEqual(bench.cpu.reg16(R.ecx), 0x7FFF)
        XCTAssertEqual(bench.statusFlags, "100110") // OF, AF, PF(0xFF); CF still clear
    }

    func testNegSetsCarryUnlessZero() {
        bench.cpu.setReg32(R.edx, 1)
        bench.execute(instruction(.neg, reg(R.edx, 4)))
        XCTAssertEqual(bench.cpu.reg32(R.edx), 0xFFFF_FFFF)
        XCTAssertNotEqual(bench.flags & EFLAGS.cf, 0)
        bench.cpu.setReg32(R.edx, 0)
        bench.execute(instruction(.neg, reg(R.edx, 4)))
        XCTAssertEqual(bench.flags & EFLAGS.cf, 0)
        XCTAssertNotEqual(bench.flags & EFLAGS.zf, 0)
        // NEG of the most negative value overflows and stays put.
        bench.cpu.setReg8(R.dl, 0x80)
        bench.execute(instruction(.neg, reg(R.dl, 1)))
        XCTAssertEqual(bench.cpu.reg8(R.dl), 0x80)
        XCTAssertNotEqual(bench.flags & EFLAGS.of, 0)
    }

    func testNotChangesNoFlags() {
        bench.flags = 0x8D7 // a mix of status flags
        bench.cpu.setReg16(R.ebx, 0x00FF)
        bench.execute(instruction(.not, reg(R.ebx, 2), operandSize: 2))
        XCTAssertEqual(bench.cpu.reg16(R.ebx), 0xFF00)
        XCTAssertEqual(bench.flags, 0x8D7)
    }

    func testMemoryDestination() {
        bench.memory.write(0x2000, size: 4, value: 0x0000_00FF)
        bench.cpu.setReg32(R.ebx, 0x1000)
        bench.execute(instruction(.add, mem(4), imm(4), immediate: 1, base: R.ebx, displacement: 0x1000))
        XCTAssertEqual(bench.read32(0x2000), 0x100)
    }

    func testFaultingWriteLeavesFlagsAndMemoryUnchanged() {
        // A read-only data segment: the read succeeds, the write raises #GP(0).
        bench.cpu.segment(.ds).pointee.attributes = 0xC091
        bench.memory.write(0x2000, size: 4, value: 7)
        bench.flags = EFLAGS.fixed1 | EFLAGS.zf
        let fault = bench.execute(instruction(.sub, mem(4), imm(4), immediate: 7, displacement: 0x2000))
        XCTAssertEqual(fault, .generalProtection(0))
        XCTAssertEqual(bench.read32(0x2000), 7)
        XCTAssertEqual(bench.flags, EFLAGS.fixed1 | EFLAGS.zf)
        // CMP only reads: allowed.
        XCTAssertNil(bench.execute(instruction(.cmp, mem(4), imm(4), immediate: 8, displacement: 0x2000)))
        XCTAssertNotEqual(bench.flags & EFLAGS.cf, 0)
    }

    func testSignExtensionOfTheAccumulator() {
        bench.cpu.setReg32(R.eax, 0x1234_5680)
        bench.execute(instruction(.cbw, operandSize: 2))
        XCTAssertEqual(bench.cpu.reg32(R.eax), 0x1234_FF80)
        bench.execute(instruction(.cbw, operandSize: 4)) // CWDE
        XCTAssertEqual(bench.cpu.reg32(R.eax), 0xFFFF_FF80)
        bench.cpu.setReg32(R.edx, 0x5555_5555)
        bench.execute(instruction(.cwd, operandSize: 2))
        XCTAssertEqual(bench.cpu.reg32(R.edx), 0x5555_FFFF)
        bench.cpu.setReg32(R.eax, 0x7FFF_FFFF)
        bench.execute(instruction(.cwd, operandSize: 4)) // CDQ
        XCTAssertEqual(bench.cpu.reg32(R.edx), 0)
    }

    func testSalcCopiesCarryIntoAL() {
        bench.flags |= EFLAGS.cf
        bench.execute(instruction(.salc))
        XCTAssertEqual(bench.cpu.reg8(R.al), 0xFF)
        bench.flags &= ~EFLAGS.cf
        bench.execute(instruction(.salc))
        XCTAssertEqual(bench.cpu.reg8(R.al), 0)
    }
}
