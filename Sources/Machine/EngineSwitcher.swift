import CPU
import Glibc
import HWAccel

/// One hand-over between engines: where the guest was and why.
public struct EngineSwitch: Sendable, CustomStringConvertible {
    public let to: MachineStatus.Engine
    public let reason: String
    /// Guest instructions the interpreter had retired (KVM does not count them).
    public let instructionCount: UInt64
    public let eip: UInt64

    public var description: String {
        "switch to \(to.rawValue): \(reason) at eip \(hex(eip, 8)) icount \(instructionCount)"
    }
}

/// The `-accel` policy: which engine runs the guest, and the moves
/// between them (DESIGN.md, "Engines and the switch").
///
/// The interpreter runs from reset. At the instruction boundary after a
/// write that leaves CR0.PE and CR0.PG set (the interpreter ends its batch
/// on every CR0/CR4/EFER change) the state goes to the KVM vCPU:
/// - `kvm`: always (KVM must be usable at start-up, or it is an error);
/// - `auto`: only if KVM's self-test for this kind of state (32-bit
///   paging, PAE, long mode) ran correctly and faster than the
///   interpreter; otherwise the machine says once why and stays;
/// - `tcg`: never.
/// The state comes back when KVM refuses it, fails an entry or cannot
/// emulate something, when the guest turns paging off, or when the
/// debugger sets something only our own engines honour; the next
/// hand-over waits for the next change of CR0 (after the debugger's
/// hand-back, for the debugger to let go). A kind of state KVM refused is
/// not offered again.
///
/// The interpreter does not run long mode: it carries a 64-bit guest to
/// the `mov cr0` that activates it (EFER.LMA), where the hand-over
/// happens. The CPUID identity is chosen once per run (with one exception
/// below), so every engine reports the same processor:
/// - `kvm`: the whole x86-64 identity (long mode, SSE, NX), since KVM is
///   to run the guest once it pages; our engine only carries it to the
///   switch. A 32-bit guest that KVM then refuses stays in our engine, so
///   from that refusal on it is shown our engine's own processor (`tcg`'s):
///   a kernel reads its features once paging is on (Linux in
///   `early_cpu_init`), after the switch, and would otherwise set up SSE
///   our engine does not have (CR4.OSXMMEXCPT, #GP).
/// - `auto`: from the self-tests of all three kinds (KVMAssessment, run
///   on their own thread from machine start and awaited at the guest's
///   first CPUID): long mode only when KVM will take the guest there, SSE
///   and the rest of the x86-64 baseline only when KVM takes every paged
///   state, so that our engine never meets a feature it lacks.
final class EngineSwitcher {
    let policy: MachineConfiguration.Acceleration
    private let cpu: CPU
    private let trace: TraceLog?
    private var system: KVMSystem?
    private(set) var kvm: KVMEngine?
    /// The engine the guest runs on outside KVM (`-engine`).
    private let ownEngine: MachineStatus.Engine
    private(set) var engine: MachineStatus.Engine
    /// The kind of state the guest was in when KVM last took it.
    private(set) var handedOverKind: PagingKind?
    private(set) var switches: [EngineSwitch] = []
    /// Told of every switch as it happens (the debugger's `break handover`).
    var onSwitch: ((EngineSwitch) -> Void)?
    /// Hand-overs KVM refused, with the reason shown to the user.
    private(set) var refusals: [String] = []
    /// `auto` only: the self-tests, running from machine start.
    private var assessment: KVMAssessment?
    private var refusedKinds: Set<PagingKind> = []
    /// CR0 when the guest last came back: no new hand-over until it changes.
    private var waitForCR0Change: UInt64?
    private var saidHandBack = false
    /// Host time: when the machine started, when the guest last entered
    /// KVM (while it is there), and what it spent in KVM before that.
    private let startedAt = MonotonicClock.nanoseconds()
    private var enteredKVMAt: UInt64?
    private var nanosecondsInKVM: UInt64 = 0

    init(_ configuration: MachineConfiguration, cpu: CPU, trace: TraceLog?) throws(MachineError) {
        policy = configuration.acceleration
        ownEngine = configuration.engine
        engine = configuration.engine
        self.cpu = cpu
        self.trace = configuration.trace.switches ? trace : nil
        guard policy != .tcg else { return }
        if configuration.instructionCountShift != nil {
            // KVM runs on host time; -icount's deterministic time would not hold.
            if policy == .kvm { throw MachineError("-accel kvm cannot keep -icount's deterministic guest time; drop -icount or use -accel tcg") }
            return
        }
        do {
            system = try KVMSystem(device: configuration.kvmDevice)
        } catch {
            if policy == .kvm { throw MachineError("-accel kvm: \(error.description)") }
            EngineSwitcher.say("KVM is not usable (\(error.description)); the guest runs in our own engine")
            return
        }
        guard policy == .auto else {
            cpu.cpuid = CPUIDTable(longMode: true, x86_64Baseline: true)
            return
        }
        let assessment = KVMAssessment(system: system!, trace: self.trace)
        self.assessment = assessment
        cpu.pendingIdentity = {
            let taken = PagingKind.allCases.filter { assessment.results[$0]!.worthHandingOver }
            let longMode = taken.contains(.longMode)
            return CPUIDTable(longMode: longMode, x86_64Baseline: longMode && taken.count == PagingKind.allCases.count)
        }
    }

    static func say(_ line: String) {
        fflush(stdout)
        fputs("novabox: \(line)\n", stderr)
    }

    /// Whether the interpreter should offer the guest to KVM now.
    var wantsHandOver: Bool {
        engine != .kvm && system != nil && cpu.state.pointee.cr0 & UInt64(CR0.pe | CR0.pg) == UInt64(CR0.pe | CR0.pg)
            && waitForCR0Change != cpu.state.pointee.cr0
    }

    /// Offers the guest, at this instruction boundary, to KVM.
    func handOver(interruptLine: @escaping () -> Bool) {
        let state = cpu.state.pointee
        // Whatever happens here, the next offer waits for CR0 to change.
        waitForCR0Change = state.cr0
        let kind = PagingKind(state)
        guard !refusedKinds.contains(kind) else { return }
        if policy == .auto {
            let result = assessment!.results[kind]!
            guard result.worthHandingOver else {
                refusedKinds.insert(kind)
                note(result.failure == nil ? "\(result.summary): slower than our own engine, which keeps the guest"
                                           : "\(result.summary); our own engine keeps the guest")
                return
            }
        }
        do {
            if kvm == nil {
                let engine = try KVMEngine(system: system!, cpu: cpu)
                engine.interruptLine = interruptLine
                kvm = engine
            }
            try kvm!.enter()
        } catch {
            refusedKinds.insert(kind)
            var identity = ""
            if kind != .longMode && cpu.cpuid.x86_64Baseline {
                cpu.cpuid = CPUIDTable()
                identity = ", which shows the guest its own processor from now on (no long mode, no SSE)"
            }
            note("KVM refused the guest's \(kind.rawValue) state at eip \(hex(state.rip, 8)) (\(error)); continuing in our own engine" + identity)
            return
        }
        waitForCR0Change = nil
        handedOverKind = kind
        record(.kvm, "paging on (\(kind.rawValue))", eip: state.rip)
    }

    /// Brings the guest back to the interpreter. `offerAgain`: the next
    /// hand-over need not wait for CR0 to change (the debugger took the
    /// guest only while it needs our engines).
    func handBack(_ reason: String, offerAgain: Bool = false) {
        guard engine == .kvm, let kvm else { return }
        do {
            // Also drops our engines' code on the pages KVM wrote.
            try kvm.leave()
        } catch {
            // The vCPU state cannot be read: nothing better than the state
            // at the hand-over is left. Say so; the run goes on.
            EngineSwitcher.say("cannot read the guest state back from KVM (\(error)); the guest continues from stale state")
        }
        // The guest's page tables and CR3 changed under KVM: the TLB (and
        // the recompiler's links between pages) go.
        cpu.flushTLB()
        waitForCR0Change = offerAgain ? nil : cpu.state.pointee.cr0
        record(ownEngine, reason, eip: cpu.state.pointee.rip)
        // -accel kvm asked for KVM: say (once) that the guest left it; -d switch shows every time.
        if policy == .kvm && !saidHandBack {
            saidHandBack = true
            EngineSwitcher.say("KVM gave the guest back (\(reason)); continuing in our own engine")
        }
    }

    /// A system reset: the CPU starts over in the interpreter; the vCPU's
    /// state is dropped, not copied, but what KVM wrote to memory stays, so
    /// our engines still learn which pages changed.
    func reset() {
        waitForCR0Change = nil
        guard engine == .kvm else { return }
        do { try kvm?.reportWrittenPages() } catch { EngineSwitcher.say("cannot read KVM's dirty log at the reset (\(error))") }
        record(ownEngine, "reset", eip: 0xFFF0)
    }

    private func record(_ to: MachineStatus.Engine, _ reason: String, eip: UInt64) {
        let now = MonotonicClock.nanoseconds()
        if to == .kvm {
            enteredKVMAt = now
        } else if let entered = enteredKVMAt {
            nanosecondsInKVM += now - entered
            enteredKVMAt = nil
        }
        engine = to
        let event = EngineSwitch(to: to, reason: reason, instructionCount: cpu.instructionCount, eip: eip)
        switches.append(event)
        trace?.log(event.description)
        onSwitch?(event)
    }

    /// A declined hand-over: said once to the user (stderr), counted at exit.
    private func note(_ line: String) {
        refusals.append(line)
        EngineSwitcher.say(line)
    }

    /// Host seconds since the machine started, spent in our engine and in KVM.
    var timeShares: (ours: Double, kvm: Double) {
        let now = MonotonicClock.nanoseconds()
        let inKVM = nanosecondsInKVM + (enteredKVMAt.map { now - $0 } ?? 0)
        return (Double(now - startedAt - inKVM) / 1e9, Double(inKVM) / 1e9)
    }

    /// The line printed when the run ends, when there was anything to count.
    var summary: String? {
        guard policy != .tcg, !switches.isEmpty || !refusals.isEmpty else { return nil }
        let toKVM = switches.filter { $0.to == .kvm }.count
        let time = timeShares
        return "engine switches: \(toKVM) to KVM, \(switches.count - toKVM) back to our engine; \(refusals.count) hand-over(s) declined; \(kvm?.exitCount ?? 0) KVM exits; "
            + "\(KVMSelfTestResult.oneDecimal(time.ours)) s in our engine, \(KVMSelfTestResult.oneDecimal(time.kvm)) s in KVM"
    }
}
