/// Bit test and bit scan: BT, BTS, BTR, BTC, BSF, BSR (SDM vol. 2).
///
/// BT* with a memory operand and a register bit offset treat the memory
/// operand as a "bit base": the offset is signed and may select a bit far
/// outside the operand (SDM vol. 1, 3.4.1.2 "bit field"), so the word or
/// doubleword actually accessed is at EA + (offset >> 4 or 5) · size. With
/// an immediate offset or a register operand the offset is taken modulo
/// the operand width.
extension CPU {
    func executeBitTest(_ i: Instruction) throws(CPUFault) {
        let d = i.operands.0
        let size = Int(d.size)
        let widthMask = UInt32(size * 8 - 1)
        let offset = try read(i.operands.1, i)
        let bit: UInt32
        var address: UInt32 = 0
        let value: UInt32
        if d.kind == .register {
            bit = offset & widthMask
            value = register(d.register, size: size)
        } else {
            if i.operands.1.kind == .register {
                let signed = CPU.signExtend(offset, size)
                let units = signed >> (size == 2 ? 4 : 5) // floor division by the width
                address = effectiveAddress(i) &+ UInt32(bitPattern: units &* Int32(size))
                if i.addressSize == 2 { address &= 0xFFFF }
            } else {
                address = memoryOffset(d, i)
            }
            bit = offset & widthMask
            value = try read(i.segment, address, size: size)
        }
        let selected = UInt32(1) << bit
        let result: UInt32
        switch i.op {
        case .bts: result = value | selected
        case .btr: result = value & ~selected
        case .btc: result = value ^ selected
        default: result = value // .bt
        }
        if i.op != .bt {
            if d.kind == .register {
                setRegister(d.register, size: size, result)
            } else {
                try write(i.segment, address, size: size, value: result)
            }
        }
        setFlags(value & selected != 0 ? EFLAGS.cf : 0, mask: EFLAGS.cf)
    }

    /// BSF/BSR: the index of the lowest/highest set bit of the source.
    /// A zero source sets ZF and leaves the destination unchanged (what
    /// Intel processors do; the SDM calls the destination undefined).
    func executeBitScan(_ i: Instruction) throws(CPUFault) {
        let src = try read(i.operands.1, i)
        if src == 0 {
            state.pointee.eflags |= EFLAGS.zf
            return
        }
        let index = i.op == .bsf ? src.trailingZeroBitCount : 31 - src.leadingZeroBitCount
        try write(i.operands.0, i, UInt32(index))
        state.pointee.eflags &= ~EFLAGS.zf
    }
}
