/// Conversions between the x87 register format and the memory formats the
/// loads and stores use: single (m32fp), double (m64fp), two's-complement
/// integers (m16int/m32int/m64int) and 18-digit packed BCD (m80bcd)
/// (SDM vol. 1, 4.2, 4.7 and 8.2).
///
/// Loads widen exactly; only their special cases raise exceptions (a
/// denormal source sets #D, an SNaN #IA — the instruction decides which
/// apply). Stores round through `X87Rounder` with the destination's
/// precision and exponent range, so overflow, underflow and inexact are
/// those of the narrower format.
enum X87Conversions {
    /// The integer indefinite a masked invalid FIST stores: the most
    /// negative integer of its size.
    static func integerIndefinite(size: Int) -> UInt64 { 1 << UInt64(size * 8 - 1) }

    // MARK: - Binary floating point → extended

    /// m32fp → extended, exactly. SNaNs stay signaling (the arithmetic
    /// instructions raise #IA on them; FLD quiets them itself).
    static func extended(single bits: UInt32) -> (value: ExtendedReal, denormal: Bool) {
        widen(negative: bits >> 31 != 0, exponent: Int32(bits >> 23 & 0xFF), fraction: UInt64(bits & 0x7F_FFFF),
              fractionBits: 23, format: .single)
    }

    static func extended(double bits: UInt64) -> (value: ExtendedReal, denormal: Bool) {
        widen(negative: bits >> 63 != 0, exponent: Int32(bits >> 52 & 0x7FF), fraction: bits & (1 << 52 - 1),
              fractionBits: 52, format: .double)
    }

    private static func widen(negative: Bool, exponent: Int32, fraction: UInt64, fractionBits: UInt64,
                              format: X87Format) -> (value: ExtendedReal, denormal: Bool) {
        let sign: UInt16 = negative ? 0x8000 : 0
        if exponent == format.maxExponent {
            return (ExtendedReal(significand: ExtendedReal.integerBit | fraction << (63 - fractionBits),
                                 signExponent: sign | 0x7FFF), false)
        }
        if exponent == 0 {
            if fraction == 0 { return (.zero(negative: negative), false) }
            // fraction × 2^(1 − bias − fractionBits)
            return (.normalized(negative: negative, exponent: 1 - format.bias - Int32(fractionBits) + 63,
                                significand: fraction), true)
        }
        let biased = exponent - format.bias + ExtendedReal.exponentBias
        return (ExtendedReal(significand: ExtendedReal.integerBit | fraction << (63 - fractionBits),
                             signExponent: sign | UInt16(biased)), false)
    }

    // MARK: - Extended → binary floating point

    /// FST/FSTP m32fp: the rounded bits and the exceptions. A masked
    /// invalid stores the single-precision indefinite.
    static func single(_ a: ExtendedReal, _ c: X87ControlWord) -> (bits: UInt32, exceptions: UInt16, roundedUp: Bool) {
        let sign: UInt32 = a.isNegative ? 1 << 31 : 0
        if a.isUnsupported { return (0xFFC0_0000, X87Status.invalid, false) }
        if a.isNaN {
            let payload = UInt32(truncatingIfNeeded: a.significand >> 40) & 0x7F_FFFF | 0x40_0000
            return (sign | 0x7F80_0000 | payload, a.isSignalingNaN ? X87Status.invalid : 0, false)
        }
        if a.isInfinity { return (sign | 0x7F80_0000, 0, false) }
        if a.isZero { return (sign, 0, false) }
        let u = a.unpacked
        let r = X87Rounder.round(negative: a.isNegative, exponent: u.exponent, significand: u.significand, extra: 0,
                                 format: .single, control: c)
        return (r.singleBits, r.exceptions, r.roundedUp)
    }

    static func double(_ a: ExtendedReal, _ c: X87ControlWord) -> (bits: UInt64, exceptions: UInt16, roundedUp: Bool) {
        let sign: UInt64 = a.isNegative ? 1 << 63 : 0
        if a.isUnsupported { return (0xFFF8_0000_0000_0000, X87Status.invalid, false) }
        if a.isNaN {
            let payload = (a.significand >> 11) & (1 << 52 - 1) | 1 << 51
            return (sign | 0x7FF0_0000_0000_0000 | payload, a.isSignalingNaN ? X87Status.invalid : 0, false)
        }
        if a.isInfinity { return (sign | 0x7FF0_0000_0000_0000, 0, false) }
        if a.isZero { return (sign, 0, false) }
        let u = a.unpacked
        let r = X87Rounder.round(negative: a.isNegative, exponent: u.exponent, significand: u.significand, extra: 0,
                                 format: .double, control: c)
        return (r.doubleBits, r.exceptions, r.roundedUp)
    }

    // MARK: - Packed BCD

    /// m80bcd → extended. Digits are 4-bit nibbles, least significant in
    /// byte 0's low nibble; byte 9's bit 7 is the sign. Nibbles above 9
    /// give an undefined result on the hardware; here they count with
    /// their binary value.
    static func extended(bcd low: UInt64, high: UInt16) -> ExtendedReal {
        var magnitude: UInt64 = 0
        let digits = UInt128(high & 0xFF) << 64 | UInt128(low)
        for k in stride(from: 17, through: 0, by: -1) {
            magnitude = magnitude &* 10 &+ UInt64(truncatingIfNeeded: digits >> UInt128(4 * k)) & 0xF
        }
        return .normalized(negative: high & 0x8000 != 0, exponent: 63, significand: magnitude)
    }

    /// The 18 BCD digits of `magnitude` (< 10^18) and the sign byte.
    static func bcd(magnitude: UInt64, negative: Bool) -> (low: UInt64, high: UInt16) {
        var digits: UInt128 = 0
        var rest = magnitude
        for k in 0..<18 {
            digits |= UInt128(rest % 10) << UInt128(4 * k)
            rest /= 10
        }
        return (UInt64(truncatingIfNeeded: digits), UInt16(truncatingIfNeeded: digits >> 64) | (negative ? 0x8000 : 0))
    }

    /// The packed BCD indefinite FBSTP stores on a masked invalid:
    /// FFFF C000 0000 0000 0000h.
    static let bcdIndefinite: (low: UInt64, high: UInt16) = (0xC000_0000_0000_0000, 0xFFFF)
    static let bcdLimit: UInt64 = 999_999_999_999_999_999
}
