import CPU

/// Human-readable views of the machine state for the monitor: registers
/// with the hidden segment caches, descriptor tables, the TSS, page walks,
/// memory dumps and disassembly. Pure formatting over `GuestMemoryView`.
public struct Inspector {
    public let view: GuestMemoryView
    var cpu: CPU { view.cpu }

    public init(view: GuestMemoryView) { self.view = view }

    public var modeName: String {
        if !cpu.protectedMode { return "real mode" }
        if cpu.virtual8086 { return "virtual-8086 mode" }
        if cpu.state.pointee.efer & EFER.lma != 0 {
            return cpu.segment(.cs).pointee.isLongMode ? "long mode, 64-bit code" : "long mode, compatibility mode, \(cpu.segment(.cs).pointee.is32Bit ? "32" : "16")-bit code"
        }
        return "protected mode, \(cpu.segment(.cs).pointee.is32Bit ? "32" : "16")-bit code\(cpu.pagingEnabled ? ", paging" : "")"
    }

    static let flagNames: [(UInt32, String)] = [
        (1 << 0, "CF"), (1 << 2, "PF"), (1 << 4, "AF"), (1 << 6, "ZF"), (1 << 7, "SF"), (1 << 8, "TF"),
        (1 << 9, "IF"), (1 << 10, "DF"), (1 << 11, "OF"), (1 << 14, "NT"), (1 << 16, "RF"), (1 << 17, "VM"),
        (1 << 18, "AC"), (1 << 19, "VIF"), (1 << 20, "VIP"), (1 << 21, "ID"),
    ]

    public func registers() -> [String] {
        let s = cpu.state.pointee
        let r = { (n: UInt8) in hex(cpu.reg32(n), 8) }
        let flags = Inspector.flagNames.filter { s.eflags & $0.0 != 0 }.map(\.1).joined(separator: " ")
        var lines = [
            "eax=\(r(0)) ebx=\(r(3)) ecx=\(r(1)) edx=\(r(2))",
            "esi=\(r(6)) edi=\(r(7)) ebp=\(r(5)) esp=\(r(4))",
            "eip=\(hex(cpu.eip, 8)) eflags=\(hex(s.eflags, 8)) [\(flags)] iopl=\((s.eflags >> 12) & 3) cpl=\(s.cpl)  \(modeName)",
        ]
        if s.efer & EFER.lma != 0 {
            // A 64-bit guest (one KVM runs): the whole registers, R8-R15 too.
            let q = withUnsafeBytes(of: s.gpr) { Array($0.bindMemory(to: UInt64.self)) }
            let names = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi"] + (8..<16).map { "r\($0)" }
            let wide = [0, 3, 1, 2, 6, 7, 5, 4, 8, 9, 10, 11, 12, 13, 14, 15].map { "\(names[$0])=\(hex(q[$0], 16))" }
            lines = stride(from: 0, to: 16, by: 4).map { wide[$0..<$0 + 4].joined(separator: " ") }
                + ["rip=\(hex(s.rip, 16)) eflags=\(hex(s.eflags, 8)) [\(flags)] iopl=\((s.eflags >> 12) & 3) cpl=\(s.cpl)  \(modeName)"]
        }
        for seg in [SegmentRegister.cs, .ss, .ds, .es, .fs, .gs] {
            lines.append("\(seg.name)=" + Inspector.describe(cpu.segment(seg).pointee))
        }
        lines.append("ldtr=" + Inspector.describe(s.ldtr))
        lines.append("tr=" + Inspector.describe(s.tr))
        lines.append("gdtr: base=\(hex(s.gdtr.base, 8)) limit=\(hex(s.gdtr.limit, 4))  idtr: base=\(hex(s.idtr.base, 8)) limit=\(hex(s.idtr.limit, 4))")
        lines.append("cr0=\(hex(s.cr0, 8)) cr2=\(hex(s.cr2, 8)) cr3=\(hex(s.cr3, 8)) cr4=\(hex(s.cr4, 8)) efer=\(hex(s.efer, 8))")
        lines.append("dr0=\(hex(s.dr.0, 8)) dr1=\(hex(s.dr.1, 8)) dr2=\(hex(s.dr.2, 8)) dr3=\(hex(s.dr.3, 8)) dr6=\(hex(s.dr.6, 8)) dr7=\(hex(s.dr.7, 8))")
        lines.append("icount=\(cpu.instructionCount)\(s.halted ? " halted" : "")")
        return lines
    }

    /// A segment register with its hidden descriptor cache.
    static func describe(_ c: SegmentDescriptorCache) -> String {
        var kind: String
        if !c.present { kind = "not present" }
        else if c.isCodeOrData {
            kind = c.isCode ? "code\(c.isConforming ? " conforming" : "")\(c.isReadable ? " readable" : "")"
                            : "data\(c.isWritableData ? " writable" : " read-only")\(c.isExpandDown ? " expand-down" : "")"
            kind += c.isCode && c.isLongMode ? " 64-bit" : c.is32Bit ? " 32-bit" : " 16-bit"
        } else {
            kind = systemTypeName(c.type)
        }
        return "\(hex(c.selector, 4)) base=\(hex(c.base, 8)) limit=\(hex(c.limit, 8)) attr=\(hex(c.attributes, 4)) dpl=\(c.dpl) \(kind)"
    }

    static func systemTypeName(_ type: UInt8) -> String {
        switch type {
        case 1: return "16-bit TSS (available)"
        case 2: return "LDT"
        case 3: return "16-bit TSS (busy)"
        case 4: return "16-bit call gate"
        case 5: return "task gate"
        case 6: return "16-bit interrupt gate"
        case 7: return "16-bit trap gate"
        case 9: return "32-bit TSS (available)"
        case 11: return "32-bit TSS (busy)"
        case 12: return "32-bit call gate"
        case 14: return "32-bit interrupt gate"
        case 15: return "32-bit trap gate"
        default: return "reserved system type \(type)"
        }
    }

    /// The GDT's (or an LDT's) entries, skipping null ones.
    public func descriptorTable(base: UInt32, limit: UInt32, name: String) -> [String] {
        var lines = ["\(name): base=\(hex(base, 8)) limit=\(hex(limit, 4))"]
        let count = min(Int(limit + 1) / 8, 8192)
        for k in 0..<count {
            guard let b = view.readLinear(base &+ UInt32(k * 8), count: 8) else { lines.append("  \(hex(k * 8, 4)): (not mapped)"); break }
            let lo = UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
            let hi = UInt32(b[4]) | UInt32(b[5]) << 8 | UInt32(b[6]) << 16 | UInt32(b[7]) << 24
            if lo == 0 && hi == 0 { continue }
            let d = SegmentDescriptorCache(selector: UInt16(k * 8), descriptorLow: lo, high: hi)
            if !d.isCodeOrData && [4, 5, 6, 7, 12, 14, 15].contains(d.type) {
                lines.append("  \(hex(k * 8, 4)): " + gate(lo, hi))
            } else {
                lines.append("  \(hex(k * 8, 4)): " + Inspector.describe(d))
            }
        }
        return lines
    }

    /// A gate descriptor: target selector:offset, type, DPL, present.
    func gate(_ lo: UInt32, _ hi: UInt32) -> String {
        let type = UInt8((hi >> 8) & 0xF)
        let offset = hi & 0xFFFF_0000 | lo & 0xFFFF
        let target = type == 5 ? "tss \(hex(lo >> 16, 4))" : "\(hex(lo >> 16, 4)):\(hex(offset, 8))"
        return "\(target) \(Inspector.systemTypeName(type)) dpl=\((hi >> 13) & 3)\(hi & 0x8000 == 0 ? " not present" : "")"
    }

    public func gdt() -> [String] {
        let g = cpu.state.pointee.gdtr
        return descriptorTable(base: UInt32(truncatingIfNeeded: g.base), limit: UInt32(g.limit), name: "GDT")
    }

    public func ldt() -> [String] {
        let l = cpu.state.pointee.ldtr
        guard l.present else { return ["LDT: none loaded (ldtr=\(hex(l.selector, 4)))"] }
        return descriptorTable(base: UInt32(truncatingIfNeeded: l.base), limit: l.limit, name: "LDT \(hex(l.selector, 4))")
    }

    /// The IDT, or in real mode the interrupt vector table it points to.
    public func idt() -> [String] {
        let i = cpu.state.pointee.idtr
        let base = UInt32(truncatingIfNeeded: i.base)
        if !cpu.protectedMode {
            var lines = ["IVT (real mode): base=\(hex(base, 8)) limit=\(hex(i.limit, 4))"]
            for v in 0..<min(256, (Int(i.limit) + 1) / 4) {
                guard let b = view.readLinear(base &+ UInt32(v * 4), count: 4) else { break }
                lines.append("  \(hex(v, 2)): \(hex(UInt16(b[2]) | UInt16(b[3]) << 8, 4)):\(hex(UInt16(b[0]) | UInt16(b[1]) << 8, 4))")
            }
            return lines
        }
        var lines = ["IDT: base=\(hex(base, 8)) limit=\(hex(i.limit, 4))"]
        for v in 0..<min(256, (Int(i.limit) + 1) / 8) {
            guard let b = view.readLinear(base &+ UInt32(v * 8), count: 8) else { lines.append("  \(hex(v, 2)): (not mapped)"); break }
            let lo = UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
            let hi = UInt32(b[4]) | UInt32(b[5]) << 8 | UInt32(b[6]) << 16 | UInt32(b[7]) << 24
            if lo == 0 && hi == 0 { continue }
            lines.append("  \(hex(v, 2)): " + gate(lo, hi))
        }
        return lines
    }

    /// The 32-bit TSS that TR points to (SDM vol. 3, 8.2.1).
    public func tss() -> [String] {
        let tr = cpu.state.pointee.tr
        guard cpu.protectedMode, tr.present else { return ["TSS: none loaded (tr=\(hex(tr.selector, 4)))"] }
        let base = UInt32(truncatingIfNeeded: tr.base)
        guard let b = view.readLinear(base, count: 104) else { return ["TSS at \(hex(base, 8)): not mapped"] }
        func d(_ o: Int) -> String { hex(UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24, 8) }
        func w(_ o: Int) -> String { hex(UInt16(b[o]) | UInt16(b[o + 1]) << 8, 4) }
        return [
            "TSS \(hex(tr.selector, 4)) at \(hex(base, 8)) limit \(hex(tr.limit, 8)) (\(Inspector.systemTypeName(tr.type)))",
            "  link=\(w(0)) esp0=\(d(4)) ss0=\(w(8)) esp1=\(d(12)) ss1=\(w(16)) esp2=\(d(20)) ss2=\(w(24))",
            "  cr3=\(d(28)) eip=\(d(32)) eflags=\(d(36))",
            "  eax=\(d(40)) ecx=\(d(44)) edx=\(d(48)) ebx=\(d(52)) esp=\(d(56)) ebp=\(d(60)) esi=\(d(64)) edi=\(d(68))",
            "  es=\(w(72)) cs=\(w(76)) ss=\(w(80)) ds=\(w(84)) fs=\(w(88)) gs=\(w(92)) ldt=\(w(96)) iomap=\(w(102))",
        ]
    }

    public func pageWalk(_ linear: UInt32) -> [String] {
        guard cpu.pagingEnabled else { return ["paging is off: linear \(hex(linear, 8)) = physical \(hex(linear & cpu.memory.a20Mask, 8))"] }
        let w = view.walk(linear)
        var lines = ["linear \(hex(linear, 8)) (cr3=\(hex(cpu.state.pointee.cr3, 8))\(cpu.state.pointee.cr4 & UInt64(CR4.pae) != 0 ? ", PAE" : "")):"]
        for s in w.steps {
            let e = s.entry
            let bits = [(1, "P"), (2, "W"), (4, "U"), (0x20, "A"), (0x40, "D"), (0x80, "PS"), (0x100, "G")].filter { e & UInt64($0.0) != 0 }.map(\.1)
            lines.append("  \(s.level) at \(hex(s.entryAddress, 8)) = \(hex(e, s.level == "PDE" || s.level == "PTE" ? (cpu.state.pointee.cr4 & UInt64(CR4.pae) != 0 ? 16 : 8) : 16)) [\(bits.joined(separator: " "))]")
        }
        lines.append(w.physical.map { "  -> physical \(hex($0, 8))" } ?? "  -> not mapped")
        return lines
    }

    /// `count` units of `unit` bytes (1, 2 or 4) as hex, 16 bytes a line.
    public func dump(_ address: UInt32, count: Int, unit: Int, physical: Bool) -> [String] {
        let total = count * unit
        guard let bytes = physical ? view.readPhysical(address, count: total) : view.readLinear(address, count: total) else {
            return ["\(hex(address, 8)): not mapped"]
        }
        var lines: [String] = []
        let perLine = 16
        for lineStart in stride(from: 0, to: total, by: perLine) {
            var fields: [String] = []
            for u in stride(from: lineStart, to: min(lineStart + perLine, total), by: unit) {
                var v: UInt32 = 0
                for k in 0..<unit { v |= UInt32(bytes[u + k]) << (8 * k) }
                fields.append(hex(v, unit * 2))
            }
            lines.append("\(hex(address &+ UInt32(lineStart), 8)): " + fields.joined(separator: " "))
        }
        return lines
    }

    /// The longest string `strings` shows before cutting it off.
    static let stringLimit = 256

    /// `count` NUL-terminated strings from `address` on, one a line, each
    /// quoted with C escapes for what is not printable ASCII.
    public func strings(_ address: UInt32, count: Int, physical: Bool) -> [String] {
        var lines: [String] = []
        var a = address
        for _ in 0..<count {
            var text = ""
            var length = 0
            var terminated = false
            while length < Inspector.stringLimit {
                let at = a &+ UInt32(length)
                guard let b = physical ? view.readPhysical(at, count: 1).first : view.readLinear(at, count: 1)?.first else { break }
                length += 1
                if b == 0 { terminated = true; break }
                switch b {
                case 0x0A: text += "\\n"
                case 0x0D: text += "\\r"
                case 0x09: text += "\\t"
                case 0x22, 0x5C: text += "\\" + String(UnicodeScalar(b))
                case 0x20...0x7E: text.append(Character(UnicodeScalar(b)))
                default: text += "\\x" + hex(b, 2)
                }
            }
            guard length > 0 else { lines.append("\(hex(a, 8)): not mapped"); break }
            lines.append("\(hex(a, 8)): \"\(text)\"\(terminated ? "" : "...")")
            a &+= UInt32(length)
        }
        return lines
    }

    /// `count` instructions from linear `address` (nil: CS:EIP), in the
    /// current code size unless `default32` says otherwise.
    public func disassemble(at address: UInt32?, count: Int, default32: Bool? = nil) -> [String] {
        let cs = cpu.segment(.cs).pointee
        let is32 = default32 ?? (cpu.protectedMode && !cpu.virtual8086 && cs.is32Bit)
        let csBase = UInt32(truncatingIfNeeded: cs.base)
        // From CS:EIP the listing shows offsets in CS, which is what
        // relative jumps are computed against; elsewhere linear addresses.
        var offset = address ?? cpu.eip
        var lines: [String] = []
        for _ in 0..<count {
            let linear = address == nil ? csBase &+ offset : offset
            guard let bytes = view.readLinear(linear, count: 15) ?? view.readLinear(linear, count: 1) else {
                lines.append("\(hex(linear, 8)): not mapped"); break
            }
            let (text, length) = Disassembler.disassemble(bytes, address: offset, default32: is32)
            let raw = bytes.prefix(length).map { hex($0, 2) }.joined()
            let label = address == nil ? "\(hex(cs.selector, 4)):\(hex(offset, is32 ? 8 : 4))" : hex(linear, 8)
            lines.append("\(label)  \(raw)\(String(repeating: " ", count: max(1, 17 - raw.count)))\(text)")
            offset &+= UInt32(max(1, length))
            if !is32 && address == nil { offset &= 0xFFFF }
        }
        return lines
    }
}
