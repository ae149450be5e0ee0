import CPU
import Devices
import Glibc
import HWAccel
import MMU
import Recompiler

/// A PC assembled from a `MachineConfiguration`: an i440FX/PIIX3 chipset
/// with the ISA devices SeaBIOS expects, guest RAM, the firmware, and one
/// P6 CPU; and the run loop that drives it.
///
/// Physical memory map (as QEMU's "pc" machine, which SeaBIOS knows):
///   0 – 9FFFF        conventional RAM
///   A0000 – BFFFF    the VGA window (MMIO)
///   C0000 – FFFFF    option ROMs and the BIOS, or shadow RAM under the PAM registers
///   100000 – RAM end RAM
///   E0000000 –       PCI memory (the VGA linear framebuffer)
///   top 4 GiB – size the BIOS image, read-only
public final class Machine {
    public let configuration: MachineConfiguration
    public let memory: PhysicalMemory
    public let cpu: CPU
    /// Set with `-engine rec`: runs the guest, handing boundaries and
    /// untranslated instructions to `cpu`.
    public let recompiler: Recompiler?
    public let clock: MachineClock
    public let ioBus = IOBus()
    public let board: Motherboard
    let stateStorage = CPUStateStorage()
    private var coprocessorError: CoprocessorErrorPort?
    let trace: TraceLog?
    /// The `-accel` policy and the KVM engine (EngineSwitcher.swift).
    let switcher: EngineSwitcher

    public enum ExitReason: Equatable {
        case timeLimit
        /// The guest reset with `-no-reboot` (a triple fault included).
        case guestReset(tripleFault: Bool)
        case stopped
        /// The instruction budget given to `run(until:instructions:)` is spent.
        case instructionLimit
        /// The guest reached a state no available engine runs (long mode
        /// without KVM); the text says what to do.
        case guestUnrunnable(String)
    }

    private var resetRequested = false
    private var tripleFault = false
    private var stopRequested = false

    public init(_ configuration: MachineConfiguration) throws(MachineError) {
        self.configuration = configuration
        let bios = try FirmwareFile.systemBIOS(configuration.biosPath)
        let vgaBIOS = try FirmwareFile.vgaBIOS(configuration.vgaBIOSPath)
        do {
            memory = try PhysicalMemory(ramSize: configuration.ramSize)
        } catch {
            throw MachineError("\(error); try a smaller -m")
        }
        if let shift = configuration.instructionCountShift {
            clock = MachineClock(mode: .instructionCount(shift: shift))
        } else {
            clock = MachineClock(mode: .realTime)
        }
        trace = configuration.trace.any ? try TraceLog(path: configuration.trace.file, lineLimit: configuration.trace.lineLimit) : nil

        let ports = MachinePorts(bus: ioBus)
        cpu = CPU(state: stateStorage.pointer, memory: memory, io: ports)
        do {
            recompiler = configuration.engine == .recompiler ? try Recompiler(cpu: cpu) : nil
            // Real time: where a batch ends changes nothing the guest can see.
            recompiler?.exactBudget = configuration.instructionCountShift != nil
            if configuration.perfMap { recompiler?.perfMap = try PerfMap() }
        } catch {
            throw MachineError("\(error)")
        }
        board = Motherboard(memory: memory, ioBus: ioBus, clock: clock, bios: bios, vgaBIOS: vgaBIOS,
                            ramSize: configuration.ramSize, clockBase: configuration.clockBase)
        switcher = try EngineSwitcher(configuration, cpu: cpu, trace: trace)
        ports.afterAccess = { [unowned self] in self.cpu.interruptRequested = self.board.interruptPending }
        cpu.interruptController = board
        clock.instructionCounter = { [unowned cpu] in cpu.instructionCount }
        cpu.cycleSource = { [unowned clock] in clock.now }
        coprocessorError = CoprocessorErrorPort(cpu: cpu, board: board, bus: ioBus)
        board.onResetRequest = { [unowned self] in self.resetRequested = true; self.cpu.stopRequested = true }
        cpu.onTripleFault = { [unowned self] in
            self.tripleFault = true
            self.resetRequested = true
        }
        try attachDrives()
        try LinuxBoot.load(configuration)?.install(into: board.firmwareConfig)   // after the drives: it goes first in the boot order
        connectConsoles()
        connectTrace()
    }

    // MARK: - Consoles

    private var serialOut: OutputSink?
    private var debugOut: OutputSink?

    private func connectConsoles() {
        serialOut = OutputSink(configuration.serial)
        if let sink = serialOut { board.uart.output = { sink.put($0) } }
        debugOut = OutputSink(configuration.debugConsole)
        if let sink = debugOut { board.debugConsole.output = { sink.put($0) } }
    }

    /// Bytes for COM1 from host threads (stdin, later the window).
    public let serialInputQueue = InputQueue()

    /// Work for the machine's thread from host threads (see `HostRequestQueue`).
    public let hostRequests = HostRequestQueue()

    // MARK: - Tracing

    private func connectTrace() {
        guard let trace else { return }
        let t = configuration.trace
        if t.exceptions {
            cpu.onException = { [unowned self] fault, eip in
                let cs = self.cpu.segment(.cs).pointee.selector
                trace.log("exception \(fault.name) (vector \(fault.vector))\(fault.errorCode.map { " error \(hex($0, 4))" } ?? "") at \(hex(cs, 4)):\(hex(eip, 8)) icount \(self.cpu.instructionCount)")
            }
            cpu.onInterrupt = { [unowned self] vector, _ in
                trace.log("interrupt \(hex(vector, 2))h at \(hex(self.cpu.segment(.cs).pointee.selector, 4)):\(hex(self.cpu.eip, 8)) icount \(self.cpu.instructionCount)")
            }
        }
        if t.modes {
            cpu.onControlRegisterWrite = { [unowned self] register, old, new in
                trace.log(ModeChange.describe(register: register, old: old, new: new) + " at \(hex(self.cpu.currentEIP, 8)) icount \(self.cpu.instructionCount)")
            }
        }
        if t.ports {
            ioBus.trace = { port, size, value, isWrite in
                trace.log("\(isWrite ? "out" : "in ") port \(hex(port, 4)) size \(size) value \(hex(value, size * 2))")
            }
        }
        if t.instructions {
            cpu.onInstruction = { [unowned self] eip, instruction in
                let cs = self.cpu.segment(.cs).pointee
                trace.log("\(hex(cs.selector, 4)):\(hex(eip, 8))  \(Disassembler.text(instruction, address: eip))")
            }
        }
    }

    // MARK: - Running

    /// Instructions per batch between device polls: timer interrupts arrive
    /// within some 60 µs of guest time at the recompiler's speed (timer
    /// ticks are milliseconds apart). Each batch ends in the dispatcher and
    /// this loop; at 16384 a third of a Linux boot's dispatcher entries were
    /// batch ends (`-d rec`: 1.12 M entries, 0.79 M at 65536). Instruction-
    /// count time keeps the 4096 it was recorded with, so deterministic
    /// runs stay what they were.
    var batch: Int { recompiler?.exactBudget == false ? 65536 : 4096 }

    /// Runs until the guest clock reaches `guestSeconds` (default: the
    /// configured `-timeout`), a reset with `-no-reboot`, or `stop()`.
    /// Can be called again to continue. With `instructions`, also returns
    /// once that many instructions have run (the debugger's step and its
    /// slices between polls of its connections).
    public func run(until guestSeconds: Double? = nil, instructions: UInt64? = nil) -> ExitReason {
        let limitNs = (guestSeconds ?? configuration.timeLimit).map { UInt64($0 * 1e9) }
        var remaining = instructions ?? UInt64.max
        var nextDeadline: UInt64 = 0
        defer { flushConsoles() }
        while true {
            if hostRequests.hasWork { hostRequests.runAll(on: self) }
            if stopRequested { stopRequested = false; return .stopped }
            if remaining == 0 { return .instructionLimit }
            if isPaused {
                hostRequests.wait(nanoseconds: 50_000_000)
                continue
            }
            let now = clock.now
            if let limitNs, now >= limitNs { return .timeLimit }
            nextDeadline = min(nextDeadline, board.nextDeadline)
            if now >= nextDeadline { nextDeadline = board.advanceTimers(to: now) }
            if let limitNs { nextDeadline = min(nextDeadline, limitNs) }
            // Only what the receiver FIFO has room for, as a serial line with
            // flow control would deliver it: a pasted line is not overrun.
            if serialInputQueue.hasData && board.uart.receiveRoom > 0 {
                board.uart.receive(serialInputQueue.drain(upTo: board.uart.receiveRoom))
            }
            cpu.interruptRequested = board.interruptPending
            if resetRequested {
                resetRequested = false
                if configuration.noReboot { return .guestReset(tripleFault: tripleFault) }
                tripleFault = false
                reset()
                continue
            }
            if switcher.engine == .kvm, let kvm = switcher.kvm {
                // On request from the debugger the state comes back, except
                // in long mode, which only KVM runs here.
                if debuggerHoldsGuest && switcher.handedOverKind != .longMode {
                    switcher.handBack("the debugger needs our own engine", offerAgain: true)
                    continue
                }
                // What a debugger changed while it looked at the guest reaches the vCPU first.
                do { try kvm.endInspection() } catch {
                    switcher.handBack("KVM refused what the debugger changed (\(error))")
                    continue
                }
                if kvm.waitingForInterrupt { idle(until: nextDeadline); continue }
                let slice = nextDeadline > now ? min(nextDeadline - now, 10_000_000) : 0
                switch kvm.run(forNanoseconds: slice) {
                case .deadline, .halted, .stopRequested: break
                case .shutdown: tripleFault = true; resetRequested = true
                case .handBack(let reason): switcher.handBack(reason)
                }
                continue
            }
            if cpu.state.pointee.efer & EFER.lma != 0 {
                return .guestUnrunnable("the guest switched to long mode (64-bit), which only KVM runs here; run with -accel kvm on a host whose KVM runs long mode")
            }
            if cpu.state.pointee.halted && !(cpu.interruptRequested && cpu.state.pointee.eflags & EFLAGS.if != 0) {
                idle(until: nextDeadline)
                continue
            }
            let budget = Int(min(UInt64(batch), remaining))
            let n = recompiler?.run(budget) ?? cpu.run(budget)
            remaining -= UInt64(n)
            if switcher.wantsHandOver && (!debuggerHoldsGuest || cpu.state.pointee.efer & EFER.lma != 0) {
                switcher.handOver(interruptLine: { [unowned self] in self.board.interruptPending })
            }
        }
    }

    /// A halted CPU waits for the next timer deadline (or host work) instead of spinning.
    private func idle(until deadline: UInt64) {
        switch clock.mode {
        case .instructionCount:
            clock.skip(to: deadline)
        case .realTime:
            let now = clock.now
            guard deadline > now else { return }
            let wait = min(deadline - now, 10_000_000)
            flushConsoles()
            hostRequests.wait(nanoseconds: wait)
        }
    }

    public func stop() { stopRequested = true; cpu.stopRequested = true }

    // MARK: - The debugger and KVM

    /// Set by a debugger while something is set that only our own engines
    /// honour (code breakpoints, watchpoints, stepping, mode and exception
    /// events): the guest is not handed to KVM, and a guest KVM runs comes
    /// back at the next slice. Long mode, which only KVM runs here, stays
    /// with KVM and the debugger's checks wait until the guest leaves it.
    public var debuggerHoldsGuest = false

    /// Told of every engine switch as it happens, after the switch (the
    /// debugger's `break handover`); a `stop()` from it ends `run` before
    /// the new engine runs anything.
    public var onEngineSwitch: ((EngineSwitch) -> Void)? {
        get { switcher.onSwitch }
        set { switcher.onSwitch = newValue }
    }

    /// A debugger stopped the machine (machine thread): while KVM runs the
    /// guest, `cpu.state` holds the state of the hand-over until it is read
    /// back. This reads it (the guest stays in KVM); what the debugger then
    /// changes in `cpu.state` reaches the vCPU before KVM runs again, or our
    /// engine, if the debugger's needs bring the guest back.
    public func synchronizeStateForDebugger() {
        guard switcher.engine == .kvm, let kvm = switcher.kvm else { return }
        do { try kvm.inspect() } catch {
            EngineSwitcher.say("cannot read the guest state from KVM for the debugger (\(error)); it shows an older state")
        }
    }

    // MARK: - Pausing (on the machine's thread, e.g. through `hostRequests`)

    /// A paused machine runs no instructions and its guest time stands
    /// still; it keeps serving host requests.
    public private(set) var isPaused = false
    private var pausedAt: UInt64 = 0

    public func pause() {
        guard !isPaused else { return }
        pausedAt = clock.now
        isPaused = true
        flushConsoles()
    }

    public func resume() {
        guard isPaused else { return }
        clock.resume(at: pausedAt)
        isPaused = false
    }

    /// The state a front end shows (machine thread).
    public var status: MachineStatus {
        let s = cpu.state.pointee
        return MachineStatus(isPaused: isPaused, engine: switcher.engine,
                             cpuMode: .init(cr0: s.cr0, cr4: s.cr4, efer: s.efer, eflags: s.eflags),
                             instructions: cpu.instructionCount, guestNanoseconds: isPaused ? pausedAt : clock.now)
    }

    /// A system reset: the CPU and the chipset return to power-on state;
    /// RAM keeps its contents, as on a PC.
    public func reset() {
        switcher.reset()
        board.reset()
        cpu.reset()
    }

    /// Writes the recompiler's report to the trace log (`-d rec`).
    public func logEngineReport() {
        guard configuration.trace.recompiler, let trace, let recompiler else { return }
        for line in recompiler.report.split(separator: "\n") { trace.log(String(line)) }
        trace.flush()
    }

    public func flushConsoles() {
        serialOut?.flush()
        debugOut?.flush()
        trace?.flush()
    }

    /// Every engine switch so far, in order.
    public var engineSwitches: [EngineSwitch] { switcher.switches }
    /// One line counting the switches, for the end of a run (nil with
    /// `-accel tcg` or when nothing happened).
    public var engineSummary: String? { switcher.summary }
    /// Host seconds the run has spent so far in our own engine and in KVM.
    public var engineTimeShares: (ours: Double, kvm: Double) { switcher.timeShares }

    /// The VGA text screen as lines of text, or nil in a graphics mode.
    public func textScreen() -> [String]? { board.vga.textScreen()?.lines }
}

/// The CPU's view of the I/O bus. After every access the machine refreshes
/// the CPU's interrupt line, so an EOI or unmask takes effect at once.
final class MachinePorts: PortIO {
    let bus: IOBus
    var afterAccess: (() -> Void)?
    init(bus: IOBus) { self.bus = bus }
    func portRead(_ port: UInt16, size: Int) -> UInt32 {
        let v = bus.read(port, size: size)
        afterAccess?()
        return v
    }
    func portWrite(_ port: UInt16, size: Int, value: UInt32) {
        bus.write(port, size: size, value: value)
        afterAccess?()
    }
}

/// Buffered byte output to stdout or a file.
final class OutputSink {
    private let file: UnsafeMutablePointer<FILE>
    private let owns: Bool

    init?(_ target: MachineConfiguration.CharacterTarget) {
        switch target {
        case .none: return nil
        case .stdio: file = stdout; owns = false
        case .file(let path):
            guard let f = fopen(path, "w") else { return nil }
            file = f; owns = true
        }
    }
    deinit { fflush(file); if owns { fclose(file) } }
    func put(_ byte: UInt8) {
        fputc(Int32(byte), file)
        if byte == 0x0A { fflush(file) }
    }
    func flush() { fflush(file) }
}

func hex<T: BinaryInteger>(_ v: T, _ digits: Int) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: max(0, digits - s.count)) + s
}
