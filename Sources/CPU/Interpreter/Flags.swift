import CHostFlags

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

    // The flag helpers run after nearly every ALU instruction, so the host
    // computes the flags: it runs the same operation and its own flags
    // register answers (CHostFlags). Callers pass constant sizes, so one
    // operand width's code remains at each.

    /// PF, ZF, SF of `result` (already truncated to `size`).
    @inline(always)
    func resultFlags(_ result: UInt32, _ size: Int) -> UInt32 {
        novabox_result_flags(result, Int32(size))
    }

    /// Replaces the bits of `mask` in EFLAGS with `value`.
    @inline(always)
    func setFlags(_ value: UInt32, mask: UInt32) {
        state.pointee.eflags = (state.pointee.eflags & ~mask) | (value & mask)
    }

    /// Sets the flags of `mask` (INC and DEC leave CF out) to those of
    /// `a + b + carryIn` at `size` (carryIn 0 or 1).
    @inline(always)
    func setAddFlags(_ a: UInt32, _ b: UInt32, _ size: Int, carryIn: UInt32 = 0, mask: UInt32 = EFLAGS.arithmetic) {
        let flags = carryIn == 0 ? novabox_add_flags(a, b, 0, Int32(size)) : novabox_adc_flags(a, b, carryIn, Int32(size))
        setFlags(flags, mask: mask)
    }

    /// `setAddFlags` for `a - b - borrowIn`.
    @inline(always)
    func setSubFlags(_ a: UInt32, _ b: UInt32, _ size: Int, borrowIn: UInt32 = 0, mask: UInt32 = EFLAGS.arithmetic) {
        let flags = borrowIn == 0 ? novabox_sub_flags(a, b, 0, Int32(size)) : novabox_sbb_flags(a, b, borrowIn, Int32(size))
        setFlags(flags, mask: mask)
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
