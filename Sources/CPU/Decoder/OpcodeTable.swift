/// All opcode maps laid out in one flat buffer the decoder indexes with plain
/// pointer arithmetic:
///
///     [0, 256)        one-byte opcodes
///     [256, 512)      0F xx
///     groupBase …     16 entries per `OpcodeGroup` (memory forms, register forms)
///     rowBase …       8 entries per `OpcodeRow` (by ModRM.rm)
///
/// The buffer is built once from the readable maps and lives for the life of
/// the process; reading it through a pointer keeps array bounds and
/// uniqueness checks out of the per-instruction path.
import Synchronization

enum OpcodeTable {
    static let twoByteBase = 256
    static let groupBase = 512
    /// Literal, so reading it costs no lazy initialization; checked when the table is built.
    static let rowBase = groupBase + 21 * 16
    static var count: Int { rowBase + OpcodeRow.allCases.count * 8 }

    /// The table. Read on every decode, so it is published through an
    /// atomic (a plain load on x86) instead of a lazy `static let`, whose
    /// every access is a call into the runtime's once-check.
    @inline(__always) static var entries: UnsafePointer<OpcodeEntry> {
        let address = published.load(ordering: .acquiring)
        if address != 0, let table = UnsafePointer<OpcodeEntry>(bitPattern: address) { return table }
        return publish()
    }

    private static let published = Atomic<UInt>(0)

    @inline(never) private static func publish() -> UnsafePointer<OpcodeEntry> {
        let table = built
        published.store(UInt(bitPattern: table), ordering: .releasing)
        return table
    }

    private static let built: UnsafePointer<OpcodeEntry> = {
        precondition(rowBase == groupBase + OpcodeGroup.allCases.count * 16, "rowBase must follow the groups")
        var table = [OpcodeEntry](repeating: .invalid, count: count)
        place(OneByteOpcodeMap.entries, at: 0, in: &table)
        place(TwoByteOpcodeMap.entries, at: twoByteBase, in: &table)
        for group in OpcodeGroup.allCases {
            let members = group.entries
            precondition(members.count == 8 || members.count == 16, "group \(group) needs 8 or 16 entries")
            let base = groupBase + Int(group.rawValue) * 16
            for (reg, entry) in members.enumerated() { table[base + reg] = entry }
            if members.count == 8 {
                for (reg, entry) in members.enumerated() { table[base + 8 + reg] = entry }
            }
        }
        for row in OpcodeRow.allCases {
            let members = row.entries
            precondition(members.count == 8, "row \(row) needs 8 entries")
            for (rm, entry) in members.enumerated() { table[rowBase + Int(row.rawValue) * 8 + rm] = entry }
        }
        let buffer = UnsafeMutablePointer<OpcodeEntry>.allocate(capacity: count)
        buffer.initialize(from: table, count: count)
        return UnsafePointer(buffer)
    }()

    private static func place(_ entries: [(UInt8, OpcodeEntry)], at base: Int, in table: inout [OpcodeEntry]) {
        var seen = Set<UInt8>()
        for (opcode, entry) in entries {
            precondition(seen.insert(opcode).inserted, "opcode \(opcode) listed twice")
            table[base + Int(opcode)] = entry
        }
    }
}
