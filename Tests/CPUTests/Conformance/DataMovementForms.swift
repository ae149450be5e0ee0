/// Generators for data movement: MOV and its extending forms, exchanges and
/// compare-exchanges, conditional moves and sets, the stack, flags
/// transfer, XLAT, BOUND, the string instructions with their repeat
/// prefixes, and the flag and no-op one-byte instructions.
enum DataMovementForms {
    static var all: [InstructionForm] {
        moves + exchanges + conditional + stack + strings + misc
    }

    // MARK: - MOV, MOVZX, MOVSX, LEA, BSWAP

    static var moves: [InstructionForm] {
        var forms: [InstructionForm] = []
        forms.append(InstructionForm("MOV r/m,r") { b in
            let size = b.size()
            b.operandSize(size)
            b.bytes(size == 1 ? 0x88 : 0x89)
            let rm = b.rm(reg: UInt8(b.below(8)), size: size, write: true)
            b.maybeLock(rm, lockable: false)
            b.end()
        })
        forms.append(InstructionForm("MOV r,r/m") { b in
            let size = b.size()
            b.operandSize(size)
            b.bytes(size == 1 ? 0x8A : 0x8B)
            b.rm(reg: UInt8(b.below(8)), size: size)
            b.end()
        })
        forms.append(InstructionForm("MOV r/m,imm") { b in
            let size = b.size()
            b.operandSize(size)
            b.bytes(size == 1 ? 0xC6 : 0xC7)
            b.rm(reg: 0, size: size, write: true)
            b.immediate(b.value(size: size), size: size)
            b.end()
        })
        forms.append(InstructionForm("MOV r,imm", cases: 60) { b in
            let size = b.size()
            b.operandSize(size)
            b.bytes((size == 1 ? 0xB0 : 0xB8) + UInt8(b.below(8)))
            b.immediate(b.value(size: size), size: size)
            b.end()
        })
        for (load, name) in [(true, "MOV acc,moffs"), (false, "MOV moffs,acc")] {
            forms.append(InstructionForm(name, cases: 60) { b in
                let size = b.size()
                let a16 = b.chance(0.2)
                let address = b.dataAddress(span: 0..<size)
                b.operandSize(size)
                if a16 { b.prefix(0x67) }
                if b.chance(0.15) { b.prefix([0x26, 0x36, 0x3E, 0x64][b.below(4)]) }
                b.bytes((load ? 0xA0 : 0xA2) + (size == 1 ? 0 : 1))
                b.immediate(address, size: a16 ? 2 : 4)
                b.end()
            })
        }
        forms.append(InstructionForm("MOV r/m,Sreg", cases: 80) { b in
            // With a 32-bit register destination a P6 writes the selector
            // zero-extended; a memory destination is always 16 bits. Sreg 6
            // and 7 do not exist (#UD).
            let size = b.size(byte: false)
            b.operandSize(size)
            b.bytes(0x8C)
            b.rm(reg: b.chance(0.05) ? UInt8(6 + b.below(2)) : UInt8(b.below(6)), size: 2, write: true)
            b.end()
        })
        for (opcode, name, sourceSize) in [(UInt8(0xB6), "MOVZX r,r/m8", 1), (0xB7, "MOVZX r,r/m16", 2),
                                           (0xBE, "MOVSX r,r/m8", 1), (0xBF, "MOVSX r,r/m16", 2)] {
            forms.append(InstructionForm(name, cases: 80) { b in
                let size = b.size(byte: false)
                b.operandSize(size)
                b.bytes(0x0F, opcode)
                b.rm(reg: UInt8(b.below(8)), size: sourceSize)
                b.end()
            })
        }
        forms.append(InstructionForm("LEA r,m", cases: 150) { b in
            // LEA computes any address; the generator's are in the data
            // region only because that is how it builds them. A register
            // operand is #UD.
            let size = b.size(byte: false)
            b.operandSize(size)
            b.bytes(0x8D)
            if b.chance(0.04) { b.modrmRegister(reg: UInt8(b.below(8)), rm: UInt8(b.below(8))) } else {
                b.modrmMemory(reg: UInt8(b.below(8)), span: 0..<1)
            }
            b.end()
        })
        forms.append(InstructionForm("BSWAP r32", cases: 40) { b in
            b.bytes(0x0F, 0xC8 + UInt8(b.below(8)))
            b.end()
        })
        return forms
    }

    // MARK: - XCHG, XADD, CMPXCHG, CMPXCHG8B

    static var exchanges: [InstructionForm] {
        var forms: [InstructionForm] = []
        forms.append(InstructionForm("XCHG r/m,r") { b in
            let size = b.size()
            b.operandSize(size)
            b.bytes(size == 1 ? 0x86 : 0x87)
            let rm = b.rm(reg: UInt8(b.below(8)), size: size, write: true)
            b.maybeLock(rm, lockable: true)
            b.end()
        })
        forms.append(InstructionForm("XCHG eAX,r", cases: 50) { b in
            let size = b.size(byte: false)
            b.operandSize(size)
            b.bytes(0x91 + UInt8(b.below(7)))
            b.end()
        })
        forms.append(InstructionForm("XADD r/m,r") { b in
            let size = b.size()
            b.operandSize(size)
            b.bytes(0x0F, size == 1 ? 0xC0 : 0xC1)
            let rm = b.rm(reg: UInt8(b.below(8)), size: size, write: true)
            b.maybeLock(rm, lockable: true)
            b.end()
        })
        forms.append(InstructionForm("CMPXCHG r/m,r", cases: 150) { b in
            // Half of the cases make the accumulator equal the destination.
            let size = b.size()
            let equal = b.chance(0.5)
            let accumulator = b.value(size: size)
            if equal { b.setOperand(0, size: size, accumulator) }
            b.operandSize(size)
            b.bytes(0x0F, size == 1 ? 0xB0 : 0xB1)
            let reg = UInt8(b.below(8))
            let rm = b.rm(reg: reg, size: size, write: true)
            if equal {
                switch rm {
                case .memory: b.set(rm, size: size, accumulator)
                case .register(let r):
                    // The destination register takes the accumulator's value,
                    // unless it is (part of) the accumulator itself.
                    let full = size == 1 ? CaseBuilder.byteRegister(r).register : r
                    if full != 0 { b.set(rm, size: size, accumulator) }
                }
            }
            b.maybeLock(rm, lockable: true)
            b.end()
        })
        forms.append(InstructionForm("CMPXCHG8B m64", cases: 120) { b in
            let equal = b.chance(0.5)
            let low = b.word(), high = b.word()
            b.pin(0, low); b.pin(2, high)
            b.bytes(0x0F, 0xC7)
            if b.chance(0.05) {
                b.modrmRegister(reg: 1, rm: UInt8(b.below(8))) // #UD
            } else {
                let a = b.modrmMemory(reg: 1, span: 0..<8, write: true)
                if equal { b.patch(at: a, value: UInt64(high) << 32 | UInt64(low), size: 8) }
                if b.chance(0.12) { b.prefix(0xF0) }
            }
            b.end()
        })
        return forms
    }

    // MARK: - CMOVcc, SETcc

    static var conditional: [InstructionForm] {
        [
            InstructionForm("CMOVcc r,r/m", cases: 240) { b in
                let size = b.size(byte: false)
                b.operandSize(size)
                b.bytes(0x0F, 0x40 + UInt8(b.below(16)))
                b.rm(reg: UInt8(b.below(8)), size: size)
                b.end()
            },
            InstructionForm("SETcc r/m8", cases: 200) { b in
                // The ModRM reg field is ignored.
                b.bytes(0x0F, 0x90 + UInt8(b.below(16)))
                b.rm(reg: b.chance(0.8) ? 0 : UInt8(b.below(8)), size: 1, write: true)
                b.end()
            },
        ]
    }

    // MARK: - The stack

    static var stack: [InstructionForm] {
        var forms: [InstructionForm] = []
        forms.append(InstructionForm("PUSH r", cases: 60) { b in
            let size = b.size(byte: false)
            b.operandSize(size)
            b.bytes(0x50 + UInt8(b.below(8))) // PUSH ESP pushes the value before the push
            b.end()
        })
        forms.append(InstructionForm("POP r", cases: 60) { b in
            let size = b.size(byte: false)
            b.operandSize(size)
            b.bytes(0x58 + UInt8(b.below(8)))
            b.end()
        })
        forms.append(InstructionForm("PUSH imm", cases: 60) { b in
            let size = b.size(byte: false)
            let short = b.chance(0.5)
            b.operandSize(size)
            b.bytes(short ? 0x6A : 0x68)
            b.immediate(b.value(size: size), size: short ? 1 : size)
            b.end()
        })
        forms.append(InstructionForm("PUSH r/m", cases: 80) { b in
            let size = b.size(byte: false)
            b.operandSize(size)
            b.bytes(0xFF)
            if b.chance(0.3) { b.modrmRegister(reg: 6, rm: UInt8(b.below(8))) } else {
                b.modrmMemory(reg: 6, span: 0..<size)
            }
            b.end()
        })
        forms.append(InstructionForm("POP r/m", cases: 80) { b in
            // An ESP-based destination address is computed after the pop
            // increments ESP (SDM vol. 2, POP), hence the extra room.
            let size = b.size(byte: false)
            b.operandSize(size)
            b.bytes(0x8F)
            if b.chance(0.3) { b.modrmRegister(reg: 0, rm: UInt8(b.below(8))) } else {
                b.modrmMemory(reg: 0, span: 0..<size + 4, write: true)
            }
            b.end()
        })
        forms.append(InstructionForm("PUSH Sreg", cases: 80) { b in
            // With a 32-bit operand size a P6 writes only the selector's two
            // bytes; the SDM allows a zero-extended 4-byte write too, so the
            // upper two bytes of the slot are undefined.
            let size = b.size(byte: false)
            let encodings: [[UInt8]] = [[0x06], [0x0E], [0x16], [0x1E], [0x0F, 0xA0], [0x0F, 0xA8]]
            b.operandSize(size)
            b.bytes(encodings[b.below(encodings.count)])
            if size == 4 {
                let o = Int(b.registers[4]) - 4 - Int(DifferentialLayout.dataBase)
                b.undefined.memory.append(o + 2..<o + 4)
            }
            b.end()
        })
        for (opcode, name) in [(UInt8(0x60), "PUSHA"), (0x61, "POPA")] {
            forms.append(InstructionForm(name, cases: 60) { b in
                b.operandSize(b.size(byte: false))
                b.bytes(opcode)
                b.end()
            })
        }
        forms.append(InstructionForm("PUSHF", cases: 40) { b in
            b.operandSize(b.size(byte: false))
            b.bytes(0x9C)
            b.end()
        })
        forms.append(InstructionForm("POPF", cases: 150) { b in
            // Any image but TF, which would trap in the harness after the
            // case. At CPL 3 with IOPL 0, IF and IOPL do not change.
            let size = b.size(byte: false)
            b.patch(at: b.registers[4], value: UInt64(b.word() & ~EFLAGSBits.tf), size: size)
            b.operandSize(size)
            b.bytes(0x9D)
            b.end()
        })
        forms.append(InstructionForm("ENTER imm16,imm8", cases: 150) { b in
            // The nesting level is taken mod 32; levels above 1 copy frame
            // pointers from below EBP, so EBP points into the data region.
            let size = b.size(byte: false)
            b.pin(5, b.dataAddress(span: -130..<8))
            b.operandSize(size)
            b.bytes(0xC8)
            b.immediate(UInt32(b.below(b.chance(0.5) ? 16 : 0x200)), size: 2)
            b.bytes(b.chance(0.5) ? UInt8(b.below(4)) : UInt8(truncatingIfNeeded: b.rng.next()))
            b.end()
        })
        forms.append(InstructionForm("LEAVE", cases: 60) { b in
            let size = b.size(byte: false)
            b.pin(5, b.dataAddress(span: 0..<8))
            b.operandSize(size)
            b.bytes(0xC9)
            b.end()
        })
        return forms
    }

    // MARK: - String instructions

    /// MOVS CMPS STOS LODS SCAS: opcode of the byte form, and whether each
    /// reads DS:ESI, writes or reads ES:EDI.
    static let stringOps: [(name: String, opcode: UInt8, source: Bool, destination: Bool, compares: Bool)] = [
        ("MOVS", 0xA4, true, true, false), ("CMPS", 0xA6, true, true, true), ("STOS", 0xAA, false, true, false),
        ("LODS", 0xAC, true, false, false), ("SCAS", 0xAE, false, true, true),
    ]

    static var strings: [InstructionForm] {
        var forms: [InstructionForm] = []
        for op in stringOps {
            forms.append(InstructionForm(op.name, cases: 80) { b in string(&b, op, repeatPrefix: nil) })
            if op.compares {
                forms.append(InstructionForm("REPE \(op.name)", cases: 120) { b in string(&b, op, repeatPrefix: 0xF3) })
                forms.append(InstructionForm("REPNE \(op.name)", cases: 120) { b in string(&b, op, repeatPrefix: 0xF2) })
            } else {
                forms.append(InstructionForm("REP \(op.name)", cases: 120) { b in string(&b, op, repeatPrefix: b.chance(0.9) ? 0xF3 : 0xF2) })
            }
        }
        return forms
    }

    static func string(_ b: inout CaseBuilder, _ op: (name: String, opcode: UInt8, source: Bool, destination: Bool, compares: Bool),
                       repeatPrefix: UInt8?) {
        let size = b.size()
        let a16 = b.chance(0.2)
        let count = repeatPrefix == nil ? 1 : (b.chance(0.1) ? 0 : 1 + b.below(b.chance(0.7) ? 8 : 40))
        let down = b.eflags & EFLAGSBits.df != 0
        let reach = 41 * 4
        let source = b.dataAddress(span: -reach..<reach)
        // Destinations near the source make overlapping moves.
        let destination = b.chance(0.3) ? UInt32(Int(source) + Int.random(in: -12...12, using: &b.rng)) : b.dataAddress(span: -reach..<reach)
        func place(_ r: UInt8, _ address: UInt32) {
            if a16 { b.pin16(r, UInt16(address)) } else { b.pin(r, address) }
        }
        place(6, source)
        place(7, destination)
        if repeatPrefix != nil {
            if a16 { b.pin16(1, UInt16(count)) } else { b.pin(1, UInt32(count)) }
        }
        // For compares, elements are equal up to a random point and then
        // differ (REPE), or the reverse (REPNE), so the repeat ends early.
        if op.compares {
            let stop = b.below(count + 2)
            let accumulator = b.value(size: size)
            b.setOperand(0, size: size, accumulator)
            for i in 0..<count {
                let step = down ? -i * size : i * size
                let same = repeatPrefix == 0xF2 ? i == stop : i != stop
                let element = op.opcode == 0xAE ? UInt64(accumulator) : UInt64(b.value(size: size))
                let other = same ? element : element ^ UInt64(1 + b.below(0xFF))
                if op.opcode == 0xA6 { b.patch(at: UInt32(Int(source) + step), value: element, size: size) }
                b.patch(at: UInt32(Int(destination) + step), value: other, size: size)
            }
        }
        b.operandSize(size)
        if a16 { b.prefix(0x67) }
        if let p = repeatPrefix { b.prefix(p) }
        if op.source && b.chance(0.15) { b.prefix([0x26, 0x2E, 0x36, 0x3E, 0x64][b.below(5)]) }
        if b.chance(0.02) { b.prefix(0xF0) } // LOCK: #UD
        b.bytes(op.opcode + (size == 1 ? 0 : 1))
        b.end()
    }

    // MARK: - LAHF SAHF CBW CWD XLAT BOUND, flag and no-op instructions

    static var misc: [InstructionForm] {
        var forms: [InstructionForm] = []
        for (opcode, name) in [(UInt8(0x9F), "LAHF"), (0x9E, "SAHF"), (0xF5, "CMC"), (0xF8, "CLC"), (0xF9, "STC"),
                               (0xFC, "CLD"), (0xFD, "STD"), (0xD6, "SALC")] {
            forms.append(InstructionForm(name, cases: 40) { b in
                b.bytes(opcode)
                b.end()
            })
        }
        for (opcode, name) in [(UInt8(0x98), "CBW/CWDE"), (0x99, "CWD/CDQ")] {
            forms.append(InstructionForm(name, cases: 50) { b in
                b.operandSize(b.size(byte: false))
                b.bytes(opcode)
                b.end()
            })
        }
        forms.append(InstructionForm("XLAT", cases: 80) { b in
            let a16 = b.chance(0.25)
            let table = b.dataAddress(span: 0..<256)
            if a16 { b.pin16(3, UInt16(table)); b.prefix(0x67) } else { b.pin(3, table) }
            if b.chance(0.15) { b.prefix([0x26, 0x2E, 0x36, 0x3E][b.below(4)]) }
            b.bytes(0xD7)
            b.end()
        })
        forms.append(InstructionForm("BOUND r,m", cases: 150) { b in
            // Signed bounds at [m] and [m + size]; #BR outside them.
            let size = b.size(byte: false)
            let reg = b.register()
            let bits = 8 * size
            func signed(_ v: UInt32) -> Int64 { Int64(Int32(bitPattern: v << UInt32(32 - bits)) >> Int32(32 - bits)) }
            let lower = signed(b.value(size: size))
            let upper = b.chance(0.8) ? min(lower + Int64(b.below(1000)), Int64(1) << (bits - 1) - 1) : signed(b.value(size: size))
            let inside = b.chance(0.5)
            let index: Int64 = inside && upper >= lower ? Int64.random(in: lower...upper, using: &b.rng)
                : [lower - 1, upper + 1, signed(b.value(size: size))][b.below(3)]
            b.setOperand(reg, size: size, UInt32(truncatingIfNeeded: index))
            b.operandSize(size)
            b.bytes(0x62)
            if b.chance(0.04) {
                b.modrmRegister(reg: reg, rm: UInt8(b.below(8))) // #UD
            } else {
                let a = b.modrmMemory(reg: reg, span: 0..<2 * size)
                b.patch(at: a, value: UInt64(UInt32(truncatingIfNeeded: lower)), size: size)
                b.patch(at: a + UInt32(size), value: UInt64(UInt32(truncatingIfNeeded: upper)), size: size)
            }
            b.end()
        })
        forms.append(InstructionForm("NOP", cases: 60) { b in
            // 90, 66 90, PAUSE (F3 90: a NOP on a P6) and the multi-byte
            // NOP 0F 1F /0, whose memory operand is not accessed.
            switch b.below(4) {
            case 0: b.bytes(0x90)
            case 1: b.prefix(0x66); b.bytes(0x90)
            case 2: b.prefix(0xF3); b.bytes(0x90)
            default:
                b.operandSize(b.size(byte: false))
                b.bytes(0x0F, 0x1F)
                b.rm(reg: 0, size: 4)
            }
            b.end()
        })
        return forms
    }
}
