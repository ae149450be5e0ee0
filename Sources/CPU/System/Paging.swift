import MMU

/// The processor's side of paging: a software TLB in front of `PageWalk`,
/// the PDPTE registers of PAE paging, and the invalidations the
/// architecture defines (SDM vol. 3, 4.10.4): MOV CR3 drops non-global
/// entries, INVLPG one page, CR0.PG/WP and CR4.PGE/PAE/PSE changes all.
///
/// The TLB is direct-mapped on the linear page number. Each entry keeps the
/// access rights already resolved into four permission bits, so a hit is
/// one tag compare and one mask test; a miss, a write to a page whose dirty
/// flag is not yet set, or a denied access walks the tables again (the walk
/// sets D, or raises the #PF with fresh rights).
final class TranslationLookasideBuffer {
    struct Entry {
        /// Linear page address | `valid`, or 0 when empty.
        var tag: UInt32
        var frame: UInt32
        var flags: UInt32
    }

    /// 1024 entries map 4 MiB of working set: enough for a BIOS or a boot
    /// loader, small enough that flushing is a short loop.
    static let entryCount = 1024
    static let valid: UInt32 = 1

    // Entry flags. The first four are what an access needs.
    static let userRead: UInt32 = 1 << 0
    static let userWrite: UInt32 = 1 << 1
    static let supervisorWrite: UInt32 = 1 << 2
    static let dirty: UInt32 = 1 << 3
    static let global: UInt32 = 1 << 4
    static let largePage: UInt32 = 1 << 5

    let entries: UnsafeMutablePointer<Entry>
    /// What generated code reads instead (HostTLB.swift): it settles no
    /// more than this TLB does, so it goes whenever entries here go.
    let host: HostTLB
    /// Whether any entry came from a 4 MiB / 2 MiB page: INVLPG must then
    /// drop every piece of that page, which may sit in other slots.
    private var holdsLargePages = false
    /// PDPTE registers, loaded at MOV CR3/CR0/CR4 in PAE mode.
    var pageDirectoryPointers = PageDirectoryPointers()
    /// Raised by every whole flush, and by INVLPG of a page that holds code
    /// an engine jumps to (`codeEntryPages`): while it holds still, such a
    /// page translates as it did (the guest must invalidate a translation
    /// it changes). At a fixed address, for generated code.
    let epoch: UnsafeMutablePointer<UInt64>
    /// The same for pages whose translation is global: raised by what can
    /// drop a global entry (a full flush, INVLPG of such a page), not by
    /// MOV CR3. A kernel's code is global and a CR3 write per context
    /// switch would otherwise send every link between its pages back
    /// through the dispatcher.
    let globalEpoch: UnsafeMutablePointer<UInt64>
    /// A bit per linear page: an engine has looked a block up there (ever:
    /// clearing them per flush would cost more than it saves). INVLPG of
    /// any other page (kmap, fixmap and vmalloc work: data) leaves the
    /// epoch, and with it the links between translated pages, alone.
    private let codeEntryPages: UnsafeMutablePointer<UInt64>
    private static let codeEntryWords = (1 << 20) / 64

    init(memory: PhysicalMemory) {
        host = HostTLB(memory: memory)
        entries = .allocate(capacity: TranslationLookasideBuffer.entryCount)
        entries.initialize(repeating: Entry(tag: 0, frame: 0, flags: 0), count: TranslationLookasideBuffer.entryCount)
        epoch = .allocate(capacity: 1)
        epoch.initialize(to: 0)
        globalEpoch = .allocate(capacity: 1)
        globalEpoch.initialize(to: 0)
        codeEntryPages = .allocate(capacity: TranslationLookasideBuffer.codeEntryWords)
        codeEntryPages.initialize(repeating: 0, count: TranslationLookasideBuffer.codeEntryWords)
    }

    deinit {
        entries.deallocate()
        epoch.deallocate()
        globalEpoch.deallocate()
        codeEntryPages.deallocate()
    }

    /// An engine relies on how the page holding `linear` translates now.
    @inline(__always)
    func noteCodeEntry(_ linear: UInt32) {
        codeEntryPages[Int(linear >> 18)] |= 1 << UInt64((linear >> 12) & 63)
    }

    /// Whether an engine relies on a page in the `pages` pages from `first`
    /// (a multiple of 64 when more than one).
    private func holdsCodeEntries(first: UInt32, pages: Int) -> Bool {
        if pages == 1 { return codeEntryPages[Int(first >> 6)] & 1 << UInt64(first & 63) != 0 }
        for word in Int(first >> 6)..<Int(first >> 6) + pages / 64 where codeEntryPages[word] != 0 { return true }
        return false
    }

    /// The epoch that code at `linear` stays where it is under: the global
    /// one when the TLB holds a global translation for its page.
    func epoch(forCodeAt linear: UInt32) -> UnsafeMutablePointer<UInt64> {
        let e = slot(linear)
        return TranslationLookasideBuffer.holds(e, linear) && e.pointee.flags & TranslationLookasideBuffer.global != 0
            ? globalEpoch : epoch
    }

    /// Whether `entry` is the valid translation of the page of `linear`.
    @inline(__always)
    static func holds(_ entry: UnsafeMutablePointer<Entry>, _ linear: UInt32) -> Bool {
        entry.pointee.tag == linear & 0xFFFF_F000 | valid
    }

    @inline(__always)
    func slot(_ linear: UInt32) -> UnsafeMutablePointer<Entry> {
        entries + Int((linear >> 12) & UInt32(TranslationLookasideBuffer.entryCount - 1))
    }

    /// The flags an access needs from an entry.
    @inline(__always)
    static func requirement(_ access: MemoryAccess) -> UInt32 {
        if access.user { return access.write ? userRead | userWrite | dirty : userRead }
        return access.write ? supervisorWrite | dirty : 0
    }

    func fill(_ linear: UInt32, _ t: PageTranslation, writeProtect: Bool) {
        var flags: UInt32 = 0
        if t.user { flags |= TranslationLookasideBuffer.userRead }
        if t.user && t.writable { flags |= TranslationLookasideBuffer.userWrite }
        if t.writable || !writeProtect { flags |= TranslationLookasideBuffer.supervisorWrite }
        if t.dirty { flags |= TranslationLookasideBuffer.dirty }
        if t.global { flags |= TranslationLookasideBuffer.global }
        if t.largePage { flags |= TranslationLookasideBuffer.largePage; holdsLargePages = true }
        slot(linear).pointee = Entry(tag: linear & 0xFFFF_F000 | TranslationLookasideBuffer.valid, frame: t.frame, flags: flags)
    }

    func flushAll() {
        epoch.pointee &+= 1
        globalEpoch.pointee &+= 1
        for k in 0..<TranslationLookasideBuffer.entryCount { entries[k].tag = 0 }
        holdsLargePages = false
        host.flush()
    }

    /// MOV CR3 and task switches: global translations survive.
    func flushNonGlobal() {
        epoch.pointee &+= 1
        for k in 0..<TranslationLookasideBuffer.entryCount where entries[k].flags & TranslationLookasideBuffer.global == 0 {
            entries[k].tag = 0
        }
        host.flush()
    }

    /// INVLPG: the page holding `linear`, global or not.
    func flush(page linear: UInt32) {
        // The page may be a piece of a large page (4 MiB, or 2 MiB with
        // PAE), whose other pieces the TLBs keep in slots of their own.
        let region: (first: UInt32, pages: Int) = holdsLargePages ? ((linear >> 22) << 10, 1024) : (linear >> 12, 1)
        if holdsCodeEntries(first: region.first, pages: region.pages) {
            epoch.pointee &+= 1
            globalEpoch.pointee &+= 1
        }
        if holdsLargePages {
            for page in region.first..<region.first + UInt32(region.pages) { host.drop(page: page << 12) }
        }
        drop(page: linear)
    }

    /// A page fault drops the entry for the page too, but leaves the epoch:
    /// a translation that failed was never cached by anyone, and a guest
    /// that turns a valid one into a failing one must invalidate it itself.
    func drop(page linear: UInt32) {
        let s = slot(linear)
        if s.pointee.tag & 0xFFFF_F000 == linear & 0xFFFF_F000 { s.pointee.tag = 0 }
        host.drop(page: linear)
        guard holdsLargePages else { return }
        // The large page's size is not kept: dropping every entry that came
        // from any large page is a superset of what must go.
        for k in 0..<TranslationLookasideBuffer.entryCount where entries[k].flags & TranslationLookasideBuffer.largePage != 0 {
            entries[k].tag = 0
        }
        holdsLargePages = false
    }
}

extension CPU {
    /// Linear → physical through the page tables (paging is on). A TLB hit
    /// costs a compare; a miss walks the tables. A fault sets CR2 and drops
    /// any TLB entry for the page.
    @inline(__always)
    func translate(_ linear: UInt32, _ access: MemoryAccess) throws(CPUFault) -> UInt32 {
        let e = tlb.slot(linear)
        let need = TranslationLookasideBuffer.requirement(access)
        if TranslationLookasideBuffer.holds(e, linear) && e.pointee.flags & need == need {
            return e.pointee.frame | (linear & 0xFFF)
        }
        return try translateMiss(linear, access)
    }

    @inline(never)
    func translateMiss(_ linear: UInt32, _ access: MemoryAccess) throws(CPUFault) -> UInt32 {
        let control = pagingControl
        do {
            let t = try PageWalk.translate(linear, PageAccess(write: access.write, user: access.user), control, memory)
            tlb.fill(linear, t, writeProtect: control.writeProtect)
            return t.frame | (linear & 0xFFF)
        } catch {
            tlb.drop(page: linear)
            state.pointee.cr2 = UInt64(linear)
            throw .pageFault(error.errorCode)
        }
    }

    /// Drops every cached translation (and raises the paging epoch): the
    /// paging state changed behind the CPU's back, as when KVM ran the guest.
    public func flushTLB() { tlb.flushAll() }

    /// What the walk reads from CR0, CR3, CR4 and the PDPTE registers.
    var pagingControl: PagingControl {
        let cr0 = UInt32(truncatingIfNeeded: state.pointee.cr0), cr4 = UInt32(truncatingIfNeeded: state.pointee.cr4)
        return PagingControl(cr3: UInt32(truncatingIfNeeded: state.pointee.cr3), pse: cr4 & CR4.pse != 0, pae: cr4 & CR4.pae != 0,
                             writeProtect: cr0 & CR0.wp != 0, globalPages: cr4 & CR4.pge != 0,
                             pageDirectoryPointers: tlb.pageDirectoryPointers)
    }

    /// Loads the PDPTE registers from CR3 when PAE paging is (becoming)
    /// active; #GP(0) if a present entry sets a reserved bit.
    func loadPageDirectoryPointers(cr3: UInt64) throws(CPUFault) {
        guard let pointers = PageWalk.loadPageDirectoryPointers(cr3: UInt32(truncatingIfNeeded: cr3), memory) else {
            throw .generalProtection(0)
        }
        tlb.pageDirectoryPointers = pointers
    }
}
