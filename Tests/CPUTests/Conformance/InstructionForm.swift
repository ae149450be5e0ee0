import GuestPrograms

/// One row of the differential test's per-instruction table: a name, how
/// many random cases to generate, and the generator that encodes one case
/// (instruction bytes, the register and memory values it needs, what the
/// SDM leaves undefined).
///
/// Only instructions a P6 has and CPL-3 code can observe are generated:
/// nothing the Linux kernel emulates or rewrites for user space (SGDT/SIDT/
/// SMSW/SLDT/STR under UMIP, CPUID, RDTSC), no MMX/SSE, and no encodings
/// that newer processors gave a new meaning (C4/C5 with mod = 11 are VEX,
/// F3 0F BC/BD are TZCNT/LZCNT, 0F 38/0F 3A are three-byte opcodes).
struct InstructionForm {
    let name: String
    let cases: Int
    let build: (inout CaseBuilder) -> Void

    init(_ name: String, cases: Int = 100, _ build: @escaping (inout CaseBuilder) -> Void) {
        self.name = name; self.cases = cases; self.build = build
    }

    /// Every form, integer and x87.
    static var all: [InstructionForm] {
        IntegerForms.all + DataMovementForms.all + ControlForms.all + X87Forms.all
    }

    /// Generates `scale` times the cases of `forms`, in a fixed order from `seed`.
    static func generate(_ forms: [InstructionForm], seed: UInt64, scale: Int = 1) -> [DifferentialCase] {
        var rng = SplitMix64(seed: seed)
        var cases: [DifferentialCase] = []
        for form in forms {
            for _ in 0..<form.cases * scale {
                var b = CaseBuilder(rng: &rng)
                form.build(&b)
                cases.append(b.finish(form: form.name))
            }
        }
        return cases
    }
}

extension CaseBuilder {
    /// An operand size: 1, 2 or 4 bytes (or only 2 and 4).
    mutating func size(byte: Bool = true) -> Int {
        byte ? [1, 2, 4, 4][below(4)] : (chance(0.35) ? 2 : 4)
    }

    /// A general register number (0–7) other than ESP, which stays on the
    /// data region for the instructions that use the stack.
    mutating func register() -> UInt8 { [0, 1, 2, 3, 5, 6, 7][below(7)] }

    /// The register holding an 8-bit register operand's value, and its shift:
    /// 0–3 = AL CL DL BL, 4–7 = AH CH DH BH.
    static func byteRegister(_ r: UInt8) -> (register: UInt8, shift: UInt32) { (r & 3, r >= 4 ? 8 : 0) }

    /// Sets the value of an operand register of `size` bytes (keeping the
    /// other bits of the full register) and pins it.
    mutating func setOperand(_ r: UInt8, size: Int, _ v: UInt32) {
        switch size {
        case 1:
            let (full, shift) = CaseBuilder.byteRegister(r)
            pin(full, registers[Int(full)] & ~(0xFF << shift) | (v & 0xFF) << shift)
        case 2: pin16(r, UInt16(truncatingIfNeeded: v))
        default: pin(r, v)
        }
    }

    /// Marks the bits of an operand register of `size` bytes undefined.
    mutating func undefinedOperand(_ r: UInt8, size: Int) {
        switch size {
        case 1:
            let (full, shift) = CaseBuilder.byteRegister(r)
            undefined.registers[Int(full)] |= 0xFF << shift
        case 2: undefined.registers[Int(r)] |= 0xFFFF
        default: undefined.registers[Int(r)] = 0xFFFF_FFFF
        }
    }

    /// A value for an operand of `size` bytes, biased to edge cases.
    mutating func value(size: Int) -> UInt32 {
        let w = word()
        return size == 4 ? w : w & ((1 << UInt32(8 * size)) - 1)
    }

    /// The r/m operand: a register (its number) or memory (its address).
    enum RM { case register(UInt8), memory(UInt32) }

    /// Encodes r/m and returns which it is.
    @discardableResult
    mutating func rm(reg: UInt8, size: Int, registerChance: Double = 0.4, write: Bool = false) -> RM {
        if chance(registerChance) {
            let r = UInt8(below(8))
            modrmRegister(reg: reg, rm: r)
            return .register(r)
        }
        return .memory(modrmMemory(reg: reg, span: 0..<size, write: write))
    }

    /// Sets the value of an r/m operand chosen by `rm`.
    mutating func set(_ operand: RM, size: Int, _ v: UInt32) {
        switch operand {
        case .register(let r): setOperand(r, size: size, v)
        case .memory(let a): patch(at: a, value: UInt64(v), size: size)
        }
    }

    /// Marks the r/m operand's result undefined.
    mutating func undefinedResult(_ operand: RM, size: Int) {
        switch operand {
        case .register(let r): undefinedOperand(r, size: size)
        case .memory(let a):
            let o = Int(a - DifferentialLayout.dataBase)
            undefined.memory.append(o..<o + size)
        }
    }

    /// LOCK, now and then: valid on a memory destination of a lockable
    /// instruction, #UD anywhere else (SDM vol. 2, LOCK).
    mutating func maybeLock(_ operand: RM?, lockable: Bool) {
        if case .memory = operand, lockable {
            if chance(0.12) { prefix(0xF0) }
        } else if chance(0.03) {
            prefix(0xF0)
        }
    }
}
