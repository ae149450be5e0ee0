/// Hardware task switching (Intel SDM vol. 3, chapter 7): JMP or CALL to a
/// TSS or task gate, an interrupt or exception through a task gate, and
/// IRET with NT = 1. Both TSS formats are handled: the 32-bit TSS (104
/// bytes, with CR3, FS, GS and the I/O map base) and the 80286 16-bit TSS
/// (44 bytes).
///
/// The switch runs in two halves, as in SDM 7.3. Before the commit point
/// everything that can fault is read or written — the new TSS image, the
/// old TSS's saved state, the link and the busy bits — so a fault there is
/// reported in the old task with its registers untouched. After it, the
/// new task's registers are loaded; a bad selector found while loading its
/// LDT or segment descriptors is delivered as #TS/#NP/#SS/#GP *in the new
/// task* (at its first instruction), which is why `switchTask` delivers
/// those faults itself instead of throwing them.
enum TaskSwitchReason {
    case jump, call, iret
    /// An interrupt or exception through a task gate.
    case interrupt

    /// CALL and interrupts nest: the new task links back and gets NT = 1.
    var nests: Bool { self == .call || self == .interrupt }
}

/// The state a TSS holds for its task.
struct TaskStateImage {
    var is32Bit: Bool
    var cr3: UInt32
    var eip: UInt32
    var eflags: UInt32
    /// EAX…EDI (16-bit TSS: AX…DI).
    var registers: [UInt32]
    /// ES, CS, SS, DS, FS, GS (16-bit TSS: no FS, GS).
    var selectors: [UInt16]
    var ldt: UInt16
    /// The T flag: #DB when the task is entered.
    var debugTrap: Bool
}

extension CPU {
    /// Switches to the task whose TSS descriptor `d` (already checked by
    /// the caller for type and presence) `selector` names. `returnEIP` is
    /// saved as the old task's EIP; `errorCode` (exceptions through a task
    /// gate) is pushed on the new task's stack.
    func switchTask(to selector: UInt16, _ d: Descriptor, reason: TaskSwitchReason,
                    returnEIP: UInt32, errorCode: UInt32? = nil) throws(CPUFault) {
        let newIs32 = d.type & 8 != 0
        var newTSS = d.cache(selector: selector)
        guard newTSS.limit >= (newIs32 ? 0x67 : 0x2B) else { throw .invalidTSS(UInt32(selector & 0xFFFC)) }
        let newBase = UInt32(truncatingIfNeeded: newTSS.base)
        let image = try readTaskState(at: newBase, is32Bit: newIs32)

        let oldTSS = state.pointee.tr
        // A JMP or IRET leaves the old task: its descriptor loses the busy bit.
        let oldDescriptor = reason == .jump || reason == .iret
            ? try readDescriptor(oldTSS.selector, outside: .invalidTSS(UInt32(oldTSS.selector & 0xFFFC))) : nil
        var savedFlags = state.pointee.eflags
        if reason == .iret { savedFlags &= ~EFLAGS.nt }
        try saveTaskState(at: UInt32(truncatingIfNeeded: oldTSS.base), is32Bit: oldTSS.type & 8 != 0,
                          eip: returnEIP, eflags: savedFlags)
        if reason.nests { try writeSystem(newBase, size: 2, value: UInt32(oldTSS.selector)) }
        if let oldDescriptor { try setBusy(oldDescriptor, false) }
        if reason != .iret { try setBusy(d, true) }

        // Commit point: the new task's state is loaded.
        newTSS.attributes |= 2 // busy
        state.pointee.tr = newTSS
        state.pointee.cr0 |= UInt64(CR0.ts)
        stopRequested = true
        var flags = image.eflags
        if reason.nests { flags |= EFLAGS.nt }
        state.pointee.eflags = flags & CPU.eflagsImplemented | EFLAGS.fixed1
        state.pointee.rip = UInt64(image.eip)
        for r in 0..<8 {
            if image.is32Bit { setReg32(UInt8(r), image.registers[r]) } else { setReg16(UInt8(r), UInt16(truncatingIfNeeded: image.registers[r])) }
        }
        for (k, seg) in SegmentRegister.allCases.enumerated() where k < image.selectors.count {
            segment(seg).pointee.selector = image.selectors[k]
        }
        state.pointee.ldtr.selector = image.ldt
        state.pointee.cpl = virtual8086 ? 3 : UInt8(image.selectors[SegmentRegister.cs.rawValue] & 3)

        do throws(CPUFault) {
            if image.is32Bit { try loadCR3(UInt64(image.cr3)) }
            try loadTaskSegments(image)
            guard segment(.cs).pointee.contains(image.eip, size: 1) else { throw .generalProtection(0) }
            if let errorCode {
                var frame = currentStackFrame()
                try frame.push(errorCode, size: image.is32Bit ? 4 : 2, on: self)
                frame.commit(to: self)
            }
        } catch {
            onException?(error, image.eip)
            deliverException(error, eip: image.eip)
            return
        }
        if image.debugTrap {
            state.pointee.dr.6 |= 0x8000 // BT: task-switch trap
            deliverException(.debug, eip: image.eip)
        }
    }

    /// Loads LDTR and the segment registers of the task just entered; the
    /// selectors are already in place. Faults here belong to the new task.
    func loadTaskSegments(_ image: TaskStateImage) throws(CPUFault) {
        let ldt = image.ldt
        if CPU.isNull(ldt) {
            state.pointee.ldtr = .null(ldt)
        } else {
            guard ldt & 4 == 0 else { throw .invalidTSS(UInt32(ldt & 0xFFFC)) }
            let d = try readDescriptor(ldt, outside: .invalidTSS(UInt32(ldt & 0xFFFC)))
            guard d.systemType == .ldt, d.present else { throw .invalidTSS(UInt32(ldt & 0xFFFC)) }
            state.pointee.ldtr = d.cache(selector: ldt)
        }
        if virtual8086 {
            for (k, seg) in SegmentRegister.allCases.enumerated() where k < image.selectors.count {
                loadVirtual8086Segment(seg, image.selectors[k])
            }
            return
        }
        let cs = image.selectors[SegmentRegister.cs.rawValue]
        let rpl = UInt8(cs & 3)
        guard !CPU.isNull(cs) else { throw .invalidTSS(0) }
        let code = try readDescriptor(cs, outside: .invalidTSS(UInt32(cs & 0xFFFC)))
        guard code.isCode, code.isConforming ? code.dpl <= rpl : code.dpl == rpl else {
            throw .invalidTSS(UInt32(cs & 0xFFFC))
        }
        guard code.present else { throw .segmentNotPresent(UInt32(cs & 0xFFFC)) }
        try markAccessed(code)
        segment(.cs).pointee = code.cache(selector: cs)
        segment(.ss).pointee = try checkedStackSegment(image.selectors[SegmentRegister.ss.rawValue], privilege: rpl, .invalidTSS)
        for seg in [SegmentRegister.ds, .es, .fs, .gs] where seg.rawValue < image.selectors.count {
            segment(seg).pointee = try checkedDataSegment(image.selectors[seg.rawValue], .invalidTSS)
        }
    }

    /// Reads a task's saved state from its TSS (SDM figures 7-2 and 7-11).
    func readTaskState(at base: UInt32, is32Bit: Bool) throws(CPUFault) -> TaskStateImage {
        if is32Bit {
            var registers = [UInt32](repeating: 0, count: 8)
            for r in 0..<8 { registers[r] = try readSystem(base &+ 40 &+ UInt32(4 * r), size: 4) }
            var selectors = [UInt16](repeating: 0, count: 6)
            for k in 0..<6 { selectors[k] = UInt16(try readSystem(base &+ 72 &+ UInt32(4 * k), size: 2)) }
            return TaskStateImage(is32Bit: true, cr3: try readSystem(base &+ 28, size: 4),
                                  eip: try readSystem(base &+ 32, size: 4), eflags: try readSystem(base &+ 36, size: 4),
                                  registers: registers, selectors: selectors,
                                  ldt: UInt16(try readSystem(base &+ 96, size: 2)),
                                  debugTrap: try readSystem(base &+ 100, size: 2) & 1 != 0)
        }
        var registers = [UInt32](repeating: 0, count: 8)
        for r in 0..<8 { registers[r] = try readSystem(base &+ 18 &+ UInt32(2 * r), size: 2) }
        var selectors = [UInt16](repeating: 0, count: 4)
        for k in 0..<4 { selectors[k] = UInt16(try readSystem(base &+ 34 &+ UInt32(2 * k), size: 2)) }
        return TaskStateImage(is32Bit: false, cr3: 0, eip: try readSystem(base &+ 14, size: 2),
                              eflags: try readSystem(base &+ 16, size: 2), registers: registers, selectors: selectors,
                              ldt: UInt16(try readSystem(base &+ 42, size: 2)), debugTrap: false)
    }

    /// Saves the dynamic state of the task being left into its TSS: the
    /// general registers, segment selectors, EFLAGS and EIP (not CR3 or
    /// the LDT selector, which a task never changes by itself).
    func saveTaskState(at base: UInt32, is32Bit: Bool, eip: UInt32, eflags: UInt32) throws(CPUFault) {
        if is32Bit {
            try writeSystem(base &+ 32, size: 4, value: eip)
            try writeSystem(base &+ 36, size: 4, value: eflags)
            for r in 0..<8 { try writeSystem(base &+ 40 &+ UInt32(4 * r), size: 4, value: reg32(UInt8(r))) }
            for seg in SegmentRegister.allCases {
                try writeSystem(base &+ 72 &+ UInt32(4 * seg.rawValue), size: 2, value: UInt32(segment(seg).pointee.selector))
            }
        } else {
            try writeSystem(base &+ 14, size: 2, value: eip)
            try writeSystem(base &+ 16, size: 2, value: eflags)
            for r in 0..<8 { try writeSystem(base &+ 18 &+ UInt32(2 * r), size: 2, value: UInt32(reg16(UInt8(r)))) }
            for seg in [SegmentRegister.es, .cs, .ss, .ds] {
                try writeSystem(base &+ 34 &+ UInt32(2 * seg.rawValue), size: 2, value: UInt32(segment(seg).pointee.selector))
            }
        }
    }

    /// The stack for privilege `level` (0–2) from the current TSS: SSn:ESPn
    /// of a 32-bit TSS or SSn:SPn of a 16-bit one. #TS(TSS selector) when
    /// the TSS is too short to hold it.
    func innerStack(privilege level: UInt8) throws(CPUFault) -> (selector: UInt16, stackPointer: UInt32) {
        let tr = state.pointee.tr
        let base = UInt32(truncatingIfNeeded: tr.base)
        let fault = CPUFault.invalidTSS(UInt32(tr.selector & 0xFFFC))
        if tr.type & 8 != 0 {
            let offset = UInt32(level) * 8 + 4
            guard offset + 7 <= tr.limit else { throw fault }
            return (UInt16(try readSystem(base &+ offset &+ 4, size: 2)), try readSystem(base &+ offset, size: 4))
        }
        let offset = UInt32(level) * 4 + 2
        guard offset + 3 <= tr.limit else { throw fault }
        return (UInt16(try readSystem(base &+ offset &+ 2, size: 2)), try readSystem(base &+ offset, size: 2))
    }

    /// The TSS a task gate (or LTR) names: a descriptor in the GDT for an
    /// available (not busy) TSS, else #GP(selector); present, else
    /// #NP(selector).
    func availableTSS(_ selector: UInt16) throws(CPUFault) -> Descriptor {
        let gp = CPUFault.generalProtection(UInt32(selector & 0xFFFC))
        guard selector & 4 == 0 else { throw gp }
        let d = try readDescriptor(selector, outside: gp)
        guard d.systemType?.isAvailableTSS == true else { throw gp }
        guard d.present else { throw .segmentNotPresent(UInt32(selector & 0xFFFC)) }
        return d
    }
}
