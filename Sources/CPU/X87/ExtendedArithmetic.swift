/// The x87's basic arithmetic on `ExtendedReal`s, in software, bit-exact:
/// add, subtract, multiply, divide, square root, compare, round to
/// integer, scale, partial remainder. Each operation first sorts out its
/// special operands in the order the SDM gives them precedence (vol. 1,
/// 4.9.2 and 8.5): unsupported encodings and signaling NaNs (#IA), quiet
/// NaNs (propagated, no exception), invalid combinations (∞ − ∞, 0 × ∞,
/// 0/0, ∞/∞, √−x), denormal operands (#D), division by zero (#Z); then
/// computes the finite result exactly and hands it to `X87Rounder`.
///
/// An unmasked pre-computation exception (#I, #D, #Z) ends the operation:
/// the outcome carries only the flags, and the instruction stores nothing.
enum ExtendedArithmetic {
    enum Order { case less, equal, greater, unordered }

    // MARK: - NaNs and special operands

    /// The NaN result of an operation with a NaN (or unsupported) operand,
    /// by the x87's rules (SDM vol. 1, table 4-7): an SNaN is quieted;
    /// SNaN with QNaN gives the QNaN; two NaNs of the same kind give the
    /// one with the larger significand (the positive one on a tie).
    static func propagateNaN(_ a: ExtendedReal, _ b: ExtendedReal) -> X87Outcome {
        if a.isUnsupported || b.isUnsupported { return .invalid }
        let flags = a.isSignalingNaN || b.isSignalingNaN ? X87Status.invalid : 0
        let pick: ExtendedReal
        if a.isNaN && b.isNaN {
            if a.isSignalingNaN != b.isSignalingNaN {
                pick = a.isSignalingNaN ? b : a
            } else if a.significand != b.significand {
                pick = a.significand > b.significand ? a : b
            } else {
                pick = a.signExponent < b.signExponent ? a : b
            }
        } else {
            pick = a.isNaN ? a : b
        }
        return X87Outcome(pick.quieted, exceptions: flags)
    }

    static func propagateNaN(_ a: ExtendedReal) -> X87Outcome {
        if a.isUnsupported { return .invalid }
        return X87Outcome(a.quieted, exceptions: a.isSignalingNaN ? X87Status.invalid : 0)
    }

    /// #D for denormal operands; `stop` when it is unmasked.
    @inline(__always)
    static func denormalCheck(_ a: ExtendedReal, _ b: ExtendedReal, _ c: X87ControlWord) -> (flags: UInt16, stop: Bool) {
        guard a.isDenormal || b.isDenormal else { return (0, false) }
        return (X87Status.denormal, !c.masks(X87Status.denormal))
    }

    /// An exact nonzero value rounded to the destination's precision.
    static func rounded(negative: Bool, _ u: (exponent: Int32, significand: UInt64), extra: UInt64 = 0,
                        format: X87Format, _ c: X87ControlWord) -> X87Outcome {
        X87Outcome(X87Rounder.round(negative: negative, exponent: u.exponent, significand: u.significand,
                                    extra: extra, format: format, control: c))
    }

    // MARK: - Add and subtract

    static func add(_ a: ExtendedReal, _ b: ExtendedReal, subtract: Bool, _ c: X87ControlWord) -> X87Outcome {
        if a.isNaNOrUnsupported || b.isNaNOrUnsupported { return propagateNaN(a, b) }
        let bNegative = b.isNegative != subtract
        if a.isInfinity && b.isInfinity && a.isNegative != bNegative { return .invalid }
        let (flags, stop) = denormalCheck(a, b, c)
        if stop { return X87Outcome(.indefinite, exceptions: flags) }
        var r: X87Outcome
        if a.isInfinity || b.isInfinity {
            r = X87Outcome(a.isInfinity ? a : .infinity(negative: bNegative))
        } else if a.isZero && b.isZero {
            let negative = a.isNegative == bNegative ? a.isNegative : c.rounding == .down
            r = X87Outcome(.zero(negative: negative))
        } else if a.isZero {
            r = rounded(negative: bNegative, b.unpacked, format: .extended(c), c)
        } else if b.isZero {
            r = rounded(negative: a.isNegative, a.unpacked, format: .extended(c), c)
        } else {
            r = addFinite(a.isNegative, a.unpacked, bNegative, b.unpacked, c)
        }
        r.exceptions |= flags
        return r
    }

    /// Exact sum of two finite nonzero values, then one rounding. The
    /// smaller is aligned in a 128-bit field with 62 guard bits below the
    /// larger's LSB and a sticky bit, which keeps every bit that can reach
    /// the rounding decision.
    private static func addFinite(_ aNegative: Bool, _ a: (exponent: Int32, significand: UInt64),
                                  _ bNegative: Bool, _ b: (exponent: Int32, significand: UInt64),
                                  _ c: X87ControlWord) -> X87Outcome {
        var (big, bigNegative, small, smallNegative) = (a, aNegative, b, bNegative)
        if b.exponent > a.exponent || (b.exponent == a.exponent && b.significand > a.significand) {
            (big, bigNegative, small, smallNegative) = (b, bNegative, a, aNegative)
        }
        let x = UInt128(big.significand) << 62
        var y = UInt128(small.significand) << 62
        let distance = Int(big.exponent - small.exponent)
        if distance >= 126 {
            y = 1
        } else if distance > 0 {
            let lost = y & (UInt128(1) << distance - 1)
            y = y >> distance | (lost != 0 ? 1 : 0)
        }
        let sum = bigNegative == smallNegative ? x + y : x - y
        if sum == 0 { return X87Outcome(.zero(negative: c.rounding == .down)) }
        let shift = sum.leadingZeroBitCount
        let normalized = sum << shift
        return rounded(negative: bigNegative,
                       (big.exponent + 2 - Int32(shift), UInt64(truncatingIfNeeded: normalized >> 64)),
                       extra: UInt64(truncatingIfNeeded: normalized), format: .extended(c), c)
    }

    // MARK: - Multiply and divide

    static func multiply(_ a: ExtendedReal, _ b: ExtendedReal, _ c: X87ControlWord) -> X87Outcome {
        if a.isNaNOrUnsupported || b.isNaNOrUnsupported { return propagateNaN(a, b) }
        if (a.isInfinity && b.isZero) || (a.isZero && b.isInfinity) { return .invalid }
        let (flags, stop) = denormalCheck(a, b, c)
        if stop { return X87Outcome(.indefinite, exceptions: flags) }
        let negative = a.isNegative != b.isNegative
        var r: X87Outcome
        if a.isInfinity || b.isInfinity {
            r = X87Outcome(.infinity(negative: negative))
        } else if a.isZero || b.isZero {
            r = X87Outcome(.zero(negative: negative))
        } else {
            let (x, y) = (a.unpacked, b.unpacked)
            let product = x.significand.multipliedFullWidth(by: y.significand)
            var (high, low) = (product.high, product.low)
            var exponent = x.exponent + y.exponent + 1
            if high >> 63 == 0 {
                high = high << 1 | low >> 63
                low <<= 1
                exponent -= 1
            }
            r = rounded(negative: negative, (exponent, high), extra: low, format: .extended(c), c)
        }
        r.exceptions |= flags
        return r
    }

    static func divide(_ a: ExtendedReal, _ b: ExtendedReal, _ c: X87ControlWord) -> X87Outcome {
        if a.isNaNOrUnsupported || b.isNaNOrUnsupported { return propagateNaN(a, b) }
        if (a.isInfinity && b.isInfinity) || (a.isZero && b.isZero) { return .invalid }
        let negative = a.isNegative != b.isNegative
        if b.isZero {
            // #Z outranks #D, and a finite dividend is not examined
            // further; ∞/0 is an exact ∞.
            let flags = a.isInfinity ? 0 : X87Status.zeroDivide
            if !c.masks(flags) { return X87Outcome(.indefinite, exceptions: flags) }
            return X87Outcome(.infinity(negative: negative), exceptions: flags)
        }
        let (flags, stop) = denormalCheck(a, b, c)
        if stop { return X87Outcome(.indefinite, exceptions: flags) }
        var r: X87Outcome
        if a.isInfinity {
            r = X87Outcome(.infinity(negative: negative))
        } else if a.isZero || b.isInfinity {
            r = X87Outcome(.zero(negative: negative))
        } else {
            let (x, y) = (a.unpacked, b.unpacked)
            // Two long-division steps give 128 quotient bits; the final
            // remainder is the sticky bit.
            let first = x.significand >= y.significand
            let dividend = first ? x.significand - y.significand : x.significand
            let q1 = y.significand.dividingFullWidth((dividend, 0))
            let q2 = y.significand.dividingFullWidth((q1.remainder, 0))
            let sticky: UInt64 = q2.remainder != 0 ? 1 : 0
            if first {
                r = rounded(negative: negative, (x.exponent - y.exponent, 1 << 63 | q1.quotient >> 1),
                            extra: q1.quotient << 63 | q2.quotient >> 1 | q2.quotient & 1 | sticky,
                            format: .extended(c), c)
            } else {
                r = rounded(negative: negative, (x.exponent - y.exponent - 1, q1.quotient),
                            extra: q2.quotient | sticky, format: .extended(c), c)
            }
        }
        r.exceptions |= flags
        return r
    }

    // MARK: - Square root

    static func squareRoot(_ a: ExtendedReal, _ c: X87ControlWord) -> X87Outcome {
        if a.isNaNOrUnsupported { return propagateNaN(a) }
        if a.isZero { return X87Outcome(a) }
        if a.isNegative { return .invalid }
        if a.isInfinity { return X87Outcome(a) }
        let (flags, stop) = denormalCheck(a, a, c)
        if stop { return X87Outcome(.indefinite, exceptions: flags) }
        let u = a.unpacked
        // value = (significand << s) × 2^(exponent − 63 − s) with an even
        // power of two; the root of the 127/128-bit integer has 64 bits.
        let s = (u.exponent - 63) & 1 == 0 ? 64 : 63
        let n = UInt128(u.significand) << s
        let (root, remainder) = integerSquareRoot(n)
        // Exact, or which side of the half-way point the rest lies on
        // (never exactly on it: the root of an integer is never x.5).
        let extra: UInt64 = remainder == 0 ? 0 : (remainder > root ? 1 << 63 | 1 : 1)
        var r = rounded(negative: false, ((u.exponent - 63 - Int32(s)) / 2 + 63, UInt64(truncatingIfNeeded: root)),
                        extra: extra, format: .extended(c), c)
        r.exceptions |= flags
        return r
    }

    /// ⌊√n⌋ and n − ⌊√n⌋², digit by digit.
    static func integerSquareRoot(_ n: UInt128) -> (root: UInt128, remainder: UInt128) {
        var rest = n
        var root: UInt128 = 0
        var bit: UInt128 = 1 << 126
        while bit > rest { bit >>= 2 }
        while bit != 0 {
            if rest >= root + bit {
                rest -= root + bit
                root = root >> 1 + bit
            } else {
                root >>= 1
            }
            bit >>= 2
        }
        return (root, rest)
    }

    // MARK: - Compare

    /// Compares `a` with `b`. `quietNaNIsInvalid` is true for FCOM/FICOM/
    /// FCOMI/FTST and false for the unordered compares (FUCOM/FUCOMI),
    /// which raise #IA only for SNaNs and unsupported encodings.
    static func compare(_ a: ExtendedReal, _ b: ExtendedReal, quietNaNIsInvalid: Bool,
                        _ c: X87ControlWord) -> (order: Order, exceptions: UInt16) {
        if a.isNaNOrUnsupported || b.isNaNOrUnsupported {
            let invalid = quietNaNIsInvalid || a.isUnsupported || b.isUnsupported
                || a.isSignalingNaN || b.isSignalingNaN
            return (.unordered, invalid ? X87Status.invalid : 0)
        }
        let (flags, _) = denormalCheck(a, b, c)
        return (order(a, b), flags)
    }

    /// The order of two numbers (no NaNs): −0 equals +0.
    static func order(_ a: ExtendedReal, _ b: ExtendedReal) -> Order {
        if a.isZero && b.isZero { return .equal }
        if a.isNegative != b.isNegative { return a.isNegative ? .less : .greater }
        let magnitude: Order
        if a.isZero {
            magnitude = .less
        } else if b.isZero {
            magnitude = .greater
        } else if a.isInfinity || b.isInfinity {
            magnitude = a.isInfinity && b.isInfinity ? .equal : (a.isInfinity ? .greater : .less)
        } else {
            let (x, y) = (a.unpacked, b.unpacked)
            if x.exponent != y.exponent {
                magnitude = x.exponent < y.exponent ? .less : .greater
            } else if x.significand != y.significand {
                magnitude = x.significand < y.significand ? .less : .greater
            } else {
                magnitude = .equal
            }
        }
        if !a.isNegative || magnitude == .equal { return magnitude }
        return magnitude == .less ? .greater : .less
    }

    // MARK: - Integers

    /// |a| rounded to an integer under `mode`, for a finite nonzero `a`.
    /// `magnitude` is nil when it does not fit 64 bits.
    static func integralMagnitude(_ a: ExtendedReal, _ mode: X87RoundingMode)
        -> (magnitude: UInt64?, inexact: Bool, up: Bool) {
        let u = a.unpacked
        if u.exponent >= 64 { return (nil, false, false) }
        if u.exponent >= 63 { return (u.significand, false, false) }
        // value = significand × 2^-dropped; below 2^-64 it is a nonzero
        // amount under one half.
        let dropped = Int(63 - u.exponent)
        let r = dropped > 127
            ? X87Rounder.roundBits(1, dropped: 2, negative: a.isNegative, mode)
            : X87Rounder.roundBits(UInt128(u.significand), dropped: dropped, negative: a.isNegative, mode)
        return (UInt64(truncatingIfNeeded: r.kept), r.inexact, r.up)
    }

    /// FRNDINT: `a` rounded to an integer under the rounding control.
    static func roundToIntegral(_ a: ExtendedReal, _ c: X87ControlWord) -> X87Outcome {
        if a.isNaNOrUnsupported { return propagateNaN(a) }
        if a.isZero || a.isInfinity { return X87Outcome(a) }
        let (flags, stop) = denormalCheck(a, a, c)
        if stop { return X87Outcome(.indefinite, exceptions: flags) }
        if a.unpacked.exponent >= 63 { return X87Outcome(a, exceptions: flags) } // already an integer
        let r = integralMagnitude(a, c.rounding)
        return X87Outcome(.normalized(negative: a.isNegative, exponent: 63, significand: r.magnitude ?? 0),
                          exceptions: flags | (r.inexact ? X87Status.precision : 0), roundedUp: r.up)
    }

    /// FIST/FISTP/FBSTP: `a` rounded under RC, if it fits `limit` in
    /// magnitude (the negative side may reach `negativeLimit`). nil (with
    /// #IA) for NaNs, infinities and values out of range.
    static func toInteger(_ a: ExtendedReal, limit: UInt64, negativeLimit: UInt64,
                          _ c: X87ControlWord) -> (value: Int64?, exceptions: UInt16, roundedUp: Bool) {
        if a.isZero { return (0, 0, false) }
        guard a.isFiniteNonzero else { return (nil, X87Status.invalid, false) }
        let r = integralMagnitude(a, c.rounding)
        guard let magnitude = r.magnitude, magnitude <= (a.isNegative ? negativeLimit : limit) else {
            return (nil, X87Status.invalid, false)
        }
        let value = a.isNegative ? Int64(truncatingIfNeeded: 0 &- magnitude) : Int64(magnitude)
        return (value, r.inexact ? X87Status.precision : 0, r.up)
    }

    // MARK: - Scale

    /// FSCALE: a × 2^trunc(b) (SDM vol. 2, FSCALE table 3-46).
    static func scale(_ a: ExtendedReal, _ b: ExtendedReal, _ c: X87ControlWord) -> X87Outcome {
        if a.isNaNOrUnsupported || b.isNaNOrUnsupported { return propagateNaN(a, b) }
        if b.isInfinity {
            if b.isNegative ? a.isInfinity : a.isZero { return .invalid }
        }
        let (flags, stop) = denormalCheck(a, b, c)
        if stop { return X87Outcome(.indefinite, exceptions: flags) }
        var r: X87Outcome
        if a.isZero || a.isInfinity {
            r = X87Outcome(a)
        } else if b.isInfinity {
            r = X87Outcome(b.isNegative ? .zero(negative: a.isNegative) : .infinity(negative: a.isNegative))
        } else {
            // Any |trunc(b)| beyond 2^20 overflows or underflows every
            // extended value alike, so it is clamped there.
            let n: Int32
            if b.isZero {
                n = 0
            } else {
                let t = integralMagnitude(b, .towardZero).magnitude.map { min($0, 1 << 20) } ?? 1 << 20
                n = b.isNegative ? -Int32(t) : Int32(t)
            }
            let u = a.unpacked
            r = rounded(negative: a.isNegative, (u.exponent + n, u.significand), format: .extended, c)
        }
        r.exceptions |= flags
        return r
    }

    // MARK: - Partial remainder

    /// FPREM (`roundToNearest` false: truncated quotient) and FPREM1
    /// (IEEE remainder). Exact. When the exponents differ by 64 or more
    /// the reduction is partial: by N = 32 + (D mod 32) bits, one of the
    /// implementation-dependent N in 32…63 the SDM allows, leaving the
    /// difference a multiple of 32 (C2 = 1). `quotient` holds the low
    /// bits of the quotient for C0/C3/C1.
    static func remainder(_ a: ExtendedReal, _ b: ExtendedReal, roundToNearest: Bool, _ c: X87ControlWord)
        -> (outcome: X87Outcome, quotient: UInt64, complete: Bool) {
        if a.isNaNOrUnsupported || b.isNaNOrUnsupported { return (propagateNaN(a, b), 0, true) }
        if a.isInfinity || b.isZero { return (.invalid, 0, true) }
        let (flags, stop) = denormalCheck(a, b, c)
        if stop { return (X87Outcome(.indefinite, exceptions: flags), 0, true) }
        if a.isZero { return (X87Outcome(a, exceptions: flags), 0, true) }
        if b.isInfinity {
            // a itself, normalized (a pseudo-denormal comes back with exponent 1).
            var r = a.isDenormal ? rounded(negative: a.isNegative, a.unpacked, format: .extended, c) : X87Outcome(a)
            r.exceptions |= flags
            return (r, 0, true)
        }
        let (x, y) = (a.unpacked, b.unpacked)
        let distance = Int(x.exponent - y.exponent)
        var negative = a.isNegative
        if distance < 0 {
            // |a| < |b|: the truncated quotient is 0; FPREM1 rounds it to 1
            // when |a| > |b|/2, leaving |b| − |a| (exact, in a's units).
            if roundToNearest && distance == -1 && x.significand > y.significand {
                let rest = y.significand - (x.significand - y.significand)
                let shift = rest.leadingZeroBitCount
                var r = rounded(negative: !negative, (x.exponent - Int32(shift), rest << shift), format: .extended, c)
                r.exceptions |= flags
                return (r, 1, true)
            }
            var r = rounded(negative: negative, x, format: .extended, c)
            r.exceptions |= flags
            return (r, 0, true)
        }
        let complete = distance < 64
        let steps = complete ? distance : 32 + distance % 32
        var rest = x.significand
        var quotient: UInt64 = 0
        if rest >= y.significand { rest -= y.significand; quotient = 1 }
        for _ in 0..<steps {
            let carry = rest >> 63
            rest <<= 1
            quotient <<= 1
            if carry != 0 || rest >= y.significand { rest &-= y.significand; quotient |= 1 }
        }
        if complete && roundToNearest {
            let twice = UInt128(rest) << 1
            if twice > UInt128(y.significand) || (twice == UInt128(y.significand) && quotient & 1 != 0) {
                rest = y.significand - rest
                quotient &+= 1
                negative.toggle()
            }
        }
        // rest × 2^(exponent of b, shifted up by what the reduction left).
        let exponent = y.exponent + Int32(distance - steps)
        var r: X87Outcome
        if rest == 0 {
            r = X87Outcome(.zero(negative: a.isNegative))
        } else {
            let shift = rest.leadingZeroBitCount
            r = rounded(negative: negative, (exponent - Int32(shift), rest << shift), format: .extended, c)
        }
        r.exceptions |= flags
        return (r, quotient, complete)
    }
}
