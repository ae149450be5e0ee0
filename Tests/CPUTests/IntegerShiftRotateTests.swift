import XCTest
@testable import CPU

/// Shifts, rotates and double shifts: results, CF/OF for count 1 per the
/// SDM, count masking, and flags untouched by a zero count.
final class IntegerShiftRotateTests: XCTestCase {
    var bench: CPUTestBench!

    override func setUp() {
        bench = CPUTestBench()
        bench.flat32(code: [])
    }

    private func shift(_ op: Op, _ r: UInt8, size: UInt8, by count: UInt32) {
        bench.cpu.setReg8(R.cl, UInt8(count))
        bench.execute(instruction(op, reg(r, size), reg(R.cl, 1), operandSize: size == 2 ? 2 : 4))
    }

    private var cf: Bool { bench.flags & EFLAGS.cf != 0 }
    private var of: Bool { bench.flags & EFLAGS.of != 0 }

    func testShlByOneSetsCarryAndOverflowFromTheTopBits() {
        // 40h << 1 = 80h: no carry out, sign changed → OF = MSB XOR CF = 1.
        bench.cpu.setReg8(R.al, 0x40)
        bench.execute(instruction(.shl, reg(R.al, 1), shiftByOne))
        XCTAssertEqual(bench.cpu.reg8(R.al), 0x80)
        XCTAssertFalse(cf)
        XCTAssertTrue(of)
        // C0h << 1 = 80h: carry out 1, MSB 1 → OF = 0.
        bench.cpu.setReg8(R.al, 0xC0)
        bench.execute(instruction(.shl, reg(R.al, 1), shiftByOne))
        XCTAssertTrue(cf)
        XCTAssertFalse(of)
    }

    func testShrByOneOverflowIsTheOriginalSign() {
        bench.cpu.setReg16(R.ebx, 0x8001)
        shift(.shr, R.ebx, size: 2, by: 1)
        XCTAssertEqual(bench.cpu.reg16(R.ebx), 0x4000)
        XCTAssertTrue(cf)
        XCTAssertTrue(of)
    }

    func testSarKeepsTheSignAndClearsOverflow() {
        bench.cpu.setReg32(R.edx, 0x8000_0010)
        shift(.sar, R.edx, size: 4, by: 4)
        XCTAssertEqual(bench.cpu.reg32(R.edx), 0xF800_0001)
        XCTAssertFalse(cf)
        XCTAssertFalse(of)
        shift(.sar, R.edx, size: 4, by: 1)
        XCTAssertEqual(bench.cpu.reg32(R.edx), 0xFC00_0000)
        XCTAssertTrue(cf)
    }

    func testCountIsMaskedToFiveBits() {
        // SHL EAX, 33 is SHL EAX, 1.
        bench.cpu.setReg32(R.eax, 3)
        shift(.shl, R.eax, size: 4, by: 33)
        XCTAssertEqual(bench.cpu.reg32(R.eax), 6)
        // SHL AL, 32 shifts by 0: nothing changes, not even the flags.
        bench.cpu.setReg8(R.al, 0x81)
        bench.flags = EFLAGS.fixed1 | EFLAGS.zf | EFLAGS.of
        shift(.shl, R.al, size: 1, by: 32)
        XCTAssertEqual(bench.cpu.reg8(R.al), 0x81)
        XCTAssertEqual(bench.flags, EFLAGS.fixed1 | EFLAGS.zf | EFLAGS.of)
    }

    func testByteShiftsBeyondTheWidth() {
        // SHL AL, 8: the last bit out is the original bit 0; the result is 0.
        bench.cpu.setReg8(R.al, 0x01)
        shift(.shl, R.al, size: 1, by: 8)
        XCTAssertEqual(bench.cpu.reg8(R.al), 0)
        XCTAssertTrue(cf)
        XCTAssertNotEqual(bench.flags & EFLAGS.zf, 0)
        // SAR AL, 20 fills with the sign.
        bench.cpu.setReg8(R.al, 0x80)
        shift(.sar, R.al, size: 1, by: 20)
        XCTAssertEqual(bench.cpu.reg8(R.al), 0xFF)
        XCTAssertTrue(cf)
    }

    func testRotates() {
        bench.cpu.setReg8(R.al, 0x81)
        shift(.rol, R.al, size: 1, by: 1)
        XCTAssertEqual(bench.cpu.reg8(R.al), 0x03)
        XCTAssertTrue(cf)   // CF = LSB of the result
        XCTAssertTrue(of)   // MSB(0) XOR CF(1)
        shift(.ror, R.al, size: 1, by: 1)
        XCTAssertEqual(bench.cpu.reg8(R.al), 0x81)
        XCTAssertTrue(cf)   // CF = MSB of the result
        XCTAssertTrue(of)   // MSB XOR next bit: 1 XOR 0
        bench.cpu.setReg32(R.esi, 0x1234_5678)
        shift(.rol, R.esi, size: 4, by: 8)
        XCTAssertEqual(bench.cpu.reg32(R.esi), 0x3456_7812)
    }

    func testRotatesLeaveSignZeroParityAlone() {
        bench.flags = EFLAGS.fixed1 | EFLAGS.zf | EFLAGS.pf | EFLAGS.sf | EFLAGS.af
        bench.cpu.setReg8(R.bl, 0x01)
        shift(.ror, R.bl, size: 1, by: 1)
        XCTAssertEqual(bench.flags & (EFLAGS.zf | EFLAGS.pf | EFLAGS.sf | EFLAGS.af),
                       EFLAGS.zf | EFLAGS.pf | EFLAGS.sf | EFLAGS.af)
    }

    func testRotateThroughCarry() {
        // RCL AL, 1 with CF = 1: 80h → 01h, CF = 1.
        bench.cpu.setReg8(R.al, 0x80)
        bench.flags |= EFLAGS.cf
        shift(.rcl, R.al, size: 1, by: 1)
        XCTAssertEqual(bench.cpu.reg8(R.al), 0x01)
        XCTAssertTrue(cf)
        // RCR AL, 1 with CF = 1: 01h → 80h, CF = 1; OF = MSB XOR bit 6 = 1.
        shift(.rcr, R.al, size: 1, by: 1)
        XCTAssertEqual(bench.cpu.reg8(R.al), 0x80)
        XCTAssertTrue(cf)
        XCTAssertTrue(of)
    }

    func testRotateThroughCarryCountsAreModuloWidthPlusOne() {
        // RCL of 9 bits (CF:AL) by 9 is a full turn: nothing changes.
        bench.cpu.setReg8(R.al, 0x5A)
        bench.flags = EFLAGS.fixed1 | EFLAGS.cf
        shift(.rcl, R.al, size: 1, by: 9)
        XCTAssertEqual(bench.cpu.reg8(R.al), 0x5A)
        XCTAssertTrue(cf)
        // RCL 16-bit by 18 = by 1.
        bench.cpu.setReg16(R.ebx, 0x8000)
        bench.flags = EFLAGS.fixed1
        shift(.rcl, R.ebx, size: 2, by: 18)
        XCTAssertEqual(bench.cpu.reg16(R.ebx), 0x0000)
        XCTAssertTrue(cf)
        // RCR 32-bit by 4 with CF = 1: the carry enters at bit 28.
        bench.cpu.setReg32(R.eax, 0x0000_0018)
        bench.flags = EFLAGS.fixed1 | EFLAGS.cf
        shift(.rcr, R.eax, size: 4, by: 4)
        XCTAssertEqual(bench.cpu.reg32(R.eax), 0x1000_0001)
        XCTAssertTrue(cf) // bit 3 of 18h was the last out
    }

    func testShiftOfMemoryOperand() {
        bench.memory.write(0x3000, size: 2, value: 0x00F0)
        bench.execute(instruction(.shl, mem(2), imm(1), immediate: 4, operandSize: 2, displacement: 0x3000))
        XCTAssertEqual(bench.read16(0x3000), 0x0F00)
    }

    func testShldAndShrd32() {
        // SHLD EAX, EDX, 8: EAX = 12345678h, EDX = 9ABCDEF0h → 3456789Ah.
        bench.cpu.setReg32(R.eax, 0x1234_5678)
        bench.cpu.setReg32(R.edx, 0x9ABC_DEF0)
        bench.execute(instruction(.shld, reg(R.eax, 4), reg(R.edx, 4), imm(1), immediate: 8))
        XCTAssertEqual(bench.cpu.reg32(R.eax), 0x3456_789A)
        XCTAssertEqual(bench.cpu.reg32(R.edx), 0x9ABC_DEF0)
        XCTAssertFalse(cf) // last bit out: bit 24 of 12345678h = 0
        // SHRD EAX, EDX, 4: → 03456789h with EDX's low nibble 0 on top.
        bench.cpu.setReg32(R.eax, 0x3456_789A)
        bench.execute(instruction(.shrd, reg(R.eax, 4), reg(R.edx, 4), imm(1), immediate: 4))
        XCTAssertEqual(bench.cpu.reg32(R.eax), 0x0345_6789)
        XCTAssertTrue(cf) // bit 3 of 9Ah
    }

    func testShldZeroCountChangesNothing() {
        bench.cpu.setReg32(R.eax, 0x8000_0000)
        bench.flags = EFLAGS.fixed1 | EFLAGS.zf
        bench.execute(instruction(.shld, reg(R.eax, 4), reg(R.edx, 4), imm(1), immediate: 32))
        XCTAssertEqual(bench.cpu.reg32(R.eax), 0x8000_0000)
        XCTAssertEqual(bench.flags, EFLAGS.fixed1 | EFLAGS.zf)
    }

    func testShld16WithCountAboveSixteen() {
        // 16-bit count 20 shifts through dest:src:dest (Intel behaviour):
        // AX = 1234h, BX = ABCDh: 1234ABCD1234h << 20, top 16 bits = BCD1h.
        bench.cpu.setReg16(R.eax, 0x1234)
        bench.cpu.setReg16(R.ebx, 0xABCD)
        bench.execute(instruction(.shld, reg(R.eax, 2), reg(R.ebx, 2), imm(1), immediate: 20, operandSize: 2))
        XCTAssertEqual(bench.cpu.reg16(R.eax), 0xBCD1)
        // Count 16 exactly moves the source in whole.
        bench.cpu.setReg16(R.eax, 0x1234)
        bench.execute(instruction(.shld, reg(R.eax, 2), reg(R.ebx, 2), imm(1), immediate: 16, operandSize: 2))
        XCTAssertEqual(bench.cpu.reg16(R.eax), 0xABCD)
        XCTAssertFalse(cf) // bit 0 of 1234h
    }

    func testShrd16() {
        bench.cpu.setReg16(R.eax, 0x1234)
        bench.cpu.setReg16(R.ebx, 0xABCD)
        bench.execute(instruction(.shrd, reg(R.eax, 2), reg(R.ebx, 2), imm(1), immediate: 4, operandSize: 2))
        XCTAssertEqual(bench.cpu.reg16(R.eax), 0xD123)
        XCTAssertFalse(cf) // bit 3 of 1234h
        // By 1 (where OF is defined): 1234h → 891Ah, the sign changed.
        bench.cpu.setReg16(R.eax, 0x1234)
        bench.cpu.setReg16(R.ebx, 0x0001)
        bench.execute(instruction(.shrd, reg(R.eax, 2), reg(R.ebx, 2), imm(1), immediate: 1, operandSize: 2))
        XCTAssertEqual(bench.cpu.reg16(R.eax), 0x891A)
        XCTAssertTrue(of)
    }
}
