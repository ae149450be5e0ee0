/// IRET/IRETD (Intel SDM vol. 2, IRET operation): the return from an
/// interrupt or exception handler, in each of its shapes — real mode,
/// inside virtual-8086 mode (IOPL 3 only), back to virtual-8086 mode from
/// CPL 0, a task return when NT = 1, and protected-mode returns to the same
/// or an outer privilege level.
///
/// Which EFLAGS bits the popped image may change depends on the mode and
/// on the CPL *before* the return; `mergeReturnFlags` holds those rules.
extension CPU {
    /// EFLAGS bits that exist on a P6: bit 1 reads as 1; bits 3, 5, 15 and
    /// 22–31 read as 0.
    static let eflagsImplemented: UInt32 = 0x003F_7FD5

    func interruptReturn(_ i: Instruction) throws(CPUFault) {
        let size = UInt32(i.operandSize)
        if !protectedMode {
            try returnRealMode(size)
        } else if virtual8086 {
            try returnWithinVirtual8086(size)
        } else if state.pointee.eflags & EFLAGS.nt != 0 {
            try returnFromNestedTask()
        } else {
            try returnProtected(size)
        }
    }

    /// Real mode: pop IP, CS, FLAGS. A 32-bit IRETD keeps VM, VIF and VIP.
    private func returnRealMode(_ size: UInt32) throws(CPUFault) {
        let (offset, selector, flags) = try peekReturnFrame(size)
        try loadCodeSegmentRealOrVirtual8086(selector, offset)
        setEFLAGS(flags, changing: size == 4 ? 0x0025_7FD5 : 0xFFFF)
        releaseStack(3 * size)
    }

    /// Inside virtual-8086 mode IRET is IOPL-sensitive: with IOPL < 3 it
    /// traps to the monitor (#GP(0)); with IOPL 3 it pops like real mode
    /// but leaves IOPL (and VM, VIF, VIP) alone.
    private func returnWithinVirtual8086(_ size: UInt32) throws(CPUFault) {
        guard iopl == 3 else { throw .generalProtection(0) }
        let (offset, selector, flags) = try peekReturnFrame(size)
        try loadCodeSegmentRealOrVirtual8086(selector, offset)
        let keep = EFLAGS.iopl | EFLAGS.vm | EFLAGS.vif | EFLAGS.vip
        setEFLAGS(flags, changing: (size == 4 ? 0xFFFF_FFFF : 0xFFFF) & ~keep)
        releaseStack(3 * size)
    }

    /// NT = 1: return to the task whose TSS selector is in this TSS's
    /// back link; that TSS must be busy.
    private func returnFromNestedTask() throws(CPUFault) {
        let link = UInt16(truncatingIfNeeded: try readSystem(UInt32(truncatingIfNeeded: state.pointee.tr.base), size: 2))
        let ts = CPUFault.invalidTSS(UInt32(link & 0xFFFC))
        guard link & 4 == 0 else { throw ts }
        let d = try readDescriptor(link, outside: ts)
        guard d.systemType?.isBusyTSS == true else { throw ts }
        guard d.present else { throw .segmentNotPresent(UInt32(link & 0xFFFC)) }
        try switchTask(to: link, d, reason: .iret, returnEIP: eip)
    }

    private func returnProtected(_ size: UInt32) throws(CPUFault) {
        let (offset, selector, flags) = try peekReturnFrame(size)
        if flags & EFLAGS.vm != 0 && cpl == 0 && size == 4 {
            try returnToVirtual8086(offset, selector, flags)
            return
        }
        let (code, cs) = try checkedReturnCodeSegment(selector)
        let rpl = UInt8(selector & 3)
        let oldCPL = cpl
        if rpl == cpl {
            guard cs.contains(offset, size: 1) else { throw .generalProtection(0) }
            try markAccessed(code)
            commitCodeSegment(cs, level: rpl)
            eip = offset
            mergeReturnFlags(flags, size: size, oldCPL: oldCPL)
            releaseStack(3 * size)
            return
        }
        let outerESP = try peekStack(3 * size, size: Int(size))
        let outerSS = UInt16(truncatingIfNeeded: try peekStack(4 * size, size: 2))
        let stack = try checkedStackSegment(outerSS, privilege: rpl, .generalProtection)
        guard cs.contains(offset, size: 1) else { throw .generalProtection(0) }
        try markAccessed(code)
        commitCodeSegment(cs, level: rpl)
        eip = offset
        mergeReturnFlags(flags, size: size, oldCPL: oldCPL)
        segment(.ss).pointee = stack
        setReg32(4, size == 4 ? outerESP : (reg32(4) & 0xFFFF_0000) | (outerESP & 0xFFFF))
        nullInaccessibleDataSegments()
    }

    /// From CPL 0 with VM = 1 in the popped EFLAGS: the frame also holds
    /// ESP, SS, ES, DS, FS and GS (the frame an interrupt from V86 mode
    /// pushed, SDM vol. 3 "Privilege Level 0 Stack After Interrupt or
    /// Exception in Virtual-8086 Mode"), all popped as dwords; every segment
    /// is loaded the virtual-8086 way and CPL = 3.
    private func returnToVirtual8086(_ offset: UInt32, _ selector: UInt16, _ flags: UInt32) throws(CPUFault) {
        var words = [UInt32](repeating: 0, count: 6) // ESP, SS, ES, DS, FS, GS
        for k in 0..<6 { words[k] = try peekStack(UInt32(12 + 4 * k), size: 4) }
        guard offset <= 0xFFFF else { throw .generalProtection(0) }
        state.pointee.eflags = flags & CPU.eflagsImplemented | EFLAGS.fixed1
        state.pointee.cpl = 3
        loadVirtual8086Segment(.cs, selector)
        loadVirtual8086Segment(.ss, UInt16(truncatingIfNeeded: words[1]))
        loadVirtual8086Segment(.es, UInt16(truncatingIfNeeded: words[2]))
        loadVirtual8086Segment(.ds, UInt16(truncatingIfNeeded: words[3]))
        loadVirtual8086Segment(.fs, UInt16(truncatingIfNeeded: words[4]))
        loadVirtual8086Segment(.gs, UInt16(truncatingIfNeeded: words[5]))
        eip = offset
        setReg32(4, words[0])
        stopRequested = true
    }

    /// EIP, CS and EFLAGS of an IRET frame (16-bit frames zero-extended).
    private func peekReturnFrame(_ size: UInt32) throws(CPUFault) -> (offset: UInt32, selector: UInt16, flags: UInt32) {
        let offset = try peekStack(0, size: Int(size))
        let selector = UInt16(truncatingIfNeeded: try peekStack(size, size: 2))
        let flags = try peekStack(2 * size, size: Int(size))
        return (offset, selector, flags)
    }

    /// The protected-mode IRET rule: the status flags, TF, DF and NT always;
    /// RF, AC and ID with a 32-bit frame; IF only if CPL ≤ IOPL; IOPL (and
    /// VIF, VIP with a 32-bit frame) only at CPL 0 — CPL before the return.
    private func mergeReturnFlags(_ flags: UInt32, size: UInt32, oldCPL: UInt8) {
        var mask = EFLAGS.arithmetic | EFLAGS.tf | EFLAGS.df | EFLAGS.nt
        if size == 4 { mask |= EFLAGS.rf | EFLAGS.ac | EFLAGS.id }
        if oldCPL <= iopl { mask |= EFLAGS.if }
        if oldCPL == 0 {
            mask |= EFLAGS.iopl
            if size == 4 { mask |= EFLAGS.vif | EFLAGS.vip }
        }
        setEFLAGS(flags, changing: mask)
    }

    /// Replaces the EFLAGS bits in `mask` with `value`, keeping the bits
    /// that do not exist on a P6 at their fixed values.
    func setEFLAGS(_ value: UInt32, changing mask: UInt32) {
        let merged = (state.pointee.eflags & ~mask) | (value & mask)
        state.pointee.eflags = merged & CPU.eflagsImplemented | EFLAGS.fixed1
    }
}
