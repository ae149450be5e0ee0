import CPU

/// A condition on registers that a code breakpoint must meet to stop the
/// machine: `eax==0x1234`, `ecx>5 && ds!=0`. Terms compare one register
/// (8-, 16- or 32-bit general registers by their usual names, EIP/IP,
/// EFLAGS, a segment selector, CR0/2/3/4) with a number, unsigned; all
/// terms must hold. Numbers are decimal, or hex with 0x, as the monitor's
/// counts are.
///
/// Registers are named by an enum rather than a closure so a condition
/// stays a plain value: the breakpoint table compares conditions when
/// deduplicating, and evaluation is a switch, cheap enough to run at every
/// hit of a busy breakpoint.
public struct BreakCondition: Equatable, CustomStringConvertible {
    public enum Comparison: String, CaseIterable {
        // Two-character operators first: the parser tries them in this order.
        case equal = "==", notEqual = "!=", lessOrEqual = "<=", greaterOrEqual = ">="
        case less = "<", greater = ">"

        func holds(_ a: UInt32, _ b: UInt32) -> Bool {
            switch self {
            case .equal: return a == b
            case .notEqual: return a != b
            case .lessOrEqual: return a <= b
            case .greaterOrEqual: return a >= b
            case .less: return a < b
            case .greater: return a > b
            }
        }
    }

    enum Register: Equatable {
        /// A general register by encoding number and size (1: AL…BH as
        /// the 8-bit encoding numbers them).
        case general(UInt8, size: Int)
        case instructionPointer(size: Int)
        case flags(size: Int)
        case selector(SegmentRegister)
        case control(Int)

        static let names: [String: Register] = {
            var table: [String: Register] = [:]
            for (k, n) in ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"].enumerated() { table[n] = .general(UInt8(k), size: 4) }
            for (k, n) in ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di"].enumerated() { table[n] = .general(UInt8(k), size: 2) }
            for (k, n) in ["al", "cl", "dl", "bl", "ah", "ch", "dh", "bh"].enumerated() { table[n] = .general(UInt8(k), size: 1) }
            table["eip"] = .instructionPointer(size: 4); table["ip"] = .instructionPointer(size: 2)
            table["eflags"] = .flags(size: 4); table["flags"] = .flags(size: 2)
            for s in [SegmentRegister.es, .cs, .ss, .ds, .fs, .gs] { table[s.name] = .selector(s) }
            for c in [0, 2, 3, 4] { table["cr\(c)"] = .control(c) }
            return table
        }()

        func value(_ cpu: CPU) -> UInt32 {
            let s = cpu.state.pointee
            switch self {
            case .general(let r, let size): return cpu.register(r, size: size)
            case .instructionPointer(let size): return size == 2 ? cpu.eip & 0xFFFF : cpu.eip
            case .flags(let size): return size == 2 ? s.eflags & 0xFFFF : s.eflags
            case .selector(let seg): return UInt32(cpu.segment(seg).pointee.selector)
            case .control(0): return UInt32(truncatingIfNeeded: s.cr0)
            case .control(2): return UInt32(truncatingIfNeeded: s.cr2)
            case .control(3): return UInt32(truncatingIfNeeded: s.cr3)
            case .control(_): return UInt32(truncatingIfNeeded: s.cr4)
            }
        }
    }

    struct Term: Equatable {
        var name: String
        var register: Register
        var comparison: Comparison
        var value: UInt32
    }

    var terms: [Term]

    /// Parses `REG OP VALUE [&& REG OP VALUE]…`; spaces anywhere. Nil
    /// when any term is malformed or names no register.
    public init?(_ text: String) {
        let compact = String(text.lowercased().filter { !$0.isWhitespace })
        guard !compact.isEmpty else { return nil }
        var terms: [Term] = []
        for part in compact.split(separator: "&&", omittingEmptySubsequences: false) {
            guard let term = BreakCondition.term(String(part)) else { return nil }
            terms.append(term)
        }
        self.terms = terms
    }

    private static func term(_ text: String) -> Term? {
        for c in Comparison.allCases {
            guard let r = text.firstRange(of: c.rawValue) else { continue }
            let name = String(text[..<r.lowerBound])
            guard let register = Register.names[name], let value = number(String(text[r.upperBound...])) else { return nil }
            return Term(name: name, register: register, comparison: c, value: value)
        }
        return nil
    }

    /// Decimal, or hex with 0x; at most 32 bits.
    static func number(_ s: String) -> UInt32? {
        if s.hasPrefix("0x") { return UInt32(s.dropFirst(2), radix: 16) }
        return UInt32(s, radix: 10)
    }

    public func holds(_ cpu: CPU) -> Bool {
        terms.allSatisfy { $0.comparison.holds($0.register.value(cpu), $0.value) }
    }

    public var description: String {
        terms.map { "\($0.name)\($0.comparison.rawValue)0x\(String($0.value, radix: 16))" }.joined(separator: " && ")
    }

    /// The register names a condition may use, for help and completion.
    public static var registerNames: [String] { Register.names.keys.sorted() }
}
