import CPU

/// The `info mem` summary: every present mapping of the current page
/// tables, coalesced into runs that are contiguous in both linear and
/// physical space and share their access rights.
///
/// It walks the tables the way `GuestMemoryView.walk` does (reading
/// through the memory map, setting no Accessed bits), but top-down over
/// the whole 4 GiB, visiting each table once instead of walking each page:
/// a 4 KiB-paged kernel's 1 GiB direct map is 256 Ki pages, one table
/// read per 1024 of them. Rights are those the walk would grant:
/// writable and user only if every level says so.
public struct MappedRange: Equatable {
    public var linear: UInt32
    public var physical: UInt64
    public var size: UInt64
    public var writable: Bool
    public var user: Bool
}

extension GuestMemoryView {
    /// The present mappings in linear order, coalesced; nil when paging is off.
    public func mappedRanges() -> [MappedRange]? {
        let s = cpu.state.pointee
        guard UInt32(truncatingIfNeeded: s.cr0) & CR0.pg != 0 else { return nil }
        let cr3 = UInt32(truncatingIfNeeded: s.cr3)
        let cr4 = UInt32(truncatingIfNeeded: s.cr4)
        var ranges: [MappedRange] = []
        func add(_ linear: UInt64, _ physical: UInt64, _ size: UInt64, _ rights: UInt64) {
            let r = MappedRange(linear: UInt32(truncatingIfNeeded: linear), physical: physical, size: size,
                                writable: rights & 2 != 0, user: rights & 4 != 0)
            if var last = ranges.last, UInt64(last.linear) + last.size == linear, last.physical + last.size == physical,
               last.writable == r.writable, last.user == r.user {
                last.size += size
                ranges[ranges.count - 1] = last
            } else {
                ranges.append(r)
            }
        }
        func read64(_ a: UInt32) -> UInt64 {
            UInt64(cpu.memory.read(a, size: 4)) | UInt64(cpu.memory.read(a &+ 4, size: 4)) << 32
        }
        if cr4 & CR4.pae != 0 {
            // PAE: four PDPTEs at CR3, without R/W or U/S bits (rights start
            // at the PDE). Long mode: the low 4 GiB, all the debugger's
            // addresses reach, are the first four entries of the PDPT the
            // first PML4 entry points to; those levels carry rights, and a
            // PDPTE may map a 1 GiB page.
            let longMode = s.efer & EFER.lma != 0
            var pdpt = cr3 & 0xFFFF_FFE0
            var upperRights: UInt64 = 6
            if longMode {
                let pml4e = read64(cr3 & 0xFFFF_F000)
                guard pml4e & 1 != 0, pml4e & 0x000F_FFFF_0000_0000 == 0 else { return ranges }
                pdpt = UInt32(truncatingIfNeeded: pml4e) & 0xFFFF_F000
                upperRights = pml4e
            }
            for p in 0..<4 {
                let pdpte = read64(pdpt &+ UInt32(p * 8))
                guard pdpte & 1 != 0 else { continue }
                let rights = longMode ? upperRights & pdpte : upperRights
                if longMode && pdpte & 0x80 != 0 {
                    add(UInt64(p) << 30, pdpte & 0xF_C000_0000, 1 << 30, rights)
                    continue
                }
                let directory = UInt32(truncatingIfNeeded: pdpte) & 0xFFFF_F000
                for d in 0..<512 {
                    let pde = read64(directory &+ UInt32(d * 8))
                    guard pde & 1 != 0 else { continue }
                    let base = UInt64(p) << 30 | UInt64(d) << 21
                    if pde & 0x80 != 0 {
                        add(base, pde & 0xF_FFE0_0000, 1 << 21, rights & pde)
                        continue
                    }
                    let table = UInt32(truncatingIfNeeded: pde) & 0xFFFF_F000
                    for t in 0..<512 {
                        let pte = read64(table &+ UInt32(t * 8))
                        guard pte & 1 != 0 else { continue }
                        add(base | UInt64(t) << 12, pte & 0xF_FFFF_F000, 4096, rights & pde & pte)
                    }
                }
            }
            return ranges
        }
        let directory = cr3 & 0xFFFF_F000
        for d in 0..<1024 {
            let pde = UInt64(cpu.memory.read(directory &+ UInt32(d * 4), size: 4))
            guard pde & 1 != 0 else { continue }
            let base = UInt64(d) << 22
            if cr4 & CR4.pse != 0 && pde & 0x80 != 0 {
                add(base, pde & 0xFFC0_0000, 1 << 22, pde)
                continue
            }
            let table = UInt32(pde) & 0xFFFF_F000
            for t in 0..<1024 {
                let pte = UInt64(cpu.memory.read(table &+ UInt32(t * 4), size: 4))
                guard pte & 1 != 0 else { continue }
                add(base | UInt64(t) << 12, pte & 0xFFFF_F000, 4096, pde & pte)
            }
        }
        return ranges
    }
}

extension Inspector {
    /// At most this many lines: a user process's scattered pages would
    /// otherwise flood the terminal.
    static let mappedRangeLines = 256

    public func mappedRanges() -> [String] {
        guard let ranges = view.mappedRanges() else { return ["paging is off: linear addresses are physical (A20 applied)"] }
        guard !ranges.isEmpty else { return ["no present mappings (cr3=\(hex(cpu.state.pointee.cr3, 8)))"] }
        var lines = ["linear              physical            size       rights  (cr3=\(hex(cpu.state.pointee.cr3, 8)))"]
        for r in ranges.prefix(Inspector.mappedRangeLines) {
            let end = UInt64(r.linear) + r.size - 1
            let size = r.size >= 1 << 20 && r.size % (1 << 20) == 0 ? "\(r.size >> 20) MiB" : "\(r.size >> 10) KiB"
            lines.append("\(hex(r.linear, 8))-\(hex(end, 8)) -> \(hex(r.physical, 8))-\(hex(r.physical + r.size - 1, 8)) \(size.padding(10)) \(r.user ? "U" : "S") \(r.writable ? "RW" : "R")")
        }
        if ranges.count > Inspector.mappedRangeLines { lines.append("... \(ranges.count - Inspector.mappedRangeLines) more ranges") }
        return lines
    }
}

extension String {
    func padding(_ width: Int) -> String { self + String(repeating: " ", count: max(0, width - count)) }
}
