import CKVM
import Glibc

/// A stretch of guest physical memory that KVM maps straight to host
/// memory (a memory slot). Everything outside the slots exits to the
/// device loop as MMIO.
public struct GuestMemoryRegion: Equatable {
    public var guestPhysical: UInt64
    public var size: Int
    public var host: UnsafeMutableRawPointer
    /// ROM: reads from host memory, writes exit (and go to the chipset).
    public var readOnly: Bool

    public init(guestPhysical: UInt64, size: Int, host: UnsafeMutableRawPointer, readOnly: Bool) {
        self.guestPhysical = guestPhysical; self.size = size; self.host = host; self.readOnly = readOnly
    }
}

/// One KVM virtual machine (KVM_CREATE_VM) with its memory slots and one
/// vCPU. There is no in-kernel interrupt controller: the PIC and PIT stay
/// in Devices and serve every engine.
final class KVMVirtualMachine {
    let system: KVMSystem
    let fd: Int32
    let vcpu: KVMVirtualCPU
    private(set) var regions: [GuestMemoryRegion] = []

    /// Three pages Intel's KVM needs for its real-mode TSS and one for its
    /// identity page table, placed where PC firmware leaves a hole (as
    /// QEMU does), below the BIOS at the top of 4 GiB.
    static let tssAddress: UInt = 0xFEFF_D000
    static let identityMapAddress: UInt64 = 0xFEFF_C000

    init(system: KVMSystem) throws(KVMUnavailable) {
        self.system = system
        let fd = ioctl(system.fd, NOVABOX_KVM_CREATE_VM, Int32(0))
        guard fd >= 0 else { throw KVMUnavailable("KVM_CREATE_VM failed: \(String(cString: strerror(errno))); use -accel tcg") }
        self.fd = fd
        var identityMap = KVMVirtualMachine.identityMapAddress
        guard ioctl(fd, NOVABOX_KVM_SET_TSS_ADDR, Int32(bitPattern: UInt32(KVMVirtualMachine.tssAddress))) == 0,
              ioctl(fd, NOVABOX_KVM_SET_IDENTITY_MAP_ADDR, &identityMap) == 0 || errno == EINVAL else {
            let e = errno
            close(fd)
            throw KVMUnavailable("KVM rejected the TSS address: \(String(cString: strerror(e))); use -accel tcg")
        }
        do {
            vcpu = try KVMVirtualCPU(vm: fd, runAreaSize: system.runAreaSize)
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    /// Makes the slots equal to `wanted`: slots that changed are deleted
    /// and re-created; the others stay (KVM keeps their mappings warm).
    func setRegions(_ wanted: [GuestMemoryRegion]) throws(KVMUnavailable) {
        guard wanted.count <= system.slotLimit else {
            throw KVMUnavailable("the guest memory map needs \(wanted.count) KVM memory slots, the host allows \(system.slotLimit)")
        }
        for (slot, old) in regions.enumerated() where slot >= wanted.count || wanted[slot] != old {
            try setSlot(UInt32(slot), nil)
        }
        for (slot, region) in wanted.enumerated() where slot >= regions.count || regions[slot] != region {
            try setSlot(UInt32(slot), region)
        }
        regions = wanted
    }

    private func setSlot(_ slot: UInt32, _ region: GuestMemoryRegion?) throws(KVMUnavailable) {
        var r = kvm_userspace_memory_region()
        r.slot = slot
        if let region {
            r.guest_phys_addr = region.guestPhysical
            r.memory_size = UInt64(region.size)
            r.userspace_addr = UInt64(UInt(bitPattern: region.host))
            r.flags = region.readOnly ? UInt32(KVM_MEM_READONLY) : 0
        }
        guard ioctl(fd, NOVABOX_KVM_SET_USER_MEMORY_REGION, &r) == 0 else {
            throw KVMUnavailable("KVM_SET_USER_MEMORY_REGION slot \(slot) failed: \(String(cString: strerror(errno)))")
        }
    }
}

/// The vCPU file descriptor and its shared `kvm_run` area.
final class KVMVirtualCPU {
    let fd: Int32
    let run: UnsafeMutablePointer<kvm_run>
    private let runAreaSize: Int

    init(vm: Int32, runAreaSize: Int) throws(KVMUnavailable) {
        let fd = ioctl(vm, NOVABOX_KVM_CREATE_VCPU, Int32(0))
        guard fd >= 0 else { throw KVMUnavailable("KVM_CREATE_VCPU failed: \(String(cString: strerror(errno))); use -accel tcg") }
        guard let area = mmap(nil, runAreaSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), area != MAP_FAILED else {
            close(fd)
            throw KVMUnavailable("cannot map the vCPU's kvm_run area: \(String(cString: strerror(errno)))")
        }
        self.fd = fd
        self.runAreaSize = runAreaSize
        run = area.assumingMemoryBound(to: kvm_run.self)
    }

    deinit {
        munmap(run, runAreaSize)
        close(fd)
    }

    /// An ioctl on the vCPU with a structure argument; errno on failure.
    @inline(__always)
    func control<T: BitwiseCopyable>(_ request: UInt, _ value: inout T) -> Int32 {
        ioctl(fd, request, &value) == 0 ? 0 : errno
    }

    /// Loads a CPUID table (KVM_SET_CPUID2 takes a header and a flexible array).
    func setCPUID(_ entries: [kvm_cpuid_entry2]) -> Int32 {
        var entries = entries
        return withFlexibleArray(kvm_cpuid2.self, &entries, count: { $0.pointee.nent = $1 }) {
            ioctl(fd, NOVABOX_KVM_SET_CPUID2, $0) == 0 ? 0 : errno
        }
    }

    /// Reads or writes MSRs (KVM_GET_MSRS/KVM_SET_MSRS: a header and a
    /// flexible array); returns how many were transferred.
    func transferMSRs(_ request: UInt, _ entries: inout [kvm_msr_entry]) -> Int {
        Int(withFlexibleArray(kvm_msrs.self, &entries, count: { $0.pointee.nmsrs = $1 }) { ioctl(fd, request, $0) })
    }

    /// Runs `call` on a zeroed buffer laid out as KVM's variable-size
    /// structures are: a `Header` whose count field `count` sets, then the
    /// entries; afterwards the entries are read back (a GET fills them).
    private func withFlexibleArray<Header, Entry>(_ header: Header.Type, _ entries: inout [Entry],
                                                  count: (UnsafeMutablePointer<Header>, UInt32) -> Void,
                                                  _ call: (UnsafeMutableRawPointer) -> Int32) -> Int32 {
        let bytes = MemoryLayout<Header>.size + entries.count * MemoryLayout<Entry>.stride
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 16)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        count(buffer.assumingMemoryBound(to: Header.self), UInt32(entries.count))
        let first = (buffer + MemoryLayout<Header>.size).assumingMemoryBound(to: Entry.self)
        for (k, e) in entries.enumerated() { first[k] = e }
        let result = call(buffer)
        for k in entries.indices { entries[k] = first[k] }
        return result
    }
}
