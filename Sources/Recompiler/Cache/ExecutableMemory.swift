import Glibc

/// The host memory translated blocks run from: shared anonymous memory
/// mapped twice for the life of the recompiler, filled from the bottom.
///
/// Pages are never writable and executable at once (W^X) in either
/// mapping: code runs from a read-execute view (`base`) and the recompiler
/// writes blocks and chain links through a read-write view of the same
/// pages at another address. The dual mapping replaces an mprotect pair
/// per installed block and per link, whose kernel work (VMA splits and
/// merges, TLB shootdowns) was a sixth of a Linux boot. x86 keeps its
/// instruction fetch coherent with stores through any alias, so nothing
/// needs flushing. Blocks are not freed one by one; when the region is
/// full the translation cache is dropped and the region refilled from the
/// start (`reset`) — simpler than a free list, and rare.
final class ExecutableMemory {
    /// The read-execute view: where blocks run and where their addresses point.
    let base: UnsafeMutableRawPointer
    /// The read-write view of the same pages.
    private let writable: UnsafeMutableRawPointer
    let capacity: Int
    private(set) var used = 0

    enum Failure: Error, CustomStringConvertible {
        case cannotMap(Int)
        var description: String {
            switch self { case .cannotMap(let n): return "cannot reserve \(n >> 20) MiB of host memory for translated code" }
        }
    }

    /// glibc's mremap, which Swift cannot import (it is variadic; the
    /// optional fifth argument is read only with MREMAP_FIXED, unused here):
    /// looked up by name once.
    private typealias Mremap = @convention(c) (UnsafeMutableRawPointer?, Int, Int, Int32) -> UnsafeMutableRawPointer?
    private static let mremap: Mremap? = dlsym(nil, "mremap").map { unsafeBitCast($0, to: Mremap.self) }
    private static let mayMove: Int32 = 1 // MREMAP_MAYMOVE

    /// Shared anonymous memory, viewed a second time by mremap with an old
    /// size of 0 (which maps the same pages again). Unlike a memfd's, its
    /// views show in /proc/PID/maps as anonymous (`/dev/zero (deleted)`),
    /// so `perf` names the code in them from `-perfmap`'s file.
    init(capacity: Int) throws(Failure) {
        guard let remap = ExecutableMemory.mremap,
              let w = mmap(nil, capacity, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
              w != MAP_FAILED
        else { throw .cannotMap(capacity) }
        guard let x = remap(w, 0, capacity, ExecutableMemory.mayMove), x != MAP_FAILED else {
            munmap(w, capacity)
            throw .cannotMap(capacity)
        }
        guard mprotect(x, capacity, PROT_READ | PROT_EXEC) == 0 else {
            munmap(x, capacity)
            munmap(w, capacity)
            throw .cannotMap(capacity)
        }
        writable = w
        base = x
        self.capacity = capacity
    }

    deinit {
        munmap(base, capacity)
        munmap(writable, capacity)
    }

    /// Copies `count` bytes of code in and returns where they start (in the
    /// executable view), or nil when the region has no room left (the
    /// caller flushes and retries).
    func install(_ code: UnsafePointer<UInt8>, count: Int) -> UnsafeRawPointer? {
        let start = (used + 15) & ~15 // blocks start on 16-byte boundaries, as compilers align functions
        guard start + count <= capacity else { return nil }
        (writable + start).copyMemory(from: code, byteCount: count)
        used = start + count
        return UnsafeRawPointer(base + start)
    }

    /// The writable alias of an address in the executable view.
    @inline(__always)
    private func writableAlias(of address: UnsafeRawPointer) -> UnsafeMutableRawPointer {
        writable + (UnsafeRawPointer(base).distance(to: address))
    }

    /// Points the `jmp rel32` whose displacement field is at `field` (an
    /// address in the executable view) at `target` (block chaining).
    func patchJump(field: UnsafeRawPointer, to target: UnsafeRawPointer) {
        let displacement = Int32(truncatingIfNeeded: Int(bitPattern: target) - (Int(bitPattern: field) + 4))
        patch(field: field, displacement.littleEndian)
    }

    /// Overwrites the code at `address` with a `jmp rel32` to `target`.
    func overwriteWithJump(at address: UnsafeRawPointer, to target: UnsafeRawPointer) {
        patch(field: address, UInt8(0xE9))
        patchJump(field: address + 1, to: target)
    }

    /// Stores `value` at `field` (an address in the executable view)
    /// through the writable view.
    func patch<T: FixedWidthInteger>(field: UnsafeRawPointer, _ value: T) {
        writableAlias(of: field).storeBytes(of: value, as: T.self)
    }

    /// Forgets every block (the translation cache was dropped with them).
    func reset() { used = 0 }
}
