import CPU

/// BT/BTS/BTR/BTC, BSF/BSR and 32-bit SHLD/SHRD. Where the SDM leaves
/// flags undefined the reference (the interpreter) made a choice, and the
/// host's own choice may differ: these forms take from the host only what
/// is defined (a result, CF) and merge or build the rest the way the
/// reference does.
extension BlockTranslator {
    /// BT, BTS, BTR, BTC. A register offset into memory addresses a bit
    /// string: the operand accessed is the one at EA + (offset ÷ width,
    /// signed, rounded down) · size; otherwise the offset is taken modulo
    /// the width. Only CF changes, to the selected bit: it is merged into
    /// `CPUState.eflags` (after the store, from R13, which survives its
    /// helper call), never taken from the host, whose other flags BT
    /// leaves undefined.
    mutating func translateBitTest(_ i: Instruction, eip: UInt32, next: UInt32) -> Bool {
        let d = i.operands.0, offset = i.operands.1
        guard isPlain(d), d.kind != .immediate, d.size != 1, offset.kind == .immediate || offset.kind == .register
        else { return false }
        let size = Int(d.size)
        if isMemory(d) && offset.kind == .register {
            writeBackFlags()
            hostFlagsClobbered()
            effectiveAddress(i, d, into: .r14)
            loadGuestRegister(offset.register, size: size, into: .rdx)
            if size == 2 { emit.signExtend(size: 2, .rdx) }
            emit.shift(.sar, size: 4, .rdx, count: size == 2 ? 4 : 5)
            emit.lea32(.r14, base: .r14, index: .rdx, scale: size == 2 ? 1 : 2, 0)
            if i.addressSize == 2 { emit.zeroExtend16(.r14) }
            emit.movReg32(.rsi, .r14)
            loadFromGuest(segment: i.segment, size: size, eip: eip)
        } else {
            loadForUpdate(d, i, size: size, eip: eip)
        }
        writeBackFlags()
        hostFlagsClobbered()
        loadSource(offset, i, into: .rcx)
        emit.alu(.and, size: 4, .rcx, immediate: UInt32(8 * size - 1))
        emit.movReg32(.r13, .rax)
        emit.shiftByCL(.shr, size: 4, .r13)
        emit.alu(.and, size: 4, .r13, immediate: EFLAGS.cf)
        guard i.op != .bt else {
            commitCarry(from: .r13)
            return true
        }
        emit.movImm32(.rdx, 1)
        emit.shiftByCL(.shl, size: 4, .rdx)
        switch i.op {
        case .bts: emit.alu(.or, size: 4, .rax, .rdx)
        case .btr:
            emit.complement(negate: false, size: 4, .rdx)
            emit.alu(.and, size: 4, .rax, .rdx)
        default: emit.alu(.xor, size: 4, .rax, .rdx)
        }
        if isMemory(d) {
            emit.movReg32(.rsi, .r14)
            emit.movReg32(.rcx, .rax)
            storeToGuest(segment: i.segment, size: size, eip: eip, next: .eip(next), readModifyWrite: false) { t in
                t.commitCarry(from: .r13)
            }
        } else {
            storeGuestRegister(d.register, size: size, from: .rax)
            commitCarry(from: .r13)
        }
        return true
    }

    /// BSF/BSR r, r/m: a zero source sets ZF and leaves the destination
    /// alone; otherwise the destination ← the index of the lowest/highest
    /// set bit and ZF = 0. The other flags stay (the reference's choice
    /// for flags the SDM leaves undefined), so ZF is merged into
    /// `CPUState.eflags` rather than taken from the host.
    mutating func translateBitScan(_ i: Instruction, eip: UInt32) -> Bool {
        let d = i.operands.0, source = i.operands.1
        guard d.kind == .register, d.size != 1, isPlain(source), source.kind != .immediate, source.size == d.size
        else { return false }
        loadRegisterOrMemory(i, source, eip: eip)
        writeBackFlags()
        hostFlagsClobbered()
        emit.movLoad(size: 4, .r11, base: .rbx, BlockTranslator.eflagsOffset)
        emit.alu(.or, size: 4, .r11, immediate: EFLAGS.zf)
        emit.test(size: 4, .rax, .rax)
        let zero = emit.jump(if: .zero)
        emit.bitScan32(reverse: i.op == .bsr, .rax, .rax)
        storeGuestRegister(d.register, size: Int(d.size), from: .rax)
        emit.alu(.and, size: 4, .r11, immediate: ~EFLAGS.zf)
        emit.bind(zero)
        emit.movStore(size: 4, base: .rbx, BlockTranslator.eflagsOffset, .r11)
        return true
    }

    /// `CPUState.eflags`.CF ← bit 0 of `carry` (the guest's flags are
    /// already there; clobbers R11 and the host flags).
    mutating func commitCarry(from carry: Register) {
        emit.movLoad(size: 4, .r11, base: .rbx, BlockTranslator.eflagsOffset)
        emit.alu(.and, size: 4, .r11, immediate: ~EFLAGS.cf)
        emit.alu(.or, size: 4, .r11, carry)
        emit.movStore(size: 4, base: .rbx, BlockTranslator.eflagsOffset, .r11)
        hostFlagsClobbered()
    }

    /// 32-bit SHLD/SHRD r/m, r, imm8 or CL (16-bit counts past 16 are
    /// undefined: the interpreter's). A count of 0 (mod 32) changes
    /// nothing and writes nothing. The result and CF come from the host;
    /// the other flags follow the reference: SF, ZF, PF from the result,
    /// AF = 0, OF = MSB(result) ⊕ CF (SHLD) or bit 31 ⊕ bit 30 of the
    /// result (SHRD) whatever the count — a TEST of the result gives the
    /// first four.
    mutating func translateDoubleShift(_ i: Instruction, eip: UInt32, next: UInt32) -> Bool {
        let d = i.operands.0, source = i.operands.1, count = i.operands.2
        let byCL = count.kind == .register && count.register == 1 && count.size == 1
        guard isPlain(d), d.kind != .immediate, d.size == 4, source.kind == .register,
              byCL || count.kind == .immediate else { return false }
        let left = i.op == .shld
        let immediateCount = UInt8(truncatingIfNeeded: i.immediate) & 0x1F
        loadForUpdate(d, i, size: 4, eip: eip)
        guard byCL || immediateCount != 0 else { return true }
        writeBackFlags()
        hostFlagsClobbered()
        loadGuestRegister(source.register, size: 4, into: .rdx)
        var unchanged: X86Emitter.Label?
        if byCL {
            loadGuestRegister(1, size: 1, into: .rcx)
            emit.test(size: 1, .rcx, immediate: 0x1F)
            unchanged = emit.jump(if: .zero)
        }
        emit.movImm32(.r10, 0)
        emit.doubleShift32(left: left, .rax, .rdx, count: byCL ? nil : immediateCount)
        emit.setByte(ifGuestCondition: 2, .r10) // CF
        emit.movReg32(.r9, .rax)
        emit.shiftRight32(.r9, by: left ? 31 : 30)
        if left {
            emit.alu(.xor, size: 4, .r9, .r10)
        } else {
            emit.movReg32(.r11, .r9)
            emit.shiftRight32(.r11, by: 1)
            emit.alu(.xor, size: 4, .r9, .r11)
            emit.alu(.and, size: 4, .r9, immediate: 1)
        }
        emit.shift(.shl, size: 4, .r10, count: BlockTranslator.imageCarryBit) // R9 is OF, R10 CF, as in the flag image
        emit.test(size: 4, .rax, .rax)
        captureFlags(into: .r11, savingRAXIn: .rdx)
        emit.alu(.or, size: 4, .r11, .r10)
        emit.alu(.or, size: 4, .r11, .r9)
        flagsComputedInR11()
        writeBack(d, i, size: 4, eip: eip, next: next)
        // Both ways on with the guest's flags in `CPUState`.
        writeBackFlags()
        if let unchanged { emit.bind(unchanged) }
        hostFlagsClobbered()
        return true
    }
}
