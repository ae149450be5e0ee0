import CKVM
import Glibc
import MMU

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
    /// Whether writable slots log the pages the guest writes
    /// (KVM_MEM_LOG_DIRTY_PAGES), so that caches of guest code outside KVM
    /// learn which pages changed (`collectWrittenPages`).
    let logsWrites: Bool
    /// Told the host address of each page a logged slot had written when
    /// the slot goes away (its log would go with it).
    var onWrittenPage: (UnsafeMutableRawPointer) -> Void = { _ in }
    /// One bit per page of the largest logged slot (KVM_GET_DIRTY_LOG fills it).
    private var writtenBitmap: [UInt64] = []

    /// Three pages Intel's KVM needs for its real-mode TSS and one for its
    /// identity page table, placed where PC firmware leaves a hole (as
    /// QEMU does), below the BIOS at the top of 4 GiB.
    static let tssAddress: UInt = 0xFEFF_D000
    static let identityMapAddress: UInt64 = 0xFEFF_C000

    init(system: KVMSystem, logsWrites: Bool = false) throws(KVMUnavailable) {
        self.system = system
        self.logsWrites = logsWrites
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
            try collectWrittenPages(slot: slot, onWrittenPage)
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
            r.flags = region.readOnly ? UInt32(KVM_MEM_READONLY) : logsWrites ? UInt32(KVM_MEM_LOG_DIRTY_PAGES) : 0
        }
        guard ioctl(fd, NOVABOX_KVM_SET_USER_MEMORY_REGION, &r) == 0 else {
            throw KVMUnavailable("KVM_SET_USER_MEMORY_REGION slot \(slot) failed: \(String(cString: strerror(errno)))")
        }
    }

    /// Calls `body` with the host address of every page the guest wrote
    /// through a logged slot since the last collection (KVM clears the log
    /// as it hands it over).
    func collectWrittenPages(_ body: (UnsafeMutableRawPointer) -> Void) throws(KVMUnavailable) {
        for slot in regions.indices { try collectWrittenPages(slot: slot, body) }
    }

    private func collectWrittenPages(slot: Int, _ body: (UnsafeMutableRawPointer) -> Void) throws(KVMUnavailable) {
        let region = regions[slot]
        guard logsWrites, !region.readOnly else { return }
        let pages = region.size / PhysicalMemory.pageSize
        let words = (pages + 63) / 64
        if writtenBitmap.count < words { writtenBitmap = Array(repeating: 0, count: words) }
        let result = writtenBitmap.withUnsafeMutableBufferPointer { bitmap in
            var log = kvm_dirty_log()
            log.slot = UInt32(slot)
            log.dirty_bitmap = UnsafeMutableRawPointer(bitmap.baseAddress!)
            return ioctl(fd, NOVABOX_KVM_GET_DIRTY_LOG, &log)
        }
        guard result == 0 else {
            throw KVMUnavailable("KVM_GET_DIRTY_LOG slot \(slot) failed: \(String(cString: strerror(errno)))")
        }
        for w in 0..<words where writtenBitmap[w] != 0 {
            var bits = writtenBitmap[w]
            while bits != 0 {
                body(region.host + (w * 64 + bits.trailingZeroBitCount) * PhysicalMemory.pageSize)
                bits &= bits - 1
            }
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
