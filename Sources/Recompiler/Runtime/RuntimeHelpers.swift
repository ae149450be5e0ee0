import CPU

/// The functions translated code calls: guest memory loads and stores,
/// the interpreter for one instruction, raising #DE for a division the
/// translated code found impossible, and looking up again the next page
/// an instruction across a page end reads. C calling convention, first
/// argument the recompiler (as an opaque context pointer), so generated
/// code calls them like any C function and Swift needs no trampolines.
///
/// What a call needs besides its operands travels in one 64-bit
/// descriptor built at translation time: the EIP of the instruction (a
/// fault is raised there), the instructions of its block retired before
/// it (with the budget the block stored, the helper sets the instruction
/// count from it first, so devices and exception delivery see it exact),
/// and the segment and size of the access, or the length and operation
/// of the interpreted instruction.
struct RuntimeHelpers {
    typealias Load = @convention(c) (UnsafeMutableRawPointer, UInt32, UInt64) -> UInt64
    typealias Store = @convention(c) (UnsafeMutableRawPointer, UInt32, UInt64, UInt32) -> UInt32
    typealias Interpret = @convention(c) (UnsafeMutableRawPointer, UInt64) -> UInt32
    typealias RaiseDivideError = @convention(c) (UnsafeMutableRawPointer, UInt64) -> Void
    typealias RevalidateNextPage = @convention(c) (UnsafeMutableRawPointer, UInt64, UnsafeRawPointer) -> UInt32

    /// Bit of a load's result that says "faulted, exception delivered".
    static let faultBit: UInt8 = 32

    enum StoreResult: UInt32 {
        case stored = 0
        /// The access faulted; the exception was delivered.
        case faulted = 1
        /// Stored, and translated code or the machine's state may have
        /// changed: the block must leave after this instruction.
        case storedLeave = 2
    }

    let load: UnsafeRawPointer
    let store: UnsafeRawPointer
    let interpret: UnsafeRawPointer
    /// Takes a fallback descriptor (the DIV/IDIV's EIP and retired count).
    let raiseDivideError: UnsafeRawPointer
    /// Takes a fallback descriptor and the block's next-page record
    /// (`BlockTranslator.checkNextPage`); nonzero when it still holds.
    let revalidateNextPage: UnsafeRawPointer

    init() {
        let load: Load = { context, offset, descriptor in
            Recompiler.withContext(context) { $0.loadForBlock(offset: offset, descriptor: descriptor) }
        }
        let store: Store = { context, offset, descriptor, value in
            Recompiler.withContext(context) { $0.storeForBlock(offset: offset, descriptor: descriptor, value: value).rawValue }
        }
        let interpret: Interpret = { context, descriptor in
            Recompiler.withContext(context) { $0.interpretForBlock(descriptor: descriptor) } ? 0 : 1
        }
        let raiseDivideError: RaiseDivideError = { context, descriptor in
            Recompiler.withContext(context) { $0.raiseDivideErrorForBlock(descriptor: descriptor) }
        }
        self.load = unsafeBitCast(load, to: UnsafeRawPointer.self)
        self.store = unsafeBitCast(store, to: UnsafeRawPointer.self)
        self.interpret = unsafeBitCast(interpret, to: UnsafeRawPointer.self)
        self.raiseDivideError = unsafeBitCast(raiseDivideError, to: UnsafeRawPointer.self)
        let revalidateNextPage: RevalidateNextPage = { context, descriptor, record in
            Recompiler.withContext(context) { $0.revalidateNextPage(descriptor: descriptor, record: record) } ? 1 : 0
        }
        self.revalidateNextPage = unsafeBitCast(revalidateNextPage, to: UnsafeRawPointer.self)
    }

    // MARK: - Descriptors

    static func accessDescriptor(eip: UInt32, retiredInBlock: Int, segment: SegmentRegister, size: Int) -> UInt64 {
        UInt64(eip) | UInt64(retiredInBlock) << 32 | UInt64(segment.rawValue) << 40 | UInt64(size) << 44
    }

    static func fallbackDescriptor(eip: UInt32, retiredInBlock: Int, length: Int, op: Op) -> UInt64 {
        UInt64(eip) | UInt64(retiredInBlock) << 32 | UInt64(length) << 40 | UInt64(op.rawValue) << 48
    }

    @inline(__always) static func eip(_ d: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: d) }
    @inline(__always) static func retiredInBlock(_ d: UInt64) -> UInt64 { d >> 32 & 0xFF }
    @inline(__always) static func segment(_ d: UInt64) -> SegmentRegister { SegmentRegister(rawValue: Int(d >> 40 & 7)) ?? .ds }
    @inline(__always) static func size(_ d: UInt64) -> Int { Int(d >> 44 & 7) }
    @inline(__always) static func length(_ d: UInt64) -> UInt32 { UInt32(d >> 40 & 0xF) }
    @inline(__always) static func op(_ d: UInt64) -> Int { Int(d >> 48) }
}
