import Glibc
import XCTest
@testable import CPU

/// Arithmetic, rounding and precision control, compares, and the
/// functions — against IEEE 754 results and the SDM's tables.
final class X87ArithmeticTests: XCTestCase {
    /// 1/3 = 0.AAAA…(hex) × 2^-1: under each RC and precision control the
    /// correctly rounded significand is known.
    func testOneThirdUnderEachRoundingMode() {
        let cases: [(rc: UInt16, positive: UInt64, negative: UInt64)] = [
            (0, 0xAAAA_AAAA_AAAA_AAAB, 0xAAAA_AAAA_AAAA_AAAB), // nearest
            (1, 0xAAAA_AAAA_AAAA_AAAA, 0xAAAA_AAAA_AAAA_AAAB), // down
            (2, 0xAAAA_AAAA_AAAA_AAAB, 0xAAAA_AAAA_AAAA_AAAA), // up
            (3, 0xAAAA_AAAA_AAAA_AAAA, 0xAAAA_AAAA_AAAA_AAAA), // toward zero
        ]
        for c in cases {
            for negative in [false, true] {
                let x = X87Bench()
                x.setRounding(c.rc)
                x.push(negative ? -1.0 : 1.0)
                x.push(3.0)
                x.run(.fdivp, 1, 0)
                let expected = negative ? c.negative : c.positive
                XCTAssertEqual(x.st(0), ext(negative ? 0xBFFD : 0x3FFD, expected), "RC \(c.rc) negative \(negative)")
                XCTAssertEqual(x.status & 0x3F, X87Status.precision)
                XCTAssertEqual(x.status & X87Status.c1 != 0, expected & 1 == 1, "C1: rounded up")
            }
        }
    }

    func testPrecisionControlRoundsSignificand() {
        // PC = 24 bits: the single 1/3 (0x3EAAAAAB); PC = 53: the double
        // 1/3 (0x3FD5555555555555); the exponent range stays extended.
        let x = X87Bench()
        x.setRounding(0, precision: 0)
        x.push(1.0); x.push(3.0); x.run(.fdivp, 1, 0)
        XCTAssertEqual(x.st(0), ext(0x3FFD, 0xAAAA_AB00_0000_0000))
        let y = X87Bench()
        y.setRounding(0, precision: 2)
        y.push(1.0); y.push(3.0); y.run(.fdivp, 1, 0)
        XCTAssertEqual(y.st(0), ext(0x3FFD, 0xAAAA_AAAA_AAAA_A800))
    }

    func testPrecisionControlDoesNotDoubleRound() {
        // (1 + 2^-53) + 2^-65 under PC = 53: the exact sum is just above
        // the half-way point between 1 and 1 + 2^-52, so it rounds up.
        // Rounding to 64 bits first would land on the tie and give 1.0.
        let x = X87Bench()
        x.setRounding(0, precision: 2)
        x.push(ext(0x3FFF, 0x8000_0000_0000_0400)) // 1 + 2^-53
        x.push(ext(0x3FFF - 65, 0x8000_0000_0000_0000)) // 2^-65
        x.run(.faddp, 1, 0)
        XCTAssertEqual(x.st(0), ext(0x3FFF, 0x8000_0000_0000_0800))
    }

    func testRoundingCarriesIntoTheExponentAtFullPrecision() {
        // (2 − 2^-63) + 2^-64 = 2 − 2^-64: a tie between the all-ones
        // significand (odd) and 2.0 (even) → 2.0, rounded up.
        let x = X87Bench()
        x.push(ext(0x3FFF, UInt64.max)); x.push(ext(0x3FFF - 64, 1 << 63))
        x.run(.faddp, 1, 0)
        XCTAssertEqual(x.st(0), ext(0x4000, 1 << 63))
        XCTAssertNotEqual(x.status & X87Status.c1, 0)
    }

    func testInfinityOverZeroIsExactAndZeroDivideOutranksDenormal() {
        // IEEE 754 7.3: #Z only for a finite nonzero dividend.
        let x = X87Bench()
        x.push(0.0); x.push(Float80.infinity); x.run(.fdiv, 0, 1)
        XCTAssertEqual(x.st(0), .infinity(negative: false))
        XCTAssertEqual(x.status & 0x3F, 0)
        let y = X87Bench()
        y.setControl(0x037D) // DM clear
        y.push(0.0); y.push(ext(0, 1)); y.run(.fdiv, 0, 1)
        XCTAssertEqual(y.status & 0x3F, X87Status.zeroDivide, "denormal / 0: #Z, no #D")
        XCTAssertEqual(y.st(0), .infinity(negative: false))
    }

    func testUnmaskedInvalidCompareStillReportsUnorderedButDoesNotPop() {
        let x = X87Bench()
        x.setControl(0x037E)
        x.push(1.0); x.push(Float80.nan)
        x.run(X87Bench.instruction(.fcomp, X87Bench.st(1)))
        XCTAssertEqual(x.conditionCodes & 0b1101, 0b1101)
        XCTAssertEqual(x.top, 6)
    }

    func testUnmaskedUnderflowOnStoreRaisesOnlyUnderflow() {
        let x = X87Bench()
        x.setControl(0x036F) // UM clear
        x.push(ext(1, 1 << 63)) // far below the single range
        x.run(X87Bench.memory(.fst, size: 4))
        XCTAssertEqual(x.status & 0x3F, X87Status.underflow, "nothing stored, so no #P")
        XCTAssertEqual(x.status & X87Status.c1, 0)
    }

    func testUnmaskedDenormalLoadStillPushes() {
        let x = X87Bench()
        x.setControl(0x037D)
        x.poke(UInt32(1))
        x.run(X87Bench.memory(.fld, size: 4))
        XCTAssertEqual(x.top, 7)
        XCTAssertEqual(x.status & 0x80BF, 0x8082)
    }

    func testSignedZeroSums() {
        // IEEE 754 6.3: x + (−x) is +0, except −0 when rounding down.
        let x = X87Bench()
        x.push(5.0); x.push(5.0); x.run(.fsubp, 1, 0)
        XCTAssertEqual(x.st(0), ext(0, 0))
        let y = X87Bench()
        y.setRounding(1)
        y.push(5.0); y.push(5.0); y.run(.fsubp, 1, 0)
        XCTAssertEqual(y.st(0), ext(0x8000, 0))
        let z = X87Bench()
        z.push(-0.0); z.push(-0.0); z.run(.faddp, 1, 0)
        XCTAssertEqual(z.st(0), ext(0x8000, 0))
    }

    func testReverseAndPoppingFormsFollowIntelOperandOrder() {
        let x = X87Bench()
        x.push(10.0); x.push(4.0) // ST0 = 4, ST1 = 10
        x.run(.fsub, 1, 0)        // ST1 ← ST1 − ST0 = 6
        XCTAssertEqual(x.st(1), ExtendedReal(6.0))
        x.run(.fsubr, 0, 1)       // ST0 ← ST1 − ST0 = 2
        XCTAssertEqual(x.st(0), ExtendedReal(2.0))
        x.run(.fdivrp, 1, 0)      // ST1 ← ST0 / ST1 = 2/6, pop
        XCTAssertEqual(x.top, 7)
        XCTAssertEqual(x.st(0), ExtendedReal(Float80(2) / Float80(6)))
    }

    func testMemoryAndIntegerOperandForms() {
        let x = X87Bench()
        x.push(1.5)
        x.poke(UInt64(0x4004_0000_0000_0000)) // 2.5 as a double
        x.run(X87Bench.memory(.fmul, size: 8))
        XCTAssertEqual(x.st(0), ExtendedReal(3.75))
        x.poke(UInt32(bitPattern: -4))
        x.run(X87Bench.memory(.fidivr, size: 4)) // ST0 ← −4 / 3.75
        XCTAssertEqual(x.st(0), ExtendedReal(Float80(-4) / Float80(3.75)))
        x.poke(UInt16(3))
        x.run(X87Bench.memory(.fiadd, size: 2))
        XCTAssertEqual(x.st(0), ExtendedReal(Float80(-4) / Float80(3.75) + 3))
    }

    func testInvalidOperationsGiveIndefinite() {
        let x = X87Bench()
        x.push(Float80.infinity); x.push(-Float80.infinity)
        x.run(.faddp, 1, 0)
        XCTAssertEqual(x.st(0), .indefinite)
        XCTAssertEqual(x.status & 0x3F, X87Status.invalid)
        let y = X87Bench()
        y.push(0.0); y.push(0.0); y.run(.fdivp, 1, 0)
        XCTAssertEqual(y.st(0), .indefinite)
        let z = X87Bench()
        z.push(-4.0); z.run(.fsqrt)
        XCTAssertEqual(z.st(0), .indefinite)
    }

    func testDivideByZeroMaskedAndUnmasked() {
        let x = X87Bench()
        x.push(-3.0); x.push(0.0); x.run(.fdivp, 1, 0)
        XCTAssertEqual(x.st(0), .infinity(negative: true))
        XCTAssertEqual(x.status & 0x3F, X87Status.zeroDivide)
        let y = X87Bench()
        y.setControl(0x037B) // ZM clear
        y.push(-3.0); y.push(0.0); y.run(.fdivp, 1, 0)
        XCTAssertEqual(y.top, 6, "no pop on an unmasked #Z")
        XCTAssertEqual(y.st(1), ExtendedReal(-3.0), "destination unchanged")
        XCTAssertEqual(y.status & 0x80BF, 0x8084, "ZE ES B")
    }

    func testNaNPropagation() {
        // SDM vol. 1, table 4-7.
        let q1 = ext(0x7FFF, 0xC000_0000_0000_0001), q2 = ext(0xFFFF, 0xC000_0000_0000_0002)
        let s3 = ext(0x7FFF, 0x8000_0000_0000_0003)
        let x = X87Bench()
        x.push(q1); x.push(q2); x.run(.faddp, 1, 0)
        XCTAssertEqual(x.st(0), q2, "two QNaNs: the larger significand")
        XCTAssertEqual(x.status & X87Status.invalid, 0)
        let y = X87Bench()
        y.push(s3); y.push(q1); y.run(.fmulp, 1, 0)
        XCTAssertEqual(y.st(0), q1, "SNaN and QNaN: the QNaN")
        XCTAssertEqual(y.status & X87Status.invalid, X87Status.invalid)
        let z = X87Bench()
        z.push(s3); z.push(2.0); z.run(.fsubp, 1, 0)
        XCTAssertEqual(z.st(0), ext(0x7FFF, 0xC000_0000_0000_0003), "SNaN quieted")
    }

    func testUnnormalIsAnInvalidOperand() {
        let x = X87Bench()
        x.push(ext(0x4000, 0x4000_0000_0000_0000)) // exponent ≠ 0 without integer bit
        x.push(1.0)
        x.run(.faddp, 1, 0)
        XCTAssertEqual(x.st(0), .indefinite)
        XCTAssertEqual(x.status & X87Status.invalid, X87Status.invalid)
    }

    func testDenormalOperandAndUnderflow() {
        let x = X87Bench()
        let tiny = ext(0, 0x4000_0000_0000_0000) // 2^-16383, a denormal
        x.push(tiny); x.push(1.0)
        x.run(.fmulp, 1, 0)
        XCTAssertEqual(x.st(0), tiny, "exact denormal result")
        XCTAssertEqual(x.status & 0x3F, X87Status.denormal, "#D; an exact tiny result raises no #U when masked")
        x.push(0.75)
        x.run(.fmulp, 1, 0) // 1.5 × 2^-16384: still exact as a denormal
        XCTAssertEqual(x.st(0), ext(0, 0x3000_0000_0000_0000))
        XCTAssertEqual(x.status & 0x3F, X87Status.denormal)
        x.push(ext(0, 0x0000_0000_0000_0003)); x.push(0.5)
        x.run(.fmulp, 1, 0) // 1.5 ulp of the denormal range → 2 (ties to even)
        XCTAssertEqual(x.st(0), ext(0, 2))
        XCTAssertEqual(x.status & 0x3F, X87Status.denormal | X87Status.underflow | X87Status.precision)
    }

    func testUnmaskedUnderflowDeliversBiasAdjustedResult() {
        // 2^-16000 × 2^-16000 = 2^-32000; unmasked #U delivers it × 2^24576.
        let x = X87Bench()
        x.setControl(0x036F) // UM clear
        x.push(ext(UInt16(16383 - 16000), 1 << 63)); x.push(ext(UInt16(16383 - 16000), 1 << 63))
        x.run(.fmulp, 1, 0)
        XCTAssertEqual(x.st(0), ext(UInt16(16383 - 32000 + 24576), 1 << 63))
        XCTAssertEqual(x.status & 0x80FF, 0x8090, "UE ES B; exact, so no PE")
    }

    func testMaskedOverflowPerRoundingMode() {
        let big = ext(0x7FFE, 0x8000_0000_0000_0000)
        let results: [(UInt16, ExtendedReal)] = [(0, .infinity(negative: false)), (3, ext(0x7FFE, UInt64.max)),
                                                 (2, .infinity(negative: false)), (1, ext(0x7FFE, UInt64.max))]
        for (rc, expected) in results {
            let x = X87Bench()
            x.setRounding(rc)
            x.push(big); x.push(big); x.run(.faddp, 1, 0)
            XCTAssertEqual(x.st(0), expected, "RC \(rc)")
            XCTAssertEqual(x.status & 0x3F, X87Status.overflow | X87Status.precision)
        }
    }

    func testSquareRoot() {
        let x = X87Bench()
        x.push(2.0); x.run(.fsqrt)
        // √2 = 1.6A09E667F3BCC908B2FB…h: 64 bits B504F333F9DE6484, rest 597D… < half.
        XCTAssertEqual(x.st(0), ext(0x3FFF, 0xB504_F333_F9DE_6484))
        XCTAssertEqual(x.status & X87Status.c1, 0)
        x.push(2.25); x.run(.fsqrt)
        XCTAssertEqual(x.st(0), ExtendedReal(1.5))
        XCTAssertEqual(x.status & 0x3F, X87Status.precision, "only the first root was inexact")
        x.push(-0.0); x.run(.fsqrt)
        XCTAssertEqual(x.st(0), ext(0x8000, 0))
    }

    func testComparesSetConditionCodes() {
        let x = X87Bench()
        x.push(1.0); x.push(2.0) // ST0 = 2, ST1 = 1
        x.run(X87Bench.instruction(.fcom, X87Bench.st(1)))
        XCTAssertEqual(x.conditionCodes & 0b1101, 0b0000, "greater")
        x.run(X87Bench.instruction(.fxch, X87Bench.st(1)))
        x.run(X87Bench.instruction(.fcom, X87Bench.st(1)))
        XCTAssertEqual(x.conditionCodes & 0b1101, 0b0001, "less: C0")
        x.run(.fld, 0, 0)
        x.run(X87Bench.instruction(.fcomp, X87Bench.st(1)))
        XCTAssertEqual(x.conditionCodes & 0b1101, 0b1000, "equal: C3")
        XCTAssertEqual(x.top, 6)
        x.run(.fcompp)
        XCTAssertEqual(x.top, 0)
        XCTAssertEqual(x.status & X87Status.invalid, 0)
    }

    func testUnorderedComparesAndQuietNaNs() {
        let x = X87Bench()
        x.push(1.0); x.push(Float80.nan)
        x.run(X87Bench.instruction(.fucom, X87Bench.st(1)))
        XCTAssertEqual(x.conditionCodes & 0b1101, 0b1101, "unordered")
        XCTAssertEqual(x.status & X87Status.invalid, 0, "FUCOM: QNaN is not invalid")
        x.run(X87Bench.instruction(.fcom, X87Bench.st(1)))
        XCTAssertEqual(x.status & X87Status.invalid, X87Status.invalid, "FCOM: any NaN is invalid")
    }

    func testFCOMISetsEFLAGS() {
        let x = X87Bench()
        x.cpu.state.pointee.eflags = 0x2 | EFLAGS.of | EFLAGS.sf | EFLAGS.af
        x.push(3.0); x.push(2.0)
        x.run(X87Bench.instruction(.fcomi, X87Bench.st(0), X87Bench.st(1)))
        XCTAssertEqual(x.cpu.state.pointee.eflags & 0x8D5, EFLAGS.cf, "less: CF; OF SF AF cleared")
        x.push(Float80.nan)
        x.run(X87Bench.instruction(.fucomip, X87Bench.st(0), X87Bench.st(1)))
        XCTAssertEqual(x.cpu.state.pointee.eflags & 0x45, EFLAGS.zf | EFLAGS.pf | EFLAGS.cf)
        XCTAssertEqual(x.top, 6)
    }

    func testFTSTAndFICOM() {
        let x = X87Bench()
        x.push(-0.0); x.run(.ftst)
        XCTAssertEqual(x.conditionCodes & 0b1101, 0b1000, "−0 equals 0")
        x.push(7.0)
        x.poke(UInt16(8))
        x.run(X87Bench.memory(.ficom, size: 2))
        XCTAssertEqual(x.conditionCodes & 0b1101, 0b0001)
    }

    func testFXAMClasses() {
        // SDM vol. 2, FXAM: C3 C2 C0 and C1 = sign.
        let cases: [(ExtendedReal?, Int)] = [
            (ext(0x3FFF, 1 << 63), 0b0100),              // normal
            (ext(0xFFFF, 1 << 63), 0b0111),              // −∞ (C1 set)
            (ext(0x0000, 0), 0b1000),                     // +0
            (ext(0x0000, 0x0000_0000_0000_0001), 0b1100), // denormal
            (ext(0x7FFF, 0xC000_0000_0000_0000), 0b0001), // NaN
            (ext(0x4000, 0x4000_0000_0000_0000), 0b0000), // unnormal: unsupported
            (nil, 0b1001),                                // empty
        ]
        for (value, expected) in cases {
            let x = X87Bench()
            if let v = value { x.push(v) }
            x.run(.fxam)
            let sign = value?.isNegative == true ? 0b0010 : 0
            XCTAssertEqual(x.conditionCodes, expected | sign, "\(String(describing: value))")
        }
    }

    func testFPREMQuotientBits() {
        // 26 rem 5: Q = 5 = 101b → C0 = Q2 = 1, C3 = Q1 = 0, C1 = Q0 = 1; remainder 1.
        let x = X87Bench()
        x.push(5.0); x.push(26.0); x.run(.fprem)
        XCTAssertEqual(x.st(0), ExtendedReal(1.0))
        XCTAssertEqual(x.conditionCodes, 0b0011)
        // −10 rem 3: Q = 3 → C0 0, C3 1, C1 1; remainder has the dividend's sign.
        let y = X87Bench()
        y.push(3.0); y.push(-10.0); y.run(.fprem)
        XCTAssertEqual(y.st(0), ExtendedReal(-1.0))
        XCTAssertEqual(y.conditionCodes, 0b1010)
    }

    func testFPREM1RoundsQuotientToNearest() {
        // 8 / 3 = 2.67 → Q = 3, remainder 8 − 9 = −1.
        let x = X87Bench()
        x.push(3.0); x.push(8.0); x.run(.fprem1)
        XCTAssertEqual(x.st(0), ExtendedReal(-1.0))
        XCTAssertEqual(x.conditionCodes, 0b1010)
        // 7.5 / 5 = 1.5 → ties to even: Q = 2, remainder −2.5.
        let y = X87Bench()
        y.push(5.0); y.push(7.5); y.run(.fprem1)
        XCTAssertEqual(y.st(0), ExtendedReal(-2.5))
    }

    func testFPREMPartialReductionConverges() {
        // 2^100 mod 3 = 1 (4^50 ≡ 1). The first FPREM cannot finish (C2 = 1).
        let x = X87Bench()
        x.push(3.0); x.push(ext(0x3FFF + 100, 1 << 63))
        x.run(.fprem)
        XCTAssertNotEqual(x.status & X87Status.c2, 0)
        var rounds = 1
        XCTAssertEqual(x.conditionCodes & 0b1011, 0, "C0 C1 C3 read 0 while incomplete")
        while x.status & X87Status.c2 != 0 && rounds < 10 { x.run(.fprem); rounds += 1 }
        XCTAssertEqual(x.st(0), ExtendedReal(1.0))
        XCTAssertGreaterThan(rounds, 1)
    }

    func testFSCALEFXTRACTFRNDINT() {
        let x = X87Bench()
        x.push(3.7); x.push(1.5); x.run(.fscale) // 1.5 × 2^trunc(3.7)
        XCTAssertEqual(x.st(0), ExtendedReal(12.0))
        let y = X87Bench()
        y.push(-10.0); y.run(.fxtract)
        XCTAssertEqual(y.st(0), ExtendedReal(-1.25))
        XCTAssertEqual(y.st(1), ExtendedReal(3.0))
        let z = X87Bench()
        z.push(0.0); z.run(.fxtract)
        XCTAssertEqual(z.st(1), .infinity(negative: true))
        XCTAssertEqual(z.status & 0x3F, X87Status.zeroDivide)
        let w = X87Bench()
        w.push(2.5); w.run(.frndint)
        XCTAssertEqual(w.st(0), ExtendedReal(2.0))
        XCTAssertEqual(w.status & 0x3F, X87Status.precision)
        w.setRounding(2)
        w.push(-0.25); w.run(.frndint)
        XCTAssertEqual(w.st(0), ext(0x8000, 0), "−0.25 rounded up is −0")
    }

    func testFCHSFABS() {
        let x = X87Bench()
        x.push(2.0); x.run(.fchs)
        XCTAssertEqual(x.st(0), ExtendedReal(-2.0))
        x.run(.fabs)
        XCTAssertEqual(x.st(0), ExtendedReal(2.0))
    }

    func testTrigonometricReductionUsesTheSixtySixBitPi() {
        // SDM vol. 1, 8.3.10: the argument is reduced with a 66-bit π,
        // …C234 followed by binary 11. FLDPI's 64-bit value …C235 exceeds
        // it by exactly 2^-64, so FSIN(FLDPI) is −2^-64 (not the true
        // sin of that number, −5.0165e-20), and FCOS(FLDPI/2) is −2^-65.
        let x = X87Bench()
        x.run(.fldpi); x.run(.fsin)
        XCTAssertEqual(x.st(0), ext(0xBFBF, 1 << 63))
        XCTAssertEqual(x.status & X87Status.c2, 0)
        let y = X87Bench()
        y.push(ext(0x3FFF, 0xC90F_DAA2_2168_C235)); y.run(.fcos)
        XCTAssertEqual(y.st(0), ext(0xBFBE, 1 << 63))
    }

    func testTinyTrigonometricArgumentsRoundExactly() {
        // sin x = x − x³/6 lies just below x: nearest gives x (rounded up,
        // C1 = 1), toward zero the next value down.
        let x = X87Bench()
        x.push(ext(0x3FFF - 40, 0xC000_0000_0000_0000)); x.run(.fsin)
        XCTAssertEqual(x.st(0), ext(0x3FFF - 40, 0xC000_0000_0000_0000))
        XCTAssertNotEqual(x.status & X87Status.c1, 0)
        let y = X87Bench()
        y.setRounding(3)
        y.push(ext(0x3FFF - 40, 0xC000_0000_0000_0000)); y.run(.fsin)
        XCTAssertEqual(y.st(0), ext(0x3FFF - 40, 0xBFFF_FFFF_FFFF_FFFF))
        y.push(ext(0x3FFF - 40, 0xC000_0000_0000_0000)); y.run(.fcos)
        XCTAssertEqual(y.st(0), ext(0x3FFE, UInt64.max), "cos just below 1, chopped")
    }

    func testTranscendentals() {
        let x = X87Bench()
        x.push(0.0); x.run(.fptan)
        XCTAssertEqual(x.st(0), ExtendedReal(1.0), "FPTAN pushes 1.0")
        XCTAssertEqual(x.st(1), ext(0, 0))
        XCTAssertEqual(x.status & X87Status.precision, 0, "tan 0 is exact")
        let y = X87Bench()
        y.push(ext(0x3FFF + 63, 1 << 63)); y.run(.fsin) // 2^63: out of range
        XCTAssertNotEqual(y.status & X87Status.c2, 0)
        XCTAssertEqual(y.st(0), ext(0x3FFF + 63, 1 << 63), "operand unchanged")
        let z = X87Bench()
        z.push(1.0); z.run(.f2xm1)
        XCTAssertEqual(z.st(0), ExtendedReal(1.0))
        z.push(3.0); z.push(8.0); z.run(.fyl2x) // 3 × log2 8 = 9
        XCTAssertEqual(z.st(0), ExtendedReal(9.0))
        XCTAssertEqual(z.status & X87Status.precision, 0)
        let w = X87Bench()
        w.push(1.0); w.push(1.0); w.run(.fpatan) // atan2(1, 1) = π/4
        XCTAssertEqual(w.st(0).float80, Float80.pi / 4, accuracy: Float80.pi.ulp)
        w.push(0.5); w.run(.fsincos)
        XCTAssertEqual(w.st(0).float80, cosl(0.5), accuracy: 1e-18)
        XCTAssertEqual(w.st(1).float80, sinl(0.5), accuracy: 1e-18)
    }
}
