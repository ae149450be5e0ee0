import CKVM
import Glibc

/// Why KVM_RUN returned, decoded from `kvm_run` into what the device loop
/// acts on. Port and MMIO data stay in the shared area: a port access
/// points at its bytes, an MMIO read is completed with `completeMMIORead`.
enum KVMExit {
    /// IN/OUT (`count` > 1 for string instructions), data in the run area.
    case portIO(port: UInt16, size: Int, isWrite: Bool, count: Int, data: UnsafeMutableRawPointer)
    case mmio(address: UInt64, size: Int, isWrite: Bool, value: UInt64)
    case halt
    case interruptWindowOpen
    /// A signal (the deadline timer) or `immediate_exit` ended the run.
    case interrupted
    /// The guest shut down (triple fault), or the host refused its state.
    case shutdown
    case failedEntry(hardwareReason: UInt64)
    case internalError(suberror: UInt32)
    case unexpected(reason: UInt32)
    /// KVM_RUN itself failed (errno).
    case runFailed(Int32)
}

extension KVMVirtualCPU {
    /// Enters the guest once and says why it came back.
    func enter() -> KVMExit {
        if ioctl(fd, NOVABOX_KVM_RUN) != 0 {
            let e = errno
            run.pointee.immediate_exit = 0
            return e == EINTR || e == EAGAIN ? .interrupted : .runFailed(e)
        }
        let r = run.pointee
        switch Int32(r.exit_reason) {
        case KVM_EXIT_IO:
            return .portIO(port: r.io.port, size: Int(r.io.size), isWrite: r.io.direction == UInt8(KVM_EXIT_IO_OUT),
                           count: Int(r.io.count), data: UnsafeMutableRawPointer(run) + Int(r.io.data_offset))
        case KVM_EXIT_MMIO:
            let value = withUnsafeBytes(of: r.mmio.data) { $0.load(as: UInt64.self) }
            return .mmio(address: r.mmio.phys_addr, size: Int(r.mmio.len), isWrite: r.mmio.is_write != 0, value: value)
        case KVM_EXIT_HLT: return .halt
        case KVM_EXIT_IRQ_WINDOW_OPEN: return .interruptWindowOpen
        case KVM_EXIT_INTR: return .interrupted
        case KVM_EXIT_SHUTDOWN: return .shutdown
        case KVM_EXIT_FAIL_ENTRY: return .failedEntry(hardwareReason: r.fail_entry.hardware_entry_failure_reason)
        case KVM_EXIT_INTERNAL_ERROR: return .internalError(suberror: r.internal.suberror)
        default: return .unexpected(reason: r.exit_reason)
        }
    }

    /// Finishes the instruction whose port I/O or MMIO the last exit asked
    /// for. KVM completes it (an IN's or a read's data, RIP past it) only
    /// inside the next KVM_RUN; with `immediate_exit` set, that KVM_RUN
    /// does just this and returns before any further guest instruction.
    /// Needed before the vCPU's state is read back. False: KVM_RUN failed.
    func completePendingIO() -> Bool {
        let reason = Int32(run.pointee.exit_reason)
        guard reason == KVM_EXIT_IO || reason == KVM_EXIT_MMIO else { return true }
        run.pointee.immediate_exit = 1
        let exit = enter()
        run.pointee.immediate_exit = 0
        if case .interrupted = exit { return true }
        return false
    }

    /// The value an MMIO read returns to the guest (little-endian bytes).
    func completeMMIORead(_ value: UInt64) {
        withUnsafeMutableBytes(of: &run.pointee.mmio.data) { $0.storeBytes(of: value, as: UInt64.self) }
    }

    /// Injects an external interrupt (no in-kernel interrupt controller).
    func inject(vector: UInt8) -> Bool {
        var irq = kvm_interrupt(irq: UInt32(vector))
        return ioctl(fd, NOVABOX_KVM_INTERRUPT, &irq) == 0
    }

    /// Whether the guest takes an interrupt injected now (IF = 1, no shadow,
    /// no event in flight), as KVM reported at the last exit.
    var readyForInterrupt: Bool { run.pointee.ready_for_interrupt_injection != 0 && run.pointee.if_flag != 0 }
}

extension KVMExit: CustomStringConvertible {
    var description: String {
        switch self {
        case .portIO(let port, let size, let isWrite, _, _): return "\(isWrite ? "out" : "in") port \(String(port, radix: 16))h size \(size)"
        case .mmio(let address, let size, let isWrite, _): return "MMIO \(isWrite ? "write" : "read") at \(String(address, radix: 16))h size \(size)"
        case .halt: return "HLT"
        case .interruptWindowOpen: return "interrupt window"
        case .interrupted: return "interrupted"
        case .shutdown: return "shutdown (the guest triple-faulted, or the host refused its state)"
        case .failedEntry(let reason): return "failed VM entry (hardware reason \(String(reason, radix: 16))h)"
        case .internalError(let sub): return "KVM internal error \(sub)\(sub == UInt32(KVM_INTERNAL_ERROR_EMULATION) ? " (emulation failure)" : "")"
        case .unexpected(let reason): return "unexpected exit \(reason)"
        case .runFailed(let e): return "KVM_RUN failed: \(String(cString: strerror(e)))"
        }
    }
}
