/// The block loop: how `CPU.run` executes decoded blocks
/// (DecodedBlockCache.swift) instead of fetching and decoding each
/// instruction.
///
/// It must retire exactly the instructions `step` would, in the same
/// order, with the same effects, and give every instruction boundary the
/// same chances (interrupts, TF, stop requests). So each instruction gets
/// `step`'s boundary work, and what `step` re-derives for every
/// instruction is checked here only as often as it can change:
/// - the CS limit once per block (the whole block must lie inside it);
/// - the physical address once per block, then after each instruction
///   that it could not have changed: no code write, memory-map change or
///   A20 toggle (`PhysicalMemory.codeEpoch`, after instructions that
///   access memory), and with paging on, the TLB entry the next fetch
///   would hit is still the one the block came from;
/// - that EIP is where the block goes on (after generic instructions: a
///   REP instruction that stops part-way resumes itself), and the
///   interrupt shadow STI or a load of SS may have set;
/// - interrupts, stop requests and the debugger's boundary hook after
///   every instruction, as `run` and `step` do (with the hook active,
///   `run` steps, so the hook sees each boundary).
/// CS, CPL, paging, TF and mode changes end a block
/// (`DecodedBlockCache.endsBlock`), so the next block is looked up under
/// the new state.
extension CPU {
    /// Runs decoded blocks from CS:EIP until `limit` instructions are
    /// retired or an instruction boundary needs `step` (an interrupt to
    /// deliver, TF, a halted CPU, the debugger's hook, uncacheable code:
    /// MMIO, an instruction crossing a page end, CS:EIP that faults).
    /// Returns the instructions retired, a faulting one included; 0 means:
    /// call `step`.
    func runBlocks(limit: Int) -> Int {
        let s = state
        var done = 0
        nextBlock: while done < limit && !stopRequested {
            if s.pointee.eflags & EFLAGS.tf != 0 || s.pointee.halted || debugHooksActive
                || (interruptRequested && s.pointee.eflags & EFLAGS.if != 0 && !s.pointee.interruptShadow) {
                break
            }
            var eip = UInt32(truncatingIfNeeded: s.pointee.rip)
            guard let block = blockAtInstructionPointer(eip) else { break }
            let count = Int(block.pointee.count)
            let default32 = block.pointee.default32
            // With paging on, the fetch of every instruction would hit this
            // TLB entry (a block never leaves its page).
            let paging = pagingEnabled
            let tlbEntry = tlb.slot(UInt32(truncatingIfNeeded: segment(.cs).pointee.base) &+ eip)
            let tlbTag = tlbEntry.pointee.tag, tlbFrame = tlbEntry.pointee.frame
            let tlbNeed = TranslationLookasideBuffer.requirement(MemoryAccess(write: false, user: s.pointee.cpl == 3))
            let ipMask: UInt32 = default32 ? 0xFFFF_FFFF : 0xFFFF
            let epoch = memory.codeEpoch
            // Looked at once per block (a tracer attached mid-block sees
            // the next block on); testing for nil retains nothing.
            let tracing = onInstruction != nil
            let first = blocks.pool + Int(block.pointee.first)
            var cached = first
            let stop = first + min(count, limit - done)
            // `step` clears the shadow before each instruction; here only
            // the first and those after an instruction that may set it.
            s.pointee.interruptShadow = false
            while true {
                let checks = cached.pointee.checks
                currentEIP = eip
                let next = eip &+ UInt32(cached.pointee.instruction.length)
                if tracing, let trace = onInstruction { trace(eip, cached.pointee.instruction) }
                s.pointee.rip = UInt64(next & ipMask)
                let handler = cached.pointee.handler
                do {
                    try handler(self, cached)
                } catch {
                    raise(error)
                    done += cached - first + 1
                    continue nextBlock
                }
                cached += 1
                instructionCount &+= 1
                if !checks.isEmpty {
                    if checks.contains(.instructionPointer) && UInt32(truncatingIfNeeded: s.pointee.rip) != next { break }
                    if checks.contains(.codeEpoch) && memory.codeEpoch != epoch { break }
                }
                if cached == stop { break }
                if boundaryAttention {
                    if stopRequested || debugHooksActive { break }
                    if interruptRequested && s.pointee.eflags & EFLAGS.if != 0 && !s.pointee.interruptShadow { break }
                }
                if paging && (tlbEntry.pointee.tag != tlbTag || tlbEntry.pointee.frame != tlbFrame
                              || tlbEntry.pointee.flags & tlbNeed != tlbNeed) {
                    break
                }
                if checks.contains(.interruptShadow) { s.pointee.interruptShadow = false }
                eip = next
            }
            done += cached - first
        }
        return done
    }

    /// The decoded block at CS:`eip` (decoded now if it is not cached), or
    /// nil when `step` must take this instruction: CS:EIP that faults, code
    /// that cannot be cached (MMIO, an instruction crossing the page end),
    /// a block reaching past the CS limit. The translation is the one
    /// `step`'s fetch makes (TLB or walk with paging, the A20 mask).
    @inline(never)
    func blockAtInstructionPointer(_ eip: UInt32) -> UnsafeMutablePointer<DecodedBlockCache.Block>? {
        let cs = segment(.cs)
        let limit = cs.pointee.limit
        guard eip <= limit else { return nil }
        let linear = UInt32(truncatingIfNeeded: cs.pointee.base) &+ eip
        let physical: UInt32
        if pagingEnabled {
            let fetch = MemoryAccess(write: false, user: state.pointee.cpl == 3, fetch: true)
            guard let pa = try? translate(linear, fetch) else { return nil }
            physical = pa & memory.a20Mask
        } else {
            physical = linear & memory.a20Mask
        }
        guard let codePage = memory.codePage(forReading: physical) else { return nil }
        let default32 = cs.pointee.is32Bit
        var block = blocks.slot(physical, default32)
        if block.pointee.physical != physical || block.pointee.default32 != default32
            || block.pointee.codePage != Int32(codePage)
            || block.pointee.generation != memory.codeGenerations[codePage] {
            block = blocks.build(physical, default32: default32, bytes: memory.hostPointer(forReading: physical)!,
                                 codePage: codePage, memory: memory)
        }
        // The whole block inside the CS limit (and, for 16-bit code, below
        // the IP wrap), or `step` takes it one at a time.
        let end = UInt64(eip) + UInt64(block.pointee.length)
        guard block.pointee.count > 0, end - 1 <= UInt64(limit), default32 || end <= 0x1_0000 else { return nil }
        return block
    }
}
