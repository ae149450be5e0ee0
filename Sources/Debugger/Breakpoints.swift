import CPU
import Recompiler

/// Why the debugger stopped the machine.
public enum StopReason: Equatable {
    case breakpoint(id: Int)
    /// A watched range was written (changed), read or accessed; `address`
    /// is the watchpoint's start, which is what gdb matches its own by.
    case watchpoint(id: Int, kind: WatchKind, address: UInt32)
    /// An event breakpoint (mode change, exception, port access, …), described.
    case event(id: Int, description: String)
    /// A step (or a `next` over a call) finished.
    case step
    /// Ctrl-C from gdb, `stop` from the monitor, or `-S`.
    case interrupted
}

/// Where a code breakpoint sits. Real-mode breakpoints compare CS and IP,
/// as someone reading a real-mode listing writes them; linear ones compare
/// CS base + EIP; physical ones translate that through paging.
public enum CodeLocation: Equatable {
    case linear(UInt32)
    case physical(UInt32)
    case realMode(segment: UInt16, offset: UInt16)
}

/// What a watchpoint stops on, as gdb's Z2/Z3/Z4 packets name them.
public enum WatchKind: Equatable {
    /// A change of the watched bytes, however it came (CPU or DMA).
    case write
    /// A data read by the CPU.
    case read
    /// A data read or write by the CPU.
    case access
}

/// A watched range of linear or physical addresses.
///
/// Write watchpoints compare the range's bytes at each instruction
/// boundary, so they report a write that changed the value, after the
/// writing instruction, whoever wrote it (as gdb's own software
/// watchpoints do; a store of the value already there is not seen). Read
/// and access watchpoints cannot be seen that way: the CPU reports each
/// data access while one is set (`CPU.dataWatchActive`), and the machine
/// stops after the instruction that made it, as the x86 debug registers
/// trap after a data breakpoint.
public struct Watchpoint: Equatable {
    public var id: Int
    public var kind: WatchKind
    public var physical: Bool
    public var address: UInt32
    public var length: Int
    var last: [UInt8]?
}

/// The breakpoints and watchpoints of one debug session, checked at every
/// instruction boundary while any exist. Each breakpoint has an owner so
/// gdb's `z` packets and a gdb detach touch only gdb's own.
public final class BreakpointTable {
    public enum Owner: Equatable { case monitor, gdb }

    public struct Code: Equatable {
        public var id: Int
        public var location: CodeLocation
        public var owner: Owner
        /// Registers the CPU must show at the location for a stop.
        public var condition: BreakCondition?

        func holds(_ cpu: CPU) -> Bool { condition?.holds(cpu) ?? true }
    }

    public private(set) var code: [Code] = []
    public private(set) var watchpoints: [(watch: Watchpoint, owner: Owner)] = []
    private var nextID = 1
    /// Linear breakpoint addresses, for the common check in one lookup.
    private var linearSet: Set<UInt32> = []
    private var hasPhysical = false
    private var hasRealMode = false
    /// Whether any read or access watchpoint needs the CPU's data accesses.
    public private(set) var watchesAccesses = false

    /// The read and access watchpoints as plain values in a buffer of
    /// their own: the CPU reports every data access while one is set, and
    /// walking a class-stored array there would cost a retain and an
    /// exclusivity check per access.
    private struct AccessRange {
        var start: UInt64
        var end: UInt64
        var physical: Bool
        var readsOnly: Bool
        var id: Int
        var address: UInt32
    }
    private var accessRanges = UnsafeMutablePointer<AccessRange>.allocate(capacity: 1)
    private var accessRangeCount = 0

    public init() {}

    deinit { accessRanges.deallocate() }

    public var isEmpty: Bool { code.isEmpty && watchpoints.isEmpty }

    /// Whether anything must be checked before each instruction: code
    /// breakpoints and write watchpoints (read and access watchpoints are
    /// seen on the data path instead).
    public var needsBoundaryCheck: Bool { !code.isEmpty || watchesChanges }

    /// Whether a write watchpoint compares its bytes at each boundary.
    var watchesChanges: Bool { watchpoints.contains { $0.watch.kind == .write } }

    /// Where the recompiler's blocks must end so that every code
    /// breakpoint is reached at a boundary the interpreter checks.
    var recompilerStops: CodeBreakpointAddresses {
        var linear: Set<UInt32> = [], physical: Set<UInt32> = []
        for c in code {
            switch c.location {
            case .linear(let a): linear.insert(a)
            case .physical(let a): physical.insert(a)
            case .realMode(let segment, let offset): linear.insert(UInt32(segment) << 4 &+ UInt32(offset))
            }
        }
        return CodeBreakpointAddresses(linear: linear, physical: physical)
    }

    public func takeID() -> Int { defer { nextID += 1 }; return nextID }

    @discardableResult
    public func addCode(_ location: CodeLocation, owner: Owner, condition: BreakCondition? = nil) -> Int {
        if let existing = code.first(where: { $0.location == location && $0.owner == owner && $0.condition == condition }) { return existing.id }
        let id = takeID()
        code.append(Code(id: id, location: location, owner: owner, condition: condition))
        reindex()
        return id
    }

    @discardableResult
    public func addWatch(_ kind: WatchKind, physical: Bool, address: UInt32, length: Int, owner: Owner, view: GuestMemoryView) -> Int {
        let id = takeID()
        var w = Watchpoint(id: id, kind: kind, physical: physical, address: address, length: length)
        w.last = current(w, view)
        watchpoints.append((w, owner))
        reindex()
        return id
    }

    /// Removes by id; false if there is none.
    public func remove(id: Int) -> Bool {
        let before = code.count + watchpoints.count
        code.removeAll { $0.id == id }
        watchpoints.removeAll { $0.watch.id == id }
        reindex()
        return code.count + watchpoints.count != before
    }

    public func removeCode(_ location: CodeLocation, owner: Owner) -> Bool {
        guard let c = code.first(where: { $0.location == location && $0.owner == owner && $0.condition == nil }) else { return false }
        return remove(id: c.id)
    }

    public func removeWatch(_ kind: WatchKind, physical: Bool, address: UInt32, length: Int, owner: Owner) -> Bool {
        guard let w = watchpoints.first(where: {
            $0.owner == owner && $0.watch.kind == kind && $0.watch.physical == physical && $0.watch.address == address && $0.watch.length == length
        }) else { return false }
        return remove(id: w.watch.id)
    }

    public func removeAll(owner: Owner) {
        code.removeAll { $0.owner == owner }
        watchpoints.removeAll { $0.owner == owner }
        reindex()
    }

    private func reindex() {
        linearSet = Set(code.compactMap { if case .linear(let a) = $0.location { return a } else { return nil } })
        hasPhysical = code.contains { if case .physical = $0.location { return true } else { return false } }
        hasRealMode = code.contains { if case .realMode = $0.location { return true } else { return false } }
        let watched = watchpoints.map(\.watch).filter { $0.kind != .write }
        accessRanges.deallocate()
        accessRanges = .allocate(capacity: max(1, watched.count))
        for (k, w) in watched.enumerated() {
            accessRanges[k] = AccessRange(start: UInt64(w.address), end: UInt64(w.address) + UInt64(w.length), physical: w.physical,
                                          readsOnly: w.kind == .read, id: w.id, address: w.address)
        }
        accessRangeCount = watched.count
        watchesAccesses = !watched.isEmpty
    }

    private func current(_ w: Watchpoint, _ view: GuestMemoryView) -> [UInt8]? {
        w.physical ? view.readPhysical(w.address, count: w.length) : view.readLinear(w.address, count: w.length)
    }

    /// Re-reads every watched range, so a resume does not report a change
    /// the debugger itself made or one already reported.
    public func resynchronize(_ view: GuestMemoryView) {
        for k in watchpoints.indices { watchpoints[k].watch.last = current(watchpoints[k].watch, view) }
    }

    /// The check before the instruction at CS:EIP runs.
    func check(_ cpu: CPU, _ view: GuestMemoryView) -> StopReason? {
        for k in watchpoints.indices where watchpoints[k].watch.kind == .write {
            let now = current(watchpoints[k].watch, view)
            if now != watchpoints[k].watch.last {
                watchpoints[k].watch.last = now
                return .watchpoint(id: watchpoints[k].watch.id, kind: .write, address: watchpoints[k].watch.address)
            }
        }
        if code.isEmpty { return nil }
        let linear = view.instructionPointerLinear
        if linearSet.contains(linear), let c = code.first(where: { $0.location == .linear(linear) && $0.holds(cpu) }) {
            return .breakpoint(id: c.id)
        }
        if hasRealMode && (!cpu.protectedMode || cpu.virtual8086) {
            let here = CodeLocation.realMode(segment: cpu.segment(.cs).pointee.selector, offset: UInt16(truncatingIfNeeded: cpu.eip))
            if let c = code.first(where: { $0.location == here && $0.holds(cpu) }) { return .breakpoint(id: c.id) }
        }
        if hasPhysical, let pa = view.physical(ofLinear: linear), let c = code.first(where: { $0.location == .physical(pa) && $0.holds(cpu) }) {
            return .breakpoint(id: c.id)
        }
        return nil
    }

    /// The read or access watchpoint a CPU data access hits, if any.
    @inline(__always)
    func accessHit(linear: UInt32, physical: UInt32, size: Int, write: Bool) -> StopReason? {
        for k in 0..<accessRangeCount {
            let r = accessRanges[k]
            guard !(write && r.readsOnly) else { continue }
            let start = UInt64(r.physical ? physical : linear)
            if start < r.end && r.start < start + UInt64(size) {
                return .watchpoint(id: r.id, kind: r.readsOnly ? .read : .access, address: r.address)
            }
        }
        return nil
    }
}
