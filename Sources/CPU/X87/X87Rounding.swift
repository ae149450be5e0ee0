// The one place where an exact result becomes a representable one: the
// x87 control word's rounding and precision control applied to a value
// known to more bits than the destination holds, with the overflow,
// underflow and precision exceptions that rounding raises
// (SDM vol. 1, 4.8.4, 4.9.1.4–4.9.1.6, 8.1.5.2–8.1.5.3).
//
// Every producer of a rounded result (add, multiply, divide, square root,
// scale, stores to m32fp/m64fp) computes its result exactly — a 64-bit
// significand plus 64 further bits with a sticky bit — and calls
// `X87Rounder.round`. Precision control rounds the significand to 24 or
// 53 bits in a single step from the exact value, so there is no double
// rounding; the exponent range stays the extended one, as on the hardware.
// Tininess is detected after rounding, as the x87 does.

/// FSW bits (SDM vol. 1, figure 8-4).
enum X87Status {
    static let invalid: UInt16 = 0x0001
    static let denormal: UInt16 = 0x0002
    static let zeroDivide: UInt16 = 0x0004
    static let overflow: UInt16 = 0x0008
    static let underflow: UInt16 = 0x0010
    static let precision: UInt16 = 0x0020
    static let stackFault: UInt16 = 0x0040
    static let errorSummary: UInt16 = 0x0080
    static let c0: UInt16 = 0x0100
    static let c1: UInt16 = 0x0200
    static let c2: UInt16 = 0x0400
    static let c3: UInt16 = 0x4000
    static let busy: UInt16 = 0x8000
    /// The six exception flags (and the six mask bits in the FCW).
    static let exceptions: UInt16 = 0x003F
    static let conditionCodes: UInt16 = c0 | c1 | c2 | c3
    /// Exceptions detected before the operation: when unmasked, no result
    /// is stored and the stack is not popped.
    static let preComputation: UInt16 = invalid | denormal | zeroDivide
    /// Exceptions that, unmasked, keep a store to memory from happening
    /// (and its pop): the operand stays on the stack for the handler.
    static let blocksMemoryStore: UInt16 = preComputation | overflow | underflow
}

/// FCW.RC.
enum X87RoundingMode: UInt16 {
    case nearestEven = 0, down = 1, up = 2, towardZero = 3
}

/// The control word, decoded where the arithmetic needs it.
struct X87ControlWord {
    var raw: UInt16

    var rounding: X87RoundingMode { X87RoundingMode(rawValue: (raw >> 10) & 3)! }
    /// FCW.PC: 00 → 24 bits, 10 → 53 bits, 11 → 64 bits (01 reserved:
    /// treated as 64, which is what it selects on the P6).
    var precision: Int {
        switch (raw >> 8) & 3 {
        case 0: return 24
        case 2: return 53
        default: return 64
        }
    }
    func masks(_ exceptions: UInt16) -> Bool { raw & exceptions == exceptions }
    /// Exceptions in `flags` that the control word does not mask.
    func unmasked(_ flags: UInt16) -> UInt16 { flags & ~raw & X87Status.exceptions }
}

/// A destination format: significand bits (integer bit included) and the
/// biased exponent range.
struct X87Format {
    var precision: Int
    var bias: Int32
    /// The all-ones exponent (infinities and NaNs).
    var maxExponent: Int32

    static let single = X87Format(precision: 24, bias: 127, maxExponent: 0xFF)
    static let double = X87Format(precision: 53, bias: 1023, maxExponent: 0x7FF)
    static let extended = X87Format(precision: 64, bias: 16383, maxExponent: 0x7FFF)
    /// The register format under precision control.
    static func extended(_ control: X87ControlWord) -> X87Format {
        X87Format(precision: control.precision, bias: 16383, maxExponent: 0x7FFF)
    }
}

/// A rounded result, before packing into its format.
struct RoundedReal {
    var negative: Bool
    /// Biased exponent; 0 for denormals and zero. Out of range only for
    /// the bias-adjusted results of unmasked overflow/underflow.
    var exponent: Int32
    /// Left-aligned: the integer bit (if any) at bit 63.
    var significand: UInt64
    var exceptions: UInt16 = 0
    /// The significand was incremented (reported in C1).
    var roundedUp: Bool = false

    var extended: ExtendedReal {
        ExtendedReal(significand: significand,
                     signExponent: UInt16(truncatingIfNeeded: exponent) & 0x7FFF | (negative ? 0x8000 : 0))
    }
    var doubleBits: UInt64 {
        (negative ? 1 << 63 : 0) | UInt64(exponent & 0x7FF) << 52 | (significand >> 11) & (1 << 52 - 1)
    }
    var singleBits: UInt32 {
        (negative ? 1 << 31 : 0) | UInt32(exponent & 0xFF) << 23 | UInt32(truncatingIfNeeded: significand >> 40) & (1 << 23 - 1)
    }
}

/// The result with the exceptions an operation raised, ready for the
/// instruction to store (or not, if an unmasked exception forbids it).
struct X87Outcome {
    var value: ExtendedReal
    var exceptions: UInt16 = 0
    var roundedUp: Bool = false

    init(_ value: ExtendedReal, exceptions: UInt16 = 0, roundedUp: Bool = false) {
        self.value = value; self.exceptions = exceptions; self.roundedUp = roundedUp
    }
    init(_ r: RoundedReal) {
        self.init(r.extended, exceptions: r.exceptions, roundedUp: r.roundedUp)
    }
    /// A masked invalid operation: the real indefinite.
    static let invalid = X87Outcome(.indefinite, exceptions: X87Status.invalid)
}

enum X87Rounder {
    /// Unmasked overflow/underflow deliver the result to a register with
    /// its exponent adjusted by this much (SDM vol. 1, 4.9.1.4–4.9.1.5).
    static let biasAdjust: Int32 = 24576

    /// Rounds sign × (significand + extra / 2^64) × 2^(exponent − 63) into
    /// `format` under `control`'s rounding mode and exception masks.
    /// `significand` must have bit 63 set; `exponent` is unbiased and
    /// unbounded. Any nonzero bits below `extra` must be OR-ed into its
    /// bit 0 (sticky).
    static func round(negative: Bool, exponent: Int32, significand: UInt64, extra: UInt64,
                      format: X87Format, control: X87ControlWord) -> RoundedReal {
        let p = format.precision
        let dropped = 128 - p // bits of the 128-bit value below the kept significand
        let value = UInt128(significand) << 64 | UInt128(extra)
        let mode = control.rounding

        // Rounded with an unbounded exponent: decides tininess and overflow.
        var normal = roundBits(value, dropped: dropped, negative: negative, mode)
        var e = exponent + format.bias
        if normal.kept >> p != 0 { normal.kept >>= 1; e += 1 } // rounded up to the next power of two

        if e >= format.maxExponent {
            return overflow(negative: negative, exponent: e, normal, format: format, control: control)
        }
        let biased = exponent + format.bias
        if biased >= 1 {
            return RoundedReal(negative: negative, exponent: e, significand: normal.significand(p),
                               exceptions: normal.inexact ? X87Status.precision : 0, roundedUp: normal.up)
        }
        let tiny = e < 1
        let unmasked = !control.masks(X87Status.underflow)
        if tiny && unmasked && e + biasAdjust >= 1 {
            return RoundedReal(negative: negative, exponent: e + biasAdjust, significand: normal.significand(p),
                               exceptions: X87Status.underflow | (normal.inexact ? X87Status.precision : 0),
                               roundedUp: normal.up)
        }
        if tiny && unmasked {
            // So tiny that even the adjusted exponent is out of range
            // (FSCALE): the reference host delivers a signed zero.
            return RoundedReal(negative: negative, exponent: 0, significand: 0,
                               exceptions: X87Status.underflow | X87Status.precision)
        }
        // Masked: the denormalized result, with #U if inexact.
        // Denormalize to the smallest exponent, then round at the same bit.
        let shift = Int(1 - biased)
        let denormalized: UInt128
        if shift >= 128 {
            denormalized = value == 0 ? 0 : 1
        } else {
            let lost = value & (UInt128(1) << shift - 1)
            denormalized = value >> shift | (lost != 0 ? 1 : 0)
        }
        let d = roundBits(denormalized, dropped: dropped, negative: negative, mode)
        var flags: UInt16 = tiny && unmasked ? X87Status.underflow : 0
        if d.inexact { flags |= X87Status.precision | (tiny ? X87Status.underflow : 0) }
        return RoundedReal(negative: negative, exponent: d.kept >> (p - 1) != 0 ? 1 : 0,
                           significand: d.significand(p), exceptions: flags, roundedUp: d.up)
    }

    /// The significand kept above `dropped` low bits of a value, after
    /// rounding (so possibly one bit wider than before).
    struct RoundedBits {
        var kept: UInt128
        var inexact: Bool
        var up: Bool
        /// Left-aligned in 64 bits for a `precision`-bit format.
        func significand(_ precision: Int) -> UInt64 { UInt64(truncatingIfNeeded: kept << (64 - precision)) }
    }

    /// Rounds away the `dropped` low bits of `value` under `mode`.
    @inline(__always)
    static func roundBits(_ value: UInt128, dropped: Int, negative: Bool, _ mode: X87RoundingMode) -> RoundedBits {
        let kept = value >> dropped
        let rest = value & (UInt128(1) << dropped - 1)
        if rest == 0 { return RoundedBits(kept: kept, inexact: false, up: false) }
        let up: Bool
        switch mode {
        case .nearestEven:
            let half = UInt128(1) << (dropped - 1)
            up = rest > half || (rest == half && kept & 1 != 0)
        case .down: up = negative
        case .up: up = !negative
        case .towardZero: up = false
        }
        return RoundedBits(kept: up ? kept + 1 : kept, inexact: true, up: up)
    }

    private static func overflow(negative: Bool, exponent: Int32, _ normal: RoundedBits,
                                 format: X87Format, control: X87ControlWord) -> RoundedReal {
        let p = format.precision
        if !control.masks(X87Status.overflow) && exponent - biasAdjust < format.maxExponent {
            return RoundedReal(negative: negative, exponent: exponent - biasAdjust,
                               significand: normal.significand(p),
                               exceptions: X87Status.overflow | (normal.inexact ? X87Status.precision : 0),
                               roundedUp: normal.up)
        }
        // Masked: ∞ or the largest finite value, by the rounding
        // direction. Unmasked and beyond even the adjusted range (FSCALE):
        // ∞ whatever the direction, as the reference host delivers.
        let flags = X87Status.overflow | X87Status.precision
        let toInfinity: Bool
        switch control.masks(X87Status.overflow) ? control.rounding : .nearestEven {
        case .nearestEven: toInfinity = true
        case .down: toInfinity = negative
        case .up: toInfinity = !negative
        case .towardZero: toInfinity = false
        }
        if toInfinity {
            return RoundedReal(negative: negative, exponent: format.maxExponent, significand: ExtendedReal.integerBit,
                               exceptions: flags, roundedUp: true)
        }
        return RoundedReal(negative: negative, exponent: format.maxExponent - 1,
                           significand: UInt64.max << UInt64(64 - p), exceptions: flags, roundedUp: false)
    }
}
