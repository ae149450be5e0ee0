import XCTest
@testable import CPU

/// MUL, IMUL (all three forms), DIV, IDIV: products, quotients and
/// remainders, CF/OF, and #DE for a zero divisor or a quotient that does
/// not fit (SDM vol. 2 "DIV", "IDIV" tables).
final class IntegerMultiplyDivideTests: XCTestCase {
    var bench: CPUTestBench!

    override func setUp() {
        bench = CPUTestBench()
        bench.flat32(code: [])
    }

    func testMulByteFillsAXAndFlagsAHNonZero() {
        bench.cpu.setReg8(R.al, 0x80)
        bench.cpu.setReg8(R.bl, 0x02)
        bench.execute(instruction(.mul, reg(R.bl, 1)))
        XCTAssertEqual(bench.cpu.reg16(R.eax), 0x0100)
        XCTAssertNotEqual(bench.flags & EFLAGS.cf, 0)
        XCTAssertNotEqual(bench.flags & EFLAGS.of, 0)

        bench.cpu.setReg8(R.al, 0x10)
        bench.execute(instruction(.mul, reg(R.bl, 1)))
        XCTAssertEqual(bench.cpu.reg16(R.eax), 0x0020)
        XCTAssertEqual(bench.flags & (EFLAGS.cf | EFLAGS.of), 0)
    }

    func testMulWordAndDoublewordUseTheDXPair() {
        bench.cpu.setReg32(R.eax, 0xAAAA_FFFF)
        bench.cpu.setReg32(R.edx, 0xBBBB_0000)
        bench.cpu.setReg16(R.ecx, 0xFFFF)
        bench.execute(instruction(.mul, reg(R.ecx, 2), operandSize: 2))
        // 0xFFFF² = 0xFFFE0001; the upper halves of EAX/EDX stay.
        XCTAssertEqual(bench.cpu.reg32(R.eax), 0xAAAA_0001)
        XCTAssertEqual(bench.cpu.reg32(R.edx), 0xBBBB_FFFE)

        bench.cpu.setReg32(R.eax, 0xFFFF_FFFF)
        bench.cpu.setReg32(R.ecx, 0xFFFF_FFFF)
        bench.execute(instruction(.mul, reg(R.ecx, 4)))
        XCTAssertEqual(bench.cpu.reg32(R.eax), 0x0000_0001)
        XCTAssertEqual(bench.cpu.reg32(R.edx), 0xFFFF_FFFE)
        XCTAssertNotEqual(bench.flags & EFLAGS.cf, 0)
    }

    func testOneOperandImulFlagsWhenHighHalfIsMoreThanSign() {
        // −128 · −1 = +128: does not fit a signed byte.
        bench.cpu.setReg8(R.al, 0x80)
        bench.cpu.setReg8(R.cl, 0xFF)
        bench.execute(instruction(.imul, reg(R.cl, 1)))
        XCTAssertEqual(bench.cpu.reg16(R.eax), 0x0080)
        XCTAssertNotEqual(bench.flags & EFLAGS.cf, 0)
        XCTAssertNotEqual(bench.flags & EFLAGS.of, 0)

        // −2 · 3 = −6: the high half is only the sign extension.
        bench.cpu.setReg32(R.eax, 0xFFFF_FFFE)
        bench.cpu.setReg32(R.ecx, 3)
        bench.execute(instruction(.imul, reg(R.ecx, 4)))
        XCTAssertEqual(bench.cpu.reg32(R.eax), 0xFFFF_FFFA)
        XCTAssertEqual(bench.cpu.reg32(R.edx), 0xFFFF_FFFF)
        XCTAssertEqual(bench.flags & (EFLAGS.cf | EFLAGS.of), 0)
    }

    func testTwoAndThreeOperandImulTruncate() {
        // IMUL EBX, ECX: 0x40000000 · 2 overflows into the sign bit.
        bench.cpu.setReg32(R.ebx, 0x4000_0000)
        bench.cpu.setReg32(R.ecx, 2)
        bench.cpu.setReg32(R.edx, 0x1234)
        bench.execute(instruction(.imul, reg(R.ebx, 4), reg(R.ecx, 4)))
        XCTAssertEqual(bench.cpu.reg32(R.ebx), 0x8000_0000)
        XCTAssertEqual(bench.cpu.reg32(R.edx), 0x1234) // no implicit EDX
        XCTAssertNotEqual(bench.flags & EFLAGS.of, 0)

        // IMUL SI, DI, −3 (6B /r ib): 16-bit, −1000 · −3 = 3000 fits.
        bench.cpu.setReg16(R.edi, UInt16(bitPattern: -1000))
        bench.execute(instruction(.imul, reg(R.esi, 2), reg(R.edi, 2), imm(2),
                                  immediate: 0xFFFD, operandSize: 2))
        XCTAssertEqual(bench.cpu.reg16(R.esi), 3000)
        XCTAssertEqual(bench.flags & (EFLAGS.cf | EFLAGS.of), 0)
    }

    func testDivByte() {
        bench.cpu.setReg16(R.eax, 1000)
        bench.cpu.setReg8(R.bl, 7)
        bench.execute(instruction(.div, reg(R.bl, 1)))
        XCTAssertEqual(bench.cpu.reg8(R.al), 142)
        XCTAssertEqual(bench.cpu.reg8(R.ah), 6)
    }

    func testDivDoubleword() {
        bench.cpu.setReg32(R.edx, 0x0000_0001)
        bench.cpu.setReg32(R.eax, 0x0000_0005) // 0x1_00000005
        bench.cpu.setReg32(R.ecx, 0x10)
        bench.execute(instruction(.div, reg(R.ecx, 4)))
        XCTAssertEqual(bench.cpu.reg32(R.eax), 0x1000_0000)
        XCTAssertEqual(bench.cpu.reg32(R.edx), 5)
    }

    func testDivideByZeroRaisesDEAndChangesNothing() {
        bench.cpu.setReg32(R.eax, 0x1234)
        bench.cpu.setReg32(R.edx, 0x5678)
        bench.cpu.setReg32(R.ecx, 0)
        let eip = bench.cpu.eip
        XCTAssertEqual(bench.execute(instruction(.div, reg(R.ecx, 4))), .divideError)
        XCTAssertEqual(bench.cpu.eip, eip)
        XCTAssertEqual(bench.cpu.reg32(R.eax), 0x1234)
        XCTAssertEqual(bench.cpu.reg32(R.edx), 0x5678)
        XCTAssertEqual(bench.execute(instruction(.idiv, reg(R.ecx, 1))), .divideError)
    }

    func testQuotientTooLargeRaisesDE() {
        // 0x1000 / 0x10 = 0x100 does not fit AL.
        bench.cpu.setReg16(R.eax, 0x1000)
        bench.cpu.setReg8(R.cl, 0x10)
        XCTAssertEqual(bench.execute(instruction(.div, reg(R.cl, 1))), .divideError)
        XCTAssertEqual(bench.cpu.reg16(R.eax), 0x1000)
        // EDX ≥ divisor always overflows a 32-bit quotient.
        bench.cpu.setReg32(R.edx, 2)
        bench.cpu.setReg32(R.ecx, 2)
        XCTAssertEqual(bench.execute(instruction(.div, reg(R.ecx, 4))), .divideError)
    }

    func testIdivTruncatesTowardZeroAndRemainderTakesTheDividendSign() {
        // −7 / 2 = −3 remainder −1 (16-bit: DX:AX).
        bench.cpu.setReg16(R.eax, UInt16(bitPattern: -7))
        bench.cpu.setReg16(R.edx, 0xFFFF)
        bench.cpu.setReg16(R.ebx, 2)
        bench.execute(instruction(.idiv, reg(R.ebx, 2), operandSize: 2))
        XCTAssertEqual(Int16(bitPattern: bench.cpu.reg16(R.eax)), -3)
        XCTAssertEqual(Int16(bitPattern: bench.cpu.reg16(R.edx)), -1)
    }

    func testIdivMostNegativeQuotientIsValid() {
        // −256 / 2 = −128, the most negative byte: no #DE since the 80286.
        bench.cpu.setReg16(R.eax, UInt16(bitPattern: -256))
        bench.cpu.setReg8(R.bl, 2)
        XCTAssertNil(bench.execute(instruction(.idiv, reg(R.bl, 1))))
        XCTAssertEqual(bench.cpu.reg8(R.al), 0x80)
        XCTAssertEqual(bench.cpu.reg8(R.ah), 0)
        // +128 does not fit.
        bench.cpu.setReg16(R.eax, 256)
        XCTAssertEqual(bench.execute(instruction(.idiv, reg(R.bl, 1))), .divideError)
    }

    func testIdivOfMostNegativeDividendByMinusOneRaisesDE() {
        // EDX:EAX = −2^63 / −1: overflows every size, and must not trap the host.
        bench.cpu.setReg32(R.edx, 0x8000_0000)
        bench.cpu.setReg32(R.eax, 0)
        bench.cpu.setReg32(R.ecx, 0xFFFF_FFFF)
        XCTAssertEqual(bench.execute(instruction(.idiv, reg(R.ecx, 4))), .divideError)
        // −2^31 / −1 in EDX:EAX (sign-extended) overflows a 32-bit quotient too.
        bench.cpu.setReg32(R.edx, 0xFFFF_FFFF)
        bench.cpu.setReg32(R.eax, 0x8000_0000)
        XCTAssertEqual(bench.execute(instruction(.idiv, reg(R.ecx, 4))), .divideError)
    }

    func testDivLeavesFlagsUnchanged() {
        bench.flags = EFLAGS.fixed1 | EFLAGS.zf | EFLAGS.cf
        bench.cpu.setReg16(R.eax, 5)
        bench.cpu.setReg8(R.bl, 2)
        bench.execute(instruction(.div, reg(R.bl, 1)))
        XCTAssertEqual(bench.flags, EFLAGS.fixed1 | EFLAGS.zf | EFLAGS.cf)
    }
}
