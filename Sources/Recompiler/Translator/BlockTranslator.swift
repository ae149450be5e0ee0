import CPU
import MMU

/// Turns one straight run of guest instructions into one host function.
///
/// Same-ISA translation: a guest ALU instruction becomes the same host ALU
/// instruction on guest values loaded from `CPUState`, which lives at a
/// fixed address held in RBX for the whole block, so the host computes the
/// guest's flags exactly. Guest registers stay in `CPUState` (loaded and
/// stored around each instruction), so the guest state is exact at every
/// instruction boundary — what the interpreter fallback, the memory
/// helpers and a fault need.
///
/// Guest EFLAGS: the six arithmetic flags live in the host's RFLAGS
/// between instructions that produce and consume them; `CPUState.eflags`
/// is brought up to date (`writeBackFlags`) only where something else
/// reads it: before a helper call (the interpreter, the slow path of a
/// memory access, which may deliver an exception) and at block exits.
/// The inline memory path clobbers the host flags, so flags not yet
/// written back are set aside in R11 before it (`captureFlags`), and
/// written back from there only if the slow path is taken. `flagsInHost`
/// and `flagsPending` are that state, tracked while translating.
///
/// What is translated: MOV, ADD/OR/ADC/SBB/AND/SUB/XOR/CMP/TEST, INC/DEC
/// and the shifts and rotates (by an immediate, 1 or CL) on 8/16/32-bit
/// registers, immediates and memory; NOT, NEG, IMUL (all forms), MUL,
/// DIV, IDIV, SETcc, CMOVcc, MOVZX/MOVSX, CBW/CWD, BSWAP, XCHG, XADD,
/// CMPXCHG (the read-modify-writes with LOCK too), BT/BTS/BTR/BTC,
/// BSF/BSR, 32-bit SHLD/SHRD; LEA; NOP, PAUSE; CLC, STC, CMC, CLD, STD,
/// CLI (where it only clears IF), PUSHF; LODS, STOS, MOVS, SCAS, CMPS
/// without REP; PUSH r/m/imm, LEAVE, POP r; and the near transfers that
/// end a block: relative JMP/Jcc/CALL (exits to static successors), RET,
/// JMP r/m and CALL r/m (exits to an address known at run time). Families with
/// rules of their own live beside this file, as extensions:
/// MultiplyDivide, StringInstructions, BitInstructions,
/// ExchangeInstructions.
/// Memory operands compute the offset inline; through a segment that is
/// not flat (the block's key says which are) the segment's type and limit
/// are checked and its base added. The linear address then goes through
/// the CPU's host TLB (System/HostTLB.swift in CPU): one tag compare and
/// one addend for an access the CPU already granted on a RAM page (for
/// writes, one holding no translated code; a store to a page that holds
/// some tries `WatchedPageStores` next, which stores when it misses the
/// code's lines). Anything else calls a helper
/// (`RuntimeHelpers`) that does the full segment and paging checks (the
/// page walk, setting A/D, a #PF), MMIO and code tracking, reports a
/// fault, and fills the host TLB. Everything else calls the interpreter
/// for that one instruction.
///
/// Counting: R12 holds the instructions the run may still take (the
/// budget, in a register so that chained blocks do not wait on each
/// other's read-modify-write of a counter in memory). A chain entry
/// compares its block's length with it; an exit takes off what its block
/// retired. The instructions retired in the run are what left the budget,
/// so a helper call passes only the instructions of its block before its
/// own (in the descriptor) with the budget stored in `ChainState`, and the
/// count is exact while the helper runs. The generated function:
/// `(state, chain) -> retired`, where retired is what the last
/// block retired and did not take from the budget, or `countSetByHelper`.
/// RBX = CPUState, R15 = the `ChainState`, R12 = the budget, RBP = the host
/// TLB of the block's privilege class (one movabs per block entry instead
/// of one per access); R13/R14
/// survive helper calls (saved flags, a read-modify-write's offset); R11
/// holds guest flags set aside (and at a chain entry, the guest flags);
/// RAX, RCX, RDX, RSI, RDI, R9, R10 are scratch.
///
/// Chaining: an exit to a static successor (JMP, both ways of a Jcc,
/// running off the block's end) puts the guest flags in R11, takes its
/// retired instructions from the budget, then passes a `jmp rel32` that the
/// dispatcher later points at the successor's chain entry
/// (`Recompiler.link`); until then it falls into code that writes the
/// flags back and returns to the dispatcher, telling it where that jump is.
/// With paging on, an exit to another linear page first compares the
/// CPU's paging epoch with the one recorded when it was linked (a 64-bit
/// immediate `linkEpochDistance` bytes before the jump's field, which the
/// dispatcher patches with the link, along with which epoch: the global
/// pages' for a successor on a global page): after a TLB flush the
/// successor's page may map elsewhere, so the exit returns to the
/// dispatcher, which looks the target up again and relinks. An exit to an address known
/// only at run time (RET, JMP r/m) looks it up in the jump cache
/// (JumpCache.swift) and, on a hit, jumps to that block's chain entry.
/// A chain entry checks what the dispatcher's lookup would: the budget
/// (the block must fit in what is left), and that the block's code page
/// still has the generation it was translated from (which a change of
/// the page's route raises too); if not, it returns to the dispatcher at
/// its own first instruction. A stale block's chain entry is overwritten,
/// once its key is translated again, with a jump to the new translation's
/// (`Recompiler.translate`), so the jumps linked to it need no relinking.
/// A jump back to the block's own start is linked when it is emitted, to
/// the budget check: whatever could make the running block stale makes it
/// leave before. For the same reason the dispatcher links an exit to a
/// block on the same code page to that block's budget check (`checkedEntry`;
/// the exit's jump passes over its block's code page until then).
///
/// Block layout: the settled exit; the not-here exit; the entry (saves
/// registers, pins pointers); the chain entry (checks); the body.
struct BlockTranslator {
    typealias Register = X86Emitter.Register

    var emit: X86Emitter
    let helpers: RuntimeHelpers
    let csLimit: UInt32
    /// SS's B bit: ESP (true) or SP is the stack pointer.
    let stack32: Bool
    /// What the inline memory path needs to know.
    let memoryPath: MemoryPath
    /// With paging on: what exits to another page check; nil with paging off.
    let pageGuard: PageGuard?
    /// What the block's chain entry checks.
    let validity: Validity
    let jumpLookup: JumpLookup

    /// What exits to a run-time address need for the jump cache: its
    /// table, this block's code context (the tag's upper half) and the CS
    /// base (the table is indexed by linear address).
    struct JumpLookup {
        let entries: UnsafeMutableRawPointer
        let context: UInt32
        let csBase: UInt32
    }

    /// The block's linear page (it never crosses one) and where the CPU's
    /// paging epoch lives.
    struct PageGuard {
        let csBase: UInt32
        let linearPage: UInt32
        let epoch: UnsafePointer<UInt64>
    }

    /// What the inline memory path reads and assumes.
    struct MemoryPath {
        /// The host TLB table for the block's privilege class.
        let hostTLB: UnsafeRawPointer
        /// Bit per `SegmentRegister.rawValue`: that segment was flat when
        /// the block was keyed (`flatSegments(of:)`), and the key holds
        /// it so, so accesses through it need no segment checks.
        let flatSegments: UInt32
        /// What a store's slow path tries before the helper.
        let watchedStores: WatchedPageStores
    }

    /// Which segment caches are flat: base 0, limit 4 GiB − 1, present
    /// writable expand-up data — every offset reads and writes. A block's
    /// key records this (so the block runs only while it holds: every
    /// instruction that loads a segment register ends its block).
    @inline(__always)
    static func flatSegments(of segments: (SegmentRegister) -> SegmentDescriptorCache) -> UInt32 {
        var flat: UInt32 = 0
        for k in 0..<6 { // every SegmentRegister, without allocating `allCases` per dispatch
            let s = segments(SegmentRegister(rawValue: k)!)
            if s.base == 0 && s.limit == 0xFFFF_FFFF && s.attributes & 0x9E == 0x92 { flat |= 1 << UInt32(k) }
        }
        return flat
    }

    /// Host RFLAGS hold the guest's arithmetic flags.
    private(set) var flagsInHost = false
    /// Where flags newer than `CPUState.eflags` are, if any.
    enum PendingFlags { case none, inHost, inR11 }
    private var flagsPending = PendingFlags.none
    /// The last guest load happened with flags pending (a read-modify-write
    /// must not: its store's fault needs `CPUState.eflags` exact).
    private var loadedWithFlagsPending = false
    /// Instructions of this block retired before the one being translated
    /// (translated or interpreted): with the budget left in R12 it gives
    /// the CPU's instruction count at any point of the block.
    var retiredInBlock = 0
    /// The instruction after the one being translated is in the block and
    /// sets all six arithmetic flags without reading them, faulting or
    /// leaving (`overwritesFlags`): flags this one composes (IMUL, shifts)
    /// are never seen, and it may leave the host's as they fall.
    var nextOverwritesFlags = false
    /// Where the exit for "the state is already set" starts (a helper
    /// delivered an exception, or the interpreter ran an instruction that
    /// leaves the block).
    var settledExit = 0
    /// Where the block's entry point and chain entry are.
    private(set) var entry = 0
    private(set) var chainEntry = 0
    /// Where a jump to the block's own start enters, and that EIP.
    private var loopEntry = (offset: 0, eip: UInt32(0))
    /// Where the chain entry's validity check has passed (the loop entry).
    var checkedEntry: Int { loopEntry.offset }
    /// The budget check's immediate, known once the block is complete.
    private var budgetField = 0

    /// What a chain entry checks the block's code against: the generation
    /// of its code page (`codePage`, `PhysicalMemory`'s index) as it was
    /// when it was translated (raised by writes to the code and by changes
    /// of the routes that led to the page).
    struct Validity {
        let generation: UnsafePointer<UInt64>
        let expectedGeneration: UInt64
        let codePage: Int
    }
    /// From an unguarded exit's jump field to the code page it passes over.
    static let linkCodePageDistance = 4

    /// Field offsets of `ChainState` (Recompiler.swift).
    static let chainBudget = chainOffset(\.budget)
    static let chainContext = chainOffset(\.context)
    static let chainLastExit = chainOffset(\.lastExit)
    static let chainLastExitEpoch = chainOffset(\.lastExitEpoch)
    private static func chainOffset<T>(_ field: KeyPath<Recompiler.ChainState, T>) -> Int32 {
        Int32(MemoryLayout<Recompiler.ChainState>.offset(of: field)!)
    }
    /// From a guarded exit's recorded epoch to its jump's field: the
    /// compare, the `jne` and the `jmp` opcode between them.
    static let linkEpochDistance = 18
    /// From the epoch counter's address (the 64-bit immediate the exit
    /// loads the epoch through, which linking may point at the global
    /// pages' counter instead) to the recorded epoch.
    static let linkEpochCounterDistance = 13
    /// The recorded epoch of an exit not linked yet: never the CPU's.
    static let unlinkedEpoch = UInt64.max

    /// What a block returns when a helper set the instruction count and
    /// nothing retired after it (the settled exit); otherwise it returns
    /// the instructions it retired that are not yet taken from R12.
    static let countSetByHelper: UInt32 = 0xFFFF_FFFF
    static let arithmeticFlags: UInt32 = 0x8D5
    /// Where the flag image (R11, and R13 in a read-modify-write) keeps
    /// the guest's arithmetic flags: AX as LAHF and SETO AL leave it, so
    /// a capture is those two and a MOVZX. Bits 8–15 are EFLAGS' low
    /// byte (CF at 8, PF 10, AF 12, ZF 14, SF 15), bit 0 is OF, bits 1–7
    /// are 0. An image in EFLAGS' own layout took two more instructions
    /// per capture (moving OF to bit 11), which made a capture cost 1.2 ns
    /// instead of 0.55 on this project's AMD EPYC host, twice per
    /// iteration of a byte-copy loop.
    static func imageBits(_ eflags: UInt32) -> UInt32 {
        (eflags & 0xFF) << 8 | (eflags & EFLAGS.of != 0 ? 1 : 0)
    }
    static let imageCarryBit: UInt8 = 8
    static let gprOffset = Int32(MemoryLayout<CPUState>.offset(of: \CPUState.gpr)!)
    static let ripOffset = Int32(MemoryLayout<CPUState>.offset(of: \CPUState.rip)!)
    static let eflagsOffset = Int32(MemoryLayout<CPUState>.offset(of: \CPUState.eflags)!)
    static let cr0Offset = Int32(MemoryLayout<CPUState>.offset(of: \CPUState.cr0)!)
    static let cplOffset = Int32(MemoryLayout<CPUState>.offset(of: \CPUState.cpl)!)
    static let segmentsOffset = Int32(MemoryLayout<CPUState>.offset(of: \CPUState.segments)!)
    static let segmentStride = Int32(MemoryLayout<SegmentDescriptorCache>.stride)
    static let segmentBase = Int32(MemoryLayout<SegmentDescriptorCache>.offset(of: \SegmentDescriptorCache.base)!)
    static let segmentLimit = Int32(MemoryLayout<SegmentDescriptorCache>.offset(of: \SegmentDescriptorCache.limit)!)
    static let segmentAttributes = Int32(MemoryLayout<SegmentDescriptorCache>.offset(of: \SegmentDescriptorCache.attributes)!)
    /// Callee-saved registers the block uses; with the return address and
    /// `frameAlignment` they keep RSP 16-byte aligned at helper calls.
    static let savedRegisters: [Register] = [.rbx, .rbp, .r12, .r13, .r14, .r15]
    static let frameAlignment: Int32 = 8

    init(emit: X86Emitter, helpers: RuntimeHelpers, csLimit: UInt32, stack32: Bool, memoryPath: MemoryPath,
         pageGuard: PageGuard?, validity: Validity, jumpLookup: JumpLookup) {
        self.emit = emit
        self.validity = validity
        self.helpers = helpers
        self.csLimit = csLimit
        self.stack32 = stack32
        self.memoryPath = memoryPath
        self.pageGuard = pageGuard
        self.jumpLookup = jumpLookup
    }

    // MARK: - Block frame

    /// The exits every block shares, the entry (saves the callee-saved
    /// registers, pins the state and chain pointers and takes the budget
    /// into R12) and the chain entry's checks.
    mutating func beginBlock(eip: UInt32) {
        settledExit = emit.count
        emit.movImm32(.rax, 0)
        emit.movStore(size: 8, base: .r15, BlockTranslator.chainLastExit, .rax)
        emit.movImm32(.rax, BlockTranslator.countSetByHelper)
        epilogue()
        // Back to the dispatcher at this block's start: the budget is spent,
        // or the code is stale (the dispatcher translates it again).
        let notHere = emit.count
        flagsPending = .inR11 // the chain entry's: see below
        writeBackFlags()
        emit.movImm32(.rax, eip)
        emit.movStore(size: 8, base: .rbx, BlockTranslator.ripOffset, .rax)
        emit.movImm32(.rax, 0)
        epilogue()

        entry = emit.count
        for r in BlockTranslator.savedRegisters { emit.push(r) }
        emit.alu64(.sub, .rsp, immediate: BlockTranslator.frameAlignment)
        emit.movReg64(.rbx, .rdi)
        emit.movReg64(.r15, .rsi)
        emit.movLoad(size: 8, .r12, base: .r15, BlockTranslator.chainBudget)
        // The host TLB of the block's privilege class, for every inline
        // access of the chain: a chained jump never changes the class
        // (CPL is part of every block's key, and what changes CPL leaves
        // through the dispatcher).
        emit.movImm64(.rbp, UInt64(UInt(bitPattern: memoryPath.hostTLB)))
        loadFlagImage(into: .r11)

        // Entered from a predecessor, R11 holds the guest flags (newer
        // than CPUState's, maybe): see `chainFlags`.
        chainEntry = emit.count
        emit.movImm64(.rax, UInt64(UInt(bitPattern: validity.generation)))
        if validity.expectedGeneration <= UInt64(Int32.max) { // nearly always: one instruction less
            emit.alu64(.cmp, base: .rax, 0, immediate: Int32(validity.expectedGeneration))
        } else {
            emit.movImm64(.r10, validity.expectedGeneration)
            emit.alu(.cmp, size: 8, .r10, base: .rax, 0)
        }
        emit.jump(if: .notZero, to: notHere)
        // A jump back to this block's start comes here: whatever could make
        // the code stale while it runs makes it leave first.
        loopEntry = (emit.count, eip)
        budgetField = emit.alu64(.cmp, .r12, immediate: 0)
        emit.jump(if: .less, to: notHere)
        flagsPending = .inR11
        flagsInHost = false
    }

    /// Emits the slow paths and completes the budget check once the
    /// block's length is known.
    mutating func finishBlock(instructionCount: Int) {
        emitColdPaths()
        emit.patchInt32(at: budgetField, Int32(instructionCount))
    }

    private mutating func epilogue() {
        emit.movStore(size: 8, base: .r15, BlockTranslator.chainBudget, .r12)
        emit.alu64(.add, .rsp, immediate: BlockTranslator.frameAlignment)
        for r in BlockTranslator.savedRegisters.reversed() { emit.pop(r) }
        emit.ret()
    }

    /// Leaves the block to continue at `eip`, with `retired` translated
    /// instructions not yet counted; a `chainable` exit can later jump
    /// straight into the successor block, carrying the guest flags in R11.
    /// Its jump leads first to the code right after it, which writes the
    /// flags back and records the jump in the chain state for the
    /// dispatcher to link.
    private mutating func exit(to eip: UInt32, retired: Int, chainable: Bool = false) {
        // The code after an exit is reached from elsewhere, with the flags
        // where they are now.
        let flags = (flagsInHost, flagsPending)
        defer { (flagsInHost, flagsPending) = flags }
        guard chainable else {
            leaveUnlinked(for: .eip(eip), returning: retired)
            return
        }
        chainFlags()
        if retired > 0 { emit.alu64(.sub, .r12, immediate: Int32(retired)) }
        if eip == loopEntry.eip {
            emit.jump(to: loopEntry.offset)
            return
        }
        if let pageGuard, (pageGuard.csBase &+ eip) >> 12 != pageGuard.linearPage {
            let counter = emit.count + 2
            emit.movImm64(.rax, UInt64(UInt(bitPattern: pageGuard.epoch)))
            emit.movLoad(size: 8, .rax, base: .rax, 0)
            emit.movImm64(.r10, BlockTranslator.unlinkedEpoch)
            let recorded = emit.count - 8
            precondition(recorded - counter == BlockTranslator.linkEpochCounterDistance)
            emit.alu64(.cmp, .rax, .r10)
            let stale = emit.jump(if: .notZero)
            let link = emit.jump()
            precondition(link.fieldOffset - recorded == BlockTranslator.linkEpochDistance)
            emit.bind(link)
            emit.bind(stale)
            let epochAddress = emit.leaRIPRelative(.rax)
            emit.bind(epochAddress, toAddressOf: recorded)
            emit.movStore(size: 8, base: .r15, BlockTranslator.chainLastExitEpoch, .rax)
            recordLastExit(link)
        } else {
            // Until linked, the jump passes over this block's code page,
            // which decides where the link may enter its successor
            // (`Recompiler.link`).
            let link = emit.jump()
            emit.data(UInt64(validity.codePage), bytes: 4)
            emit.bind(link)
            if pageGuard != nil { emit.alu64(.and, base: .r15, BlockTranslator.chainLastExitEpoch, immediate: 0) }
            recordLastExit(link)
        }
        writeBackFlags()
        leave(at: eip, returning: 0)
    }

    /// The chain state's last exit ← the field of `link`'s jump.
    private mutating func recordLastExit(_ link: X86Emitter.Label) {
        let address = emit.leaRIPRelative(.rax)
        emit.bind(address, toAddressOf: link.fieldOffset)
        emit.movStore(size: 8, base: .r15, BlockTranslator.chainLastExit, .rax)
    }

    /// Returns to the dispatcher with EIP = `eip` and `retired` uncounted
    /// instructions.
    private mutating func leave(at eip: UInt32, returning retired: Int) {
        emit.movImm32(.rax, eip)
        leave(withEIPIn: .rax, returning: retired)
    }

    private mutating func leave(withEIPIn r: Register, returning retired: Int) {
        emit.movStore(size: 8, base: .rbx, BlockTranslator.ripOffset, r)
        emit.movImm32(.rax, UInt32(retired))
        epilogue()
    }

    /// Returns to the dispatcher for `next`, the flags written back and no
    /// exit for it to link.
    private mutating func leaveUnlinked(for next: Continuation, returning retired: Int) {
        let flags = (flagsInHost, flagsPending)
        defer { (flagsInHost, flagsPending) = flags }
        writeBackFlags()
        emit.movImm32(.rax, 0)
        emit.movStore(size: 8, base: .r15, BlockTranslator.chainLastExit, .rax)
        switch next {
        case .eip(let eip): leave(at: eip, returning: retired)
        case .targetInR13: leave(withEIPIn: .r13, returning: retired)
        }
    }

    /// Where a store's instruction goes on when the store asks the block to
    /// leave: a known EIP, or an indirect CALL's target, kept in R13.
    enum Continuation {
        case eip(UInt32)
        case targetInR13
    }

    /// Ends a block that ran off its end (length limit, page end).
    mutating func endBlock(continuingAt eip: UInt32) {
        exit(to: eip, retired: retiredInBlock, chainable: true)
    }

    // MARK: - Guest flags

    /// Host RFLAGS ← the guest's arithmetic flags (DF, IF, TF stay the
    /// host's own: the guest's are never loaded into the host).
    private mutating func loadFlagsIntoHost() {
        guard !flagsInHost else { return }
        if flagsPending == .inR11 {
            setHostFlags(fromImageIn: .r11)
            flagsPending = .inHost
        } else {
            loadFlagImage(into: .r10)
            setHostFlags(fromImageIn: .r10)
        }
        flagsInHost = true
    }

    /// Host CF ← the guest's, for instructions that read CF and produce the
    /// other five (INC, DEC, ADC, SBB): one BT from where CF is, instead of
    /// loading all six. (BT leaves OF, SF, AF, PF undefined; the
    /// instruction that follows sets them.)
    mutating func carryIntoHost() {
        guard !flagsInHost else { return }
        if flagsPending == .inR11 {
            emit.bitTest64(.r11, bit: BlockTranslator.imageCarryBit)
        } else {
            emit.bitTest(base: .rbx, BlockTranslator.eflagsOffset, bit: 0)
        }
    }

    /// Something clobbered the host flags; the guest's must not have been
    /// only there.
    mutating func hostFlagsClobbered() {
        precondition(flagsPending != .inHost, "guest flags lost: write them back first")
        flagsInHost = false
    }

    /// Before a jump into another block, whose chain entry expects the
    /// guest flags in R11 (one capture instead of their write-back:
    /// the successor mostly produces its own before reading any).
    mutating func chainFlags(savingRAXIn save: Register? = nil) {
        switch flagsPending {
        case .inHost: setFlagsAside(savingRAXIn: save)
        case .inR11: break
        case .none: loadFlagImage(into: .r11)
        }
        flagsPending = .inR11
    }

    /// Before code that clobbers the host flags but may not need the guest's
    /// in `CPUState` (the inline memory path): pending flags go to R11.
    /// Clobbers RAX, unless `save` is given to keep it in meanwhile.
    private mutating func setFlagsAside(savingRAXIn save: Register? = nil) {
        guard flagsPending == .inHost else { return }
        captureFlags(into: .r11, savingRAXIn: save)
        flagsPending = .inR11
    }

    /// `dst` ← the flag image (`imageBits`) of the host's six arithmetic
    /// flags, from LAHF and SETO rather than PUSHF: PUSHF is microcoded
    /// and took three times as long per capture on the AMD EPYC hosts
    /// measured, and a Linux boot captures flags around most memory
    /// accesses. Clobbers RAX (kept in `save` meanwhile when given) and
    /// the host flags.
    mutating func captureFlags(into dst: Register, savingRAXIn save: Register? = nil) {
        if let save { emit.movReg64(save, .rax) }
        emit.loadFlagsIntoAH()
        emit.setByte(ifGuestCondition: 0, .rax) // AL ← OF
        emit.zeroExtend16(dst, from: .rax)
        if let save { emit.movReg64(.rax, save) }
        flagsInHost = false
    }

    /// `dst` ← the flag image of `CPUState.eflags`. Clobbers the host flags.
    private mutating func loadFlagImage(into dst: Register) {
        emit.movLoad(size: 1, dst, base: .rbx, BlockTranslator.eflagsOffset)
        emit.shift(.shl, size: 4, dst, count: 8)
        emit.bitTest(base: .rbx, BlockTranslator.eflagsOffset, bit: 11)
        emit.setByte(ifGuestCondition: 2, dst) // bit 0 ← CF, which is OF here
    }

    /// Host OF, SF, ZF, AF, PF, CF ← those of the flag image in `image`
    /// (any register but RAX), without POPF, whose microcode costs tens
    /// of cycles: an ADD to AL (OF, 0 or 1) that overflows exactly when it
    /// is 1, then SAHF for the other five from AH. Only the flags change.
    mutating func setHostFlags(fromImageIn image: Register) {
        emit.push(.rax)
        emit.movReg32(.rax, image)
        emit.addToAL(0x7F) // 1 + 7Fh overflows, 0 + 7Fh does not
        emit.storeAHIntoFlags()
        emit.pop(.rax)
    }

    /// `CPUState.eflags` ← the guest's arithmetic flags, merged into its
    /// other bits with one 32-bit load and store: a narrower store would
    /// stall the next 32-bit read of EFLAGS (a helper's, BT for CF, the
    /// next block's entry) until it retires. Flags in the host are
    /// captured into R11 first, so the host's no longer hold them.
    /// Clobbers R9, R10, R11.
    mutating func writeBackFlags() {
        switch flagsPending {
        case .none: return
        case .inHost: captureFlags(into: .r11, savingRAXIn: .r10)
        case .inR11: break
        }
        emit.movLoad(size: 4, .r9, base: .rbx, BlockTranslator.eflagsOffset)
        emit.alu(.and, size: 4, .r9, immediate: ~BlockTranslator.arithmeticFlags)
        emit.movReg32(.r10, .r11)
        emit.shift(.shl, size: 1, .r10, count: 3)  // OF to bit 3…
        emit.shift(.rol, size: 2, .r10, count: 8)  // …and with the low byte swapped, to bit 11
        emit.alu(.and, size: 4, .r10, immediate: BlockTranslator.arithmeticFlags)
        emit.alu(.or, size: 4, .r9, .r10)
        emit.movStore(size: 4, base: .rbx, BlockTranslator.eflagsOffset, .r9)
        flagsPending = .none
    }

    /// R11 holds an image of all six guest flags just computed (where
    /// they were composed rather than left by one host instruction).
    mutating func flagsComputedInR11() {
        flagsPending = .inR11
        flagsInHost = false
    }

    /// The last host instruction computed the guest's flags.
    mutating func flagsProduced() {
        flagsInHost = true
        flagsPending = .inHost
    }

    // MARK: - Guest registers

    /// Offset in `CPUState` of the 64-bit slot holding guest register `r`
    /// of `size` bytes (AH…BH are in the first four slots).
    private func slotOffset(_ r: UInt8, size: Int) -> Int32 {
        BlockTranslator.gprOffset + Int32(size == 1 ? r & 3 : r) * 8
    }

    /// Offset of guest register `r` of `size` bytes itself (AH…BH are
    /// byte 1 of their slots).
    private func registerOffset(_ r: UInt8, size: Int) -> Int32 {
        slotOffset(r, size: size) + (size == 1 ? Int32(r >> 2) : 0)
    }

    /// `host` ← guest register `r` of `size` bytes, zero-extended. Narrower
    /// registers are loaded as all 32 bits and extended in the host
    /// register: a load of the size of the store before it is renamed
    /// to that store's register (about a cycle on the AMD hosts
    /// measured), a narrower one waits for store forwarding (about
    /// seven).
    mutating func loadGuestRegister(_ r: UInt8, size: Int, into host: Register) {
        let slot = slotOffset(r, size: size)
        switch size {
        case 4:
            emit.movLoad(size: 4, host, base: .rbx, slot)
        case 1 where r >= 4:
            guard host.rawValue < 3 else { // AH…BH has no name in the other host registers
                emit.movLoad(size: 1, host, base: .rbx, registerOffset(r, size: size))
                return
            }
            emit.movLoad(size: 4, host, base: .rbx, slot)
            emit.zeroExtendSecondByte(host)
        default:
            emit.movLoad(size: 4, host, base: .rbx, slot)
            emit.zeroExtend(size: size, host)
        }
    }

    /// A 32-bit result zero-extends into the 64-bit slot (the host register
    /// holds it zero-extended), 8/16-bit results merge into the slot in a
    /// host register. Every store to a slot is of all 8 bytes: a load
    /// wider than the store before it cannot take its value from the
    /// store buffer and waits for the store to retire (some 20 cycles on
    /// the AMD hosts measured), and guest code writes AL or BL and reads
    /// EAX or EBX right after all the time (`xor ebx, ebx; setb bl; adc
    /// esi, ebx`, byte loads in decompressors). Clobbers R9 (for AH…BH:
    /// RDX, or RCX when the value is in DL); only the move, no flags.
    mutating func storeGuestRegister(_ r: UInt8, size: Int, from host: Register) {
        let slot = slotOffset(r, size: size)
        if size == 4 {
            emit.movStore(size: 8, base: .rbx, slot, host)
        } else if size == 1 && r >= 4 {
            let merged: Register = host == .rdx ? .rcx : .rdx
            emit.movLoad(size: 8, merged, base: .rbx, slot)
            emit.movIntoSecondByte(merged, from: host)
            emit.movStore(size: 8, base: .rbx, slot, merged)
        } else {
            emit.movLoad(size: 8, .r9, base: .rbx, slot)
            emit.movPartial(size: size, .r9, host)
            emit.movStore(size: 8, base: .rbx, slot, .r9)
        }
    }

    // MARK: - Memory operands

    /// The offset of memory operand `o` (base + index·scale + disp, wrapped
    /// to the address size) into `dst`. Clobbers RAX and RCX, not flags.
    mutating func effectiveAddress(_ i: Instruction, _ o: Operand, into dst: Register) {
        let mask: UInt32 = i.addressSize == 2 ? 0xFFFF : 0xFFFF_FFFF
        let hasBase = o.kind == .memory && i.base != Instruction.noRegister
        let hasIndex = o.kind == .memory && i.index != Instruction.noRegister
        guard hasBase || hasIndex else {
            emit.movImm32(dst, i.displacement & mask)
            return
        }
        if hasBase && !hasIndex && i.displacement == 0 && i.addressSize == 4 {
            loadGuestRegister(i.base, size: 4, into: dst)
            return
        }
        if hasBase { loadGuestRegister(i.base, size: 4, into: .rax) }
        if hasIndex { loadGuestRegister(i.index, size: 4, into: .rcx) }
        emit.lea32(dst, base: hasBase ? .rax : nil, index: hasIndex ? .rcx : nil, scale: i.scale,
                   Int32(bitPattern: i.displacement))
        if i.addressSize == 2 { emit.zeroExtend16(dst) }
    }

    mutating func callHelper(_ address: UnsafeRawPointer) {
        precondition(flagsPending == .none, "a helper reads the guest flags from CPUState")
        emit.movStore(size: 8, base: .r15, BlockTranslator.chainBudget, .r12)
        emit.movLoad(size: 8, .rdi, base: .r15, BlockTranslator.chainContext)
        emit.call(address)
        flagsInHost = false
    }

    /// RAX ← `size` bytes at the offset in ESI of `segment`; a fault leaves
    /// through the settled exit (the helper delivered it).
    mutating func loadFromGuest(segment: SegmentRegister, size: Int, eip: UInt32) {
        setFlagsAside()
        loadedWithFlagsPending = flagsPending != .none
        withInlineAccess(segment: segment, size: size, write: false) { t in
            t.writeBackFlagsOnSlowPath {
                $0.emit.movImm64(.rdx, RuntimeHelpers.accessDescriptor(eip: eip, retiredInBlock: $0.retiredInBlock, segment: segment, size: size))
                $0.callHelper($0.helpers.load)
                $0.emit.bitTest64(.rax, bit: RuntimeHelpers.faultBit)
                $0.emit.jump(if: .carry, to: $0.settledExit)
            }
        }
        flagsInHost = false
    }

    /// A slow path of the inline access: flags set aside in R11 are
    /// written back before `body` (its helper may deliver an exception,
    /// and exits expect them written); where it rejoins the inline path,
    /// R11 is an image of the flags again (CPUState's, now current).
    private mutating func writeBackFlagsOnSlowPath(_ body: (inout BlockTranslator) -> Void) {
        let aside = flagsPending
        writeBackFlags()
        body(&self)
        if aside == .inR11 { loadFlagImage(into: .r11) }
        flagsPending = aside
    }

    /// Emits the inline access; `slowPath`, for what its checks turn away,
    /// goes after the block's body (`emitColdPaths`), so the inline path
    /// runs straight through.
    private mutating func withInlineAccess(segment: SegmentRegister, size: Int, write: Bool,
                                          slowPath: @escaping (inout BlockTranslator) -> Void) {
        let state = TranslationState(retiredInBlock: retiredInBlock, flagsInHost: flagsInHost, flagsPending: flagsPending,
                                     loadedWithFlagsPending: loadedWithFlagsPending)
        var checks: [X86Emitter.Label] = []
        let (tlbMiss, linear) = emitInlineAccess(segment: segment, size: size, write: write, slow: &checks)
        var watchedStore: WatchedStore?
        if write { watchedStore = WatchedStore(tlbMiss: tlbMiss, size: size, linear: linear) } else { checks.append(tlbMiss) }
        coldPaths.append(ColdPath(checks: checks, watchedStore: watchedStore, rejoin: emit.count, state: state, body: slowPath))
    }

    /// A store's host-TLB miss, which may be a watched write entry
    /// (WatchedPageStores.swift): the stub for its size is called first,
    /// with the linear address from `linear`.
    struct WatchedStore {
        let tlbMiss: X86Emitter.Label
        let size: Int
        let linear: Register
    }

    /// What a slow path's code depends on of the translator's state where
    /// its access is.
    struct TranslationState {
        let retiredInBlock: Int
        let flagsInHost: Bool
        let flagsPending: PendingFlags
        let loadedWithFlagsPending: Bool
    }

    /// A slow path waiting for the end of the body: the checks' jumps to
    /// it (a store's TLB miss tries the watched-page stub before them),
    /// where it rejoins the inline path, and the state it starts from.
    struct ColdPath {
        let checks: [X86Emitter.Label]
        let watchedStore: WatchedStore?
        let rejoin: Int
        let state: TranslationState
        let body: (inout BlockTranslator) -> Void
    }
    private var coldPaths: [ColdPath] = []
    /// Room a slow path takes at most (the longest: a store's, with the
    /// exit when it changed code); the translating loop keeps it free.
    static let coldPathReserve = 384
    var coldPathRoom: Int { coldPaths.count * BlockTranslator.coldPathReserve }

    /// The slow paths, after the body, each ending in a jump back to its
    /// inline path.
    private mutating func emitColdPaths() {
        for path in coldPaths {
            let start = emit.count
            (retiredInBlock, flagsInHost, flagsPending, loadedWithFlagsPending) =
                (path.state.retiredInBlock, path.state.flagsInHost, path.state.flagsPending, path.state.loadedWithFlagsPending)
            if let store = path.watchedStore {
                emit.bind(store.tlbMiss)
                emit.movReg32(.r9, store.linear)
                emit.call(memoryPath.watchedStores.stub(size: store.size))
                emit.jump(if: .zero, to: path.rejoin)
            }
            for check in path.checks { emit.bind(check) }
            path.body(&self)
            emit.jump(to: path.rejoin)
            precondition(emit.count - start <= BlockTranslator.coldPathReserve, "a slow path outgrew its reserve")
        }
        coldPaths = []
    }

    /// The inline access: offset in ESI; loads leave the value in RAX,
    /// stores write ECX. Clobbers RAX, RDX, R10 and the host flags.
    /// Through a flat segment the offset is the linear address; otherwise
    /// the segment's type and limit are checked and its base added. Then
    /// one host-TLB compare (the tag against the page of the access's
    /// last byte, so an access crossing the page end misses) and the
    /// entry's addend make the host address. The segment checks' jumps go
    /// to `slow`; returned are the TLB compare's (RDX then holds the
    /// entry's offset, R10 the page compared) and where the linear address
    /// is.
    private mutating func emitInlineAccess(segment: SegmentRegister, size: Int, write: Bool,
                                           slow: inout [X86Emitter.Label]) -> (tlbMiss: X86Emitter.Label, linear: Register) {
        // The linear address: the offset itself through a flat segment,
        // else (checked) base + offset in RAX.
        let flat = memoryPath.flatSegments & 1 << UInt32(segment.rawValue) != 0
        let linear: Register = flat ? .rsi : .rax
        if !flat {
            let cache = BlockTranslator.segmentsOffset + Int32(segment.rawValue) * BlockTranslator.segmentStride
            // Present, S=1, data, not expand-down (and writable for a store).
            emit.movLoad(size: 2, .rax, base: .rbx, cache + BlockTranslator.segmentAttributes)
            emit.alu(.and, size: 4, .rax, immediate: write ? 0x9E : 0x9C)
            emit.alu(.cmp, size: 4, .rax, immediate: write ? 0x92 : 0x90)
            slow.append(emit.jump(if: .notZero))
            // offset + size − 1 ≤ limit, in 64 bits (no wrap).
            emit.movReg32(.rax, .rsi)
            emit.alu64(.add, .rax, immediate: Int32(size - 1))
            emit.movLoad(size: 4, .rdx, base: .rbx, cache + BlockTranslator.segmentLimit)
            emit.alu64(.cmp, .rax, .rdx)
            slow.append(emit.jump(if: .above))
            emit.movLoad(size: 4, .rax, base: .rbx, cache + BlockTranslator.segmentBase)
            emit.alu(.add, size: 4, .rax, .rsi)
        }
        // RDX ← the entry's offset in the table (RBP).
        emit.movReg32(.rdx, linear)
        emit.shiftRight32(.rdx, by: UInt8(12 - HostTLB.entryShift))
        emit.alu(.and, size: 4, .rdx, immediate: UInt32((HostTLB.entryCount - 1) << HostTLB.entryShift))
        emit.lea32(.r10, base: linear, index: nil, scale: 0, Int32(size - 1))
        emit.alu(.and, size: 4, .r10, immediate: 0xFFFF_F000)
        let tag = write ? HostTLB.writeTagOffset : HostTLB.readTagOffset
        emit.alu(.cmp, size: 4, .r10, base: .rbp, index: .rdx, Int32(tag))
        let tlbMiss = emit.jump(if: .notZero)
        // Host address = linear + the entry's addend.
        if flat {
            emit.movLoadIndexed(size: 8, .rax, base: .rbp, index: .rdx, scale: 0, Int32(HostTLB.addendOffset))
            if write {
                emit.movStoreIndexed(size: size, base: .rax, index: .rsi, .rcx)
            } else {
                emit.movLoadIndexed(size: size, .rax, base: .rax, index: .rsi, scale: 0)
            }
        } else {
            emit.alu(.add, size: 8, .rax, base: .rbp, index: .rdx, Int32(HostTLB.addendOffset))
            if write {
                emit.movStore(size: size, base: .rax, 0, .rcx)
            } else {
                emit.movLoad(size: size, .rax, base: .rax, 0)
            }
        }
        return (tlbMiss, linear)
    }

    /// Stores the low `size` bytes of ECX at the offset in ESI of
    /// `segment`. In a read-modify-write the flags just computed belong to
    /// this instruction: they are kept aside (R13) and committed only if
    /// the store succeeds. A store that changed translated code (or wants
    /// the machine's attention) ends the block after this instruction.
    /// `afterStore` completes the instruction once the store succeeded
    /// (on both the inline and the helper path, and before a leave).
    mutating func storeToGuest(segment: SegmentRegister, size: Int, eip: UInt32, next: Continuation,
                                       readModifyWrite: Bool,
                                       afterStore: @escaping (inout BlockTranslator) -> Void = { _ in }) {
        if readModifyWrite {
            precondition(!loadedWithFlagsPending && flagsPending != .none,
                         "a read-modify-write writes the flags back before its load, and produces its own")
            if flagsPending == .inR11 {
                emit.movReg64(.r13, .r11)
            } else {
                captureFlags(into: .r13) // the value is in ECX
            }
            flagsPending = .none
        } else {
            setFlagsAside()
        }
        withInlineAccess(segment: segment, size: size, write: true) { t in
            t.writeBackFlagsOnSlowPath {
                $0.emit.movImm64(.rdx, RuntimeHelpers.accessDescriptor(eip: eip, retiredInBlock: $0.retiredInBlock, segment: segment, size: size))
                $0.callHelper($0.helpers.store)
                $0.emit.test(size: 4, .rax, .rax)
                let stored = $0.emit.jump(if: .zero)
                $0.emit.alu(.cmp, size: 4, .rax, immediate: RuntimeHelpers.StoreResult.faulted.rawValue)
                $0.emit.jump(if: .zero, to: $0.settledExit)
                afterStore(&$0)
                if readModifyWrite { $0.restoreFlagsFromR13() }
                $0.leaveUnlinked(for: next, returning: $0.retiredInBlock + 1)
                $0.emit.bind(stored)
            }
        }
        flagsInHost = false
        afterStore(&self)
        if readModifyWrite { restoreFlagsFromR13() }
    }

    /// The read-modify-write's flags, kept in R13 through the store, are
    /// the guest's now (in R11, set aside as after any memory access).
    private mutating func restoreFlagsFromR13() {
        emit.movReg64(.r11, .r13)
        flagsPending = .inR11
        flagsInHost = false
    }

    // MARK: - Instructions

    /// Emits instruction `i` at `eip` (`next`: the EIP after it). Returns
    /// true when it ended the block (its exits are emitted).
    mutating func translate(_ i: Instruction, eip: UInt32, next: UInt32) -> Bool {
        // A LOCK prefix the decoder accepted is on a lockable read-modify-write
        // of memory (anything else decodes as invalid): one CPU, and nothing
        // else touches guest memory while a block runs, so the plain
        // translation is atomic.
        switch i.op {
        case .mov where translateMove(i, eip: eip, next: next): break
        case .add, .or, .adc, .sbb, .and, .sub, .xor, .cmp, .test:
            guard translateArithmetic(i, eip: eip, next: next) else { return interpret(i, eip: eip) }
        case .inc, .dec:
            guard translateIncrement(i, eip: eip, next: next) else { return interpret(i, eip: eip) }
        case .rol, .ror, .rcl, .rcr, .shl, .sal, .shr, .sar:
            guard translateShift(i, eip: eip, next: next) else { return interpret(i, eip: eip) }
        case .lea where i.operands.0.kind == .register && i.operands.1.kind == .memory:
            effectiveAddress(i, i.operands.1, into: .rax)
            storeGuestRegister(i.operands.0.register, size: Int(i.operands.0.size), from: .rax)
        case .movzx, .movsx:
            guard translateExtension(i, eip: eip) else { return interpret(i, eip: eip) }
        case .imul where i.operands.1.kind != .none:
            guard translateSignedMultiply(i, eip: eip) else { return interpret(i, eip: eip) }
        case .mul, .imul:
            guard translateWideMultiply(i, eip: eip) else { return interpret(i, eip: eip) }
        case .div, .idiv:
            guard translateDivide(i, eip: eip) else { return interpret(i, eip: eip) }
        case .lods, .stos, .movs, .scas, .cmps:
            guard i.repeatPrefix == .none else { return interpret(i, eip: eip) }
            translateString(i, eip: eip, next: next)
        case .bswap where i.operands.0.kind == .register && i.operands.0.size == 4:
            loadGuestRegister(i.operands.0.register, size: 4, into: .rax)
            emit.byteSwap32(.rax)
            storeGuestRegister(i.operands.0.register, size: 4, from: .rax)
        case .xchg:
            guard translateExchange(i, eip: eip, next: next) else { return interpret(i, eip: eip) }
        case .bt, .bts, .btr, .btc:
            guard translateBitTest(i, eip: eip, next: next) else { return interpret(i, eip: eip) }
        case .bsf, .bsr:
            guard translateBitScan(i, eip: eip) else { return interpret(i, eip: eip) }
        case .shld, .shrd:
            guard translateDoubleShift(i, eip: eip, next: next) else { return interpret(i, eip: eip) }
        case .xadd:
            guard translateExchangeAdd(i, eip: eip, next: next) else { return interpret(i, eip: eip) }
        case .cbw, .cwd:
            // CBW/CWDE and CWD/CDQ: sign extensions, no flags.
            let size = Int(i.operandSize)
            if i.op == .cbw {
                loadGuestRegister(0, size: size / 2, into: .rax)
                emit.signExtend(size: size / 2, .rax)
                storeGuestRegister(0, size: size, from: .rax)
            } else {
                loadGuestRegister(0, size: size, into: .rax)
                emit.signExtendAccumulator(size: size)
                storeGuestRegister(2, size: size, from: .rdx)
            }
        case .cmpxchg:
            guard translateCompareExchange(i, eip: eip, next: next) else { return interpret(i, eip: eip) }
        case .pushf:
            translatePushFlags(i, eip: eip, next: next)
        case .cli:
            translateClearInterruptFlag(i, eip: eip)
        case .not, .neg:
            guard translateComplement(i, eip: eip, next: next) else { return interpret(i, eip: eip) }
        case .setcc:
            guard translateSetByte(i, eip: eip, next: next) else { return interpret(i, eip: eip) }
        case .cmov:
            guard translateConditionalMove(i, eip: eip) else { return interpret(i, eip: eip) }
        case .push:
            guard translatePush(i, eip: eip, next: next) else { return interpret(i, eip: eip) }
        case .pop:
            guard translatePop(i, eip: eip) else { return interpret(i, eip: eip) }
        case .leave:
            translateLeave(i, eip: eip)
        case .call where i.operands.0.kind == .relative:
            guard let target = relativeTarget(i, next: next) else { return interpret(i, eip: eip) }
            pushValue(next, size: Int(i.operandSize), eip: eip, continuingAt: .eip(target))
            retiredInBlock += 1
            exit(to: target, retired: retiredInBlock, chainable: true)
            return true
        case .call:
            guard translateIndirectCall(i, eip: eip, next: next) else { return interpret(i, eip: eip) }
            return true
        case .ret:
            translateReturn(i, eip: eip)
            return true
        case .nop, .pause:
            break
        case .clc, .stc, .cmc:
            loadFlagsIntoHost()
            switch i.op {
            case .clc: emit.clearCarry()
            case .stc: emit.setCarry()
            default: emit.complementCarry()
            }
            flagsProduced()
        case .cld, .std:
            // DF lives only in CPUState (the host's stays 0, as the ABI wants).
            writeBackFlags()
            emit.movLoad(size: 4, .r11, base: .rbx, BlockTranslator.eflagsOffset)
            if i.op == .cld {
                emit.alu(.and, size: 4, .r11, immediate: ~EFLAGS.df)
            } else {
                emit.alu(.or, size: 4, .r11, immediate: EFLAGS.df)
            }
            emit.movStore(size: 4, base: .rbx, BlockTranslator.eflagsOffset, .r11)
            flagsInHost = false
        case .jmp where i.operands.0.kind == .register || isMemory(i.operands.0):
            guard translateIndirectJump(i, eip: eip) else { return interpret(i, eip: eip) }
            return true
        case .jcc, .jmp:
            if let target = relativeTarget(i, next: next) {
                translateBranch(i, next: next, target: target)
                return true
            }
            return interpret(i, eip: eip)
        default:
            return interpret(i, eip: eip)
        }
        retiredInBlock += 1
        return false
    }

    /// Operand kinds a translated form takes: registers, immediates,
    /// memory (ModRM or moffs), at 1, 2 or 4 bytes.
    func isPlain(_ o: Operand) -> Bool {
        switch o.kind {
        case .register, .immediate, .memory, .absolute: return o.size == 1 || o.size == 2 || o.size == 4
        default: return false
        }
    }

    func isMemory(_ o: Operand) -> Bool { o.kind == .memory || o.kind == .absolute }

    /// Loads a register or immediate operand into `host`.
    mutating func loadSource(_ o: Operand, _ i: Instruction, into host: Register) {
        if o.kind == .register {
            loadGuestRegister(o.register, size: Int(o.size), into: host)
        } else {
            emit.movImm32(host, i.immediate)
        }
    }

    private mutating func translateMove(_ i: Instruction, eip: UInt32, next: UInt32) -> Bool {
        let dst = i.operands.0, src = i.operands.1
        guard isPlain(dst), isPlain(src), dst.kind != .immediate, dst.size == src.size else { return false }
        let size = Int(dst.size)
        if isMemory(dst) {
            effectiveAddress(i, dst, into: .rsi)
            loadSource(src, i, into: .rcx)
            storeToGuest(segment: i.segment, size: size, eip: eip, next: .eip(next), readModifyWrite: false)
        } else if isMemory(src) {
            effectiveAddress(i, src, into: .rsi)
            loadFromGuest(segment: i.segment, size: size, eip: eip)
            storeGuestRegister(dst.register, size: size, from: .rax)
        } else {
            loadSource(src, i, into: .rax)
            storeGuestRegister(dst.register, size: size, from: .rax)
        }
        return true
    }

    private static func operation(_ op: Op) -> X86Emitter.ALUOperation? {
        switch op {
        case .add: return .add
        case .or: return .or
        case .adc: return .adc
        case .sbb: return .sbb
        case .and: return .and
        case .sub: return .sub
        case .xor: return .xor
        case .cmp: return .cmp
        default: return nil
        }
    }

    /// ADD … CMP and TEST: dst ← dst op src with the host's flags.
    private mutating func translateArithmetic(_ i: Instruction, eip: UInt32, next: UInt32) -> Bool {
        let dst = i.operands.0, src = i.operands.1
        guard isPlain(dst), isPlain(src), dst.kind != .immediate, dst.size == src.size,
              !(isMemory(dst) && isMemory(src)) else { return false }
        let size = Int(dst.size)
        let operation = BlockTranslator.operation(i.op)
        let writesResult = operation != nil && operation != .cmp
        let readsCarry = operation == .adc || operation == .sbb
        if isMemory(dst) {
            if writesResult { writeBackFlags() }
            effectiveAddress(i, dst, into: .r14)
            emit.movReg32(.rsi, .r14)
            loadFromGuest(segment: i.segment, size: size, eip: eip)
            loadSource(src, i, into: .rcx)
        } else {
            if isMemory(src) {
                effectiveAddress(i, src, into: .rsi)
                loadFromGuest(segment: i.segment, size: size, eip: eip)
                emit.movReg32(.rcx, .rax)
            } else {
                loadSource(src, i, into: .rcx)
            }
            loadGuestRegister(dst.register, size: size, into: .rax)
        }
        if readsCarry { carryIntoHost() }
        if let operation { emit.alu(operation, size: size, .rax, .rcx) } else { emit.test(size: size, .rax, .rcx) }
        flagsProduced()
        guard writesResult else { return true }
        writeBack(dst, i, size: size, eip: eip, next: next)
        return true
    }

    /// The first half of a read-modify-write operand: its value into RAX,
    /// from the guest register or from memory (the address kept in R14 for
    /// `writeBack`).
    mutating func loadForUpdate(_ o: Operand, _ i: Instruction, size: Int, eip: UInt32) {
        if isMemory(o) {
            writeBackFlags()
            effectiveAddress(i, o, into: .r14)
            emit.movReg32(.rsi, .r14)
            loadFromGuest(segment: i.segment, size: size, eip: eip)
        } else {
            loadGuestRegister(o.register, size: size, into: .rax)
        }
    }

    /// The second half: RAX back to the operand `loadForUpdate` read.
    /// `committingFlags`: the instruction produced flags, committed only if
    /// the store succeeds (`storeToGuest`'s read-modify-write).
    mutating func writeBack(_ o: Operand, _ i: Instruction, size: Int, eip: UInt32, next: UInt32,
                                    committingFlags: Bool = true) {
        if isMemory(o) {
            emit.movReg32(.rsi, .r14)
            emit.movReg32(.rcx, .rax)
            storeToGuest(segment: i.segment, size: size, eip: eip, next: .eip(next), readModifyWrite: committingFlags)
        } else {
            storeGuestRegister(o.register, size: size, from: .rax)
        }
    }

    /// INC/DEC: CF comes from the guest, the other five from the host.
    private mutating func translateIncrement(_ i: Instruction, eip: UInt32, next: UInt32) -> Bool {
        let o = i.operands.0
        guard isPlain(o), o.kind != .immediate else { return false }
        let size = Int(o.size)
        loadForUpdate(o, i, size: size, eip: eip)
        carryIntoHost()
        emit.incrementOrDecrement(decrement: i.op == .dec, size: size, .rax)
        flagsProduced()
        writeBack(o, i, size: size, eip: eip, next: next)
        return true
    }

    private static func shiftOperation(_ op: Op) -> X86Emitter.ShiftOperation? {
        switch op {
        case .rol: return .rol
        case .ror: return .ror
        case .rcl: return .rcl
        case .rcr: return .rcr
        case .shl, .sal: return .shl
        case .shr: return .shr
        case .sar: return .sar
        default: return nil
        }
    }

    /// Shifts and rotates by an immediate, by 1 or by CL. The guest's flags
    /// go into the host first: a count of 0 leaves them as they were, and
    /// RCL/RCR rotate through CF.
    private mutating func translateShift(_ i: Instruction, eip: UInt32, next: UInt32) -> Bool {
        let o = i.operands.0, count = i.operands.1
        guard let operation = BlockTranslator.shiftOperation(i.op), isPlain(o), o.kind != .immediate else { return false }
        let byCL = count.kind == .register && count.register == 1 && count.size == 1
        guard byCL || count.kind == .immediate || count.kind == .constant else { return false }
        let size = Int(o.size)
        loadForUpdate(o, i, size: size, eip: eip)
        if byCL { loadGuestRegister(1, size: 1, into: .rcx) }
        let immediateCount = count.kind == .constant ? count.register : UInt8(truncatingIfNeeded: i.immediate)
        let shift = operation == .shl || operation == .shr || operation == .sar
        // A shift by a count known not to be 0 sets all six flags; anything
        // else may keep some of the guest's.
        if !(shift && !byCL && immediateCount & 0x1F != 0) { loadFlagsIntoHost() }
        if byCL {
            emit.shiftByCL(operation, size: size, .rax)
        } else {
            emit.shift(operation, size: size, .rax, count: immediateCount)
        }
        // AF after a shift is undefined; the reference (the interpreter,
        // after the P6) clears it when the count is not 0, where this
        // host may set it: the flags go to R11 and lose AF there. Rotates
        // leave AF alone on both.
        // (Unless the next instruction overwrites them all: then nothing
        // sees them, and they stay as they fall.)
        if shift && (byCL || immediateCount & 0x1F != 0) && !(nextOverwritesFlags && !isMemory(o)) {
            captureFlags(into: .r11, savingRAXIn: .r9)
            var countZero: X86Emitter.Label?
            if byCL {
                emit.test(size: 1, .rcx, immediate: 0x1F)
                countZero = emit.jump(if: .zero)
            }
            emit.alu(.and, size: 4, .r11, immediate: ~BlockTranslator.imageBits(EFLAGS.af))
            if let countZero { emit.bind(countZero) }
            flagsPending = .inR11
            flagsInHost = false
        } else {
            flagsProduced()
        }
        writeBack(o, i, size: size, eip: eip, next: next)
        return true
    }

    /// MOVZX/MOVSX r, r/m8 or r/m16.
    private mutating func translateExtension(_ i: Instruction, eip: UInt32) -> Bool {
        let dst = i.operands.0, src = i.operands.1
        guard dst.kind == .register, isPlain(src), src.kind != .immediate, src.size < dst.size else { return false }
        let size = Int(src.size)
        if isMemory(src) {
            effectiveAddress(i, src, into: .rsi)
            loadFromGuest(segment: i.segment, size: size, eip: eip)
        } else {
            loadGuestRegister(src.register, size: size, into: .rax)
        }
        if i.op == .movsx { emit.signExtend(size: size, .rax) }
        storeGuestRegister(dst.register, size: Int(dst.size), from: .rax)
        return true
    }

    /// The value of r/m operand `o` into RAX (a memory operand through the
    /// load path, which may leave the block on a fault).
    mutating func loadRegisterOrMemory(_ i: Instruction, _ o: Operand, eip: UInt32) {
        if isMemory(o) {
            effectiveAddress(i, o, into: .rsi)
            loadFromGuest(segment: i.segment, size: Int(o.size), eip: eip)
        } else {
            loadGuestRegister(o.register, size: Int(o.size), into: .rax)
        }
    }

    /// IMUL r, r/m and IMUL r, r/m, imm. CF and OF come from the host; SF,
    /// ZF and PF (undefined) follow the reference: from the truncated
    /// product, with AF = 0 — a TEST of the product gives exactly those.
    private mutating func translateSignedMultiply(_ i: Instruction, eip: UInt32) -> Bool {
        let dst = i.operands.0
        let threeOperand = i.operands.2.kind != .none
        let a = threeOperand ? i.operands.1 : dst, b = threeOperand ? i.operands.2 : i.operands.1
        guard dst.kind == .register, dst.size == 2 || dst.size == 4, isPlain(a), isPlain(b), a.kind != .immediate,
              !(isMemory(a) && isMemory(b)) else { return false }
        let size = Int(dst.size)
        if isMemory(b) {
            loadRegisterOrMemory(i, b, eip: eip)
            emit.movReg32(.rcx, .rax)
            loadRegisterOrMemory(i, a, eip: eip)
        } else {
            loadRegisterOrMemory(i, a, eip: eip)
            loadSource(b, i, into: .rcx)
        }
        emit.signedMultiply(size: size, .rax, .rcx)
        if nextOverwritesFlags {
            flagsProduced() // as they fall: nothing sees them
        } else {
            emit.movImm32(.r10, 0) // MOV leaves the flags alone
            emit.setByte(ifGuestCondition: 0, .r10) // OF, which equals CF
            // SF, ZF, PF of the result, AF clear (TEST's), CF and OF of the multiply.
            emit.test(size: size, .rax, .rax)
            captureFlags(into: .r11, savingRAXIn: .rcx)
            emit.alu(.or, size: 4, .r11, .r10)
            emit.shift(.shl, size: 4, .r10, count: BlockTranslator.imageCarryBit)
            emit.alu(.or, size: 4, .r11, .r10)
            flagsComputedInR11()
        }
        storeGuestRegister(dst.register, size: size, from: .rax)
        return true
    }

    /// NOT (flags untouched) and NEG (all six from the host).
    private mutating func translateComplement(_ i: Instruction, eip: UInt32, next: UInt32) -> Bool {
        let o = i.operands.0
        guard isPlain(o), o.kind != .immediate else { return false }
        let size = Int(o.size), negate = i.op == .neg
        loadForUpdate(o, i, size: size, eip: eip)
        emit.complement(negate: negate, size: size, .rax)
        if negate { flagsProduced() }
        // NOT's store must not commit flags it did not produce: with no
        // flags of its own, the plain store path applies.
        writeBack(o, i, size: size, eip: eip, next: next, committingFlags: negate)
        return true
    }

    /// SETcc r/m8.
    private mutating func translateSetByte(_ i: Instruction, eip: UInt32, next: UInt32) -> Bool {
        let o = i.operands.0
        guard isPlain(o), o.kind != .immediate, o.size == 1 else { return false }
        if isMemory(o) { effectiveAddress(i, o, into: .rsi) }
        loadFlagsIntoHost()
        emit.movImm32(.rcx, 0)
        emit.setByte(ifGuestCondition: i.condition, .rcx)
        if isMemory(o) {
            storeToGuest(segment: i.segment, size: 1, eip: eip, next: .eip(next), readModifyWrite: false)
        } else {
            storeGuestRegister(o.register, size: 1, from: .rcx)
        }
        return true
    }

    /// CMOVcc r, r/m: the source is read (and may fault) whatever the
    /// condition; the destination is written back either way, which
    /// changes nothing when the condition fails.
    private mutating func translateConditionalMove(_ i: Instruction, eip: UInt32) -> Bool {
        let dst = i.operands.0, src = i.operands.1
        guard dst.kind == .register, dst.size == 2 || dst.size == 4, isPlain(src), src.kind != .immediate,
              src.size == dst.size else { return false }
        let size = Int(dst.size)
        loadRegisterOrMemory(i, src, eip: eip)
        emit.movReg32(.rcx, .rax)
        loadGuestRegister(dst.register, size: size, into: .rax)
        loadFlagsIntoHost()
        emit.moveIf(guestCondition: i.condition, size: size, .rax, .rcx)
        storeGuestRegister(dst.register, size: size, from: .rax)
        return true
    }

    // MARK: - String instructions (without REP: a REP runs on the interpreter, which has its own fast path)

    /// PUSHF: the flags image (RF cleared; VM is 0 here). In virtual-8086
    /// mode, where IOPL and VME decide, the interpreter takes it.
    private mutating func translatePushFlags(_ i: Instruction, eip: UInt32, next: UInt32) {
        let size = Int(i.operandSize)
        writeBackFlags()
        emit.movLoad(size: 4, .rax, base: .rbx, BlockTranslator.eflagsOffset)
        emit.test(size: 4, .rax, immediate: EFLAGS.vm)
        flagsInHost = false
        let virtual8086 = emit.jump(if: .notZero)
        pushRegisterValue(size: size, eip: eip, continuingAt: .eip(next)) { t in
            t.emit.movLoad(size: 4, .rcx, base: .rbx, BlockTranslator.eflagsOffset)
            t.emit.alu(.and, size: 4, .rcx, immediate: ~EFLAGS.rf)
        }
        let done = emit.jump()
        emit.bind(virtual8086)
        interpretAndLeave(i, eip: eip)
        emit.bind(done)
    }

    /// CLI where it simply clears IF: real mode, or protected mode (not
    /// virtual-8086) with CPL ≤ IOPL. Anything else (#GP, VIF) is the
    /// interpreter's.
    private mutating func translateClearInterruptFlag(_ i: Instruction, eip: UInt32) {
        writeBackFlags()
        flagsInHost = false
        emit.movLoad(size: 4, .rax, base: .rbx, BlockTranslator.cr0Offset)
        emit.test(size: 4, .rax, immediate: 1)
        let realMode = emit.jump(if: .zero)
        emit.movLoad(size: 4, .rax, base: .rbx, BlockTranslator.eflagsOffset)
        emit.test(size: 4, .rax, immediate: EFLAGS.vm)
        let virtual8086 = emit.jump(if: .notZero)
        emit.shiftRight32(.rax, by: 12)
        emit.alu(.and, size: 4, .rax, immediate: 3)
        emit.movLoad(size: 1, .rcx, base: .rbx, BlockTranslator.cplOffset)
        emit.alu(.cmp, size: 4, .rcx, .rax)
        let aboveIOPL = emit.jump(if: .above)
        emit.bind(realMode)
        emit.movLoad(size: 4, .r11, base: .rbx, BlockTranslator.eflagsOffset)
        emit.alu(.and, size: 4, .r11, immediate: ~EFLAGS.if)
        emit.movStore(size: 4, base: .rbx, BlockTranslator.eflagsOffset, .r11)
        let done = emit.jump()
        emit.bind(virtual8086)
        emit.bind(aboveIOPL)
        interpretAndLeave(i, eip: eip)
        emit.bind(done)
    }

    /// Runs `i` on the interpreter and leaves the block with the state it
    /// left: the path of a translated form for the cases it leaves to the
    /// reference (the guest flags are already in `CPUState`).
    private mutating func interpretAndLeave(_ i: Instruction, eip: UInt32) {
        emit.movImm64(.rsi, RuntimeHelpers.fallbackDescriptor(eip: eip, retiredInBlock: retiredInBlock, length: Int(i.length), op: i.op))
        callHelper(helpers.interpret)
        emit.jump(to: settledExit)
    }

    // MARK: - The stack (SS's B bit is part of the block's key)

    /// (E)SP ← the value in `host` (zero-extended in it).
    private mutating func storeStackPointer(from host: Register) {
        storeGuestRegister(4, size: stack32 ? 4 : 2, from: host)
    }

    /// `host` ← (E)SP + `delta`, wrapped to the stack's width.
    private mutating func stackPointer(plus delta: Int32, into host: Register) {
        loadGuestRegister(4, size: stack32 ? 4 : 2, into: .rax)
        emit.lea32(host, base: .rax, index: nil, scale: 0, delta)
        if !stack32 { emit.zeroExtend16(host) }
    }

    /// Pushes ECX (loaded by `loadValue`): the store first, (E)SP after it,
    /// so a fault leaves (E)SP as it was. `continuingAt`: where the guest
    /// goes on if the store makes the block leave.
    private mutating func pushRegisterValue(size: Int, eip: UInt32, continuingAt next: Continuation,
                                            loadValue: (inout BlockTranslator) -> Void) {
        stackPointer(plus: -Int32(size), into: .r14)
        loadValue(&self)
        emit.movReg32(.rsi, .r14)
        storeToGuest(segment: .ss, size: size, eip: eip, next: next, readModifyWrite: false) { t in
            t.storeStackPointer(from: .r14)
        }
    }

    private mutating func pushValue(_ value: UInt32, size: Int, eip: UInt32, continuingAt next: Continuation) {
        pushRegisterValue(size: size, eip: eip, continuingAt: next) { t in t.emit.movImm32(.rcx, value) }
    }

    /// PUSH r16/r32 and PUSH imm (PUSH ESP pushes the value before).
    private mutating func translatePush(_ i: Instruction, eip: UInt32, next: UInt32) -> Bool {
        let o = i.operands.0, size = Int(i.operandSize)
        switch o.kind {
        case .register where Int(o.size) == size:
            pushRegisterValue(size: size, eip: eip, continuingAt: .eip(next)) { t in
                t.loadGuestRegister(o.register, size: size, into: .rcx)
            }
        case .immediate:
            pushValue(i.immediate, size: size, eip: eip, continuingAt: .eip(next))
        case .memory where Int(o.size) == size, .absolute where Int(o.size) == size:
            // The source is read (with ESP as it was) before the stack is written.
            pushRegisterValue(size: size, eip: eip, continuingAt: .eip(next)) { t in
                t.loadRegisterOrMemory(i, o, eip: eip)
                t.emit.movReg32(.rcx, .rax)
            }
        default:
            return false
        }
        return true
    }

    /// POP r16/r32: the load first; then (E)SP, then the register (POP ESP
    /// ends with the popped value).
    private mutating func translatePop(_ i: Instruction, eip: UInt32) -> Bool {
        let o = i.operands.0, size = Int(i.operandSize)
        guard o.kind == .register, Int(o.size) == size else { return false }
        stackPointer(plus: 0, into: .r14)
        emit.movReg32(.rsi, .r14)
        loadFromGuest(segment: .ss, size: size, eip: eip)
        emit.lea32(.r14, base: .r14, index: nil, scale: 0, Int32(size))
        if !stack32 { emit.zeroExtend16(.r14) }
        storeStackPointer(from: .r14)
        storeGuestRegister(o.register, size: size, from: .rax)
        return true
    }

    /// LEAVE: (E)SP ← (E)BP, then (E)BP ← pop; the load first, so a fault
    /// changes neither.
    private mutating func translateLeave(_ i: Instruction, eip: UInt32) {
        let size = Int(i.operandSize)
        loadGuestRegister(5, size: stack32 ? 4 : 2, into: .r14)
        emit.movReg32(.rsi, .r14)
        loadFromGuest(segment: .ss, size: size, eip: eip)
        emit.lea32(.r14, base: .r14, index: nil, scale: 0, Int32(size))
        if !stack32 { emit.zeroExtend16(.r14) }
        storeStackPointer(from: .r14)
        storeGuestRegister(5, size: size, from: .rax)
    }

    /// RET [imm16]: the return address is read, checked against the CS
    /// limit (beyond it the interpreter takes the RET and raises the #GP),
    /// then (E)SP is released and the block leaves for the address read.
    private mutating func translateReturn(_ i: Instruction, eip: UInt32) {
        let size = Int(i.operandSize)
        let release = i.operands.0.kind == .immediate ? Int32(i.immediate & 0xFFFF) : 0
        stackPointer(plus: 0, into: .r14)
        emit.movReg32(.rsi, .r14)
        loadFromGuest(segment: .ss, size: size, eip: eip)
        interpretUnlessInsideCodeLimit(i, eip: eip)
        emit.lea32(.r14, base: .r14, index: nil, scale: 0, Int32(size) + release)
        if !stack32 { emit.zeroExtend16(.r14) }
        storeStackPointer(from: .r14)
        exitToTargetInRAX()
    }

    /// JMP r/m: the target is read (a 16-bit operand zero-extends), checked
    /// against the CS limit, and the block leaves for it.
    private mutating func translateIndirectJump(_ i: Instruction, eip: UInt32) -> Bool {
        let o = i.operands.0
        guard isPlain(o), Int(o.size) == Int(i.operandSize), o.size != 1 else { return false }
        loadRegisterOrMemory(i, o, eip: eip)
        interpretUnlessInsideCodeLimit(i, eip: eip)
        exitToTargetInRAX()
        return true
    }

    /// CALL r/m: the target is read and checked against the CS limit (as
    /// for JMP r/m), then the return address pushed, then the block leaves
    /// for the target through the jump cache. The target waits in R13,
    /// which the push's helper keeps. Interpreted, each one sent the block
    /// after it through the dispatcher: the paravirtual calls of an i386
    /// kernel before it patches them, and a user land's calls through
    /// function pointers.
    private mutating func translateIndirectCall(_ i: Instruction, eip: UInt32, next: UInt32) -> Bool {
        let o = i.operands.0, size = Int(i.operandSize)
        guard isPlain(o), Int(o.size) == size, o.size != 1 else { return false }
        loadRegisterOrMemory(i, o, eip: eip)
        interpretUnlessInsideCodeLimit(i, eip: eip)
        emit.movReg32(.r13, .rax)
        pushValue(next, size: size, eip: eip, continuingAt: .targetInR13)
        emit.movReg32(.rax, .r13)
        exitToTargetInRAX()
        return true
    }

    /// A branch target in RAX beyond the CS limit: the interpreter takes
    /// the whole instruction (it raises the #GP) and the block leaves.
    /// The code after this goes on with the target inside the limit.
    private mutating func interpretUnlessInsideCodeLimit(_ i: Instruction, eip: UInt32) {
        // A limit no target of this size can pass: nothing to check.
        if UInt64(csLimit) >= (i.operandSize == 4 ? 0xFFFF_FFFF : 0xFFFF) { return }
        setFlagsAside(savingRAXIn: .r9)
        emit.alu(.cmp, size: 4, .rax, immediate: csLimit)
        flagsInHost = false
        let inside = emit.jump(if: .belowOrEqual)
        let (pending, flags) = (retiredInBlock, flagsPending)
        _ = interpret(i, eip: eip)
        (retiredInBlock, flagsPending) = (pending, flags)
        emit.bind(inside)
    }

    /// Leaves the block for the EIP in RAX (known only at run time: not
    /// linked), counting this instruction unless the interpreter did:
    /// straight to the target's chain entry when the jump cache has it for
    /// this context and paging epoch, else back to the dispatcher.
    private mutating func exitToTargetInRAX(countingThisInstruction: Bool = true) {
        emit.movStore(size: 8, base: .rbx, BlockTranslator.ripOffset, .rax)
        if countingThisInstruction { retiredInBlock += 1 }
        chainFlags(savingRAXIn: .r9)
        let j = jumpLookup
        // RCX ← the entry: index (linear ^ linear >> 12) & mask, times 32.
        precondition(JumpCache.stride == 32)
        emit.lea32(.rcx, base: .rax, index: nil, scale: 0, Int32(bitPattern: j.csBase))
        emit.movReg32(.rdx, .rcx)
        emit.shiftRight32(.rdx, by: 12)
        emit.alu(.xor, size: 4, .rcx, .rdx)
        emit.alu(.and, size: 4, .rcx, immediate: UInt32(JumpCache.entryCount - 1))
        emit.shiftLeft64(.rcx, by: 5)
        emit.movImm64(.rdx, UInt64(UInt(bitPattern: j.entries)))
        emit.alu64(.add, .rcx, .rdx)
        // Tag and epoch.
        emit.movImm64(.rdx, JumpCache.tag(eip: 0, context: j.context))
        emit.alu64(.or, .rdx, .rax)
        emit.movLoad(size: 8, .r10, base: .rcx, 0)
        emit.alu64(.cmp, .r10, .rdx)
        let miss = emit.jump(if: .notZero)
        // The entry's epoch against the counter it was recorded from.
        emit.movLoad(size: 8, .rdx, base: .rcx, 24)
        emit.movLoad(size: 8, .rdx, base: .rdx, 0)
        emit.movLoad(size: 8, .r10, base: .rcx, 8)
        emit.alu64(.cmp, .r10, .rdx)
        let stale = emit.jump(if: .notZero)
        emit.alu64(.sub, .r12, immediate: Int32(retiredInBlock))
        // No exit for the dispatcher to link if the successor turns us away.
        emit.alu64(.and, base: .r15, BlockTranslator.chainLastExit, immediate: 0)
        emit.movLoad(size: 8, .rax, base: .rcx, 16)
        emit.jump(toAddressIn: .rax)
        emit.bind(miss)
        emit.bind(stale)
        writeBackFlags()
        emit.movImm32(.rax, 0)
        emit.movStore(size: 8, base: .r15, BlockTranslator.chainLastExit, .rax)
        emit.movImm32(.rax, UInt32(retiredInBlock))
        epilogue()
    }

    /// The target of a relative JMP/Jcc, or nil when it lies beyond the CS
    /// limit (the interpreter raises the #GP then).
    private func relativeTarget(_ i: Instruction, next: UInt32) -> UInt32? {
        guard i.operands.0.kind == .relative else { return nil }
        var target = next &+ i.immediate
        if i.operandSize == 2 { target &= 0xFFFF }
        return target <= csLimit ? target : nil
    }

    /// JMP: one exit. Jcc: the host tests the same condition on the
    /// guest's flags and leaves through one of two exits.
    private mutating func translateBranch(_ i: Instruction, next: UInt32, target: UInt32) {
        retiredInBlock += 1
        if i.op == .jmp {
            exit(to: target, retired: retiredInBlock, chainable: true)
            return
        }
        loadFlagsIntoHost()
        // Each way sets the flags aside for its successor (`exit`).
        let taken = emit.jump(ifGuestCondition: i.condition)
        exit(to: next, retired: retiredInBlock, chainable: true)
        emit.bind(taken)
        exit(to: target, retired: retiredInBlock, chainable: true)
    }

    /// Runs `i` on the interpreter through the fallback helper. Returns
    /// true (block ended) for instructions after which the next fetch may
    /// mean something else, or that make the next instruction wait
    /// (interrupt shadow): the block leaves with the state the interpreter
    /// left.
    private mutating func interpret(_ i: Instruction, eip: UInt32) -> Bool {
        writeBackFlags()
        emit.movImm64(.rsi, RuntimeHelpers.fallbackDescriptor(eip: eip, retiredInBlock: retiredInBlock, length: Int(i.length), op: i.op))
        callHelper(helpers.interpret)
        retiredInBlock += 1
        if BlockTranslator.endsBlockWhenInterpreted(i) {
            emit.jump(to: settledExit)
            return true
        }
        emit.test(size: 4, .rax, .rax)
        emit.jump(if: .notZero, to: settledExit)
        return false
    }

    /// The whole block for an instruction at `eip` that the page does not
    /// hold entirely: the interpreter fetches and runs it, and the block
    /// goes on to wherever it went through the jump cache (a fault, an
    /// instruction that ends blocks — it may have changed what the next
    /// block's key holds — or something the machine must see first leaves
    /// for the dispatcher).
    mutating func interpretAcrossPageEnd(eip: UInt32) {
        writeBackFlags()
        emit.movImm64(.rsi, RuntimeHelpers.fallbackDescriptor(eip: eip, retiredInBlock: retiredInBlock, length: 0, op: .incomplete))
        callHelper(helpers.interpret)
        retiredInBlock = 1
        emit.test(size: 4, .rax, .rax)
        emit.jump(if: .notZero, to: settledExit)
        emit.movLoad(size: 4, .rax, base: .rbx, BlockTranslator.ripOffset)
        exitToTargetInRAX(countingThisInstruction: false)
    }

    /// What a block whose first instruction runs on into the next code
    /// page depends on there: that page's generation (its bytes), and with
    /// paging on, its linear page's translation (`mapping`).
    struct NextPage {
        let generation: UnsafePointer<UInt64>
        let expectedGeneration: UInt64
        let mapping: NextPageRecord?
    }

    /// The next page's translation as a block last saw it, kept after the
    /// block's code, where `Recompiler.revalidateNextPage` updates it: the
    /// paging epoch it holds under (counter and value) and the physical
    /// address it reached.
    struct NextPageRecord {
        var epochCounter: UnsafePointer<UInt64>
        var epoch: UInt64
        var physical: UInt32

        static func offset<T>(_ field: KeyPath<NextPageRecord, T>) -> Int {
            MemoryLayout<NextPageRecord>.offset(of: field)!
        }
    }

    /// The checks `checkNextPage` emitted, for `finishNextPageChecks`.
    struct NextPageChecks {
        let stale: X86Emitter.Label
        let mapping: (check: Int, record: X86Emitter.Label, moved: X86Emitter.Label)?
    }

    /// Before a first instruction that runs on into the next code page:
    /// when that page's bytes changed, the block interprets the
    /// instruction instead; when the epoch moved (a kernel's TLB flushes
    /// move it often), a helper looks the page up again and, if it maps
    /// as it did, records the new epoch and the block goes on.
    mutating func checkNextPage(_ next: NextPage) -> NextPageChecks {
        emit.movImm64(.rax, UInt64(UInt(bitPattern: next.generation)))
        emit.movImm64(.r10, next.expectedGeneration)
        emit.alu(.cmp, size: 8, .r10, base: .rax, 0)
        let stale = emit.jump(if: .notZero)
        guard next.mapping != nil else { return NextPageChecks(stale: stale, mapping: nil) }
        let check = emit.count
        let record = emit.leaRIPRelative(.r10)
        emit.movLoad(size: 8, .rax, base: .r10, Int32(NextPageRecord.offset(\.epochCounter)))
        emit.movLoad(size: 8, .rax, base: .rax, 0)
        emit.alu(.cmp, size: 8, .rax, base: .r10, Int32(NextPageRecord.offset(\.epoch)))
        return NextPageChecks(stale: stale, mapping: (check, record, emit.jump(if: .notZero)))
    }

    /// The ways `checkNextPage` turns, after the body; the state is the
    /// block's at entry (flags in R11).
    mutating func finishNextPageChecks(_ checks: NextPageChecks, _ next: NextPage, eip: UInt32) {
        let entryState = (0, false, PendingFlags.inR11, false)
        var interpret: [X86Emitter.Label] = [checks.stale]
        if let mapping = checks.mapping, let seen = next.mapping {
            emit.bind(mapping.moved)
            (retiredInBlock, flagsInHost, flagsPending, loadedWithFlagsPending) = entryState
            writeBackFlags()
            let record = emit.leaRIPRelative(.rdx)
            emit.movImm64(.rsi, RuntimeHelpers.fallbackDescriptor(eip: eip, retiredInBlock: 0, length: 0, op: .incomplete))
            callHelper(helpers.revalidateNextPage)
            emit.test(size: 4, .rax, .rax)
            let moved = emit.jump(if: .zero)
            loadFlagImage(into: .r11)
            emit.jump(to: mapping.check)
            emit.bind(moved)
            loadFlagImage(into: .r11)
            interpret.append(emit.jump())
            emit.bind(mapping.record, toAddressOf: emit.count)
            emit.bind(record, toAddressOf: emit.count)
            withUnsafeBytes(of: seen) { bytes in
                for b in bytes.prefix(MemoryLayout<NextPageRecord>.size) { emit.data(UInt64(b), bytes: 1) }
            }
        }
        for label in interpret { emit.bind(label) }
        (retiredInBlock, flagsInHost, flagsPending, loadedWithFlagsPending) = entryState
        interpretAcrossPageEnd(eip: eip)
    }

    /// Whether `i` sets CF, PF, AF, ZF, SF and OF without reading any, and
    /// can neither fault nor leave the block: register and immediate forms
    /// of the plain ALU operations, NEG, two- and three-operand IMUL, and
    /// shifts by a count known not to be 0.
    static func overwritesFlags(_ i: Instruction) -> Bool {
        let a = i.operands.0, b = i.operands.1
        guard a.kind == .register else { return false }
        let plain = b.kind == .register || b.kind == .immediate
        switch i.op {
        case .add, .sub, .and, .or, .xor, .cmp, .test: return plain
        case .neg: return b.kind == .none
        case .imul: return plain && b.kind != .none && (i.operands.2.kind == .none || i.operands.2.kind == .immediate)
        case .shl, .sal, .shr, .sar:
            return b.kind == .constant || (b.kind == .immediate && i.immediate & 0x1F != 0)
        default: return false
        }
    }

    static func endsBlockWhenInterpreted(_ i: Instruction) -> Bool {
        switch i.op {
        // RDTSC changes nothing a block depends on, and the helper makes
        // the instruction count (guest time) exact for it. INVLPG ends the
        // block at run time only when it raised the paging epoch, i.e.
        // flushed a page code was looked up on (the block's own, maybe):
        // a Linux boot runs it 40 000 times on kmap's data pages, and each
        // sent the next block through the dispatcher.
        case .rdtsc, .invlpg: return false
        // Segment loads: the block's key says which segments are flat.
        case .sti, .invalid, .tooLong, .lss, .lds, .les, .lfs, .lgs: return true
        case .mov, .pop: return i.endsCodeBlock || i.operands.0.kind == .segment
        default: return i.endsCodeBlock
        }
    }
}
