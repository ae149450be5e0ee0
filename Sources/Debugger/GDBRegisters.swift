import CPU

/// The register file gdb sees, in the order of the target description gdb
/// fetches with `qXfer:features:read:target.xml`.
///
/// One 32-bit i386 layout serves every mode the CPU can be in (real,
/// virtual-8086, 16- and 32-bit protected), so the description never has
/// to change under gdb's feet: in real mode EIP holds IP and the segment
/// registers hold the real-mode selectors. The core feature is gdb's own
/// `org.gnu.gdb.i386.core` (gdb requires its x87 part too); the system
/// registers come in a feature of ours, which gdb shows under `info
/// registers system`.
enum GDBRegisters {
    struct Register {
        let name: String
        let bytes: Int
        let type: String
        let group: String?
    }

    static let general: [Register] =
        ["eax", "ecx", "edx", "ebx"].map { Register(name: $0, bytes: 4, type: "int32", group: nil) } +
        [Register(name: "esp", bytes: 4, type: "data_ptr", group: nil), Register(name: "ebp", bytes: 4, type: "data_ptr", group: nil)] +
        ["esi", "edi"].map { Register(name: $0, bytes: 4, type: "int32", group: nil) } +
        [Register(name: "eip", bytes: 4, type: "code_ptr", group: nil), Register(name: "eflags", bytes: 4, type: "int32", group: nil)] +
        ["cs", "ss", "ds", "es", "fs", "gs"].map { Register(name: $0, bytes: 4, type: "int32", group: nil) } +
        (0..<8).map { Register(name: "st\($0)", bytes: 10, type: "i387_ext", group: nil) } +
        ["fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop"].map { Register(name: $0, bytes: 4, type: "int", group: "float") }
    static let system: [Register] =
        ["cr0", "cr2", "cr3", "cr4", "efer"].map { Register(name: $0, bytes: 4, type: "int32", group: "system") }
    static let all = general + system

    /// gdb's segment register order; CPUState's is ES, CS, SS, DS, FS, GS.
    static let segmentOrder: [SegmentRegister] = [.cs, .ss, .ds, .es, .fs, .gs]

    static let targetXML: String = {
        func line(_ r: Register) -> String {
            "<reg name=\"\(r.name)\" bitsize=\"\(r.bytes * 8)\" type=\"\(r.type)\"\(r.group.map { " group=\"\($0)\"" } ?? "")/>"
        }
        return """
        <?xml version="1.0"?>
        <!DOCTYPE target SYSTEM "gdb-target.dtd">
        <target version="1.0">
        <architecture>i386</architecture>
        <feature name="org.gnu.gdb.i386.core">
        \(general.map(line).joined(separator: "\n"))
        </feature>
        <feature name="org.novabox.i386.system">
        \(system.map(line).joined(separator: "\n"))
        </feature>
        </target>
        """
    }()

    // MARK: - Values

    private static func fpuArea(_ cpu: CPU) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(cpu.state) + MemoryLayout<CPUState>.offset(of: \CPUState.fpu)! + MemoryLayout<FPUState>.offset(of: \FPUState.area)!
    }

    /// The x87 stack top (FSW bits 11–13): ST(i) is physical register TOP+i.
    private static func top(_ cpu: CPU) -> Int { Int(fpuArea(cpu).load(fromByteOffset: 2, as: UInt16.self) >> 11) & 7 }

    /// Byte offsets in the FXSAVE image of fctrl … fop, and their widths.
    private static let fpuControl: [(offset: Int, bytes: Int)] = [(0, 2), (2, 2), (-1, 2), (12, 2), (8, 4), (20, 2), (16, 4), (6, 2)]

    private static func littleEndian(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    private static func value(_ b: [UInt8]) -> UInt64 { b.enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * $1.offset) } }

    static func read(_ cpu: CPU, _ n: Int) -> [UInt8]? {
        let s = cpu.state.pointee
        switch n {
        case 0..<8: return littleEndian(UInt64(cpu.reg32(UInt8(n))), 4)
        case 8: return littleEndian(UInt64(cpu.eip), 4)
        case 9: return littleEndian(UInt64(s.eflags), 4)
        case 10..<16: return littleEndian(UInt64(cpu.segment(segmentOrder[n - 10]).pointee.selector), 4)
        case 16..<24:
            let physical = (top(cpu) + n - 16) & 7
            let p = fpuArea(cpu) + 32 + 16 * physical
            return (0..<10).map { p.load(fromByteOffset: $0, as: UInt8.self) }
        case 24..<32:
            if n == 26 { return littleEndian(UInt64(s.fpu.tags), 4) }
            let f = fpuControl[n - 24]
            let p = fpuArea(cpu) + f.offset
            return littleEndian(f.bytes == 2 ? UInt64(p.load(as: UInt16.self)) : UInt64(p.loadUnaligned(as: UInt32.self)), 4)
        case 32: return littleEndian(s.cr0, 4)
        case 33: return littleEndian(s.cr2, 4)
        case 34: return littleEndian(s.cr3, 4)
        case 35: return littleEndian(s.cr4, 4)
        case 36: return littleEndian(s.efer, 4)
        default: return nil
        }
    }

    /// Writes register `n`; false when the register cannot take that value
    /// from a debugger: a segment register in protected mode (loading one
    /// means a descriptor-table access with its checks — change the
    /// selector from guest code instead), and the system registers, whose
    /// writes have side effects only the MOV to CRn implements.
    static func write(_ cpu: CPU, _ n: Int, _ bytes: [UInt8]) -> Bool {
        guard n >= 0 && n < all.count, bytes.count == all[n].bytes else { return false }
        let v = value(bytes)
        switch n {
        // A 64-bit guest's registers show their low halves here: a value
        // written back unchanged (gdb's `G` sends them all) keeps the upper
        // half; a new one is zero-extended, as a 32-bit MOV does.
        case 0..<8 where cpu.reg32(UInt8(n)) != UInt32(truncatingIfNeeded: v): cpu.setReg32(UInt8(n), UInt32(truncatingIfNeeded: v))
        case 8 where cpu.eip != UInt32(truncatingIfNeeded: v): cpu.eip = UInt32(truncatingIfNeeded: v)
        case 0...8: break
        case 9:
            // Reserved bits keep their fixed values (bit 1 set, 3/5/15 and 22+ clear).
            cpu.state.pointee.eflags = UInt32(truncatingIfNeeded: v) & 0x003F_7FD5 | EFLAGS.fixed1
        case 10..<16:
            let seg = cpu.segment(segmentOrder[n - 10])
            let selector = UInt16(truncatingIfNeeded: v)
            if selector == seg.pointee.selector { return true }
            guard !cpu.protectedMode || cpu.virtual8086 else { return false }
            seg.pointee.selector = selector
            seg.pointee.base = UInt64(selector) << 4
        case 16..<24:
            let p = fpuArea(cpu) + 32 + 16 * ((top(cpu) + n - 16) & 7)
            for (k, b) in bytes.enumerated() { p.storeBytes(of: b, toByteOffset: k, as: UInt8.self) }
        case 24..<32:
            if n == 26 { cpu.state.pointee.fpu.tags = UInt16(truncatingIfNeeded: v); return true }
            let f = fpuControl[n - 24]
            let p = fpuArea(cpu) + f.offset
            if f.bytes == 2 { p.storeBytes(of: UInt16(truncatingIfNeeded: v), as: UInt16.self) } else { p.storeBytes(of: UInt32(truncatingIfNeeded: v), as: UInt32.self) }
        default:
            return read(cpu, n) == bytes
        }
        return true
    }
}
