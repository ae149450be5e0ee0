import XCTest
@testable import CPU

/// MOV (incl. segment registers and moffs), MOVZX/MOVSX, LEA, XCHG, XADD,
/// CMPXCHG, CMPXCHG8B, BSWAP, CMOVcc, SETcc, LAHF/SAHF, XLAT, BOUND.
final class IntegerDataMovementTests: XCTestCase {
    var bench: CPUTestBench!

    override func setUp() {
        bench = CPUTestBench()
        bench.flat32(code: [])
    }

    func testMoveBetweenRegistersMemoryAndImmediates() {
        bench.execute(instruction(.mov, reg(R.ah, 1), imm(1), immediate: 0x12))
        XCTAssertEqual(bench.cpu.reg16(R.eax), 0x1200)
        bench.execute(instruction(.mov, mem(2), reg(R.eax, 2), operandSize: 2, displacement: 0x2000))
        XCTAssertEqual(bench.read16(0x2000), 0x1200)
        // moffs form (A1): [disp32] into EAX.
        bench.memory.write(0x3000, size: 4, value: 0xCAFE_F00D)
        bench.execute(instruction(.mov, reg(R.eax, 4), Operand(.absolute, size: 4), displacement: 0x3000))
        XCTAssertEqual(bench.cpu.reg32(R.eax), 0xCAFE_F00D)
    }

    func testMoveToSegmentRegisterLoadsItInRealMode() {
        bench.realMode(code: [])
        bench.cpu.setReg16(R.eax, 0x2345)
        bench.execute(instruction(.mov, sreg(.es), reg(R.eax, 2), operandSize: 2, addressSize: 2))
        XCTAssertEqual(bench.cpu.segment(.es).pointee.selector, 0x2345)
        XCTAssertEqual(bench.cpu.segment(.es).pointee.base, 0x23450)
        XCTAssertEqual(bench.execute(instruction(.mov, sreg(.cs), reg(R.eax, 2), operandSize: 2)), .invalidOpcode)
    }

    func testMoveFromSegmentRegister() {
        // Register form with a 32-bit operand: zero-extended (P6).
        bench.cpu.setReg32(R.ebx, 0xFFFF_FFFF)
        bench.execute(instruction(.mov, reg(R.ebx, 4), sreg(.ds)))
        XCTAssertEqual(bench.cpu.reg32(R.ebx), 0x10)
        // Memory form: always 16 bits.
        bench.memory.write(0x2000, size: 4, value: 0xAAAA_AAAA)
        bench.execute(instruction(.mov, mem(2), sreg(.cs), displacement: 0x2000))
        XCTAssertEqual(bench.read32(0x2000), 0xAAAA_0008)
    }

    func testMovzxAndMovsx() {
        bench.cpu.setReg8(R.bl, 0x80)
        bench.execute(instruction(.movzx, reg(R.eax, 4), reg(R.bl, 1)))
        XCTAssertEqual(bench.cpu.reg32(R.eax), 0x80)
        bench.execute(instruction(.movsx, reg(R.eax, 4), reg(R.bl, 1)))
        XCTAssertEqual(bench.cpu.reg32(R.eax), 0xFFFF_FF80)
        bench.cpu.setReg32(R.ecx, 0x1111_1111)
        bench.execute(instruction(.movsx, reg(R.ecx, 2), reg(R.bl, 1), operandSize: 2))
        XCTAssertEqual(bench.cpu.reg32(R.ecx), 0x1111_FF80)
        bench.memory.write(0x2000, size: 2, value: 0x8001)
        bench.execute(instruction(.movsx, reg(R.edx, 4), mem(2), displacement: 0x2000))
        XCTAssertEqual(bench.cpu.reg32(R.edx), 0xFFFF_8001)
    }

    func testLeaComputesWithoutAccessAndTruncates() {
        // LEA EAX, [EBX + ESI*4 + 8], far beyond RAM: no access, no fault.
        bench.cpu.setReg32(R.esi, 0x20)
        bench.cpu.setReg32(R.ebx, 0xF000_0000)
        bench.execute(instruction(.lea, reg(R.eax, 4), mem(4), base: R.ebx, index: R.esi, scale: 2, displacement: 8))
        XCTAssertEqual(bench.cpu.reg32(R.eax), 0xF000_0088)
        // 16-bit addressing wraps at 64 KiB: [BX + SI] with BX = FFF0h, SI = 20h.
        bench.cpu.setReg32(R.ebx, 0xFFF0)
        bench.execute(instruction(.lea, reg(R.eax, 4), mem(4), addressSize: 2, base: R.ebx, index: R.esi))
        XCTAssertEqual(bench.cpu.reg32(R.eax), 0x0010)
        // 16-bit operand with 32-bit address: the low word only.
        bench.cpu.setReg32(R.ecx, 0xAAAA_AAAA)
        bench.cpu.setReg32(R.ebx, 0x0012_3456)
        bench.execute(instruction(.lea, reg(R.ecx, 2), mem(2), operandSize: 2, base: R.ebx))
        XCTAssertEqual(bench.cpu.reg32(R.ecx), 0xAAAA_3456)
    }

    func testExchange() {
        bench.cpu.setReg32(R.eax, 1)
        bench.cpu.setReg32(R.ebx, 2)
        bench.execute(instruction(.xchg, reg(R.ebx, 4), reg(R.eax, 4)))
        XCTAssertEqual(bench.cpu.reg32(R.eax), 2)
        XCTAssertEqual(bench.cpu.reg32(R.ebx), 1)
        bench.memory.write(0x2000, size: 1, value: 0x77)
        bench.execute(instruction(.xchg, mem(1), reg(R.ah, 1), displacement: 0x2000))
        XCTAssertEqual(bench.cpu.reg8(R.ah), 0x77)
        XCTAssertEqual(bench.read8(0x2000), 0x00)
    }

    func testExchangeWithReadOnlyMemoryFaultsWithoutTouchingTheRegister() {
        bench.cpu.segment(.ds).pointee.attributes = 0xC091
        bench.cpu.setReg32(R.eax, 5)
        XCTAssertEqual(bench.execute(instruction(.xchg, mem(4), reg(R.eax, 4), displacement: 0x2000)),
                       .generalProtection(0))
        XCTAssertEqual(bench.cpu.reg32(R.eax), 5)
    }

    func testXadd() {
        bench.memory.write(0x2000, size: 4, value: 10)
        bench.cpu.setReg32(R.ecx, 0xFFFF_FFFF)
        bench.execute(instruction(.xadd, mem(4), reg(R.ecx, 4), displacement: 0x2000))
        XCTAssertEqual(bench.read32(0x2000), 9)
        XCTAssertEqual(bench.cpu.reg32(R.ecx), 10)
        XCTAssertNotEqual(bench.flags & EFLAGS.cf, 0)
        // XADD EAX, EAX: SRC ← DEST then DEST ← sum, so the sum wins.
        bench.cpu.setReg32(R.eax, 3)
        bench.execute(instruction(.xadd, reg(R.eax, 4), reg(R.eax, 4)))
        XCTAssertEqual(bench.cpu.reg32(R.eax), 6)
    }

    func testCompareExchange() {
        bench.memory.write(0x2000, size: 4, value: 42)
        bench.cpu.setReg32(R.eax, 42)
        bench.cpu.setReg32(R.ebx, 99)
        bench.execute(instruction(.cmpxchg, mem(4), reg(R.ebx, 4), displacement: 0x2000))
        XCTAssertEqual(bench.read32(0x2000), 99)
        XCTAssertNotEqual(bench.flags & EFLAGS.zf, 0)
        // Mismatch: the accumulator receives the destination.
        bench.execute(instruction(.cmpxchg, mem(4), reg(R.ebx, 4), displacement: 0x2000))
        XCTAssertEqual(bench.flags & EFLAGS.zf, 0)
        XCTAssertEqual(bench.cpu.reg32(R.eax), 99)
        XCTAssertEqual(bench.read32(0x2000), 99)
    }

    func testCompareExchangeWritesEvenWhenUnequal() {
        // The P6 writes the old value back on a mismatch: a read-only
        // destination faults both ways, and EAX stays.
        bench.cpu.segment(.ds).pointee.attributes = 0xC091
        bench.memory.write(0x2000, size: 4, value: 1)
        bench.cpu.setReg32(R.eax, 2)
        XCTAssertEqual(bench.execute(instruction(.cmpxchg, mem(4), reg(R.ebx, 4), displacement: 0x2000)),
                       .generalProtection(0))
        XCTAssertEqual(bench.cpu.reg32(R.eax), 2)
    }

    func testCompareExchange8Bytes() {
        bench.memory.write(0x2000, size: 4, value: 0x1111_1111)
        bench.memory.write(0x2004, size: 4, value: 0x2222_2222)
        bench.cpu.setReg32(R.eax, 0x1111_1111)
        bench.cpu.setReg32(R.edx, 0x2222_2222)
        bench.cpu.setReg32(R.ebx, 0xAAAA_AAAA)
        bench.cpu.setReg32(R.ecx, 0xBBBB_BBBB)
        bench.flags = EFLAGS.fixed1 | EFLAGS.cf
        bench.execute(instruction(.cmpxchg8b, mem(8), displacement: 0x2000))
        XCTAssertEqual(bench.read32(0x2000), 0xAAAA_AAAA)
        XCTAssertEqual(bench.read32(0x2004), 0xBBBB_BBBB)
        XCTAssertEqual(bench.flags, EFLAGS.fixed1 | EFLAGS.cf | EFLAGS.zf) // only ZF changes
        bench.execute(instruction(.cmpxchg8b, mem(8), displacement: 0x2000))
        XCTAssertEqual(bench.flags & EFLAGS.zf, 0)
        XCTAssertEqual(bench.cpu.reg32(R.eax), 0xAAAA_AAAA)
        XCTAssertEqual(bench.cpu.reg32(R.edx), 0xBBBB_BBBB)
        XCTAssertEqual(bench.execute(instruction(.cmpxchg8b, reg(R.eax, 8))), .invalidOpcode)
    }

    func testByteSwap() {
        bench.cpu.setReg32(R.esi, 0x1234_5678)
        bench.execute(instruction(.bswap, reg(R.esi, 4)))
        XCTAssertEqual(bench.cpu.reg32(R.esi), 0x7856_3412)
        bench.execute(instruction(.bswap, reg(R.esi, 2), operandSize: 2))
        XCTAssertEqual(bench.cpu.reg32(R.esi), 0x7856_0000)
    }

    func testConditionalMove() {
        bench.cpu.setReg32(R.eax, 1)
        bench.cpu.setReg32(R.ebx, 2)
        bench.flags = EFLAGS.fixed1 | EFLAGS.zf
        bench.execute(instruction(.cmov, reg(R.eax, 4), reg(R.ebx, 4), condition: 0x5)) // CMOVNE
        XCTAssertEqual(bench.cpu.reg32(R.eax), 1)
        bench.execute(instruction(.cmov, reg(R.eax, 4), reg(R.ebx, 4), condition: 0x4)) // CMOVE
        XCTAssertEqual(bench.cpu.reg32(R.eax), 2)
    }

    func testConditionalMoveReadsItsSourceEvenWhenFalse() {
        // The memory operand lies past the DS limit: #GP although nothing moves.
        bench.cpu.segment(.ds).pointee.limit = 0xFFFF
        bench.flags = EFLAGS.fixed1 | EFLAGS.zf
        XCTAssertEqual(bench.execute(instruction(.cmov, reg(R.eax, 4), mem(4), displacement: 0x10000, condition: 0x5)),
                       .generalProtection(0))
    }

    func testSetConditionCode() {
        bench.flags = EFLAGS.fixed1 | EFLAGS.sf // SF ≠ OF: "less"
        bench.execute(instruction(.setcc, reg(R.cl, 1), condition: 0xC)) // SETL
        XCTAssertEqual(bench.cpu.reg8(R.cl), 1)
        bench.execute(instruction(.setcc, reg(R.cl, 1), condition: 0xF)) // SETG
        XCTAssertEqual(bench.cpu.reg8(R.cl), 0)
    }

    func testLoadAndStoreAHFromFlags() {
        bench.flags = EFLAGS.fixed1 | EFLAGS.sf | EFLAGS.cf | EFLAGS.of
        bench.execute(instruction(.lahf))
        XCTAssertEqual(bench.cpu.reg8(R.ah), 0x83) // SF, bit 1, CF — OF is not in the low byte
        bench.cpu.setReg8(R.ah, 0xFF)
        bench.execute(instruction(.sahf))
        // SAHF loads SF ZF AF PF CF; OF stays, bits 3 and 5 stay 0.
        XCTAssertEqual(bench.flags, EFLAGS.fixed1 | EFLAGS.of | 0xD5)
    }

    func testTranslate() {
        for k in 0..<256 { bench.memory.write(0x4000 + UInt32(k), size: 1, value: UInt32(255 - k)) }
        bench.cpu.setReg32(R.ebx, 0x4000)
        bench.cpu.setReg8(R.al, 0x90)
        bench.execute(instruction(.xlat))
        XCTAssertEqual(bench.cpu.reg8(R.al), 0x6F)
    }

    func testTranslateUsesTheSegmentOverride() {
        bench.realMode(code: [])
        bench.cpu.segment(.es).pointee.base = 0x50000
        bench.memory.write(0x50010 + 3, size: 1, value: 0xAB)
        bench.cpu.setReg16(R.ebx, 0x10)
        bench.cpu.setReg8(R.al, 3)
        bench.execute(instruction(.xlat, operandSize: 2, addressSize: 2, segment: .es, override: true))
        XCTAssertEqual(bench.cpu.reg8(R.al), 0xAB)
    }

    func testBoundRaisesBRWhenOutOfRange() {
        bench.memory.write(0x2000, size: 4, value: UInt32(bitPattern: -5))
        bench.memory.write(0x2004, size: 4, value: 10)
        bench.cpu.setReg32(R.eax, 10)
        XCTAssertNil(bench.execute(instruction(.bound, reg(R.eax, 4), mem(8), displacement: 0x2000)))
        bench.cpu.setReg32(R.eax, UInt32(bitPattern: -5))
        XCTAssertNil(bench.execute(instruction(.bound, reg(R.eax, 4), mem(8), displacement: 0x2000)))
        bench.cpu.setReg32(R.eax, 11)
        XCTAssertEqual(bench.execute(instruction(.bound, reg(R.eax, 4), mem(8), displacement: 0x2000)), .boundRange)
        bench.cpu.setReg32(R.eax, UInt32(bitPattern: -6))
        XCTAssertEqual(bench.execute(instruction(.bound, reg(R.eax, 4), mem(8), displacement: 0x2000)), .boundRange)
    }
}
