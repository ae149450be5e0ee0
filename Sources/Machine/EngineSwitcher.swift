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
/// debugger needs single instructions; the next hand-over waits for the
/// next change of CR0. A kind of state KVM refused is not offered again.
///
/// The interpreter does not run long mode: it carries a 64-bit guest to
/// the `mov cr0` that activates it (EFER.LMA), where the hand-over
/// happens. The CPUID identity is chosen once, from the self-tests of all
/// three kinds at start-up: long mode only when KVM will take the guest
/// there, SSE and the rest of the x86-64 baseline only when KVM takes
/// every paged state; so every engine reports the same processor and the
/// interpreter never meets a feature it lacks.
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
    /// Hand-overs KVM refused, with the reason shown to the user.
    private(set) var refusals: [String] = []
    private var selfTests: [PagingKind: KVMSelfTestResult] = [:]
    private var interpreterRate: Double = 0
    private var refusedKinds: Set<PagingKind> = []
    /// CR0 when the guest last came back: no new hand-over until it changes.
    private var waitForCR0Change: UInt64?
    private var saidHandBack = false

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
        // The CPU identity for the whole run: long mode only if KVM will
        // take the guest at that switch; the rest of the x86-64 baseline
        // (SSE...) only if KVM takes every paged state, so that no guest
        // meets those features in the interpreter.
        interpreterRate = KVMSelfTest.measureInterpreter()
        let taken = PagingKind.allCases.filter { kind in
            let result = selfTest(kind)
            return policy == .auto ? result.worthHandingOver : result.failure == nil
        }
        let longMode = taken.contains(.longMode)
        cpu.cpuid = CPUIDTable(longMode: longMode, x86_64Baseline: longMode && taken.count == PagingKind.allCases.count)
    }

    static func say(_ line: String) {
        fflush(stdout)
        fputs("novabox: \(line)\n", stderr)
    }

    private func selfTest(_ kind: PagingKind) -> KVMSelfTestResult {
        if let known = selfTests[kind] { return known }
        let result = KVMSelfTest.run(kind, system: system!, interpreterRate: interpreterRate)
        selfTests[kind] = result
        trace?.log("kvm self-test: \(result.summary)")
        return result
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
            let result = selfTest(kind)
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
            note("KVM refused the guest's \(kind.rawValue) state at eip \(hex(state.rip, 8)) (\(error)); continuing in our own engine")
            return
        }
        waitForCR0Change = nil
        handedOverKind = kind
        record(.kvm, "paging on (\(kind.rawValue))", eip: state.rip)
    }

    /// Brings the guest back to the interpreter.
    func handBack(_ reason: String) {
        guard engine == .kvm, let kvm else { return }
        do {
            try kvm.leave()
        } catch {
            // The vCPU state cannot be read: nothing better than the state
            // at the hand-over is left. Say so; the run goes on.
            EngineSwitcher.say("cannot read the guest state back from KVM (\(error)); the guest continues from stale state")
        }
        // The guest may have rewritten code while KVM ran it (no dirty log
        // yet): the interpreter's cached blocks go; and its page tables and
        // CR3: the TLB (and the recompiler's links between pages) too.
        cpu.memory.ramWrittenUntracked()
        cpu.flushTLB()
        waitForCR0Change = cpu.state.pointee.cr0
        record(ownEngine, reason, eip: cpu.state.pointee.rip)
        // -accel kvm asked for KVM: say (once) that the guest left it; -d switch shows every time.
        if policy == .kvm && !saidHandBack {
            saidHandBack = true
            EngineSwitcher.say("KVM gave the guest back (\(reason)); continuing in our own engine")
        }
    }

    /// A system reset: the CPU starts over in the interpreter; the vCPU's
    /// state is dropped, not copied.
    func reset() {
        waitForCR0Change = nil
        if engine == .kvm { record(ownEngine, "reset", eip: 0xFFF0) }
    }

    private func record(_ to: MachineStatus.Engine, _ reason: String, eip: UInt64) {
        engine = to
        let event = EngineSwitch(to: to, reason: reason, instructionCount: cpu.instructionCount, eip: eip)
        switches.append(event)
        trace?.log(event.description)
    }

    /// A declined hand-over: said once to the user (stderr), counted at exit.
    private func note(_ line: String) {
        refusals.append(line)
        EngineSwitcher.say(line)
    }

    /// The line printed when the run ends, when there was anything to count.
    var summary: String? {
        guard policy != .tcg, !switches.isEmpty || !refusals.isEmpty else { return nil }
        let toKVM = switches.filter { $0.to == .kvm }.count
        return "engine switches: \(toKVM) to KVM, \(switches.count - toKVM) back to our engine; \(refusals.count) hand-over(s) declined; \(kvm?.exitCount ?? 0) KVM exits"
    }
}
