@testable import CPU

/// The x87 state as the differential test exchanges it: the first 160 bytes
/// of an FXSAVE image (Intel SDM vol. 1, 10.5.1): FCW at 0, FSW at 2, the
/// abridged tag byte at 4 (bit i = physical register Ri not empty), FOP at
/// 6, FIP/FCS at 8/12, FDP/FDS at 16/20, MXCSR at 24, then ST(0)–ST(7) in
/// 16-byte slots (10 bytes used).
///
/// The conversions to and from `CPUState.fpu` follow that type's documented
/// layout (physical register Ri in slot i, full tags in `tags`), written
/// here independently of the x87 instructions so a broken FXSAVE or FRSTOR
/// in the interpreter cannot hide itself.
enum FXSaveImage {
    static let size = DifferentialLayout.fpuImageSize

    /// The state after FNINIT: FCW 037Fh, everything else zero, all empty.
    static let initialized: [UInt8] = {
        var b = [UInt8](repeating: 0, count: size)
        b[0] = 0x7F; b[1] = 0x03
        return b
    }()

    /// FOP, FIP, FCS, FDP, FDS: the host (an AMD processor) stores them in
    /// FXSAVE only while an x87 exception is pending, so they are compared
    /// only through FNSTENV/FNSAVE images, which always hold them.
    static let pointerBytes = 6..<24

    static func word(_ b: [UInt8], _ at: Int) -> UInt16 { UInt16(b[at]) | UInt16(b[at + 1]) << 8 }

    /// Builds an image. `stack` lists ST(0)… as (significand, sign+exponent),
    /// nil for an empty register; TOP comes from `fsw` bits 11–13.
    static func make(fcw: UInt16, fsw: UInt16, stack: [(UInt64, UInt16)?]) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: size)
        b[0] = UInt8(fcw & 0xFF); b[1] = UInt8(fcw >> 8)
        b[2] = UInt8(fsw & 0xFF); b[3] = UInt8(fsw >> 8)
        let top = Int(fsw >> 11) & 7
        var abridged: UInt8 = 0
        for (i, r) in stack.prefix(8).enumerated() {
            guard let (significand, signExponent) = r else { continue }
            abridged |= 1 << UInt8((top + i) & 7)
            for k in 0..<8 { b[32 + 16 * i + k] = UInt8(truncatingIfNeeded: significand >> (8 * UInt64(k))) }
            b[32 + 16 * i + 8] = UInt8(signExponent & 0xFF)
            b[32 + 16 * i + 9] = UInt8(signExponent >> 8)
        }
        b[4] = abridged
        return b
    }

    /// The full two-bit tag the SDM defines for a register's content
    /// (vol. 1, 8.1.7): 0 valid, 1 zero, 2 special (NaN, infinity,
    /// denormal, unsupported).
    static func tag(significand: UInt64, exponent: UInt16) -> UInt16 {
        let e = exponent & 0x7FFF
        if e == 0 { return significand == 0 ? 1 : 2 }
        if e == 0x7FFF || significand >> 63 == 0 { return 2 }
        return 0
    }

    /// Where the FXSAVE-layout area and the full tag word sit in `CPUState`
    /// (reached by address: a 64-element tuple is slow to copy in a debug build).
    static let areaOffset = MemoryLayout<CPUState>.offset(of: \CPUState.fpu)! + MemoryLayout<FPUState>.offset(of: \FPUState.area)!
    static let tagsOffset = MemoryLayout<CPUState>.offset(of: \CPUState.fpu)! + MemoryLayout<FPUState>.offset(of: \FPUState.tags)!

    /// Loads an image into the interpreter's x87 state.
    static func load(_ image: [UInt8], into state: UnsafeMutablePointer<CPUState>) {
        let area = UnsafeMutableRawPointer(state) + areaOffset
        let top = Int(word(image, 2) >> 11) & 7
        var tags: UInt16 = 0
        for k in 0..<24 { area.storeBytes(of: image[k], toByteOffset: k, as: UInt8.self) }
        area.storeBytes(of: UInt32(0x1F80), toByteOffset: 24, as: UInt32.self)
        area.storeBytes(of: UInt32(0xFFFF), toByteOffset: 28, as: UInt32.self)
        for physical in 0..<8 {
            let from = 32 + 16 * ((physical - top) & 7), to = 32 + 16 * physical
            for k in 0..<16 { area.storeBytes(of: k < 10 ? image[from + k] : 0, toByteOffset: to + k, as: UInt8.self) }
            let significand = area.loadUnaligned(fromByteOffset: to, as: UInt64.self)
            let exponent = area.loadUnaligned(fromByteOffset: to + 8, as: UInt16.self)
            let t: UInt16 = image[4] & (1 << UInt8(physical)) == 0 ? 3 : tag(significand: significand, exponent: exponent)
            tags |= t << UInt16(2 * physical)
        }
        (UnsafeMutableRawPointer(state) + tagsOffset).storeBytes(of: tags, as: UInt16.self)
    }

    /// The interpreter's x87 state as an image.
    static func store(_ state: UnsafeMutablePointer<CPUState>) -> [UInt8] {
        let area = UnsafeRawPointer(state) + areaOffset
        let tags = (UnsafeRawPointer(state) + tagsOffset).load(as: UInt16.self)
        var b = [UInt8](repeating: 0, count: size)
        for k in 0..<32 { b[k] = area.load(fromByteOffset: k, as: UInt8.self) }
        let top = Int(word(b, 2) >> 11) & 7
        var abridged: UInt8 = 0
        for physical in 0..<8 where (tags >> UInt16(2 * physical)) & 3 != 3 { abridged |= 1 << UInt8(physical) }
        b[4] = abridged
        b[5] = 0
        for st in 0..<8 {
            let from = 32 + 16 * ((top + st) & 7)
            for k in 0..<10 { b[32 + 16 * st + k] = area.load(fromByteOffset: from + k, as: UInt8.self) }
        }
        return b
    }
}
