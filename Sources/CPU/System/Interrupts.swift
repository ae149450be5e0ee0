/// Interrupt and exception delivery (Intel SDM vol. 3, chapter 6; vol. 2,
/// INT n operation): through the real-mode IVT, or through the IDT's
/// interrupt, trap and task gates in protected mode — with the privilege
/// check for software interrupts, the switch to an inner stack from the
/// TSS, the frame an interrupt from virtual-8086 mode pushes, error codes
/// with their EXT bit, and the double-fault and triple-fault rules for a
/// fault raised while delivering (SDM table 6-5).
///
/// `raiseInterrupt` performs one delivery and throws whatever fault stops
/// it, leaving the registers untouched (pushes go to a `StackFrame` that
/// is committed last). INT n, INT3 and INTO call it from their
/// instruction, so such a fault becomes a fault of that instruction.
/// Hardware events come through `deliverException` and
/// `deliverExternalInterrupt`, which never throw: they resolve faults
/// during delivery into #DF or a shutdown.
enum InterruptSource {
    /// Detected by the processor (faults, traps, aborts).
    case exception
    /// INTR from the interrupt controller.
    case external
    /// INT n, INT3, INTO: the gate's DPL must allow the CPL.
    case software
    /// INT1 (ICEBP): a #DB without the gate DPL check.
    case icebp

    /// EXT, bit 0 of error codes: set for faults while delivering an event
    /// the program did not ask for.
    var externalBit: UInt32 { self == .software ? 0 : 1 }
}

extension CPU {
    /// Delivery starts nested deliveries only through task switches
    /// (faults in the new task); past this depth the processor shuts down.
    static let maximumDeliveryNesting = 8

    /// Vectors whose exceptions push an error code in protected mode.
    static func pushesErrorCode(_ vector: UInt8) -> Bool {
        vector == 8 || (10...14).contains(vector) || vector == 17
    }

    /// SDM table 6-5: a contributory fault (#DE, #TS, #NP, #SS, #GP) while
    /// delivering a contributory fault, or a #PF or contributory fault
    /// while delivering a #PF, becomes a double fault. Everything else is
    /// handled one after the other.
    static func combinesToDoubleFault(first: UInt8, second: UInt8) -> Bool {
        let contributory: UInt32 = 1 << 0 | 1 << 10 | 1 << 11 | 1 << 12 | 1 << 13
        let secondIsContributory = second < 32 && contributory & (1 << UInt32(second)) != 0
        if first < 32 && contributory & (1 << UInt32(first)) != 0 { return secondIsContributory }
        return first == 14 && (second == 14 || secondIsContributory)
    }

    /// Delivers an exception. For faults `eip` is the faulting
    /// instruction, for traps the next one.
    func deliverException(_ fault: CPUFault, eip: UInt32) {
        let code = CPU.pushesErrorCode(fault.vector) ? fault.errorCode ?? 0 : nil
        deliver(fault.vector, errorCode: code, returnEIP: eip, source: .exception)
    }

    /// Delivers an external (PIC) interrupt; the return address is the
    /// next instruction.
    func deliverExternalInterrupt(_ vector: UInt8) {
        deliver(vector, errorCode: nil, returnEIP: eip, source: .external)
    }

    /// One hardware event, with the faults its delivery raises folded in:
    /// each becomes the next event to deliver, a #DF, or a shutdown.
    func deliver(_ vector: UInt8, errorCode: UInt32?, returnEIP: UInt32, source: InterruptSource) {
        deliveryDepth += 1
        defer { deliveryDepth -= 1 }
        guard deliveryDepth <= CPU.maximumDeliveryNesting else { shutDown(); return }
        var vector = vector, errorCode = errorCode, source = source
        // Each round either delivers, escalates towards #DF, or shuts down:
        // four rounds cover benign → contributory → #DF → shutdown.
        for _ in 0..<4 {
            do {
                try raiseInterrupt(vector, errorCode: errorCode, returnEIP: returnEIP, source: source)
                return
            } catch {
                var nested = error
                if (10...13).contains(nested.vector), let code = nested.errorCode {
                    nested.errorCode = code | source.externalBit
                }
                onException?(nested, returnEIP)
                let hardware = source == .exception
                if hardware && vector == 8 { break }
                if hardware && CPU.combinesToDoubleFault(first: vector, second: nested.vector) {
                    vector = 8
                    errorCode = 0
                    onException?(.doubleFault(), returnEIP)
                } else {
                    vector = nested.vector
                    errorCode = CPU.pushesErrorCode(nested.vector) ? nested.errorCode ?? 0 : nil
                }
                source = .exception
            }
        }
        shutDown()
    }

    /// Triple fault: the processor stops (halted with interrupts off) and
    /// signals shutdown; the machine resets it.
    func shutDown() {
        state.pointee.halted = true
        state.pointee.eflags &= ~EFLAGS.if
        stopRequested = true
        onTripleFault?()
    }

    /// INT n, INT3, INTO: software interrupts are traps (the saved EIP is
    /// the next instruction). In virtual-8086 mode INT n (only) is
    /// IOPL-sensitive: with IOPL < 3 it raises #GP(0) for the monitor.
    func softwareInterrupt(_ vector: UInt8, ioplSensitive: Bool) throws(CPUFault) {
        if ioplSensitive && virtual8086 && iopl < 3 {
            throw .generalProtection(0)
        }
        onInterrupt?(vector, false)
        try raiseInterrupt(vector, errorCode: nil, returnEIP: eip, source: .software)
    }

    // MARK: - One delivery

    func raiseInterrupt(_ vector: UInt8, errorCode: UInt32?, returnEIP: UInt32, source: InterruptSource) throws(CPUFault) {
        if !protectedMode {
            try raiseRealMode(vector, returnEIP: returnEIP)
            return
        }
        // Errors about the IDT entry carry IDT = 1 (bit 1) and the vector.
        // EXT is added by `deliver` for hardware events.
        let entry = UInt32(vector) << 3
        let idtFault = CPUFault.generalProtection(entry | 2)
        guard entry + 7 <= UInt32(state.pointee.idtr.limit) else { throw idtFault }
        let gate = try readDescriptor(at: UInt32(truncatingIfNeeded: state.pointee.idtr.base) &+ entry)
        let type = gate.systemType
        guard type == .taskGate || type == .interruptGate16 || type == .interruptGate32
                || type == .trapGate16 || type == .trapGate32 else { throw idtFault }
        if source == .software && gate.dpl < cpl { throw idtFault }
        guard gate.present else { throw .segmentNotPresent(entry | 2) }

        if type == .taskGate {
            let tss = try availableTSS(gate.gateSelector)
            try switchTask(to: gate.gateSelector, tss, reason: .interrupt, returnEIP: returnEIP, errorCode: errorCode)
            return
        }

        let target = gate.gateSelector
        guard !CPU.isNull(target) else { throw .generalProtection(0) }
        let gp = CPUFault.generalProtection(UInt32(target & 0xFFFC))
        let code = try readDescriptor(target, outside: gp)
        guard code.isCode, code.dpl <= cpl else { throw gp }
        guard code.present else { throw .segmentNotPresent(UInt32(target & 0xFFFC)) }
        let offset = gate.gateOffset
        let size = gate.gateIs32Bit ? 4 : 2
        let flags = state.pointee.eflags
        let fromVirtual8086 = virtual8086

        var frame: StackFrame
        let level: UInt8
        if !code.isConforming && code.dpl < cpl {
            // To an inner level: the handler's stack comes from the TSS.
            level = code.dpl
            if fromVirtual8086 && level != 0 { throw gp }
            let (ssSelector, esp) = try innerStack(privilege: level)
            let stack = try checkedStackSegment(ssSelector, privilege: level, .invalidTSS)
            frame = StackFrame(stack: stack, stackPointer: esp, privilege: level,
                               limitFault: .stackFault(UInt32(ssSelector & 0xFFFC)))
        } else {
            if fromVirtual8086 { throw gp }
            level = cpl
            frame = currentStackFrame()
        }
        let cs = code.cache(selector: target)
        guard cs.contains(offset, size: 1) else { throw .generalProtection(0) }

        if fromVirtual8086 {
            for seg in [SegmentRegister.gs, .fs, .ds, .es] {
                try frame.push(UInt32(segment(seg).pointee.selector), size: size, on: self)
            }
        }
        if level != cpl {
            try frame.push(UInt32(segment(.ss).pointee.selector), size: size, on: self)
            try frame.push(reg32(4), size: size, on: self)
        }
        try frame.push(flags, size: size, on: self)
        try frame.push(UInt32(segment(.cs).pointee.selector), size: size, on: self)
        try frame.push(returnEIP, size: size, on: self)
        if let errorCode { try frame.push(errorCode, size: size, on: self) }
        try markAccessed(code)

        frame.commit(to: self)
        commitCodeSegment(cs, level: level)
        eip = offset
        if fromVirtual8086 {
            for seg in [SegmentRegister.es, .ds, .fs, .gs] { segment(seg).pointee = .null(0) }
            stopRequested = true
        }
        var clear = EFLAGS.tf | EFLAGS.vm | EFLAGS.rf | EFLAGS.nt
        if type == .interruptGate16 || type == .interruptGate32 { clear |= EFLAGS.if }
        state.pointee.eflags &= ~clear
    }

    /// Real mode: the IVT at IDTR.base holds IP:CS per vector; FLAGS, CS
    /// and IP are pushed as words; IF, TF and AC are cleared.
    private func raiseRealMode(_ vector: UInt8, returnEIP: UInt32) throws(CPUFault) {
        let entry = UInt32(vector) << 2
        guard entry + 3 <= UInt32(state.pointee.idtr.limit) else { throw .generalProtection(0) }
        let pointer = try readSystem(UInt32(truncatingIfNeeded: state.pointee.idtr.base) &+ entry, size: 4)
        var frame = currentStackFrame()
        try frame.push(state.pointee.eflags, size: 2, on: self)
        try frame.push(UInt32(segment(.cs).pointee.selector), size: 2, on: self)
        try frame.push(returnEIP, size: 2, on: self)
        frame.commit(to: self)
        loadRealModeSegment(.cs, UInt16(truncatingIfNeeded: pointer >> 16))
        eip = pointer & 0xFFFF
        state.pointee.eflags &= ~(EFLAGS.if | EFLAGS.tf | EFLAGS.ac)
    }
}
