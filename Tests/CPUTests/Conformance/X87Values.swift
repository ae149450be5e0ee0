/// Random x87 operands and states for the differential test: every class
/// of value the x87 distinguishes (SDM vol. 1, 8.2 and 4.8): normals near
/// each other and far apart, integers, zeros, denormals, pseudo-denormals,
/// unnormals, infinities, pseudo-infinities, quiet and signalling NaNs,
/// pseudo-NaNs, the real indefinite, the extremes, and values that sit on
/// a rounding boundary of single or double precision.
extension CaseBuilder {
    /// An 80-bit value as (significand, sign and exponent).
    typealias Float80Bits = (UInt64, UInt16)

    static let explicitOne: UInt64 = 1 << 63

    mutating func float80(near exponent: UInt16 = 0x3FFF) -> Float80Bits {
        let sign: UInt16 = chance(0.5) ? 0x8000 : 0
        let random = rng.next()
        switch below(100) {
        case 0..<45:
            let e = chance(0.75) ? UInt16(clamping: max(1, Int(exponent) + Int.random(in: -70...70, using: &rng)))
                : UInt16(1 + below(0x7FFE))
            return (random | CaseBuilder.explicitOne, sign | min(e, 0x7FFE))
        case 45..<55:
            // A small integer, exactly.
            let n = UInt64(1 + below(chance(0.5) ? 100 : 1 << 20))
            let shift = UInt64(n.leadingZeroBitCount)
            return (n << shift, sign | UInt16(0x3FFF + 63 - Int(shift)))
        case 55..<61: return (0, sign)
        case 61..<66: return (random >> 1 | 1, sign) // denormal
        case 66..<68: return (random | CaseBuilder.explicitOne, sign) // pseudo-denormal
        case 68..<70: return (random >> 1 | 1, sign | UInt16(1 + below(0x7FFE))) // unnormal
        case 70..<75: return (CaseBuilder.explicitOne, sign | 0x7FFF)
        case 75: return (0, sign | 0x7FFF) // pseudo-infinity
        case 76..<81: return (random | 0xC000_0000_0000_0000, sign | 0x7FFF) // QNaN
        case 81..<86: return (random & 0x3FFF_FFFF_FFFF_FFFF | 1 | CaseBuilder.explicitOne, sign | 0x7FFF) // SNaN
        case 86: return (random >> 1 | 1, sign | 0x7FFF) // pseudo-NaN
        case 87..<89: return (0xC000_0000_0000_0000, 0xFFFF) // real indefinite
        case 89..<92: return [(UInt64.max, sign | 0x7FFE), (CaseBuilder.explicitOne, sign | 1), (UInt64.max, sign | 1)][below(3)]
        default:
            // Halfway (or one off) in single (40 dropped bits) or double (11).
            let dropped: UInt64 = chance(0.5) ? 40 : 11
            let half = UInt64(1) << (dropped - 1)
            let low = [half, half - 1, half + 1, 0][below(4)]
            let e = UInt16(clamping: Int(exponent) + Int.random(in: -4...4, using: &rng))
            return (random & ~((half << 1) - 1) | low | CaseBuilder.explicitOne, sign | e)
        }
    }

    /// A double: normals, zeros, denormals, infinities, NaNs, extremes.
    mutating func float64() -> UInt64 {
        let sign: UInt64 = chance(0.5) ? 1 << 63 : 0
        let random = rng.next() & 0x000F_FFFF_FFFF_FFFF
        switch below(20) {
        case 0..<11: return sign | UInt64(0x3FF - 60 + below(120)) << 52 | random
        case 11: return sign | UInt64(1 + below(0x7FE)) << 52 | random
        case 12: return sign
        case 13: return sign | random | 1
        case 14: return sign | 0x7FF0_0000_0000_0000
        case 15: return sign | 0x7FF8_0000_0000_0000 | random
        case 16: return sign | 0x7FF0_0000_0000_0000 | (random & 0x0007_FFFF_FFFF_FFFF | 1)
        case 17: return sign | 0x7FEF_FFFF_FFFF_FFFF
        default: return sign | UInt64(0x3FF + below(64)) << 52 | random & ~0xFFF // integers-ish
        }
    }

    mutating func float32() -> UInt32 {
        let sign: UInt32 = chance(0.5) ? 1 << 31 : 0
        let random = UInt32(truncatingIfNeeded: rng.next()) & 0x007F_FFFF
        switch below(20) {
        case 0..<11: return sign | UInt32(0x7F - 30 + below(60)) << 23 | random
        case 11: return sign | UInt32(1 + below(0xFE)) << 23 | random
        case 12: return sign
        case 13: return sign | random | 1
        case 14: return sign | 0x7F80_0000
        case 15: return sign | 0x7FC0_0000 | random
        case 16: return sign | 0x7F80_0000 | (random & 0x003F_FFFF | 1)
        case 17: return sign | 0x7F7F_FFFF
        default: return sign | UInt32(0x7F + below(24)) << 23 | random & ~0xFF
        }
    }

    /// Packed BCD (m80): 18 digits and a sign byte; now and then a digit
    /// above 9, which the SDM leaves undefined for FBLD (the generator marks it).
    mutating func packedBCD() -> (bytes: [UInt8], valid: Bool) {
        let valid = chance(0.9)
        var bytes = (0..<9).map { _ -> UInt8 in UInt8(below(10)) << 4 | UInt8(below(10)) }
        if !valid { bytes[below(9)] |= 0xA0 }
        let digits = below(19)
        for k in 0..<9 where 2 * k >= digits { bytes[k] = 0 }
        bytes.append((chance(0.5) ? 0x80 : 0) | (chance(0.1) ? UInt8(below(0x80)) : 0))
        return (bytes, valid)
    }

    /// A control word: usually everything masked, round to nearest, 64-bit
    /// precision; otherwise random rounding, precision (never the reserved
    /// 01) and masks. Bit 6 reads as 1 on a P6, so it is kept set.
    mutating func x87ControlWord() -> UInt16 {
        if chance(0.5) { return 0x037F }
        let rounding = UInt16(below(4)) << 10
        let precision = [0, 2, 3][below(3)] << 8
        let masks: UInt16 = chance(0.7) ? 0x3F : UInt16(below(64))
        return rounding | UInt16(precision) | 0x40 | masks
    }

    /// Loads a random x87 state: control word, TOP, condition codes, masked
    /// sticky flags and a stack `depth` deep (random when nil). Empty
    /// registers keep stale contents, which only FXAM's C1 and the saved
    /// images can show.
    mutating func x87State(depth: Int? = nil, control: UInt16? = nil, exponent: UInt16 = 0x3FFF) {
        let fcw = control ?? x87ControlWord()
        let top = UInt16(below(8))
        let conditions = UInt16(below(16))
        let sticky = UInt16(below(64)) & fcw & 0x3F & (chance(0.3) ? 0x3F : 0)
        let fsw = top << 11 | (conditions & 7) << 8 | (conditions >> 3) << 14 | sticky
        let d = depth ?? (chance(0.85) ? 2 + below(5) : below(9))
        var stack: [Float80Bits?] = []
        for i in 0..<8 {
            stack.append(i < d ? float80(near: exponent) : nil)
        }
        var image = FXSaveImage.make(fcw: fcw, fsw: fsw, stack: stack)
        if chance(0.5) {
            for i in d..<8 {
                let (significand, se) = float80(near: exponent)
                for k in 0..<8 { image[32 + 16 * i + k] = UInt8(truncatingIfNeeded: significand >> (8 * UInt64(k))) }
                image[32 + 16 * i + 8] = UInt8(se & 0xFF); image[32 + 16 * i + 9] = UInt8(se >> 8)
            }
        }
        fpu = image
    }

    /// Whether the loaded control word unmasks any exception.
    var x87Unmasked: Bool { fpu[0] & 0x3F != 0x3F }

    /// Ends an x87 case: with an unmasked exception possible, an FWAIT
    /// follows, so a pending exception is delivered (#MF) in the case.
    mutating func endX87() {
        end()
        if x87Unmasked { emitRaw([0x9B]) }
    }
}
