/// Near control transfers, port I/O and the flag instructions (SDM vol. 2):
/// Jcc, JMP, CALL, RET (near), LOOP/LOOPE/LOOPNE, JCXZ/JECXZ, IN, OUT,
/// CLC, STC, CMC, CLD, STD, CLI, STI. Far transfers live in System/.
///
/// The core has already set EIP to the next instruction; a taken branch
/// replaces it. Every near target is truncated to 16 bits under a 16-bit
/// operand size and checked against the CS limit before anything else
/// changes, so a #GP(0) leaves the stack and the count register as they
/// were.
extension CPU {
    // Always inlined: SpecializedForms.swift specializes it per operand form.
    @inline(always)
    func executeControl(_ i: Instruction) throws(CPUFault) {
        switch i.op {
        case .jcc:
            if conditionHolds(i.condition) { eip = try nearTarget(i) }
        case .jmp:
            eip = try nearTarget(i)
        case .call:
            let target = try nearTarget(i)
            try push(eip, size: Int(i.operandSize))
            eip = target
        case .ret:
            // RET [imm16]: pop the return address, then release imm16 bytes.
            let size = Int(i.operandSize)
            var target = try peekStack(0, size: size)
            if size == 2 { target &= 0xFFFF }
            try checkCodeLimit(target)
            let release = i.operands.0.kind == .immediate ? i.immediate & 0xFFFF : 0
            stackPointer = stackPointer &+ UInt32(size) &+ release
            eip = target
        case .loop, .loope, .loopne:
            // The address size picks CX or ECX; flags are not changed.
            let count = (i.addressSize == 4 ? reg32(1) : UInt32(reg16(1))) &- 1
            var taken = count & (i.addressSize == 4 ? 0xFFFF_FFFF : 0xFFFF) != 0
            let zf = state.pointee.eflags & EFLAGS.zf != 0
            if i.op == .loope { taken = taken && zf }
            if i.op == .loopne { taken = taken && !zf }
            if taken {
                let target = try nearTarget(i)
                setRegister(1, size: Int(i.addressSize), count)
                eip = target
            } else {
                setRegister(1, size: Int(i.addressSize), count)
            }
        case .jcxz:
            let count = i.addressSize == 4 ? reg32(1) : UInt32(reg16(1))
            if count == 0 { eip = try nearTarget(i) }
        case .in:
            // IN acc, imm8 / IN acc, DX.
            let size = Int(i.operands.0.size)
            let port = UInt16(truncatingIfNeeded: try read(i.operands.1, i))
            try checkIOPermission(port, size: size)
            setRegister(0, size: size, io.portRead(port, size: size))
        case .out:
            // OUT imm8, acc / OUT DX, acc.
            let size = Int(i.operands.1.size)
            let port = UInt16(truncatingIfNeeded: try read(i.operands.0, i))
            try checkIOPermission(port, size: size)
            io.portWrite(port, size: size, value: register(0, size: size))
        case .clc: state.pointee.eflags &= ~EFLAGS.cf
        case .stc: state.pointee.eflags |= EFLAGS.cf
        case .cmc: state.pointee.eflags ^= EFLAGS.cf
        case .cld: state.pointee.eflags &= ~EFLAGS.df
        case .std: state.pointee.eflags |= EFLAGS.df
        case .cli: try clearInterruptFlag()
        case .sti: try setInterruptFlag()
        default:
            throw .invalidOpcode
        }
    }

    /// The target of a near branch: EIP + displacement for relative forms,
    /// the register or memory operand for indirect ones; truncated to 16
    /// bits under a 16-bit operand size, and checked against the CS limit.
    @inline(always)
    private func nearTarget(_ i: Instruction) throws(CPUFault) -> UInt32 {
        let o = i.operands.0
        var target: UInt32
        if o.kind == .relative {
            target = eip &+ i.immediate
        } else {
            target = try read(o, i)
        }
        if i.operandSize == 2 { target &= 0xFFFF }
        try checkCodeLimit(target)
        return target
    }

    @inline(always)
    private func checkCodeLimit(_ target: UInt32) throws(CPUFault) {
        if target > segment(.cs).pointee.limit { throw .generalProtection(0) }
    }

    /// CLI (SDM "CLI"): real mode, or CPL ≤ IOPL: IF ← 0. With IOPL too
    /// low, CR4.PVI (CPL 3) or CR4.VME (virtual-8086 mode) clear VIF
    /// instead; otherwise #GP(0).
    private func clearInterruptFlag() throws(CPUFault) {
        switch try interruptFlagAccess() {
        case .real: state.pointee.eflags &= ~EFLAGS.if
        case .virtual: state.pointee.eflags &= ~EFLAGS.vif
        }
    }

    /// STI: as CLI, setting the flag. IF going from 0 to 1 holds off
    /// interrupts for one more instruction (the interrupt shadow). Setting
    /// VIF while VIP is set faults, so the monitor can deliver the pending
    /// interrupt.
    private func setInterruptFlag() throws(CPUFault) {
        switch try interruptFlagAccess() {
        case .real:
            if state.pointee.eflags & EFLAGS.if == 0 {
                state.pointee.eflags |= EFLAGS.if
                state.pointee.interruptShadow = true
            }
        case .virtual:
            if state.pointee.eflags & EFLAGS.vip != 0 { throw .generalProtection(0) }
            state.pointee.eflags |= EFLAGS.vif
        }
    }

    private enum InterruptFlagAccess { case real, virtual }

    /// Which flag CLI/STI may change here, or #GP(0).
    private func interruptFlagAccess() throws(CPUFault) -> InterruptFlagAccess {
        if !protectedMode { return .real }
        if virtual8086 {
            if iopl == 3 { return .real }
            if virtualModeExtensions { return .virtual }
        } else {
            if cpl <= iopl { return .real }
            if cpl == 3 && protectedModeVirtualInterrupts { return .virtual }
        }
        throw .generalProtection(0)
    }
}
