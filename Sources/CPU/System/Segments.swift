/// Loading segment registers by the rules of each mode (Intel SDM vol. 3,
/// 3.4.3, 5.5–5.7; vol. 2, MOV/POP/LDS), the far-pointer loads LDS/LES/
/// LSS/LFS/LGS, and the I/O permission check (SDM vol. 1, 18.5).
///
/// Real mode changes only the selector and base: the limit, and the D/B
/// and G bits, stay as they were, which is what "unreal mode" relies on.
/// Virtual-8086 mode gives every segment base = selector × 16, a 64 KiB
/// limit and DPL 3. Protected mode reads the descriptor and checks it.
extension CPU {
    /// MOV Sreg / POP Sreg. Loading SS holds interrupts off for one
    /// instruction, so that the following MOV ESP runs before any handler.
    public func loadSegment(_ seg: SegmentRegister, _ selector: UInt16) throws(CPUFault) {
        guard seg != .cs else { throw .invalidOpcode } // CS only changes through far transfers
        try loadDataSegment(seg, selector)
        if seg == .ss { state.pointee.interruptShadow = true }
    }

    /// Loads DS, ES, FS, GS or SS (LDS…LSS, MOV, POP) without the shadow.
    func loadDataSegment(_ seg: SegmentRegister, _ selector: UInt16) throws(CPUFault) {
        if !protectedMode {
            loadRealModeSegment(seg, selector)
        } else if virtual8086 {
            loadVirtual8086Segment(seg, selector)
        } else if seg == .ss {
            segment(.ss).pointee = try checkedStackSegment(selector, privilege: cpl, .generalProtection)
        } else {
            segment(seg).pointee = try checkedDataSegment(selector, .generalProtection)
        }
    }

    /// Real mode: base = selector × 16. The limit and the D/B and G bits
    /// are kept; the segment becomes present, accessed, DPL 0 read/write
    /// data (or execute/read code for CS).
    func loadRealModeSegment(_ seg: SegmentRegister, _ selector: UInt16) {
        let s = segment(seg)
        s.pointee.selector = selector
        s.pointee.base = UInt64(selector) << 4
        s.pointee.attributes = (s.pointee.attributes & 0xD000) | (seg == .cs ? 0x9B : 0x93)
    }

    /// Virtual-8086 mode: base = selector × 16, limit 0xFFFF, a DPL-3
    /// read/write data segment (the VMX access rights 0xF3 for V86).
    func loadVirtual8086Segment(_ seg: SegmentRegister, _ selector: UInt16) {
        segment(seg).pointee = SegmentDescriptorCache(selector: selector, base: UInt64(selector) << 4,
                                                      limit: 0xFFFF, attributes: 0xF3)
    }

    /// SS in protected mode (MOV/POP/LSS, RETF/IRET to an outer level, an
    /// inner stack from the TSS, a task switch): a present writable data
    /// segment with RPL = DPL = `privilege`. A null selector faults.
    func checkedStackSegment(_ selector: UInt16, privilege: UInt8, _ invalid: SelectorFault) throws(CPUFault) -> SegmentDescriptorCache {
        guard !CPU.isNull(selector) else { throw invalid(0) }
        let d = try readDescriptor(selector, outside: invalid(selector))
        guard UInt8(selector & 3) == privilege, d.isWritableData, d.dpl == privilege else { throw invalid(selector) }
        guard d.present else { throw .stackFault(UInt32(selector & 0xFFFC)) }
        try markAccessed(d)
        return d.cache(selector: selector)
    }

    /// DS, ES, FS, GS in protected mode: data or readable code; unless
    /// conforming code, DPL ≥ max(CPL, RPL). A null selector loads an
    /// unusable register.
    func checkedDataSegment(_ selector: UInt16, _ invalid: SelectorFault) throws(CPUFault) -> SegmentDescriptorCache {
        if CPU.isNull(selector) { return .null(selector) }
        let d = try readDescriptor(selector, outside: invalid(selector))
        guard d.isData || d.isReadableCode else { throw invalid(selector) }
        if !d.isConforming && (UInt8(selector & 3) > d.dpl || cpl > d.dpl) { throw invalid(selector) }
        guard d.present else { throw .segmentNotPresent(UInt32(selector & 0xFFFC)) }
        try markAccessed(d)
        return d.cache(selector: selector)
    }

    /// Loads CS for a far transfer that has passed its checks, at
    /// privilege `level` (the selector's RPL becomes the CPL).
    func commitCodeSegment(_ cache: SegmentDescriptorCache, level: UInt8) {
        var c = cache
        c.selector = (c.selector & 0xFFFC) | UInt16(level)
        segment(.cs).pointee = c
        state.pointee.cpl = level
    }

    /// After a return to an outer level: DS, ES, FS, GS that the new CPL
    /// may not use (data or non-conforming code with DPL < CPL) become null.
    func nullInaccessibleDataSegments() {
        for seg in [SegmentRegister.es, .ds, .fs, .gs] {
            let c = segment(seg).pointee
            let dataOrNonconforming = c.isCodeOrData && (!c.isCode || !c.isConforming)
            if dataOrNonconforming && c.dpl < cpl { segment(seg).pointee = .null(0) }
        }
    }

    // MARK: - LDS, LES, LSS, LFS, LGS

    /// Loads a far pointer m16:16/m16:32: the segment register first (it
    /// may fault), then the general register.
    func loadFarPointer(_ i: Instruction, into seg: SegmentRegister) throws(CPUFault) {
        guard i.operands.1.kind == .memory else { throw .invalidOpcode }
        let size = Int(i.operandSize)
        let ea = effectiveAddress(i)
        let offset = try read(i.segment, ea, size: size)
        let selector = UInt16(truncatingIfNeeded: try read(i.segment, ea &+ UInt32(size), size: 2))
        try loadDataSegment(seg, selector)
        setRegister(i.operands.0.register, size: size, offset)
    }

    // MARK: - I/O permission

    /// IN, OUT, INS, OUTS: allowed in real mode and when CPL ≤ IOPL;
    /// otherwise (and always in virtual-8086 mode) every bit for the
    /// accessed ports in the 32-bit TSS's I/O permission bitmap must be
    /// clear. #GP(0) when the bitmap says no or lies past the TSS limit.
    public func checkIOPermission(_ port: UInt16, size: Int) throws(CPUFault) {
        guard protectedMode else { return }
        if !virtual8086 && cpl <= iopl { return }
        let tr = state.pointee.tr
        guard tr.present, tr.type == SystemDescriptorType.busyTSS32.rawValue, tr.limit >= 0x67 else {
            throw .generalProtection(0)
        }
        let base = UInt32(truncatingIfNeeded: tr.base)
        let bitmap = try readSystem(base &+ 102, size: 2)
        // The bits for `size` ports may straddle two bytes: both must be inside the limit.
        let byte = bitmap + UInt32(port >> 3)
        guard byte + 1 <= tr.limit else { throw .generalProtection(0) }
        let bits = try readSystem(base &+ byte, size: 2)
        let mask = UInt32((1 << size) - 1) << UInt32(port & 7)
        if bits & mask != 0 { throw .generalProtection(0) }
    }
}
