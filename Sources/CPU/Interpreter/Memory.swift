import MMU

/// How an access reaches memory: for the segment checks, the page
/// protection checks and the #PF error code.
public struct MemoryAccess: Equatable {
    public var write: Bool
    /// Checked as a CPL-3 access by paging. Descriptor-table and TSS
    /// accesses are supervisor accesses whatever the CPL.
    public var user: Bool
    public var fetch: Bool
    public init(write: Bool, user: Bool, fetch: Bool = false) {
        self.write = write; self.user = user; self.fetch = fetch
    }
}

/// Segmentation, the linear-to-physical step and the byte-level accesses
/// every instruction uses. Paging itself (walk, TLB) is System/Paging.swift.
extension CPU {
    // MARK: - Segmentation

    /// Checks an access of `size` bytes at `offset` in `seg` and returns the
    /// linear address (SDM vol. 3, 5.3 limit checking, 5.7 type checking).
    @inline(__always)
    public func linearAddress(_ seg: SegmentRegister, _ offset: UInt32, size: Int, write: Bool) throws(CPUFault) -> UInt32 {
        let s = segment(seg)
        if protectedMode && !virtual8086 {
            // A null selector loaded into DS/ES/FS/GS leaves the cache
            // marked not present: any use faults.
            let a = s.pointee.attributes
            if a & 0x80 == 0 { throw seg == .ss ? .stackFault(0) : .generalProtection(0) }
            if write {
                if a & 0x1A != 0x12 { throw seg == .ss ? .stackFault(0) : .generalProtection(0) } // writable data only
            } else if a & 0x1A == 0x18 {
                throw .generalProtection(0) // execute-only code
            }
        }
        let last = UInt64(offset) + UInt64(size - 1)
        let limit = UInt64(s.pointee.limit)
        if s.pointee.attributes & 0x1C == 0x14 {
            // Expand-down data: valid offsets are limit+1 … 0xFFFF or 0xFFFFFFFF.
            let top: UInt64 = s.pointee.is32Bit ? 0xFFFF_FFFF : 0xFFFF
            if UInt64(offset) <= limit || last > top { throw seg == .ss ? .stackFault(0) : .generalProtection(0) }
        } else if last > limit {
            throw seg == .ss ? .stackFault(0) : .generalProtection(0)
        }
        return UInt32(truncatingIfNeeded: s.pointee.base) &+ offset
    }

    // MARK: - Linear accesses

    /// The access kind for ordinary data accesses at the current CPL.
    @inline(__always) func dataAccess(write: Bool) -> MemoryAccess {
        MemoryAccess(write: write, user: state.pointee.cpl == 3)
    }

    /// Linear → physical for one access that does not cross a page.
    @inline(__always)
    public func physicalAddress(_ linear: UInt32, _ access: MemoryAccess) throws(CPUFault) -> UInt32 {
        if !pagingEnabled { return linear & memory.a20Mask }
        return try translate(linear, access) & memory.a20Mask
    }

    public func readLinear(_ linear: UInt32, size: Int, _ access: MemoryAccess) throws(CPUFault) -> UInt32 {
        if Int(linear & 0xFFF) + size <= 4096 {
            let pa = try physicalAddress(linear, access)
            if dataWatchActive { onDataAccess?(linear, pa, size, false) }
            if let p = memory.hostPointer(forReading: pa) {
                switch size {
                case 1: return UInt32(p.pointee)
                case 2: return UInt32(UnsafeRawPointer(p).loadUnaligned(as: UInt16.self))
                default: return UnsafeRawPointer(p).loadUnaligned(as: UInt32.self)
                }
            }
            return memory.read(pa, size: size)
        }
        // Crosses a page: translate both pages before reading either. A
        // fault on the second page reports that page's first byte in CR2.
        _ = try physicalAddress(linear, access)
        _ = try physicalAddress((linear &+ UInt32(size - 1)) & ~0xFFF, access)
        var v: UInt32 = 0
        for k in 0..<size {
            let pa = try physicalAddress(linear &+ UInt32(k), access)
            if dataWatchActive { onDataAccess?(linear &+ UInt32(k), pa, 1, false) }
            v |= memory.read(pa, size: 1) << (8 * UInt32(k))
        }
        return v
    }

    public func writeLinear(_ linear: UInt32, size: Int, value: UInt32, _ access: MemoryAccess) throws(CPUFault) {
        if Int(linear & 0xFFF) + size <= 4096 {
            let pa = try physicalAddress(linear, access)
            if dataWatchActive { onDataAccess?(linear, pa, size, true) }
            memory.write(pa, size: size, value: value)
            return
        }
        // Crosses a page: both translations must succeed before any byte is written.
        _ = try physicalAddress(linear, access)
        _ = try physicalAddress((linear &+ UInt32(size - 1)) & ~0xFFF, access)
        for k in 0..<size {
            let pa = try physicalAddress(linear &+ UInt32(k), access)
            if dataWatchActive { onDataAccess?(linear &+ UInt32(k), pa, 1, true) }
            memory.write(pa, size: 1, value: value >> (8 * UInt32(k)))
        }
    }

    // MARK: - Segmented accesses (what instructions use)
    //
    // Every data access an instruction makes comes through `read`/`write`,
    // so they take a fast path first: a present, non-expand-down data
    // segment (the attribute test below), inside its limit, within one
    // page, whose translation is a TLB hit (or paging is off), onto RAM or
    // ROM for reads and onto RAM holding no cached code for writes. That
    // path gives the same result the full checks would; anything else —
    // a fault to raise, MMIO, a page walk, a page boundary, a write to
    // code, a debugger watching data accesses — takes the full path (`linearAddress`, `readLinear`,
    // `writeLinear`) unchanged.

    /// The host address of an access that takes the fast path, or nil.
    @inline(always)
    func fastHostAddress(_ seg: SegmentRegister, _ offset: UInt32, size: Int, write: Bool) -> UnsafeMutablePointer<UInt8>? {
        // While the debugger watches data accesses they all take the full
        // path, which reports them.
        if dataWatchActive { return nil }
        let s = segment(seg)
        // P=1, S=1, data (bit 3 = 0), not expand-down (bit 2 = 0) and, for
        // writes, writable (bit 1). In real and V86 mode the attributes are
        // not checked, but the limit check below is all the full path does
        // for such a segment either.
        let a = s.pointee.attributes
        guard a & (write ? 0x9E : 0x9C) == (write ? 0x92 : 0x90),
              UInt64(offset) + UInt64(size - 1) <= UInt64(s.pointee.limit) else { return nil }
        let linear = UInt32(truncatingIfNeeded: s.pointee.base) &+ offset
        guard Int(linear & 0xFFF) + size <= 4096 else { return nil }
        var physical = linear
        if pagingEnabled {
            let e = tlb.slot(linear)
            let need = TranslationLookasideBuffer.requirement(dataAccess(write: write))
            guard e.pointee.tag == linear & 0xFFFF_F000 | TranslationLookasideBuffer.valid,
                  e.pointee.flags & need == need else { return nil }
            physical = e.pointee.frame | (linear & 0xFFF)
        }
        physical &= memory.a20Mask
        return write ? memory.quietRAMPointer(forWriting: physical) : memory.hostPointer(forReading: physical)
    }

    @inline(__always)
    public func read(_ seg: SegmentRegister, _ offset: UInt32, size: Int) throws(CPUFault) -> UInt32 {
        try readData(seg, offset, size: size)
    }

    @inline(__always)
    public func write(_ seg: SegmentRegister, _ offset: UInt32, size: Int, value: UInt32) throws(CPUFault) {
        try writeData(seg, offset, size: size, value: value)
    }

    /// `read` with its fast path inlined (`@inline(always)`: Swift's
    /// heuristic inliner refuses bodies of this size), for the operand
    /// accessors.
    @inline(always)
    func readData(_ seg: SegmentRegister, _ offset: UInt32, size: Int) throws(CPUFault) -> UInt32 {
        if let p = fastHostAddress(seg, offset, size: size, write: false) { return p.loadGuest(size: size) }
        return try readChecked(seg, offset, size: size)
    }

    @inline(always)
    func writeData(_ seg: SegmentRegister, _ offset: UInt32, size: Int, value: UInt32) throws(CPUFault) {
        if let p = fastHostAddress(seg, offset, size: size, write: true) { return p.storeGuest(value, size: size) }
        try writeChecked(seg, offset, size: size, value: value)
    }

    /// The full path of `read`: every segment and paging check.
    @inline(never)
    func readChecked(_ seg: SegmentRegister, _ offset: UInt32, size: Int) throws(CPUFault) -> UInt32 {
        noteFullPathAccess()
        let la = try linearAddress(seg, offset, size: size, write: false)
        return try readLinear(la, size: size, dataAccess(write: false))
    }

    /// The full path of `write`.
    @inline(never)
    func writeChecked(_ seg: SegmentRegister, _ offset: UInt32, size: Int, value: UInt32) throws(CPUFault) {
        noteFullPathAccess()
        let la = try linearAddress(seg, offset, size: size, write: true)
        try writeLinear(la, size: size, value: value, dataAccess(write: true))
    }

    /// Checks that a write would succeed (segment and paging) without
    /// writing: for instructions that must not change memory partially.
    public func probeWrite(_ seg: SegmentRegister, _ offset: UInt32, size: Int) throws(CPUFault) {
        let la = try linearAddress(seg, offset, size: size, write: true)
        _ = try physicalAddress(la, dataAccess(write: true))
        _ = try physicalAddress((la &+ UInt32(size - 1)) & ~0xFFF, dataAccess(write: true))
    }

    /// Reads `count` bytes (e.g. an m80 or a descriptor-table image).
    public func readBytes(_ seg: SegmentRegister, _ offset: UInt32, count: Int) throws(CPUFault) -> [UInt8] {
        let la = try linearAddress(seg, offset, size: count, write: false)
        var out = [UInt8](repeating: 0, count: count)
        for k in 0..<count {
            out[k] = UInt8(try readLinear(la &+ UInt32(k), size: 1, dataAccess(write: false)))
        }
        return out
    }

    public func writeBytes(_ seg: SegmentRegister, _ offset: UInt32, _ bytes: [UInt8]) throws(CPUFault) {
        let la = try linearAddress(seg, offset, size: bytes.count, write: true)
        _ = try physicalAddress(la, dataAccess(write: true))
        _ = try physicalAddress((la &+ UInt32(bytes.count - 1)) & ~0xFFF, dataAccess(write: true))
        for (k, b) in bytes.enumerated() {
            try writeLinear(la &+ UInt32(k), size: 1, value: UInt32(b), dataAccess(write: true))
        }
    }

    // MARK: - Supervisor (system) accesses: descriptor tables, TSS, IDT

    public func readSystem(_ linear: UInt32, size: Int) throws(CPUFault) -> UInt32 {
        try readLinear(linear, size: size, MemoryAccess(write: false, user: false))
    }

    public func writeSystem(_ linear: UInt32, size: Int, value: UInt32) throws(CPUFault) {
        try writeLinear(linear, size: size, value: value, MemoryAccess(write: true, user: false))
    }

    // MARK: - Instruction fetch

    /// Fetches and decodes the instruction at CS:EIP. Bytes are fetched
    /// only as far as the instruction needs, so a fault on the next page or
    /// past the segment limit happens only if the instruction reaches it.
    func fetchAndDecode() throws(CPUFault) -> Instruction {
        let cs = segment(.cs)
        let eip = currentEIP
        let linear = UInt32(truncatingIfNeeded: cs.pointee.base) &+ eip
        let limit = cs.pointee.limit
        // Bytes allowed by the segment limit.
        guard eip <= limit else { throw .generalProtection(0) }
        let inSegment = Int(min(UInt64(limit) - UInt64(eip) + 1, 15))
        let access = MemoryAccess(write: false, user: state.pointee.cpl == 3, fetch: true)
        let inPage = 4096 - Int(linear & 0xFFF)
        let pa = try physicalAddress(linear, access)
        let default32 = cs.pointee.is32Bit
        if inPage >= inSegment, let p = memory.hostPointer(forReading: pa) {
            let i = Decoder.decode(p, count: inSegment, default32: default32)
            if i.op == .incomplete { throw .generalProtection(0) }
            return try checked(i)
        }
        // Slow path: MMIO/unmapped code or an instruction near a page end.
        var buffer: (UInt64, UInt64) = (0, 0)
        return try withUnsafeMutableBytes(of: &buffer) { raw throws(CPUFault) -> Instruction in
            let bytes = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
            let first = min(inPage, inSegment)
            for k in 0..<first { bytes[k] = UInt8(memory.read(pa &+ UInt32(k), size: 1)) }
            var i = Decoder.decode(bytes, count: first, default32: default32)
            if i.op == .incomplete && first < inSegment {
                let pa2 = try physicalAddress(linear &+ UInt32(first), access)
                for k in first..<inSegment { bytes[k] = UInt8(memory.read(pa2 &+ UInt32(k - first), size: 1)) }
                i = Decoder.decode(bytes, count: inSegment, default32: default32)
            }
            if i.op == .incomplete { throw .generalProtection(0) }
            return try checked(i)
        }
    }

    @inline(__always)
    private func checked(_ i: Instruction) throws(CPUFault) -> Instruction {
        switch i.op {
        case .invalid: throw .invalidOpcode
        case .tooLong: throw .generalProtection(0)
        default: return i
        }
    }
}
