import CPU
import Glibc
import MMU

/// The dynamic binary translator: runs the guest as blocks of native
/// x86-64 code, with the interpreter (`CPU`) as its reference and fallback.
///
/// `run(_:)` has the contract of `CPU.run`: it executes up to `count`
/// guest instructions and does the instruction-boundary work between
/// blocks — pending interrupts, stop requests, HLT, the trap flag and the
/// budget — by handing those boundaries to `CPU.step`, which knows them.
/// A block runs only when its whole length fits the budget (otherwise the
/// interpreter takes the rest of it), so a run retires exactly the
/// instructions the interpreter would, and the machine's timer deadlines,
/// which bound the budget, hold the same. Where time follows the host's
/// clock, nothing depends on where a run ends: with `exactBudget` off, a
/// run that has retired something ends before a block that does not fit
/// (the next run takes it whole) instead of interpreting the rest. With debug hooks or an
/// instruction tracer attached, everything goes through the interpreter,
/// except when the debugger's only checks are code breakpoints
/// (`breakpoints`, BreakpointBlocks.swift).
///
/// Blocks (BlockTranslator.swift) end at control transfers, at the page
/// end, at the CS limit, at instructions that change the mode or make the
/// next one wait, and after `maximumInstructions`. They are cached
/// (TranslationCache.swift) and re-translated when the code-page tracking
/// of `PhysicalMemory` says their bytes changed; a store or interpreted
/// instruction inside a block that changes code (even the block's own)
/// makes the block leave right after it.
///
/// With paging off, a block's exits to static successors are chained: the
/// first time one returns here, its jump is pointed at the successor's
/// chain entry (`link`), so loops run without coming back. Nothing but the
/// block's own helper calls can change the machine while native code runs
/// (one thread), and those make it return when something needs this
/// loop; the chain entry checks the budget and the code's validity. A link
/// to a block on the exit's own code page enters after the validity
/// check: both were translated from the page as it is now, so neither
/// runs once it changes.
/// With paging on, where an EIP leads depends on the page tables. Exits
/// to the same linear page are chained as they are: whatever maps that
/// page maps the block that jumps and its successor alike, and a block
/// keyed by the old physical page is never entered again once the mapping
/// changes (TLB and CR3 changes end blocks, back in this loop). Exits to
/// another page are chained too, but check on the way that the CPU's
/// paging epoch still has the value it had when they were linked (no TLB
/// flush since that could remap a page this loop looked code up in —
/// `CPU.noteCodeEntry` — so the target page maps where it did; for a
/// target on a global page, only flushes that drop global translations
/// count, so MOV CR3 leaves those links alone); if not, they come back
/// here and are linked again.
public final class Recompiler {
    public let cpu: CPU
    let memory: PhysicalMemory
    let state: UnsafeMutablePointer<CPUState>
    let cache: TranslationCache
    let jumps = JumpCache()
    let code: ExecutableMemory
    let helpers = RuntimeHelpers()
    /// The watched-page store stubs, and the page of code they live in.
    let watchedStores: WatchedPageStores
    private let stubCode: ExecutableMemory

    /// Longest block. Bounds the work of a re-translation after a code write
    /// and keeps the retired count inside a helper descriptor's 8 bits.
    static let maximumInstructions = 64
    /// 256 MiB, reserved (pages are backed as blocks fill them): a Linux
    /// boot's working set of blocks, at some 500 bytes of host code each,
    /// overflowed 64 MiB six times.
    static let codeCapacity = 256 << 20
    /// The scratch buffer a block is assembled in; the translator stops
    /// adding instructions while less than `instructionReserve` is left
    /// (the longest instruction with its exits stays well inside it).
    static let scratchCapacity = 64 << 10
    static let instructionReserve = 4 << 10

    private let scratch: UnsafeMutablePointer<UInt8>
    /// The recompiler as the helpers' context argument.
    private var context: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }
    /// `codeEpoch` when the running block was entered: a change means code
    /// or the memory map changed under it.
    private var entryEpoch: UInt64 = 0
    /// What translating cost: guest instructions translated, host time spent.
    private var translatedInstructions: UInt64 = 0
    private var translationNanoseconds: UInt64 = 0

    static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// A run retires its whole budget (see the type's comment): for
    /// instruction-count time and the debugger's step counts.
    public var exactBudget = true

    /// The instruction count and the budget when the running chain was
    /// entered: with the budget left, they give the count (`syncInstructionCount`).
    private var runStart: (count: UInt64, budget: Int64) = (0, 0)

    /// Exceptions delivered from inside blocks (each counts as one step of
    /// the budget, as in `CPU.run`).
    private var exceptionsInBlocks = 0

    /// Per operation (`Op.rawValue`): instructions run through the
    /// interpreter fallback from inside blocks.
    private let fallbackTally: UnsafeMutablePointer<UInt64>
    /// Blocks entered, and instructions retired by `CPU.step` at the
    /// boundaries this engine hands over (interrupts, TF, uncacheable code).
    public private(set) var blocksRun: UInt64 = 0
    public private(set) var steppedInstructions: UInt64 = 0
    /// Guest loads and stores blocks made through the helpers (the
    /// inline path's misses: first touches, MMIO, faults, code pages).
    public private(set) var helperLoads: UInt64 = 0
    public private(set) var helperStores: UInt64 = 0

    /// (state, chain state) -> instructions the last block retired that
    /// it did not take from the budget, or `BlockTranslator.countSetByHelper`.
    typealias BlockEntry = @convention(c) (UnsafeMutableRawPointer, UnsafeMutableRawPointer) -> UInt64

    /// What chained blocks share while they run (field offsets in
    /// `BlockTranslator.chain…`).
    struct ChainState {
        /// Instructions the run may take. The first block loads it into
        /// R12, where each chain entry checks its block's length against
        /// it and each exit takes off what its block retired; stored back
        /// before each helper call and on the way out, so that the count
        /// of retired instructions is what left the budget.
        var budget: Int64 = 0
        /// The recompiler as the helpers' context argument (read by each
        /// helper call).
        var context: UnsafeMutableRawPointer? = nil
        /// The displacement field of the unchained exit jump the last block
        /// left through (0: none), for `link`.
        var lastExit: UInt = 0
        /// With paging on, that exit's recorded paging epoch, if it crosses
        /// to another page (0: it does not).
        var lastExitEpoch: UInt = 0
    }
    let chain: UnsafeMutablePointer<ChainState>
    /// Exits linked to their successor, and how many of those to the code
    /// after its validity check (on the same code page).
    public private(set) var chainedExits = 0
    public private(set) var chainedPastCheck = 0

    /// Set by a debugger whose instruction-boundary hook (`CPU.debugHooksActive`)
    /// checks nothing but code breakpoints at these addresses: blocks then
    /// stop before them and the rest stays translated. Nil: any debug hook
    /// sends the whole run to the interpreter.
    public var breakpoints: CodeBreakpointAddresses? {
        didSet { if breakpoints != oldValue { flush() } }
    }

    /// `-perfmap`: where translations are named for `perf`.
    public var perfMap: PerfMap?

    public init(cpu: CPU) throws {
        self.cpu = cpu
        memory = cpu.memory
        state = cpu.state
        code = try ExecutableMemory(capacity: Recompiler.codeCapacity)
        cache = try TranslationCache()
        stubCode = try ExecutableMemory(capacity: PhysicalMemory.pageSize)
        watchedStores = WatchedPageStores(memory: memory, code: stubCode)
        scratch = .allocate(capacity: Recompiler.scratchCapacity)
        fallbackTally = .allocate(capacity: Op.allCases.count)
        fallbackTally.initialize(repeating: 0, count: Op.allCases.count)
        chain = .allocate(capacity: 1)
        chain.initialize(to: ChainState())
    }

    deinit {
        chain.deallocate()
        scratch.deallocate()
        fallbackTally.deallocate()
    }

    /// Runs `body` on the recompiler behind a helper's context argument
    /// without retaining it: the run loop that called the block holds it
    /// for as long as any block runs, so a retain/release pair per helper
    /// call (a tenth of a Linux boot) would buy nothing.
    @inline(__always)
    static func withContext<R>(_ context: UnsafeMutableRawPointer, _ body: (Recompiler) -> R) -> R {
        Unmanaged<Recompiler>.fromOpaque(context)._withUnsafeGuaranteedRef(body)
    }

    /// Drops every translation.
    public func flush() {
        cache.flush()
        jumps.clear()
        code.reset()
    }

    // MARK: - The loop

    @discardableResult
    public func run(_ count: Int) -> Int {
        cpu.stopRequested = false
        let s = state
        var done = 0
        while done < count && !cpu.stopRequested {
            // The debugger's boundary hooks, its data watchpoints (the
            // translated accesses do not report) and tracing: the interpreter.
            if (cpu.debugHooksActive && breakpoints == nil) || cpu.dataWatchActive || cpu.onInstruction != nil {
                return done + cpu.run(count - done)
            }
            let interruptible = s.pointee.eflags & EFLAGS.if != 0
            if s.pointee.halted {
                guard cpu.interruptRequested && interruptible else { break }
            }
            // Boundaries that are the interpreter's: an interrupt to deliver
            // (or one held off by the shadow for one instruction), TF, HLT.
            if (cpu.interruptRequested && interruptible) || s.pointee.eflags & EFLAGS.tf != 0 || s.pointee.halted {
                stepOnInterpreter()
                done += 1
                continue
            }
            guard let block = blockAtInstructionPointer() else {
                done += interpretUntranslated()
                continue
            }
            if Int(block.pointee.instructionCount) > count - done {
                if exactBudget || done == 0 { done += cpu.run(count - done) }
                break
            }
            s.pointee.interruptShadow = false
            cpu.hostTLB.checkMemoryMap(memory)
            entryEpoch = memory.codeEpoch
            let countBefore = cpu.instructionCount, exceptionsBefore = exceptionsInBlocks
            let entry = unsafeBitCast(block.pointee.code!, to: BlockEntry.self)
            blocksRun &+= 1
            runStart = (cpu.instructionCount, Int64(count - done))
            chain.pointee = ChainState(budget: runStart.budget, context: context)
            let retired = entry(UnsafeMutableRawPointer(s), UnsafeMutableRawPointer(chain))
            if retired != UInt64(BlockTranslator.countSetByHelper) { cpu.instructionCount = countInChain(retiredInBlock: retired) }
            done += Int(cpu.instructionCount &- countBefore) + exceptionsInBlocks - exceptionsBefore
            if chain.pointee.lastExit != 0 {
                link(exit: chain.pointee.lastExit, epoch: cpu.pagingEnabled ? chain.pointee.lastExitEpoch : 0)
            }
        }
        return done
    }

    /// Points the exit jump whose field is at `exit` (in the block that
    /// just returned) at the block for the current CS:EIP — the exit's
    /// target, under the same CS and mode — unless translating that block
    /// flushed the cache, taking the exit's block with it. An exit to
    /// another page (`epoch`: where it keeps its recorded epoch) records
    /// the paging epoch under which the target was looked up, and which
    /// epoch: the global pages' when the target's page translates globally.
    private func link(exit: UInt, epoch: UInt) {
        let flushes = cache.flushes
        guard let successor = blockAtInstructionPointer(), cache.flushes == flushes,
              var target = successor.pointee.chainEntry,
              let field = UnsafeRawPointer(bitPattern: exit) else { return }
        // An exit to a block on its own code page may pass the successor's
        // validity check: the exit's block ran at the page's current
        // generation (a write to the page makes a block leave before its
        // next exit) and the successor was just looked up at it, so from
        // now on whatever makes one stale makes the other stale too, and a
        // stale block is entered only through its check. (Unguarded exits
        // jump over their block's code page.)
        if epoch == 0 && successor.pointee.codePage
            == (field + BlockTranslator.linkCodePageDistance).loadUnaligned(as: Int32.self) {
            target += Int(successor.pointee.checkedEntryOffset)
            chainedPastCheck += 1
        }
        if let recorded = UnsafeRawPointer(bitPattern: epoch) {
            let linear = UInt32(truncatingIfNeeded: cpu.segment(.cs).pointee.base) &+ UInt32(truncatingIfNeeded: state.pointee.rip)
            let counter = cpu.pagingEpoch(forCodeAt: linear)
            code.patch(field: recorded - BlockTranslator.linkEpochCounterDistance, UInt64(UInt(bitPattern: counter)))
            code.patch(field: recorded, counter.pointee)
        }
        code.patchJump(field: field, to: target)
        chainedExits += 1
    }

    /// The instruction at CS:EIP that no block runs. At a breakpoint
    /// (`breakpoints` set) the interpreter's `run` makes the debugger's
    /// check first, which may stop the run before it: 0 retired then.
    private func interpretUntranslated() -> Int {
        if breakpoints != nil { return cpu.run(1) }
        stepOnInterpreter()
        return 1
    }

    private func stepOnInterpreter() {
        let before = cpu.instructionCount
        cpu.step()
        steppedInstructions &+= cpu.instructionCount &- before
    }

    /// The translated block at CS:EIP (translated now if it is not cached
    /// or its code changed), or nil when the interpreter must take this
    /// instruction: CS:EIP that faults, code in MMIO, a first instruction
    /// that crosses the page end or the CS limit.
    private func blockAtInstructionPointer() -> UnsafeMutablePointer<TranslationCache.Block>? {
        let cs = cpu.segment(.cs)
        let eip = UInt32(truncatingIfNeeded: state.pointee.rip)
        let limit = cs.pointee.limit
        guard eip <= limit else { return nil }
        let csBase = UInt32(truncatingIfNeeded: cs.pointee.base)
        let linear = csBase &+ eip
        let paging = cpu.pagingEnabled
        let physical: UInt32
        if paging {
            guard let pa = codeTranslation(linear) else { return nil }
            physical = pa
        } else {
            physical = linear & memory.a20Mask
        }
        guard let codePage = memory.codePage(forReading: physical) else { return nil }
        let mode = (cs.pointee.is32Bit ? 1 : 0) | (paging ? 2 : 0) | UInt32(state.pointee.cpl & 3) << 2
            | (memory.a20Mask == 0xFFFF_FFFF ? 0 : 16) | (cpu.segment(.ss).pointee.is32Bit ? 32 : 0)
            | BlockTranslator.flatSegments { cpu.segment($0).pointee } << TranslationCache.flatSegmentsShift
        let key = TranslationCache.Key(physical: physical, eip: eip, csBase: csBase, csLimit: limit, mode: mode)
        let block: UnsafeMutablePointer<TranslationCache.Block>
        let found = cache.lookup(key)
        if let found, found.pointee.codePage == Int32(codePage)
            && found.pointee.generation == memory.codeGenerations[codePage] {
            block = found
        } else {
            let stale = found?.pointee.chainEntry, flushes = cache.flushes
            block = translate(key, codePage: codePage)
            // Blocks linked to the stale translation reach the new one
            // (unless translating flushed them all).
            if let stale, let fresh = block.pointee.chainEntry, cache.flushes == flushes {
                code.overwriteWithJump(at: stale, to: fresh)
            }
        }
        guard block.pointee.code != nil, let chainEntry = block.pointee.chainEntry else { return nil }
        // For translated RETs and indirect jumps to find it next time.
        jumps.record(linear: linear, tag: JumpCache.tag(eip: eip, context: block.pointee.context),
                     epochCounter: paging ? cpu.pagingEpoch(forCodeAt: linear) : cpu.pagingEpoch, chainEntry: chainEntry)
        return block
    }

    /// The physical address code at `linear` is fetched from, or nil (a
    /// fetch there faults: the interpreter's); noted as a page that links,
    /// jump-cache entries and blocks rely on the translation of, so that
    /// INVLPG of it raises the paging epoch.
    private func codeTranslation(_ linear: UInt32) -> UInt32? {
        let fetch = MemoryAccess(write: false, user: state.pointee.cpl == 3, fetch: true)
        guard let physical = try? cpu.physicalAddress(linear, fetch) else { return nil }
        cpu.noteCodeEntry(linear: linear)
        return physical
    }

    // MARK: - Translation

    /// Translates the block for `key` and records it (with no code when a
    /// breakpoint stops before its first instruction).
    private func translate(_ key: TranslationCache.Key, codePage: Int) -> UnsafeMutablePointer<TranslationCache.Block> {
        let started = Recompiler.monotonicNanoseconds()
        defer { translationNanoseconds &+= Recompiler.monotonicNanoseconds() &- started }
        let generation = memory.codeGenerations[codePage]
        let bytes = memory.hostPointer(forReading: key.physical)!
        let default32 = key.mode & 1 != 0
        // Decode no further than the page end, the CS limit and (16-bit
        // code) the IP wrap: what lies beyond is the interpreter's.
        let pageRoom = PhysicalMemory.pageSize - Int(key.physical & 0xFFF)
        let limitRoom = Int(UInt64(key.csLimit) - UInt64(key.eip) + 1)
        let room = min(pageRoom, limitRoom, default32 ? Int.max : 0x1_0000 - Int(key.eip))
        let ipMask: UInt32 = default32 ? 0xFFFF_FFFF : 0xFFFF
        let paging = key.mode & 2 != 0
        let context = jumps.context(csBase: key.csBase, csLimit: key.csLimit, mode: key.mode)

        var translator = BlockTranslator(emit: X86Emitter(buffer: scratch, capacity: Recompiler.scratchCapacity),
                                         helpers: helpers, csLimit: key.csLimit,
                                         stack32: key.mode & 32 != 0,
                                         memoryPath: BlockTranslator.MemoryPath(
                                            hostTLB: cpu.hostTLB.table(user: key.mode & 12 == 12),
                                            flatSegments: key.mode >> TranslationCache.flatSegmentsShift,
                                            watchedStores: watchedStores),
                                         pageGuard: paging ? BlockTranslator.PageGuard(
                                            csBase: key.csBase, linearPage: (key.csBase &+ key.eip) >> 12,
                                            epoch: cpu.pagingEpoch) : nil,
                                         validity: BlockTranslator.Validity(
                                            generation: UnsafePointer(memory.codeGenerations + codePage),
                                            expectedGeneration: generation, codePage: codePage),
                                         jumpLookup: BlockTranslator.JumpLookup(
                                            entries: UnsafeMutableRawPointer(jumps.entries), context: context,
                                            csBase: key.csBase))
        translator.beginBlock(eip: key.eip)
        /// The instruction at `offset`, the block's `index`-th, decoded, if
        /// the block takes it: under the length limit, inside `room`, no
        /// breakpoint before it, and room for its code after `pending`
        /// bytes still to come before it (the instruction being translated:
        /// one `instructionReserve`). Decoded one ahead, so that an
        /// instruction knows whether the next one overwrites its flags.
        func admitted(at offset: Int, index: Int, pending: Int) -> Instruction? {
            guard index < Recompiler.maximumInstructions, offset < room,
                  translator.emit.count + translator.coldPathRoom + pending
                    < Recompiler.scratchCapacity - Recompiler.instructionReserve else { return nil }
            if let stops = breakpoints,
               stops.stopsBefore(linear: key.csBase &+ key.eip &+ UInt32(offset), physical: key.physical &+ UInt32(offset)) {
                return nil
            }
            return Decoder.decode(bytes + offset, count: min(room - offset, 15), default32: default32)
        }
        var length = 0, count = 0, ended = false
        var nextPage: (page: Int, bytes: Int)?
        var following = admitted(at: 0, index: 0, pending: 0)
        while let i = following {
            let eip = key.eip &+ UInt32(length)
            if i.op == .incomplete {
                // A first instruction that runs past the page end is
                // translated whole (a kernel's table lookup across one ran
                // 600 000 times in a boot), checked at run time against the
                // next page (`translateAcrossPageEnd`); where it cannot be,
                // or past the CS limit or the IP wrap, the interpreter
                // fetches it anew each time, in a block that keeps it off
                // the dispatcher.
                if count == 0 {
                    let beyond = min(limitRoom, default32 ? Int.max : 0x1_0000 - Int(key.eip)) - pageRoom
                    if pageRoom < limitRoom && beyond > 0,
                       let across = translateAcrossPageEnd(key, bytes: bytes, pageRoom: pageRoom, beyond: beyond,
                                                           default32: default32, paging: paging, into: &translator) {
                        length = across.length
                        nextPage = across.page
                    } else {
                        translator.interpretAcrossPageEnd(eip: eip)
                        length = room
                    }
                    count = 1
                    ended = true
                }
                break
            }
            let next = (eip &+ UInt32(i.length)) & ipMask
            following = admitted(at: length + Int(i.length), index: count + 1, pending: Recompiler.instructionReserve)
            translator.nextOverwritesFlags = following.map { $0.op != .incomplete && BlockTranslator.overwritesFlags($0) } ?? false
            ended = translator.translate(i, eip: eip, next: next)
            length += Int(i.length)
            count += 1
            if ended { break }
        }
        translatedInstructions &+= UInt64(count)
        var block = TranslationCache.Block(key: key, instructionCount: Int16(count), codePage: Int32(codePage),
                                           context: context, generation: generation)
        if count > 0 {
            if !ended { translator.endBlock(continuingAt: (key.eip &+ UInt32(length)) & ipMask) }
            translator.finishBlock(instructionCount: count)
            if let installed = install(translator.emit.count) {
                perfMap?.record(code: installed, size: translator.emit.count, csBase: key.csBase, eip: key.eip,
                                instructions: count)
                block.code = installed + translator.entry
                block.chainEntry = installed + translator.chainEntry
                block.checkedEntryOffset = UInt16(translator.checkedEntry - translator.chainEntry)
            }
        }
        // Watch the bytes decoded (for an empty block, those the first
        // instruction would need), so rewriting them re-translates.
        memory.watchCode(page: codePage, offset: Int(key.physical & 0xFFF),
                         count: count > 0 ? min(length, room) : min(room, 15))
        if let nextPage { memory.watchCode(page: nextPage.page, offset: 0, count: nextPage.bytes) }
        return cache.record(block)
    }

    /// Translates the instruction at `key`, which runs `beyond` bytes at
    /// most past its page's end (`pageRoom` bytes in it), behind a check
    /// that the next page holds the bytes it held and (paging on) maps as
    /// it did; if the check fails the block interprets the instruction.
    /// Nil when the next page is not cacheable code (a #PF, MMIO) or the
    /// instruction does not fit: the interpreter's then.
    private func translateAcrossPageEnd(_ key: TranslationCache.Key, bytes: UnsafePointer<UInt8>, pageRoom: Int, beyond: Int,
                                        default32: Bool, paging: Bool, into translator: inout BlockTranslator)
        -> (length: Int, page: (page: Int, bytes: Int))? {
        let linear = key.csBase &+ key.eip &+ UInt32(pageRoom)
        let physical: UInt32
        if paging {
            guard let pa = codeTranslation(linear) else { return nil }
            physical = pa
        } else {
            physical = (key.physical &+ UInt32(pageRoom)) & memory.a20Mask
        }
        guard let page = memory.codePage(forReading: physical),
              let next = memory.hostPointer(forReading: physical) else { return nil }
        let count = min(15, pageRoom + beyond)
        let i = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: count) { joined in
            for k in 0..<count { joined[k] = k < pageRoom ? bytes[k] : next[k - pageRoom] }
            return Decoder.decode(joined.baseAddress!, count: count, default32: default32)
        }
        guard i.op != .incomplete, Int(i.length) > pageRoom else { return nil }
        let counter = cpu.pagingEpoch(forCodeAt: linear)
        let nextPage = BlockTranslator.NextPage(
            generation: UnsafePointer(memory.codeGenerations + page), expectedGeneration: memory.codeGenerations[page],
            mapping: paging ? BlockTranslator.NextPageRecord(epochCounter: counter, epoch: counter.pointee, physical: physical) : nil)
        let checks = translator.checkNextPage(nextPage)
        let eip = key.eip, following = (eip &+ UInt32(i.length)) & (default32 ? 0xFFFF_FFFF : 0xFFFF)
        translator.nextOverwritesFlags = false
        let ended = translator.translate(i, eip: eip, next: following)
        if !ended { translator.endBlock(continuingAt: following) }
        translator.finishNextPageChecks(checks, nextPage, eip: eip)
        return (Int(i.length), (page, Int(i.length) - pageRoom))
    }

    /// Whether the page after the one the instruction at the descriptor's
    /// EIP starts in still reaches the physical page in `record` (a block
    /// of `translateAcrossPageEnd`); if so the record takes the paging
    /// epoch it holds under now, and the block goes on translated.
    func revalidateNextPage(descriptor: UInt64, record: UnsafeRawPointer) -> Bool {
        let next = ((UInt32(truncatingIfNeeded: cpu.segment(.cs).pointee.base) &+ RuntimeHelpers.eip(descriptor)) | 0xFFF) &+ 1
        let recorded = record.loadUnaligned(as: BlockTranslator.NextPageRecord.self)
        guard let physical = codeTranslation(next), physical >> 12 == recorded.physical >> 12 else { return false }
        let counter = cpu.pagingEpoch(forCodeAt: next)
        code.patch(field: record + BlockTranslator.NextPageRecord.offset(\.epochCounter), UInt64(UInt(bitPattern: counter)))
        code.patch(field: record + BlockTranslator.NextPageRecord.offset(\.epoch), counter.pointee)
        return true
    }

    /// Copies the assembled block into executable memory, flushing the
    /// whole cache first when it is full.
    private func install(_ size: Int) -> UnsafeRawPointer? {
        if let at = code.install(scratch, count: size) { return at }
        flush()
        return code.install(scratch, count: size)
    }

    // MARK: - Helpers (called from translated code, RuntimeHelpers.swift)

    /// The CPU's count in the running chain: what left the budget
    /// (`ChainState.budget`, stored by the block before a helper call and
    /// on its way out) and `retiredInBlock` the block has not taken off it.
    @inline(__always)
    private func countInChain(retiredInBlock: UInt64) -> UInt64 {
        runStart.count &+ UInt64(runStart.budget &- chain.pointee.budget) &+ retiredInBlock
    }

    /// The CPU's count as of the helper's instruction (the descriptor holds
    /// the instructions of its block before it).
    @inline(__always)
    private func syncInstructionCount(_ descriptor: UInt64) {
        cpu.instructionCount = countInChain(retiredInBlock: RuntimeHelpers.retiredInBlock(descriptor))
    }

    /// Whether the machine wants the block to stop at this boundary: code
    /// or the memory map changed, a stop request, a deliverable interrupt.
    private var blockMustLeave: Bool {
        memory.codeEpoch != entryEpoch || cpu.stopRequested
            || (cpu.interruptRequested && state.pointee.eflags & EFLAGS.if != 0)
    }

    func loadForBlock(offset: UInt32, descriptor: UInt64) -> UInt64 {
        syncInstructionCount(descriptor)
        helperLoads &+= 1
        do {
            let segment = RuntimeHelpers.segment(descriptor), size = RuntimeHelpers.size(descriptor)
            let value = try cpu.read(segment, offset, size: size)
            cpu.fillHostTLB(segment, offset, size: size)
            return UInt64(value)
        } catch {
            exceptionsInBlocks += 1
            cpu.raise(error, instructionAt: RuntimeHelpers.eip(descriptor))
            return 1 << UInt64(RuntimeHelpers.faultBit)
        }
    }

    func storeForBlock(offset: UInt32, descriptor: UInt64, value: UInt32) -> RuntimeHelpers.StoreResult {
        syncInstructionCount(descriptor)
        helperStores &+= 1
        let segment = RuntimeHelpers.segment(descriptor), size = RuntimeHelpers.size(descriptor)
        do {
            try cpu.write(segment, offset, size: size, value: value)
            cpu.fillHostTLB(segment, offset, size: size)
        } catch {
            exceptionsInBlocks += 1
            cpu.raise(error, instructionAt: RuntimeHelpers.eip(descriptor))
            return .faulted
        }
        return blockMustLeave ? .storedLeave : .stored
    }

    /// Runs one instruction on the interpreter. Returns whether the block
    /// may go on: it retired, EIP is the next instruction's, no TLB flush
    /// raised the paging epoch, and nothing wants the block to stop.
    func interpretForBlock(descriptor: UInt64) -> Bool {
        syncInstructionCount(descriptor)
        fallbackTally[RuntimeHelpers.op(descriptor)] &+= 1
        let eip = RuntimeHelpers.eip(descriptor)
        state.pointee.rip = UInt64(eip)
        // Length 0: an instruction across a page end, which the block saw
        // only up to there; it goes on wherever the instruction went,
        // unless the instruction is one that ends blocks.
        let length = RuntimeHelpers.length(descriptor)
        var endsBlock = false
        let epoch = cpu.pagingEpoch.pointee
        guard cpu.executeInstruction(decoded: { endsBlock = length == 0 && BlockTranslator.endsBlockWhenInterpreted($0) }) else {
            exceptionsInBlocks += 1
            return false
        }
        var next = eip &+ length
        if !cpu.segment(.cs).pointee.is32Bit { next &= 0xFFFF }
        let onward = length == 0 ? !endsBlock : UInt32(truncatingIfNeeded: state.pointee.rip) == next
        // A flush (INVLPG of a page code was looked up on) may have remapped
        // the block's own page.
        return onward && !blockMustLeave && epoch == cpu.pagingEpoch.pointee
    }

    /// Delivers the #DE of a DIV/IDIV whose divisor is 0 or whose quotient
    /// does not fit (checked by the translated code, before any register
    /// changed).
    func raiseDivideErrorForBlock(descriptor: UInt64) {
        syncInstructionCount(descriptor)
        exceptionsInBlocks += 1
        cpu.raise(.divideError, instructionAt: RuntimeHelpers.eip(descriptor))
    }

    // MARK: - Report

    /// What went through the interpreter fallback from inside blocks, most
    /// frequent first.
    public var fallbackCounts: [(op: Op, count: UInt64)] {
        Op.allCases.compactMap { op in
            let n = fallbackTally[Int(op.rawValue)]
            return n > 0 ? (op, n) : nil
        }.sorted { $0.count > $1.count }
    }

    /// A few lines for a person: blocks, translations, fallbacks by
    /// operation.
    public var report: String {
        var lines = ["recompiler: \(blocksRun) blocks entered from the dispatcher, \(cache.translations) translated, "
                     + "\(chainedExits) exits chained (\(chainedPastCheck) on their own code page, past the successor's check), "
                     + "\(cache.flushes) flushes, "
                     + "\(code.used >> 10) KiB of code; \(steppedInstructions) instructions stepped at boundaries; "
                     + "\(cpu.pagingEpoch.pointee) paging epochs (TLB flushes links depend on)"]
        if translatedInstructions > 0 {
            lines.append("translation: \(translatedInstructions) guest instructions in "
                         + "\(translationNanoseconds / 1_000_000) ms (\(translationNanoseconds / translatedInstructions) ns each); "
                         + "\(blocksRun > 0 ? cpu.instructionCount / blocksRun : 0) guest instructions per dispatcher entry")
        }
        lines.append("memory helpers: \(helperLoads) loads, \(helperStores) stores")
        let fallbacks = fallbackCounts
        let total = fallbacks.reduce(0) { $0 + $1.count }
        lines.append("interpreter fallback: \(total) instructions" + (fallbacks.isEmpty ? "" : ":"))
        for (op, n) in fallbacks.prefix(20) { lines.append("  \(op == .incomplete ? "(across a page end)" : "\(op)")\t\(n)") }
        return lines.joined(separator: "\n")
    }
}
