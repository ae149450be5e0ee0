/// Integer arithmetic and logic (Intel SDM vol. 2: ADD … XOR, INC, DEC,
/// NEG, NOT, CBW/CWDE, CWD/CDQ, SALC) and the dispatch of the whole
/// arithmetic family: multiply/divide, decimal adjust, shifts and rotates,
/// and the bit instructions each live in their own file next to this one.
///
/// Every instruction here computes its result first, writes the
/// destination (the only step that can fault for a memory operand) and
/// only then updates EFLAGS, so a fault leaves the registers and flags as
/// they were before the instruction.
///
/// Flags the SDM leaves undefined, and the values chosen here (P6 values
/// per sandpile.org's "undefined integer FLAGS behavior" table where that
/// table shows a fixed value, else a documented choice):
/// - AND/OR/XOR/TEST: AF = 0 (every Intel core since the 8086).
/// - MUL/IMUL: SF, ZF, PF from the low half of the product (the value
///   written to the destination for the 2- and 3-operand forms), AF = 0 —
///   the NetBurst behaviour; the P6 column says "unpredictable".
/// - DIV/IDIV: all six flags left unchanged (P6: unpredictable).
/// - DAA/DAS: OF = 0 (Core 2 and NetBurst; P6: unpredictable).
/// - AAA/AAS: OF = 0; SF, ZF, PF from the final AL (so SF = 0, as the P6
///   column shows).
/// - AAM: OF = AF = CF = 0. AAD: OF, AF, CF as for the 8-bit addition
///   AL + AH·imm8 (both per the table).
/// - Shifts with a nonzero count: AF = 0. OF for counts above 1 uses the
///   count-1 formula applied to the final result, as Intel cores do:
///   left shifts/rotates MSB(result) XOR CF, right ones MSB(result) XOR
///   the bit below it. CF for SHL/SHR counts ≥ the operand width is the
///   last bit the SDM's bit-by-bit loop shifts out (0).
/// - RCL/RCR whose count is a multiple of 9 (8-bit) or 17 (16-bit) after
///   masking rotate nothing, keep CF and set OF by the formula above from
///   the unchanged value — what the 80286 reference vectors show (P6:
///   unpredictable).
/// - SHLD/SHRD: AF = 0, OF as for shifts; 16-bit counts 17–31 shift the
///   48-bit pattern dest:src:dest, as Intel cores do.
/// - BT/BTS/BTR/BTC: only CF changes. BSF/BSR: only ZF changes, and the
///   destination keeps its value when the source is 0.
extension CPU {
    func executeArithmetic(_ i: Instruction) throws(CPUFault) {
        switch i.op {
        case .add, .or, .adc, .sbb, .and, .sub, .xor, .cmp, .test:
            try executeBinaryALU(i)
        case .inc, .dec:
            try executeIncrementDecrement(i)
        case .neg:
            let d = i.operands.0
            let size = Int(d.size)
            let a = try read(d, i)
            let r = (0 &- a) & CPU.mask(size)
            try write(d, i, r)
            setSubFlags(0, a, size) // CF = (source ≠ 0)
        case .not:
            let d = i.operands.0
            try write(d, i, ~(try read(d, i)) & CPU.mask(Int(d.size)))
        case .mul, .imul, .div, .idiv:
            try executeMultiplyDivide(i)
        case .daa, .das, .aaa, .aas, .aam, .aad:
            try executeDecimalAdjust(i)
        case .rol, .ror, .rcl, .rcr, .shl, .sal, .shr, .sar:
            try executeShiftRotate(i)
        case .shld, .shrd:
            try executeDoubleShift(i)
        case .bt, .bts, .btr, .btc:
            try executeBitTest(i)
        case .bsf, .bsr:
            try executeBitScan(i)
        case .cbw:
            // CBW: AX ← sign-extend(AL); CWDE: EAX ← sign-extend(AX).
            if i.operandSize == 4 {
                setReg32(0, UInt32(bitPattern: Int32(Int16(bitPattern: reg16(0)))))
            } else {
                setReg16(0, UInt16(bitPattern: Int16(Int8(bitPattern: reg8(0)))))
            }
        case .cwd:
            // CWD: DX ← sign of AX replicated; CDQ: EDX ← sign of EAX.
            if i.operandSize == 4 {
                setReg32(2, reg32(0) & 0x8000_0000 != 0 ? 0xFFFF_FFFF : 0)
            } else {
                setReg16(2, reg16(0) & 0x8000 != 0 ? 0xFFFF : 0)
            }
        case .salc:
            // Undocumented D6: AL ← CF ? FFh : 00h, flags unchanged.
            setReg8(0, state.pointee.eflags & EFLAGS.cf != 0 ? 0xFF : 0)
        default:
            throw .invalidOpcode
        }
    }

    /// The eight classic two-operand ALU instructions and TEST:
    /// destination (register or memory) ← destination OP source.
    // Always inlined: SpecializedForms.swift specializes it per operand form.
    @inline(always)
    func executeBinaryALU(_ i: Instruction) throws(CPUFault) {
        let d = i.operands.0
        let size = Int(d.size)
        let m = CPU.mask(size)
        let a = try read(d, i)
        // Immediates arrive sign-extended; keep only the operand's width.
        let b = try read(i.operands.1, i) & m
        switch i.op {
        case .add:
            let r = (a &+ b) & m
            try write(d, i, r)
            setAddFlags(a, b, size)
        case .adc:
            let carry = state.pointee.eflags & EFLAGS.cf
            let r = (a &+ b &+ carry) & m
            try write(d, i, r)
            setAddFlags(a, b, size, carryIn: carry)
        case .sub:
            let r = (a &- b) & m
            try write(d, i, r)
            setSubFlags(a, b, size)
        case .sbb:
            let borrow = state.pointee.eflags & EFLAGS.cf
            let r = (a &- b &- borrow) & m
            try write(d, i, r)
            setSubFlags(a, b, size, borrowIn: borrow)
        case .cmp:
            setSubFlags(a, b, size)
        case .and:
            let r = a & b
            try write(d, i, r)
            setLogicFlags(r, size)
        case .or:
            let r = a | b
            try write(d, i, r)
            setLogicFlags(r, size)
        case .xor:
            let r = a ^ b
            try write(d, i, r)
            setLogicFlags(r, size)
        default: // .test
            setLogicFlags(a & b, size)
        }
    }

    /// INC/DEC: ADD/SUB of 1 that leaves CF alone.
    // Always inlined: SpecializedForms.swift specializes it per operand form.
    @inline(always)
    func executeIncrementDecrement(_ i: Instruction) throws(CPUFault) {
        let d = i.operands.0
        let size = Int(d.size)
        let a = try read(d, i)
        if i.op == .inc {
            try write(d, i, (a &+ 1) & CPU.mask(size))
            setAddFlags(a, 1, size, mask: EFLAGS.arithmetic & ~EFLAGS.cf)
        } else {
            try write(d, i, (a &- 1) & CPU.mask(size))
            setSubFlags(a, 1, size, mask: EFLAGS.arithmetic & ~EFLAGS.cf)
        }
    }

    /// A value of `size` bytes (zero-extended in a UInt32) as a signed number.
    @inline(__always)
    static func signExtend(_ v: UInt32, _ size: Int) -> Int32 {
        switch size {
        case 1: return Int32(Int8(truncatingIfNeeded: v))
        case 2: return Int32(Int16(truncatingIfNeeded: v))
        default: return Int32(bitPattern: v)
        }
    }
}
