import Glibc

/// The host memory translated blocks run from: one anonymous mapping
/// reserved for the life of the recompiler, filled from the bottom.
///
/// Pages are never writable and executable at once (W^X): a block is
/// assembled in a scratch buffer, then the pages it lands on are made
/// read-write for the copy and read-execute again. Blocks are not freed one
/// by one; when the region is full the translation cache is dropped and
/// the region refilled from the start (`reset`) — simpler than a
/// free list, and rare.
final class ExecutableMemory {
    let base: UnsafeMutableRawPointer
    let capacity: Int
    private(set) var used = 0
    private static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    enum Failure: Error, CustomStringConvertible {
        case cannotMap(Int)
        var description: String {
            switch self { case .cannotMap(let n): return "cannot reserve \(n >> 20) MiB of host memory for translated code" }
        }
    }

    init(capacity: Int) throws(Failure) {
        guard let p = mmap(nil, capacity, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
              p != MAP_FAILED else { throw .cannotMap(capacity) }
        base = p
        self.capacity = capacity
    }

    deinit { munmap(base, capacity) }

    /// Copies `count` bytes of code in and returns where they start, or nil
    /// when the region has no room left (the caller flushes and retries).
    func install(_ code: UnsafePointer<UInt8>, count: Int) -> UnsafeRawPointer? {
        let start = (used + 15) & ~15 // blocks start on 16-byte boundaries, as compilers align functions
        guard start + count <= capacity else { return nil }
        let mask = ExecutableMemory.pageSize - 1
        let first = start & ~mask, end = (start + count + mask) & ~mask
        guard mprotect(base + first, end - first, PROT_READ | PROT_WRITE) == 0 else { return nil }
        (base + start).copyMemory(from: code, byteCount: count)
        let sealed = mprotect(base + first, end - first, PROT_READ | PROT_EXEC) == 0
        precondition(sealed, "cannot make translated code executable again")
        used = start + count
        return UnsafeRawPointer(base + start)
    }

    /// Points the `jmp rel32` whose displacement field is at `field` at
    /// `target` (block chaining), with the page made writable for the
    /// write only.
    func patchJump(field: UnsafeMutableRawPointer, to target: UnsafeRawPointer) {
        let displacement = Int32(truncatingIfNeeded: Int(bitPattern: target) - (Int(bitPattern: field) + 4))
        guard field.loadUnaligned(as: Int32.self) != displacement.littleEndian else { return }
        let mask = ExecutableMemory.pageSize - 1
        let page = UnsafeMutableRawPointer(bitPattern: UInt(bitPattern: field) & ~UInt(mask))!
        let span = (UInt(bitPattern: field) & UInt(mask)) + 4 > UInt(mask) ? 2 * ExecutableMemory.pageSize : ExecutableMemory.pageSize
        guard mprotect(page, span, PROT_READ | PROT_WRITE) == 0 else { return }
        field.storeBytes(of: displacement.littleEndian, as: Int32.self)
        let sealed = mprotect(page, span, PROT_READ | PROT_EXEC) == 0
        precondition(sealed, "cannot make translated code executable again")
    }

    /// Forgets every block (the translation cache was dropped with them).
    func reset() { used = 0 }
}
