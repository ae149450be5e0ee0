import MMU

/// Decoded blocks: straight runs of guest instructions, decoded once and
/// kept, so the interpreter does not decode an instruction each time it
/// runs it (decoding costs several times what executing a simple
/// instruction does).
///
/// A block starts at a physical address and holds the instructions that
/// follow it in the same 4 KiB page, up to and including the first one
/// that transfers control or changes what the next fetch means (a mode,
/// privilege, paging or flag change: see `endsBlock`). It is keyed by the
/// physical address of its first byte and the decode mode (the CS D bit);
/// the code page it was decoded from and that page's generation are kept
/// with it, so a lookup sees a page rewritten since (self-modifying code,
/// DMA) or a changed memory map (PAM shadowing turns ROM into RAM at the
/// same address) and decodes again. What the CPU checks around a block —
/// the segment limit, the linear→physical step, interrupts — is in
/// `CPU.runBlocks` (BlockExecution.swift).
///
/// Storage is two fixed tables allocated once: a direct-mapped table of
/// block descriptors and a pool the decoded instructions are appended to,
/// each with the handler of its specialized form (SpecializedForms.swift).
/// When the pool is full the whole cache is dropped and refilled: simpler
/// than freeing single blocks, and rare (the pool holds more instructions
/// than a BIOS has).
final class DecodedBlockCache {
    struct Block {
        /// Physical address of the first byte; `empty` for an unused slot.
        var physical: UInt32 = DecodedBlockCache.empty
        var generation: UInt64 = 0
        /// Code page (PhysicalMemory numbering) the bytes came from.
        var codePage: Int32 = -1
        /// Index of the first instruction in the pool.
        var first: Int32 = 0
        /// Instructions; 0 marks an address whose first instruction cannot
        /// be cached (it crosses the page end, or it faults when decoded),
        /// so lookups stop trying to build a block there.
        var count: UInt16 = 0
        /// Bytes from the first instruction's start to the last one's end.
        var length: UInt16 = 0
        var default32: Bool = false
    }

    static let empty: UInt32 = 0xFFFF_FFFF
    /// 8192 slots: an order of magnitude more than the blocks a BIOS loop
    /// nest touches, so collisions stay rare.
    static let slotCount = 8192
    /// 64 Ki instructions (3.5 MiB, touched only as it fills).
    static let poolCapacity = 1 << 16
    /// Longest block: bounds the work a rebuild does after a code write.
    static let maximumInstructions = 64

    /// A decoded instruction as the block loop runs it: with its form's
    /// handler and what to re-check after it, side by side so that one
    /// pointer reaches all three.
    struct CachedInstruction {
        var instruction: Instruction
        var handler: FormHandler
        var checks: BoundaryChecks
    }

    let slots: UnsafeMutablePointer<Block>
    let pool: UnsafeMutablePointer<CachedInstruction>
    private var poolUsed = 0

    init() {
        slots = .allocate(capacity: DecodedBlockCache.slotCount)
        slots.initialize(repeating: Block(), count: DecodedBlockCache.slotCount)
        pool = .allocate(capacity: DecodedBlockCache.poolCapacity)
    }

    deinit {
        slots.deallocate()
        pool.deallocate()
    }

    @inline(__always)
    func slot(_ physical: UInt32, _ default32: Bool) -> UnsafeMutablePointer<Block> {
        // Fibonacci hashing spreads nearby addresses over the table.
        let key = (physical ^ (default32 ? 0x8000_0000 : 0)) &* 0x9E37_79B1
        return slots + Int(key >> 19) // 13 bits: slotCount
    }

    /// The block decoded at `physical` in this decode mode from code page
    /// `codePage` as it is now, or nil (never decoded, evicted, or the
    /// page rewritten or remapped since).
    @inline(__always)
    func lookup(_ physical: UInt32, default32: Bool, codePage: Int,
                memory: PhysicalMemory) -> UnsafeMutablePointer<Block>? {
        let block = slot(physical, default32)
        guard block.pointee.physical == physical, block.pointee.default32 == default32,
              block.pointee.codePage == Int32(codePage),
              block.pointee.generation == memory.codeGenerations[codePage] else { return nil }
        return block
    }

    /// Drops every block (RESET, or the pool is full).
    func flush() {
        for k in 0..<DecodedBlockCache.slotCount { slots[k].physical = DecodedBlockCache.empty }
        poolUsed = 0
    }

    /// Whether the CPU must look at the state again after `i` before it
    /// fetches the next instruction from the same block: control transfers
    /// (the next instruction is elsewhere), and everything that can change
    /// CS, CPL, paging, the TLB, TF or the processor mode. (Interrupts,
    /// a REP instruction resuming itself and memory-map changes are caught
    /// by the checks after every instruction.)
    static func endsBlock(_ i: Instruction) -> Bool {
        switch i.op {
        case .jcc, .jmp, .call, .ret, .loop, .loope, .loopne, .jcxz,
             .jmpFar, .callFar, .retFar, .iret, .int, .int3, .into, .int1,
             .hlt, .popf, .cpuid, .rdtsc, .rdmsr, .wrmsr, .rdpmc,
             .sldt, .str, .lldt, .ltr, .verr, .verw, .sgdt, .sidt, .lgdt, .lidt,
             .smsw, .lmsw, .invlpg, .lar, .lsl, .arpl, .clts, .invd, .wbinvd,
             .ud2, .rsm, .sysenter, .sysexit:
            return true
        case .mov:
            let a = i.operands.0.kind, b = i.operands.1.kind
            return a == .control || b == .control || a == .debug || b == .debug
        default:
            return false
        }
    }

    /// Decodes a block at `physical` from the host bytes at `bytes` (valid
    /// to the end of the page) and records it; returns its slot.
    func build(_ physical: UInt32, default32: Bool, bytes: UnsafePointer<UInt8>, codePage: Int,
               memory: PhysicalMemory) -> UnsafeMutablePointer<Block> {
        if poolUsed + DecodedBlockCache.maximumInstructions > DecodedBlockCache.poolCapacity { flush() }
        let pageOffset = Int(physical & 0xFFF)
        let room = PhysicalMemory.pageSize - pageOffset
        var length = 0, count = 0
        while count < DecodedBlockCache.maximumInstructions && length < room {
            // Bytes to the page end only: an instruction crossing it takes
            // the uncached path, which fetches from both pages.
            let i = Decoder.decode(bytes + length, count: min(room - length, Decoder.maximumLength), default32: default32)
            if i.op == .incomplete || i.op == .invalid || i.op == .tooLong { break }
            let form = SpecializedForm.form(of: i)
            (pool + poolUsed + count).initialize(to: CachedInstruction(instruction: i, handler: form.handler,
                                                                       checks: form.boundaryChecks))
            count += 1
            length += Int(i.length)
            if DecodedBlockCache.endsBlock(i) { break }
        }
        let s = slot(physical, default32)
        s.pointee = Block(physical: physical, generation: memory.codeGenerations[codePage], codePage: Int32(codePage),
                          first: Int32(poolUsed), count: UInt16(count), length: UInt16(length), default32: default32)
        poolUsed += count
        // An uncacheable first instruction watches the bytes it was decoded
        // from, so rewriting them lets the next lookup try again.
        memory.watchCode(page: codePage, offset: pageOffset,
                         count: count > 0 ? length : min(room, Decoder.maximumLength))
        return s
    }
}

extension Instruction {
    /// Whether the state that decides what the next fetch means may differ
    /// after this instruction (`DecodedBlockCache.endsBlock`): engines that
    /// cache code end their blocks here.
    public var endsCodeBlock: Bool { DecodedBlockCache.endsBlock(self) }
}
