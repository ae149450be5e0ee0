/// Translated blocks, found by what their code depends on.
///
/// A block is keyed by the guest physical address of its first byte and by
/// everything the translation baked in: the EIP it starts at (its exits
/// store EIPs), the CS base and limit (static limit checks of branch
/// targets), the code size (decoding), the stack size (SS.B: PUSH, POP,
/// CALL, RET), paging on/off, the CPL and the A20 gate (the inline RAM path exists only with paging off and masks A20
/// as the gate was). Its code page and that page's generation at
/// translation time are kept with it: a lookup that finds the page
/// rewritten since (self-modifying code, DMA) or routed elsewhere (PAM,
/// A20) translates again — the code-page tracking of `PhysicalMemory`,
/// shared with the interpreter's decoded-block cache.
///
/// One direct-mapped table allocated once; a colliding block replaces the
/// old one (whose code stays in executable memory until the next flush).
final class TranslationCache {
    struct Key: Equatable {
        var physical: UInt32
        var eip: UInt32
        var csBase: UInt32
        var csLimit: UInt32
        /// Bit 0: 32-bit code; bit 1: paging on; bits 2–3: CPL; bit 4: A20
        /// closed; bit 5: 32-bit stack (SS.B).
        var mode: UInt32
    }

    struct Block {
        var key = Key(physical: TranslationCache.empty, eip: 0, csBase: 0, csLimit: 0, mode: 0)
        var codePage: Int32 = -1
        var generation: UInt64 = 0
        /// Entry from the dispatcher, and from a chained predecessor.
        var code: UnsafeRawPointer? = nil
        var chainEntry: UnsafeRawPointer? = nil
        /// Guest instructions the block holds (it may leave earlier).
        var instructionCount: Int32 = 0
    }

    static let empty: UInt32 = 0xFFFF_FFFF
    /// 16 Ki slots: several times the blocks a BIOS and a boot loader run.
    static let slotCount = 1 << 14

    let slots: UnsafeMutablePointer<Block>
    /// Blocks translated since the start, and flushes of the whole cache.
    private(set) var translations = 0
    private(set) var flushes = 0

    init() {
        slots = .allocate(capacity: TranslationCache.slotCount)
        slots.initialize(repeating: Block(), count: TranslationCache.slotCount)
    }

    deinit { slots.deallocate() }

    @inline(__always)
    func slot(_ key: Key) -> UnsafeMutablePointer<Block> {
        // Fibonacci hashing of the physical address (aliases differ in EIP
        // but rarely coexist), 14 bits.
        let hash = (key.physical ^ key.mode << 29) &* 0x9E37_79B1
        return slots + Int(hash >> 18)
    }

    func record(_ block: Block) -> UnsafeMutablePointer<Block> {
        let s = slot(block.key)
        s.pointee = block
        translations += 1
        return s
    }

    func flush() {
        for k in 0..<TranslationCache.slotCount { slots[k].key.physical = TranslationCache.empty }
        flushes += 1
    }
}
