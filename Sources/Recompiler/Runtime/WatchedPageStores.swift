import CPU
import MMU

/// Stores into RAM pages that hold translated code, without a helper call
/// when they miss the page's code lines.
///
/// A boot sector's stack, a BIOS's variables and a small program's data
/// share 4 KiB pages with code. The host TLB cannot give such a page a
/// plain write entry (a store into code must make that code stale), so
/// its write entries carry `HostTLB.watchedWrite` and miss the inline
/// compare. Instead of the store helper (the guest flags written back,
/// the interpreter's whole write path, the flags reloaded) the slow path
/// first calls one of these stubs, one per access size, shared by every
/// block: it checks that the entry is the page's watched one, finds the
/// page's `PhysicalMemory.codeLines` word, and stores when neither the
/// first nor the last byte's 64-byte line holds code — what
/// `PhysicalMemory.write` would decide, which the helper does otherwise.
///
/// Called from the slow path of `BlockTranslator.storeToGuest` with the
/// inline path's registers: R9 = the linear address (zero-extended), RDX
/// = the entry's offset in the table (RBP), R10 = the page of the access's
/// last byte, ECX = the value. Returns ZF=1 when it stored, ZF=0 when the
/// helper must; clobbers RAX, RDX, R9, R10 and the host flags, which the
/// slow path may (RSI, the offset, and ECX stay for the helper).
struct WatchedPageStores {
    private let byte: UnsafeRawPointer
    private let word: UnsafeRawPointer
    private let dword: UnsafeRawPointer

    /// Assembles the stubs into their own executable memory (`code`,
    /// which they fill once and which is never reset).
    init(memory: PhysicalMemory, code: ExecutableMemory) {
        // codeLines is indexed by RAM page; RAM is page-aligned, so a host
        // address's page number indexes this biased base directly, and its
        // bits 6–11 are its line.
        let ramPageNumber = UInt64(UInt(bitPattern: memory.ram)) >> UInt64(PhysicalMemory.pageShift)
        let linesByHostPage = UInt64(UInt(bitPattern: memory.codeLines)) &- ramPageNumber &* 8
        let capacity = 512
        let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        defer { scratch.deallocate() }
        func assemble(size: Int) -> UnsafeRawPointer {
            var emit = X86Emitter(buffer: scratch, capacity: capacity)
            emit.alu(.or, size: 4, .r10, immediate: HostTLB.watchedWrite)
            emit.alu(.cmp, size: 4, .r10, base: .rbp, index: .rdx, Int32(HostTLB.writeTagOffset))
            var helperNeeded = [emit.jump(if: .notZero)]
            emit.alu(.add, size: 8, .r9, base: .rbp, index: .rdx, Int32(HostTLB.addendOffset))
            emit.movImm64(.r10, linesByHostPage)
            emit.movReg64(.rdx, .r9)
            emit.shiftRight64(.rdx, by: UInt8(PhysicalMemory.pageShift))
            emit.movLoadIndexed(size: 8, .r10, base: .r10, index: .rdx, scale: 3)
            for last in size > 1 ? [false, true] : [false] {
                emit.movReg64(.rdx, .r9)
                if last { _ = emit.alu64(.add, .rdx, immediate: Int32(size - 1)) }
                emit.shiftRight64(.rdx, by: 6)
                emit.bitTest64(.r10, bitIn: .rdx)
                helperNeeded.append(emit.jump(if: .carry))
            }
            emit.movStore(size: size, base: .r9, 0, .rcx)
            emit.alu(.xor, size: 4, .rax, .rax)
            emit.ret()
            for jump in helperNeeded { emit.bind(jump) }
            emit.alu(.or, size: 4, .rax, immediate: 1)
            emit.ret()
            guard let at = code.install(scratch, count: emit.count) else {
                preconditionFailure("the watched-page store stubs outgrew their page")
            }
            return at
        }
        byte = assemble(size: 1)
        word = assemble(size: 2)
        dword = assemble(size: 4)
    }

    /// The stub for stores of `size` bytes (1, 2 or 4).
    func stub(size: Int) -> UnsafeRawPointer {
        switch size {
        case 1: return byte
        case 2: return word
        default: return dword
        }
    }
}
