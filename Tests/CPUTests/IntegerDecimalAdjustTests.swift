import XCTest
@testable import CPU

/// DAA, DAS, AAA, AAS, AAM, AAD against the worked examples of the SDM and
/// the classic BCD textbook cases.
final class IntegerDecimalAdjustTests: XCTestCase {
    var bench: CPUTestBench!

    override func setUp() {
        bench = CPUTestBench()
        bench.flat32(code: [])
    }

    /// Status flags without OF, which the SDM leaves undefined for the
    /// examples below (printed as X).
    var flagsSZAPC: String { String(bench.statusFlags.dropFirst()) }

    func testDaaExampleFromTheSDM() {
        // SDM "DAA" example: ADD AL, BL with AL = 79h, BL = 35h gives AEh,
        // flags 110000; DAA then gives AL = 14h, flags X00111.
        bench.cpu.setReg8(R.al, 0x79)
        bench.cpu.setReg8(R.bl, 0x35)
        bench.execute(instruction(.add, reg(R.al, 1), reg(R.bl, 1)))
        XCTAssertEqual(bench.cpu.reg8(R.al), 0xAE)
        XCTAssertEqual(bench.statusFlags, "110000")
        bench.execute(instruction(.daa))
        XCTAssertEqual(bench.cpu.reg8(R.al), 0x14)
        XCTAssertEqual(flagsSZAPC, "00111")
    }

    func testDasExampleFromTheSDM() {
        // SDM "DAS" example: SUB AL, BL with AL = 35h, BL = 47h gives EEh,
        // flags 010111; DAS then gives AL = 88h, flags X10111.
        bench.cpu.setReg8(R.al, 0x35)
        bench.cpu.setReg8(R.bl, 0x47)
        bench.execute(instruction(.sub, reg(R.al, 1), reg(R.bl, 1)))
        XCTAssertEqual(bench.cpu.reg8(R.al), 0xEE)
        XCTAssertEqual(bench.statusFlags, "010111")
        bench.execute(instruction(.das))
        XCTAssertEqual(bench.cpu.reg8(R.al), 0x88)
        XCTAssertEqual(flagsSZAPC, "10111")
    }

    func testDaaWithoutAdjustment() {
        bench.cpu.setReg8(R.al, 0x42)
        bench.flags = EFLAGS.fixed1
        bench.execute(instruction(.daa))
        XCTAssertEqual(bench.cpu.reg8(R.al), 0x42)
        XCTAssertEqual(bench.flags & (EFLAGS.cf | EFLAGS.af), 0)
    }

    func testAaaAfterAddingTwoAsciiDigits() {
        // '9' + '5' = 6Eh; AAA gives the unpacked 14: AX = 0104h, CF = AF = 1.
        bench.cpu.setReg16(R.eax, 0x0039)
        bench.execute(instruction(.add, reg(R.al, 1), imm(1), immediate: 0x35))
        bench.execute(instruction(.aaa))
        XCTAssertEqual(bench.cpu.reg16(R.eax), 0x0104)
        XCTAssertNotEqual(bench.flags & EFLAGS.cf, 0)
        XCTAssertNotEqual(bench.flags & EFLAGS.af, 0)
    }

    func testAaaCarriesIntoAHThroughAX() {
        // P6 AAA adds 106h to AX: AL = FAh overflows into AH twice over.
        bench.cpu.setReg16(R.eax, 0x00FA)
        bench.flags = EFLAGS.fixed1
        bench.execute(instruction(.aaa))
        XCTAssertEqual(bench.cpu.reg16(R.eax), 0x0200)
    }

    func testAasAfterSubtractingAsciiDigits() {
        // '3' − '5' = FEh with AF; AAS: AX = FF08h (borrow from AH), CF = AF = 1.
        bench.cpu.setReg16(R.eax, 0x0033)
        bench.execute(instruction(.sub, reg(R.al, 1), imm(1), immediate: 0x35))
        bench.execute(instruction(.aas))
        XCTAssertEqual(bench.cpu.reg16(R.eax), 0xFF08)
        XCTAssertNotEqual(bench.flags & EFLAGS.cf, 0)
    }

    func testAamSplitsALIntoDigits() {
        // 7 · 9 = 63 = 3Fh; AAM gives AH = 6, AL = 3.
        bench.cpu.setReg16(R.eax, 0x003F)
        bench.execute(instruction(.aam, imm(1), immediate: 10))
        XCTAssertEqual(bench.cpu.reg16(R.eax), 0x0603)
        // Another base (D4 ib): 3Fh in base 16.
        bench.cpu.setReg16(R.eax, 0x003F)
        bench.execute(instruction(.aam, imm(1), immediate: 16))
        XCTAssertEqual(bench.cpu.reg16(R.eax), 0x030F)
    }

    func testAamByZeroRaisesDE() {
        bench.cpu.setReg16(R.eax, 0x1234)
        XCTAssertEqual(bench.execute(instruction(.aam, imm(1), immediate: 0)), .divideError)
        XCTAssertEqual(bench.cpu.reg16(R.eax), 0x1234)
    }

    func testAadJoinsDigits() {
        // AX = 0605h (unpacked 65): AAD gives AL = 41h, AH = 0.
        bench.cpu.setReg16(R.eax, 0x0605)
        bench.execute(instruction(.aad, imm(1), immediate: 10))
        XCTAssertEqual(bench.cpu.reg16(R.eax), 0x0041)
        XCTAssertEqual(bench.flags & (EFLAGS.zf | EFLAGS.sf), 0)
        XCTAssertNotEqual(bench.flags & EFLAGS.pf, 0) // 41h has two bits set
    }
}
