/// One cell of the opcode map: the operation an encoding means and how its
/// operands are encoded — or, for the opcodes the manual calls groups, where
/// to look next. The maps are arrays of these (see `OneByteOpcodeMap`,
/// `TwoByteOpcodeMap`, `OpcodeGroup`, `OpcodeRow`); `OpcodeTable` lays them
/// out in one flat buffer the decoder indexes. Small and trivially copyable
/// on purpose: the decoder reads one to three of them per instruction.
struct OpcodeEntry {
    var op: Op
    var operands: (OperandSpec, OperandSpec, OperandSpec)
    /// Condition code (0 = O … 15 = G) for Jcc/SETcc/CMOVcc/FCMOVcc.
    var condition: UInt8
    var attributes: Attributes
    /// The group (`.group`) or row (`.row`) this entry defers to.
    var link: UInt8

    struct Attributes: OptionSet {
        let rawValue: UInt8
        /// A ModRM byte follows the opcode.
        static let modrm = Attributes(rawValue: 1 << 0)
        /// LOCK is allowed (when the destination is memory).
        static let lockable = Attributes(rawValue: 1 << 1)
        /// ModRM.rm names a register whatever mod says, and no SIB or
        /// displacement follows (MOV to/from CRn/DRn).
        static let registerForm = Attributes(rawValue: 1 << 2)
        /// The operation is chosen from group `link` by ModRM.mod and ModRM.reg.
        static let group = Attributes(rawValue: 1 << 3)
        /// The operation is chosen from row `link` by ModRM.rm.
        static let row = Attributes(rawValue: 1 << 4)
    }

    init(_ op: Op, _ operands: (OperandSpec, OperandSpec, OperandSpec),
         condition: UInt8 = 0, attributes: Attributes = [], link: UInt8 = 0) {
        self.op = op
        self.operands = operands
        self.condition = condition
        self.link = link
        let addressed = operands.0.usesModRM || operands.1.usesModRM || operands.2.usesModRM
        self.attributes = addressed ? attributes.union(.modrm) : attributes
    }
}

// Row constructors, named so a table line reads like the manual's:
// `.op(.add, .Eb, .Gb)`, `.lockable(.add, .Eb, .Gb)`, `.group(.arithmetic, .Eb, .Ib)`.
extension OpcodeEntry {
    static let invalid = OpcodeEntry(.invalid, (.none, .none, .none))

    static func op(_ op: Op, _ a: OperandSpec = .none, _ b: OperandSpec = .none,
                   _ c: OperandSpec = .none) -> OpcodeEntry {
        OpcodeEntry(op, (a, b, c))
    }

    static func lockable(_ op: Op, _ a: OperandSpec = .none, _ b: OperandSpec = .none) -> OpcodeEntry {
        OpcodeEntry(op, (a, b, .none), attributes: .lockable)
    }

    static func conditional(_ op: Op, _ condition: UInt8, _ a: OperandSpec,
                            _ b: OperandSpec = .none) -> OpcodeEntry {
        OpcodeEntry(op, (a, b, .none), condition: condition)
    }

    /// MOV to/from a control or debug register.
    static func registerForm(_ op: Op, _ a: OperandSpec, _ b: OperandSpec) -> OpcodeEntry {
        OpcodeEntry(op, (a, b, .none), attributes: .registerForm)
    }

    /// A group: the operands given here apply to every member that does not
    /// list its own.
    static func group(_ group: OpcodeGroup, _ a: OperandSpec = .none,
                      _ b: OperandSpec = .none) -> OpcodeEntry {
        OpcodeEntry(.invalid, (a, b, .none), attributes: [.modrm, .group], link: group.rawValue)
    }

    static func row(_ row: OpcodeRow) -> OpcodeEntry {
        OpcodeEntry(.invalid, (.none, .none, .none), attributes: .row, link: row.rawValue)
    }
}
