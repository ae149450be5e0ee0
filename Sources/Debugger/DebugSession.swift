import CPU
import Devices
import Glibc
import Machine

/// Something the session polls between slices of guest execution: the gdb
/// stub, a monitor on stdio or a socket.
protocol DebugPort: AnyObject {
    var descriptors: [Int32] { get }
    func service(_ readable: Set<Int32>)
    /// The machine stopped while running (a breakpoint, an event, `stop`).
    func machineStopped(_ reason: StopReason)
}

/// A machine under a debugger: paused or running, with breakpoints,
/// watchpoints and event breakpoints, driven by any number of ports (a gdb
/// stub and monitors at the same time).
///
/// The session runs the machine in slices (`slice` instructions or 10 ms of
/// guest time) and polls its ports between them, so a Ctrl-C from gdb or a
/// `stop` on the monitor lands within a slice. With nothing set, the CPU
/// runs with its debug hook switched off: the only cost is that poll.
/// With code breakpoints alone, the recompiler runs every block that
/// contains none; KVM takes the guest only while nothing is set that it
/// cannot report (`Machine.debuggerHoldsGuest`). Every stop, a step's
/// end included, reads the guest's state back from KVM first
/// (`Machine.synchronizeStateForDebugger`), so what the ports show and
/// change is the guest's state now, not the hand-over's.
public final class DebugSession {
    public let machine: Machine
    public let view: GuestMemoryView
    public let breakpoints = BreakpointTable()
    public let history: ExecutionHistory
    public private(set) var events: [(id: Int, event: DebugEvent)] = []
    public private(set) var paused: Bool
    var ports: [DebugPort] = []

    /// Instructions per slice between polls of the ports: about a
    /// millisecond of guest execution, so Ctrl-C feels immediate while the
    /// poll's system call stays lost in the noise.
    static let slice: UInt64 = 100_000
    static let sliceSeconds = 0.01

    private var pendingStop: StopReason?
    /// Set when resuming or stepping from a stop: the breakpoint at the
    /// current instruction must not fire again before it runs.
    private var skipBoundaryOnce = false
    /// A `step` runs: its instructions are counted, which KVM cannot do.
    private var stepping = false
    private var quitRequested = false
    private let cpu: CPU
    private var portTraceChained: ((UInt16, Int, UInt32, Bool) -> Void)?
    private var portTraceInstalled = false
    /// Where a `next` over a call, INT or REP string instruction ends: the
    /// instruction after it, reached with the stack no deeper than before
    /// (so a recursive call to the same place does not end it early).
    private var stepOverTarget: (linear: UInt32, stackPointer: UInt32)?

    public init(machine: Machine, startPaused: Bool, history: ExecutionHistory) {
        self.machine = machine
        self.cpu = machine.cpu
        self.view = GuestMemoryView(cpu: machine.cpu)
        self.history = history
        paused = startPaused
        cpu.onInstructionBoundary = { [unowned self] in boundary() }
        cpu.onDataAccess = { [unowned self] linear, physical, size, write in
            if let hit = breakpoints.accessHit(linear: linear, physical: physical, size: size, write: write) { stopMachine(hit) }
        }
        installEventObservers()
    }

    // MARK: - Control

    public func pause(_ reason: StopReason = .interrupted) {
        guard !paused else { return }
        paused = true
        stepOverTarget = nil
        machine.synchronizeStateForDebugger()
        for p in ports { p.machineStopped(reason) }
    }

    public func resume() {
        guard paused else { return }
        stepOverTarget = nil
        breakpoints.resynchronize(view)
        skipBoundaryOnce = true
        paused = false
        updateHooks()
    }

    /// Runs `count` instructions from a pause; stops early at a breakpoint
    /// or event. Bounded by one second of guest time so a halted CPU with
    /// interrupts off cannot hang the debugger.
    @discardableResult
    public func step(_ count: Int = 1) -> StopReason {
        breakpoints.resynchronize(view)
        skipBoundaryOnce = true
        stepping = true
        pendingStop = nil
        updateHooks()
        let until = min(Double(machine.clock.now) / 1e9 + 1, machine.configuration.timeLimit ?? .infinity)
        _ = machine.run(until: until, instructions: UInt64(max(1, count)))
        machine.synchronizeStateForDebugger()
        skipBoundaryOnce = false
        stepping = false
        updateHooks()
        defer { pendingStop = nil }
        return pendingStop ?? .step
    }

    /// What `next` does with the instruction at CS:EIP.
    public enum NextKind: Equatable {
        /// An ordinary instruction: `next` is one step.
        case step
        /// A CALL, INT n, INTO, INT3 or REP string instruction: `next` runs
        /// until the instruction after it.
        case over(nextLinear: UInt32)
    }

    public func nextKind() -> NextKind {
        let cs = cpu.segment(.cs).pointee
        let code32 = cpu.protectedMode && !cpu.virtual8086 && cs.is32Bit
        guard let bytes = view.readLinear(view.instructionPointerLinear, count: 15) ?? view.readLinear(view.instructionPointerLinear, count: 1) else { return .step }
        let i = bytes.withUnsafeBufferPointer { Decoder.decode($0.baseAddress!, count: $0.count, default32: code32) }
        let isString = [Op.movs, .cmps, .stos, .lods, .scas, .ins, .outs].contains(i.op)
        guard [Op.call, .callFar, .int, .int3, .into].contains(i.op) || (isString && i.repeatPrefix != .none) else { return .step }
        var nextIP = cpu.eip &+ UInt32(i.length)
        if !code32 { nextIP &= 0xFFFF }
        return .over(nextLinear: UInt32(truncatingIfNeeded: cs.base) &+ nextIP)
    }

    /// `next`: steps over a call, INT or REP string instruction, else steps
    /// once. From the monitor the machine runs on and the stop is reported
    /// to the ports as a step; `synchronous` (gdb's `monitor next`, where
    /// gdb expects a stopped target when the command returns) waits for it,
    /// at most `guestSeconds` of guest time, then pauses wherever it is.
    @discardableResult
    public func next(synchronous: Bool, guestSeconds: Double = 5) -> StopReason {
        guard case .over(let target) = nextKind() else { return step(1) }
        let stackPointer = cpu.reg32(4)
        if !synchronous {
            resume()
            stepOverTarget = (target, stackPointer)
            updateHooks()
            return .step
        }
        breakpoints.resynchronize(view)
        skipBoundaryOnce = true
        pendingStop = nil
        stepOverTarget = (target, stackPointer)
        updateHooks()
        let until = min(Double(machine.clock.now) / 1e9 + guestSeconds, machine.configuration.timeLimit ?? .infinity)
        _ = machine.run(until: until)
        machine.synchronizeStateForDebugger()
        skipBoundaryOnce = false
        stepOverTarget = nil
        updateHooks()
        defer { pendingStop = nil }
        return pendingStop ?? .interrupted
    }

    /// Ends `run()` (the `quit` command).
    public func quit() { quitRequested = true }

    // MARK: - Breakpoints

    public func addEvent(_ event: DebugEvent) -> Int {
        let id = breakpoints.takeID()
        events.append((id, event))
        updateHooks()
        return id
    }

    public func remove(id: Int) -> Bool {
        let before = events.count
        events.removeAll { $0.id == id }
        let removed = breakpoints.remove(id: id) || events.count != before
        updateHooks()
        return removed
    }

    /// Call after changing `breakpoints` directly.
    public func updateHooks() {
        let watchesEveryBoundary = skipBoundaryOnce || stepOverTarget != nil || breakpoints.watchesChanges || events.contains { $0.event == .halt }
        cpu.debugHooksActive = watchesEveryBoundary || !breakpoints.code.isEmpty
        // Code breakpoints alone: the recompiler keeps running the blocks
        // that contain none.
        machine.recompiler?.breakpoints = watchesEveryBoundary || breakpoints.code.isEmpty ? nil : breakpoints.recompilerStops
        cpu.dataWatchActive = breakpoints.watchesAccesses
        // Not for the skip past a stop's own instruction: under KVM there
        // is no check it could fire twice, and a `continue` from a stop at
        // the hand-over must not bring the guest straight back.
        machine.debuggerHoldsGuest = stepping || stepOverTarget != nil || !breakpoints.isEmpty || history.recordsInstructions
            || events.contains { !$0.event.seenUnderKVM }
        let wantsPorts = events.contains { if case .port = $0.event { return true } else { return false } }
        if wantsPorts && !portTraceInstalled {
            portTraceChained = machine.ioBus.trace
            let chained = portTraceChained
            machine.ioBus.trace = { [unowned self] port, size, value, isWrite in
                chained?(port, size, value, isWrite)
                portAccess(port, size: size, isWrite: isWrite)
            }
            portTraceInstalled = true
        } else if !wantsPorts && portTraceInstalled {
            machine.ioBus.trace = portTraceChained
            portTraceInstalled = false
        }
    }

    // MARK: - The loop

    /// Serves the ports and runs the machine until the configured time
    /// limit, a guest reset with -no-reboot, `quit`, or `Machine.stop()`
    /// from outside (a signal).
    public func run() -> Machine.ExitReason {
        updateHooks()
        while !quitRequested {
            if paused {
                serve(timeoutMs: 100)
                continue
            }
            let sliceEnd = Double(machine.clock.now) / 1e9 + DebugSession.sliceSeconds
            // Past the stop's own instruction in a slice of one: while that
            // one is skipped every boundary is checked, on the interpreter.
            let result = machine.run(until: min(sliceEnd, machine.configuration.timeLimit ?? .infinity),
                                     instructions: skipBoundaryOnce ? 1 : DebugSession.slice)
            skipBoundaryOnce = false
            switch result {
            case .instructionLimit: break
            case .timeLimit:
                if let limit = machine.configuration.timeLimit, Double(machine.clock.now) / 1e9 >= limit { return result }
            case .stopped:
                guard let reason = pendingStop else { return result }
                pendingStop = nil
                pause(reason)
            case .guestReset, .guestUnrunnable:
                return result
            }
            updateHooks()
            serve(timeoutMs: 0)
        }
        return .stopped
    }

    func serve(timeoutMs: Int32) {
        let fds = ports.flatMap(\.descriptors)
        let ready = Socket.readable(fds, timeoutMs: timeoutMs)
        guard !ready.isEmpty else { return }
        for p in ports where !Set(p.descriptors).isDisjoint(with: ready) { p.service(ready) }
    }

    func add(_ port: DebugPort) { ports.append(port) }

    // MARK: - Hooks

    private func stopMachine(_ reason: StopReason) {
        if pendingStop == nil { pendingStop = reason }
        machine.stop()
    }

    /// Before each instruction while hooks are active.
    private func boundary() -> Bool {
        if skipBoundaryOnce { skipBoundaryOnce = false; return false }
        if let reason = breakpoints.check(cpu, view) { stopMachine(reason); return true }
        if let t = stepOverTarget, view.instructionPointerLinear == t.linear, cpu.reg32(4) >= t.stackPointer {
            stopMachine(.step)
            return true
        }
        if let e = events.first(where: { $0.event == .halt }),
           view.readLinear(view.instructionPointerLinear, count: 1) == [0xF4] {
            stopMachine(.event(id: e.id, description: "hlt at \(hex(cpu.segment(.cs).pointee.selector, 4)):\(hex(cpu.eip, 8))"))
            return true
        }
        return false
    }

    private func installEventObservers() {
        let controlWrite = cpu.onControlRegisterWrite
        cpu.onControlRegisterWrite = { [unowned self] register, old, new in
            controlWrite?(register, old, new)
            if let e = events.first(where: { $0.event.matchesControlWrite(register: register, old: old, new: new) }) {
                let name = register == 0xE ? "EFER" : "CR\(register)"
                stopMachine(.event(id: e.id, description: "\(e.event): \(name) \(hex(old, 8)) -> \(hex(new, 8)) by the instruction at \(hex(cpu.segment(.cs).pointee.selector, 4)):\(hex(cpu.currentEIP, 8))"))
            }
        }
        let exception = cpu.onException
        cpu.onException = { [unowned self] fault, eip in
            exception?(fault, eip)
            if let e = events.first(where: { $0.event == .exception(fault.vector) }) {
                stopMachine(.event(id: e.id, description: "exception \(fault.name) (vector \(fault.vector)) at \(hex(cpu.segment(.cs).pointee.selector, 4)):\(hex(eip, 8))"))
            }
        }
        let interrupt = cpu.onInterrupt
        cpu.onInterrupt = { [unowned self] vector, external in
            interrupt?(vector, external)
            if let e = events.first(where: { $0.event == .interrupt(vector) }) {
                stopMachine(.event(id: e.id, description: "\(external ? "external interrupt" : "int") \(hex(vector, 2))h"))
            }
        }
        machine.onEngineSwitch = { [unowned self] change in
            if let e = events.first(where: { $0.event == .engineSwitch }) {
                stopMachine(.event(id: e.id, description: "handover: \(change)"))
            }
        }
        let triple = cpu.onTripleFault
        cpu.onTripleFault = { [unowned self] in
            triple?()
            if let e = events.first(where: { $0.event == .tripleFault }) {
                stopMachine(.event(id: e.id, description: "triple fault"))
            }
        }
    }

    private func portAccess(_ port: UInt16, size: Int, isWrite: Bool) {
        if let e = events.first(where: { if case .port(let r) = $0.event { return r.contains(port) } else { return false } }) {
            // Under KVM the instruction's address is known only once the
            // stop reads the state back; the stop shows the next instruction.
            let place = machine.status.engine == .kvm ? "" : " at \(hex(cpu.segment(.cs).pointee.selector, 4)):\(hex(cpu.currentEIP, 8))"
            stopMachine(.event(id: e.id, description: "\(isWrite ? "out to" : "in from") port \(hex(port, 4))h (size \(size))\(place)"))
        }
    }
}
