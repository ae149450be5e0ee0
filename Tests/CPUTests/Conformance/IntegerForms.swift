/// Generators for the integer arithmetic, logic, shift, bit and BCD
/// instructions (SDM vol. 2 pages of each mnemonic), in every encoding and
/// operand size a 32-bit code segment offers.
enum IntegerForms {
    typealias F = EFLAGSBits
    static let aluNames = ["ADD", "OR", "ADC", "SBB", "AND", "SUB", "XOR", "CMP"]

    static var all: [InstructionForm] {
        alu + unary + multiplyDivide + bcd + shifts + doubleShifts + bits
    }

    // MARK: - ADD OR ADC SBB AND SUB XOR CMP TEST

    static var alu: [InstructionForm] {
        var forms: [InstructionForm] = []
        for (n, name) in aluNames.enumerated() {
            let op = UInt8(n * 8)
            let logic = n == 1 || n == 4 || n == 6
            let u = logic ? UndefinedFlags.logic : 0
            let writes = n != 7
            forms.append(InstructionForm("\(name) r/m,r") { b in
                let size = b.size()
                b.operandSize(size)
                b.bytes(op | (size == 1 ? 0 : 1))
                let reg = UInt8(b.below(8))
                let rm = b.rm(reg: reg, size: size, write: writes)
                b.maybeLock(rm, lockable: writes)
                b.undefined.flags = u
                b.end()
            })
            forms.append(InstructionForm("\(name) r,r/m") { b in
                let size = b.size()
                b.operandSize(size)
                b.bytes(op | (size == 1 ? 2 : 3))
                b.rm(reg: UInt8(b.below(8)), size: size)
                b.maybeLock(nil, lockable: false)
                b.undefined.flags = u
                b.end()
            })
            forms.append(InstructionForm("\(name) acc,imm", cases: 60) { b in
                let size = b.size()
                b.operandSize(size)
                b.bytes(op | (size == 1 ? 4 : 5))
                b.immediate(b.value(size: size), size: size)
                b.undefined.flags = u
                b.end()
            })
            forms.append(InstructionForm("\(name) r/m,imm") { b in
                // 80 ib, 81 iw/id, 83 ib sign-extended, 82 ib (an alias of 80
                // that 32-bit code still has).
                let size = b.size()
                let opcode: UInt8 = size == 1 ? (b.chance(0.15) ? 0x82 : 0x80) : (b.chance(0.5) ? 0x83 : 0x81)
                b.operandSize(size)
                b.bytes(opcode)
                let rm = b.rm(reg: UInt8(n), size: size, write: writes)
                b.immediate(b.value(size: size), size: opcode == 0x81 ? size : 1)
                b.maybeLock(rm, lockable: writes)
                b.undefined.flags = u
                b.end()
            })
        }
        forms.append(InstructionForm("TEST r/m,r") { b in
            let size = b.size()
            b.operandSize(size)
            b.bytes(size == 1 ? 0x84 : 0x85)
            b.rm(reg: UInt8(b.below(8)), size: size)
            b.undefined.flags = UndefinedFlags.logic
            b.end()
        })
        forms.append(InstructionForm("TEST acc,imm", cases: 60) { b in
            let size = b.size()
            b.operandSize(size)
            b.bytes(size == 1 ? 0xA8 : 0xA9)
            b.immediate(b.value(size: size), size: size)
            b.undefined.flags = UndefinedFlags.logic
            b.end()
        })
        forms.append(InstructionForm("TEST r/m,imm") { b in
            // F6/F7 /0; /1 is an undocumented alias that P6 and later decode the same way.
            let size = b.size()
            b.operandSize(size)
            b.bytes(size == 1 ? 0xF6 : 0xF7)
            b.rm(reg: b.chance(0.2) ? 1 : 0, size: size)
            b.immediate(b.value(size: size), size: size)
            b.undefined.flags = UndefinedFlags.logic
            b.end()
        })
        return forms
    }

    // MARK: - INC DEC NEG NOT

    static var unary: [InstructionForm] {
        var forms: [InstructionForm] = []
        for (n, name) in ["INC", "DEC"].enumerated() {
            forms.append(InstructionForm("\(name) r/m") { b in
                let size = b.size()
                b.operandSize(size)
                b.bytes(size == 1 ? 0xFE : 0xFF)
                let rm = b.rm(reg: UInt8(n), size: size, write: true)
                b.maybeLock(rm, lockable: true)
                b.end()
            })
            forms.append(InstructionForm("\(name) r (40+r)", cases: 60) { b in
                let size = b.size(byte: false)
                b.operandSize(size)
                b.bytes(UInt8(0x40 + 8 * n) + UInt8(b.below(8)))
                b.end()
            })
        }
        for (n, name) in [(2, "NOT"), (3, "NEG")] {
            forms.append(InstructionForm("\(name) r/m") { b in
                let size = b.size()
                b.operandSize(size)
                b.bytes(size == 1 ? 0xF6 : 0xF7)
                let rm = b.rm(reg: UInt8(n), size: size, write: true)
                b.maybeLock(rm, lockable: true)
                b.end()
            })
        }
        return forms
    }

    // MARK: - MUL IMUL DIV IDIV

    static var multiplyDivide: [InstructionForm] {
        var forms: [InstructionForm] = []
        for (n, name) in [(4, "MUL"), (5, "IMUL")] {
            forms.append(InstructionForm("\(name) r/m") { b in
                let size = b.size()
                b.operandSize(size)
                b.bytes(size == 1 ? 0xF6 : 0xF7)
                b.rm(reg: UInt8(n), size: size)
                b.undefined.flags = UndefinedFlags.multiply
                b.end()
            })
        }
        forms.append(InstructionForm("IMUL r,r/m") { b in
            let size = b.size(byte: false)
            b.operandSize(size)
            b.bytes(0x0F, 0xAF)
            b.rm(reg: UInt8(b.below(8)), size: size)
            b.undefined.flags = UndefinedFlags.multiply
            b.end()
        })
        forms.append(InstructionForm("IMUL r,r/m,imm") { b in
            let size = b.size(byte: false)
            let short = b.chance(0.5)
            b.operandSize(size)
            b.bytes(short ? 0x6B : 0x69)
            b.rm(reg: UInt8(b.below(8)), size: size)
            b.immediate(b.value(size: size), size: short ? 1 : size)
            b.undefined.flags = UndefinedFlags.multiply
            b.end()
        })
        for (n, name) in [(6, "DIV"), (7, "IDIV")] {
            forms.append(InstructionForm("\(name) r/m", cases: 160) { b in
                divide(&b, reg: UInt8(n), signed: n == 7)
            })
        }
        return forms
    }

    /// DIV/IDIV with a dividend and divisor chosen so that about two cases
    /// in three give a quotient that fits (the rest raise #DE, as do the
    /// zero divisors among them).
    static func divide(_ b: inout CaseBuilder, reg: UInt8, signed: Bool) {
        let size = b.size()
        let bits = UInt64(8 * size)
        let mask = bits == 32 ? UInt64(0xFFFF_FFFF) : (1 << bits) - 1
        var divisor = UInt64(b.value(size: size))
        var dividend = UInt64(b.word()) | UInt64(b.word()) << 32
        if b.chance(0.05) { divisor = 0 }
        if divisor != 0 && b.chance(0.7) {
            if signed {
                let d = Int64(truncatingIfNeeded: divisor << (64 - bits)) >> (64 - bits)
                let limit = Int64(1) << (bits - 1)
                let q = Int64.random(in: -limit...(limit - 1), using: &b.rng) >> Int64(b.below(Int(bits)))
                let magnitude = d.magnitude
                var r = Int64(UInt64.random(in: 0..<magnitude, using: &b.rng))
                if q * d < 0 || (q * d == 0 && b.chance(0.5)) { r = -r }
                dividend = UInt64(bitPattern: q &* d &+ r)
            } else {
                let q = UInt64.random(in: 0...mask, using: &b.rng) >> UInt64(b.below(Int(bits)))
                dividend = q &* divisor &+ UInt64.random(in: 0..<divisor, using: &b.rng)
            }
        }
        dividend &= bits == 32 ? UInt64.max : (1 << (2 * bits)) - 1
        // The dividend: AX, DX:AX or EDX:EAX.
        switch size {
        case 1: b.pin16(0, UInt16(dividend))
        case 2: b.pin16(0, UInt16(dividend & 0xFFFF)); b.pin16(2, UInt16(dividend >> 16))
        default: b.pin(0, UInt32(truncatingIfNeeded: dividend)); b.pin(2, UInt32(dividend >> 32))
        }
        b.operandSize(size)
        b.bytes(size == 1 ? 0xF6 : 0xF7)
        let rm = b.rm(reg: reg, size: size, registerChance: 0.3)
        if case .register(let r) = rm {
            // A divisor register that is part of the dividend keeps that value.
            let full = size == 1 ? CaseBuilder.byteRegister(r).register : r
            if full != 0 && !(full == 2 && size > 1) { b.set(rm, size: size, UInt32(divisor)) }
        } else {
            b.set(rm, size: size, UInt32(divisor))
        }
        b.undefined.flags = UndefinedFlags.divide
        b.end()
    }

    // MARK: - DAA DAS AAA AAS AAM AAD

    static var bcd: [InstructionForm] {
        var forms: [InstructionForm] = []
        let simple: [(UInt8, String, UInt32)] = [(0x27, "DAA", UndefinedFlags.decimalAdjust), (0x2F, "DAS", UndefinedFlags.decimalAdjust),
                                                (0x37, "AAA", UndefinedFlags.asciiAdjust), (0x3F, "AAS", UndefinedFlags.asciiAdjust)]
        for (opcode, name, u) in simple {
            forms.append(InstructionForm(name, cases: 150) { b in
                b.bytes(opcode)
                b.undefined.flags = u
                b.end()
            })
        }
        for (opcode, name) in [(UInt8(0xD4), "AAM"), (0xD5, "AAD")] {
            forms.append(InstructionForm("\(name) imm8", cases: 120) { b in
                b.bytes(opcode)
                // Base 10 mostly; any base works; AAM 0 raises #DE.
                let base: UInt8 = b.chance(0.5) ? 10 : (b.chance(0.1) ? 0 : UInt8(truncatingIfNeeded: b.rng.next()))
                b.bytes(base)
                b.undefined.flags = UndefinedFlags.asciiMultiplyDivide
                b.end()
            })
        }
        return forms
    }

    // MARK: - Shifts and rotates

    static let shiftNames = ["ROL", "ROR", "RCL", "RCR", "SHL", "SHR", "SAL(/6)", "SAR"]

    /// Counts that reach every branch: 0, 1, around the operand width, 31,
    /// and values whose low five bits are those (the count is masked).
    static func shiftCount(_ b: inout CaseBuilder, width: UInt32) -> UInt8 {
        let edges: [UInt32] = [0, 1, 2, width - 1, width, width + 1, 2 * width - 1, 31, 32, 33, 63, 255]
        return b.chance(0.5) ? UInt8(edges[b.below(edges.count)] & 0xFF) : UInt8(b.below(256))
    }

    static func shiftUndefined(_ n: Int, count: UInt8, width: UInt32) -> UInt32 {
        let c = UInt32(count & 0x1F)
        return n < 4 ? UndefinedFlags.rotate(count: c) : UndefinedFlags.shift(count: c, width: width, isSAR: n == 7)
    }

    static var shifts: [InstructionForm] {
        var forms: [InstructionForm] = []
        for (n, name) in shiftNames.enumerated() {
            forms.append(InstructionForm("\(name) r/m,imm8") { b in
                let size = b.size()
                let count = shiftCount(&b, width: UInt32(8 * size))
                b.operandSize(size)
                b.bytes(size == 1 ? 0xC0 : 0xC1)
                shiftDestination(&b, reg: UInt8(n), size: size, count: count)
                b.bytes(count)
                b.undefined.flags = shiftUndefined(n, count: count, width: UInt32(8 * size))
                b.end()
            })
            forms.append(InstructionForm("\(name) r/m,1", cases: 60) { b in
                let size = b.size()
                b.operandSize(size)
                b.bytes(size == 1 ? 0xD0 : 0xD1)
                b.rm(reg: UInt8(n), size: size, write: true)
                b.undefined.flags = shiftUndefined(n, count: 1, width: UInt32(8 * size))
                b.end()
            })
            forms.append(InstructionForm("\(name) r/m,CL") { b in
                let size = b.size()
                let count = shiftCount(&b, width: UInt32(8 * size))
                b.setOperand(1, size: 1, UInt32(count))
                b.operandSize(size)
                b.bytes(size == 1 ? 0xD2 : 0xD3)
                // Shifting CL itself: the count is CL's value before.
                shiftDestination(&b, reg: UInt8(n), size: size, count: count)
                b.undefined.flags = shiftUndefined(n, count: count, width: UInt32(8 * size))
                b.end()
            })
        }
        return forms
    }

    /// The r/m destination of a shift. The SDM does not say whether a shift
    /// whose masked count is 0 accesses its memory operand (the host checks
    /// it for writing), so such cases get no faulting segment override.
    @discardableResult
    static func shiftDestination(_ b: inout CaseBuilder, reg: UInt8, size: Int, count: UInt8) -> CaseBuilder.RM {
        if count & 0x1F != 0 { return b.rm(reg: reg, size: size, write: true) }
        if b.chance(0.4) {
            let r = UInt8(b.below(8))
            b.modrmRegister(reg: reg, rm: r)
            return .register(r)
        }
        return .memory(b.modrmMemory(reg: reg, span: 0..<size, write: true, segmentFaults: false))
    }

    static var doubleShifts: [InstructionForm] {
        var forms: [InstructionForm] = []
        for (base, name) in [(UInt8(0xA4), "SHLD"), (0xAC, "SHRD")] {
            forms.append(InstructionForm("\(name) r/m,r,imm8", cases: 120) { b in
                let size = b.size(byte: false)
                let count = shiftCount(&b, width: UInt32(8 * size))
                b.operandSize(size)
                b.bytes(0x0F, base)
                let rm = shiftDestination(&b, reg: UInt8(b.below(8)), size: size, count: count)
                b.bytes(count)
                doubleShiftUndefined(&b, rm, size: size, count: count)
                b.end()
            })
            forms.append(InstructionForm("\(name) r/m,r,CL", cases: 120) { b in
                let size = b.size(byte: false)
                let count = shiftCount(&b, width: UInt32(8 * size))
                b.setOperand(1, size: 1, UInt32(count))
                b.operandSize(size)
                b.bytes(0x0F, base + 1)
                let rm = shiftDestination(&b, reg: UInt8(b.below(8)), size: size, count: count)
                doubleShiftUndefined(&b, rm, size: size, count: count)
                b.end()
            })
        }
        return forms
    }

    static func doubleShiftUndefined(_ b: inout CaseBuilder, _ rm: CaseBuilder.RM, size: Int, count: UInt8) {
        let c = UInt32(count & 0x1F)
        b.undefined.flags = UndefinedFlags.doubleShift(count: c, width: UInt32(8 * size))
        // "If the count is greater than the operand size, the result is undefined."
        if c > UInt32(8 * size) { b.undefinedResult(rm, size: size) }
    }

    // MARK: - BT BTS BTR BTC BSF BSR

    static var bits: [InstructionForm] {
        var forms: [InstructionForm] = []
        for (n, name) in ["BT", "BTS", "BTR", "BTC"].enumerated() {
            forms.append(InstructionForm("\(name) r/m,r", cases: 150) { b in
                let size = b.size(byte: false)
                let reg = b.register()
                // A register bit offset addresses memory beyond the operand
                // (SDM vol. 2, BT: signed offset, in units of the operand size).
                let offset = Int32.random(in: -0x3000...0x3000, using: &b.rng)
                b.setOperand(reg, size: size, UInt32(bitPattern: size == 2 ? Int32(Int16(truncatingIfNeeded: offset)) : offset))
                b.operandSize(size)
                b.bytes(0x0F, 0xA3 + UInt8(n) * 8)
                let rm: CaseBuilder.RM
                if b.chance(0.35) {
                    let r = UInt8(b.below(8))
                    b.modrmRegister(reg: reg, rm: r)
                    rm = .register(r)
                } else {
                    let reach = 0x600 + 4
                    rm = .memory(b.modrmMemory(reg: reg, span: -reach..<reach, write: n != 0))
                }
                b.maybeLock(rm, lockable: n != 0)
                b.undefined.flags = UndefinedFlags.bitTest
                b.end()
            })
            forms.append(InstructionForm("\(name) r/m,imm8", cases: 100) { b in
                let size = b.size(byte: false)
                b.operandSize(size)
                b.bytes(0x0F, 0xBA)
                let rm = b.rm(reg: UInt8(4 + n), size: size, write: n != 0)
                b.bytes(UInt8(truncatingIfNeeded: b.rng.next()))
                b.maybeLock(rm, lockable: n != 0)
                b.undefined.flags = UndefinedFlags.bitTest
                b.end()
            })
        }
        for (opcode, name) in [(UInt8(0xBC), "BSF"), (0xBD, "BSR")] {
            forms.append(InstructionForm("\(name) r,r/m", cases: 150) { b in
                let size = b.size(byte: false)
                let reg = UInt8(b.below(8))
                b.operandSize(size)
                b.bytes(0x0F, opcode)
                let rm = b.rm(reg: reg, size: size)
                let zero = b.chance(0.2)
                if zero || b.chance(0.3) {
                    b.set(rm, size: size, zero ? 0 : UInt32(1) << UInt32(b.below(8 * size)))
                }
                // "If the content of the source operand is 0, the content of
                // the destination operand is undefined."
                if zero { b.undefinedOperand(reg, size: size) }
                b.undefined.flags = UndefinedFlags.bitScan
                b.end()
            })
        }
        return forms
    }
}
