/// Intel-syntax text for decoded instructions, in the dialect of GNU
/// `objdump -M intel` (lower case, `DWORD PTR`, `0x` hex, `st(i)`), so traces
/// and the debugger read like the tool everyone already uses and the decoder
/// can be checked against it. It formats from the `Instruction` alone, so
/// where objdump's spelling depends on the code segment's default size it
/// spells the size out instead: `pushad`, `iretd`, `cwde` for 32-bit
/// operands, `pusha`, `iret`, `cbw` for 16-bit ones. Not a hot path.
public enum Disassembler {
    /// Intel syntax, as `objdump -M intel` prints it (lower case). `address` = linear/offset EIP of the instruction (for relative targets).
    public static func text(_ i: Instruction, address: UInt32) -> String {
        switch i.op {
        case .invalid, .incomplete, .tooLong: return "(bad)"
        default: break
        }
        let head = prefixWords(i) + mnemonic(i)
        let operands = operandTexts(i, address: address)
        guard !operands.isEmpty else { return head }
        // objdump pads the mnemonic column to six characters.
        let padding = String(repeating: " ", count: max(0, 6 - head.count))
        return head + padding + " " + operands.joined(separator: ",")
    }

    /// Convenience: decode+format; returns (text, length).
    public static func disassemble(_ bytes: [UInt8], address: UInt32, default32: Bool) -> (String, Int) {
        bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return ("(bad)", 0) }
            let instruction = Decoder.decode(base, count: buffer.count, default32: default32)
            return (text(instruction, address: address), Int(instruction.length))
        }
    }

    // MARK: Mnemonics

    static let conditionSuffixes = ["o", "no", "b", "ae", "e", "ne", "be", "a",
                                    "s", "ns", "p", "np", "l", "ge", "le", "g"]

    static func mnemonic(_ i: Instruction) -> String {
        let wide = i.operandSize == 4
        switch i.op {
        case .jcc: return "j" + conditionSuffixes[Int(i.condition & 15)]
        case .setcc: return "set" + conditionSuffixes[Int(i.condition & 15)]
        case .cmov: return "cmov" + conditionSuffixes[Int(i.condition & 15)]
        case .fcmov:
            // The x87 spells its conditions after the flags it tests (U = PF).
            switch i.condition {
            case 2: return "fcmovb"
            case 3: return "fcmovnb"
            case 4: return "fcmove"
            case 5: return "fcmovne"
            case 6: return "fcmovbe"
            case 7: return "fcmovnbe"
            case 10: return "fcmovu"
            default: return "fcmovnu"
            }
        case .jmpFar: return "jmp"
        case .callFar: return "call"
        case .retFar: return "retf"
        case .wait: return "fwait"
        case .pusha: return wide ? "pushad" : "pusha"
        case .popa: return wide ? "popad" : "popa"
        case .pushf: return wide ? "pushfd" : "pushf"
        case .popf: return wide ? "popfd" : "popf"
        case .iret: return wide ? "iretd" : "iret"
        case .cbw: return wide ? "cwde" : "cbw"
        case .cwd: return wide ? "cdq" : "cwd"
        case .jcxz: return i.addressSize == 4 ? "jecxz" : "jcxz"
        default: return String(describing: i.op)
        }
    }

    static func isString(_ op: Op) -> Bool {
        switch op {
        case .movs, .cmps, .stos, .lods, .scas, .ins, .outs: return true
        default: return false
        }
    }

    /// LOCK and REP as objdump names them: `rep` on the plain string moves,
    /// `repz`/`repnz` where the prefix tests ZF or is ignored.
    static func prefixWords(_ i: Instruction) -> String {
        var words = ""
        switch i.repeatPrefix {
        case .none: break
        case .repne: words += "repnz "
        case .repe:
            switch i.op {
            case .pause: break
            case .movs, .stos, .lods, .ins, .outs: words += "rep "
            default: words += "repz "
            }
        }
        if i.lock { words += "lock " }
        return words
    }

    // MARK: Operands

    static func operandTexts(_ i: Instruction, address: UInt32) -> [String] {
        if isString(i.op) { return stringOperands(i) }
        if i.op == .xlat { return ["BYTE PTR " + segmentPrefix(i) + (i.addressSize == 4 ? "[ebx]" : "[bx]")] }
        var texts: [String] = []
        for operand in [i.operands.0, i.operands.1, i.operands.2] where operand.kind != .none {
            texts.append(text(operand, of: i, address: address))
        }
        // ST(i) from ModRM.rm is written st(i) even for i = 0; the implied
        // stack top next to it is written st. In the two-register forms the
        // ST(i) is the destination for DC and DE, the source otherwise.
        if i.operands.0.kind == .fpuStack {
            let explicit = i.operands.1.kind != .fpuStack || i.opcode == 0xDC || i.opcode == 0xDE ? 0 : 1
            texts[explicit] = "st(\(i.modrmRM))"
        }
        return texts
    }

    static func text(_ operand: Operand, of i: Instruction, address: UInt32) -> String {
        switch operand.kind {
        case .none: return ""
        case .register: return registerName(operand.register, size: operand.size)
        case .memory: return sizeKeyword(operand.size, of: i) + memoryAddress(i)
        case .immediate: return hex(i.immediate & mask(operand.size))
        case .immediate2: return hex(i.immediate2 & mask(operand.size))
        case .segment: return segmentName(operand.register)
        case .control: return "cr\(operand.register)"
        case .debug: return "dr\(operand.register)"
        case .fpuStack: return operand.register == 0 ? "st" : "st(\(operand.register))"
        case .relative:
            let next = address &+ UInt32(i.length)
            return hex((next &+ i.immediate) & mask(operand.size))
        case .farPointer: return hex(i.immediate2 & 0xFFFF) + ":" + hex(i.immediate & mask(operand.size - 2))
        case .absolute: return segmentPrefix(i) + hex(i.displacement & mask(i.addressSize))
        case .constant: return "\(operand.register)"
        }
    }

    /// The implied operands of the string instructions, as objdump shows them.
    static func stringOperands(_ i: Instruction) -> [String] {
        let size = i.operands.0.size
        let keyword = sizeKeyword(size, of: i)
        let wide = i.addressSize == 4
        let source = keyword + segmentPrefix(i) + (wide ? "[esi]" : "[si]")
        let destination = keyword + "es:" + (wide ? "[edi]" : "[di]")
        let accumulator = registerName(0, size: size)
        switch i.op {
        case .movs: return [destination, source]
        case .cmps: return [source, destination]
        case .stos: return [destination, accumulator]
        case .lods: return [accumulator, source]
        case .scas: return [accumulator, destination]
        case .ins: return [destination, "dx"]
        default: return ["dx", source]
        }
    }

    static func memoryAddress(_ i: Instruction) -> String {
        let wide = i.addressSize == 4
        let mod = i.modrm >> 6
        // objdump shows a SIB byte without an index as the pseudo-register
        // eiz, except the plain [esp] form.
        let sibPresent = wide && i.hasModRM && i.modrmRM == 4
        let showsEIZ = sibPresent && i.index == Instruction.noRegister && (i.scale != 0 || i.base != 4)
        if i.base == Instruction.noRegister && i.index == Instruction.noRegister && !showsEIZ {
            return segmentPrefix(i) + hex(i.displacement & mask(i.addressSize))
        }
        var parts = ""
        if i.base != Instruction.noRegister { parts = registerName(i.base, size: i.addressSize) }
        if i.index != Instruction.noRegister || showsEIZ {
            let index = showsEIZ ? "eiz" : registerName(i.index, size: i.addressSize)
            if !parts.isEmpty { parts += "+" }
            // 16-bit forms have no scale; 32-bit ones always show it.
            parts += wide ? index + "*\(1 << i.scale)" : index
        }
        if mod == 1 || mod == 2 || i.base == Instruction.noRegister {
            let signed = wide ? Int64(Int32(bitPattern: i.displacement))
                              : Int64(Int16(truncatingIfNeeded: i.displacement))
            parts += signed < 0 ? "-" + hex(UInt32(-signed)) : "+" + hex(UInt32(signed))
        }
        return (i.hasSegmentOverride ? segmentPrefix(i) : "") + "[" + parts + "]"
    }

    static func sizeKeyword(_ size: UInt8, of i: Instruction) -> String {
        switch i.op {
        case .lea, .sgdt, .sidt, .lgdt, .lidt: return ""
        default: break
        }
        switch size {
        case 1: return "BYTE PTR "
        case 2: return "WORD PTR "
        case 4: return "DWORD PTR "
        case 6: return "FWORD PTR "
        case 8: return "QWORD PTR "
        case 10: return "TBYTE PTR "
        default: return ""   // x87 environment/state and the FXSAVE area
        }
    }

    static func segmentPrefix(_ i: Instruction) -> String {
        segmentName(UInt8(i.segment.rawValue)) + ":"
    }

    static let registerNames: [[String]] = [
        ["al", "cl", "dl", "bl", "ah", "ch", "dh", "bh"],
        ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di"],
        ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"],
    ]

    static func registerName(_ number: UInt8, size: UInt8) -> String {
        let row = size == 1 ? 0 : size == 2 ? 1 : 2
        return registerNames[row][Int(number & 7)]
    }

    static func segmentName(_ number: UInt8) -> String {
        SegmentRegister(rawValue: Int(number)).map(\.name) ?? "?s"
    }

    static func mask(_ size: UInt8) -> UInt32 {
        switch size {
        case 1: return 0xFF
        case 2: return 0xFFFF
        default: return 0xFFFF_FFFF
        }
    }

    static func hex(_ value: UInt32) -> String { "0x" + String(value, radix: 16) }
}
