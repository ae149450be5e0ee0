/// The stack instructions (SDM vol. 2): PUSH, POP (registers, memory,
/// immediates, segment registers), PUSHA/PUSHAD, POPA/POPAD, PUSHF/PUSHFD,
/// POPF/POPFD, ENTER, LEAVE.
///
/// The operand size picks the width of what is pushed or popped; SS's B
/// bit picks SP or ESP (`stackPointer`). Every instruction computes the
/// stack addresses it touches from a local copy of the stack pointer and
/// updates (E)SP and the other registers only after its last memory
/// access, so a #SS or #PF part-way leaves the registers exact.
extension CPU {
    // Always inlined: SpecializedForms.swift specializes it per operand form.
    @inline(always)
    func executeStackOperation(_ i: Instruction) throws(CPUFault) {
        let size = Int(i.operandSize)
        switch i.op {
        case .push:
            let o = i.operands.0
            if o.kind == .segment {
                try pushSegment(o, size: size)
            } else {
                // PUSH ESP and PUSH [ESP+n] see ESP from before the push.
                try push(try read(o, i), size: size)
            }
        case .pop:
            try popOperand(i, size: size)
        case .pusha:
            // EAX, ECX, EDX, EBX, original ESP, EBP, ESI, EDI, downwards.
            let mask = stackAddressMask
            var sp = stackPointer
            for r in UInt8(0)..<8 {
                sp = (sp &- UInt32(size)) & mask
                try write(.ss, sp, size: size, value: register(r, size: size))
            }
            stackPointer = sp
        case .popa:
            // EDI, ESI, EBP, (the saved ESP is skipped), EBX, EDX, ECX, EAX.
            let edi = try peekStack(0, size: size)
            let esi = try peekStack(UInt32(size), size: size)
            let ebp = try peekStack(UInt32(2 * size), size: size)
            let ebx = try peekStack(UInt32(4 * size), size: size)
            let edx = try peekStack(UInt32(5 * size), size: size)
            let ecx = try peekStack(UInt32(6 * size), size: size)
            let eax = try peekStack(UInt32(7 * size), size: size)
            setRegister(7, size: size, edi)
            setRegister(6, size: size, esi)
            setRegister(5, size: size, ebp)
            setRegister(3, size: size, ebx)
            setRegister(2, size: size, edx)
            setRegister(1, size: size, ecx)
            setRegister(0, size: size, eax)
            stackPointer = stackPointer &+ UInt32(8 * size)
        case .pushf:
            try push(try flagsImageForPush(size: size), size: size)
        case .popf:
            try popFlags(size: size)
        case .enter:
            try enterProcedure(i, size: size)
        default: // .leave
            // (E)SP ← (E)BP; (E)BP ← Pop().
            let sp = stack32 ? reg32(5) : UInt32(reg16(5))
            let savedFrame = try read(.ss, sp, size: size)
            stackPointer = sp &+ UInt32(size)
            setRegister(5, size: size, savedFrame)
        }
    }

    /// The offsets SP/ESP can take: 16 bits unless SS is a 32-bit stack.
    @inline(__always) private var stackAddressMask: UInt32 { stack32 ? 0xFFFF_FFFF : 0xFFFF }

    /// PUSH Sreg. With a 32-bit operand size ESP moves by 4 but only the
    /// 16-bit selector is written, leaving the upper two bytes of the slot
    /// as they were — what P6 and later Intel processors do (the SDM
    /// allows this or a zero-extended push). The whole 4-byte slot must be
    /// writable.
    private func pushSegment(_ o: Operand, size: Int) throws(CPUFault) {
        guard let seg = SegmentRegister(rawValue: Int(o.register)) else { throw .invalidOpcode }
        let selector = UInt32(segment(seg).pointee.selector)
        let sp = (stackPointer &- UInt32(size)) & stackAddressMask
        if size == 4 { try probeWrite(.ss, sp, size: 4) }
        try write(.ss, sp, size: 2, value: selector)
        stackPointer = sp
    }

    /// POP r, POP m, POP Sreg.
    @inline(always)
    private func popOperand(_ i: Instruction, size: Int) throws(CPUFault) {
        let o = i.operands.0
        let oldSP = stackPointer
        let value = try read(.ss, oldSP, size: size)
        let newSP = oldSP &+ UInt32(size)
        switch o.kind {
        case .register:
            // POP ESP: the increment is overwritten by the popped value.
            stackPointer = newSP
            setRegister(o.register, size: size, value)
        case .segment:
            // POP CS does not exist (#UD); POP SS sets the interrupt
            // shadow in loadSegment. SP moves only once the load succeeded.
            guard let seg = SegmentRegister(rawValue: Int(o.register)), seg != .cs else { throw .invalidOpcode }
            try loadSegment(seg, UInt16(truncatingIfNeeded: value))
            stackPointer = newSP
        default:
            // POP m: an ESP-based address is computed after the increment
            // (SDM "POP"); undo the increment if the store faults.
            stackPointer = newSP
            do {
                try write(o, i, value)
            } catch {
                stackPointer = oldSP
                throw error
            }
        }
    }

    // MARK: - Flags

    /// CR4.VME and CR4.PVI: virtual-8086 and protected-mode virtual interrupts.
    @inline(__always) var virtualModeExtensions: Bool { state.pointee.cr4 & 1 != 0 }
    @inline(__always) var protectedModeVirtualInterrupts: Bool { state.pointee.cr4 & 2 != 0 }
    @inline(__always) var iopl: UInt8 { UInt8((state.pointee.eflags >> 12) & 3) }

    /// The EFLAGS image PUSHF pushes. Virtual-8086 mode with IOPL < 3 faults,
    /// unless CR4.VME lets a 16-bit PUSHF push VIF in place of IF (and
    /// IOPL = 3). The 32-bit image has VM and RF cleared.
    private func flagsImageForPush(size: Int) throws(CPUFault) -> UInt32 {
        let flags = state.pointee.eflags
        if virtual8086 && iopl < 3 {
            guard virtualModeExtensions && size == 2 else { throw .generalProtection(0) }
            let virtualIF = flags & EFLAGS.vif != 0 ? EFLAGS.if : 0
            return (flags & ~EFLAGS.if | virtualIF | EFLAGS.iopl) & 0xFFFF
        }
        return size == 4 ? flags & ~(EFLAGS.vm | EFLAGS.rf) : flags & 0xFFFF
    }

    /// POPF (SDM "POPF/POPFD"): which bits the popped value may change
    /// depends on the mode, CPL and IOPL. IOPL changes only at CPL 0, IF
    /// only when CPL ≤ IOPL; VM, VIP and VIF never change, RF is cleared by
    /// a 32-bit POPF. A 16-bit POPF changes only the low word. In
    /// virtual-8086 mode IOPL < 3 faults, unless CR4.VME lets a 16-bit POPF
    /// set VIF in place of IF.
    private func popFlags(size: Int) throws(CPUFault) {
        let image = try peekStack(0, size: size)
        let flags = state.pointee.eflags
        var newFlags: UInt32
        if virtual8086 && iopl < 3 {
            guard virtualModeExtensions && size == 2 else { throw .generalProtection(0) }
            // Setting TF, or enabling interrupts while one is pending
            // (VIP), still goes to the monitor.
            if image & EFLAGS.tf != 0 || (flags & EFLAGS.vip != 0 && image & EFLAGS.if != 0) {
                throw .generalProtection(0)
            }
            let changeable = EFLAGS.arithmetic | EFLAGS.tf | EFLAGS.df | EFLAGS.nt
            newFlags = flags & ~changeable | image & changeable
            newFlags = newFlags & ~EFLAGS.vif | (image & EFLAGS.if != 0 ? EFLAGS.vif : 0)
        } else {
            let cpl: UInt8 = protectedMode ? state.pointee.cpl : 0
            var changeable = EFLAGS.arithmetic | EFLAGS.tf | EFLAGS.df | EFLAGS.nt
            if size == 4 { changeable |= EFLAGS.ac | EFLAGS.id }
            if cpl == 0 && !virtual8086 { changeable |= EFLAGS.iopl }
            if cpl <= iopl { changeable |= EFLAGS.if }
            newFlags = flags & ~changeable | image & changeable
            if size == 4 { newFlags &= ~EFLAGS.rf }
        }
        state.pointee.eflags = newFlags | EFLAGS.fixed1
        stackPointer = stackPointer &+ UInt32(size)
    }

    // MARK: - Procedure frames

    /// ENTER imm16, imm8 (SDM "ENTER"): push (E)BP, copy `level − 1` frame
    /// pointers from the enclosing frame, push the new frame pointer, then
    /// reserve imm16 bytes. Works on local copies of (E)BP and (E)SP and
    /// commits them at the end.
    private func enterProcedure(_ i: Instruction, size: Int) throws(CPUFault) {
        let allocation = i.immediate & 0xFFFF
        let level = i.immediate2 & 0x1F
        let mask = stackAddressMask
        let width = UInt32(size)
        var sp = stackPointer
        var framePointer = stack32 ? reg32(5) : UInt32(reg16(5))
        sp = (sp &- width) & mask
        try write(.ss, sp, size: size, value: register(5, size: size))
        let frameTemp = sp
        if level > 0 {
            var copied: UInt32 = 1
            while copied < level {
                framePointer = (framePointer &- width) & mask
                let enclosing = try read(.ss, framePointer, size: size)
                sp = (sp &- width) & mask
                try write(.ss, sp, size: size, value: enclosing)
                copied += 1
            }
            sp = (sp &- width) & mask
            try write(.ss, sp, size: size, value: frameTemp)
        }
        let finalSP = (sp &- allocation) & mask
        // #SS when the new stack pointer lies outside the stack segment.
        if allocation != 0 { _ = try linearAddress(.ss, finalSP, size: 1, write: true) }
        if stack32 { setReg32(5, frameTemp) } else { setReg16(5, UInt16(truncatingIfNeeded: frameTemp)) }
        stackPointer = finalSP
    }
}
