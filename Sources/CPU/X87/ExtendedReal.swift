/// One x87 register value: the 80-bit double extended-precision format,
/// bit for bit (SDM vol. 1, 4.2.2 and table 8-3).
///
/// The arithmetic is done in software on these bits rather than on the
/// host's `Float80`, because the guest's control word (precision and
/// rounding) and its exception flags must be honoured exactly, and because
/// the encodings the host never produces (unnormals, pseudo-NaNs,
/// pseudo-denormals) must be classified the way a P6 classifies them.
/// `Float80` is used only as a bridge to libm for the transcendental
/// instructions.
public struct ExtendedReal: Equatable {
    /// Explicit integer bit at 63, fraction in 62…0.
    public var significand: UInt64
    /// Sign at 15, biased exponent in 14…0.
    public var signExponent: UInt16

    public init(significand: UInt64, signExponent: UInt16) {
        self.significand = significand; self.signExponent = signExponent
    }

    public static let exponentBias: Int32 = 16383
    static let integerBit: UInt64 = 1 << 63
    static let quietBit: UInt64 = 1 << 62

    /// The default NaN ("real indefinite") the FPU returns for a masked
    /// invalid operation.
    public static let indefinite = ExtendedReal(significand: 0xC000_0000_0000_0000, signExponent: 0xFFFF)
    public static let one = ExtendedReal(significand: integerBit, signExponent: 0x3FFF)

    public static func zero(negative: Bool) -> ExtendedReal {
        ExtendedReal(significand: 0, signExponent: negative ? 0x8000 : 0)
    }
    public static func infinity(negative: Bool) -> ExtendedReal {
        ExtendedReal(significand: integerBit, signExponent: negative ? 0xFFFF : 0x7FFF)
    }

    // MARK: - Fields

    public var isNegative: Bool { signExponent & 0x8000 != 0 }
    public var biasedExponent: Int32 { Int32(signExponent & 0x7FFF) }
    var hasIntegerBit: Bool { significand & ExtendedReal.integerBit != 0 }

    public var negated: ExtendedReal { ExtendedReal(significand: significand, signExponent: signExponent ^ 0x8000) }
    public var magnitude: ExtendedReal { ExtendedReal(significand: significand, signExponent: signExponent & 0x7FFF) }
    func withSign(_ negative: Bool) -> ExtendedReal {
        ExtendedReal(significand: significand, signExponent: signExponent & 0x7FFF | (negative ? 0x8000 : 0))
    }

    // MARK: - Classes

    public var isZero: Bool { signExponent & 0x7FFF == 0 && significand == 0 }
    /// Denormals and pseudo-denormals (exponent 0, integer bit 1); both
    /// raise the denormal-operand exception when used as operands.
    public var isDenormal: Bool { signExponent & 0x7FFF == 0 && significand != 0 }
    public var isInfinity: Bool { signExponent & 0x7FFF == 0x7FFF && significand == ExtendedReal.integerBit }
    public var isNaN: Bool {
        signExponent & 0x7FFF == 0x7FFF && hasIntegerBit && significand << 1 != 0
    }
    public var isSignalingNaN: Bool { isNaN && significand & ExtendedReal.quietBit == 0 }
    /// Encodings the 387 and later reject as operands (invalid-operation):
    /// unnormals, pseudo-infinities and pseudo-NaNs — a nonzero exponent
    /// without the integer bit.
    public var isUnsupported: Bool { signExponent & 0x7FFF != 0 && !hasIntegerBit }
    /// NaN, or an encoding that is treated like one (the result is a NaN).
    var isNaNOrUnsupported: Bool { isNaN || isUnsupported }
    /// A finite nonzero value (normal or denormal).
    var isFiniteNonzero: Bool { !isZero && signExponent & 0x7FFF != 0x7FFF && !isUnsupported }

    /// A NaN with its quiet bit set (SNaN → QNaN conversion).
    var quieted: ExtendedReal { ExtendedReal(significand: significand | ExtendedReal.quietBit, signExponent: signExponent) }

    /// The two-bit tag the tag word holds for a non-empty register
    /// (SDM vol. 1, 8.1.7): 0 valid, 1 zero, 2 special.
    var tag: UInt16 {
        if isZero { return 1 }
        let e = signExponent & 0x7FFF
        return e != 0 && e != 0x7FFF && hasIntegerBit ? 0 : 2
    }

    /// A finite nonzero value as unbiased exponent and normalized
    /// significand (bit 63 set). Denormals take exponent 1 − bias, as the
    /// hardware reads them, and are then normalized.
    var unpacked: (exponent: Int32, significand: UInt64) {
        let e = biasedExponent
        if e != 0 { return (e - ExtendedReal.exponentBias, significand) }
        let shift = significand.leadingZeroBitCount
        return (1 - ExtendedReal.exponentBias - Int32(shift), significand << UInt64(shift))
    }

    /// A normalized value sign × significand × 2^(exponent − 63) whose
    /// exponent is in range (used for exact results: integers, FXTRACT).
    static func normalized(negative: Bool, exponent: Int32, significand: UInt64) -> ExtendedReal {
        if significand == 0 { return zero(negative: negative) }
        let shift = significand.leadingZeroBitCount
        let biased = exponent - Int32(shift) + exponentBias
        return ExtendedReal(significand: significand << UInt64(shift),
                            signExponent: UInt16(truncatingIfNeeded: biased) & 0x7FFF | (negative ? 0x8000 : 0))
    }

    /// An integer, exactly.
    static func integer(_ v: Int64) -> ExtendedReal {
        normalized(negative: v < 0, exponent: 63, significand: v.magnitude)
    }

    // MARK: - Bridge to the host's Float80 (libm for transcendentals)

    public init(_ value: Float80) {
        var v = value
        self = withUnsafeBytes(of: &v) { raw in
            ExtendedReal(significand: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self),
                         signExponent: raw.loadUnaligned(fromByteOffset: 8, as: UInt16.self))
        }
    }

    public var float80: Float80 {
        var v: Float80 = 0
        withUnsafeMutableBytes(of: &v) { raw in
            raw.storeBytes(of: significand, toByteOffset: 0, as: UInt64.self)
            raw.storeBytes(of: signExponent, toByteOffset: 8, as: UInt16.self)
        }
        return v
    }
}
