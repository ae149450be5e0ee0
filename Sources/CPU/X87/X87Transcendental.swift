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
///   is reported as 0 because libm does not say which way it rounded;
/// - #P is reported for every result that is not exact by construction
///   (the exact cases are listed per instruction);
/// - FSIN/FCOS/FSINCOS/FPTAN reduce large arguments with the exact π,
///   where the hardware uses a 66-bit approximation of π (SDM vol. 1,
///   8.3.10), so results differ for arguments far from zero;
/// - a denormal result raises #U with #P; an unmasked #U does not apply
///   the exponent bias adjustment here.
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
        let c = fpuControl
        if x.isNaNOrUnsupported || y.isNaNOrUnsupported {
            completeArithmetic(ExtendedArithmetic.propagateNaN(x, y), destination: 1, pop: true)
            return
        }
        let flags = denormalFlag(x, y)
        if flags != 0 && !c.masks(X87Status.denormal) {
            completeArithmetic(X87Outcome(.indefinite, exceptions: flags), destination: 1, pop: true)
            return
        }
        let o = plusOne ? yLog2XPlusOne(x, y, c) : yLog2X(x, y, c)
        var r = o
        r.exceptions |= flags
        completeArithmetic(r, destination: 1, pop: true)
    }

    /// FYL2X on numbers (SDM vol. 2, FYL2X table 3-52).
    private func yLog2X(_ x: ExtendedReal, _ y: ExtendedReal, _ c: X87ControlWord) -> X87Outcome {
        if x.isNegative && !x.isZero { return .invalid }
        if x.isZero {
            if y.isZero { return .invalid }
            // log2(±0) = −∞: −∞ × y; a finite y divides by zero.
            let flags = y.isInfinity ? 0 : X87Status.zeroDivide
            if !c.masks(flags) { return X87Outcome(.indefinite, exceptions: flags) }
            return X87Outcome(.infinity(negative: !y.isNegative), exceptions: flags)
        }
        if x.isInfinity {
            if y.isZero { return .invalid }
            return X87Outcome(.infinity(negative: y.isNegative))
        }
        let u = x.unpacked
        let isPowerOfTwo = u.significand == ExtendedReal.integerBit
        if isPowerOfTwo && u.exponent == 0 && y.isInfinity { return .invalid } // ∞ × log2(1)
        if isPowerOfTwo {
            // log2 is the exponent itself: only the multiply rounds.
            return ExtendedArithmetic.multiply(y, .integer(Int64(u.exponent)), c)
        }
        var o = ExtendedArithmetic.multiply(y, ExtendedReal(log2l(x.float80)), c)
        o.exceptions |= X87Status.precision
        return o
    }

    /// FYL2XP1 on numbers, for |x| < 1 − √2/2. ±0 gives ±0 exactly.
    private func yLog2XPlusOne(_ x: ExtendedReal, _ y: ExtendedReal, _ c: X87ControlWord) -> X87Outcome {
        if x.isZero {
            if y.isInfinity { return .invalid }
            return X87Outcome(.zero(negative: x.isNegative != y.isNegative))
        }
        if x.isInfinity { return .invalid } // outside the domain: log2 of −∞ + 1 or ∞ × …
        let log2OnePlusX = log1pl(x.float80) * (1.442695040888963407359924681001892137 as Float80)
        var o = ExtendedArithmetic.multiply(y, ExtendedReal(log2OnePlusX), c)
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
        let v = atan2l(y.float80, x.float80)
        var o = libmOutcome(v, exact: v == 0)
        o.exceptions |= flags
        completeArithmetic(o, destination: 1, pop: true)
    }

    // MARK: - FPTAN, FSIN, FCOS, FSINCOS

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
        } else {
            let v = x.float80
            let flags = denormalFlag(x)
            switch op {
            case .fptan: first = libmOutcome(tanl(v))
            case .fsin: first = libmOutcome(sinl(v))
            case .fcos: first = libmOutcome(cosl(v))
            default:
                first = libmOutcome(sinl(v))
                second = libmOutcome(cosl(v))
                second.exceptions |= flags
            }
            first.exceptions |= flags
        }
        let exceptions = first.exceptions | (pushes ? second.exceptions : 0)
        if fpuControl.unmasked(exceptions) & X87Status.preComputation == 0 {
            setST(0, first.value)
            if pushes { fpuPush(second.value) }
            setConditionCodes(0, mask: X87Status.c1 | X87Status.c2)
        }
        raiseX87(exceptions)
    }
}
