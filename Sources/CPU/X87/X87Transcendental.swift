import Glibc

/// The x87 transcendental instructions: F2XM1, FYL2X, FYL2XP1, FPTAN,
/// FPATAN, FSIN, FCOS, FSINCOS (SDM vol. 2 per instruction; vol. 1, 8.3.10).
///
/// Special operands (NaNs, infinities, zeros, out-of-range arguments,
/// denormals) follow the SDM's tables exactly. Finite results come from
/// the host libm's long-double functions (`exp2l`, `expm1l`, `log2l`,
/// `log1pl`, `tanl`, `sinl`, `cosl`, `atan2l`) on `Float80`.
/// Known approximations, all within the accuracy the SDM promises
/// (about 1 ulp), but not bit-identical to a P6:
/// - results are rounded to nearest whatever RC says, and C1 (rounded up)
///   is reported as 0 because libm does not say which way it rounded —
///   except for FSIN/FCOS/FSINCOS/FPTAN of |x| < 2^-32, which are exact
///   in every mode (see `trigonometric`);
/// - #P is reported for every result that is not exact by construction
///   (the exact cases are listed per instruction);
/// - FSIN/FCOS/FSINCOS/FPTAN reduce their argument against the same
///   66-bit π the hardware uses (SDM vol. 1, 8.3.10), exactly, and then
///   evaluate on the reduced argument with libm: large arguments come out
///   as inaccurate as on the hardware, and within an ulp or two of it;
/// - a denormal result raises #U with #P; an unmasked #U does not apply
///   the exponent bias adjustment to libm results. The tiny cases where
///   it matters (F2XM1 and FYL2XP1 of |x| < 2^-128, FPATAN of
///   |y/x| < 2^-65 with x > 0) bypass libm: there the function is its
///   first-order term, computed here exactly and rounded once (RC, C1,
///   #U with the bias adjustment all as for FMUL/FDIV).
/// FYL2XP1 forms y·ln(1 + x)·log2 e with a 128-bit log2 e and rounds
/// once, so only libm's ln(1 + x) (about 1 ulp) separates it from the
/// hardware's.
/// FYL2X and FYL2XP1 multiply by y in `ExtendedArithmetic`, so that step
/// does follow RC and PC and reports C1.
extension CPU {
    func executeX87Transcendental(_ i: Instruction) {
        switch i.op {
        case .f2xm1: twoToXMinusOne()
        case .fyl2x: yLog2X(plusOne: false)
        case .fyl2xp1: yLog2X(plusOne: true)
        case .fpatan: arcTangent()
        default: trigonometric(i.op)
        }
    }

    /// A libm result as an x87 outcome: #P unless `exact`, #U for a tiny one.
    private func libmOutcome(_ v: Float80, exact: Bool = false) -> X87Outcome {
        var flags: UInt16 = exact ? 0 : X87Status.precision
        if v.isSubnormal && !exact { flags |= X87Status.underflow }
        return X87Outcome(ExtendedReal(v), exceptions: flags)
    }

    /// The shared prologue of single-operand functions: NaN propagation,
    /// unsupported encodings, #D. nil when `x` is an ordinary number to
    /// compute with.
    private func specialOperand(_ x: ExtendedReal) -> X87Outcome? {
        if x.isNaNOrUnsupported { return ExtendedArithmetic.propagateNaN(x) }
        if x.isDenormal && !fpuControl.masks(X87Status.denormal) {
            return X87Outcome(.indefinite, exceptions: X87Status.denormal)
        }
        return nil
    }

    private func denormalFlag(_ x: ExtendedReal, _ y: ExtendedReal = .zero(negative: false)) -> UInt16 {
        x.isDenormal || y.isDenormal ? X87Status.denormal : 0
    }

    // MARK: - F2XM1

    /// ST(0) ← 2^ST(0) − 1, for −1 ≤ ST(0) ≤ 1. Exact for ±0, 1 and −1.
    private func twoToXMinusOne() {
        if isEmpty(0) { fpuStackUnderflow(destination: 0); return }
        let x = st(0)
        if let special = specialOperand(x) { completeArithmetic(special, destination: 0); return }
        let flags = denormalFlag(x)
        var o: X87Outcome
        if x.isZero {
            o = X87Outcome(x)
        } else if x.isInfinity {
            o = X87Outcome(x.isNegative ? ExtendedReal(-1.0 as Float80) : x)
        } else if x.unpacked.exponent >= 0 && x.magnitude != .one {
            // Outside −1…+1 the result is undefined (SDM); the operand is
            // left as it is with #P, as the reference host's x87 does.
            o = X87Outcome(x, exceptions: X87Status.precision)
        } else if x.unpacked.exponent < -128 {
            // 2^x − 1 = x·ln 2·(1 + x·ln 2/2 + …): below 2^-128 the
            // correction is beyond the sticky bit, so x·ln 2 rounded once
            // is the result — also for a tiny one, which libm's Float80
            // would denormalize before the bias adjustment could apply.
            o = CPU.productWithConstant(x, CPU.ln2, exponent: -1, fpuControl)
        } else {
            let v = x.float80
            if v == 1 || v == -1 {
                o = X87Outcome(ExtendedReal(v == 1 ? 1.0 : -0.5))
            } else {
                // expm1 keeps the precision of small results; away from 0
                // exp2 is the more accurate of the two.
                o = libmOutcome(abs(v) < 0.5 ? expm1l(v * (0.693147180559945309417232121458176568 as Float80))
                                             : exp2l(v) - 1)
            }
        }
        o.exceptions |= flags
        completeArithmetic(o, destination: 0)
    }

    // MARK: - FYL2X / FYL2XP1

    /// ST(1) ← ST(1) × log2(ST(0)) (or log2(ST(0) + 1)), then pop.
    private func yLog2X(plusOne: Bool) {
        if isEmpty(0) || isEmpty(1) { fpuStackUnderflow(destination: 1, pops: 1); return }
        let x = st(0), y = st(1)
        let o: X87Outcome
        if x.isNaNOrUnsupported || y.isNaNOrUnsupported {
            o = ExtendedArithmetic.propagateNaN(x, y)
        } else {
            // Precision control does not apply to these: full 64 bits.
            let c = X87ControlWord(raw: fpuControlWord | 0x0300)
            o = plusOne ? yLog2XPlusOne(x, y, c) : yLog2X(x, y, c)
        }
        completeArithmetic(o, destination: 1, pop: true)
    }

    /// FYL2X on numbers (SDM vol. 2, FYL2X table 3-52): domain errors,
    /// then #Z, then #D; infinite and zero results are exact.
    private func yLog2X(_ x: ExtendedReal, _ y: ExtendedReal, _ c: X87ControlWord) -> X87Outcome {
        let xIsOne = x == .one
        if (x.isNegative && !x.isZero) || (x.isZero && y.isZero) || (x.isInfinity && y.isZero)
            || (xIsOne && y.isInfinity) {
            return .invalid
        }
        if x.isZero {
            // log2(±0) = −∞: −∞ × y; a finite y divides by zero.
            let flags = y.isInfinity ? 0 : X87Status.zeroDivide
            if !c.masks(flags) { return X87Outcome(.indefinite, exceptions: flags) }
            return X87Outcome(.infinity(negative: !y.isNegative), exceptions: flags)
        }
        let flags = denormalFlag(x, y)
        if flags != 0 && !c.masks(flags) { return X87Outcome(.indefinite, exceptions: flags) }
        let logNegative = ExtendedArithmetic.order(x, .one) == .less
        var o: X87Outcome
        if x.isInfinity || y.isInfinity {
            o = X87Outcome(.infinity(negative: y.isNegative != logNegative))
        } else if y.isZero || xIsOne {
            o = X87Outcome(.zero(negative: y.isNegative != logNegative))
        } else {
            let u = x.unpacked
            if u.significand == ExtendedReal.integerBit {
                // A power of two: log2 is its exponent, only the multiply rounds.
                o = ExtendedArithmetic.multiply(y, .integer(Int64(u.exponent)), c)
            } else {
                o = ExtendedArithmetic.multiply(y, ExtendedReal(log2l(x.float80)), c)
                o.exceptions |= X87Status.precision
            }
        }
        o.exceptions |= flags
        return o
    }

    /// FYL2XP1 on numbers, for |x| < 1 − √2/2. Zero and infinite results
    /// are exact.
    private func yLog2XPlusOne(_ x: ExtendedReal, _ y: ExtendedReal, _ c: X87ControlWord) -> X87Outcome {
        if x.isInfinity || (x.isZero && y.isInfinity) { return .invalid }
        if x.isNegative && ExtendedArithmetic.order(x, ExtendedReal.one.negated) == .less {
            // x < −1 has no logarithm; the result is undefined (SDM). The
            // reference host's x87 returns x with #P; so does this.
            return X87Outcome(x, exceptions: X87Status.precision)
        }
        let flags = denormalFlag(x, y)
        if flags != 0 && !c.masks(flags) { return X87Outcome(.indefinite, exceptions: flags) }
        let negative = x.isNegative != y.isNegative
        var o: X87Outcome
        if x.isZero || y.isZero {
            o = X87Outcome(.zero(negative: negative))
        } else if y.isInfinity {
            o = X87Outcome(.infinity(negative: negative))
        } else {
            // y·log2(1 + x) = y·ln(1 + x)·log2 e with one rounding after
            // libm's ln(1 + x). Below 2^-128, ln(1 + x) = x to beyond the
            // sticky bit (and a denormal x would lose bits in Float80).
            let ln = x.unpacked.exponent < -128 ? x : ExtendedReal(log1pl(x.float80))
            let scaled = CPU.wideProduct(ln.unpacked.significand, CPU.log2e)
            let t = ln.unpacked.exponent + scaled.carry
            let p = CPU.wideProduct(y.unpacked.significand, scaled.significand | 1)
            o = CPU.roundedInexact(negative: negative, exponent: y.unpacked.exponent + t + p.carry, p.significand, c)
        }
        o.exceptions |= flags
        return o
    }

    // MARK: - Products with irrational constants

    /// ln 2 and log2 e to 128 bits (truncated; integer bit at bit 127).
    static let ln2: UInt128 = 0xB172_17F7_D1CF_79AB_C9E3_B398_03F2_F6AF
    static let log2e: UInt128 = 0xB8AA_3B29_5C17_F0BB_BE87_FED0_691D_3E88

    /// The top 128 bits of a × b for significands with their top bits set
    /// (a: bit 63, b: bit 127), normalized to bit 127, low bits folded
    /// into bit 0; `carry` is 1 when the product reached the next power
    /// of two (the exponents add, plus `carry`).
    static func wideProduct(_ a: UInt64, _ b: UInt128) -> (significand: UInt128, carry: Int32) {
        let high = UInt128(a) * (b >> 64)
        let low = UInt128(a) * (b & UInt128(UInt64.max))
        let top = high + (low >> 64) // < 2^128: a·b < 2^192
        let rest = UInt64(truncatingIfNeeded: low)
        if top >> 127 != 0 { return (top | (rest != 0 ? 1 : 0), 1) }
        return (top << 1 | UInt128(rest >> 63) | (rest << 1 != 0 ? 1 : 0), 0)
    }

    /// x × k for an irrational constant k = significand × 2^(exponent − 127),
    /// rounded once to extended precision under RC; always inexact.
    static func productWithConstant(_ x: ExtendedReal, _ k: UInt128, exponent: Int32,
                                    _ c: X87ControlWord) -> X87Outcome {
        let u = x.unpacked
        let p = wideProduct(u.significand, k)
        return roundedInexact(negative: x.isNegative, exponent: u.exponent + exponent + p.carry, p.significand, c)
    }

    /// sign × significand × 2^(exponent − 127) of a value known to be
    /// irrational (so sticky), rounded once to extended precision.
    static func roundedInexact(negative: Bool, exponent: Int32, _ significand: UInt128,
                               _ c: X87ControlWord) -> X87Outcome {
        var o = X87Outcome(X87Rounder.round(negative: negative, exponent: exponent,
                                            significand: UInt64(truncatingIfNeeded: significand >> 64),
                                            extra: UInt64(truncatingIfNeeded: significand) | 1,
                                            format: .extended, control: c))
        o.exceptions |= X87Status.precision
        return o
    }

    // MARK: - FPATAN

    /// ST(1) ← arctan(ST(1) / ST(0)) with the quadrant of (ST(0), ST(1)),
    /// then pop. The SDM's special cases (FPATAN table 3-29) are those of
    /// C99's atan2; the results that are ±0 are exact.
    private func arcTangent() {
        if isEmpty(0) || isEmpty(1) { fpuStackUnderflow(destination: 1, pops: 1); return }
        let x = st(0), y = st(1)
        if x.isNaNOrUnsupported || y.isNaNOrUnsupported {
            completeArithmetic(ExtendedArithmetic.propagateNaN(x, y), destination: 1, pop: true)
            return
        }
        let flags = denormalFlag(x, y)
        if flags != 0 && !fpuControl.masks(X87Status.denormal) {
            completeArithmetic(X87Outcome(.indefinite, exceptions: flags), destination: 1, pop: true)
            return
        }
        var o: X87Outcome
        if !x.isNegative && x.isFiniteNonzero && y.isFiniteNonzero
            && y.unpacked.exponent - x.unpacked.exponent < -66 {
            // arctan t = t·(1 − t²/3 + …): for |t| < 2^-65 the quotient
            // rounded once is the result — also a tiny one, which must
            // reach #U (and its bias adjustment) as the hardware's does.
            o = ExtendedArithmetic.divide(y, x, X87ControlWord(raw: fpuControlWord | 0x0300))
            o.exceptions |= X87Status.precision
        } else {
            let v = atan2l(y.float80, x.float80)
            o = libmOutcome(v, exact: v == 0)
        }
        o.exceptions |= flags
        completeArithmetic(o, destination: 1, pop: true)
    }

    // MARK: - FPTAN, FSIN, FCOS, FSINCOS

    /// The x87 reduces trigonometric arguments modulo π/2 using π to 66
    /// bits (SDM vol. 1, 8.3.10), not the exact π. The reduction is exact
    /// here against that same 66-bit π, so large arguments land where the
    /// hardware's do: returns |x| − k·π66/2 as hi + lo and k mod 4.
    static func reduceByHardwarePiOverTwo(_ x: ExtendedReal) -> (hi: Float80, lo: Float80, quadrant: Int) {
        let u = x.unpacked
        let shift = Int(u.exponent) + 2 // x = significand × 2^shift × 2^-65
        if shift < 1 { return (x.float80, 0, 0) } // |x| < 1/2: nothing to reduce
        // π66 × 2^64, so π/2 = piUnits × 2^-65; |x| < 2^63 keeps x in 128 bits.
        let piUnits = UInt128(0xC90F_DAA2_2168_C234) << 2 | 3
        let n = UInt128(u.significand) << shift
        var k = n / piUnits
        var rest = Int128(n - k * piUnits)
        if 2 * rest > Int128(piUnits) {
            k += 1
            rest -= Int128(piUnits)
        }
        let hi = Float80(rest)
        let lo = Float80(rest - Int128(hi))
        let unit = Float80(sign: .plus, exponent: -65, significand: 1)
        return (hi * unit, lo * unit, Int(k & 3))
    }

    /// Arguments with |x| ≥ 2^63 are out of range: C2 = 1 and nothing
    /// else changes. Otherwise C2 = 0. FPTAN then pushes 1.0 and FSINCOS
    /// the cosine, each checking for stack overflow first.
    private func trigonometric(_ op: Op) {
        let pushes = op == .fptan || op == .fsincos
        if isEmpty(0) || (pushes && pushWouldOverflow) {
            let overflow = !isEmpty(0)
            setConditionCodes(overflow ? X87Status.c1 : 0, mask: X87Status.c1 | X87Status.c2)
            if fpuControl.masks(X87Status.invalid) {
                setST(0, .indefinite)
                if pushes { fpuPush(.indefinite) }
            }
            raiseX87(X87Status.invalid | X87Status.stackFault)
            return
        }
        let x = st(0)
        if x.isFiniteNonzero && x.unpacked.exponent >= 63 {
            setConditionCodes(X87Status.c2, mask: X87Status.c2)
            return
        }
        var first: X87Outcome
        var second = X87Outcome(.one)
        if let special = specialOperand(x) {
            first = special
            second = special
        } else if x.isInfinity {
            first = .invalid
            second = .invalid
        } else if x.isZero {
            // tan ±0 = ±0, sin ±0 = ±0, cos ±0 = 1: exact.
            first = op == .fcos ? X87Outcome(.one) : X87Outcome(x)
        } else if x.unpacked.exponent < -32 {
            // |x| < 2^-32: sin x = x − x³/6, tan x = x + x³/3 and
            // cos x = 1 − x²/2 lie within 2^-66 (relative) of x or 1, so
            // which side they lie on decides the rounding exactly, in
            // every rounding mode.
            let flags = denormalFlag(x)
            let c = fpuControl
            let u = x.unpacked
            let below = u.significand == ExtendedReal.integerBit
                ? (u.exponent - 1, UInt64.max) : (u.exponent, u.significand - 1)
            let sine = X87Outcome(X87Rounder.round(negative: x.isNegative, exponent: below.0, significand: below.1,
                                                   extra: UInt64.max, format: .extended, control: c))
            let cosine = X87Outcome(X87Rounder.round(negative: false, exponent: -1, significand: UInt64.max,
                                                     extra: UInt64.max, format: .extended, control: c))
            switch op {
            case .fptan:
                first = X87Outcome(X87Rounder.round(negative: x.isNegative, exponent: u.exponent, significand: u.significand,
                                                    extra: 1, format: .extended, control: c))
            case .fsin: first = sine
            case .fcos: first = cosine
            default: (first, second) = (sine, cosine)
            }
            first.exceptions |= flags
        } else {
            let flags = denormalFlag(x)
            let (hi, lo, quadrant) = CPU.reduceByHardwarePiOverTwo(x.magnitude)
            let sign: Float80 = x.isNegative ? -1 : 1
            let (sinR, cosR) = (sinl(hi) + cosl(hi) * lo, cosl(hi) - sinl(hi) * lo)
            let sine: Float80, cosine: Float80
            switch quadrant {
            case 0: (sine, cosine) = (sinR, cosR)
            case 1: (sine, cosine) = (cosR, -sinR)
            case 2: (sine, cosine) = (-sinR, -cosR)
            default: (sine, cosine) = (-cosR, sinR)
            }
            switch op {
            case .fptan:
                let t = tanl(hi)
                let tanR = t + (1 + t * t) * lo
                first = libmOutcome(sign * (quadrant & 1 == 0 ? tanR : -1 / tanR))
            case .fsin: first = libmOutcome(sign * sine)
            case .fcos: first = libmOutcome(cosine)
            default:
                first = libmOutcome(sign * sine)
                second = libmOutcome(cosine)
                second.exceptions |= flags
            }
            first.exceptions |= flags
        }
        let exceptions = first.exceptions | (pushes ? second.exceptions : 0)
        if fpuControl.unmasked(exceptions) & X87Status.preComputation == 0 {
            setST(0, first.value)
            if pushes { fpuPush(second.value) }
            let up = first.roundedUp || (pushes && second.roundedUp)
            setConditionCodes(up ? X87Status.c1 : 0, mask: X87Status.c1 | X87Status.c2)
        } else {
            setConditionCodes(0, mask: X87Status.c1 | X87Status.c2)
        }
        raiseX87(exceptions)
    }
}
