/// The page-table walk of a P6: 32-bit paging (4 KiB pages, and 4 MiB pages
/// when CR4.PSE = 1) and PAE paging (3 levels, 2 MiB pages), per Intel SDM
/// vol. 3, chapter 4 (4.3, 4.4, 4.7 page-fault error codes, 4.8 accessed
/// and dirty flags).
///
/// Pure functions over `PhysicalMemory`: the walk reads the paging
/// structures, checks the access against them, and sets the accessed and
/// dirty flags in them. The processor's TLB (CPU/System/Paging.swift) calls
/// it on a miss and caches the result; nothing here is cached.
///
/// Physical addresses: PAE entries carry address bits 35:32 (MAXPHYADDR is
/// 36 on a P6, so only bits 63:36 are reserved), but this machine's
/// physical address space is 32 bits and memory above 4 GiB is not
/// modelled: bits 35:32 are dropped, so such an address aliases into the
/// low 4 GiB. (A 440-series host bridge would instead terminate the access
/// — reads return 0, writes are discarded.) Guests with less than 4 GiB
/// never map memory there. Accessed and dirty flags are set only when the
/// translation succeeds.
public enum PageWalk {
    /// Error-code bits of a page fault (SDM vol. 3, figure 4-12).
    public static let present: UInt32 = 1 << 0
    public static let write: UInt32 = 1 << 1
    public static let user: UInt32 = 1 << 2
    public static let reservedBit: UInt32 = 1 << 3

    // Entry bits shared by all levels.
    static let entryPresent: UInt64 = 1 << 0
    static let entryWritable: UInt64 = 1 << 1
    static let entryUser: UInt64 = 1 << 2
    static let entryAccessed: UInt64 = 1 << 5
    static let entryDirty: UInt64 = 1 << 6
    static let entryPageSize: UInt64 = 1 << 7
    static let entryGlobal: UInt64 = 1 << 8

    /// Reserved bits of a present entry. 32-bit 4 MiB PDE: bits 21:13 (no
    /// PSE-36; bit 12 is PAT). PAE: bits 63:36 everywhere, bits 20:13 of a
    /// 2 MiB PDE, bits 2:1 and 8:5 of a PDPTE.
    static let reserved4MiB: UInt64 = 0x003F_E000
    static let reservedPAE: UInt64 = 0xFFFF_FFF0_0000_0000
    static let reserved2MiB: UInt64 = reservedPAE | 0x001F_E000
    static let reservedPDPTE: UInt64 = reservedPAE | 0x1E6

    /// Translates `linear` for one access, or throws the page fault's error
    /// code. The caller sets CR2.
    public static func translate(_ linear: UInt32, _ access: PageAccess, _ control: PagingControl,
                                 _ memory: PhysicalMemory) throws(PageFault) -> PageTranslation {
        control.pae ? try walkPAE(linear, access, control, memory) : try walk32(linear, access, control, memory)
    }

    /// Loads the four PDPTEs from the 32-byte-aligned table CR3 points to
    /// (SDM 4.4.1): done by the MOV to CR0/CR3/CR4 that enables or
    /// reconfigures PAE paging. Nil when a present entry sets a reserved
    /// bit — the MOV then raises #GP(0) and loads nothing.
    public static func loadPageDirectoryPointers(cr3: UInt32, _ memory: PhysicalMemory) -> PageDirectoryPointers? {
        let table = cr3 & 0xFFFF_FFE0
        var entries = PageDirectoryPointers()
        for k in 0..<4 {
            let e = read64(memory, table &+ UInt32(k * 8))
            if e & entryPresent != 0 && e & reservedPDPTE != 0 { return nil }
            entries[k] = e
        }
        return entries
    }

    // MARK: - 32-bit paging (SDM 4.3)

    static func walk32(_ linear: UInt32, _ access: PageAccess, _ control: PagingControl,
                       _ memory: PhysicalMemory) throws(PageFault) -> PageTranslation {
        let pdeAddress = (control.cr3 & 0xFFFF_F000) | ((linear >> 20) & 0xFFC)
        let pde = UInt64(memory.read(pdeAddress, size: 4))
        guard pde & entryPresent != 0 else { throw fault(access, present: false) }
        if control.pse && pde & entryPageSize != 0 {
            if pde & reserved4MiB != 0 { throw fault(access, present: true, reserved: true) }
            try check(pde, access, control)
            setFlags(memory, pdeAddress, pde, dirty: access.write)
            return PageTranslation(frame: UInt32(truncatingIfNeeded: pde) & 0xFFC0_0000 | (linear & 0x003F_F000),
                                   rights: pde, leaf: pde, dirty: access.write, largePage: true, control)
        }
        let pteAddress = (UInt32(truncatingIfNeeded: pde) & 0xFFFF_F000) | ((linear >> 10) & 0xFFC)
        let pte = UInt64(memory.read(pteAddress, size: 4))
        guard pte & entryPresent != 0 else { throw fault(access, present: false) }
        let rights = pde & pte
        try check(rights, access, control)
        setFlags(memory, pdeAddress, pde, dirty: false)
        setFlags(memory, pteAddress, pte, dirty: access.write)
        return PageTranslation(frame: UInt32(truncatingIfNeeded: pte) & 0xFFFF_F000,
                               rights: rights, leaf: pte, dirty: access.write, largePage: false, control)
    }

    // MARK: - PAE paging (SDM 4.4)

    static func walkPAE(_ linear: UInt32, _ access: PageAccess, _ control: PagingControl,
                        _ memory: PhysicalMemory) throws(PageFault) -> PageTranslation {
        let pdpte = control.pageDirectoryPointers[Int(linear >> 30)]
        guard pdpte & entryPresent != 0 else { throw fault(access, present: false) }
        let pdeAddress = (UInt32(truncatingIfNeeded: pdpte) & 0xFFFF_F000) | ((linear >> 18) & 0xFF8)
        let pde = read64(memory, pdeAddress)
        guard pde & entryPresent != 0 else { throw fault(access, present: false) }
        if pde & entryPageSize != 0 {
            if pde & reserved2MiB != 0 { throw fault(access, present: true, reserved: true) }
            try check(pde, access, control)
            setFlags(memory, pdeAddress, pde, dirty: access.write)
            return PageTranslation(frame: UInt32(truncatingIfNeeded: pde) & 0xFFE0_0000 | (linear & 0x001F_F000),
                                   rights: pde, leaf: pde, dirty: access.write, largePage: true, control)
        }
        if pde & reservedPAE != 0 { throw fault(access, present: true, reserved: true) }
        let pteAddress = (UInt32(truncatingIfNeeded: pde) & 0xFFFF_F000) | ((linear >> 9) & 0xFF8)
        let pte = read64(memory, pteAddress)
        guard pte & entryPresent != 0 else { throw fault(access, present: false) }
        if pte & reservedPAE != 0 { throw fault(access, present: true, reserved: true) }
        let rights = pde & pte
        try check(rights, access, control)
        setFlags(memory, pdeAddress, pde, dirty: false)
        setFlags(memory, pteAddress, pte, dirty: access.write)
        return PageTranslation(frame: UInt32(truncatingIfNeeded: pte) & 0xFFFF_F000,
                               rights: rights, leaf: pte, dirty: access.write, largePage: false, control)
    }

    // MARK: - Shared steps

    /// Access rights (SDM 4.6): user accesses need U/S = 1 at every level,
    /// and R/W = 1 to write; supervisor writes need R/W = 1 only when
    /// CR0.WP = 1. `rights` is the AND of the entries' R/W and U/S bits.
    @inline(__always)
    static func check(_ rights: UInt64, _ access: PageAccess, _ control: PagingControl) throws(PageFault) {
        if access.user {
            if rights & entryUser == 0 || (access.write && rights & entryWritable == 0) {
                throw fault(access, present: true)
            }
        } else if access.write && control.writeProtect && rights & entryWritable == 0 {
            throw fault(access, present: true)
        }
    }

    @inline(__always)
    static func fault(_ access: PageAccess, present: Bool, reserved: Bool = false) -> PageFault {
        var code: UInt32 = present ? PageWalk.present : 0
        if access.write { code |= PageWalk.write }
        if access.user { code |= PageWalk.user }
        if reserved { code |= reservedBit }
        return PageFault(errorCode: code)
    }

    /// Sets the accessed flag (and the dirty flag of a leaf that is written)
    /// in the entry's low dword, if not already set.
    @inline(__always)
    static func setFlags(_ memory: PhysicalMemory, _ address: UInt32, _ entry: UInt64, dirty: Bool) {
        let wanted = entryAccessed | (dirty ? entryDirty : 0)
        if entry & wanted != wanted {
            memory.write(address, size: 4, value: UInt32(truncatingIfNeeded: entry | wanted))
        }
    }

    @inline(__always)
    static func read64(_ memory: PhysicalMemory, _ address: UInt32) -> UInt64 {
        UInt64(memory.read(address, size: 4)) | UInt64(memory.read(address &+ 4, size: 4)) << 32
    }
}

/// One access as paging sees it.
public struct PageAccess: Equatable {
    public var write: Bool
    /// A CPL-3 access to a non-system structure.
    public var user: Bool
    public init(write: Bool, user: Bool) { self.write = write; self.user = user }
}

/// The control-register state a walk depends on.
public struct PagingControl {
    /// CR3: page-directory base (32-bit paging) or PDPT base (PAE).
    public var cr3: UInt32
    /// CR4.PSE: 4 MiB pages in 32-bit paging (PAE always allows 2 MiB pages).
    public var pse: Bool
    public var pae: Bool
    /// CR0.WP: supervisor writes honour read-only pages.
    public var writeProtect: Bool
    /// CR4.PGE: the G flag of a leaf entry makes the translation global.
    public var globalPages: Bool
    /// The PDPTE registers (PAE), loaded when CR3 was last written.
    public var pageDirectoryPointers: PageDirectoryPointers

    public init(cr3: UInt32, pse: Bool, pae: Bool, writeProtect: Bool, globalPages: Bool,
                pageDirectoryPointers: PageDirectoryPointers = PageDirectoryPointers()) {
        self.cr3 = cr3; self.pse = pse; self.pae = pae; self.writeProtect = writeProtect
        self.globalPages = globalPages; self.pageDirectoryPointers = pageDirectoryPointers
    }
}

/// The four PDPTE registers of PAE paging.
public struct PageDirectoryPointers: Equatable {
    public var entries: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    public init() {}
    public subscript(_ k: Int) -> UInt64 {
        get {
            switch k & 3 {
            case 0: return entries.0
            case 1: return entries.1
            case 2: return entries.2
            default: return entries.3
            }
        }
        set {
            switch k & 3 {
            case 0: entries.0 = newValue
            case 1: entries.1 = newValue
            case 2: entries.2 = newValue
            default: entries.3 = newValue
            }
        }
    }
    public static func == (a: PageDirectoryPointers, b: PageDirectoryPointers) -> Bool {
        a.entries == b.entries
    }
}

/// A successful walk: where the 4 KiB page holding the linear address is,
/// and what accesses the entries allow (what a TLB entry keeps).
public struct PageTranslation: Equatable {
    /// Physical address of the 4 KiB frame (of a large page, the 4 KiB part
    /// that holds the linear address).
    public var frame: UInt32
    /// R/W = 1 at every level.
    public var writable: Bool
    /// U/S = 1 at every level.
    public var user: Bool
    /// G = 1 in the leaf and CR4.PGE = 1.
    public var global: Bool
    /// The leaf's dirty flag is set (so writes need no walk).
    public var dirty: Bool
    /// Mapped by a 4 MiB or 2 MiB page.
    public var largePage: Bool

    public init(frame: UInt32, writable: Bool, user: Bool, global: Bool, dirty: Bool, largePage: Bool) {
        self.frame = frame; self.writable = writable; self.user = user
        self.global = global; self.dirty = dirty; self.largePage = largePage
    }

    init(frame: UInt32, rights: UInt64, leaf: UInt64, dirty: Bool, largePage: Bool, _ control: PagingControl) {
        self.init(frame: frame, writable: rights & PageWalk.entryWritable != 0, user: rights & PageWalk.entryUser != 0,
                  global: control.globalPages && leaf & PageWalk.entryGlobal != 0,
                  dirty: dirty || leaf & PageWalk.entryDirty != 0, largePage: largePage)
    }
}

/// A page fault found by the walk: the error code (P, W/R, U/S, RSVD).
public struct PageFault: Error, Equatable {
    public var errorCode: UInt32
    public init(errorCode: UInt32) { self.errorCode = errorCode }
}
