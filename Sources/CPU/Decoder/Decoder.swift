/// The x86 instruction decoder: bytes in, one `Instruction` out, for the
/// Pentium Pro/II integer and x87 instruction set in 16- and 32-bit code.
///
/// It is table-driven: after the prefixes it looks the opcode up in
/// `OpcodeTable`, follows a group to its member by ModRM, and turns each of
/// the member's `OperandSpec`s into a concrete `Operand`, reading SIB,
/// displacement and immediates as the specs ask. All the knowledge of what an
/// encoding means is in the maps; this file only knows the shape of an x86
/// instruction. It runs for every interpreted instruction, so it allocates
/// nothing and touches only the bytes and a few table entries.
public enum Decoder {
    /// Decodes one instruction from `bytes` (up to `count` available bytes).
    /// `default32`: the code segment's D bit (32-bit default operand/address size).
    /// Returns op == .incomplete if the instruction needs more than `count` bytes,
    /// op == .tooLong if it would exceed 15 bytes, op == .invalid for #UD encodings.
    public static func decode(_ bytes: UnsafePointer<UInt8>, count: Int, default32: Bool) -> Instruction {
        var decoding = InstructionDecoding(bytes: bytes, count: count)
        decoding.run(default32: default32)
        return decoding.instruction
    }

    /// The architectural limit on an instruction's length, prefixes included.
    static let maximumLength = 15
}

/// One decode in progress: the bytes, how far it has read, and the
/// instruction taking shape.
private struct InstructionDecoding {
    var instruction = Instruction()
    let bytes: UnsafePointer<UInt8>
    /// Bytes that may be read: those given, but never past the 15-byte limit.
    let available: Int
    var position = 0
    /// Some byte needed was not available: the common case is checked with
    /// this one flag, the details below only when it is set.
    var truncated = false
    /// Where the first missing prefix/opcode/ModRM/SIB byte was: from there on
    /// the shape of the instruction is unknown. (When only a displacement or
    /// immediate is missing, the shape and so the length are still known.)
    var structureLostAt = Int.max
    /// Cleared by an operand the P6 does not accept (#UD).
    var valid = true

    init(bytes: UnsafePointer<UInt8>, count: Int) {
        self.bytes = bytes
        self.available = max(0, min(count, Decoder.maximumLength))
    }

    mutating func run(default32: Bool) {
        var operandSize32 = default32
        var addressSize32 = default32
        var segmentOverride: SegmentRegister?

        var byte = nextStructural()
        prefixes: while true {
            switch byte {
            case 0x26: segmentOverride = .es
            case 0x2E: segmentOverride = .cs
            case 0x36: segmentOverride = .ss
            case 0x3E: segmentOverride = .ds
            case 0x64: segmentOverride = .fs
            case 0x65: segmentOverride = .gs
            case 0x66: operandSize32 = !default32
            case 0x67: addressSize32 = !default32
            case 0xF0: instruction.lock = true
            case 0xF2: instruction.repeatPrefix = .repne
            case 0xF3: instruction.repeatPrefix = .repe
            default: break prefixes
            }
            byte = nextStructural()
        }
        instruction.operandSize = operandSize32 ? 4 : 2
        instruction.addressSize = addressSize32 ? 4 : 2

        var index = Int(byte)
        if byte == 0x0F {
            let second = nextStructural()
            index = OpcodeTable.twoByteBase + Int(second)
            instruction.opcode = 0x0F00 | UInt16(second)
        } else {
            instruction.opcode = UInt16(byte)
        }

        let table = OpcodeTable.entries
        var entry = table[index]
        var specs = entry.operands
        if entry.attributes.contains(.modrm) {
            let modrm = nextStructural()
            instruction.modrm = modrm
            instruction.hasModRM = true
            let isRegister = modrm >= 0xC0
            if entry.attributes.contains(.group) {
                let member = OpcodeTable.groupBase + Int(entry.link) * 16
                    + (isRegister ? 8 : 0) + Int((modrm >> 3) & 7)
                entry = table[member]
                if entry.attributes.contains(.row) {
                    entry = table[OpcodeTable.rowBase + Int(entry.link) * 8 + Int(modrm & 7)]
                }
                if entry.operands.0 != .none { specs = entry.operands }
            }
            if entry.attributes.contains(.registerForm) {
                // MOV CRn/DRn: the CPU reads mod as 3 whatever it says; so
                // does the recorded ModRM, and with it `isMemoryForm`.
                instruction.modrm = modrm | 0xC0
            } else if !isRegister {
                decodeAddress(modrm: modrm, addressSize32: addressSize32)
            }
        }
        if let segmentOverride {
            instruction.segment = segmentOverride
            instruction.hasSegmentOverride = true
        }
        guard entry.op != .invalid else { return finish(.invalid) }

        instruction.condition = entry.condition
        if specs.0 != .none {
            instruction.operands.0 = operand(specs.0)
            if specs.1 != .none {
                instruction.operands.1 = operand(specs.1)
                if specs.2 != .none { instruction.operands.2 = operand(specs.2) }
            }
        }
        // LOCK is #UD unless the instruction can be locked and writes memory.
        if instruction.lock
            && !(entry.attributes.contains(.lockable) && instruction.operands.0.kind == .memory) {
            valid = false
        }
        var op = entry.op
        if op == .nop && instruction.opcode == 0x90 && instruction.repeatPrefix == .repe { op = .pause }
        finish(valid ? op : .invalid)
    }

    /// Sets the result, unless the bytes ran out or the 15-byte limit was hit.
    mutating func finish(_ op: Op) {
        guard truncated else {
            instruction.op = op
            instruction.length = UInt8(truncatingIfNeeded: position)
            return
        }
        if structureLostAt != .max {
            instruction.op = structureLostAt >= Decoder.maximumLength ? .tooLong : .incomplete
        } else {
            instruction.op = position > Decoder.maximumLength ? .tooLong : .incomplete
        }
        instruction.length = UInt8(min(position, Decoder.maximumLength))
    }

    // MARK: Bytes

    /// A prefix, opcode, ModRM or SIB byte. Past the end it yields 0 and
    /// remembers where the shape of the instruction was lost.
    mutating func nextStructural() -> UInt8 {
        let at = position
        position = at &+ 1
        if at < available { return bytes[at] }
        if structureLostAt == .max { structureLostAt = at }
        truncated = true
        return 0
    }

    /// A little-endian displacement or immediate of 1, 2 or 4 bytes.
    mutating func nextData(_ size: UInt8) -> UInt32 {
        let at = position
        position = at &+ Int(size)
        guard position <= available else {
            truncated = true
            return 0
        }
        switch size {
        case 1: return UInt32(bytes[at])
        case 2: return UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8
        default: return UInt32(littleEndian: UnsafeRawPointer(bytes + at).loadUnaligned(as: UInt32.self))
        }
    }

    mutating func nextSignExtended8() -> UInt32 {
        UInt32(bitPattern: Int32(Int8(truncatingIfNeeded: nextData(1))))
    }

    mutating func nextSignExtended16() -> UInt32 {
        UInt32(bitPattern: Int32(Int16(truncatingIfNeeded: nextData(2))))
    }

    // MARK: Addressing

    /// Fills base/index/scale/displacement and the default segment from a
    /// memory-form ModRM (mod 0–2), reading SIB and displacement.
    mutating func decodeAddress(modrm: UInt8, addressSize32: Bool) {
        let mod = modrm >> 6
        let rm = modrm & 7
        if !addressSize32 {
            if mod == 0 && rm == 6 {
                instruction.displacement = nextSignExtended16()
                return
            }
            // BX+SI, BX+DI, BP+SI, BP+DI, SI, DI, BP, BX in GPR numbers (BX 3, BP 5, SI 6, DI 7).
            switch rm {
            case 0: instruction.base = 3; instruction.index = 6
            case 1: instruction.base = 3; instruction.index = 7
            case 2: instruction.base = 5; instruction.index = 6; instruction.segment = .ss
            case 3: instruction.base = 5; instruction.index = 7; instruction.segment = .ss
            case 4: instruction.base = 6
            case 5: instruction.base = 7
            case 6: instruction.base = 5; instruction.segment = .ss
            default: instruction.base = 3
            }
            if mod == 1 {
                instruction.displacement = nextSignExtended8()
            } else if mod == 2 {
                instruction.displacement = nextSignExtended16()
            }
            return
        }
        var base = rm
        if rm == 4 {
            let sib = nextStructural()
            // Kept as encoded even without an index: the disassembler shows it.
            instruction.scale = sib >> 6
            let index = (sib >> 3) & 7
            if index != 4 { instruction.index = index }
            base = sib & 7
        }
        if base == 5 && mod == 0 {
            instruction.displacement = nextData(4)
        } else {
            instruction.base = base
            if base == 4 || base == 5 { instruction.segment = .ss }
            if mod == 1 {
                instruction.displacement = nextSignExtended8()
            } else if mod == 2 {
                instruction.displacement = nextData(4)
            }
        }
    }

    // MARK: Operands

    /// Resolves one operand spec, reading its immediate if it has one.
    mutating func operand(_ spec: OperandSpec) -> Operand {
        let operandSize = instruction.operandSize
        let modrm = instruction.modrm
        let isRegister = modrm >= 0xC0
        let reg = (modrm >> 3) & 7
        let rm = modrm & 7
        switch spec {
        case .none: return .none
        case .Eb: return isRegister ? Operand(.register, size: 1, register: rm) : Operand(.memory, size: 1)
        case .Ew: return isRegister ? Operand(.register, size: 2, register: rm) : Operand(.memory, size: 2)
        case .Ev:
            return isRegister ? Operand(.register, size: operandSize, register: rm)
                                : Operand(.memory, size: operandSize)
        case .MwRv:
            return isRegister ? Operand(.register, size: operandSize, register: rm) : Operand(.memory, size: 2)
        case .Rd: return Operand(.register, size: 4, register: rm)
        case .M: return memoryOnly(size: operandSize)
        case .Mb: return memoryOnly(size: 1)
        case .Mw: return memoryOnly(size: 2)
        case .Md: return memoryOnly(size: 4)
        case .Mq: return memoryOnly(size: 8)
        case .Mt: return memoryOnly(size: 10)
        case .Mp: return memoryOnly(size: 2 + operandSize)
        case .Ma: return memoryOnly(size: 2 * operandSize)
        case .Ms: return memoryOnly(size: 6)
        case .Menv: return memoryOnly(size: operandSize == 4 ? 28 : 14)
        case .Mstate: return memoryOnly(size: operandSize == 4 ? 108 : 94)
        // 512 does not fit the size byte; FXSAVE/FXRSTOR imply it.
        case .Mfx: return memoryOnly(size: 0)
        case .Gb: return Operand(.register, size: 1, register: reg)
        case .Gw: return Operand(.register, size: 2, register: reg)
        case .Gv: return Operand(.register, size: operandSize, register: reg)
        case .Sw:
            if reg > 5 { valid = false }
            return Operand(.segment, size: 2, register: reg)
        case .SwLoad:
            if reg > 5 || reg == UInt8(SegmentRegister.cs.rawValue) { valid = false }
            return Operand(.segment, size: 2, register: reg)
        case .Cd:
            if reg == 1 || reg > 4 { valid = false }
            return Operand(.control, size: 4, register: reg)
        case .Dd: return Operand(.debug, size: 4, register: reg)
        case .Ib:
            instruction.immediate = nextData(1)
            return Operand(.immediate, size: 1)
        case .Iw:
            instruction.immediate = nextData(2)
            return Operand(.immediate, size: 2)
        case .Iz:
            instruction.immediate = nextData(operandSize)
            return Operand(.immediate, size: operandSize)
        case .IbSignExtended:
            let value = nextSignExtended8()
            instruction.immediate = operandSize == 4 ? value : value & 0xFFFF
            return Operand(.immediate, size: operandSize)
        case .IbSecond:
            instruction.immediate2 = nextData(1)
            return Operand(.immediate2, size: 1)
        case .Jb:
            instruction.immediate = nextSignExtended8()
            return Operand(.relative, size: operandSize)
        case .Jz:
            instruction.immediate = operandSize == 4 ? nextData(4) : nextSignExtended16()
            return Operand(.relative, size: operandSize)
        case .Ap:
            instruction.immediate = nextData(operandSize)
            instruction.immediate2 = nextData(2)
            return Operand(.farPointer, size: 2 + operandSize)
        case .Ob:
            instruction.displacement = nextData(instruction.addressSize)
            return Operand(.absolute, size: 1)
        case .Ov:
            instruction.displacement = nextData(instruction.addressSize)
            return Operand(.absolute, size: operandSize)
        case .AL: return Operand(.register, size: 1, register: 0)
        case .CL: return Operand(.register, size: 1, register: 1)
        case .DX: return Operand(.register, size: 2, register: 2)
        case .AX: return Operand(.register, size: 2, register: 0)
        case .eAX: return Operand(.register, size: operandSize, register: 0)
        case .Zb: return Operand(.register, size: 1, register: UInt8(truncatingIfNeeded: instruction.opcode) & 7)
        case .Zv:
            return Operand(.register, size: operandSize, register: UInt8(truncatingIfNeeded: instruction.opcode) & 7)
        case .ES: return Operand(.segment, size: 2, register: UInt8(SegmentRegister.es.rawValue))
        case .CS: return Operand(.segment, size: 2, register: UInt8(SegmentRegister.cs.rawValue))
        case .SS: return Operand(.segment, size: 2, register: UInt8(SegmentRegister.ss.rawValue))
        case .DS: return Operand(.segment, size: 2, register: UInt8(SegmentRegister.ds.rawValue))
        case .FS: return Operand(.segment, size: 2, register: UInt8(SegmentRegister.fs.rawValue))
        case .GS: return Operand(.segment, size: 2, register: UInt8(SegmentRegister.gs.rawValue))
        case .one: return Operand(.constant, size: 1, register: 1)
        case .Xb: return Operand(.none, size: 1)
        case .Xv: return Operand(.none, size: operandSize)
        case .ST0: return Operand(.fpuStack, size: 10, register: 0)
        case .STi: return Operand(.fpuStack, size: 10, register: rm)
        }
    }

    /// A memory operand whose register form (mod = 3) is #UD.
    mutating func memoryOnly(size: UInt8) -> Operand {
        if instruction.modrm >= 0xC0 { valid = false }
        return Operand(.memory, size: size)
    }
}
