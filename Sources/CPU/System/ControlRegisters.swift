/// The control and debug registers (Intel SDM vol. 3, 2.5 and 17.2; vol.
/// 2, MOV CRn/DRn, LMSW, SMSW, CLTS): which bits a P6 has, the invalid
/// combinations that raise #GP, the PDPTE loads of PAE paging, and the TLB
/// flushes each write implies.
///
/// Every write of CR0, CR3 or CR4 goes through `writeCR0`/`loadCR3`/
/// `writeCR4`, which tell `onControlRegisterWrite` and end the run batch
/// when the value changed (CR3: on every load, since it flushes the TLB),
/// so the machine sees mode switches between batches.
public enum CR0 {
    public static let pe: UInt32 = 1 << 0
    public static let mp: UInt32 = 1 << 1
    public static let em: UInt32 = 1 << 2
    public static let ts: UInt32 = 1 << 3
    /// Extension type: hard-wired to 1 on the P6.
    public static let et: UInt32 = 1 << 4
    public static let ne: UInt32 = 1 << 5
    public static let wp: UInt32 = 1 << 16
    public static let am: UInt32 = 1 << 18
    public static let nw: UInt32 = 1 << 29
    public static let cd: UInt32 = 1 << 30
    public static let pg: UInt32 = 1 << 31
    /// The bits a MOV to CR0 can change; writes to the others are ignored.
    public static let writable = pe | mp | em | ts | ne | wp | am | nw | cd | pg
}

public enum CR4 {
    public static let vme: UInt32 = 1 << 0
    public static let pvi: UInt32 = 1 << 1
    public static let tsd: UInt32 = 1 << 2
    public static let de: UInt32 = 1 << 3
    public static let pse: UInt32 = 1 << 4
    public static let pae: UInt32 = 1 << 5
    public static let mce: UInt32 = 1 << 6
    public static let pge: UInt32 = 1 << 7
    public static let pce: UInt32 = 1 << 8
    public static let osfxsr: UInt32 = 1 << 9
    /// The features this processor implements (VME/PVI are not: virtual-8086
    /// mode runs without the mode extensions; no SSE, so no OSXMMEXCPT).
    /// Setting any other bit is #GP(0).
    public static let supported = tsd | de | pse | pae | mce | pge | pce | osfxsr
    /// Changing these changes how linear addresses translate: flush the TLB.
    static let pagingBits = pse | pae | pge
}

extension CPU {
    // MARK: - MOV CRn / MOV DRn

    /// MOV to or from CR0, CR2, CR3, CR4 (CPL 0 only; #UD for the others).
    func executeMoveSystemRegister(_ i: Instruction) throws(CPUFault) {
        if protectedMode && cpl != 0 { throw .generalProtection(0) } // CPL is 3 in V86 mode
        let (dst, src) = (i.operands.0, i.operands.1)
        switch (dst.kind, src.kind) {
        case (.control, .register):
            try writeControlRegister(dst.register, reg32(src.register))
        case (.register, .control):
            setReg32(dst.register, try readControlRegister(src.register))
        case (.debug, .register):
            try writeDebugRegister(dst.register, reg32(src.register))
        case (.register, .debug):
            setReg32(dst.register, try readDebugRegister(src.register))
        default:
            throw .invalidOpcode
        }
    }

    func readControlRegister(_ n: UInt8) throws(CPUFault) -> UInt32 {
        switch n {
        case 0: return UInt32(truncatingIfNeeded: state.pointee.cr0)
        case 2: return UInt32(truncatingIfNeeded: state.pointee.cr2)
        case 3: return UInt32(truncatingIfNeeded: state.pointee.cr3)
        case 4: return UInt32(truncatingIfNeeded: state.pointee.cr4)
        default: throw .invalidOpcode
        }
    }

    func writeControlRegister(_ n: UInt8, _ value: UInt32) throws(CPUFault) {
        switch n {
        case 0: try writeCR0(value)
        case 2: state.pointee.cr2 = UInt64(value)
        case 3: try loadCR3(UInt64(value))
        case 4: try writeCR4(value)
        default: throw .invalidOpcode
        }
    }

    /// CR0: PG without PE, or NW without CD, is #GP(0). Turning paging on in
    /// PAE mode loads the PDPTEs. PG, WP or PE changes flush the TLB;
    /// leaving protected mode makes CPL 0.
    func writeCR0(_ value: UInt32) throws(CPUFault) {
        let new = value & CR0.writable | CR0.et
        if new & CR0.pg != 0 && new & CR0.pe == 0 { throw .generalProtection(0) }
        if new & CR0.nw != 0 && new & CR0.cd == 0 { throw .generalProtection(0) }
        let old = UInt32(truncatingIfNeeded: state.pointee.cr0)
        let pagingOn = new & CR0.pg != 0 && old & CR0.pg == 0
        let pae = state.pointee.cr4 & UInt64(CR4.pae) != 0
        // Paging on with EFER.LME enters IA-32e mode (LMA), which needs PAE;
        // its tables start at a PML4, so there are no PDPTEs to load. This
        // interpreter stops there: the machine hands the guest to KVM.
        let longMode = state.pointee.efer & EFER.lme != 0
        if pagingOn && longMode && !pae { throw .generalProtection(0) }
        if pagingOn && pae && !longMode { try loadPageDirectoryPointers(cr3: state.pointee.cr3) }
        state.pointee.cr0 = UInt64(new)
        if new & CR0.pg == 0 { state.pointee.efer &= ~EFER.lma } else if pagingOn && longMode { state.pointee.efer |= EFER.lma }
        if (old ^ new) & (CR0.pg | CR0.wp | CR0.pe) != 0 { tlb.flushAll() }
        if new & CR0.pe == 0 { state.pointee.cpl = 0 }
        controlRegisterWritten(0, UInt64(old), UInt64(new), changed: old != new)
    }

    /// CR3 (MOV CR3 and task switches): with PAE paging on, the PDPTEs are
    /// loaded from the new table first. Non-global TLB entries go.
    func loadCR3(_ value: UInt64) throws(CPUFault) {
        let s = state.pointee
        if s.cr0 & UInt64(CR0.pg) != 0 && s.cr4 & UInt64(CR4.pae) != 0 { try loadPageDirectoryPointers(cr3: value) }
        let old = s.cr3
        state.pointee.cr3 = value
        tlb.flushNonGlobal()
        controlRegisterWritten(3, old, value, changed: true)
    }

    /// CR4: only the bits this processor implements. With paging on,
    /// changing PAE, PSE or PGE reloads the PDPTEs (if PAE is on) and
    /// flushes the whole TLB, global entries included.
    func writeCR4(_ value: UInt32) throws(CPUFault) {
        if value & ~CR4.supported != 0 { throw .generalProtection(0) }
        if value & CR4.pae == 0 && state.pointee.efer & EFER.lma != 0 { throw .generalProtection(0) }
        let old = UInt32(truncatingIfNeeded: state.pointee.cr4)
        let pagingChanged = (old ^ value) & CR4.pagingBits != 0
        if pagingChanged && state.pointee.cr0 & UInt64(CR0.pg) != 0 && value & CR4.pae != 0 {
            try loadPageDirectoryPointers(cr3: state.pointee.cr3)
        }
        state.pointee.cr4 = UInt64(value)
        if pagingChanged { tlb.flushAll() }
        controlRegisterWritten(4, UInt64(old), UInt64(value), changed: old != value)
    }

    func controlRegisterWritten(_ n: Int, _ old: UInt64, _ new: UInt64, changed: Bool) {
        onControlRegisterWrite?(n, old, new)
        if changed { stopRequested = true }
    }

    // MARK: - LMSW, SMSW, CLTS

    /// LMSW: loads PE, MP, EM, TS from the low bits of the operand; it can
    /// set PE but never clear it.
    func loadMachineStatusWord(_ value: UInt32) throws(CPUFault) {
        let cr0 = UInt32(truncatingIfNeeded: state.pointee.cr0)
        let low = CR0.pe | CR0.mp | CR0.em | CR0.ts
        try writeCR0(cr0 & ~(low & ~CR0.pe) | value & low)
    }

    /// SMSW: a register destination of 32 bits receives all of CR0, as the
    /// P6 stores it (the SDM leaves bits 31:16 undefined); memory gets 16 bits.
    func storeMachineStatusWord(_ i: Instruction) throws(CPUFault) {
        let cr0 = UInt32(truncatingIfNeeded: state.pointee.cr0)
        try storeSelectorLike(i, cr0)
    }

    func clearTaskSwitched() throws(CPUFault) {
        if protectedMode && cpl != 0 { throw .generalProtection(0) }
        try writeCR0(UInt32(truncatingIfNeeded: state.pointee.cr0) & ~CR0.ts)
    }

    // MARK: - Debug registers

    /// DR7.GD makes any debug-register access a #DB fault (with DR6.BD set
    /// and GD cleared for the handler); DR4/DR5 alias DR6/DR7 unless
    /// CR4.DE, which makes them #UD.
    private func debugRegisterIndex(_ n: UInt8) throws(CPUFault) -> UInt8 {
        if state.pointee.dr.7 & 0x2000 != 0 {
            state.pointee.dr.6 |= 0x2000
            state.pointee.dr.7 &= ~0x2000
            throw .debug
        }
        if n == 4 || n == 5 {
            if state.pointee.cr4 & UInt64(CR4.de) != 0 { throw .invalidOpcode }
            return n + 2
        }
        return n & 7
    }

    func readDebugRegister(_ n: UInt8) throws(CPUFault) -> UInt32 {
        let d = state.pointee.dr
        switch try debugRegisterIndex(n) {
        case 0: return UInt32(truncatingIfNeeded: d.0)
        case 1: return UInt32(truncatingIfNeeded: d.1)
        case 2: return UInt32(truncatingIfNeeded: d.2)
        case 3: return UInt32(truncatingIfNeeded: d.3)
        case 6: return UInt32(truncatingIfNeeded: d.6)
        default: return UInt32(truncatingIfNeeded: d.7)
        }
    }

    /// DR6 keeps its reserved bits at 1 (0xFFFF0FF0); DR7 keeps bit 10 at
    /// 1 and bits 11, 12, 14, 15 at 0.
    func writeDebugRegister(_ n: UInt8, _ value: UInt32) throws(CPUFault) {
        switch try debugRegisterIndex(n) {
        case 0: state.pointee.dr.0 = UInt64(value)
        case 1: state.pointee.dr.1 = UInt64(value)
        case 2: state.pointee.dr.2 = UInt64(value)
        case 3: state.pointee.dr.3 = UInt64(value)
        case 6: state.pointee.dr.6 = UInt64(value & 0xE00F | 0xFFFF_0FF0)
        default: state.pointee.dr.7 = UInt64(value & 0xFFFF_23FF | 0x400)
        }
    }
}
