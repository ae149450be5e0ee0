/// EFLAGS bits and the arithmetic flag computations every ALU instruction
/// shares. Flags are kept materialized in `CPUState.eflags`.
public enum EFLAGS {
    public static let cf: UInt32 = 1 << 0
    public static let fixed1: UInt32 = 1 << 1
    public static let pf: UInt32 = 1 << 2
    public static let af: UInt32 = 1 << 4
    public static let zf: UInt32 = 1 << 6
    public static let sf: UInt32 = 1 << 7
    public static let tf: UInt32 = 1 << 8
    public static let `if`: UInt32 = 1 << 9
    public static let df: UInt32 = 1 << 10
    public static let of: UInt32 = 1 << 11
    public static let iopl: UInt32 = 3 << 12
    public static let nt: UInt32 = 1 << 14
    public static let rf: UInt32 = 1 << 16
    public static let vm: UInt32 = 1 << 17
    public static let ac: UInt32 = 1 << 18
    public static let vif: UInt32 = 1 << 19
    public static let vip: UInt32 = 1 << 20
    public static let id: UInt32 = 1 << 21
    /// The six status flags ALU instructions write.
    public static let arithmetic: UInt32 = cf | pf | af | zf | sf | of
}

extension CPU {
    @inline(always) static func signBit(_ size: Int) -> UInt32 { 1 << UInt32(size * 8 - 1) }
    @inline(always) static func mask(_ size: Int) -> UInt32 { size == 4 ? 0xFFFF_FFFF : (1 << UInt32(size * 8)) - 1 }

    // The flag helpers run after nearly every ALU instruction, so they are
    // written without branches: each flag is computed in its EFLAGS bit
    // position and the six are merged with one masked store. Callers pass
    // constant sizes often enough that the masks and shifts fold away.

    /// PF of the low byte of `result`: set when it has an even number of
    /// ones. LLVM lowers this popcount-parity idiom to the host's own
    /// parity flag (a TEST and SETP on x86): no table, no lazy global.
    @inline(always)
    static func parityFlag(_ result: UInt32) -> UInt32 {
        UInt8(truncatingIfNeeded: result).nonzeroBitCount & 1 == 0 ? EFLAGS.pf : 0
    }

    /// PF, ZF, SF of `result` (already truncated to `size`).
    @inline(always)
    func resultFlags(_ result: UInt32, _ size: Int) -> UInt32 {
        let zf: UInt32 = result == 0 ? EFLAGS.zf : 0
        // The sign bit moved down to bit 7, where SF lives.
        let sf = result >> UInt32(size * 8 - 8) & EFLAGS.sf
        return CPU.parityFlag(result) | zf | sf
    }

    /// Replaces the bits of `mask` in EFLAGS with `value`.
    @inline(always)
    func setFlags(_ value: UInt32, mask: UInt32) {
        state.pointee.eflags = (state.pointee.eflags & ~mask) | (value & mask)
    }

    /// OF from the bit of `overflowBits` at the operand's sign position.
    @inline(always)
    static func overflowFlag(_ overflowBits: UInt32, _ size: Int) -> UInt32 {
        (overflowBits >> UInt32(size * 8 - 1) & 1) << 11
    }

    /// Flags of `a + b + carry` = `result` at `size`.
    @inline(always)
    func setAddFlags(_ a: UInt32, _ b: UInt32, _ result: UInt32, _ size: Int, carryIn: UInt32 = 0) {
        let m = CPU.mask(size)
        let cf: UInt32 = UInt64(a & m) + UInt64(b & m) + UInt64(carryIn) > UInt64(m) ? EFLAGS.cf : 0
        let af = (a ^ b ^ result) & EFLAGS.af
        let of = CPU.overflowFlag((a ^ result) & (b ^ result), size)
        setFlags(resultFlags(result & m, size) | cf | af | of, mask: EFLAGS.arithmetic)
    }

    /// Flags of `a - b - borrow` = `result` at `size`.
    @inline(always)
    func setSubFlags(_ a: UInt32, _ b: UInt32, _ result: UInt32, _ size: Int, borrowIn: UInt32 = 0) {
        let m = CPU.mask(size)
        let cf: UInt32 = UInt64(a & m) < UInt64(b & m) + UInt64(borrowIn) ? EFLAGS.cf : 0
        let af = (a ^ b ^ result) & EFLAGS.af
        let of = CPU.overflowFlag((a ^ b) & (a ^ result), size)
        setFlags(resultFlags(result & m, size) | cf | af | of, mask: EFLAGS.arithmetic)
    }

    /// Flags of a logical operation: CF = OF = 0, AF cleared (undefined on
    /// Intel; P6 clears it).
    @inline(always)
    func setLogicFlags(_ result: UInt32, _ size: Int) {
        setFlags(resultFlags(result & CPU.mask(size), size), mask: EFLAGS.arithmetic)
    }

    /// Evaluates condition code `cc` (0 = O … 15 = G) against EFLAGS.
    @inline(__always)
    public func conditionHolds(_ cc: UInt8) -> Bool {
        let f = state.pointee.eflags
        let result: Bool
        switch cc >> 1 {
        case 0: result = f & EFLAGS.of != 0
        case 1: result = f & EFLAGS.cf != 0
        case 2: result = f & EFLAGS.zf != 0
        case 3: result = f & (EFLAGS.cf | EFLAGS.zf) != 0
        case 4: result = f & EFLAGS.sf != 0
        case 5: result = f & EFLAGS.pf != 0
        case 6: result = (f & EFLAGS.sf != 0) != (f & EFLAGS.of != 0)
        default: result = f & EFLAGS.zf != 0 || (f & EFLAGS.sf != 0) != (f & EFLAGS.of != 0)
        }
        return cc & 1 == 0 ? result : !result
    }
}
