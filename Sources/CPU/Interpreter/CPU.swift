import MMU

/// The P6-class processor: the reference semantics of Novabox.
///
/// One `CPU` interprets one instruction at a time against the `CPUState` at
/// a stable address and the machine's `PhysicalMemory`. The semantics of
/// each instruction family live in their own file (Integer/, System/,
/// X87/); this file holds the fetch–decode–execute loop (`step`, one
/// instruction) and the instruction-boundary work: interrupts, the
/// interrupt shadow, the trap flag, and turning thrown `CPUFault`s into
/// guest exceptions. `run` executes cached, pre-decoded blocks where it
/// can (BlockExecution.swift, DecodedBlockCache.swift, SpecializedForms.swift)
/// with the same boundary work, and falls back to `step`.
public final class CPU {
    public let state: UnsafeMutablePointer<CPUState>
    public let memory: PhysicalMemory
    public var io: PortIO
    public var interruptController: InterruptAcknowledge?
    /// The identity CPUID reports (and whether EFER exists). A machine
    /// that decides it later (from a KVM self-test on another thread) sets
    /// `pendingIdentity` instead: the first read settles the identity, so
    /// the guest sees one for the whole run.
    public var cpuid: CPUIDTable {
        get {
            if let settle = pendingIdentity { pendingIdentity = nil; identity = settle() }
            return identity
        }
        set { identity = newValue; pendingIdentity = nil }
    }
    public var pendingIdentity: (() -> CPUIDTable)?
    private var identity = CPUIDTable()

    /// The INTR line, kept current by the machine (the PIC's output).
    public var interruptRequested = false { didSet { updateBoundaryAttention() } }
    /// Guest instructions retired since power-on.
    public var instructionCount: UInt64 = 0
    /// Cycles for RDTSC; the machine sets its clock here (see MSRs.swift).
    public var cycleSource: (() -> UInt64)?

    /// EIP of the instruction being executed (faults report it).
    public internal(set) var currentEIP: UInt32 = 0
    /// Set by an instruction that must end the current run batch (a mode
    /// switch, HLT, a write the machine must see at once).
    public var stopRequested = false { didSet { updateBoundaryAttention() } }

    /// Observers for tracing and the debugger; nil costs one compare.
    public var onException: ((_ fault: CPUFault, _ eip: UInt32) -> Void)?
    public var onInterrupt: ((_ vector: UInt8, _ external: Bool) -> Void)?
    /// Called after a MOV to CR0/CR3/CR4 or an EFER write: register number
    /// (4 = CR4, 0xE = EFER), old and new value.
    public var onControlRegisterWrite: ((_ register: Int, _ old: UInt64, _ new: UInt64) -> Void)?
    /// A triple fault: the processor shuts down; the machine resets it.
    public var onTripleFault: (() -> Void)?
    /// Trace of each executed instruction (EIP and decoded form) — `-d in_asm`.
    public var onInstruction: ((_ eip: UInt32, _ instruction: Instruction) -> Void)?
    /// The FERR# output (MS-DOS-compatible x87 error reporting, CR0.NE = 0):
    /// true when an unmasked x87 exception is pending, false when software
    /// clears it. A PC routes it to IRQ13.
    public var onFPUError: ((_ asserted: Bool) -> Void)?
    /// The debugger's check at each instruction boundary, consulted only
    /// while `debugHooksActive` (one predictable branch otherwise): true
    /// ends the batch before the instruction at EIP runs.
    public var debugHooksActive = false { didSet { updateBoundaryAttention() } }
    public var onInstructionBoundary: (() -> Bool)?
    /// The debugger's data watch: while `dataWatchActive` (one predictable
    /// branch per access otherwise), every data read and write reports its
    /// linear and physical address after translation succeeded. The
    /// accesses' fast path and the REP MOVS/STOS fast path stand aside
    /// meanwhile, so each access is seen.
    public var dataWatchActive = false
    public var onDataAccess: ((_ linear: UInt32, _ physical: UInt32, _ size: Int, _ write: Bool) -> Void)?
    /// The IGNNE# input: while asserted (and CR0.NE = 0), waiting x87
    /// instructions ignore a pending error instead of freezing. A PC
    /// asserts it on a write to port F0h and releases it when FERR# drops.
    public var ignoreNumericError = false

    /// Whether an instruction boundary needs a closer look: a stop request,
    /// the INTR line or the debugger's hook, kept by those properties'
    /// observers; or a data access that took the full path
    /// (`noteFullPathAccess`). The block loop tests this one byte per
    /// instruction.
    private(set) var boundaryAttention = false

    /// A data access left the fast path since the block loop last looked:
    /// it may have written cached code, reached a device that remaps
    /// memory or toggles A20, or filled the TLB, which the block loop must
    /// look at after the instruction. (The fast path can do none of that.)
    private var fullPathAccess = false

    func noteFullPathAccess() {
        fullPathAccess = true
        boundaryAttention = true
    }

    /// The block loop has looked at the state after a full-path access.
    func answerFullPathAccess() {
        fullPathAccess = false
        updateBoundaryAttention()
    }

    private func updateBoundaryAttention() {
        boundaryAttention = stopRequested || interruptRequested || debugHooksActive || fullPathAccess
    }

    /// Exceptions being delivered (for #DF and triple-fault detection).
    var deliveryDepth = 0

    /// Software TLB and paging state (System/Paging.swift).
    let tlb: TranslationLookasideBuffer
    /// Raised by every TLB flush (MOV CR3, INVLPG, task switches, paging
    /// mode changes): code that cached a linear-to-physical translation
    /// (the recompiler's links between pages) is sure of it while this
    /// holds the value it had then.
    public var pagingEpoch: UnsafePointer<UInt64> { UnsafePointer(tlb.epoch) }
    /// The paging epoch a link to code at `linear` depends on: the global
    /// pages' (which MOV CR3 leaves) when its translation is global.
    public func pagingEpoch(forCodeAt linear: UInt32) -> UnsafePointer<UInt64> { UnsafePointer(tlb.epoch(forCodeAt: linear)) }
    /// An engine relies on how the page holding `linear` translates (it
    /// links to or caches a jump to code there): INVLPG of that page must
    /// raise the paging epoch.
    public func noteCodeEntry(linear: UInt32) { tlb.noteCodeEntry(linear) }
    /// Linear page → host memory for generated code (HostTLB.swift).
    public var hostTLB: HostTLB { tlb.host }
    /// Instructions decoded once and run many times (DecodedBlockCache.swift).
    let blocks = DecodedBlockCache()

    public init(state: UnsafeMutablePointer<CPUState>, memory: PhysicalMemory, io: PortIO) {
        self.state = state
        self.memory = memory
        self.io = io
        self.tlb = TranslationLookasideBuffer(memory: memory)
        memory.addCodeWatchObserver { [weak host = tlb.host] page in host?.watchWrites(ramPage: page) }
        reset()
    }

    /// Power-on / RESET state (Intel SDM vol. 3, 9.1.1): real mode, CS:IP =
    /// F000:FFF0 with CS base FFFF0000, so the first fetch reads the BIOS at
    /// the top of the 4 GiB space.
    public func reset() {
        state.pointee = CPUState()
        state.pointee.rip = 0xFFF0
        state.pointee.gpr.2 = UInt64(CPUIDTable.signature) // EDX = the CPUID signature (SDM 9.1.4)
        state.pointee.segments.1 = SegmentDescriptorCache(selector: 0xF000, base: 0xFFFF_0000, limit: 0xFFFF, attributes: 0x9B)
        state.pointee.gdtr = DescriptorTableRegister(base: 0, limit: 0xFFFF)
        state.pointee.idtr = DescriptorTableRegister(base: 0, limit: 0xFFFF)
        deliveryDepth = 0
        tlb.flushAll()
        blocks.flush()
        stopRequested = true
    }

    // MARK: - The loop

    /// Executes up to `count` instructions (fewer if an instruction asks the
    /// batch to stop or the CPU halts). Returns the number retired; an
    /// interrupt delivered or an exception raised counts as one.
    ///
    /// Runs decoded blocks where it can (`runBlocks`, BlockExecution.swift)
    /// and single `step`s where it cannot; both retire the same
    /// instructions in the same order, with the same instruction-boundary
    /// work.
    @discardableResult
    public func run(_ count: Int) -> Int {
        stopRequested = false
        var done = 0
        while done < count && !stopRequested {
            if state.pointee.halted {
                guard interruptRequested && state.pointee.eflags & EFLAGS.if != 0 else { break }
            }
            if debugHooksActive, let check = onInstructionBoundary, check() { break }
            let n = runBlocks(limit: count - done)
            if n > 0 {
                done += n
            } else {
                step()
                done += 1
            }
        }
        return done
    }

    /// Executes one instruction, or delivers one pending interrupt.
    public func step() {
        let s = state
        if interruptRequested && s.pointee.eflags & EFLAGS.if != 0 && !s.pointee.interruptShadow {
            if let pic = interruptController {
                s.pointee.halted = false
                let vector = pic.acknowledgeInterrupt()
                onInterrupt?(vector, true)
                deliverExternalInterrupt(vector)
                return
            }
        }
        if s.pointee.halted { return }
        s.pointee.interruptShadow = false
        let trapAfter = s.pointee.eflags & EFLAGS.tf != 0
        if executeInstruction() && trapAfter {
            s.pointee.dr.6 |= 0x4000 // BS: single step
            deliverException(.debug, eip: UInt32(truncatingIfNeeded: s.pointee.rip))
        }
    }

    /// Fetches, decodes and executes the instruction at CS:EIP, with none
    /// of `step`'s boundary work (interrupts, the interrupt shadow, TF):
    /// `step` does that work around it, and so does an engine that runs
    /// this one instruction on the interpreter (the recompiler's fallback).
    /// Returns false when the instruction raised an exception (delivered).
    /// `decoded` sees the instruction before it runs.
    @discardableResult
    public func executeInstruction(decoded: (Instruction) -> Void = { _ in }) -> Bool {
        let s = state
        currentEIP = UInt32(truncatingIfNeeded: s.pointee.rip)
        do {
            let i = try fetchAndDecode()
            decoded(i)
            if let trace = onInstruction { trace(currentEIP, i) }
            // EIP moves past the instruction first, so it sees the next one's address.
            var next = currentEIP &+ UInt32(i.length)
            if !s.pointee.segments.1.is32Bit { next &= 0xFFFF }
            s.pointee.rip = UInt64(next)
            try execute(i)
            instructionCount &+= 1
            return true
        } catch {
            raise(error)
            return false
        }
    }

    /// Delivers `fault`, raised by the instruction at `eip` outside the
    /// interpreter (by an engine's memory access), as if that instruction
    /// had raised it here.
    public func raise(_ fault: CPUFault, instructionAt eip: UInt32) {
        currentEIP = eip
        raise(fault)
    }

    /// A fault or trap raised by the instruction at `currentEIP`: faults
    /// restart it, traps report the next one (and it counts as retired).
    func raise(_ error: CPUFault) {
        let s = state
        let eip = error.isTrap ? UInt32(truncatingIfNeeded: s.pointee.rip) : currentEIP
        if !error.isTrap { s.pointee.rip = UInt64(currentEIP) }
        instructionCount &+= error.isTrap ? 1 : 0
        onException?(error, currentEIP)
        deliverException(error, eip: eip)
    }

    // MARK: - Modes

    @inline(__always) public var protectedMode: Bool { state.pointee.cr0 & 1 != 0 }
    @inline(__always) public var pagingEnabled: Bool { state.pointee.cr0 & 0x8000_0000 != 0 }
    @inline(__always) public var virtual8086: Bool { state.pointee.eflags & EFLAGS.vm != 0 }
    @inline(__always) public var cpl: UInt8 { state.pointee.cpl }

    // MARK: - Registers (by encoding number)

    /// The 64-bit register slots (`gpr`, a tuple of UInt64, is the first
    /// field of CPUState). Sub-registers are read and written by masking
    /// the slot: typed, and simple enough to inline anywhere.
    @inline(__always) var gprSlots: UnsafeMutablePointer<UInt64> {
        UnsafeMutableRawPointer(state).assumingMemoryBound(to: UInt64.self)
    }

    @inline(__always) public func reg32(_ r: UInt8) -> UInt32 {
        UInt32(truncatingIfNeeded: gprSlots[Int(r)])
    }
    /// A 32-bit result zero-extends into the 64-bit slot.
    @inline(__always) public func setReg32(_ r: UInt8, _ v: UInt32) {
        gprSlots[Int(r)] = UInt64(v)
    }
    @inline(__always) public func reg16(_ r: UInt8) -> UInt16 {
        UInt16(truncatingIfNeeded: gprSlots[Int(r)])
    }
    @inline(__always) public func setReg16(_ r: UInt8, _ v: UInt16) {
        gprSlots[Int(r)] = gprSlots[Int(r)] & ~0xFFFF | UInt64(v)
    }
    /// 8-bit registers: 0–3 = AL, CL, DL, BL; 4–7 = AH, CH, DH, BH.
    @inline(__always) public func reg8(_ r: UInt8) -> UInt8 {
        UInt8(truncatingIfNeeded: gprSlots[Int(r & 3)] >> (UInt64(r >> 2) << 3))
    }
    @inline(__always) public func setReg8(_ r: UInt8, _ v: UInt8) {
        let shift = UInt64(r >> 2) << 3
        gprSlots[Int(r & 3)] = gprSlots[Int(r & 3)] & ~(0xFF << shift) | UInt64(v) << shift
    }
    /// A general register of `size` bytes, zero-extended.
    @inline(__always) public func register(_ r: UInt8, size: Int) -> UInt32 {
        switch size {
        case 1: return UInt32(reg8(r))
        case 2: return UInt32(reg16(r))
        default: return reg32(r)
        }
    }
    @inline(__always) public func setRegister(_ r: UInt8, size: Int, _ v: UInt32) {
        switch size {
        case 1: setReg8(r, UInt8(truncatingIfNeeded: v))
        case 2: setReg16(r, UInt16(truncatingIfNeeded: v))
        default: setReg32(r, v)
        }
    }

    public var eip: UInt32 {
        // Always inlined: the near branches' specialized forms use it.
        @inline(always) get { UInt32(truncatingIfNeeded: state.pointee.rip) }
        @inline(always) set { state.pointee.rip = UInt64(newValue) }
    }

    /// The segment register cache `seg`.
    @inline(__always)
    public func segment(_ seg: SegmentRegister) -> UnsafeMutablePointer<SegmentDescriptorCache> {
        let offset = MemoryLayout<CPUState>.offset(of: \CPUState.segments)! + seg.rawValue * MemoryLayout<SegmentDescriptorCache>.stride
        return (UnsafeMutableRawPointer(state) + offset).assumingMemoryBound(to: SegmentDescriptorCache.self)
    }
}
