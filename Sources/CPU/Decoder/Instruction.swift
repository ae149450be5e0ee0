/// What the decoder hands to the interpreter and the disassembler: one x86
/// instruction with its prefixes applied, its operands resolved to concrete
/// kinds and sizes, and its length.
public struct Instruction {
    public var op: Op = .invalid
    public var operands: (Operand, Operand, Operand) = (.none, .none, .none)
    /// Bytes, prefixes included (1–15).
    public var length: UInt8 = 0
    /// The opcode: `0x00XX` for one-byte opcodes, `0x0FXX` for two-byte.
    public var opcode: UInt16 = 0
    public var modrm: UInt8 = 0
    public var hasModRM: Bool = false
    /// Operand and address size in bytes (2 or 4) after 66h/67h.
    public var operandSize: UInt8 = 2
    public var addressSize: UInt8 = 2
    /// The segment a memory operand uses: the override if there was one,
    /// else the default for the base register (SS for BP/SP/EBP/ESP bases).
    public var segment: SegmentRegister = .ds
    public var hasSegmentOverride: Bool = false
    public var repeatPrefix: RepeatPrefix = .none
    public var lock: Bool = false
    /// Condition code for Jcc, SETcc, CMOVcc, FCMOVcc (0 = O … 15 = G).
    public var condition: UInt8 = 0

    /// Effective address = base + (index << scale) + displacement, truncated
    /// to the address size. `noRegister` where absent. For 16-bit
    /// addressing, base/index are BX/BP and SI/DI in GPR numbering.
    public var base: UInt8 = Instruction.noRegister
    public var index: UInt8 = Instruction.noRegister
    public var scale: UInt8 = 0
    public var displacement: UInt32 = 0
    /// First immediate, already sign- or zero-extended to its operand's size.
    /// For relative branches it is the sign-extended displacement.
    public var immediate: UInt32 = 0
    /// Second immediate: ENTER's nesting level, a far pointer's selector.
    public var immediate2: UInt32 = 0

    public static let noRegister: UInt8 = 0xFF

    public init() {}

    public var isMemoryForm: Bool { hasModRM && modrm >> 6 != 3 }
    public var modrmReg: UInt8 { (modrm >> 3) & 7 }
    public var modrmRM: UInt8 { modrm & 7 }
}

public enum RepeatPrefix: UInt8 {
    case none = 0
    case repe = 0xF3   // REP / REPE / REPZ
    case repne = 0xF2  // REPNE / REPNZ
}

/// One operand, resolved: which storage it names and how many bytes.
public struct Operand: Equatable {
    public enum Kind: UInt8 {
        case none
        /// A general register; `register` is the encoding number. With size
        /// 1, numbers 4–7 are AH, CH, DH, BH.
        case register
        /// The memory operand described by the instruction's base/index/
        /// scale/displacement and segment.
        case memory
        /// `Instruction.immediate` (or `immediate2` for the second one of ENTER).
        case immediate
        case immediate2
        /// A segment register (`register` = SegmentRegister raw value).
        case segment
        case control
        case debug
        /// x87 ST(i), `register` = i.
        case fpuStack
        /// Branch target: EIP of the next instruction + `immediate`.
        case relative
        /// `immediate2:immediate` far pointer (JMP/CALL ptr16:16/32).
        case farPointer
        /// Memory at `displacement` with no ModRM (MOV AL, moffs).
        case absolute
        /// A fixed value the encoding implies, in `register` (shift by 1).
        case constant
    }
    public var kind: Kind
    /// Size in bytes (1, 2, 4, 6, 8, 10; 14/28, 94/108 for x87 state; 0 for the
    /// 512-byte FXSAVE area, which does not fit in a byte: the op implies it).
    public var size: UInt8
    public var register: UInt8

    public init(_ kind: Kind, size: UInt8, register: UInt8 = 0) {
        self.kind = kind; self.size = size; self.register = register
    }
    public static let none = Operand(.none, size: 0)
}
