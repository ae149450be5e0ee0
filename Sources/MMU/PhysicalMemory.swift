import Glibc

/// A device that answers guest physical accesses in an MMIO range.
/// Offsets are relative to the start of the mapped range.
public protocol MMIOHandler: AnyObject {
    func mmioRead(offset: UInt32, size: Int) -> UInt32
    func mmioWrite(offset: UInt32, size: Int, value: UInt32)
}

/// The guest physical address space of a PC (32-bit physical addresses).
///
/// Guest RAM is one anonymous host `mmap` for the life of the machine: the
/// interpreter, the recompiler and KVM memory slots all use it in place.
/// ROM images and device memory (VGA/VBE video RAM) live in a second host
/// region, the arena, reserved once so its pointers never move.
///
/// Every 4 KiB physical page has a read route and a write route, each a
/// 32-bit entry: a host page inside RAM (`ramRoute(page)`), inside the ROM
/// arena (`romRoute(page)`), an MMIO handler (`mmioRoute(index)`), or
/// `unmapped`. Reads of unmapped memory return all ones and writes are
/// dropped, as on a PC. Routes for the whole 4 GiB cost 8 MiB of tables and
/// keep the fast path to one load and one compare.
///
/// Code-page tracking: an engine that caches decoded or translated guest
/// code (the interpreter's block cache, later the recompiler) must learn of
/// every change to the bytes it cached and to the routes that led it there.
/// Cached code lives in host pages — RAM pages, and arena pages holding ROM
/// images — numbered by `codePage(forReading:)`. Per host page this class
/// keeps which 64-byte lines hold cached code (`codeLines`) and a
/// generation (`codeGenerations`). A write that lands on a watched line —
/// by the CPU through `write`, by a device or DMA through `write`/`copyIn`,
/// or through a page-table A/D update — makes the page's cached code stale:
/// its generation goes up, its lines are forgotten, and `codeEpoch` goes
/// up. A change of the memory map or of the A20 gate also raises
/// `codeEpoch`, since the same address may now reach other bytes. Engines
/// check the generation when they reuse cached code and poll `codeEpoch`
/// while they run it. Devices that write RAM through
/// `hostPointer(forWriting:)` must first ask `isWatched` and take `write`
/// for watched pages; device memory in the arena (video RAM) is written by
/// its device directly and is therefore never cached as code.
public final class PhysicalMemory {
    public static let pageShift = 12
    public static let pageSize = 1 << pageShift
    static let pageCount = 1 << (32 - pageShift)

    /// Route encodings.
    public static let unmapped: UInt32 = 0xFFFF_FFFF
    @usableFromInline static let mmioFlag: UInt32 = 0x8000_0000
    @usableFromInline static let arenaFlag: UInt32 = 0x4000_0000

    public let ram: UnsafeMutablePointer<UInt8>
    public let ramSize: Int
    /// ROM images and device memory; reserved up front, filled in order.
    public let arena: UnsafeMutablePointer<UInt8>
    public private(set) var arenaUsed: Int = 0
    public static let arenaCapacity = 256 << 20

    public let readRoutes: UnsafeMutablePointer<UInt32>
    public let writeRoutes: UnsafeMutablePointer<UInt32>
    private var mmioHandlers: [(base: UInt32, handler: MMIOHandler)] = []

    /// Bit 20 of every physical address is ANDed with this mask (0 while the
    /// A20 gate is closed). Only the CPU's accesses are masked, as on a PC.
    public var a20Mask: UInt32 = 0xFFFF_FFFF {
        didSet { if a20Mask != oldValue { codeEpoch &+= 1 } }
    }

    // MARK: Code-page tracking (see the type's comment)

    /// Raised whenever cached code may have gone stale: a write to a watched
    /// line, any memory-map change, an A20 toggle.
    public private(set) var codeEpoch: UInt64 = 0
    /// Also told, with the RAM page number, when a write makes a RAM page's
    /// cached code stale (for engines that drop their code eagerly).
    public var onCodePageWrite: ((UInt32) -> Void)? = nil
    /// Per code page: bit k set when bytes 64k…64k+63 hold cached code.
    public let codeLines: UnsafeMutablePointer<UInt64>
    /// Per code page: raised each time the page's cached code goes stale.
    public let codeGenerations: UnsafeMutablePointer<UInt64>
    /// RAM pages, then arena pages. (Generations are 64-bit so they never
    /// wrap back to a value a stale block holds.)
    public let codePageCount: Int
    /// Per arena page: 1 when it is device memory (written by its device
    /// behind the memory map's back, so never cached as code).
    @usableFromInline let arenaDeviceMemory: UnsafeMutablePointer<UInt8>
    /// One byte per arena page, set to `deviceMemoryWritten` by every write
    /// that reaches device memory (a linear framebuffer) through this map:
    /// `write`, the bulk copies, and `hostPointer(forWriting:)`, whose
    /// callers write the page right after. The device owning the memory
    /// reads and clears its part (the VGA, to redraw only what changed);
    /// it may keep finer detail in the bits of its own writes.
    public let deviceMemoryWrites: UnsafeMutablePointer<UInt8>
    public static let deviceMemoryWritten: UInt8 = 0xFF
    private let trackingBytes: Int
    private let trackingBase: UnsafeMutableRawPointer

    public enum Failure: Error, CustomStringConvertible {
        case cannotAllocate(Int)
        public var description: String {
            switch self {
            case .cannotAllocate(let n): return "cannot reserve \(n >> 20) MiB of host memory for guest RAM"
            }
        }
    }

    /// Creates `ramSize` bytes of zeroed guest RAM, all of it mapped at
    /// physical address 0 (the machine punches the legacy holes afterwards).
    public init(ramSize: Int) throws {
        precondition(ramSize % PhysicalMemory.pageSize == 0)
        guard let p = mmap(nil, ramSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
              p != MAP_FAILED else { throw Failure.cannotAllocate(ramSize) }
        ram = p.assumingMemoryBound(to: UInt8.self)
        self.ramSize = ramSize
        guard let a = mmap(nil, PhysicalMemory.arenaCapacity, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0), a != MAP_FAILED else {
            munmap(p, ramSize)
            throw Failure.cannotAllocate(PhysicalMemory.arenaCapacity)
        }
        arena = a.assumingMemoryBound(to: UInt8.self)
        readRoutes = .allocate(capacity: PhysicalMemory.pageCount)
        writeRoutes = .allocate(capacity: PhysicalMemory.pageCount)
        readRoutes.initialize(repeating: PhysicalMemory.unmapped, count: PhysicalMemory.pageCount)
        writeRoutes.initialize(repeating: PhysicalMemory.unmapped, count: PhysicalMemory.pageCount)
        // The tracking tables come zeroed from mmap and cost host memory
        // only where code is cached (3 GiB of RAM would otherwise pin 10 MiB).
        let arenaPages = PhysicalMemory.arenaCapacity >> PhysicalMemory.pageShift
        codePageCount = (ramSize >> PhysicalMemory.pageShift) + arenaPages
        trackingBytes = codePageCount * 2 * MemoryLayout<UInt64>.stride + 2 * arenaPages
        guard let t = mmap(nil, trackingBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
              t != MAP_FAILED else {
            munmap(p, ramSize)
            munmap(a, PhysicalMemory.arenaCapacity)
            readRoutes.deallocate()
            writeRoutes.deallocate()
            throw Failure.cannotAllocate(trackingBytes)
        }
        trackingBase = t
        codeLines = t.bindMemory(to: UInt64.self, capacity: codePageCount)
        codeGenerations = (t + codePageCount * 8).bindMemory(to: UInt64.self, capacity: codePageCount)
        arenaDeviceMemory = (t + codePageCount * 16).bindMemory(to: UInt8.self, capacity: arenaPages)
        deviceMemoryWrites = (t + codePageCount * 16 + arenaPages).bindMemory(to: UInt8.self, capacity: arenaPages)
        mapRAM(at: 0, size: UInt32(truncatingIfNeeded: ramSize))
    }

    deinit {
        munmap(ram, ramSize)
        munmap(arena, PhysicalMemory.arenaCapacity)
        readRoutes.deallocate()
        writeRoutes.deallocate()
        munmap(trackingBase, trackingBytes)
    }

    /// Bytes of guest RAM the host has actually backed (pages touched).
    public func residentRAMBytes() -> Int {
        let pages = ramSize >> PhysicalMemory.pageShift
        var vec = [UInt8](repeating: 0, count: pages)
        guard mincore(ram, ramSize, &vec) == 0 else { return 0 }
        return vec.reduce(0) { $0 + Int($1 & 1) } << PhysicalMemory.pageShift
    }

    // MARK: - The memory map

    /// Maps guest RAM 1:1 (guest physical `start` is RAM offset `start`).
    public func mapRAM(at start: UInt32, size: UInt32) {
        forEachPage(start, size) { page in
            readRoutes[Int(page)] = page
            writeRoutes[Int(page)] = page
        }
    }

    /// Maps RAM at a different RAM offset (e.g. memory above the PCI hole).
    public func mapRAM(at start: UInt32, size: UInt32, ramOffset: Int) {
        let delta = UInt32(ramOffset >> PhysicalMemory.pageShift) &- (start >> 12)
        forEachPage(start, size) { page in
            readRoutes[Int(page)] = page &+ delta
            writeRoutes[Int(page)] = page &+ delta
        }
    }

    /// Reserves `size` bytes (rounded up to pages) of the arena, filled with
    /// `fill`, and returns its offset. The memory stays at
    /// `arena + offset` for the life of the machine.
    public func allocateArena(_ size: Int, fill: UInt8 = 0) -> Int {
        let rounded = (size + PhysicalMemory.pageSize - 1) & ~(PhysicalMemory.pageSize - 1)
        precondition(arenaUsed + rounded <= PhysicalMemory.arenaCapacity, "device memory arena exhausted")
        let offset = arenaUsed
        (arena + offset).initialize(repeating: fill, count: rounded)
        arenaUsed += rounded
        return offset
    }

    /// Copies a ROM image into the arena and returns its offset.
    public func addROM(_ image: [UInt8]) -> Int {
        let offset = allocateArena(image.count, fill: 0xFF)
        image.withUnsafeBufferPointer { (arena + offset).update(from: $0.baseAddress!, count: image.count) }
        return offset
    }

    /// Maps device memory from the arena (e.g. a linear framebuffer):
    /// reads and writes go straight to host memory.
    public func mapDeviceMemory(at start: UInt32, size: UInt32, arenaOffset: Int) {
        let first = UInt32(arenaOffset >> PhysicalMemory.pageShift) &- (start >> 12)
        forEachPage(start, size) { page in
            readRoutes[Int(page)] = PhysicalMemory.arenaFlag | (page &+ first)
            writeRoutes[Int(page)] = PhysicalMemory.arenaFlag | (page &+ first)
            arenaDeviceMemory[Int(page &+ first)] = 1
        }
    }

    /// Makes `[start, start+size)` read from the ROM arena at `romOffset`;
    /// writes are dropped.
    public func mapROM(at start: UInt32, size: UInt32, romOffset: Int) {
        let first = UInt32(romOffset >> PhysicalMemory.pageShift) &- (start >> 12)
        forEachPage(start, size) { page in
            readRoutes[Int(page)] = PhysicalMemory.arenaFlag | (page &+ first)
            writeRoutes[Int(page)] = PhysicalMemory.unmapped
        }
    }

    /// Routes a range to an MMIO handler. Offsets seen by the handler are
    /// relative to `start`. Mapping the same handler at the same base again
    /// (a PCI BAR written back, decoding toggled, a window reopened) reuses
    /// its slot, so a guest cannot grow the handler table by repeating it.
    public func mapMMIO(at start: UInt32, size: UInt32, handler: MMIOHandler) {
        let index: UInt32
        if let existing = mmioHandlers.firstIndex(where: { $0.base == start && $0.handler === handler }) {
            index = UInt32(existing)
        } else {
            index = UInt32(mmioHandlers.count)
            mmioHandlers.append((start, handler))
        }
        forEachPage(start, size) { page in
            readRoutes[Int(page)] = PhysicalMemory.mmioFlag | index
            writeRoutes[Int(page)] = PhysicalMemory.mmioFlag | index
        }
    }

    public func unmap(at start: UInt32, size: UInt32) {
        forEachPage(start, size) { page in
            readRoutes[Int(page)] = PhysicalMemory.unmapped
            writeRoutes[Int(page)] = PhysicalMemory.unmapped
        }
    }

    /// Sets reads and writes of one range separately, as the i440FX PAM
    /// registers do for C0000–FFFFF: each direction goes to RAM or to the
    /// ROM copy at `romOffset` (reads) / is dropped (writes).
    public func mapShadow(at start: UInt32, size: UInt32, readRAM: Bool, writeRAM: Bool, romOffset: Int?) {
        forEachPage(start, size) { page in
            if readRAM {
                readRoutes[Int(page)] = page
            } else if let romOffset {
                let romPage = UInt32(romOffset >> 12) &+ (page &- (start >> 12))
                readRoutes[Int(page)] = PhysicalMemory.arenaFlag | romPage
            } else {
                readRoutes[Int(page)] = PhysicalMemory.unmapped
            }
            writeRoutes[Int(page)] = writeRAM ? page : PhysicalMemory.unmapped
        }
    }

    /// Every map change goes through here, so every one raises `codeEpoch`:
    /// code cached from the old route is no longer what the address reads.
    /// The code a page's old route led to goes stale as well (its
    /// generation goes up): code cached from it may be reached by a
    /// chained jump that checks nothing but that generation.
    private func forEachPage(_ start: UInt32, _ size: UInt32, _ body: (UInt32) -> Void) {
        precondition(start & 0xFFF == 0 && size & 0xFFF == 0)
        codeEpoch &+= 1
        mapGeneration &+= 1
        var page = start >> 12
        let end = UInt64(start) + UInt64(size)
        while UInt64(page) << 12 < end {
            if let old = codePage(forReading: page << 12), codeLines[old] != 0 { codeWentStale(old) }
            body(page)
            page += 1
        }
    }

    /// Counts changes of the memory map (PAM, BARs, windows), so an engine
    /// that mirrors it elsewhere (KVM memory slots) knows when to redo it.
    public private(set) var mapGeneration: UInt64 = 0

    /// How the CPU reaches physical page `page` when reads can go straight
    /// to host memory: the host page and whether writes may land there too
    /// (false: ROM, whose writes are dropped, and device memory such as a
    /// linear framebuffer, whose writes must come through `write` so its
    /// device hears of them). Nil where an access must be handled one by
    /// one (MMIO, unmapped, or reads and writes routed to different places,
    /// as PAM can set them).
    public func directMapping(page: UInt32) -> (host: UnsafeMutablePointer<UInt8>, writable: Bool)? {
        let r = readRoutes[Int(page)], w = writeRoutes[Int(page)]
        guard r & PhysicalMemory.mmioFlag == 0, let host = route(r, page << 12) else { return nil }
        if w == r { return (host, r & PhysicalMemory.arenaFlag == 0 || arenaDeviceMemory[Int(r & ~PhysicalMemory.arenaFlag)] == 0) }
        if w == PhysicalMemory.unmapped { return (host, false) }
        return nil
    }

    /// Where CPU accesses to physical page `page` may go straight to host
    /// memory: reads to RAM, ROM or device memory (nil: MMIO, unmapped);
    /// writes only to RAM (nil: everything whose writes someone must hear
    /// of, or that drops them), `watched` when the page holds cached code:
    /// then only writes that miss its `codeLines` may go straight.
    public func directAccessPointers(page: UInt32)
        -> (read: UnsafeMutablePointer<UInt8>?, write: UnsafeMutablePointer<UInt8>?, watched: Bool) {
        let r = writeRoutes[Int(page)]
        guard r & (PhysicalMemory.mmioFlag | PhysicalMemory.arenaFlag) == 0 else {
            return (hostPointer(forReading: page << 12), nil, false)
        }
        return (hostPointer(forReading: page << 12), ram + (Int(r) << 12), codeLines[Int(r)] != 0)
    }

    // MARK: - Routes to host memory
    //
    // These are @inlinable: the CPU calls them on every memory access and
    // fetch, from another module, where a call would cost more than the
    // lookup itself.

    /// Host address of physical `address` for reading, or nil for MMIO and
    /// unmapped memory. Valid up to the end of that 4 KiB page.
    @inlinable @inline(always)
    public func hostPointer(forReading address: UInt32) -> UnsafeMutablePointer<UInt8>? {
        route(readRoutes[Int(address >> 12)], address)
    }

    /// Host address of physical `address` for writing, or nil for MMIO,
    /// ROM and unmapped memory (device memory in the arena is writable). Valid up to the end of that 4 KiB page.
    @inlinable @inline(always)
    public func hostPointer(forWriting address: UInt32) -> UnsafeMutablePointer<UInt8>? {
        let r = writeRoutes[Int(address >> 12)]
        if r & (PhysicalMemory.mmioFlag | PhysicalMemory.arenaFlag) == PhysicalMemory.arenaFlag { noteDeviceMemoryWrite(r) }
        return route(r, address)
    }

    /// Marks arena page route `r` (a writable one: device memory) as written.
    @inlinable @inline(always)
    func noteDeviceMemoryWrite(_ r: UInt32) {
        deviceMemoryWrites[Int(r & ~PhysicalMemory.arenaFlag)] = PhysicalMemory.deviceMemoryWritten
    }

    /// Host address of physical `address` for a write that needs nobody
    /// told: plain RAM holding no cached code. Nil otherwise (`write` then
    /// does what the page needs). Valid up to the end of that 4 KiB page.
    @inlinable @inline(always)
    public func quietRAMPointer(forWriting address: UInt32) -> UnsafeMutablePointer<UInt8>? {
        let r = writeRoutes[Int(address >> 12)]
        guard r & (PhysicalMemory.mmioFlag | PhysicalMemory.arenaFlag) == 0, codeLines[Int(r)] == 0 else { return nil }
        return ram + (Int(r) << 12 | Int(address & 0xFFF))
    }

    @inlinable @inline(always)
    func route(_ r: UInt32, _ address: UInt32) -> UnsafeMutablePointer<UInt8>? {
        if r & (PhysicalMemory.mmioFlag | PhysicalMemory.arenaFlag) == 0 {
            return ram + (Int(r) << 12 | Int(address & 0xFFF))
        }
        if r & PhysicalMemory.mmioFlag == 0 {
            return arena + (Int(r & ~PhysicalMemory.arenaFlag) << 12 | Int(address & 0xFFF))
        }
        return nil
    }

    /// Whether a write to this physical page must go through `write`
    /// (cached code lives in the RAM page it writes).
    @inline(__always)
    public func isWatched(_ address: UInt32) -> Bool {
        let r = writeRoutes[Int(address >> 12)]
        return r & (PhysicalMemory.mmioFlag | PhysicalMemory.arenaFlag) == 0 && codeLines[Int(r)] != 0
    }

    /// The code page (index into `codeLines`/`codeGenerations`) that reads
    /// of physical `address` reach, or nil where code cannot be cached:
    /// MMIO, unmapped memory, device memory.
    @inlinable @inline(always)
    public func codePage(forReading address: UInt32) -> Int? {
        let r = readRoutes[Int(address >> 12)]
        if r & (PhysicalMemory.mmioFlag | PhysicalMemory.arenaFlag) == 0 { return Int(r) }
        if r & PhysicalMemory.mmioFlag != 0 { return nil }
        let arenaPage = Int(r & ~PhysicalMemory.arenaFlag)
        return arenaDeviceMemory[arenaPage] == 0 ? (ramSize >> PhysicalMemory.pageShift) + arenaPage : nil
    }

    /// Records that bytes `offset ..< offset + count` of code page `page`
    /// hold cached code (all inside the page).
    public func watchCode(page: Int, offset: Int, count: Int) {
        if codeLines[page] == 0 { codeWatchStarted(page) }
        codeLines[page] |= PhysicalMemory.lines(offset: offset, count: count)
    }

    /// Marks a whole RAM page as holding cached code (`on`), or forgets it.
    public func watch(page r: UInt32, _ on: Bool) {
        if on && codeLines[Int(r)] == 0 { codeWatchStarted(Int(r)) }
        codeLines[Int(r)] = on ? UInt64.max : 0
    }

    /// Told, with the code page number, when a page starts holding cached
    /// code: whoever lets writes reach a RAM page without `write` (the
    /// CPU's host TLB) must stop doing so for it.
    private var codeWatchObservers: [(Int) -> Void] = []

    public func addCodeWatchObserver(_ observer: @escaping (Int) -> Void) {
        codeWatchObservers.append(observer)
    }

    private func codeWatchStarted(_ page: Int) {
        for observer in codeWatchObservers { observer(page) }
    }

    /// Bit mask of the 64-byte lines that `count` bytes from `offset` in a
    /// page touch (all inside the page).
    @inline(__always)
    static func lines(offset: Int, count: Int) -> UInt64 {
        guard count > 0 else { return 0 }
        let first = offset >> 6, last = (offset + count - 1) >> 6
        return (UInt64.max >> (63 - last)) & (UInt64.max << first)
    }

    /// `count` bytes at `address` were written to RAM page `r`: if that
    /// touched a line holding cached code, the page's cached code is
    /// stale. The one notification path for `write` and the bulk copies.
    @inline(__always)
    private func noteRAMWrite(_ r: UInt32, _ address: UInt32, _ count: Int) {
        if codeLines[Int(r)] != 0 { codeWritten(r, address, count) }
    }

    /// RAM page `page` (counted from the start of RAM) was written behind
    /// this class's back (by a KVM vCPU, whose writes its dirty log reports
    /// afterwards): code cached on it is stale, whatever the lines.
    public func ramPageWrittenUntracked(_ page: Int) {
        guard page < ramSize >> PhysicalMemory.pageShift, codeLines[page] != 0 else { return }
        codeWentStale(page)
    }

    @inline(never)
    private func codeWritten(_ r: UInt32, _ address: UInt32, _ count: Int) {
        let page = Int(r)
        guard codeLines[page] & PhysicalMemory.lines(offset: Int(address & 0xFFF), count: count) != 0 else { return }
        codeWentStale(page)
    }

    /// Code page `page`'s cached code is stale: forget its lines, raise
    /// its generation and the epoch, tell the eager (RAM pages only).
    private func codeWentStale(_ page: Int) {
        codeLines[page] = 0
        codeGenerations[page] &+= 1
        codeEpoch &+= 1
        if page < ramSize >> PhysicalMemory.pageShift { onCodePageWrite?(UInt32(page)) }
    }

    // MARK: - Accesses (1, 2 or 4 bytes; may cross a page boundary)

    public func read(_ address: UInt32, size: Int) -> UInt32 {
        if Int(address & 0xFFF) + size <= PhysicalMemory.pageSize {
            let r = readRoutes[Int(address >> 12)]
            if let p = route(r, address) {
                switch size {
                case 1: return UInt32(p.pointee)
                case 2: return UInt32(UnsafeRawPointer(p).loadUnaligned(as: UInt16.self))
                default: return UnsafeRawPointer(p).loadUnaligned(as: UInt32.self)
                }
            }
            if r == PhysicalMemory.unmapped { return size == 4 ? 0xFFFF_FFFF : (1 << (size * 8)) - 1 }
            let (base, handler) = mmioHandlers[Int(r & ~PhysicalMemory.mmioFlag)]
            return handler.mmioRead(offset: address &- base, size: size)
        }
        var value: UInt32 = 0
        for i in 0..<size { value |= read(address &+ UInt32(i), size: 1) << (8 * i) }
        return value
    }

    public func write(_ address: UInt32, size: Int, value: UInt32) {
        if Int(address & 0xFFF) + size <= PhysicalMemory.pageSize {
            let r = writeRoutes[Int(address >> 12)]
            if r & (PhysicalMemory.mmioFlag | PhysicalMemory.arenaFlag) == 0 {
                let p = ram + (Int(r) << 12 | Int(address & 0xFFF))
                switch size {
                case 1: p.pointee = UInt8(truncatingIfNeeded: value)
                case 2: UnsafeMutableRawPointer(p).storeBytes(of: UInt16(truncatingIfNeeded: value), as: UInt16.self)
                default: UnsafeMutableRawPointer(p).storeBytes(of: value, as: UInt32.self)
                }
                noteRAMWrite(r, address, size)
                return
            }
            if r == PhysicalMemory.unmapped { return }
            if r & PhysicalMemory.mmioFlag == 0 {
                let p = arena + (Int(r & ~PhysicalMemory.arenaFlag) << 12 | Int(address & 0xFFF))
                switch size {
                case 1: p.pointee = UInt8(truncatingIfNeeded: value)
                case 2: UnsafeMutableRawPointer(p).storeBytes(of: UInt16(truncatingIfNeeded: value), as: UInt16.self)
                default: UnsafeMutableRawPointer(p).storeBytes(of: value, as: UInt32.self)
                }
                noteDeviceMemoryWrite(r)
                return
            }
            let (base, handler) = mmioHandlers[Int(r & ~PhysicalMemory.mmioFlag)]
            handler.mmioWrite(offset: address &- base, size: size, value: value)
            return
        }
        for i in 0..<size { write(address &+ UInt32(i), size: 1, value: value >> (8 * i)) }
    }

    /// Copies bytes out of guest physical memory (DMA, loaders, debugger).
    public func copyOut(_ address: UInt32, count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: read(address &+ UInt32($0), size: 1)) }
    }

    /// Copies bytes into guest physical memory, through the write routes.
    public func copyIn(_ address: UInt32, _ bytes: [UInt8]) {
        for (i, b) in bytes.enumerated() { write(address &+ UInt32(i), size: 1, value: UInt32(b)) }
    }

    // MARK: - Bulk copies for DMA (a page at a time)

    /// Copies `bytes` into guest physical memory as a bus master would:
    /// RAM and device memory a page at a time (cached code a page's bytes
    /// overwrite goes stale, as with `write`), MMIO byte
    /// by byte through `write`, ROM and unmapped space dropped.
    public func copyIn(_ address: UInt32, from bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let at = address &+ UInt32(truncatingIfNeeded: done)
            let n = min(bytes.count - done, PhysicalMemory.pageSize - Int(at & 0xFFF))
            let r = writeRoutes[Int(at >> 12)]
            if let p = route(r, at) {
                UnsafeMutableRawPointer(p).copyMemory(from: source + done, byteCount: n)
                if r & PhysicalMemory.arenaFlag == 0 { noteRAMWrite(r, at, n) } else { noteDeviceMemoryWrite(r) }
            } else if r != PhysicalMemory.unmapped {
                for i in 0..<n { write(at &+ UInt32(i), size: 1, value: UInt32(bytes[done + i])) }
            }
            done += n
        }
    }

    /// Copies guest physical memory into `buffer` as a bus master reads it:
    /// RAM, ROM and device memory a page at a time, MMIO byte by byte,
    /// unmapped space as all ones.
    public func copyOut(_ address: UInt32, into buffer: UnsafeMutableRawBufferPointer) {
        guard let target = buffer.baseAddress else { return }
        var done = 0
        while done < buffer.count {
            let at = address &+ UInt32(truncatingIfNeeded: done)
            let n = min(buffer.count - done, PhysicalMemory.pageSize - Int(at & 0xFFF))
            if let p = hostPointer(forReading: at) {
                (target + done).copyMemory(from: p, byteCount: n)
            } else {
                for i in 0..<n { buffer[done + i] = UInt8(truncatingIfNeeded: read(at &+ UInt32(i), size: 1)) }
            }
            done += n
        }
    }
}
