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
/// - the physical address once per block, then after each generic
///   instruction and each data access that left the fast path (only
///   those can change it; `CPU.noteFullPathAccess`): no code write,
///   memory-map change or A20 toggle (`PhysicalMemory.codeEpoch`), and
///   with paging on, the TLB entry the next fetch would hit is still the
///   one the block came from;
/// - that EIP is where the block goes on (after generic instructions: a
///   REP instruction that stops part-way resumes itself), and the
///   interrupt shadow STI or a load of SS may have set;
/// - interrupts, stop requests and the debugger's boundary hook after
///   every instruction, as `run` and `step` do (with the hook active,
///   `run` steps, so the hook sees each boundary). Those three and the
///   full-path data access share one byte, `boundaryAttention`; with the
///   byte of what the instruction's form asks to check (`BoundaryChecks`),
///   an instruction that needs nothing costs two tests.
/// CS, CPL, paging, TF and mode changes end a block
/// (`DecodedBlockCache.endsBlock`), so the next block is looked up under
/// the new state. A block that ends in a specialized form (a near jump,
/// call or return, or a full block) changed none of that state, so when
/// the next EIP lies in the same page the next block is found from the
/// physical page already known (`BlockChain.successor`), or is the same
/// block again: a loop runs block after block without the full lookup
/// and its translation.
extension CPU {
    /// Runs decoded blocks from CS:EIP until `limit` instructions are
    /// retired or an instruction boundary needs `step` (an interrupt to
    /// deliver, TF, a halted CPU, the debugger's hook, a tracer, uncacheable code:
    /// MMIO, an instruction crossing a page end, CS:EIP that faults).
    /// Returns the instructions retired, a faulting one included; 0 means:
    /// call `step`.
    func runBlocks(limit: Int) -> Int {
        let s = state
        var done = 0
        nextLookup: while done < limit && !stopRequested {
            // A tracer sees each instruction through `step`.
            if s.pointee.eflags & EFLAGS.tf != 0 || s.pointee.halted || debugHooksActive || onInstruction != nil
                || (interruptRequested && s.pointee.eflags & EFLAGS.if != 0 && !s.pointee.interruptShadow) {
                break
            }
            var eip = UInt32(truncatingIfNeeded: s.pointee.rip)
            guard var block = blockAtInstructionPointer(eip) else { break }
            let chain = BlockChain(cpu: self, eip: eip, block: block)
            // With paging on, the fetch of every instruction would hit this
            // TLB entry (a chain never leaves its page).
            let paging = pagingEnabled
            let tlbEntry = tlb.slot(chain.linearPage)
            let tlbTag = tlbEntry.pointee.tag, tlbFrame = tlbEntry.pointee.frame
            let tlbNeed = TranslationLookasideBuffer.requirement(MemoryAccess(write: false, user: s.pointee.cpl == 3))
            let epoch = memory.codeEpoch
            // `step` clears the shadow before each instruction; here only
            // the first and those after an instruction that may set it.
            s.pointee.interruptShadow = false
            while true {
                let blockEIP = eip
                let first = blocks.pool + Int(block.pointee.first)
                let stop = first + min(Int(block.pointee.count), limit - done)
                var cached = first
                var checks: BoundaryChecks = []
                repeat {
                    currentEIP = eip
                    // No wrap to mask: see `fitsCodeSegment`.
                    let next = eip &+ UInt32(cached.pointee.instruction.length)
                    s.pointee.rip = UInt64(next)
                    do {
                        try cached.pointee.handler(self, cached)
                    } catch {
                        raise(error)
                        done += cached - first + 1
                        continue nextLookup
                    }
                    instructionCount &+= 1
                    // Read again after the call, which is cheaper than
                    // keeping it across it.
                    checks = cached.pointee.checks
                    cached += 1
                    // Only a generic instruction (it has checks) or the
                    // block's last one can leave EIP elsewhere.
                    eip = next
                    if checks.rawValue != 0 || boundaryAttention {
                        eip = UInt32(truncatingIfNeeded: s.pointee.rip)
                        let stale = checks.contains(.instructionPointer) && eip != next
                            || (checks.contains(.memoryAccess) || boundaryAttention)
                                && (memory.codeEpoch != epoch
                                    || paging && (tlbEntry.pointee.tag != tlbTag || tlbEntry.pointee.frame != tlbFrame
                                                  || tlbEntry.pointee.flags & tlbNeed != tlbNeed))
                            || boundaryAttention
                                && (stopRequested || debugHooksActive
                                    || interruptRequested && s.pointee.eflags & EFLAGS.if != 0 && !s.pointee.interruptShadow)
                        if stale {
                            done += cached - first
                            continue nextLookup
                        }
                        answerFullPathAccess()
                        if checks.contains(.interruptShadow) && cached != stop { s.pointee.interruptShadow = false }
                    }
                } while cached != stop
                eip = UInt32(truncatingIfNeeded: s.pointee.rip)
                done += cached - first
                // On to the next block without the full lookup only where
                // the outer loop would find nothing to do but that lookup.
                guard !checks.contains(.machineState), done < limit, Int(block.pointee.count) == cached - first else {
                    continue nextLookup
                }
                // A block that jumps to its own start (a tight loop) is
                // still valid: a write to its code would have ended the run.
                if eip != blockEIP {
                    guard let successor = chain.successor(at: eip, in: self) else { continue nextLookup }
                    block = successor
                }
            }
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
        let block = blocks.lookup(physical, default32: default32, codePage: codePage, memory: memory)
            ?? blocks.build(physical, default32: default32, bytes: memory.hostPointer(forReading: physical)!,
                            codePage: codePage, memory: memory)
        return fitsCodeSegment(block, eip: eip, limit: limit) ? block : nil
    }

    /// Whether the whole block at `eip` lies inside the CS limit (and, for
    /// 16-bit code, ends below 10000h, so no instruction in it moves IP
    /// past the wrap and the block loop adds lengths unmasked); otherwise
    /// `step` takes its instructions one at a time. A block of no
    /// instructions never runs.
    @inline(__always)
    func fitsCodeSegment(_ block: UnsafeMutablePointer<DecodedBlockCache.Block>, eip: UInt32, limit: UInt32) -> Bool {
        let end = UInt64(eip) + UInt64(block.pointee.length)
        return block.pointee.count > 0 && end - 1 <= UInt64(limit) && (block.pointee.default32 || end < 0x1_0000)
    }
}

/// What holds for a block and every block the block loop chains to it:
/// the same page (so the same translation and code page), the same CS
/// and the same decode mode.
struct BlockChain {
    let csBase: UInt32
    let csLimit: UInt32
    let linearPage: UInt32
    let physicalPage: UInt32
    let codePage: Int
    let default32: Bool

    @inline(__always)
    init(cpu: CPU, eip: UInt32, block: UnsafeMutablePointer<DecodedBlockCache.Block>) {
        let cs = cpu.segment(.cs)
        csBase = UInt32(truncatingIfNeeded: cs.pointee.base)
        csLimit = cs.pointee.limit
        linearPage = (csBase &+ eip) & ~0xFFF
        physicalPage = block.pointee.physical & ~0xFFF
        codePage = Int(block.pointee.codePage)
        default32 = block.pointee.default32
    }

    /// The cached block at `eip` when it lies in this chain's page, or
    /// nil: another page, not decoded yet, not inside the CS limit. The
    /// caller checked that the translation and the memory map still hold.
    @inline(__always)
    func successor(at eip: UInt32, in cpu: CPU) -> UnsafeMutablePointer<DecodedBlockCache.Block>? {
        let linear = csBase &+ eip
        guard linear & ~0xFFF == linearPage, eip <= csLimit,
              let block = cpu.blocks.lookup(physicalPage | linear & 0xFFF, default32: default32,
                                            codePage: codePage, memory: cpu.memory),
              cpu.fitsCodeSegment(block, eip: eip, limit: csLimit) else { return nil }
        return block
    }
}
