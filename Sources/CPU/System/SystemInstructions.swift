/// Dispatch of the system instructions to their semantics (the other files
/// in System/), and the small ones that fit in a line or two: HLT, the
/// cache instructions, INVLPG, UD2, RSM, SYSENTER and SYSEXIT.
extension CPU {
    func executeSystem(_ i: Instruction) throws(CPUFault) {
        switch i.op {
        case .lds: try loadFarPointer(i, into: .ds)
        case .les: try loadFarPointer(i, into: .es)
        case .lss: try loadFarPointer(i, into: .ss)
        case .lfs: try loadFarPointer(i, into: .fs)
        case .lgs: try loadFarPointer(i, into: .gs)

        case .jmpFar: try jumpFar(i)
        case .callFar: try callFar(i)
        case .retFar: try returnFar(i)
        case .iret: try interruptReturn(i)

        case .int: try softwareInterrupt(UInt8(truncatingIfNeeded: i.immediate), ioplSensitive: true)
        case .int3: try softwareInterrupt(3, ioplSensitive: false)
        case .into:
            if state.pointee.eflags & EFLAGS.of != 0 { try softwareInterrupt(4, ioplSensitive: false) }
        case .int1:
            // ICEBP: a #DB trap without the gate privilege check.
            onInterrupt?(1, false)
            deliver(1, errorCode: nil, returnEIP: eip, source: .icebp)

        case .hlt:
            try requirePrivilegeZero()
            state.pointee.halted = true
            stopRequested = true

        case .cpuid: executeCPUID()
        case .rdtsc: try executeReadTimeStampCounter()
        case .rdmsr: try executeReadMSR()
        case .wrmsr: try executeWriteMSR()
        case .rdpmc: try executeReadPerformanceCounter()

        case .lgdt: try loadDescriptorTableRegister(i, interrupt: false)
        case .lidt: try loadDescriptorTableRegister(i, interrupt: true)
        case .sgdt: try storeDescriptorTableRegister(i, interrupt: false)
        case .sidt: try storeDescriptorTableRegister(i, interrupt: true)
        case .lldt: try loadLocalDescriptorTable(UInt16(truncatingIfNeeded: try read(i.operands.0, i)))
        case .ltr: try loadTaskRegister(UInt16(truncatingIfNeeded: try read(i.operands.0, i)))
        case .sldt:
            try requireProtectedMode()
            try storeSelectorLike(i, UInt32(state.pointee.ldtr.selector))
        case .str:
            try requireProtectedMode()
            try storeSelectorLike(i, UInt32(state.pointee.tr.selector))
        case .lar: try loadAccessRights(i)
        case .lsl: try loadSegmentLimit(i)
        case .verr: try verifySegment(i, write: false)
        case .verw: try verifySegment(i, write: true)
        case .arpl: try adjustRPL(i)

        case .smsw: try storeMachineStatusWord(i)
        case .lmsw:
            try requirePrivilegeZero()
            try loadMachineStatusWord(try read(i.operands.0, i))
        case .clts: try clearTaskSwitched()
        case .invlpg:
            try requirePrivilegeZero()
            guard i.operands.0.kind == .memory else { throw .invalidOpcode }
            // The linear address of the operand; no limit check, no access.
            tlb.flush(page: UInt32(truncatingIfNeeded: segment(i.segment).pointee.base) &+ effectiveAddress(i))
        case .invd, .wbinvd:
            // No caches are modelled: nothing to write back or discard.
            try requirePrivilegeZero()

        case .sysenter: try systemEnter()
        case .sysexit: try systemExit()
        case .ud2: throw .invalidOpcode
        case .rsm: throw .invalidOpcode // no system-management mode
        default: throw .invalidOpcode
        }
    }

    /// SYSENTER (SDM vol. 2): to CPL 0 with flat 4 GiB segments derived
    /// from IA32_SYSENTER_CS (CS = it, SS = it + 8), ESP and EIP from their
    /// MSRs; VM, IF and RF are cleared. #GP(0) in real mode or when
    /// SYSENTER_CS is null.
    func systemEnter() throws(CPUFault) {
        let cs = UInt16(truncatingIfNeeded: state.pointee.msr.sysenterCS)
        guard protectedMode, cs & 0xFFFC != 0 else { throw .generalProtection(0) }
        state.pointee.eflags &= ~(EFLAGS.vm | EFLAGS.if | EFLAGS.rf)
        loadFlatSegments(codeSelector: cs & 0xFFFC, stackSelector: (cs & 0xFFFC) &+ 8, level: 0)
        setReg32(4, UInt32(truncatingIfNeeded: state.pointee.msr.sysenterESP))
        eip = UInt32(truncatingIfNeeded: state.pointee.msr.sysenterEIP)
    }

    /// SYSEXIT: from CPL 0 to CPL 3 with CS = SYSENTER_CS + 16, SS =
    /// SYSENTER_CS + 24 (RPL 3), EIP = EDX, ESP = ECX.
    func systemExit() throws(CPUFault) {
        let cs = UInt16(truncatingIfNeeded: state.pointee.msr.sysenterCS)
        guard protectedMode, cpl == 0, cs & 0xFFFC != 0 else { throw .generalProtection(0) }
        loadFlatSegments(codeSelector: (cs &+ 16) | 3, stackSelector: (cs &+ 24) | 3, level: 3)
        setReg32(4, reg32(1))
        eip = reg32(2)
    }

    /// The fixed descriptors SYSENTER/SYSEXIT load without reading the
    /// GDT: base 0, limit 4 GiB, 32-bit, accessed; CS execute/read, SS
    /// read/write, both at DPL `level`.
    private func loadFlatSegments(codeSelector: UInt16, stackSelector: UInt16, level: UInt8) {
        let dpl = UInt16(level) << 5
        segment(.cs).pointee = SegmentDescriptorCache(selector: codeSelector, base: 0, limit: 0xFFFF_FFFF, attributes: 0xC09B | dpl)
        segment(.ss).pointee = SegmentDescriptorCache(selector: stackSelector, base: 0, limit: 0xFFFF_FFFF, attributes: 0xC093 | dpl)
        state.pointee.cpl = level
    }
}
