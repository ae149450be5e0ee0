/// Far JMP, far CALL and far RET (Intel SDM vol. 2, JMP/CALL/RET
/// operation; vol. 3, 5.8 privilege checks for control transfers).
///
/// Real and virtual-8086 mode simply load CS:IP. Protected mode looks at
/// what the selector names: a code segment (same privilege; conforming
/// code runs at the caller's CPL), a call gate (CALL through a gate to a
/// more privileged non-conforming segment switches to the inner stack from
/// the TSS and copies the gate's parameters), or a TSS or task gate (a
/// task switch). Every check runs before any register changes; pushes go
/// to a `StackFrame` that is committed last.
extension CPU {
    /// The selector and offset of JMP/CALL ptr16:16/32 or m16:16/32.
    func farTarget(_ i: Instruction) throws(CPUFault) -> (selector: UInt16, offset: UInt32) {
        let o = i.operands.0
        let size = Int(i.operandSize)
        switch o.kind {
        case .farPointer:
            return (UInt16(truncatingIfNeeded: i.immediate2), size == 2 ? i.immediate & 0xFFFF : i.immediate)
        case .memory:
            let ea = effectiveAddress(i)
            let offset = try read(i.segment, ea, size: size)
            return (UInt16(truncatingIfNeeded: try read(i.segment, ea &+ UInt32(size), size: 2)), offset)
        default:
            throw .invalidOpcode
        }
    }

    // MARK: - JMP far

    func jumpFar(_ i: Instruction) throws(CPUFault) {
        let (selector, offset) = try farTarget(i)
        if !protectedMode || virtual8086 {
            try loadCodeSegmentRealOrVirtual8086(selector, offset)
            return
        }
        guard !CPU.isNull(selector) else { throw .generalProtection(0) }
        let gp = CPUFault.generalProtection(UInt32(selector & 0xFFFC))
        let d = try readDescriptor(selector, outside: gp)
        if !d.isSystem {
            let cs = try checkedCodeSegmentForTransfer(d, selector)
            try jumpSamePrivilege(d, cs, offset)
            return
        }
        switch d.systemType {
        case .callGate16?, .callGate32?:
            let gate = try checkedGate(d, selector)
            let target = gate.gateSelector
            let (code, cs) = try gateTarget(target)
            // A JMP never changes privilege: the target must be callable at CPL.
            guard code.isConforming || code.dpl == cpl else { throw .generalProtection(UInt32(target & 0xFFFC)) }
            try jumpSamePrivilege(code, cs, gate.gateOffset)
        default:
            try switchTaskFar(d, selector, reason: .jump)
        }
    }

    private func jumpSamePrivilege(_ d: Descriptor, _ cs: SegmentDescriptorCache, _ offset: UInt32) throws(CPUFault) {
        guard cs.contains(offset, size: 1) else { throw .generalProtection(0) }
        try markAccessed(d)
        commitCodeSegment(cs, level: cpl)
        eip = offset
    }

    // MARK: - CALL far

    func callFar(_ i: Instruction) throws(CPUFault) {
        let (selector, offset) = try farTarget(i)
        let size = Int(i.operandSize)
        let returnCS = UInt32(segment(.cs).pointee.selector)
        if !protectedMode || virtual8086 {
            var frame = currentStackFrame()
            try frame.push(returnCS, size: size, on: self)
            try frame.push(eip, size: size, on: self)
            try loadCodeSegmentRealOrVirtual8086(selector, offset)
            frame.commit(to: self)
            return
        }
        guard !CPU.isNull(selector) else { throw .generalProtection(0) }
        let gp = CPUFault.generalProtection(UInt32(selector & 0xFFFC))
        let d = try readDescriptor(selector, outside: gp)
        if !d.isSystem {
            let cs = try checkedCodeSegmentForTransfer(d, selector)
            guard cs.contains(offset, size: 1) else { throw .generalProtection(0) }
            var frame = currentStackFrame()
            try frame.push(returnCS, size: size, on: self)
            try frame.push(eip, size: size, on: self)
            try markAccessed(d)
            frame.commit(to: self)
            commitCodeSegment(cs, level: cpl)
            eip = offset
            return
        }
        switch d.systemType {
        case .callGate16?, .callGate32?:
            try callThroughGate(try checkedGate(d, selector))
        default:
            try switchTaskFar(d, selector, reason: .call)
        }
    }

    /// A far JMP or CALL to a task gate or straight to a TSS (SDM 7.3): the
    /// same checks for both, which differ only in how the new task links
    /// back. Any other system descriptor is #GP(selector).
    private func switchTaskFar(_ d: Descriptor, _ selector: UInt16, reason: TaskSwitchReason) throws(CPUFault) {
        let gp = CPUFault.generalProtection(UInt32(selector & 0xFFFC))
        switch d.systemType {
        case .taskGate?:
            let gate = try checkedGate(d, selector)
            let tss = try availableTSS(gate.gateSelector)
            try switchTask(to: gate.gateSelector, tss, reason: reason, returnEIP: eip)
        case .availableTSS16?, .availableTSS32?:
            guard d.dpl >= cpl, d.dpl >= UInt8(selector & 3) else { throw gp }
            guard d.present else { throw .segmentNotPresent(UInt32(selector & 0xFFFC)) }
            try switchTask(to: selector, d, reason: reason, returnEIP: eip)
        default:
            throw gp
        }
    }

    /// CALL through a call gate: to the same level, or to a more privileged
    /// non-conforming segment with a switch to that level's stack from the
    /// TSS, old SS:ESP pushed and `parameterCount` stack entries copied.
    private func callThroughGate(_ gate: Descriptor) throws(CPUFault) {
        let target = gate.gateSelector
        let (code, cs) = try gateTarget(target)
        let offset = gate.gateOffset
        let size = gate.gateIs32Bit ? 4 : 2
        let returnCS = UInt32(segment(.cs).pointee.selector)
        let returnEIP = eip

        guard !code.isConforming && code.dpl < cpl else {
            guard cs.contains(offset, size: 1) else { throw .generalProtection(0) }
            var frame = currentStackFrame()
            try frame.push(returnCS, size: size, on: self)
            try frame.push(returnEIP, size: size, on: self)
            try markAccessed(code)
            frame.commit(to: self)
            commitCodeSegment(cs, level: cpl)
            eip = offset
            return
        }

        let level = code.dpl
        let (ssSelector, esp) = try innerStack(privilege: level)
        let stack = try checkedStackSegment(ssSelector, privilege: level, .invalidTSS)
        guard cs.contains(offset, size: 1) else { throw .generalProtection(0) }
        var frame = StackFrame(stack: stack, stackPointer: esp, privilege: level,
                               limitFault: .stackFault(UInt32(ssSelector & 0xFFFC)))
        try frame.push(UInt32(segment(.ss).pointee.selector), size: size, on: self)
        try frame.push(stackPointer, size: size, on: self)
        // Parameters keep their order: the deepest one is pushed first.
        for k in stride(from: gate.parameterCount - 1, through: 0, by: -1) {
            try frame.push(try peekStack(UInt32(k * size), size: size), size: size, on: self)
        }
        try frame.push(returnCS, size: size, on: self)
        try frame.push(returnEIP, size: size, on: self)
        try markAccessed(code)
        frame.commit(to: self)
        commitCodeSegment(cs, level: level)
        eip = offset
    }

    // MARK: - RETF

    func returnFar(_ i: Instruction) throws(CPUFault) {
        let size = UInt32(i.operandSize)
        let release = i.operands.0.kind == .immediate ? i.immediate & 0xFFFF : 0
        let offset = try peekStack(0, size: Int(size))
        let selector = UInt16(truncatingIfNeeded: try peekStack(size, size: 2))
        if !protectedMode || virtual8086 {
            try loadCodeSegmentRealOrVirtual8086(selector, offset)
            releaseStack(2 * size + release)
            return
        }
        let (code, cs) = try checkedReturnCodeSegment(selector)
        let rpl = UInt8(selector & 3)
        if rpl == cpl {
            guard cs.contains(offset, size: 1) else { throw .generalProtection(0) }
            try markAccessed(code)
            commitCodeSegment(cs, level: rpl)
            eip = offset
            releaseStack(2 * size + release)
            return
        }
        // To an outer level: the caller's SS:ESP sits above the parameters.
        let outerESP = try peekStack(2 * size + release, size: Int(size))
        let outerSS = UInt16(truncatingIfNeeded: try peekStack(3 * size + release, size: 2))
        let stack = try checkedStackSegment(outerSS, privilege: rpl, .generalProtection)
        guard cs.contains(offset, size: 1) else { throw .generalProtection(0) }
        try markAccessed(code)
        commitCodeSegment(cs, level: rpl)
        eip = offset
        segment(.ss).pointee = stack
        setReg32(4, size == 4 ? outerESP : (reg32(4) & 0xFFFF_0000) | (outerESP & 0xFFFF))
        releaseStack(release)
        nullInaccessibleDataSegments()
    }

    // MARK: - Shared checks

    /// A far JMP/CALL straight to a code segment (SDM 5.8.1): conforming
    /// code needs DPL ≤ CPL, non-conforming code RPL ≤ CPL and DPL = CPL.
    /// The privilege level stays the same either way.
    private func checkedCodeSegmentForTransfer(_ d: Descriptor, _ selector: UInt16) throws(CPUFault) -> SegmentDescriptorCache {
        let gp = CPUFault.generalProtection(UInt32(selector & 0xFFFC))
        guard d.isCode else { throw gp }
        if d.isConforming {
            guard d.dpl <= cpl else { throw gp }
        } else {
            guard UInt8(selector & 3) <= cpl, d.dpl == cpl else { throw gp }
        }
        guard d.present else { throw .segmentNotPresent(UInt32(selector & 0xFFFC)) }
        return d.cache(selector: selector)
    }

    /// A call or task gate named by a far JMP/CALL: DPL ≥ max(CPL, RPL), present.
    private func checkedGate(_ d: Descriptor, _ selector: UInt16) throws(CPUFault) -> Descriptor {
        guard d.dpl >= cpl, d.dpl >= UInt8(selector & 3) else { throw .generalProtection(UInt32(selector & 0xFFFC)) }
        guard d.present else { throw .segmentNotPresent(UInt32(selector & 0xFFFC)) }
        return d
    }

    /// The code segment a call gate names: non-null, code, DPL ≤ CPL, present.
    private func gateTarget(_ selector: UInt16) throws(CPUFault) -> (Descriptor, SegmentDescriptorCache) {
        guard !CPU.isNull(selector) else { throw .generalProtection(0) }
        let gp = CPUFault.generalProtection(UInt32(selector & 0xFFFC))
        let d = try readDescriptor(selector, outside: gp)
        guard d.isCode, d.dpl <= cpl else { throw gp }
        guard d.present else { throw .segmentNotPresent(UInt32(selector & 0xFFFC)) }
        return (d, d.cache(selector: selector))
    }

    /// The code segment RETF/IRET returns to: RPL ≥ CPL; conforming code
    /// needs DPL ≤ RPL, non-conforming DPL = RPL.
    func checkedReturnCodeSegment(_ selector: UInt16) throws(CPUFault) -> (Descriptor, SegmentDescriptorCache) {
        guard !CPU.isNull(selector) else { throw .generalProtection(0) }
        let gp = CPUFault.generalProtection(UInt32(selector & 0xFFFC))
        let d = try readDescriptor(selector, outside: gp)
        let rpl = UInt8(selector & 3)
        guard d.isCode, rpl >= cpl else { throw gp }
        guard d.isConforming ? d.dpl <= rpl : d.dpl == rpl else { throw gp }
        guard d.present else { throw .segmentNotPresent(UInt32(selector & 0xFFFC)) }
        return (d, d.cache(selector: selector))
    }

    /// CS:IP in real or virtual-8086 mode: #GP(0) when the offset lies past
    /// the code segment's limit (the kept limit in real mode, 64 KiB in V86).
    func loadCodeSegmentRealOrVirtual8086(_ selector: UInt16, _ offset: UInt32) throws(CPUFault) {
        let limit = virtual8086 ? 0xFFFF : segment(.cs).pointee.limit
        guard offset <= limit else { throw .generalProtection(0) }
        if virtual8086 { loadVirtual8086Segment(.cs, selector) } else { loadRealModeSegment(.cs, selector) }
        eip = offset
    }
}
