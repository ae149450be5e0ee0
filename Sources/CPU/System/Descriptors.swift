/// Segment and gate descriptors as they sit in the GDT, LDT and IDT (Intel
/// SDM vol. 3, 3.4.5 and 5.8–5.12), and the table lookups every
/// protected-mode transfer starts with.
///
/// A `Descriptor` is the raw pair of dwords plus the linear address it was
/// read from, so the accessed and busy bits can be written back. The
/// hidden-cache form (`SegmentDescriptorCache`) is made from it only when a
/// register is actually loaded.
struct Descriptor {
    var low: UInt32
    var high: UInt32
    /// Linear address of the descriptor (for setting accessed/busy bits).
    var address: UInt32

    var type: UInt8 { UInt8((high >> 8) & 0xF) }
    /// S = 0: a system descriptor (TSS, LDT, gate).
    var isSystem: Bool { high & 0x1000 == 0 }
    var dpl: UInt8 { UInt8((high >> 13) & 3) }
    var present: Bool { high & 0x8000 != 0 }
    var isCode: Bool { !isSystem && high & 0x800 != 0 }
    var isData: Bool { !isSystem && high & 0x800 == 0 }
    var isConforming: Bool { isCode && high & 0x400 != 0 }
    var isReadableCode: Bool { isCode && high & 0x200 != 0 }
    var isWritableData: Bool { isData && high & 0x200 != 0 }
    var systemType: SystemDescriptorType? { isSystem ? SystemDescriptorType(rawValue: type) : nil }

    /// The hidden-cache form, loaded with `selector`. A code or data
    /// segment is cached with its accessed bit set, as loading sets it in
    /// the descriptor (`markAccessed`).
    func cache(selector: UInt16) -> SegmentDescriptorCache {
        var c = SegmentDescriptorCache(selector: selector, descriptorLow: low, high: high)
        if !isSystem { c.attributes |= 1 }
        return c
    }

    // MARK: Gates (call, interrupt, trap, task)

    /// The code segment (or, for a task gate, the TSS) the gate names.
    var gateSelector: UInt16 { UInt16(truncatingIfNeeded: low >> 16) }
    /// The entry point: 32 bits for 32-bit gates, 16 for 16-bit ones.
    var gateOffset: UInt32 {
        type & 8 != 0 ? (high & 0xFFFF_0000) | (low & 0xFFFF) : low & 0xFFFF
    }
    /// 32-bit gate (pushes dwords) or 16-bit gate (pushes words).
    var gateIs32Bit: Bool { type & 8 != 0 }
    /// Call gates: how many stack parameters to copy to the inner stack.
    var parameterCount: Int { Int(high & 0x1F) }
}

/// System descriptor types (S = 0), SDM vol. 3, table 3-2.
enum SystemDescriptorType: UInt8 {
    case availableTSS16 = 1, ldt = 2, busyTSS16 = 3, callGate16 = 4, taskGate = 5
    case interruptGate16 = 6, trapGate16 = 7
    case availableTSS32 = 9, busyTSS32 = 0xB, callGate32 = 0xC, interruptGate32 = 0xE, trapGate32 = 0xF

    var isAvailableTSS: Bool { self == .availableTSS16 || self == .availableTSS32 }
    var isBusyTSS: Bool { self == .busyTSS16 || self == .busyTSS32 }
    var isCallGate: Bool { self == .callGate16 || self == .callGate32 }
}

/// Which exception a failed selector check raises: instructions raise
/// #GP(selector); task switches and inner-stack loads from a TSS raise
/// #TS(selector).
enum SelectorFault {
    case generalProtection, invalidTSS
    func callAsFunction(_ selector: UInt16) -> CPUFault {
        let code = UInt32(selector & 0xFFFC)
        return self == .generalProtection ? .generalProtection(code) : .invalidTSS(code)
    }
}

extension CPU {
    /// A selector is null when it names GDT entry 0 (whatever its RPL).
    @inline(__always) static func isNull(_ selector: UInt16) -> Bool { selector & 0xFFFC == 0 }

    /// Linear address of the descriptor `selector` names, or nil when it
    /// lies past the GDT/LDT limit or names an LDT that is not loaded.
    func descriptorAddress(_ selector: UInt16) -> UInt32? {
        let offset = UInt32(selector & 0xFFF8)
        if selector & 4 != 0 {
            let ldt = state.pointee.ldtr
            guard ldt.present, offset + 7 <= ldt.limit else { return nil }
            return UInt32(truncatingIfNeeded: ldt.base) &+ offset
        }
        let gdt = state.pointee.gdtr
        guard offset + 7 <= UInt32(gdt.limit) else { return nil }
        return UInt32(truncatingIfNeeded: gdt.base) &+ offset
    }

    /// Reads the descriptor `selector` names; `outside` is raised when the
    /// selector points past its table.
    func readDescriptor(_ selector: UInt16, outside: CPUFault) throws(CPUFault) -> Descriptor {
        guard let address = descriptorAddress(selector) else { throw outside }
        return try readDescriptor(at: address)
    }

    func readDescriptor(at address: UInt32) throws(CPUFault) -> Descriptor {
        Descriptor(low: try readSystem(address, size: 4), high: try readSystem(address &+ 4, size: 4), address: address)
    }

    /// Sets the accessed bit of a code or data descriptor that is loaded
    /// into a segment register (SDM 3.4.5.1), a supervisor write.
    func markAccessed(_ d: Descriptor) throws(CPUFault) {
        guard !d.isSystem, d.high & 0x100 == 0 else { return }
        try writeSystem(d.address &+ 5, size: 1, value: (d.high >> 8) | 1)
    }

    /// Sets or clears the busy bit (type bit 1) of a TSS descriptor.
    func setBusy(_ d: Descriptor, _ busy: Bool) throws(CPUFault) {
        let typeByte = (d.high >> 8) & 0xFD
        try writeSystem(d.address &+ 5, size: 1, value: busy ? typeByte | 2 : typeByte)
    }
}

extension SegmentDescriptorCache {
    /// Whether `size` bytes at `offset` lie inside the segment, for
    /// expand-up and expand-down segments alike (SDM 5.3).
    func contains(_ offset: UInt32, size: Int) -> Bool {
        let last = UInt64(offset) + UInt64(size - 1)
        if isExpandDown {
            return offset > limit && last <= (is32Bit ? 0xFFFF_FFFF : 0xFFFF)
        }
        return last <= UInt64(limit)
    }

    /// The cache of a segment register loaded with a null selector: any
    /// use faults because P = 0.
    static func null(_ selector: UInt16) -> SegmentDescriptorCache {
        SegmentDescriptorCache(selector: selector, base: 0, limit: 0, attributes: 0)
    }
}
