/// Where exits to an address known only at run time (RET, JMP r/m) find
/// their successor without the dispatcher: a small direct-mapped table
/// from a linear EIP to the chain entry of the block there, which
/// translated code reads inline.
///
/// An entry is tagged with the EIP and the block's code context (CS base
/// and limit and the mode bits of `TranslationCache.Key`, numbered once by
/// `context`), so it matches exactly the key the dispatcher would build
/// but for the physical address, and with the paging epoch the block's
/// page depends on (`CPU.pagingEpoch(forCodeAt:)`: the counter and its
/// value) when it was filled: while that holds (no TLB flush since that
/// could remap a page the dispatcher looked code up in), the linear
/// address still reaches the block's physical page. Whether that page's code is still
/// what was translated the chain entry checks, as on any chained jump. The
/// dispatcher fills an entry for each block it finds; a flush of the
/// translated code empties the table.
final class JumpCache {
    struct Entry {
        /// EIP | context << 32, or `empty`.
        var tag: UInt64
        var epoch: UInt64
        var chainEntry: UnsafeRawPointer?
        /// The counter `epoch` was read from (never read while the tag is empty).
        var epochCounter: UnsafePointer<UInt64>?
    }

    /// What a block's code depends on besides its bytes and their address.
    struct Context: Hashable {
        let csBase: UInt32
        let csLimit: UInt32
        let mode: UInt32
    }

    static let empty = UInt64.max
    /// 8 Ki entries: a kernel's hot return and indirect-jump targets.
    static let indexBits = 13
    static let entryCount = 1 << indexBits
    static let stride = MemoryLayout<Entry>.stride

    let entries: UnsafeMutablePointer<Entry>
    private var contexts: [Context: UInt32] = [:]

    init() {
        entries = .allocate(capacity: JumpCache.entryCount)
        entries.initialize(repeating: Entry(tag: JumpCache.empty, epoch: 0, chainEntry: nil, epochCounter: nil),
                           count: JumpCache.entryCount)
    }

    deinit { entries.deallocate() }

    /// The number of a code context, the same for the life of the cache.
    func context(csBase: UInt32, csLimit: UInt32, mode: UInt32) -> UInt32 {
        let c = Context(csBase: csBase, csLimit: csLimit, mode: mode)
        if let known = contexts[c] { return known }
        let number = UInt32(contexts.count)
        contexts[c] = number
        return number
    }

    static func tag(eip: UInt32, context: UInt32) -> UInt64 { UInt64(eip) | UInt64(context) << 32 }

    /// The entry for `linear`: its page number folded onto its offset, so
    /// that the same offset in different pages does not collide. (The
    /// translated lookup computes the same index.)
    @inline(__always)
    static func index(_ linear: UInt32) -> Int {
        Int((linear ^ linear >> 12) & UInt32(entryCount - 1))
    }

    @inline(__always)
    func record(linear: UInt32, tag: UInt64, epochCounter: UnsafePointer<UInt64>, chainEntry: UnsafeRawPointer) {
        entries[JumpCache.index(linear)] = Entry(tag: tag, epoch: epochCounter.pointee, chainEntry: chainEntry,
                                                 epochCounter: epochCounter)
    }

    func clear() {
        for k in 0..<JumpCache.entryCount { entries[k].tag = JumpCache.empty }
    }
}
