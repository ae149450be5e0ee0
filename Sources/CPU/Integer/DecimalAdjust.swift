/// The BCD adjustments DAA, DAS (packed) and AAA, AAS, AAM, AAD
/// (unpacked), each written after the Operation section of its SDM vol. 2
/// page (the P6 forms: AAA/AAS adjust AX as a whole). Undefined flags: see
/// Arithmetic.swift.
extension CPU {
    func executeDecimalAdjust(_ i: Instruction) throws(CPUFault) {
        let flags = state.pointee.eflags
        let oldAL = reg8(0)
        let oldCF = flags & EFLAGS.cf != 0
        let oldAF = flags & EFLAGS.af != 0
        switch i.op {
        case .daa:
            var al = oldAL
            var f: UInt32 = 0
            if oldAL & 0x0F > 9 || oldAF {
                al = al &+ 6
                f |= EFLAGS.af
            }
            if oldAL > 0x99 || oldCF {
                al = al &+ 0x60
                f |= EFLAGS.cf
            }
            setReg8(0, al)
            setFlags(f | resultFlags(UInt32(al), 1), mask: EFLAGS.arithmetic)
        case .das:
            var al = oldAL
            var f: UInt32 = 0
            if oldAL & 0x0F > 9 || oldAF {
                // CF ← old CF or the borrow of AL − 6.
                if al < 6 { f |= EFLAGS.cf }
                al = al &- 6
                f |= EFLAGS.af
            }
            if oldAL > 0x99 || oldCF {
                al = al &- 0x60
                f |= EFLAGS.cf
            }
            setReg8(0, al)
            setFlags(f | resultFlags(UInt32(al), 1), mask: EFLAGS.arithmetic)
        case .aaa, .aas:
            var ax = reg16(0)
            var f: UInt32 = 0
            if oldAL & 0x0F > 9 || oldAF {
                // AAA: AX ← AX + 106h. AAS: AX ← AX − 6; AH ← AH − 1.
                ax = i.op == .aaa ? ax &+ 0x106 : ax &- 6 &- 0x100
                f = EFLAGS.af | EFLAGS.cf
            }
            ax &= 0xFF0F
            setReg16(0, ax)
            setFlags(f | resultFlags(UInt32(ax & 0xFF), 1), mask: EFLAGS.arithmetic)
        case .aam:
            let base = UInt8(truncatingIfNeeded: i.immediate)
            if base == 0 { throw .divideError }
            let al = oldAL % base
            setReg8(4, oldAL / base)
            setReg8(0, al)
            setFlags(resultFlags(UInt32(al), 1), mask: EFLAGS.arithmetic)
        default: // .aad
            let base = UInt8(truncatingIfNeeded: i.immediate)
            let product = reg8(4) &* base
            let al = oldAL &+ product
            setReg16(0, UInt16(al))
            // Flags of the 8-bit addition AL + AH·imm8.
            setAddFlags(UInt32(oldAL), UInt32(product), 1)
        }
    }
}
