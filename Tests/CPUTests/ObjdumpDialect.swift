/// What it takes to compare our disassembly with objdump's: the
/// normalization rules (each one a way objdump's spelling depends on things
/// our text deliberately does not, or on a naming choice), and the listed
/// classes of encodings where the two are expected to disagree because the
/// P6 and binutils' idea of "x86" differ. Every rule and class is written out
/// here with the reason; nothing else is forgiven.
@testable import CPU

/// The raw facts of a case, read from its bytes without the decoder under test.
struct CaseBytes {
    let bytes: [UInt8]
    let default32: Bool
    let prefixes: [UInt8]
    /// Index of the first opcode byte.
    let opcodeStart: Int

    init(_ bytes: [UInt8], default32: Bool) {
        self.bytes = bytes
        self.default32 = default32
        var n = 0
        while n < bytes.count && CaseBytes.prefixBytes.contains(bytes[n]) { n += 1 }
        prefixes = Array(bytes[..<n])
        opcodeStart = n
    }

    static let prefixBytes: Set<UInt8> = [0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x66, 0x67, 0xF0, 0xF2, 0xF3]

    var operandSize32: Bool { default32 != prefixes.contains(0x66) }
    func byte(_ k: Int) -> UInt8 { opcodeStart + k < bytes.count ? bytes[opcodeStart + k] : 0 }
    var first: UInt8 { byte(0) }
    var isTwoByte: Bool { first == 0x0F }
    var second: UInt8 { byte(1) }
    /// The ModRM byte, if the opcode has one.
    var modrm: UInt8 { isTwoByte ? byte(2) : byte(1) }
    var mod: UInt8 { modrm >> 6 }
    var reg: UInt8 { (modrm >> 3) & 7 }
    var rm: UInt8 { modrm & 7 }
}

enum ObjdumpDialect {
    static let repeatWords: Set<String> = ["rep", "repz", "repnz", "repe", "repne"]
    /// Prefix words objdump prints for prefixes it did not fold into the
    /// operation. Our text shows segment overrides only inside memory
    /// operands and the 66/67 prefixes only through register and operand
    /// sizes, so these words are dropped (the overrides that matter are then
    /// still checked inside the operands).
    static let droppedPrefixWords: Set<String> = ["cs", "ds", "es", "ss", "fs", "gs",
                                                  "data16", "data32", "addr16", "addr32", "notrack"]

    static let prefixWords = repeatWords.union(droppedPrefixWords).union(["lock", "bnd", "xacquire", "xrelease"])
    static let sizeSuffixed: Set<String> = ["push", "pop", "call", "jmp", "ret", "retf", "enter", "leave",
                                            "sgdt", "sidt", "lgdt", "lidt",
                                            "fldenv", "fnstenv", "frstor", "fnsave", "fstenv", "fsave"]
    static let intelSized: Set<String> = ["pusha", "popa", "pushf", "popf", "iret"]
    static let branches: Set<String> = ["jmp", "call", "loop", "loope", "loopne", "jcxz", "jecxz"]

    /// Splits text into prefix words, mnemonic and operand string, with
    /// whitespace runs collapsed (rule: objdump's column padding is not compared).
    static func split(_ text: String) -> (prefixes: [String], mnemonic: String, operands: String) {
        var words = text.split(separator: " ").map(String.init)
        var prefixes: [String] = []
        while words.count > 1 && prefixWords.contains(words[0]) { prefixes.append(words.removeFirst()) }
        let mnemonic = words.isEmpty ? "" : words.removeFirst()
        return (prefixes, mnemonic, words.joined(separator: " "))
    }

    /// Prefix words in one canonical form: the last REP-class word (the CPU
    /// uses the last F2/F3), then `lock`. objdump's names for F2/F3 on
    /// branches (MPX `bnd`) and with LOCK (HLE `xacquire`/`xrelease`) are
    /// mapped back to the REP names the P6 knows.
    static func canonicalPrefixes(_ words: [String]) -> [String] {
        var repeatWord: String?
        var lock = false
        for word in words {
            switch word {
            case "lock": lock = true
            case "bnd", "xacquire", "repne": repeatWord = "repnz"
            case "xrelease", "repe": repeatWord = "repz"
            case _ where repeatWords.contains(word): repeatWord = word
            default: break
            }
        }
        return (repeatWord.map { [$0] } ?? []) + (lock ? ["lock"] : [])
    }

    /// Our text in the canonical form used for comparison.
    static func canonical(ours text: String) -> String {
        let parts = split(text)
        return join(canonicalPrefixes(parts.prefixes), parts.mnemonic, parts.operands)
    }

    /// objdump's text rewritten into our conventions.
    static func canonical(objdump text: String, _ c: CaseBytes, ours: Instruction) -> String {
        // Rule: objdump annotates the 8087/287 leftovers ("fneni(8087 only)").
        let cleaned = text.contains("only)")
            ? text.replacingOccurrences(of: "(8087 only)", with: "").replacingOccurrences(of: "(287 only)", with: "")
            : text
        var (prefixes, mnemonic, operands) = split(cleaned)
        prefixes = prefixes.filter { !droppedPrefixWords.contains($0) }

        // Rule: objdump marks a non-default operand size with a w/d suffix on
        // these mnemonics (and always on sgdt…lidt); the operand sizes in our
        // text already say it.
        if let last = mnemonic.last, last == "w" || last == "d", sizeSuffixed.contains(String(mnemonic.dropLast())) {
            mnemonic.removeLast()
        }
        // Rule: for these, objdump's bare name means the mode's default size
        // and "w" means 16-bit; we use Intel's names: bare = 16-bit, "d" = 32-bit.
        if mnemonic.hasSuffix("w"), intelSized.contains(String(mnemonic.dropLast())) {
            mnemonic.removeLast()
        } else if intelSized.contains(mnemonic) && c.operandSize32 {
            mnemonic += "d"
        }
        // Rule: objdump does not wrap a rel8 target to 16 bits under a 16-bit
        // operand size; the CPU does (IP is 16 bits wide), and so do we.
        if !c.operandSize32, branches.contains(mnemonic) || (mnemonic.hasPrefix("j") && ours.op == .jcc),
           operands.hasPrefix("0x"), !operands.contains(":"), !operands.contains(" "),
           let target = UInt64(operands.dropFirst(2), radix: 16) {
            operands = "0x" + String(target & 0xFFFF, radix: 16)
        }
        // Rule: the shift group's /6 is an alias of SHL; objdump calls it
        // shl, we call it sal (the Op the decoder gives it).
        if ours.op == .sal && mnemonic == "shl" { mnemonic = "sal" }
        // Rule: 66 90 is a NOP (the CPU special-cases 90 in every size);
        // objdump spells the non-default size as xchg ax,ax / xchg eax,eax.
        if ours.op == .nop && c.first == 0x90 && mnemonic == "xchg" && (operands == "ax,ax" || operands == "eax,eax") {
            mnemonic = "nop"
            operands = ""
        }
        // Rule: PAUSE is the last F3 before 90; objdump prints any other
        // F2/F3 in front of it as words, though the CPU uses only the last one.
        if ours.op == .pause { prefixes = prefixes.filter { !repeatWords.contains($0) } }
        return join(canonicalPrefixes(prefixes), mnemonic, operands)
    }

    static func join(_ prefixes: [String], _ mnemonic: String, _ operands: String) -> String {
        (prefixes + [mnemonic] + (operands.isEmpty ? [] : [operands])).joined(separator: " ")
    }

    // MARK: Expected disagreements

    /// Why the P6 raises #UD where objdump decodes an instruction, or nil if
    /// it is not one of the listed classes.
    static func whyInvalidOnP6(_ c: CaseBytes) -> String? {
        if c.prefixes.contains(0xF0) {
            // LOCK on an instruction that cannot be locked or has no memory destination.
            let unlocked = c.bytes.enumerated().filter { $0.offset >= c.opcodeStart || $0.element != 0xF0 }.map(\.element)
            let plain = unlocked.withUnsafeBufferPointer {
                Decoder.decode($0.baseAddress!, count: $0.count, default32: c.default32)
            }
            if plain.op != .invalid && plain.op != .tooLong && plain.op != .incomplete {
                return "LOCK on a non-lockable instruction or register destination"
            }
        }
        if c.isTwoByte {
            switch c.second {
            case 0x0D, 0x0E, 0x0F: return "3DNow! / PREFETCHW opcode space"
            case 0x10...0x17, 0x28...0x2F, 0x50...0x7F, 0xC2...0xC6, 0xD0...0xFE:
                return "MMX/SSE opcode space"
            case 0x38, 0x3A: return "three-byte escapes (SSSE3 and later)"
            case 0x37: return "GETSEC (SMX)"
            case 0x05, 0x07: return "SYSCALL/SYSRET (AMD)"
            case 0x24, 0x26: return "MOV to/from test registers (386/486 only)"
            case 0xA6, 0xA7: return "VIA PadLock"
            case 0xB8: return "POPCNT / JMPE"
            case 0xB9, 0xFF: return "UD1/UD0 (objdump gives them operands; #UD either way)"
            case 0x00 where c.reg >= 6: return "JMPE (IA-64)"
            case 0x01 where c.mod == 3 || c.reg == 5: return "0F 01 extensions (VMX, SVM, MONITOR, XGETBV, …)"
            case 0xAE where c.reg >= 2 || c.mod == 3: return "0F AE extensions (MXCSR, XSAVE, fences, …)"
            case 0xC7 where c.reg != 1 || c.mod == 3: return "0F C7 extensions (VMX, RDRAND, RDSEED)"
            case 0x20 where [1, 5, 6, 7].contains(c.reg), 0x22 where [1, 5, 6, 7].contains(c.reg): return "CR1/CR5–CR7 do not exist"
            default: return nil
            }
        }
        switch c.first {
        case 0xC4 where c.mod == 3, 0xC5 where c.mod == 3: return "VEX prefix (LES/LDS register form is #UD on the P6)"
        case 0x62 where c.mod == 3: return "EVEX prefix (BOUND register form is #UD on the P6)"
        case 0x8F where c.reg != 0: return "XOP prefix (POP Ev /1–/7 is #UD on the P6)"
        case 0xC6 where c.modrm == 0xF8, 0xC7 where c.modrm == 0xF8: return "XABORT/XBEGIN (TSX)"
        case 0xDB where c.mod != 3 && c.reg == 1, 0xDD where c.mod != 3 && c.reg == 1,
             0xDF where c.mod != 3 && c.reg == 1: return "FISTTP (SSE3)"
        case 0xDB where c.modrm == 0xE5: return "FRSTPM (287 only)"
        case 0x8C where c.reg > 5, 0x8E where c.reg > 5: return "segment registers 6 and 7 do not exist"
        case 0x8E where c.reg == 1: return "MOV to CS is #UD"
        default: return nil
        }
    }

    /// Why objdump says (bad) where the P6 executes an instruction.
    static func whyValidOnP6(_ c: CaseBytes, ours: Instruction) -> String? {
        if let why = foldedWait(c, ours: ours) { return why }
        if c.isTwoByte && c.second == 0x09 && !c.prefixes.isEmpty {
            return "66/F2 0F 09: objdump picks a prefix table (WBNOINVD's); the P6 ignores the prefix (WBINVD)"
        }
        if c.isTwoByte && [0xB8, 0xBC, 0xBD].contains(c.second) && c.prefixes.contains(0xF2) {
            return "F2 0F BC/BD: objdump picks a prefix table (BMI's); the P6 ignores the prefix (BSF/BSR)"
        }
        if c.isTwoByte && (0x18...0x1F).contains(c.second) {
            return "0F 18–1F hint space: objdump rejects forms of later hints (MPX, CET); the P6 runs NOP"
        }
        switch c.first {
        case 0xD6: return "SALC (undocumented, every Intel CPU)"
        case 0xD9 where c.mod == 3 && c.reg == 3,
             0xDC where c.mod == 3 && (c.reg == 2 || c.reg == 3),
             0xDD where c.mod == 3 && c.reg == 1,
             0xDE where c.mod == 3 && c.reg == 2,
             0xDF where c.mod == 3 && (1...3).contains(c.reg):
            return "x87 register-form aliases (FSTP/FCOM/FCOMP/FXCH)"
        default: return nil
        }
    }

    /// Why the texts differ although both decode the same bytes with the same length.
    static func whyTextDiffers(_ c: CaseBytes, objdumpMnemonic: String) -> String? {
        if c.isTwoByte && (0x18...0x1F).contains(c.second) && objdumpMnemonic != "nop" {
            return "0F 18–1F hint space: objdump names later hints (PREFETCHh, MPX, CET, …); the P6 runs NOP"
        }
        if c.isTwoByte && [0xB8, 0xBC, 0xBD].contains(c.second)
            && ["popcnt", "tzcnt", "lzcnt"].contains(objdumpMnemonic) {
            return "F3 0F B8/BC/BD: POPCNT/TZCNT/LZCNT came later; the P6 ignores F3 (BSF/BSR)"
        }
        if c.isTwoByte && c.second == 0x09 && objdumpMnemonic == "wbnoinvd" {
            return "F3 0F 09: WBNOINVD came later; the P6 ignores F3 (WBINVD)"
        }
        return nil
    }

    /// Why the lengths differ (only where objdump reads more than one instruction as one).
    static func whyLengthDiffers(_ c: CaseBytes, ours: Instruction, objdumpMnemonic: String) -> String? {
        foldedWait(c, ours: ours)
    }

    /// objdump reads FWAIT (9B) and the x87 instruction after it as one
    /// instruction (so 9B DF E0 is its "fstsw ax"); for the CPU FWAIT is an
    /// instruction of its own.
    static func foldedWait(_ c: CaseBytes, ours: Instruction) -> String? {
        guard ours.op == .wait else { return nil }
        let next = CaseBytes(Array(c.bytes[Int(ours.length)...]), default32: c.default32)
        guard (0xD8...0xDF).contains(next.first) else { return nil }
        return "objdump folds FWAIT into the following x87 instruction"
    }
}
