import XCTest
@testable import CPU

/// Cases where the SDM leaves the answer open or states it loosely, held
/// to what a real x87 (the differential harness's host, Tests/hostcpu)
/// was observed to do: the inputs and outputs are the host's bit
/// patterns, not this interpreter's.
final class X87HostReferenceTests: XCTestCase {
    func testSuppressedResultClearsC1() {
        // FADD with an unmasked #D: nothing stored, C1 = 0.
        let x = X87Bench()
        x.setControl(0x037D)
        x.push(1.0); x.push(ext(0, 1))
        x.cpu.fpuStatusWord |= X87Status.c1
        x.run(.fadd, 0, 1)
        XCTAssertEqual(x.status & X87Status.c1, 0)
        XCTAssertEqual(x.st(0), ext(0, 1))
        XCTAssertNotEqual(x.status & X87Status.errorSummary, 0)
    }

    func testFCMOVLeavesC1() {
        let x = X87Bench()
        x.push(1.0); x.push(2.0)
        x.cpu.fpuStatusWord |= X87Status.c1
        x.run(X87Bench.instruction(.fcmov, X87Bench.st(0), X87Bench.st(1), condition: 4)) // FCMOVE
        XCTAssertNotEqual(x.status & X87Status.c1, 0)
    }

    func testFFREEPFreesBothRegisterAndTop() {
        let x = X87Bench()
        x.push(1.0); x.push(2.0); x.push(3.0)
        let top = x.top
        x.run(X87Bench.instruction(.ffreep, X87Bench.st(2)))
        XCTAssertEqual(x.top, (top + 1) & 7)
        XCTAssertTrue(x.cpu.isEmpty(1), "the old ST(2)")
        XCTAssertTrue(x.cpu.isEmpty(7), "the old ST(0), popped")
        XCTAssertFalse(x.cpu.isEmpty(0))
    }

    func testFSCALEBeyondTheBiasAdjustedRange() {
        // Unmasked #U too deep for the bias adjustment: a signed zero.
        let x = X87Bench()
        x.setControl(0x072F) // UM clear, RC down
        x.push(-1073741824.0); x.push(-1.5)
        x.run(.fscale)
        XCTAssertEqual(x.st(0), ext(0x8000, 0))
        XCTAssertEqual(x.status & (X87Status.underflow | X87Status.precision | X87Status.c1),
                       X87Status.underflow | X87Status.precision)
        // Unmasked #O beyond it: ∞ even when rounding toward zero.
        let y = X87Bench()
        y.setControl(0x0F37) // OM clear, RC toward zero
        y.push(1073741824.0); y.push(1.5)
        y.run(.fscale)
        XCTAssertEqual(y.st(0), .infinity(negative: false))
        XCTAssertNotEqual(y.status & X87Status.overflow, 0)
    }

    func testTinyTranscendentalsRoundOnceAndBiasAdjust() {
        let a = X87Bench()
        a.setControl(0x026A) // UM unmasked: the bias-adjusted result
        a.push(ext(0x0000, 0x5D14_D908_FA03_96CF))
        a.run(.f2xm1)
        XCTAssertEqual(a.st(0), ext(0x6000, 0x8109_CC1D_AB84_F88E))
        XCTAssertNotEqual(a.status & X87Status.underflow, 0)

        let b = X87Bench()
        b.push(ext(0x4010, 0xD3BB_4000_0000_0000)); b.push(ext(0x8000, 0x07E9_7F4C_8C70_C4B9))
        b.run(.fyl2xp1)
        XCTAssertEqual(b.st(0), ext(0x800F, 0x970D_C4E3_46C6_6171))

        let c = X87Bench()
        c.setControl(0x0F66) // IM, OM, UM unmasked
        c.push(ext(0x8000, 0x531E_1A2E_CE39_7F8F)); c.push(ext(0x5930, 0xE175_4913_E875_1B39))
        c.run(.fpatan)
        XCTAssertEqual(c.st(0), ext(0xC6CE, 0xBCC1_1CB3_7B75_1675))
        XCTAssertNotEqual(c.status & X87Status.underflow, 0)
        XCTAssertNotEqual(c.status & X87Status.errorSummary, 0)
    }
}
