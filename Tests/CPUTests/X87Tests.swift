import XCTest
@testable import CPU
@testable import MMU

/// Runs hand-built x87 `Instruction`s on a flat 32-bit CPU (the decoder
/// is separate work) and reads and writes the operands they use.
final class X87Bench {
    let bench = CPUTestBench()
    var cpu: CPU { bench.cpu }
    static let data: UInt32 = 0x2000

    init(realMode: Bool = false) {
        if realMode { bench.realMode(code: [0x90]) } else { bench.flat32(code: [0x90]) }
        cpu.state.pointee.cr0 |= CPU.cr0NE
        cpu.initializeFPU()
    }

    /// An instruction with the given operands; `opcode`/`modrm` only
    /// matter for FOP.
    static func instruction(_ op: Op, _ a: Operand = .none, _ b: Operand = .none,
                            opcode: UInt16 = 0xD8, modrm: UInt8 = 0, condition: UInt8 = 0) -> Instruction {
        var i = Instruction()
        i.op = op
        i.operands = (a, b, .none)
        i.opcode = opcode
        i.modrm = modrm
        i.hasModRM = true
        i.operandSize = 4
        i.addressSize = 4
        i.condition = condition
        return i
    }

    static func st(_ n: UInt8) -> Operand { Operand(.fpuStack, size: 10, register: n) }

    /// An instruction on the memory operand DS:[address] of `size` bytes.
    static func memory(_ op: Op, size: UInt8, at address: UInt32 = data, opcode: UInt16 = 0xD8, modrm: UInt8 = 0x05) -> Instruction {
        var i = instruction(op, Operand(.memory, size: size), opcode: opcode, modrm: modrm)
        i.displacement = address
        return i
    }

    @discardableResult
    func run(_ i: Instruction) -> CPUFault? {
        do {
            try cpu.executeX87(i)
            return nil
        } catch {
            return error
        }
    }

    func run(_ op: Op) { XCTAssertNil(run(X87Bench.instruction(op))) }
    func run(_ op: Op, _ a: UInt8, _ b: UInt8) { XCTAssertNil(run(X87Bench.instruction(op, X87Bench.st(a), X87Bench.st(b)))) }

    // MARK: - Memory

    func poke(_ bytes: [UInt8], at address: UInt32 = data) { bench.memory.copyIn(address, bytes) }
    func peek(_ count: Int, at address: UInt32 = data) -> [UInt8] { bench.memory.copyOut(address, count: count) }
    func poke<T: FixedWidthInteger>(_ v: T, at address: UInt32 = data) {
        poke((0..<MemoryLayout<T>.size).map { UInt8(truncatingIfNeeded: v >> ($0 * 8)) }, at: address)
    }
    func peek<T: FixedWidthInteger>(_ type: T.Type, at address: UInt32 = data) -> T {
        peek(MemoryLayout<T>.size, at: address).enumerated().reduce(T(0)) { $0 | T($1.element) << ($1.offset * 8) }
    }

    // MARK: - Values

    /// FLD m80 of an exact bit pattern.
    func push(_ v: ExtendedReal) {
        poke(v.significand, at: 0x3000)
        poke(v.signExponent, at: 0x3008)
        XCTAssertNil(run(X87Bench.memory(.fld, size: 10, at: 0x3000)))
    }
    func push(_ v: Float80) { push(ExtendedReal(v)) }
    func push(_ v: Double) { push(Float80(v)) }

    func st(_ i: Int) -> ExtendedReal { cpu.st(i) }
    var status: UInt16 { cpu.fpuStatusWord }
    var top: Int { cpu.fpuTop }

    func setControl(_ word: UInt16) {
        poke(word, at: 0x3100)
        XCTAssertNil(run(X87Bench.memory(.fldcw, size: 2, at: 0x3100)))
    }
    /// FCW with all exceptions masked, 64-bit precision, and `rc`.
    func setRounding(_ rc: UInt16, precision: UInt16 = 3) { setControl(0x003F | precision << 8 | rc << 10) }

    /// C3 C2 C1 C0 as a 4-bit number (C3 highest).
    var conditionCodes: Int {
        let s = status
        return (s & X87Status.c3 != 0 ? 8 : 0) | (s & X87Status.c2 != 0 ? 4 : 0)
            | (s & X87Status.c1 != 0 ? 2 : 0) | (s & X87Status.c0 != 0 ? 1 : 0)
    }
}

func ext(_ signExponent: UInt16, _ significand: UInt64) -> ExtendedReal {
    ExtendedReal(significand: significand, signExponent: signExponent)
}

/// Register stack, tags, loads, stores, conversions and constants.
final class X87StackTests: XCTestCase {
    func testInitialStateAfterFNINIT() {
        let x = X87Bench()
        XCTAssertEqual(x.cpu.fpuControlWord, 0x037F) // SDM vol. 1, table 8-4
        XCTAssertEqual(x.status, 0)
        XCTAssertEqual(x.cpu.state.pointee.fpu.tags, 0xFFFF)
    }

    func testPushDecrementsTopAndTagsByClass() {
        let x = X87Bench()
        x.push(1.0)
        XCTAssertEqual(x.top, 7)
        x.push(0.0)
        x.push(Float80.infinity)
        XCTAssertEqual(x.top, 5)
        // R7 = 1.0 valid (00), R6 = 0 zero (01), R5 = ∞ special (10).
        XCTAssertEqual(x.cpu.state.pointee.fpu.tags, 0b00_01_10_11_11_11_11_11)
        XCTAssertEqual(x.st(2), ExtendedReal(1.0))
    }

    func testStackOverflowSetsInvalidStackFaultC1AndPushesIndefinite() {
        let x = X87Bench()
        for k in 0..<8 { x.push(Double(k)) }
        XCTAssertEqual(x.status & 0x7F, 0)
        x.push(100.0)
        XCTAssertEqual(x.status & 0x41, 0x41, "IE and SF")
        XCTAssertNotEqual(x.status & X87Status.c1, 0, "C1 = 1: overflow")
        XCTAssertEqual(x.st(0), .indefinite)
        XCTAssertEqual(x.st(0), ext(0xFFFF, 0xC000_0000_0000_0000))
    }

    func testUnmaskedStackOverflowLeavesTheStack() {
        let x = X87Bench()
        for k in 0..<8 { x.push(Double(k)) }
        x.setControl(0x037E) // IM clear
        x.push(100.0)
        XCTAssertEqual(x.top, 0)
        XCTAssertEqual(x.st(0), ExtendedReal(7.0))
        XCTAssertEqual(x.status & 0x80C1, 0x80C1, "IE SF ES B")
    }

    func testStackUnderflowClearsC1AndYieldsIndefinite() {
        let x = X87Bench()
        x.push(2.0)
        x.run(.fadd, 0, 1) // ST(1) is empty
        XCTAssertEqual(x.status & 0x41, 0x41)
        XCTAssertEqual(x.status & X87Status.c1, 0)
        XCTAssertEqual(x.st(0), .indefinite)
    }

    func testLoadSingleAndDoubleWidenExactly() {
        let x = X87Bench()
        x.poke(UInt32(0x3EAA_AAAB)) // 0.3333333432674407958984375f
        x.run(X87Bench.memory(.fld, size: 4))
        XCTAssertEqual(x.st(0), ext(0x3FFD, 0xAAAA_AB00_0000_0000))
        x.poke(UInt64(0xC009_21FB_5444_2D18)) // −π as a double
        x.run(X87Bench.memory(.fld, size: 8))
        XCTAssertEqual(x.st(0), ext(0xC000, 0xC90F_DAA2_2168_C000))
        XCTAssertEqual(x.status & 0x3F, 0)
    }

    func testLoadDenormalSingleRaisesDenormal() {
        let x = X87Bench()
        x.poke(UInt32(0x0000_0001)) // 2^-149
        x.run(X87Bench.memory(.fld, size: 4))
        XCTAssertEqual(x.status & X87Status.denormal, X87Status.denormal)
        XCTAssertEqual(x.st(0), ext(UInt16(16383 - 149), 1 << 63), "normal in extended")
    }

    func testLoadSignalingNaNQuietsAndRaisesInvalid() {
        let x = X87Bench()
        x.poke(UInt32(0x7F80_0001))
        x.run(X87Bench.memory(.fld, size: 4))
        XCTAssertEqual(x.status & X87Status.invalid, X87Status.invalid)
        XCTAssertEqual(x.st(0), ext(0x7FFF, 0xC000_0100_0000_0000))
        // m80 SNaNs load as they are, without #IA.
        let y = X87Bench()
        y.push(ext(0x7FFF, 0x8000_0000_0000_0001))
        XCTAssertEqual(y.status & X87Status.invalid, 0)
        XCTAssertEqual(y.st(0), ext(0x7FFF, 0x8000_0000_0000_0001))
    }

    func testStoreDoubleAndSingleRoundPerRC() {
        let x = X87Bench()
        x.push(1.0); x.push(3.0); x.run(.fdivp, 1, 0) // 1/3
        x.run(X87Bench.memory(.fst, size: 8))
        XCTAssertEqual(x.peek(UInt64.self), 0x3FD5_5555_5555_5555) // IEEE double 1/3
        x.run(X87Bench.memory(.fst, size: 4))
        XCTAssertEqual(x.peek(UInt32.self), 0x3EAA_AAAB) // IEEE single 1/3 (rounded up)
        XCTAssertNotEqual(x.status & X87Status.c1, 0, "rounded up")
        XCTAssertNotEqual(x.status & X87Status.precision, 0)
        x.setRounding(3)
        x.run(X87Bench.memory(.fst, size: 4))
        XCTAssertEqual(x.peek(UInt32.self), 0x3EAA_AAAA)
        XCTAssertEqual(x.status & X87Status.c1, 0)
    }

    func testStoreSingleOverflowGivesInfinityWithOverflowAndPrecision() {
        let x = X87Bench()
        x.push(1e300)
        x.run(X87Bench.memory(.fstp, size: 4))
        XCTAssertEqual(x.peek(UInt32.self), 0x7F80_0000)
        XCTAssertEqual(x.status & 0x3F, X87Status.overflow | X87Status.precision)
        XCTAssertEqual(x.top, 0, "popped")
        // Toward zero: the largest single instead.
        let y = X87Bench()
        y.setRounding(3)
        y.push(-1e300)
        y.run(X87Bench.memory(.fstp, size: 4))
        XCTAssertEqual(y.peek(UInt32.self), 0xFF7F_FFFF)
    }

    func testUnmaskedOverflowOnStoreLeavesMemoryAndStack() {
        let x = X87Bench()
        x.setControl(0x0377) // OM clear
        x.push(1e300)
        x.poke(UInt32(0x1234_5678))
        x.run(X87Bench.memory(.fstp, size: 4))
        XCTAssertEqual(x.peek(UInt32.self), 0x1234_5678)
        XCTAssertEqual(x.top, 7, "not popped")
        XCTAssertNotEqual(x.status & X87Status.errorSummary, 0)
    }

    func testStoreSingleDenormalUnderflows() {
        let x = X87Bench()
        x.push(Float80(sign: .plus, exponent: -140, significand: 1)) // 2^-140: a single denormal
        x.run(X87Bench.memory(.fst, size: 4))
        XCTAssertEqual(x.peek(UInt32.self), 0x0000_0200) // 2^-140 = 2^9 × 2^-149, exact
        XCTAssertEqual(x.status & 0x3F, 0, "exact: no #U when masked")
        x.push(Float80(sign: .plus, exponent: -140, significand: 1) * 1.25)
        x.run(X87Bench.memory(.fst, size: 4))
        XCTAssertEqual(x.peek(UInt32.self), 0x0000_0280)
        x.push(Float80(sign: .plus, exponent: -149, significand: 1) * 1.5) // 1.5 × 2^-149 → tie → 2 × 2^-149
        x.run(X87Bench.memory(.fst, size: 4))
        XCTAssertEqual(x.peek(UInt32.self), 0x0000_0002)
        XCTAssertEqual(x.status & 0x3F, X87Status.underflow | X87Status.precision)
    }

    func testFISTRoundsPerRoundingControl() {
        // 2.5 and −2.5 under each RC (SDM vol. 1, table 4-8).
        let expected: [(rc: UInt16, plus: Int16, minus: Int16)] = [(0, 2, -2), (1, 2, -3), (2, 3, -2), (3, 2, -2)]
        for e in expected {
            let x = X87Bench()
            x.setRounding(e.rc)
            x.push(2.5)
            x.run(X87Bench.memory(.fist, size: 2))
            XCTAssertEqual(Int16(bitPattern: x.peek(UInt16.self)), e.plus, "RC \(e.rc)")
            XCTAssertNotEqual(x.status & X87Status.precision, 0)
            x.push(-2.5)
            x.run(X87Bench.memory(.fistp, size: 2))
            XCTAssertEqual(Int16(bitPattern: x.peek(UInt16.self)), e.minus, "RC \(e.rc)")
        }
        let x = X87Bench()
        x.push(3.5)
        x.run(X87Bench.memory(.fistp, size: 4))
        XCTAssertEqual(x.peek(UInt32.self), 4, "ties to even")
    }

    func testFISTOutOfRangeStoresIntegerIndefinite() {
        let x = X87Bench()
        x.push(32768.0)
        x.run(X87Bench.memory(.fistp, size: 2))
        XCTAssertEqual(x.peek(UInt16.self), 0x8000)
        XCTAssertEqual(x.status & X87Status.invalid, X87Status.invalid)
        x.push(-32768.0)
        x.run(X87Bench.memory(.fistp, size: 2))
        XCTAssertEqual(x.peek(UInt16.self), 0x8000)
        x.push(Float80.nan)
        x.run(X87Bench.memory(.fistp, size: 8))
        XCTAssertEqual(x.peek(UInt64.self), 0x8000_0000_0000_0000)
        x.push(-9.2233720368547758e18) // −2^63 fits
        x.run(X87Bench.memory(.fistp, size: 8))
        XCTAssertEqual(x.peek(UInt64.self), 0x8000_0000_0000_0000)
    }

    func testFILDAndFISTPRoundTripExtremes() {
        let x = X87Bench()
        for v: Int64 in [Int64.min, Int64.max, -1, 0, 123_456_789_012] {
            x.poke(UInt64(bitPattern: v))
            x.run(X87Bench.memory(.fild, size: 8))
            x.poke(UInt64(0))
            x.run(X87Bench.memory(.fistp, size: 8))
            XCTAssertEqual(Int64(bitPattern: x.peek(UInt64.self)), v)
        }
        x.poke(UInt16(0xFFFE))
        x.run(X87Bench.memory(.fild, size: 2))
        XCTAssertEqual(x.st(0), ExtendedReal(-2.0))
        XCTAssertEqual(x.status & 0x3F, 0)
    }

    func testFBSTPPacksDecimalDigits() {
        let x = X87Bench()
        x.push(12345.0)
        x.run(X87Bench.memory(.fbstp, size: 10))
        XCTAssertEqual(x.peek(10), [0x45, 0x23, 0x01, 0, 0, 0, 0, 0, 0, 0x00])
        x.push(-12345.0)
        x.run(X87Bench.memory(.fbstp, size: 10))
        XCTAssertEqual(x.peek(10), [0x45, 0x23, 0x01, 0, 0, 0, 0, 0, 0, 0x80])
        x.push(1e18) // 19 digits: invalid, BCD indefinite FFFF C000 0000 0000 0000h
        x.run(X87Bench.memory(.fbstp, size: 10))
        XCTAssertEqual(x.peek(10), [0, 0, 0, 0, 0, 0, 0, 0xC0, 0xFF, 0xFF])
        XCTAssertEqual(x.status & X87Status.invalid, X87Status.invalid)
    }

    func testFBLDReadsDecimalDigits() {
        let x = X87Bench()
        x.poke([0x89, 0x67, 0x45, 0x23, 0x01, 0, 0, 0, 0x99, 0x80])
        x.run(X87Bench.memory(.fbld, size: 10))
        XCTAssertEqual(x.st(0), ExtendedReal(-990_000_000_123_456_789 as Float80))
    }

    func testConstantsRoundPerRC() {
        // SDM vol. 1, 8.3.8: the 64-bit values under round-to-nearest are
        // the correctly rounded constants.
        let nearest: [(Op, ExtendedReal)] = [
            (.fld1, ext(0x3FFF, 0x8000_0000_0000_0000)), (.fldz, ext(0, 0)),
            (.fldpi, ext(0x4000, 0xC90F_DAA2_2168_C235)), (.fldl2t, ext(0x4000, 0xD49A_784B_CD1B_8AFE)),
            (.fldl2e, ext(0x3FFF, 0xB8AA_3B29_5C17_F0BC)), (.fldlg2, ext(0x3FFD, 0x9A20_9A84_FBCF_F799)),
            (.fldln2, ext(0x3FFE, 0xB172_17F7_D1CF_79AC)),
        ]
        let x = X87Bench()
        for (op, value) in nearest {
            x.run(op)
            XCTAssertEqual(x.st(0), value, "\(op)")
        }
        XCTAssertEqual(x.status & 0x3F, 0, "constants raise no #P")
        let chop = X87Bench()
        chop.setRounding(3)
        chop.run(.fldpi)
        XCTAssertEqual(chop.st(0), ext(0x4000, 0xC90F_DAA2_2168_C234))
        let up = X87Bench()
        up.setRounding(2)
        up.run(.fldl2t)
        XCTAssertEqual(up.st(0), ext(0x4000, 0xD49A_784B_CD1B_8AFF))
        up.run(.fld1)
        XCTAssertEqual(up.st(0), ext(0x3FFF, 0x8000_0000_0000_0000))
    }

    func testFXCHSwapsAndFCMOVFollowsEFLAGS() {
        let x = X87Bench()
        x.push(1.0); x.push(2.0)
        x.run(X87Bench.instruction(.fxch, X87Bench.st(1)))
        XCTAssertEqual(x.st(0), ExtendedReal(1.0))
        XCTAssertEqual(x.st(1), ExtendedReal(2.0))
        x.cpu.state.pointee.eflags |= EFLAGS.cf
        x.run(X87Bench.instruction(.fcmov, X87Bench.st(0), X87Bench.st(1), condition: 2)) // FCMOVB: CF = 1
        XCTAssertEqual(x.st(0), ExtendedReal(2.0))
        x.push(5.0)
        x.run(X87Bench.instruction(.fcmov, X87Bench.st(0), X87Bench.st(1), condition: 4)) // FCMOVE: ZF = 0
        XCTAssertEqual(x.st(0), ExtendedReal(5.0))
    }

    func testFSTRegisterAndFFREEAndTopManagement() {
        let x = X87Bench()
        x.push(1.0); x.push(2.0)
        x.run(X87Bench.instruction(.fstp, X87Bench.st(1)))
        XCTAssertEqual(x.top, 7)
        XCTAssertEqual(x.st(0), ExtendedReal(2.0))
        x.run(X87Bench.instruction(.ffree, X87Bench.st(0)))
        XCTAssertTrue(x.cpu.isEmpty(0))
        x.run(.fdecstp)
        XCTAssertEqual(x.top, 6)
        x.run(.fincstp); x.run(.fincstp)
        XCTAssertEqual(x.top, 0)
    }
}
