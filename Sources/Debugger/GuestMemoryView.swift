import CPU
import MMU

/// Guest memory as the debugger sees it: linear addresses through the
/// page tables the CPU is using now, physical addresses as the CPU sees them
/// (A20 applied).
///
/// The walk here is the debugger's own, not `PageWalk.translate`: a debugger
/// must not set Accessed/Dirty bits or fill the TLB when it merely looks, and
/// `info pg` wants every level's entry, not just the frame. PAE's PDPTEs are
/// read from the table CR3 points to (the CPU's cached copies differ only if
/// the guest edited that table without reloading CR3). In long mode (a
/// guest KVM runs) the walk has four levels.
public struct GuestMemoryView {
    public let cpu: CPU

    public init(cpu: CPU) { self.cpu = cpu }

    /// One level of a page walk: its name, where the entry lives, its value.
    public struct WalkStep: Equatable {
        public var level: String
        public var entryAddress: UInt32
        public var entry: UInt64
    }

    public struct Walk: Equatable {
        public var steps: [WalkStep] = []
        /// The physical address, or nil when a level is not present.
        public var physical: UInt32?
    }

    /// The page walk for `linear` under the current CR0/CR3/CR4.
    public func walk(_ linear: UInt32) -> Walk {
        let s = cpu.state.pointee
        var w = Walk()
        let mask = cpu.memory.a20Mask
        guard UInt32(truncatingIfNeeded: s.cr0) & CR0.pg != 0 else { w.physical = linear & mask; return w }
        if s.efer & EFER.lma != 0 { return longModeWalk(linear, cr3: s.cr3) }
        let cr3 = UInt32(truncatingIfNeeded: s.cr3)
        let cr4 = UInt32(truncatingIfNeeded: s.cr4)
        if cr4 & CR4.pae != 0 {
            let pdpteAddress = (cr3 & 0xFFFF_FFE0) &+ (linear >> 30) * 8
            let pdpte = read64(pdpteAddress)
            w.steps.append(WalkStep(level: "PDPTE", entryAddress: pdpteAddress, entry: pdpte))
            guard pdpte & 1 != 0 else { return w }
            let pdeAddress = UInt32(truncatingIfNeeded: pdpte) & 0xFFFF_F000 | (linear >> 18) & 0xFF8
            let pde = read64(pdeAddress)
            w.steps.append(WalkStep(level: "PDE", entryAddress: pdeAddress, entry: pde))
            guard pde & 1 != 0 else { return w }
            if pde & 0x80 != 0 {
                w.physical = (UInt32(truncatingIfNeeded: pde) & 0xFFE0_0000 | linear & 0x001F_FFFF) & mask
                return w
            }
            let pteAddress = UInt32(truncatingIfNeeded: pde) & 0xFFFF_F000 | (linear >> 9) & 0xFF8
            let pte = read64(pteAddress)
            w.steps.append(WalkStep(level: "PTE", entryAddress: pteAddress, entry: pte))
            guard pte & 1 != 0 else { return w }
            w.physical = (UInt32(truncatingIfNeeded: pte) & 0xFFFF_F000 | linear & 0xFFF) & mask
            return w
        }
        let pdeAddress = cr3 & 0xFFFF_F000 | (linear >> 20) & 0xFFC
        let pde = UInt64(cpu.memory.read(pdeAddress, size: 4))
        w.steps.append(WalkStep(level: "PDE", entryAddress: pdeAddress, entry: pde))
        guard pde & 1 != 0 else { return w }
        if cr4 & CR4.pse != 0 && pde & 0x80 != 0 {
            w.physical = (UInt32(truncatingIfNeeded: pde) & 0xFFC0_0000 | linear & 0x003F_FFFF) & mask
            return w
        }
        let pteAddress = UInt32(truncatingIfNeeded: pde) & 0xFFFF_F000 | (linear >> 10) & 0xFFC
        let pte = UInt64(cpu.memory.read(pteAddress, size: 4))
        w.steps.append(WalkStep(level: "PTE", entryAddress: pteAddress, entry: pte))
        guard pte & 1 != 0 else { return w }
        w.physical = (UInt32(truncatingIfNeeded: pte) & 0xFFFF_F000 | linear & 0xFFF) & mask
        return w
    }

    private func read64(_ a: UInt32) -> UInt64 {
        UInt64(cpu.memory.read(a, size: 4)) | UInt64(cpu.memory.read(a &+ 4, size: 4)) << 32
    }

    /// Long mode's four levels, 9 bits of the address each; a PS bit in a
    /// PDPTE (1 GiB page) or PDE (2 MiB page) ends the walk early. The
    /// debugger's linear addresses are the low 4 GiB of the 48-bit space,
    /// and a table or page above 4 GiB of physical memory is beyond what
    /// it reads (the walk stops there, unmapped).
    private func longModeWalk(_ linear: UInt32, cr3: UInt64) -> Walk {
        var w = Walk()
        let frameBits: UInt64 = 0x000F_FFFF_FFFF_F000
        var table = cr3 & frameBits
        let levels: [(name: String, shift: UInt64)] = [("PML4E", 39), ("PDPTE", 30), ("PDE", 21), ("PTE", 12)]
        for (depth, level) in levels.enumerated() {
            guard table >> 32 == 0 else { return w }
            let entryAddress = UInt32(table) | UInt32((UInt64(linear) >> level.shift) & 0x1FF) * 8
            let entry = read64(entryAddress)
            w.steps.append(WalkStep(level: level.name, entryAddress: entryAddress, entry: entry))
            guard entry & 1 != 0 else { return w }
            if depth == levels.count - 1 || (depth > 0 && entry & 0x80 != 0) {
                let offsetBits = UInt64(1) << level.shift - 1
                let physical = entry & frameBits & ~offsetBits | UInt64(linear) & offsetBits
                if physical >> 32 == 0 { w.physical = UInt32(physical) & cpu.memory.a20Mask }
                return w
            }
            table = entry & frameBits
        }
        return w
    }

    public func physical(ofLinear linear: UInt32) -> UInt32? { walk(linear).physical }

    /// `count` bytes from linear `address`, or nil if any page is unmapped.
    public func readLinear(_ address: UInt32, count: Int) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        var a = address
        var left = count
        while left > 0 {
            guard let pa = physical(ofLinear: a) else { return nil }
            let chunk = min(left, 4096 - Int(a & 0xFFF))
            out += readPhysical(pa, count: chunk)
            a &+= UInt32(chunk); left -= chunk
        }
        return out
    }

    /// Writes through the memory map (ROM stays unchanged, code-page
    /// watchers hear of it); false if any page is unmapped.
    public func writeLinear(_ address: UInt32, _ bytes: [UInt8]) -> Bool {
        var pages: [UInt32] = []
        var a = address
        for _ in bytes {
            guard let pa = physical(ofLinear: a) else { return false }
            pages.append(pa); a &+= 1
        }
        for (pa, b) in zip(pages, bytes) { cpu.memory.write(pa, size: 1, value: UInt32(b)) }
        return true
    }

    public func readPhysical(_ address: UInt32, count: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        for k in 0..<count {
            let a = address &+ UInt32(k)
            if let p = cpu.memory.hostPointer(forReading: a) { out.append(p.pointee) } else { out.append(UInt8(truncatingIfNeeded: cpu.memory.read(a, size: 1))) }
        }
        return out
    }

    /// The linear address of the next instruction (CS base + EIP).
    public var instructionPointerLinear: UInt32 {
        UInt32(truncatingIfNeeded: cpu.segment(.cs).pointee.base) &+ cpu.eip
    }
}
