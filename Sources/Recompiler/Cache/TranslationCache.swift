import Glibc

/// Translated blocks, found by what their code depends on.
///
/// A block is keyed by the guest physical address of its first byte and by
/// everything the translation baked in: the EIP it starts at (its exits
/// store EIPs), the CS base and limit (static limit checks of branch
/// targets), the code size (decoding), the stack size (SS.B: PUSH, POP,
/// CALL, RET), paging on/off, the CPL (the host-TLB table its accesses
/// read), the A20 gate, and which segments are flat (their accesses skip
/// the segment checks). Its code page and that page's generation at
/// translation time are kept with it: a lookup that finds the page
/// rewritten since (self-modifying code, DMA) or routed elsewhere (PAM,
/// A20) translates again — the code-page tracking of `PhysicalMemory`,
/// shared with the interpreter's decoded-block cache.
///
/// One set-associative table reserved once: 64 Ki sets of 4 ways, 256 Ki
/// blocks, 14 MiB of zero pages that the host backs as translations land
/// in them (a BIOS-sized guest touches a few hundred KiB of it) and takes
/// back at a flush. A Linux boot runs some 10^5 distinct blocks; with 16 Ki
/// direct-mapped slots its kernel thrashed the table (a translation per
/// 50 blocks entered). A set holds a physical address's aliases (other
/// EIPs, CS bases, modes) side by side. A new block takes the way holding
/// its own stale translation, else an empty way, else the oldest
/// (the set is kept in insertion order, newest first); hits move nothing,
/// so a found block stays where the caller's pointer says until the next
/// translation into its set. An evicted block's code stays in executable
/// memory, still correct and reachable through links, until the next flush.
final class TranslationCache {
    struct Key: Equatable {
        var physical: UInt32
        var eip: UInt32
        var csBase: UInt32
        var csLimit: UInt32
        /// Bit 0: 32-bit code; bit 1: paging on; bits 2–3: CPL; bit 4: A20
        /// closed; bit 5: 32-bit stack (SS.B); from `flatSegmentsShift`
        /// on, a bit per flat segment (`BlockTranslator.flatSegments`).
        var mode: UInt32
    }

    struct Block {
        var key = Key(physical: 0, eip: 0, csBase: 0, csLimit: 0, mode: 0)
        /// Guest instructions the block holds (it may leave earlier).
        var instructionCount: Int16 = 0
        /// From the chain entry to the code after its validity check, where
        /// a predecessor on the same code page enters (`Recompiler.link`).
        var checkedEntryOffset: UInt16 = 0
        var codePage: Int32 = -1
        /// The key's CS base, limit and mode as numbered by `JumpCache.context`.
        var context: UInt32 = 0
        var generation: UInt64 = 0
        /// Entry from the dispatcher, and from a chained predecessor.
        var code: UnsafeRawPointer? = nil
        var chainEntry: UnsafeRawPointer? = nil
    }

    /// Set in the mode of every key the table holds, so the all-zero key
    /// of an empty slot (a zero page) matches no lookup's.
    private static let occupied: UInt32 = 1 << 31
    static let flatSegmentsShift: UInt32 = 6
    static let ways = 4
    static let setShift = 16
    static let slotCount = ways << setShift

    let slots: UnsafeMutablePointer<Block>
    private static let bytes = TranslationCache.slotCount * MemoryLayout<Block>.stride
    /// Blocks translated since the start, and flushes of the whole cache.
    private(set) var translations = 0
    private(set) var flushes = 0

    init() throws(ExecutableMemory.Failure) {
        guard let p = mmap(nil, TranslationCache.bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
              p != MAP_FAILED else { throw .cannotMap(TranslationCache.bytes) }
        // All-zero bytes are an empty Block (no code, a key never looked up).
        slots = p.bindMemory(to: Block.self, capacity: TranslationCache.slotCount)
    }

    deinit { munmap(slots, TranslationCache.bytes) }

    /// `key` as the table holds it.
    @inline(__always)
    private static func held(_ key: Key) -> Key {
        var k = key
        k.mode |= TranslationCache.occupied
        return k
    }

    /// The first way of the set `key` belongs to. Fibonacci hashing of the
    /// physical address and the mode.
    @inline(__always)
    private func set(_ key: Key) -> UnsafeMutablePointer<Block> {
        let hash = (key.physical ^ key.mode << 29) &* 0x9E37_79B1
        return slots + Int(hash >> UInt32(32 - TranslationCache.setShift)) * TranslationCache.ways
    }

    /// The block translated for `key`, or nil.
    @inline(__always)
    func lookup(_ key: Key) -> UnsafeMutablePointer<Block>? {
        let s = set(key), held = TranslationCache.held(key)
        for way in 0..<TranslationCache.ways where s[way].key == held { return s + way }
        return nil
    }

    func record(_ block: Block) -> UnsafeMutablePointer<Block> {
        let s = set(block.key)
        var block = block
        block.key = TranslationCache.held(block.key)
        translations += 1
        // A retranslation replaces its stale block in place.
        for way in 0..<TranslationCache.ways where s[way].key == block.key {
            s[way] = block
            return s + way
        }
        // Newest first: the others move down one way, the last one drops out.
        for way in stride(from: TranslationCache.ways - 1, to: 0, by: -1) { s[way] = s[way - 1] }
        s[0] = block
        return s
    }

    /// Empties every slot: the pages go back to the host and read as
    /// zeros again.
    func flush() {
        if madvise(slots, TranslationCache.bytes, MADV_DONTNEED) != 0 {
            slots.update(repeating: Block(), count: TranslationCache.slotCount)
        }
        flushes += 1
    }
}
