/// Shifts and rotates: ROL ROR RCL RCR SHL/SAL SHR SAR (SDM vol. 2,
/// "RCL/RCR/ROL/ROR" and "SAL/SAR/SHL/SHR") and the double shifts SHLD,
/// SHRD.
///
/// The count is masked to 5 bits, as on every processor since the 80286;
/// a masked count of 0 changes neither the operand nor any flag (but a
/// memory operand is still read, and can fault). Each shift is done in
/// one step on a wider host integer rather than bit by bit; CF is the last
/// bit the SDM's loop would move out. Undefined flags (OF for counts above
/// 1, AF, CF for overlong counts): see Arithmetic.swift.
extension CPU {
    // Always inlined: SpecializedForms.swift specializes it per operand form.
    @inline(always)
    func executeShiftRotate(_ i: Instruction) throws(CPUFault) {
        let d = i.operands.0
        let size = Int(d.size)
        let bits = UInt32(size * 8)
        let m = CPU.mask(size)
        let msb = CPU.signBit(size)
        let count = try read(i.operands.1, i) & 0x1F
        let v = try read(d, i)
        if count == 0 { return }
        switch i.op {
        case .rol, .ror:
            let n = count % bits
            let r: UInt32
            if i.op == .rol {
                r = n == 0 ? v : (v &<< n | v &>> (bits - n)) & m
            } else {
                r = n == 0 ? v : (v &>> n | v &<< (bits - n)) & m
            }
            try write(d, i, r)
            // ROL: CF = LSB(result), OF = MSB(result) XOR CF.
            // ROR: CF = MSB(result), OF = MSB(result) XOR MSB−1(result).
            let cf = i.op == .rol ? r & 1 != 0 : r & msb != 0
            let of = i.op == .rol ? (r & msb != 0) != cf : (r ^ r &<< 1) & msb != 0
            setFlags((cf ? EFLAGS.cf : 0) | (of ? EFLAGS.of : 0), mask: EFLAGS.cf | EFLAGS.of)
        case .rcl, .rcr:
            // Rotation through CF: a (bits+1)-bit rotate of CF:value. A
            // count that is a multiple of 9 or 17 rotates nothing but still
            // sets OF from the (unchanged) result.
            let n = size == 4 ? count : count % (bits + 1)
            let carry = UInt64(state.pointee.eflags & EFLAGS.cf)
            let wide: UInt64 = carry << UInt64(bits) | UInt64(v)
            let wideMask: UInt64 = UInt64(m) << 1 | 1
            let k = UInt64(n), rest = UInt64(bits) + 1 - UInt64(n)
            let rotated: UInt64
            if i.op == .rcl {
                rotated = (wide << k | wide >> rest) & wideMask
            } else {
                rotated = (wide >> k | wide << rest) & wideMask
            }
            let r = UInt32(truncatingIfNeeded: rotated) & m
            let cf = rotated >> UInt64(bits) != 0
            try write(d, i, r)
            // RCL: OF = MSB(result) XOR CF. RCR: OF = MSB XOR MSB−1 of the result.
            let of = i.op == .rcl ? (r & msb != 0) != cf : (r ^ r &<< 1) & msb != 0
            setFlags((cf ? EFLAGS.cf : 0) | (of ? EFLAGS.of : 0), mask: EFLAGS.cf | EFLAGS.of)
        case .shl, .sal:
            let wide = UInt64(v) &<< UInt64(count)
            let r = UInt32(truncatingIfNeeded: wide) & m
            let cf = (wide >> UInt64(bits)) & 1 != 0
            try write(d, i, r)
            let of = (r & msb != 0) != cf
            setShiftFlags(r, size, cf: cf, of: of)
        case .shr:
            let r = v &>> count // v < 2^bits, so counts ≥ bits give 0
            let cf = (v &>> (count - 1)) & 1 != 0
            try write(d, i, r)
            setShiftFlags(r, size, cf: cf, of: (r ^ r &<< 1) & msb != 0)
        default: // .sar
            let s = CPU.signExtend(v, size)
            let r = UInt32(bitPattern: s &>> Int32(count)) & m
            let cf = (s &>> Int32(count - 1)) & 1 != 0
            try write(d, i, r)
            setShiftFlags(r, size, cf: cf, of: false) // sign bit never changes
        }
    }

    /// SHLD dest, src, count: dest shifted left, vacated bits filled from
    /// the top of src. SHRD: shifted right, filled from the bottom of src.
    func executeDoubleShift(_ i: Instruction) throws(CPUFault) {
        let d = i.operands.0
        let size = Int(d.size)
        let msb = CPU.signBit(size)
        let src = try read(i.operands.1, i)
        let count = UInt64(try read(i.operands.2, i) & 0x1F)
        let v = try read(d, i)
        if count == 0 { return }
        let left = i.op == .shld
        let r: UInt32
        let cf: Bool
        if size == 4 {
            if left {
                let wide = UInt64(v) << 32 | UInt64(src)
                r = UInt32(truncatingIfNeeded: wide >> (32 - count))
                cf = (wide >> (64 - count)) & 1 != 0
            } else {
                let wide = UInt64(src) << 32 | UInt64(v)
                r = UInt32(truncatingIfNeeded: wide >> count)
                cf = (wide >> (count - 1)) & 1 != 0
            }
        } else {
            // 16-bit: counts up to 31 shift through dest:src:dest (48 bits).
            let wide = UInt64(v & 0xFFFF) << 32 | UInt64(src & 0xFFFF) << 16 | UInt64(v & 0xFFFF)
            if left {
                r = UInt32(truncatingIfNeeded: wide >> (32 - count)) & 0xFFFF
                cf = (wide >> (48 - count)) & 1 != 0
            } else {
                r = UInt32(truncatingIfNeeded: wide >> count) & 0xFFFF
                cf = (wide >> (count - 1)) & 1 != 0
            }
        }
        try write(d, i, r)
        let of = left ? (r & msb != 0) != cf : (r ^ r &<< 1) & msb != 0
        setShiftFlags(r, size, cf: cf, of: of)
    }

    /// SF, ZF, PF from the result, CF and OF as given, AF = 0.
    @inline(__always)
    private func setShiftFlags(_ r: UInt32, _ size: Int, cf: Bool, of: Bool) {
        var f = resultFlags(r, size)
        if cf { f |= EFLAGS.cf }
        if of { f |= EFLAGS.of }
        setFlags(f, mask: EFLAGS.arithmetic)
    }
}
