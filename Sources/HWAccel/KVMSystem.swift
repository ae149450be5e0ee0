import CKVM
import Glibc

/// Why KVM cannot be used here, in words a user can act on (what is
/// wrong and how to fix it).
public struct KVMUnavailable: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }

    /// `open` of the device node failed with `error` (an errno value).
    public static func cannotOpen(_ path: String, error: Int32) -> KVMUnavailable {
        switch error {
        case ENOENT, ENODEV, ENXIO:
            return KVMUnavailable("\(path) does not exist: load the KVM module (modprobe kvm_intel or kvm_amd) and enable virtualization (VT-x/AMD-V) in the firmware, or use -accel tcg")
        case EACCES, EPERM:
            return KVMUnavailable("\(path): permission denied: add your user to the group that owns it (e.g. sudo usermod -aG kvm $USER, then log in again), or use -accel tcg")
        default:
            return KVMUnavailable("cannot open \(path): \(String(cString: strerror(error))); or use -accel tcg")
        }
    }
}

/// The host's KVM: the `/dev/kvm` device, checked once for the API
/// version and the capabilities the back end relies on.
///
/// Required: API version 12 (the only stable one), user memory slots,
/// read-only slots (ROM must stay read-only under KVM, so writes exit to
/// the chipset), the TSS address (Intel hosts need it for real-mode
/// emulation), CPUID2, vCPU events (interrupt shadow and pending
/// exceptions travel with the state), XSAVE (x87 and SSE with MXCSR) and
/// `immediate_exit` (the timer that
/// brings the vCPU back to the device loop cannot be lost in a race).
public final class KVMSystem {
    public static let defaultDevice = "/dev/kvm"
    public static let apiVersion: Int32 = 12

    let fd: Int32
    let path: String
    /// Bytes to map of each vCPU's `kvm_run` area.
    let runAreaSize: Int
    /// Memory slots a VM may have.
    let slotLimit: Int

    static let requiredCapabilities: [(Int32, String)] = [
        (KVM_CAP_USER_MEMORY, "user memory slots"),
        (KVM_CAP_READONLY_MEM, "read-only memory slots"),
        (KVM_CAP_SET_TSS_ADDR, "the TSS address"),
        (KVM_CAP_EXT_CPUID, "CPUID tables"),
        (KVM_CAP_VCPU_EVENTS, "vCPU events"),
        (KVM_CAP_XSAVE, "XSAVE state transfer"),
        (KVM_CAP_IMMEDIATE_EXIT, "immediate exit"),
    ]

    public init(device path: String = KVMSystem.defaultDevice) throws(KVMUnavailable) {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw .cannotOpen(path, error: errno) }
        self.fd = fd
        self.path = path
        let version = ioctl(fd, NOVABOX_KVM_GET_API_VERSION)
        guard version >= 0 else {
            close(fd)
            throw KVMUnavailable("\(path) is not a KVM device (it does not answer KVM_GET_API_VERSION); point to /dev/kvm, or use -accel tcg")
        }
        guard version == KVMSystem.apiVersion else {
            close(fd)
            throw KVMUnavailable("\(path) speaks KVM API version \(version), Novabox needs version \(KVMSystem.apiVersion): use a Linux kernel from 2.6.22 on whose KVM reports 12, or use -accel tcg")
        }
        for (capability, name) in KVMSystem.requiredCapabilities where ioctl(fd, NOVABOX_KVM_CHECK_EXTENSION, capability) <= 0 {
            close(fd)
            throw KVMUnavailable("the host's KVM lacks \(name) (KVM_CAP \(capability)); update the host kernel, or use -accel tcg")
        }
        let size = ioctl(fd, NOVABOX_KVM_GET_VCPU_MMAP_SIZE)
        guard size >= MemoryLayout<kvm_run>.size else {
            close(fd)
            throw KVMUnavailable("\(path) reports a vCPU area of \(size) bytes, smaller than kvm_run; use -accel tcg")
        }
        runAreaSize = Int(size)
        let slots = ioctl(fd, NOVABOX_KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS)
        slotLimit = slots > 0 ? Int(slots) : 32
    }

    deinit { close(fd) }
}
