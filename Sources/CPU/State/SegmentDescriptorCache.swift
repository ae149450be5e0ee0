/// The hidden part of a segment register: what the CPU loaded from the
/// descriptor table when the selector was last written (or, in real mode,
/// `base = selector << 4`). The same concept as KVM's `kvm_segment` and
/// VMX's guest segment fields, so a hand-over copies it field by field.
public struct SegmentDescriptorCache: Equatable {
    public var base: UInt64
    /// Byte-granular limit (the G bit already applied).
    public var limit: UInt32
    public var selector: UInt16
    /// VMX "access rights" layout: bits 0–3 type, 4 S, 5–6 DPL, 7 P,
    /// 12 AVL, 13 L, 14 D/B, 15 G.
    public var attributes: UInt16

    public init(selector: UInt16 = 0, base: UInt64 = 0, limit: UInt32 = 0xFFFF, attributes: UInt16 = 0x93) {
        self.selector = selector; self.base = base; self.limit = limit; self.attributes = attributes
    }

    public var type: UInt8 { UInt8(attributes & 0xF) }
    /// S bit: code or data (as opposed to system) segment.
    public var isCodeOrData: Bool { attributes & 0x10 != 0 }
    public var dpl: UInt8 { UInt8((attributes >> 5) & 3) }
    public var present: Bool { attributes & 0x80 != 0 }
    public var isCode: Bool { isCodeOrData && attributes & 0x8 != 0 }
    public var isConforming: Bool { isCode && attributes & 0x4 != 0 }
    /// Data: writable. Code: readable.
    public var isWritableData: Bool { isCodeOrData && attributes & 0xA == 0x2 }
    public var isReadable: Bool { !isCode || attributes & 0x2 != 0 }
    public var isExpandDown: Bool { isCodeOrData && attributes & 0xC == 0x4 }
    /// D/B bit: 32-bit default operand size (code) or stack (SS).
    public var is32Bit: Bool { attributes & 0x4000 != 0 }
    public var isLongMode: Bool { attributes & 0x2000 != 0 }
    public var granularity: Bool { attributes & 0x8000 != 0 }

    /// Decodes the two dwords of a GDT/LDT descriptor.
    public init(selector: UInt16, descriptorLow lo: UInt32, high hi: UInt32) {
        self.selector = selector
        base = UInt64((lo >> 16) | ((hi & 0xFF) << 16) | (hi & 0xFF00_0000))
        var lim = (lo & 0xFFFF) | (hi & 0x000F_0000)
        attributes = UInt16((hi >> 8) & 0xFF) | UInt16((hi >> 8) & 0xF000)
        if hi & 0x0080_0000 != 0 { lim = (lim << 12) | 0xFFF }
        limit = lim
    }

    /// The descriptor bytes 5–6 form used by LAR (type/S/DPL/P and AVL/L/D/G).
    public var larBits: UInt32 { UInt32(attributes & 0xFF) << 8 | UInt32(attributes & 0xF000) << 8 }
}

/// Segment register numbers as the instruction encoding uses them.
public enum SegmentRegister: Int, CaseIterable {
    case es = 0, cs, ss, ds, fs, gs
    public var name: String { ["es", "cs", "ss", "ds", "fs", "gs"][rawValue] }
}

/// GDTR/IDTR.
public struct DescriptorTableRegister: Equatable {
    public var base: UInt64
    public var limit: UInt16
    public init(base: UInt64 = 0, limit: UInt16 = 0xFFFF) { self.base = base; self.limit = limit }
}
