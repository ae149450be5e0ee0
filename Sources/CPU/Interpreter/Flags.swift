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

/// Even-parity table for the low byte of a result (PF = 1 when even).
@usableFromInline
let parityTable: [UInt8] = (0..<256).map { v in (v.nonzeroBitCount & 1) == 0 ? 1 : 0 }

extension CPU {
    @inline(__always) static func signBit(_ size: Int) -> UInt32 { 1 << UInt32(size * 8 - 1) }
    @inline(__always) static func mask(_ size: Int) -> UInt32 { size == 4 ? 0xFFFF_FFFF : (1 << UInt32(size * 8)) - 1 }

    /// PF, ZF, SF of `result` (already truncated to `size`).
    @inline(__always)
    func resultFlags(_ result: UInt32, _ size: Int) -> UInt32 {
        var f: UInt32 = 0
        if parityTable.withUnsafeBufferPointer({ $0[Int(result & 0xFF)] }) != 0 { f |= EFLAGS.pf }
        if result == 0 { f |= EFLAGS.zf }
        if result & CPU.signBit(size) != 0 { f |= EFLAGS.sf }
        return f
    }

    /// Replaces the bits of `mask` in EFLAGS with `value`.
    @inline(__always)
    func setFlags(_ value: UInt32, mask: UInt32) {
        state.pointee.eflags = (state.pointee.eflags & ~mask) | (value & mask)
    }

    /// Flags of `a + b + carry` = `result` at `size`.
    @inline(__always)
    func setAddFlags(_ a: UInt32, _ b: UInt32, _ result: UInt32, _ size: Int, carryIn: UInt32 = 0) {
        let m = CPU.mask(size)
        var f = resultFlags(result & m, size)
        let wide = UInt64(a & m) + UInt64(b & m) + UInt64(carryIn)
        if wide > UInt64(m) { f |= EFLAGS.cf }
        if (a ^ b ^ result) & 0x10 != 0 { f |= EFLAGS.af }
        if ((a ^ result) & (b ^ result)) & CPU.signBit(size) != 0 { f |= EFLAGS.of }
        setFlags(f, mask: EFLAGS.arithmetic)
    }

    /// Flags of `a - b - borrow` = `result` at `size`.
    @inline(__always)
    func setSubFlags(_ a: UInt32, _ b: UInt32, _ result: UInt32, _ size: Int, borrowIn: UInt32 = 0) {
        let m = CPU.mask(size)
        var f = resultFlags(result & m, size)
        if UInt64(a & m) < UInt64(b & m) + UInt64(borrowIn) { f |= EFLAGS.cf }
        if (a ^ b ^ result) & 0x10 != 0 { f |= EFLAGS.af }
        if ((a ^ b) & (a ^ result)) & CPU.signBit(size) != 0 { f |= EFLAGS.of }
        setFlags(f, mask: EFLAGS.arithmetic)
    }

    /// Flags of a logical operation: CF = OF = 0, AF cleared (undefined on
    /// Intel; P6 clears it).
    @inline(__always)
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
