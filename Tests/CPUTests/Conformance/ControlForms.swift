/// Generators for control transfer (near and far jumps, calls, returns,
/// loops, IRET), software interrupts, the protected-mode instructions user
/// code may run (segment loads, LAR/LSL/VERR/VERW/ARPL), the privileged ones
/// it may not (#GP), invalid encodings (#UD) and the length limit.
///
/// A transfer's target is the end of the case's code, where the harness
/// (and the interpreter's run loop) take over; a two-byte MOV AL, imm8 that
/// the transfer should skip sits in between, so a transfer not taken shows
/// in AL.
enum ControlForms {
    static var all: [InstructionForm] {
        near + far + interrupts + segments + privileged + invalid
    }

    /// MOV AL, imm8: what a taken transfer skips.
    static let skipped: [UInt8] = [0xB0, 0x5A]

    // MARK: - Near transfers

    static var near: [InstructionForm] {
        var forms: [InstructionForm] = []
        forms.append(InstructionForm("Jcc rel8", cases: 200) { b in
            b.bytes(0x70 + UInt8(b.below(16)), 2)
            b.end()
            b.emitRaw(skipped)
        })
        forms.append(InstructionForm("Jcc rel16/32", cases: 200) { b in
            let size = b.size(byte: false)
            b.operandSize(size)
            b.bytes(0x0F, 0x80 + UInt8(b.below(16)))
            b.immediate(2, size: size)
            b.end()
            b.emitRaw(skipped)
        })
        forms.append(InstructionForm("JMP rel", cases: 40) { b in
            let size = b.size()
            b.operandSize(size == 1 ? 4 : size)
            b.bytes(size == 1 ? 0xEB : 0xE9)
            b.immediate(2, size: size)
            b.end()
            b.emitRaw(skipped)
        })
        forms.append(InstructionForm("CALL rel", cases: 60) { b in
            // 16-bit: pushes IP, and the target is truncated to 16 bits (the
            // code page is below 64 KiB).
            let size = b.size(byte: false)
            b.operandSize(size)
            b.bytes(0xE8)
            b.immediate(2, size: size)
            b.end()
            b.emitRaw(skipped)
        })
        for (n, name) in [(UInt8(4), "JMP r/m"), (2, "CALL r/m")] {
            forms.append(InstructionForm(name, cases: 80) { b in
                // The target register is never ESP, which CALL pushes through.
                let size = b.size(byte: false)
                b.operandSize(size)
                b.bytes(0xFF)
                let rm: CaseBuilder.RM
                if b.chance(0.4) {
                    let r = b.register()
                    b.modrmRegister(reg: n, rm: r)
                    rm = .register(r)
                } else {
                    rm = .memory(b.modrmMemory(reg: n, span: 0..<size))
                }
                b.end()
                let target = DifferentialLayout.codeBase + UInt32(b.code.count + skipped.count)
                b.emitRaw(skipped)
                b.set(rm, size: size, target)
            })
        }
        forms.append(InstructionForm("RET", cases: 80) { b in
            let size = b.size(byte: false)
            let imm = b.chance(0.5)
            b.operandSize(size)
            b.bytes(imm ? 0xC2 : 0xC3)
            if imm { b.immediate(UInt32(b.below(b.chance(0.5) ? 16 : 0x400)), size: 2) }
            b.end()
            b.patch(at: b.registers[4], value: UInt64(DifferentialLayout.codeBase) + UInt64(b.code.count + skipped.count), size: size)
            b.emitRaw(skipped)
        })
        for (opcode, name) in [(UInt8(0xE2), "LOOP"), (0xE1, "LOOPE"), (0xE0, "LOOPNE"), (0xE3, "JECXZ")] {
            forms.append(InstructionForm(name, cases: 80) { b in
                // 67h makes the counter CX.
                let a16 = b.chance(0.3)
                let count = [0, 1, 2, 0x10000, 0x10001, b.word()][b.below(6)]
                if a16 { b.prefix(0x67) }
                b.pin(1, count)
                b.bytes(opcode, 2)
                b.end()
                b.emitRaw(skipped)
            })
        }
        return forms
    }

    // MARK: - Far transfers

    /// Code selectors to transfer to: mostly the process's own 23h; 20h–22h
    /// (same descriptor, RPL below CPL); data, null, kernel and absent ones
    /// raise #GP with the selector as error code. 33h (the 64-bit user code
    /// segment) is never used: the host would switch to 64-bit mode.
    static func codeSelector(_ b: inout CaseBuilder) -> UInt16 {
        b.chance(0.75) ? 0x23 : [0x20, 0x21, 0x22, 0x2B, 0x00, 0x08, 0x10, 0x18, 0x38, 0x1000][b.below(10)]
    }

    static var far: [InstructionForm] {
        var forms: [InstructionForm] = []
        for (opcode, name) in [(UInt8(0xEA), "JMP ptr16:32"), (0x9A, "CALL ptr16:32")] {
            forms.append(InstructionForm(name, cases: 80) { b in
                let size = b.size(byte: false)
                let selector = codeSelector(&b)
                b.operandSize(size)
                b.bytes(opcode)
                let length = b.code.count + (size == 2 ? 1 : 0) + 1 + size + 2
                b.immediate(DifferentialLayout.codeBase + UInt32(length + skipped.count), size: size)
                b.immediate(UInt32(selector), size: 2)
                b.end()
                b.emitRaw(skipped)
                if opcode == 0x9A && size == 4 { farCallSlot(&b) }
            })
        }
        for (n, name) in [(UInt8(5), "JMP m16:32"), (3, "CALL m16:32")] {
            forms.append(InstructionForm(name, cases: 80) { b in
                let size = b.size(byte: false)
                let selector = codeSelector(&b)
                b.operandSize(size)
                b.bytes(0xFF)
                let a = b.modrmMemory(reg: n, span: 0..<size + 2)
                b.end()
                b.patch(at: a, value: UInt64(DifferentialLayout.codeBase) + UInt64(b.code.count + skipped.count), size: size)
                b.patch(at: a + UInt32(size), value: UInt64(selector), size: 2)
                b.emitRaw(skipped)
                if n == 3 && size == 4 { farCallSlot(&b) }
            })
        }
        forms.append(InstructionForm("RETF", cases: 100) { b in
            // A return to the same privilege level; RPL 0–2 would be a
            // return to an inner level (#GP).
            let size = b.size(byte: false)
            let imm = b.chance(0.4)
            let selector = b.chance(0.8) ? 0x23 : codeSelector(&b)
            b.operandSize(size)
            b.bytes(imm ? 0xCA : 0xCB)
            if imm { b.immediate(UInt32(b.below(0x200)), size: 2) }
            b.end()
            let sp = b.registers[4]
            b.patch(at: sp, value: UInt64(DifferentialLayout.codeBase) + UInt64(b.code.count + skipped.count), size: size)
            b.patch(at: sp + UInt32(size), value: UInt64(selector) | UInt64(b.word() & 0xFFFF_0000), size: size)
            b.emitRaw(skipped)
        })
        forms.append(InstructionForm("IRET", cases: 150) { b in
            // Same-privilege IRET at CPL 3: EIP, CS, EFLAGS from the stack;
            // IOPL and IF do not change (CPL > IOPL), VM is ignored, and TF
            // is kept out of the image (it would trap in the harness).
            let size = b.size(byte: false)
            let selector = b.chance(0.85) ? 0x23 : codeSelector(&b)
            b.operandSize(size)
            b.bytes(0xCF)
            b.end()
            let sp = b.registers[4]
            b.patch(at: sp, value: UInt64(DifferentialLayout.codeBase) + UInt64(b.code.count + skipped.count), size: size)
            b.patch(at: sp + UInt32(size), value: UInt64(selector), size: size)
            b.patch(at: sp + 2 * UInt32(size), value: UInt64(b.word() & ~EFLAGSBits.tf), size: size)
            b.emitRaw(skipped)
        })
        return forms
    }

    /// A 32-bit far call pushes CS into a 4-byte slot; the SDM leaves its
    /// upper two bytes to the implementation (a P6 writes only two bytes).
    static func farCallSlot(_ b: inout CaseBuilder) {
        let o = Int(b.registers[4]) - 4 - Int(DifferentialLayout.dataBase)
        b.undefined.memory.append(o + 2..<o + 4)
    }

    // MARK: - Software interrupts

    static var interrupts: [InstructionForm] {
        [
            InstructionForm("INT3", cases: 20) { b in b.bytes(0xCC); b.end() },
            InstructionForm("INTO", cases: 40) { b in b.bytes(0xCE); b.end() },
            InstructionForm("INT imm8", cases: 120) { b in
                // At CPL 3 only the gates Linux makes DPL 3 (3, 4) are
                // allowed; the rest raise #GP(vector * 8 + 2). INT 80h, the
                // system call, is left out.
                var v = UInt8(truncatingIfNeeded: b.rng.next())
                if v == 0x80 || b.chance(0.2) { v = b.chance(0.5) ? 3 : 4 }
                b.bytes(0xCD, v)
                b.end()
            },
            InstructionForm("INT1 (ICEBP)", cases: 10) { b in
                // The kernel reports this #DB with EIP rewound to the
                // instruction, not the trap address the processor pushed.
                b.bytes(0xF1)
                b.undefined.faultEIP = true
                b.end()
            },
        ]
    }

    // MARK: - Segment loads and selector instructions

    /// Selectors for data-segment loads: the process's own 2Bh mostly, the
    /// same descriptor with other RPLs, the user code segments (readable, so
    /// loadable into DS), null, kernel ones (DPL 0: #GP), an empty GDT slot
    /// (38h), one beyond the GDT, and an LDT selector (there is no LDT).
    static func dataSelector(_ b: inout CaseBuilder) -> UInt16 {
        b.chance(0.4) ? 0x2B : [0x28, 0x29, 0x2A, 0x23, 0x20, 0x33, 0x00, 0x01, 0x03, 0x08, 0x10, 0x18, 0x1B, 0x38, 0x3B, 0x1000, 0x0F][b.below(17)]
    }

    static var segments: [InstructionForm] {
        var forms: [InstructionForm] = []
        forms.append(InstructionForm("MOV Sreg,r/m", cases: 200) { b in
            // reg = 1 (CS) is #UD; SS needs RPL = DPL = CPL.
            let sreg = b.chance(0.04) ? 1 : [0, 2, 3, 4, 5][b.below(5)]
            let selector = dataSelector(&b)
            b.operandSize(b.size(byte: false))
            b.bytes(0x8E)
            let rm = b.rm(reg: UInt8(sreg), size: 2)
            b.set(rm, size: 2, UInt32(selector))
            b.end()
        })
        forms.append(InstructionForm("POP Sreg", cases: 120) { b in
            let size = b.size(byte: false)
            let encodings: [[UInt8]] = [[0x07], [0x17], [0x1F], [0x0F, 0xA1], [0x0F, 0xA9]]
            b.patch(at: b.registers[4], value: UInt64(dataSelector(&b)) | UInt64(b.word() & 0xFFFF_0000), size: size)
            b.operandSize(size)
            b.bytes(encodings[b.below(encodings.count)])
            b.end()
        })
        forms.append(InstructionForm("LDS/LES/LFS/LGS/LSS", cases: 200) { b in
            // Memory operands only: C4/C5 with a register operand are VEX
            // prefixes on the host (and #UD on a P6).
            let size = b.size(byte: false)
            let encodings: [[UInt8]] = [[0xC5], [0xC4], [0x0F, 0xB4], [0x0F, 0xB5], [0x0F, 0xB2]]
            let selector = dataSelector(&b)
            b.operandSize(size)
            b.bytes(encodings[b.below(encodings.count)])
            let a = b.modrmMemory(reg: UInt8(b.below(8)), span: 0..<size + 2)
            b.patch(at: a + UInt32(size), value: UInt64(selector), size: 2)
            b.end()
        })
        for (bytes, name) in [([UInt8(0x0F), 0x02], "LAR r,r/m16"), ([0x0F, 0x03], "LSL r,r/m16")] {
            forms.append(InstructionForm(name, cases: 120) { b in
                let size = b.size(byte: false)
                let reg = UInt8(b.below(8))
                b.operandSize(size)
                b.bytes(bytes)
                let rm = b.rm(reg: reg, size: 2)
                b.set(rm, size: 2, UInt32(dataSelector(&b)))
                // LAR: "the access rights … AND 00FxFF00H", x undefined.
                if name.hasPrefix("LAR") && size == 4 { b.undefined.registers[Int(reg)] |= 0x000F_0000 }
                b.end()
            })
        }
        for (n, name) in [(UInt8(4), "VERR r/m16"), (5, "VERW r/m16")] {
            forms.append(InstructionForm(name, cases: 80) { b in
                b.bytes(0x0F, 0x00)
                let rm = b.rm(reg: n, size: 2)
                b.set(rm, size: 2, UInt32(dataSelector(&b)))
                b.end()
            })
        }
        forms.append(InstructionForm("ARPL r/m16,r16", cases: 80) { b in
            b.bytes(0x63)
            b.rm(reg: UInt8(b.below(8)), size: 2, write: true)
            b.end()
        })
        return forms
    }

    // MARK: - Privileged at CPL 3 (#GP(0))

    static var privileged: [InstructionForm] {
        let simple: [(String, [UInt8])] = [
            ("CLI", [0xFA]), ("STI", [0xFB]), ("HLT", [0xF4]), ("CLTS", [0x0F, 0x06]),
            ("INVD", [0x0F, 0x08]), ("WBINVD", [0x0F, 0x09]), ("RDMSR", [0x0F, 0x32]), ("WRMSR", [0x0F, 0x30]),
            ("IN AL,imm8", [0xE4, 0x60]), ("IN eAX,imm8", [0xE5, 0x40]), ("IN AL,DX", [0xEC]), ("IN eAX,DX", [0xED]),
            ("OUT imm8,AL", [0xE6, 0x80]), ("OUT imm8,eAX", [0xE7, 0x70]), ("OUT DX,AL", [0xEE]), ("OUT DX,eAX", [0xEF]),
            ("INS", [0x6C]), ("OUTS", [0x6F]), ("REP INSD", [0xF3, 0x6D]), ("REP OUTSB", [0xF3, 0x6E]),
        ]
        var forms = simple.map { name, bytes in
            InstructionForm("\(name) (CPL 3)", cases: 10) { b in b.emitRaw(bytes) }
        }
        // MOV to and from CR0, CR2, CR3, CR4 and DR0–DR3, DR6, DR7 (other
        // numbers are #UD, and which check comes first is not documented).
        forms.append(InstructionForm("MOV CRn/DRn (CPL 3)", cases: 60) { b in
            let crs: [UInt8] = [0, 2, 3, 4], drs: [UInt8] = [0, 1, 2, 3, 6, 7]
            let debug = b.chance(0.5)
            let n = debug ? drs[b.below(drs.count)] : crs[b.below(crs.count)]
            b.bytes(0x0F, (debug ? 0x21 : 0x20) | (b.chance(0.5) ? 2 : 0))
            b.modrmRegister(reg: n, rm: UInt8(b.below(8)))
            b.end()
        })
        // Memory operands only for 0F 01 /2 /3 /7: their register forms are
        // other instructions on the host (XGETBV, VMRUN, SWAPGS, …).
        for (bytes, n, name, memoryOnly) in [([UInt8(0x0F), 0x01], UInt8(2), "LGDT", true), ([0x0F, 0x01], 3, "LIDT", true),
                                             ([0x0F, 0x01], 7, "INVLPG", true), ([0x0F, 0x01], 6, "LMSW", false),
                                             ([0x0F, 0x00], 2, "LLDT", false), ([0x0F, 0x00], 3, "LTR", false)] {
            forms.append(InstructionForm("\(name) (CPL 3)", cases: 15) { b in
                b.bytes(bytes)
                if memoryOnly || b.chance(0.5) {
                    b.modrmMemory(reg: n, span: 0..<6)
                } else {
                    b.modrmRegister(reg: n, rm: UInt8(b.below(8)))
                }
                b.end()
            })
        }
        return forms
    }

    // MARK: - Invalid encodings and the length limit

    static var invalid: [InstructionForm] {
        [
            InstructionForm("UD2", cases: 10) { b in b.emitRaw([0x0F, 0x0B]) },
            InstructionForm("UD1 0F B9 /r", cases: 20) { b in
                b.bytes(0x0F, 0xB9)
                b.rm(reg: UInt8(b.below(8)), size: 4)
                b.end()
            },
            InstructionForm("0F FF", cases: 10) { b in b.emitRaw([0x0F, 0xFF, 0xC0]) },
            InstructionForm("FE /2–/7, FF /7", cases: 40) { b in
                let ff = b.chance(0.3)
                b.bytes(ff ? 0xFF : 0xFE)
                b.rm(reg: ff ? 7 : UInt8(2 + b.below(6)), size: 4)
                b.end()
            },
            InstructionForm("0F C7 /0 /2 m", cases: 20) { b in
                b.bytes(0x0F, 0xC7)
                b.modrmMemory(reg: b.chance(0.5) ? 0 : 2, span: 0..<8)
                b.end()
            },
            InstructionForm("LOCK on a non-lockable instruction", cases: 30) { b in
                let targets: [[UInt8]] = [[0x90], [0x0F, 0x0B], [0x8B, 0x00 | UInt8(b.below(8)) << 3 | 0xC0], [0xF8], [0x40]]
                b.emitRaw([0xF0] + targets[b.below(targets.count)])
            },
            InstructionForm("instruction over 15 bytes", cases: 20) { b in
                // Redundant prefixes: 15 bytes in all are allowed, 16 raise #GP(0).
                let prefixCount = 13 + b.below(5)
                b.emitRaw([UInt8](repeating: [0x66, 0x3E, 0x26][b.below(3)], count: prefixCount) + [0x40])
            },
        ]
    }
}
