/// Loads and stores of guest values (1, 2 or 4 bytes, little-endian) in
/// guest memory, at any alignment, as byte accesses the compiler merges
/// into single host loads and stores.
///
/// Written with byte subscripts rather than the standard library's
/// generic `loadUnaligned`/`storeBytes` on purpose: those are inlined by
/// Swift's heuristics only into small callers, and the interpreter's
/// specialized forms are large — there each access had become a call that
/// cost more than the access. Byte subscripts always inline, and LLVM
/// combines them (one `mov` on x86).
extension UnsafeMutablePointer where Pointee == UInt8 {
    @inline(always)
    func loadGuest(size: Int) -> UInt32 {
        switch size {
        case 1: return UInt32(self[0])
        case 2: return UInt32(self[0]) | UInt32(self[1]) << 8
        default: return UInt32(self[0]) | UInt32(self[1]) << 8 | UInt32(self[2]) << 16 | UInt32(self[3]) << 24
        }
    }

    @inline(always)
    func storeGuest(_ value: UInt32, size: Int) {
        self[0] = UInt8(truncatingIfNeeded: value)
        if size >= 2 { self[1] = UInt8(truncatingIfNeeded: value >> 8) }
        if size == 4 {
            self[2] = UInt8(truncatingIfNeeded: value >> 16)
            self[3] = UInt8(truncatingIfNeeded: value >> 24)
        }
    }
}
