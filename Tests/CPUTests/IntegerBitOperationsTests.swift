import XCTest
@testable import CPU

/// BT/BTS/BTR/BTC (register offsets modulo the width, memory bit strings
/// with signed offsets) and BSF/BSR.
final class IntegerBitOperationsTests: XCTestCase {
    var bench: CPUTestBench!

    override func setUp() {
        bench = CPUTestBench()
        bench.flat32(code: [])
    }

    private var cf: Bool { bench.flags & EFLAGS.cf != 0 }

    func testRegisterBitOffsetIsModuloTheWidth() {
        bench.cpu.setReg32(R.eax, 0x0000_0004)
        bench.cpu.setReg32(R.ecx, 34) // 34 mod 32 = bit 2
        bench.execute(instruction(.bt, reg(R.eax, 4), reg(R.ecx, 4)))
        XCTAssertTrue(cf)
        bench.execute(instruction(.btr, reg(R.eax, 4), reg(R.ecx, 4)))
        XCTAssertTrue(cf)
        XCTAssertEqual(bench.cpu.reg32(R.eax), 0)
        bench.execute(instruction(.bts, reg(R.eax, 2), imm(1), immediate: 17, operandSize: 2)) // bit 1
        XCTAssertFalse(cf)
        XCTAssertEqual(bench.cpu.reg32(R.eax), 2)
        bench.execute(instruction(.btc, reg(R.eax, 4), imm(1), immediate: 1))
        XCTAssertTrue(cf)
        XCTAssertEqual(bench.cpu.reg32(R.eax), 0)
    }

    func testMemoryBitStringWithLargeRegisterOffset() {
        // BTS [2000h], ECX with ECX = 100: bit 4 of the dword at 2000h + 12.
        bench.cpu.setReg32(R.ecx, 100)
        bench.execute(instruction(.bts, mem(4), reg(R.ecx, 4), displacement: 0x2000))
        XCTAssertFalse(cf)
        XCTAssertEqual(bench.read32(0x200C), 0x10)
        XCTAssertEqual(bench.read32(0x2000), 0)
    }

    func testMemoryBitStringWithNegativeOffset() {
        // BT WORD [2000h], AX with AX = −1: bit 15 of the word at 1FFEh.
        bench.memory.write(0x1FFE, size: 2, value: 0x8000)
        bench.cpu.setReg16(R.eax, 0xFFFF)
        bench.execute(instruction(.bt, mem(2), reg(R.eax, 2), operandSize: 2, displacement: 0x2000))
        XCTAssertTrue(cf)
        // BTC with −17: word at 2000h − 4, bit 15.
        bench.cpu.setReg16(R.eax, UInt16(bitPattern: -17))
        bench.execute(instruction(.btc, mem(2), reg(R.eax, 2), operandSize: 2, displacement: 0x2000))
        XCTAssertFalse(cf)
        XCTAssertEqual(bench.read16(0x1FFC), 0x8000)
    }

    func testMemoryBitWithImmediateOffsetStaysInTheOperand() {
        bench.memory.write(0x2000, size: 4, value: 0)
        bench.execute(instruction(.bts, mem(4), imm(1), immediate: 0x23, displacement: 0x2000)) // bit 3
        XCTAssertEqual(bench.read32(0x2000), 0x8)
    }

    func testBitTestChangesOnlyCarry() {
        bench.flags = EFLAGS.fixed1 | EFLAGS.zf | EFLAGS.sf | EFLAGS.of
        bench.cpu.setReg32(R.eax, 1)
        bench.execute(instruction(.bt, reg(R.eax, 4), imm(1), immediate: 0))
        XCTAssertEqual(bench.flags, EFLAGS.fixed1 | EFLAGS.zf | EFLAGS.sf | EFLAGS.of | EFLAGS.cf)
    }

    func testBitScan() {
        bench.cpu.setReg32(R.ebx, 0x0001_8100)
        bench.execute(instruction(.bsf, reg(R.eax, 4), reg(R.ebx, 4)))
        XCTAssertEqual(bench.cpu.reg32(R.eax), 8)
        XCTAssertEqual(bench.flags & EFLAGS.zf, 0)
        bench.execute(instruction(.bsr, reg(R.eax, 4), reg(R.ebx, 4)))
        XCTAssertEqual(bench.cpu.reg32(R.eax), 16)
        bench.cpu.setReg16(R.ecx, 0x8000)
        bench.execute(instruction(.bsr, reg(R.edx, 2), reg(R.ecx, 2), operandSize: 2))
        XCTAssertEqual(bench.cpu.reg16(R.edx), 15)
    }

    func testBitScanOfZeroSetsZFAndKeepsTheDestination() {
        bench.cpu.setReg32(R.eax, 0xDEAD_BEEF)
        bench.cpu.setReg32(R.ebx, 0)
        bench.execute(instruction(.bsf, reg(R.eax, 4), reg(R.ebx, 4)))
        XCTAssertEqual(bench.cpu.reg32(R.eax), 0xDEAD_BEEF)
        XCTAssertNotEqual(bench.flags & EFLAGS.zf, 0)
    }
}
