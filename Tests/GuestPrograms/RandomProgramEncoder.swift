/// Random guest programs for differential tests: an engine against the
/// interpreter (`CPU.step`), the reference. Shared by the interpreter's
/// block-loop tests and the recompiler's, so both engines are held to the
/// same instruction mix: the integer forms in all their operand sizes,
/// memory operands inside a data area, stack operations, branches that
/// land on the next instruction, and forms engines leave to a generic
/// path.

/// Encodes random instructions. `code32`: the code segment's default
/// sizes. Registers never include (E)SP as a destination, and memory
/// operands are absolute addresses inside the data area.
public struct RandomProgramEncoder {
    public var g: SplitMix64
    public let code32: Bool
    public init(g: SplitMix64, code32: Bool) { self.g = g; self.code32 = code32 }

    /// Where programs keep their data: offsets in DS (flat in 32-bit code).
    public static let data32: UInt32 = 0x18_0000
    public static let data16: UInt32 = 0x8000
    public static let dataSize = 0x1000

    mutating func register(byteSized: Bool) -> UInt8 {
        while true {
            let r = UInt8(g.below(8))
            if byteSized || r != 4 { return r }
        }
    }

    /// A ModRM byte (with its displacement) for `reg` and a register
    /// or absolute-memory r/m operand (`memoryOnly`: always memory).
    mutating func modrm(reg: UInt8, byteSized: Bool, allowMemory: Bool = true, memoryOnly: Bool = false) -> [UInt8] {
        if memoryOnly || (allowMemory && g.below(3) == 0) {
            let offset = UInt32(g.below(RandomProgramEncoder.dataSize - 4))
            if code32 {
                let a = RandomProgramEncoder.data32 + offset
                return [reg << 3 | 5] + withUnsafeBytes(of: a.littleEndian, Array.init)
            }
            let a = UInt16(RandomProgramEncoder.data16 + offset)
            return [reg << 3 | 6] + withUnsafeBytes(of: a.littleEndian, Array.init)
        }
        return [0xC0 | reg << 3 | register(byteSized: byteSized)]
    }

    mutating func immediate(_ size: Int) -> [UInt8] { (0..<size).map { _ in g.nextByte() } }

    /// An operand-size prefix, sometimes, and the resulting width.
    mutating func operandSize() -> (prefix: [UInt8], width: Int) {
        let flip = g.below(4) == 0
        let wide = code32 != flip
        return (flip ? [0x66] : [], wide ? 4 : 2)
    }

    public mutating func instruction() -> [UInt8] {
        switch g.below(12) {
        case 0, 1: // ALU r/m, r and r, r/m (ADD … CMP)
            let op = UInt8(g.below(8)) << 3 | UInt8(g.below(4))
            let byteSized = op & 1 == 0
            let (prefix, _) = byteSized ? ([], 1) : operandSize()
            return prefix + [op] + modrm(reg: register(byteSized: byteSized), byteSized: byteSized)
        case 2: // ALU r/m, imm (80, 81, 83) and TEST r/m, r (84, 85)
            switch g.below(4) {
            case 0: return [0x80] + modrm(reg: UInt8(g.below(8)), byteSized: true) + immediate(1)
            case 1:
                let (prefix, width) = operandSize()
                return prefix + [0x81] + modrm(reg: UInt8(g.below(8)), byteSized: false) + immediate(width)
            case 2:
                let (prefix, _) = operandSize()
                return prefix + [0x83] + modrm(reg: UInt8(g.below(8)), byteSized: false) + immediate(1)
            default:
                let byteSized = g.bool()
                return [byteSized ? 0x84 : 0x85] + modrm(reg: register(byteSized: byteSized), byteSized: byteSized)
            }
        case 3, 4: // MOV in all its general forms
            switch g.below(4) {
            case 0:
                let op = 0x88 | UInt8(g.below(4))
                let byteSized = op & 1 == 0
                let (prefix, _) = byteSized ? ([], 1) : operandSize()
                return prefix + [op] + modrm(reg: register(byteSized: byteSized), byteSized: byteSized)
            case 1: return [0xC6] + modrm(reg: 0, byteSized: true) + immediate(1)
            case 2:
                let (prefix, width) = operandSize()
                return prefix + [0xC7] + modrm(reg: 0, byteSized: false) + immediate(width)
            default:
                if g.bool() { return [0xB0 | register(byteSized: true)] + immediate(1) }
                let (prefix, width) = operandSize()
                return prefix + [0xB8 | register(byteSized: false)] + immediate(width)
            }
        case 5: // INC, DEC
            if g.bool() {
                let (prefix, _) = operandSize()
                return prefix + [(g.bool() ? 0x40 : 0x48) | register(byteSized: false)]
            }
            let byteSized = g.bool()
            let (prefix, _) = byteSized ? ([], 1) : operandSize()
            return prefix + [byteSized ? 0xFE : 0xFF] + modrm(reg: UInt8(g.below(2)), byteSized: byteSized)
        case 6: // shifts and rotates by imm8, by 1, by CL
            let byteSized = g.bool()
            let (prefix, _) = byteSized ? ([], 1) : operandSize()
            let w: UInt8 = byteSized ? 0 : 1
            let operation = UInt8(g.below(8))
            switch g.below(3) {
            case 0: return prefix + [0xC0 | w] + modrm(reg: operation, byteSized: byteSized) + [UInt8(g.below(40))]
            case 1: return prefix + [0xD0 | w] + modrm(reg: operation, byteSized: byteSized)
            default: return prefix + [0xD2 | w] + modrm(reg: operation, byteSized: byteSized)
            }
        case 7: // LEA r, [base + index·scale + disp8] (32-bit), [base/index + disp8] (16-bit)
            let (prefix, _) = operandSize()
            let reg = register(byteSized: false)
            if code32 {
                let sib = UInt8(g.below(4)) << 6 | UInt8(g.below(8)) << 3 | UInt8([0, 1, 2, 3, 6, 7][g.below(6)])
                return prefix + [0x8D, 0x44 | reg << 3, sib, g.nextByte()]
            }
            return prefix + [0x8D, 0x40 | reg << 3 | UInt8(g.below(8)), g.nextByte()] // [BX+SI+d8] … [BX+d8]
        case 8: // PUSH r, POP r, PUSH imm, PUSH m
            let (prefix, width) = operandSize()
            switch g.below(4) {
            case 0: return prefix + [0x68] + immediate(width)
            case 1: return prefix + [0x6A, g.nextByte()]
            case 2: return prefix + [0xFF] + modrm(reg: 6, byteSized: false).map { $0 } // PUSH r/m
            default: return prefix + [(g.bool() ? 0x50 : 0x58) | register(byteSized: false)]
            }
        case 9: // branches that land on the next instruction: Jcc, JMP, CALL
            switch g.below(3) {
            case 0: return [0x70 | UInt8(g.below(16)), 0x00]
            case 1: return [0xEB, 0x00]
            default: return [0xE8] + [UInt8](repeating: 0, count: code32 ? 4 : 2)
            }
        default: // forms left to the generic path: NOT, NEG, MOVZX, SETcc, CMOVcc, XCHG, CBW
            switch g.below(6) {
            case 0:
                let byteSized = g.bool()
                return [byteSized ? 0xF6 : 0xF7] + modrm(reg: UInt8(2 + g.below(2)), byteSized: byteSized)
            case 1: return [0x0F, 0xB6 | UInt8(g.below(2)) << 3] + modrm(reg: register(byteSized: false), byteSized: true)
            case 2: return [0x0F, 0x90 | UInt8(g.below(16))] + modrm(reg: 0, byteSized: true)
            case 3: return [0x0F, 0x40 | UInt8(g.below(16))] + modrm(reg: register(byteSized: false), byteSized: false)
            case 4: return [0x87, 0xC0 | register(byteSized: false) << 3 | register(byteSized: false)]
            default: return [g.bool() ? 0x98 : 0x99]
            }
        }
    }

    /// `instruction()`, or one of the forms the recompiler translates
    /// beyond it: the string instructions (with and without REP, either
    /// direction, a segment override sometimes; (E)SI/(E)DI set into the
    /// data area first, a short count for REP), MUL, IMUL, DIV, IDIV on
    /// r/m (a division cleared for range half the time, else it often
    /// raises #DE), BSWAP, XCHG and CMPXCHG with memory, PUSHF, rarely
    /// CLI, BT/BTS/BTR/BTC (a register offset into memory set to a few
    /// dozen bits either way first), BSF/BSR, SHLD/SHRD,
    /// XADD, and LOCK on the read-modify-writes of memory.
    /// Programs made of these need an IDT: a #DE ends them, as does CLI at
    /// CPL 3.
    public mutating func instructionWithMoreForms() -> [UInt8] {
        switch g.below(15) {
        case 0, 1: return stringInstruction()
        case 2:
            let byteSized = g.bool()
            let (prefix, _) = byteSized ? ([], 1) : operandSize()
            let operation = UInt8(4 + g.below(4)) // MUL, IMUL, DIV, IDIV
            let clearHigh: [UInt8] = operation >= 6 && g.bool() ? [0x31, 0xD2] : [] // xor edx, edx
            return clearHigh + prefix + [byteSized ? 0xF6 : 0xF7] + modrm(reg: operation, byteSized: byteSized)
        case 3: return [0x0F, 0xC8 | register(byteSized: false)]
        case 4:
            let byteSized = g.bool()
            let (prefix, _) = byteSized ? ([], 1) : operandSize()
            return prefix + [byteSized ? 0x86 : 0x87] + modrm(reg: register(byteSized: byteSized), byteSized: byteSized)
        case 5:
            let byteSized = g.bool()
            let (prefix, _) = byteSized ? ([], 1) : operandSize()
            return prefix + [0x0F, byteSized ? 0xB0 : 0xB1] + modrm(reg: register(byteSized: byteSized), byteSized: byteSized)
        case 6: return g.below(8) == 0 ? [0xFA] : operandSize().prefix + [0x9C]
        case 7:
            let (prefix, _) = operandSize()
            if g.bool() { return prefix + [0x0F, 0xBA] + modrm(reg: UInt8(4 + g.below(4)), byteSized: false) + [g.nextByte()] }
            let reg = register(byteSized: false)
            let bits = UInt32(bitPattern: Int32(g.below(129)) - 64)
            let setOffset: [UInt8] = [0xB8 | reg] + withUnsafeBytes(of: bits.littleEndian, Array.init).prefix(code32 ? 4 : 2)
            return setOffset + prefix + [0x0F, 0xA3 | UInt8(g.below(4)) << 3] + modrm(reg: reg, byteSized: false)
        case 11:
            let (prefix, _) = operandSize()
            return prefix + [0x0F, 0xBC | UInt8(g.below(2))] + modrm(reg: register(byteSized: false), byteSized: false)
        case 8:
            let (prefix, _) = operandSize()
            let byCL = g.bool()
            let opcode: UInt8 = (g.bool() ? 0xA4 : 0xAC) | (byCL ? 1 : 0)
            return prefix + [0x0F, opcode] + modrm(reg: register(byteSized: false), byteSized: false)
                + (byCL ? [] : [UInt8(g.below(40))])
        case 9:
            let byteSized = g.bool()
            let (prefix, _) = byteSized ? ([], 1) : operandSize()
            return prefix + [0x0F, byteSized ? 0xC0 : 0xC1] + modrm(reg: register(byteSized: byteSized), byteSized: byteSized)
        case 10: return [0xF0] + lockableInstruction()
        default: return instruction()
        }
    }

    /// A read-modify-write of memory that LOCK may prefix: ALU r/m, r
    /// (not CMP), INC, DEC, NOT, NEG, XCHG, XADD, CMPXCHG, BTS/BTR/BTC
    /// with an immediate.
    mutating func lockableInstruction() -> [UInt8] {
        let byteSized = g.bool()
        let (prefix, _) = byteSized ? ([], 1) : operandSize()
        let w: UInt8 = byteSized ? 0 : 1
        let reg = register(byteSized: byteSized)
        switch g.below(6) {
        case 0: return prefix + [UInt8(g.below(7)) << 3 | w] + modrm(reg: reg, byteSized: byteSized, memoryOnly: true)
        case 1: return prefix + [0xFE | w] + modrm(reg: UInt8(g.below(2)), byteSized: byteSized, memoryOnly: true)
        case 2: return prefix + [0xF6 | w] + modrm(reg: UInt8(2 + g.below(2)), byteSized: byteSized, memoryOnly: true)
        case 3: return prefix + [0x86 | w] + modrm(reg: reg, byteSized: byteSized, memoryOnly: true)
        case 4: return prefix + [0x0F, [0xB0, 0xC0][g.below(2)] | w] + modrm(reg: reg, byteSized: byteSized, memoryOnly: true)
        default:
            let (prefix, _) = operandSize()
            return prefix + [0x0F, 0xBA] + modrm(reg: UInt8(5 + g.below(3)), byteSized: false, memoryOnly: true) + [g.nextByte()]
        }
    }

    mutating func stringInstruction() -> [UInt8] {
        func load(_ r: UInt8, _ value: UInt32) -> [UInt8] {
            code32 ? [0xB8 | r] + withUnsafeBytes(of: value.littleEndian, Array.init)
                : [0xB8 | r] + withUnsafeBytes(of: UInt16(truncatingIfNeeded: value).littleEndian, Array.init)
        }
        let base = code32 ? RandomProgramEncoder.data32 : RandomProgramEncoder.data16
        // Room for 16 elements of 4 bytes either way.
        let room = UInt32(RandomProgramEncoder.dataSize - 128)
        var out = load(6, base + 64 + UInt32(g.below(Int(room)))) + load(7, base + 64 + UInt32(g.below(Int(room))))
        out.append(g.bool() ? 0xFC : 0xFD) // CLD, STD
        let opcode = [0xA4, 0xA6, 0xAA, 0xAC, 0xAE][g.below(5)] | UInt8(g.below(2))
        if opcode & 1 == 1 { out += operandSize().prefix }
        if g.below(4) == 0 { out.append([0x26, 0x36, 0x3E][g.below(3)]) } // ES:, SS:, DS:
        if g.below(3) == 0 {
            out = load(1, UInt32(g.below(16))) + out
            out.append(g.bool() ? 0xF3 : 0xF2) // REP(E), REPNE
        }
        return out + [opcode]
    }
}
