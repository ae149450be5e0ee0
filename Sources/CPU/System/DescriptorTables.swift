/// The descriptor-table instructions (Intel SDM vol. 2): LGDT, LIDT, SGDT,
/// SIDT, LLDT, SLDT, LTR, STR, and the selector probes LAR, LSL, VERR,
/// VERW and ARPL.
///
/// The probes never fault on a bad selector: they answer in ZF (set when
/// the selector passes). Only the reads of the descriptor itself (and of a
/// memory operand) can fault, as on the processor.
extension CPU {
    // MARK: - GDTR, IDTR

    /// LGDT/LIDT m16&32: a 16-bit limit and a 32-bit base; with a 16-bit
    /// operand size only 24 bits of the base are used.
    func loadDescriptorTableRegister(_ i: Instruction, interrupt: Bool) throws(CPUFault) {
        try requirePrivilegeZero()
        guard i.operands.0.kind == .memory else { throw .invalidOpcode }
        let ea = effectiveAddress(i)
        let limit = UInt16(truncatingIfNeeded: try read(i.segment, ea, size: 2))
        var base = try read(i.segment, ea &+ 2, size: 4)
        if i.operandSize == 2 { base &= 0x00FF_FFFF }
        let table = DescriptorTableRegister(base: UInt64(base), limit: limit)
        if interrupt { state.pointee.idtr = table } else { state.pointee.gdtr = table }
    }

    /// SGDT/SIDT: limit and base; with a 16-bit operand size the P6 stores
    /// 24 bits of base and a zero byte.
    func storeDescriptorTableRegister(_ i: Instruction, interrupt: Bool) throws(CPUFault) {
        guard i.operands.0.kind == .memory else { throw .invalidOpcode }
        let table = interrupt ? state.pointee.idtr : state.pointee.gdtr
        var base = UInt32(truncatingIfNeeded: table.base)
        if i.operandSize == 2 { base &= 0x00FF_FFFF }
        let ea = effectiveAddress(i)
        try probeWrite(i.segment, ea, size: 6)
        try write(i.segment, ea, size: 2, value: UInt32(table.limit))
        try write(i.segment, ea &+ 2, size: 4, value: base)
    }

    // MARK: - LDTR, TR

    /// LLDT: a null selector leaves the LDT unusable; otherwise an LDT
    /// descriptor in the GDT, present.
    func loadLocalDescriptorTable(_ selector: UInt16) throws(CPUFault) {
        try requireProtectedMode()
        try requirePrivilegeZero()
        if CPU.isNull(selector) {
            state.pointee.ldtr = .null(selector)
            return
        }
        let gp = CPUFault.generalProtection(UInt32(selector & 0xFFFC))
        guard selector & 4 == 0 else { throw gp }
        let d = try readDescriptor(selector, outside: gp)
        guard d.systemType == .ldt else { throw gp }
        guard d.present else { throw .segmentNotPresent(UInt32(selector & 0xFFFC)) }
        state.pointee.ldtr = d.cache(selector: selector)
    }

    /// LTR: an available TSS in the GDT, present; it is marked busy.
    func loadTaskRegister(_ selector: UInt16) throws(CPUFault) {
        try requireProtectedMode()
        try requirePrivilegeZero()
        guard !CPU.isNull(selector) else { throw .generalProtection(0) }
        let d = try availableTSS(selector)
        try setBusy(d, true)
        var cache = d.cache(selector: selector)
        cache.attributes |= 2
        state.pointee.tr = cache
    }

    /// SLDT, STR, SMSW: 16 bits to memory; a register gets the value at the
    /// operand size (zero-extended selectors, all of CR0 for SMSW).
    func storeSelectorLike(_ i: Instruction, _ value: UInt32) throws(CPUFault) {
        let o = i.operands.0
        if o.kind == .memory {
            try write(i.segment, effectiveAddress(i), size: 2, value: value & 0xFFFF)
        } else {
            setRegister(o.register, size: Int(o.size), value)
        }
    }

    // MARK: - LAR, LSL, VERR, VERW

    /// The descriptor a probe looks at, if the selector is non-null, inside
    /// its table, and visible at CPL/RPL: data and non-conforming code (and
    /// system descriptors) need DPL ≥ max(CPL, RPL); conforming code is
    /// always visible.
    private func visibleDescriptor(_ selector: UInt16) throws(CPUFault) -> Descriptor? {
        guard !CPU.isNull(selector), let address = descriptorAddress(selector) else { return nil }
        let d = try readDescriptor(at: address)
        if d.isConforming { return d }
        return d.dpl >= cpl && d.dpl >= UInt8(selector & 3) ? d : nil
    }

    private func setZF(_ on: Bool) {
        setFlags(on ? EFLAGS.zf : 0, mask: EFLAGS.zf)
    }

    /// The selector operand of a probe (16 bits of a register or memory).
    private func probeSelector(_ i: Instruction, _ o: Operand) throws(CPUFault) -> UInt16 {
        try requireProtectedMode()
        if o.kind == .memory { return UInt16(truncatingIfNeeded: try read(i.segment, effectiveAddress(i), size: 2)) }
        return UInt16(truncatingIfNeeded: try read(o, i))
    }

    /// LAR: the access-rights bytes (descriptor bits 8–23 of the high
    /// dword, the limit's top nibble included) for code, data, LDT, TSS
    /// and gate descriptors.
    func loadAccessRights(_ i: Instruction) throws(CPUFault) {
        let selector = try probeSelector(i, i.operands.1)
        guard let d = try visibleDescriptor(selector), d.isSystem ? larAccepts(d.systemType) : true else {
            setZF(false)
            return
        }
        setRegister(i.operands.0.register, size: Int(i.operandSize), d.high & 0x00FF_FF00)
        setZF(true)
    }

    private func larAccepts(_ type: SystemDescriptorType?) -> Bool {
        guard let type else { return false }
        return type != .interruptGate16 && type != .interruptGate32 && type != .trapGate16 && type != .trapGate32
    }

    /// LSL: the byte-granular segment limit of code, data, LDT and TSS descriptors.
    func loadSegmentLimit(_ i: Instruction) throws(CPUFault) {
        let selector = try probeSelector(i, i.operands.1)
        guard let d = try visibleDescriptor(selector),
              !d.isSystem || d.systemType == .ldt || d.systemType?.isAvailableTSS == true || d.systemType?.isBusyTSS == true else {
            setZF(false)
            return
        }
        setRegister(i.operands.0.register, size: Int(i.operandSize), d.cache(selector: selector).limit)
        setZF(true)
    }

    /// VERR: readable at CPL/RPL (data, or readable code). VERW: writable data.
    func verifySegment(_ i: Instruction, write: Bool) throws(CPUFault) {
        let selector = try probeSelector(i, i.operands.0)
        guard let d = try visibleDescriptor(selector) else {
            setZF(false)
            return
        }
        setZF(write ? d.isWritableData : d.isData || d.isReadableCode)
    }

    /// ARPL r/m16, r16: raises the destination's RPL to the source's.
    func adjustRPL(_ i: Instruction) throws(CPUFault) {
        try requireProtectedMode()
        let destination = try read(i.operands.0, i)
        let source = try read(i.operands.1, i)
        if destination & 3 < source & 3 {
            try write(i.operands.0, i, destination & ~3 | source & 3)
            setZF(true)
        } else {
            setZF(false)
        }
    }

    // MARK: - Mode and privilege requirements

    /// #UD outside protected mode (and in virtual-8086 mode), for the
    /// instructions that only exist there.
    func requireProtectedMode() throws(CPUFault) {
        guard protectedMode && !virtual8086 else { throw .invalidOpcode }
    }

    /// Privileged instructions: #GP(0) at CPL > 0 in protected mode (CPL
    /// is 3 in virtual-8086 mode).
    func requirePrivilegeZero() throws(CPUFault) {
        if protectedMode && cpl != 0 { throw .generalProtection(0) }
    }
}
