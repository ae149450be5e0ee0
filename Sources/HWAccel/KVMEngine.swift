import CKVM
import CPU
import Glibc
import MMU

/// KVM would not take or keep running a guest state; says why.
public struct KVMRefusal: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The hardware-accelerated engine: the machine's one `CPU` (its state,
/// memory, ports and interrupt controller) run on a KVM vCPU.
///
/// Guest RAM is not copied: the memory slots map the same host pages the
/// interpreter uses (`PhysicalMemory.directMapping`), ROM read-only, and
/// whatever has no direct mapping (the VGA window, MMIO, PAM's split
/// read/write routes) exits and goes through `PhysicalMemory.read/write`,
/// as the interpreter's accesses do. The RAM slots log the pages the guest
/// writes: when the guest leaves KVM (or a slot is remapped) those pages
/// are reported to `PhysicalMemory`, so code cached on them by our
/// engines, and only that code, is dropped. Port I/O exits go to the CPU's port
/// bus. There is no in-kernel interrupt controller: the PIC's vector is
/// injected with KVM_INTERRUPT when the guest can take it, and an
/// interrupt-window exit is requested otherwise. A per-thread timer brings
/// KVM_RUN back at the machine's next timer deadline, so device time keeps
/// running while the guest computes. A debugger that stops the machine
/// sees the vCPU's state without the guest leaving KVM (`inspect`, then
/// `endInspection` writes back only what the debugger changed).
public final class KVMEngine {
    public let cpu: CPU
    let vm: KVMVirtualMachine
    var vcpu: KVMVirtualCPU { vm.vcpu }
    private var mappedGeneration: UInt64?
    private var loadedIdentity: CPUIDTable?
    private let kick = DeadlineKick()

    /// The interrupt controller's output now (after an acknowledge the
    /// next request may already be waiting).
    public var interruptLine: () -> Bool = { false }
    /// The guest executed HLT; it resumes when an interrupt is injected.
    public private(set) var halted = false
    /// Exits served since the machine started (all kinds).
    public private(set) var exitCount: UInt64 = 0

    public init(system: KVMSystem, cpu: CPU) throws(KVMUnavailable) {
        self.cpu = cpu
        vm = try KVMVirtualMachine(system: system, logsWrites: true)
        let memory = cpu.memory
        vm.onWrittenPage = { host in KVMEngine.report(host, to: memory) }
    }

    /// A page KVM wrote: code cached on it by our engines is stale.
    private static func report(_ host: UnsafeMutableRawPointer, to memory: PhysicalMemory) {
        let offset = UnsafeRawPointer(host) - UnsafeRawPointer(memory.ram)
        if offset >= 0 && offset < memory.ramSize { memory.ramPageWrittenUntracked(offset >> PhysicalMemory.pageShift) }
    }

    /// Halted and nothing the guest would take: the machine idles.
    public var waitingForInterrupt: Bool {
        halted && !(cpu.interruptRequested && vcpu.run.pointee.if_flag != 0)
    }

    // MARK: - Switching

    /// Loads the CPU's state into the vCPU. On a refusal nothing has run
    /// and `cpu.state` is as it was.
    public func enter() throws(KVMRefusal) {
        if loadedIdentity != cpu.cpuid {
            let entries = cpu.cpuid.leaves.map { leaf -> kvm_cpuid_entry2 in
                let r = cpu.cpuid.query(leaf)
                var e = kvm_cpuid_entry2()
                e.function = leaf; e.eax = r.eax; e.ebx = r.ebx; e.ecx = r.ecx; e.edx = r.edx
                return e
            }
            let error = vcpu.setCPUID(entries)
            guard error == 0 else { throw KVMRefusal("KVM_SET_CPUID2 failed: \(String(cString: strerror(error)))") }
            loadedIdentity = cpu.cpuid
        }
        do { try mapMemory() } catch { throw KVMRefusal(error.description) }
        try KVMStateTransfer.load(cpu.state.pointee, tsc: cpu.timeStampCounter, into: vcpu)
        // The whole state is new: a look a debugger took before a reset is over.
        inspection = nil
        halted = cpu.state.pointee.halted
        vcpu.run.pointee.request_interrupt_window = 0
    }

    /// Writes the vCPU's state back into `cpu.state`, reports the pages KVM
    /// wrote, and finishes an event KVM was delivering, so the interpreter
    /// continues where KVM stopped. After `inspect`, `cpu.state` already is
    /// the guest's, with whatever the debugger changed in it.
    public func leave() throws(KVMRefusal) {
        let pending: KVMStateTransfer.PendingEvent?
        if let inspection { pending = inspection.pending } else { pending = try readState() }
        inspection = nil
        try reportWrittenPages()
        switch pending {
        case .interrupt(let vector): cpu.deliverAcknowledgedInterrupt(vector)
        case .exception(let vector, let errorCode): cpu.deliverPendingException(vector, errorCode: errorCode)
        case nil: break
        }
    }

    /// The vCPU's state, read into `cpu.state`; the event KVM was delivering.
    private func readState() throws(KVMRefusal) -> KVMStateTransfer.PendingEvent? {
        // A stop that came right after a port or MMIO exit (a device's stop
        // request, the debugger, a memory map KVM refused) finds that
        // instruction unfinished in KVM.
        guard vcpu.completePendingIO() else {
            throw KVMRefusal("KVM_RUN failed finishing the last I/O instruction: \(String(cString: strerror(errno)))")
        }
        let (tsc, pending) = try KVMStateTransfer.store(from: vcpu, into: &cpu.state.pointee)
        cpu.state.pointee.halted = halted
        cpu.state.pointee.msr.tscOffset = Int64(bitPattern: tsc &- (cpu.cycleSource?() ?? cpu.instructionCount))
        return pending
    }

    // MARK: - A debugger's look

    /// The state `inspect` read, as read, and the event KVM was delivering
    /// then (it stays in the vCPU, to be delivered when the guest runs on).
    private struct Inspection {
        let state: CPUState
        let pending: KVMStateTransfer.PendingEvent?
    }
    private var inspection: Inspection?

    /// A debugger stopped the machine: `cpu.state` is brought up to date
    /// with the vCPU (registers, hidden segment caches, CRs, EFER, x87/SSE,
    /// MSRs, an I/O instruction finished first) while the guest stays in
    /// KVM. Until `endInspection` the vCPU does not run, so a second call
    /// keeps what the debugger may have changed since the first.
    public func inspect() throws(KVMRefusal) {
        guard inspection == nil else { return }
        let pending = try readState()
        inspection = Inspection(state: cpu.state.pointee, pending: pending)
    }

    /// Before KVM runs the guest again: what the debugger changed in
    /// `cpu.state` since `inspect` goes to the vCPU, nothing else. On a
    /// refusal the inspection stays open, so `leave` hands our engine the
    /// state the debugger left.
    public func endInspection() throws(KVMRefusal) {
        guard let inspection else { return }
        try KVMStateTransfer.writeBack(cpu.state.pointee, changedFrom: inspection.state, into: vcpu)
        self.inspection = nil
    }

    /// Tells `PhysicalMemory` which RAM pages the guest wrote in KVM since
    /// the last report (the guest leaves KVM, or is reset out of it).
    public func reportWrittenPages() throws(KVMRefusal) {
        let memory = cpu.memory
        do { try vm.collectWrittenPages { KVMEngine.report($0, to: memory) } } catch { throw KVMRefusal(error.description) }
    }

    /// Mirrors the physical memory map into memory slots when it changed.
    private func mapMemory() throws(KVMUnavailable) {
        let memory = cpu.memory
        guard mappedGeneration != memory.mapGeneration else { return }
        try vm.setRegions(GuestMemoryRegion.regions(of: memory))
        mappedGeneration = memory.mapGeneration
    }

    // MARK: - Running

    public enum Outcome: Equatable {
        /// The time given is up (device timers are due).
        case deadline
        /// HLT: wait for an interrupt (`waitingForInterrupt`).
        case halted
        /// `cpu.stopRequested` was set by a device or the host.
        case stopRequested
        /// The guest shut down (triple fault).
        case shutdown
        /// KVM cannot go on; the machine takes the state back (`leave`).
        case handBack(String)
    }

    /// Runs the guest for up to `nanoseconds` of host time, serving port,
    /// MMIO and interrupt-window exits on the way.
    public func run(forNanoseconds nanoseconds: UInt64) -> Outcome {
        kick.arm(nanoseconds: nanoseconds, run: vcpu.run)
        defer { kick.disarm() }
        let run = vcpu.run
        while true {
            if cpu.stopRequested { cpu.stopRequested = false; return .stopRequested }
            // A chipset register (PAM, a PCI BAR) written at the last exit may have moved memory.
            if cpu.memory.mapGeneration != mappedGeneration {
                do { try mapMemory() } catch { return .handBack(error.description) }
            }
            if cpu.interruptRequested && vcpu.readyForInterrupt, let controller = cpu.interruptController {
                let vector = controller.acknowledgeInterrupt()
                guard vcpu.inject(vector: vector) else { return .handBack("KVM_INTERRUPT failed: \(String(cString: strerror(errno)))") }
                cpu.onInterrupt?(vector, true)
                halted = false
                cpu.interruptRequested = interruptLine()
            }
            run.pointee.request_interrupt_window = cpu.interruptRequested ? 1 : 0
            exitCount &+= 1
            let exit = vcpu.enter()
            switch exit {
            case .portIO(let port, let size, let isWrite, let count, let data):
                for k in 0..<count {
                    let p = data + k * size
                    if isWrite {
                        let value = size == 1 ? UInt32(p.load(as: UInt8.self)) : size == 2 ? UInt32(p.loadUnaligned(as: UInt16.self)) : p.loadUnaligned(as: UInt32.self)
                        cpu.io.portWrite(port, size: size, value: value)
                    } else {
                        let value = cpu.io.portRead(port, size: size)
                        switch size {
                        case 1: p.storeBytes(of: UInt8(truncatingIfNeeded: value), as: UInt8.self)
                        case 2: p.storeBytes(of: UInt16(truncatingIfNeeded: value), as: UInt16.self)
                        default: p.storeBytes(of: value, as: UInt32.self)
                        }
                    }
                }
            case .mmio(let address, let size, let isWrite, let value):
                guard address >> 32 == 0, size <= 8 else { return .handBack(exit.description + " beyond 4 GiB") }
                let a = UInt32(address)
                if isWrite {
                    // 8-byte accesses (a 64-bit guest's MOV) go as two dwords.
                    if size == 8 {
                        cpu.memory.write(a, size: 4, value: UInt32(truncatingIfNeeded: value))
                        cpu.memory.write(a &+ 4, size: 4, value: UInt32(truncatingIfNeeded: value >> 32))
                    } else {
                        cpu.memory.write(a, size: size, value: UInt32(truncatingIfNeeded: value))
                    }
                } else {
                    let low = UInt64(cpu.memory.read(a, size: min(size, 4)))
                    vcpu.completeMMIORead(size == 8 ? low | UInt64(cpu.memory.read(a &+ 4, size: 4)) << 32 : low)
                }
            case .halt:
                halted = true
                return pagingEnabled ? .halted : .handBack("the guest turned paging off")
            case .interruptWindowOpen:
                continue
            case .interrupted:
                return pagingEnabled ? .deadline : .handBack("the guest turned paging off")
            case .shutdown:
                return .shutdown
            case .failedEntry, .internalError, .unexpected, .runFailed:
                return .handBack(exit.description)
            }
        }
    }

    /// CR0.PG as the vCPU has it now (KVM runs CR0 writes itself, so the
    /// machine looks when the vCPU comes back).
    var pagingEnabled: Bool {
        var sregs = kvm_sregs()
        guard vcpu.control(NOVABOX_KVM_GET_SREGS, &sregs) == 0 else { return false }
        return sregs.cr0 & UInt64(CR0.pg) != 0
    }
}

extension GuestMemoryRegion {
    /// The memory slots for the current map: runs of pages whose reads and
    /// writes go straight to consecutive host memory (RAM, shadow RAM) and
    /// read-only runs (ROM; device memory such as the linear framebuffer,
    /// whose writes then exit as MMIO and reach `PhysicalMemory.write`, so
    /// the window sees them). Everything else is left out so that it exits.
    static func regions(of memory: PhysicalMemory) -> [GuestMemoryRegion] {
        var regions: [GuestMemoryRegion] = []
        let pageSize = PhysicalMemory.pageSize
        var page: UInt32 = 0
        while true {
            if let (host, writable) = memory.directMapping(page: page) {
                let address = UInt64(page) << 12
                if var last = regions.last, last.guestPhysical + UInt64(last.size) == address,
                   last.host + last.size == UnsafeMutableRawPointer(host), last.readOnly == !writable {
                    last.size += pageSize
                    regions[regions.count - 1] = last
                } else {
                    regions.append(GuestMemoryRegion(guestPhysical: address, size: pageSize, host: UnsafeMutableRawPointer(host), readOnly: !writable))
                }
            }
            if page == 0xF_FFFF { break }
            page += 1
        }
        return regions
    }
}

/// Brings KVM_RUN back at a deadline: a per-thread POSIX timer sends
/// SIGUSR2 to the thread running the vCPU, which interrupts KVM_RUN. The
/// handler also sets `immediate_exit`, so a signal that lands just before
/// the vCPU enters is not lost: the next KVM_RUN returns at once.
final class DeadlineKick {
    private var timer: timer_t?
    private var thread: pid_t = 0
    static let signal = SIGUSR2

    func arm(nanoseconds: UInt64, run: UnsafeMutablePointer<kvm_run>) {
        let tid = gettid()
        if timer == nil || thread != tid {
            disposeTimer()
            DeadlineKick.installHandler()
            var event = sigevent()
            event.sigev_notify = Int32(SIGEV_THREAD_ID)
            event.sigev_signo = DeadlineKick.signal
            event._sigev_un._tid = tid
            var t: timer_t?
            guard timer_create(CLOCK_MONOTONIC, &event, &t) == 0 else { return }
            timer = t
            thread = tid
        }
        kickedRunArea = run
        var spec = itimerspec()
        let ns = max(nanoseconds, 10_000)
        spec.it_value = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
        timer_settime(timer, 0, &spec, nil)
    }

    func disarm() {
        var spec = itimerspec()
        timer_settime(timer, 0, &spec, nil)
    }

    deinit { disposeTimer() }

    private func disposeTimer() {
        if let timer { timer_delete(timer) }
        timer = nil
    }

    private static let handlerInstalled: Bool = {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in kickedRunArea?.pointee.immediate_exit = 1 }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0   // no SA_RESTART: KVM_RUN must return EINTR
        return sigaction(DeadlineKick.signal, &action, nil) == 0
    }()

    static func installHandler() { _ = handlerInstalled }
}

/// The run area the deadline signal marks (the signal handler cannot
/// capture context).
nonisolated(unsafe) var kickedRunArea: UnsafeMutablePointer<kvm_run>?
