import MMU

/// Linear page → host memory, for generated code: the one-compare access
/// path of a dynamic translator (QEMU keeps the same in its CPUTLBEntry).
///
/// An entry says "this linear page may be read (and/or written) at host
/// address linear + addend", with everything else already settled when it
/// was filled: the page walk and its permission bits (as the CPU's own TLB
/// granted them, the dirty bit included for writes), the A20 gate, the
/// route (RAM or ROM to read; plain RAM to write). So translated code
/// tests one tag and adds one word; whatever misses takes the helper,
/// which does the access the interpreter's way and fills the entry for
/// next time. A write entry for a RAM page holding cached code carries
/// `watchedWrite` in its tag: the one-compare path misses it, and the
/// recompiler's watched-page store stub stores through it only where the
/// bytes hold no code (a boot sector's stack shares its code's page).
///
/// Two tables, one per privilege class (CPL 3 uses the user one), so a
/// change of CPL needs no flush. Entries go when what they settled can
/// change: every flush of the CPU's TLB (MOV CR3, INVLPG, paging-mode
/// changes, the drop at a page fault), a change of the memory map or the
/// A20 gate (`checkMemoryMap`, polled by the engine between blocks), and,
/// for write entries, a page that starts holding cached code
/// (`PhysicalMemory.addCodeWatchObserver`), whose entries become watched.
public final class HostTLB {
    /// Layout shared with generated code: tags are linear page addresses
    /// (`invalid` never equals one), compared with the page of an access's
    /// last byte, so an access that crosses into the next page misses.
    public struct Entry {
        var readTag: UInt32
        var writeTag: UInt32
        var addend: UInt64
    }

    /// 2048 entries per table map 8 MiB: a Linux kernel's hot data.
    public static let entryCount = 2048
    public static let invalid: UInt32 = 1
    /// Set in a write tag (never in a page address, never in `invalid`)
    /// whose page holds cached code.
    public static let watchedWrite: UInt32 = 2
    public static let entryShift = 4
    public static let readTagOffset = MemoryLayout<Entry>.offset(of: \.readTag)!
    public static let writeTagOffset = MemoryLayout<Entry>.offset(of: \.writeTag)!
    public static let addendOffset = MemoryLayout<Entry>.offset(of: \.addend)!

    /// Supervisor entries, then user entries.
    private let entries: UnsafeMutablePointer<Entry>
    /// Per RAM page: some unwatched write entry may lead to it (so a page
    /// that starts holding code is looked for only where it can be found).
    private let writeMapped: UnsafeMutablePointer<Bool>
    private let ramPages: Int
    private let ram: UnsafeMutablePointer<UInt8>
    /// The memory map and A20 gate the entries were filled under.
    private var mapGeneration: UInt64
    private var a20Mask: UInt32

    init(memory: PhysicalMemory) {
        precondition(MemoryLayout<Entry>.stride == 1 << HostTLB.entryShift)
        entries = .allocate(capacity: 2 * HostTLB.entryCount)
        ramPages = memory.ramSize >> PhysicalMemory.pageShift
        ram = memory.ram
        writeMapped = .allocate(capacity: max(ramPages, 1))
        writeMapped.initialize(repeating: false, count: max(ramPages, 1))
        mapGeneration = memory.mapGeneration
        a20Mask = memory.a20Mask
        entries.initialize(repeating: Entry(readTag: HostTLB.invalid, writeTag: HostTLB.invalid, addend: 0),
                           count: 2 * HostTLB.entryCount)
    }

    deinit {
        entries.deallocate()
        writeMapped.deallocate()
    }

    /// The table generated code running at this privilege reads.
    public func table(user: Bool) -> UnsafeRawPointer {
        UnsafeRawPointer(entries + (user ? HostTLB.entryCount : 0))
    }

    @inline(__always)
    private func slot(_ linear: UInt32, user: Bool) -> UnsafeMutablePointer<Entry> {
        entries + (user ? HostTLB.entryCount : 0) + Int((linear >> 12) & UInt32(HostTLB.entryCount - 1))
    }

    func flush() {
        for k in 0..<2 * HostTLB.entryCount {
            entries[k].readTag = HostTLB.invalid
            entries[k].writeTag = HostTLB.invalid
        }
        writeMapped.update(repeating: false, count: ramPages)
    }

    /// The page holding `linear`, in both tables.
    func drop(page linear: UInt32) {
        let page = linear & 0xFFFF_F000
        for user in 0..<2 { // supervisor, user: no array per call (INVLPG of a large page calls this 1024 times)
            let e = slot(linear, user: user == 1)
            if e.pointee.readTag == page { e.pointee.readTag = HostTLB.invalid }
            if e.pointee.writeTag & ~HostTLB.watchedWrite == page { e.pointee.writeTag = HostTLB.invalid }
        }
    }

    /// Drops everything if the memory map or the A20 gate changed since
    /// the entries were filled. Engines call it where they start running
    /// generated code; fills call it first.
    public func checkMemoryMap(_ memory: PhysicalMemory) {
        guard memory.mapGeneration != mapGeneration || memory.a20Mask != a20Mask else { return }
        mapGeneration = memory.mapGeneration
        a20Mask = memory.a20Mask
        flush()
    }

    /// RAM page `page` now holds cached code: writes to it must check
    /// its code lines, so its write entries become watched.
    func watchWrites(ramPage page: Int) {
        guard page < ramPages, writeMapped[page] else { return }
        writeMapped[page] = false
        let host = UInt64(UInt(bitPattern: ram + (page << PhysicalMemory.pageShift)))
        for k in 0..<2 * HostTLB.entryCount where entries[k].writeTag & (HostTLB.invalid | HostTLB.watchedWrite) == 0
            && UInt64(entries[k].writeTag) &+ entries[k].addend == host {
            entries[k].writeTag |= HostTLB.watchedWrite
        }
    }

    /// Records how linear page `linear` reaches host memory at this
    /// privilege: `read` / `write` are the host page for each kind of
    /// access, nil where that kind must take the helper; `watched`: the
    /// write page holds cached code.
    func fill(_ linear: UInt32, user: Bool, read: UnsafeMutablePointer<UInt8>?,
              write: UnsafeMutablePointer<UInt8>?, watched: Bool) {
        let page = linear & 0xFFFF_F000
        // One addend per entry: where reads and writes land apart (PAM),
        // only reads go direct.
        let write = read == nil || read == write ? write : nil
        guard let host = read ?? write else { return }
        if let write, !watched {
            let ramPage = (write - ram) >> PhysicalMemory.pageShift
            if ramPage >= 0 && ramPage < ramPages { writeMapped[ramPage] = true }
        }
        slot(linear, user: user).pointee = Entry(readTag: read != nil ? page : HostTLB.invalid,
                                                 writeTag: write == nil ? HostTLB.invalid
                                                     : page | (watched ? HostTLB.watchedWrite : 0),
                                                 addend: UInt64(UInt(bitPattern: host)) &- UInt64(page))
    }
}

extension CPU {
    /// After a data access of `size` bytes at `offset` in `seg` succeeded:
    /// records in the host TLB how its linear page reaches host memory at
    /// the current CPL, as far as the CPU's own TLB already grants it (no
    /// walk, so no accessed or dirty bit is set here).
    public func fillHostTLB(_ seg: SegmentRegister, _ offset: UInt32, size: Int) {
        let linear = UInt32(truncatingIfNeeded: segment(seg).pointee.base) &+ offset
        guard Int(linear & 0xFFF) + size <= 4096 else { return }
        hostTLB.checkMemoryMap(memory)
        let user = state.pointee.cpl == 3
        var physical = linear & 0xFFFF_F000
        var writable = true
        if pagingEnabled {
            let e = tlb.slot(linear)
            let read = TranslationLookasideBuffer.requirement(MemoryAccess(write: false, user: user))
            let write = TranslationLookasideBuffer.requirement(MemoryAccess(write: true, user: user))
            guard e.pointee.tag == physical | TranslationLookasideBuffer.valid, e.pointee.flags & read == read else { return }
            physical = e.pointee.frame
            writable = e.pointee.flags & write == write
        }
        let pages = memory.directAccessPointers(page: (physical & memory.a20Mask) >> 12)
        hostTLB.fill(linear, user: user, read: pages.read, write: writable ? pages.write : nil, watched: pages.watched)
    }
}
