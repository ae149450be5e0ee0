/// Describes a control-register write in the words of a bring-up log:
/// which mode bits changed.
enum ModeChange {
    static func describe(register: Int, old: UInt64, new: UInt64) -> String {
        let changed = old ^ new
        var parts: [String] = []
        func bit(_ mask: UInt64, _ name: String) {
            if changed & mask != 0 { parts.append("\(name) \(new & mask != 0 ? "on" : "off")") }
        }
        switch register {
        case 0:
            bit(1, "PE (protected mode)"); bit(1 << 31, "PG (paging)"); bit(1 << 16, "WP")
            bit(1 << 5, "NE"); bit(1 << 3, "TS"); bit(1 << 2, "EM"); bit(1 << 30, "CD")
            return "cr0 \(hex(old, 8)) -> \(hex(new, 8))" + (parts.isEmpty ? "" : ": " + parts.joined(separator: ", "))
        case 3:
            return "cr3 \(hex(old, 8)) -> \(hex(new, 8)): page directory load"
        case 4:
            bit(1 << 5, "PAE"); bit(1 << 4, "PSE"); bit(1 << 7, "PGE"); bit(1 << 9, "OSFXSR")
            return "cr4 \(hex(old, 8)) -> \(hex(new, 8))" + (parts.isEmpty ? "" : ": " + parts.joined(separator: ", "))
        case 0xE:
            bit(1 << 8, "LME"); bit(1 << 10, "LMA")
            return "efer \(hex(old, 8)) -> \(hex(new, 8))" + (parts.isEmpty ? "" : ": " + parts.joined(separator: ", "))
        default:
            return "cr\(register) \(hex(old, 8)) -> \(hex(new, 8))"
        }
    }
}
