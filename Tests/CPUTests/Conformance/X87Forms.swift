/// Generators for the x87 instructions user code can execute, in all their
/// operand forms, on random stacks and control words (rounding, precision,
/// exception masks). Each form marks the condition codes its SDM page
/// calls undefined ("FPU Flags Affected"); transcendental results get the
/// SDM's accuracy bound instead of exact equality.
enum X87Forms {
    static let c0: UInt16 = 0x0100, c1: UInt16 = 0x0200, c2: UInt16 = 0x0400, c3: UInt16 = 0x4000

    /// "C1: set to 0 if stack underflow occurred; set if result was
    /// rounded up. C0, C2, C3: undefined." — the arithmetic, load, store,
    /// FSQRT, FSCALE, FRNDINT, FXTRACT, FCHS, FABS, FXCH, FCMOVcc,
    /// FINCSTP/FDECSTP pages.
    static let onlyC1 = c0 | c2 | c3
    /// FLDCW, FNSTCW, FNSTSW, FNCLEX, FFREE, FNOP: "C0, C1, C2, C3 undefined."
    static let allConditions = c0 | c1 | c2 | c3

    /// Transcendental results: "the error is less than 1 ulp" (SDM vol. 1,
    /// 8.3.10) for each of two processors, so they may be 2 ulps apart; C1
    /// (rounded up) then follows each one's own rounding.
    static let transcendentalULPs: UInt64 = 2
    /// Nor does the SDM say whether a transcendental whose result happens to
    /// be exact (log2 4 = 2) signals precision; the host always does. PE is
    /// not compared for them, and masked so it cannot raise #MF.
    static let precision: UInt16 = 0x20

    /// With the invalid-operation exception unmasked, a compare that raises
    /// it leaves the condition codes (FCOM family) or EFLAGS (FCOMI family)
    /// alone, says the SDM ("If the invalid-arithmetic-operand exception is
    /// unmasked, the condition code flags are not set"); the AMD host sets
    /// them to "unordered" anyway. They are not compared in that case.
    static func unmaskedInvalidCompare(_ b: inout CaseBuilder, eflags: Bool) {
        guard b.fpu[0] & 1 == 0 else { return }
        if eflags {
            b.undefined.flags |= EFLAGSBits.zf | EFLAGSBits.pf | EFLAGSBits.cf | EFLAGSBits.of | EFLAGSBits.sf | EFLAGSBits.af
        } else {
            b.undefined.fpuStatus |= c0 | c2 | c3
        }
    }

    static var all: [InstructionForm] {
        arithmetic + compares + loads + stores + stackOps + functions + transcendentals + control + aliases
    }

    static let arithmeticNames = ["FADD", "FMUL", "FCOM", "FCOMP", "FSUB", "FSUBR", "FDIV", "FDIVR"]

    // MARK: - FADD FMUL FCOM FCOMP FSUB FSUBR FDIV FDIVR and FIxxx

    static var arithmetic: [InstructionForm] {
        var forms: [InstructionForm] = []
        for (n, name) in arithmeticNames.enumerated() {
            let r = UInt8(n)
            let compare = n == 2 || n == 3
            // FCOM/FCOMP define C0, C2, C3 and clear C1.
            let u: UInt16 = compare ? 0 : onlyC1
            forms.append(InstructionForm("\(name) m32fp/m64fp", cases: 120) { b in
                b.x87State()
                let double = b.chance(0.5)
                b.bytes(double ? 0xDC : 0xD8)
                let a = b.modrmMemory(reg: r, span: 0..<(double ? 8 : 4))
                if double { b.patch(at: a, value: b.float64(), size: 8) } else { b.patch(at: a, value: UInt64(b.float32()), size: 4) }
                b.undefined.fpuStatus = u
                if compare { unmaskedInvalidCompare(&b, eflags: false) }
                b.endX87()
            })
            forms.append(InstructionForm("\(name) st,st(i)", cases: 120) { b in
                b.x87State()
                b.bytes(0xD8, 0xC0 | r << 3 | UInt8(b.below(8)))
                b.undefined.fpuStatus = u
                if compare { unmaskedInvalidCompare(&b, eflags: false) }
                b.endX87()
            })
            guard !compare else { continue }
            forms.append(InstructionForm("\(name) st(i),st", cases: 100) { b in
                b.x87State()
                b.bytes(0xDC, 0xC0 | r << 3 | UInt8(b.below(8)))
                b.undefined.fpuStatus = u
                b.endX87()
            })
            forms.append(InstructionForm("\(name)P st(i),st", cases: 100) { b in
                b.x87State()
                b.bytes(0xDE, 0xC0 | r << 3 | UInt8(b.below(8)))
                b.undefined.fpuStatus = u
                b.endX87()
            })
        }
        for (n, name) in arithmeticNames.enumerated() {
            let integerName = "FI" + name.dropFirst()
            forms.append(InstructionForm("\(integerName) m16int/m32int", cases: 100) { b in
                b.x87State()
                let short = b.chance(0.5)
                b.bytes(short ? 0xDE : 0xDA)
                let a = b.modrmMemory(reg: UInt8(n), span: 0..<(short ? 2 : 4))
                b.patch(at: a, value: UInt64(b.value(size: short ? 2 : 4)), size: short ? 2 : 4)
                b.undefined.fpuStatus = n == 2 || n == 3 ? 0 : onlyC1
                if n == 2 || n == 3 { unmaskedInvalidCompare(&b, eflags: false) }
                b.endX87()
            })
        }
        return forms
    }

    // MARK: - FCOMPP FUCOMx FCOMIx FTST FXAM

    static var compares: [InstructionForm] {
        // The unordered and EFLAGS-setting compares define every flag they touch.
        let registerForms: [(String, UInt8, UInt8)] = [
            ("FUCOM st(i)", 0xDD, 0xE0), ("FUCOMP st(i)", 0xDD, 0xE8), ("FCOMI st,st(i)", 0xDB, 0xF0),
            ("FCOMIP st,st(i)", 0xDF, 0xF0), ("FUCOMI st,st(i)", 0xDB, 0xE8), ("FUCOMIP st,st(i)", 0xDF, 0xE8),
        ]
        var forms = registerForms.map { name, escape, base in
            InstructionForm(name, cases: 120) { b in
                b.x87State()
                b.bytes(escape, base + UInt8(b.below(8)))
                let setsEFLAGS = name.contains("COMI")
                // FCOMI/FUCOMI: "C1: set to 0", but the host leaves C1 as it was.
                if setsEFLAGS { b.undefined.fpuStatus = c1 }
                unmaskedInvalidCompare(&b, eflags: setsEFLAGS)
                b.endX87()
            }
        }
        for (name, bytes) in [("FCOMPP", [UInt8(0xDE), 0xD9]), ("FUCOMPP", [0xDA, 0xE9]), ("FTST", [0xD9, 0xE4]), ("FXAM", [0xD9, 0xE5])] {
            forms.append(InstructionForm(name, cases: 120) { b in
                b.x87State(depth: name == "FXAM" && b.chance(0.2) ? 0 : nil)
                b.bytes(bytes)
                if name != "FXAM" { unmaskedInvalidCompare(&b, eflags: false) }
                b.endX87()
            })
        }
        return forms
    }

    // MARK: - Loads

    static var loads: [InstructionForm] {
        var forms: [InstructionForm] = []
        forms.append(InstructionForm("FLD m32fp/m64fp/m80fp", cases: 150) { b in
            b.x87State()
            switch b.below(3) {
            case 0:
                b.bytes(0xD9); let a = b.modrmMemory(reg: 0, span: 0..<4); b.patch(at: a, value: UInt64(b.float32()), size: 4)
            case 1:
                b.bytes(0xDD); let a = b.modrmMemory(reg: 0, span: 0..<8); b.patch(at: a, value: b.float64(), size: 8)
            default:
                b.bytes(0xDB); let a = b.modrmMemory(reg: 5, span: 0..<10)
                let (significand, se) = b.float80()
                b.patch(at: a, value: significand, size: 8); b.patch(at: a + 8, value: UInt64(se), size: 2)
            }
            b.undefined.fpuStatus = onlyC1
            b.endX87()
        })
        forms.append(InstructionForm("FLD st(i)", cases: 80) { b in
            b.x87State()
            b.bytes(0xD9, 0xC0 + UInt8(b.below(8)))
            b.undefined.fpuStatus = onlyC1
            b.endX87()
        })
        forms.append(InstructionForm("FILD m16/m32/m64", cases: 120) { b in
            b.x87State()
            let (escape, reg, size): (UInt8, UInt8, Int) = [(0xDF, 0, 2), (0xDB, 0, 4), (0xDF, 5, 8)][b.below(3)]
            b.bytes(escape)
            let a = b.modrmMemory(reg: reg, span: 0..<size)
            b.patch(at: a, value: UInt64(b.word()) | (size == 8 ? UInt64(b.word()) << 32 : 0), size: size)
            b.undefined.fpuStatus = onlyC1
            b.endX87()
        })
        forms.append(InstructionForm("FBLD m80bcd", cases: 100) { b in
            b.x87State()
            b.bytes(0xDF)
            let a = b.modrmMemory(reg: 4, span: 0..<10)
            let (bcd, valid) = b.packedBCD()
            b.patch(at: a, bcd)
            // "If the source contains invalid BCD digits, the result is undefined."
            if !valid { b.undefined.fpuRegisters = 1 }
            b.undefined.fpuStatus = onlyC1
            b.endX87()
        })
        forms.append(InstructionForm("FLD1/FLDL2T/FLDL2E/FLDPI/FLDLG2/FLDLN2/FLDZ", cases: 140) { b in
            // The rounding control decides the last bit of the irrational
            // constants (SDM vol. 1, 8.3.8).
            b.x87State()
            b.bytes(0xD9, 0xE8 + UInt8(b.below(7)))
            b.undefined.fpuStatus = onlyC1
            b.endX87()
        })
        return forms
    }

    // MARK: - Stores

    static var stores: [InstructionForm] {
        var forms: [InstructionForm] = []
        let memoryForms: [(String, [(UInt8, UInt8, Int)])] = [
            ("FST m32fp/m64fp", [(0xD9, 2, 4), (0xDD, 2, 8)]),
            ("FSTP m32fp/m64fp/m80fp", [(0xD9, 3, 4), (0xDD, 3, 8), (0xDB, 7, 10)]),
            ("FIST m16/m32", [(0xDF, 2, 2), (0xDB, 2, 4)]),
            ("FISTP m16/m32/m64", [(0xDF, 3, 2), (0xDB, 3, 4), (0xDF, 7, 8)]),
            ("FBSTP m80bcd", [(0xDF, 6, 10)]),
        ]
        for (name, encodings) in memoryForms {
            forms.append(InstructionForm(name, cases: 150) { b in
                // Integers near the conversion limits show the rounding.
                b.x87State(exponent: name.hasPrefix("FI") || name.hasPrefix("FB") ? UInt16(0x3FFF + b.below(64)) : 0x3FFF)
                let (escape, reg, size) = encodings[b.below(encodings.count)]
                b.bytes(escape)
                b.modrmMemory(reg: reg, span: 0..<size, write: true)
                b.undefined.fpuStatus = onlyC1
                b.endX87()
            })
        }
        forms.append(InstructionForm("FST/FSTP st(i)", cases: 80) { b in
            b.x87State()
            b.bytes(0xDD, (b.chance(0.5) ? 0xD0 : 0xD8) + UInt8(b.below(8)))
            b.undefined.fpuStatus = onlyC1
            b.endX87()
        })
        return forms
    }

    // MARK: - FXCH FCMOVcc FFREE FINCSTP FDECSTP FNOP

    static var stackOps: [InstructionForm] {
        [
            InstructionForm("FXCH st(i)", cases: 80) { b in
                b.x87State()
                b.bytes(0xD9, 0xC8 + UInt8(b.below(8)))
                b.undefined.fpuStatus = onlyC1
                b.endX87()
            },
            InstructionForm("FCMOVcc st,st(i)", cases: 160) { b in
                // DA C0–DF: B, E, BE, U; DB C0–DF: NB, NE, NBE, NU (EFLAGS CF, ZF, PF).
                b.x87State()
                b.bytes(b.chance(0.5) ? 0xDA : 0xDB, 0xC0 + UInt8(b.below(32)))
                b.undefined.fpuStatus = onlyC1
                b.endX87()
            },
            InstructionForm("FFREE st(i)", cases: 40) { b in
                b.x87State()
                b.bytes(0xDD, 0xC0 + UInt8(b.below(8)))
                b.undefined.fpuStatus = allConditions
                b.endX87()
            },
            InstructionForm("FINCSTP/FDECSTP", cases: 40) { b in
                b.x87State()
                b.bytes(0xD9, b.chance(0.5) ? 0xF7 : 0xF6)
                b.undefined.fpuStatus = onlyC1
                b.endX87()
            },
            InstructionForm("FNOP", cases: 10) { b in
                b.x87State()
                b.bytes(0xD9, 0xD0)
                b.undefined.fpuStatus = allConditions
                b.endX87()
            },
        ]
    }

    // MARK: - FCHS FABS FSQRT FRNDINT FSCALE FXTRACT FPREM FPREM1

    static var functions: [InstructionForm] {
        var forms: [InstructionForm] = []
        for (name, second) in [("FCHS", UInt8(0xE0)), ("FABS", 0xE1), ("FSQRT", 0xFA), ("FRNDINT", 0xFC), ("FXTRACT", 0xF4)] {
            forms.append(InstructionForm(name, cases: 120) { b in
                b.x87State(exponent: name == "FRNDINT" ? UInt16(0x3FFF + b.below(70)) : 0x3FFF)
                b.bytes(0xD9, second)
                b.undefined.fpuStatus = onlyC1
                b.endX87()
            })
        }
        forms.append(InstructionForm("FSCALE", cases: 150) { b in
            // ST(1) is truncated to an integer: small, large and fractional scales.
            b.x87State()
            let scaleExponent = UInt16(0x3FFF + [0, 3, 6, 13, 14, 15, 16, 30][b.below(8)])
            var (significand, se) = b.chance(0.8) ? (b.rng.next() | CaseBuilder.explicitOne, scaleExponent) : b.float80()
            if b.chance(0.5) { se |= 0x8000 }
            if b.chance(0.3) { significand &= ~0xFFFF_FFFF } // nearer an integer
            setRegister(&b, st: 1, (significand, se))
            b.bytes(0xD9, 0xFD)
            b.undefined.fpuStatus = onlyC1
            b.endX87()
        })
        for (name, second) in [("FPREM", UInt8(0xF8)), ("FPREM1", 0xF5)] {
            forms.append(InstructionForm(name, cases: 150) { b in
                // Exponent differences up to and past 63 give partial
                // remainders (C2 = 1); C0, C3, C1 are quotient bits.
                b.x87State()
                let (dividend, dividendSE) = b.float80()
                if dividendSE & 0x7FFF != 0 && dividendSE & 0x7FFF != 0x7FFF && b.chance(0.7) {
                    let e = Int(dividendSE & 0x7FFF) - [0, 1, 5, 30, 62, 63, 64, 80][b.below(8)]
                    setRegister(&b, st: 1, (b.rng.next() | CaseBuilder.explicitOne, UInt16(clamping: max(1, e)) | (b.chance(0.5) ? 0x8000 : 0)))
                }
                setRegister(&b, st: 0, (dividend, dividendSE))
                b.bytes(0xD9, second)
                // C0, C3 (and C1) are quotient bits; without a quotient (a
                // NaN, infinite, unsupported or empty operand, a zero
                // divisor, or an unmasked exception that suppresses the
                // result) the SDM gives them no value, and the host keeps C0
                // and C3 while clearing C1 and C2.
                let divisor = stackValue(b, st: 1)
                if !isFinite(stackValue(b, st: 0)) || !isFinite(divisor) || divisor?.0 == 0 || b.x87Unmasked {
                    b.undefined.fpuStatus = c0 | c3
                }
                b.endX87()
            })
        }
        return forms
    }

    /// ST(`st`) in the case's initial state; nil when empty.
    static func stackValue(_ b: CaseBuilder, st: Int) -> CaseBuilder.Float80Bits? {
        let top = Int(b.fpu[3] >> 3) & 7
        guard b.fpu[4] & (1 << UInt8((top + st) & 7)) != 0 else { return nil }
        let at = 32 + 16 * st
        let significand = (0..<8).reduce(UInt64(0)) { $0 | UInt64(b.fpu[at + $1]) << (8 * UInt64($1)) }
        return (significand, UInt16(b.fpu[at + 8]) | UInt16(b.fpu[at + 9]) << 8)
    }

    /// A finite value in a supported format (not empty, NaN, infinite,
    /// unnormal or pseudo-NaN/infinity).
    static func isFinite(_ v: CaseBuilder.Float80Bits?) -> Bool {
        guard let (significand, se) = v else { return false }
        let e = se & 0x7FFF
        return e != 0x7FFF && (e == 0 || significand >> 63 == 1)
    }

    /// Puts a value in ST(`st`) and marks it not empty.
    static func setRegister(_ b: inout CaseBuilder, st: Int, _ v: CaseBuilder.Float80Bits) {
        let at = 32 + 16 * st
        for k in 0..<8 { b.fpu[at + k] = UInt8(truncatingIfNeeded: v.0 >> (8 * UInt64(k))) }
        b.fpu[at + 8] = UInt8(v.1 & 0xFF); b.fpu[at + 9] = UInt8(v.1 >> 8)
        let top = Int(b.fpu[3] >> 3) & 7
        b.fpu[4] |= 1 << UInt8((top + st) & 7)
    }

    // MARK: - Transcendentals

    static var transcendentals: [InstructionForm] {
        var forms: [InstructionForm] = []
        // (name, second byte, operand domain: the SDM leaves results
        // outside it undefined, so only F2XM1 and FYL2XP1 are held to theirs).
        let functions: [(String, UInt8, UInt16)] = [
            ("F2XM1", 0xF0, c0 | c1 | c2 | c3), ("FYL2X", 0xF1, c0 | c1 | c2 | c3), ("FYL2XP1", 0xF9, c0 | c1 | c2 | c3),
            ("FPATAN", 0xF3, c0 | c1 | c2 | c3), ("FPTAN", 0xF2, c0 | c1 | c3), ("FSIN", 0xFE, c0 | c1 | c3),
            ("FCOS", 0xFF, c0 | c1 | c3), ("FSINCOS", 0xFB, c0 | c1 | c3),
        ]
        for (name, second, u) in functions {
            forms.append(InstructionForm(name, cases: 120) { b in
                b.x87State()
                var x = b.float80()
                switch name {
                case "F2XM1":
                    // -1 ≤ x ≤ +1 (infinities are outside too; NaNs stay).
                    if x.1 & 0x7FFF >= 0x3FFF && (x.1 & 0x7FFF != 0x7FFF || x.0 << 1 == 0) {
                        x = (b.rng.next() | CaseBuilder.explicitOne, x.1 & 0x8000 | UInt16(0x3FFF - 1 - b.below(40)))
                    }
                case "FYL2XP1":
                    // |x| < 1 − √2/2 ≈ 0.29.
                    if x.1 & 0x7FFF >= 0x3FFD && (x.1 & 0x7FFF != 0x7FFF || x.0 << 1 == 0) {
                        x = (b.rng.next() | CaseBuilder.explicitOne, x.1 & 0x8000 | UInt16(0x3FFD - 1 - b.below(40)))
                    }
                case "FYL2X":
                    if b.chance(0.8) { x.1 &= 0x7FFF }
                case "FPTAN", "FSIN", "FCOS", "FSINCOS":
                    // Mostly |x| < 2^16; 2^63 and above is out of range (C2 = 1).
                    if b.chance(0.8) && x.1 & 0x7FFF != 0x7FFF && x.1 & 0x7FFF > 0x3FFF + 16 {
                        x.1 = x.1 & 0x8000 | UInt16(0x3FFF - 8 + b.below(24))
                    } else if b.chance(0.1) {
                        x.1 = x.1 & 0x8000 | UInt16(0x3FFF + 62 + b.below(4))
                        x.0 |= CaseBuilder.explicitOne
                    }
                default: break
                }
                setRegister(&b, st: 0, x)
                b.fpu[0] |= UInt8(precision)
                b.bytes(0xD9, second)
                b.undefined.fpuStatus = u | precision
                b.undefined.fpuULPs = transcendentalULPs
                b.endX87()
            })
        }
        return forms
    }

    // MARK: - Control, environment and state images

    static var control: [InstructionForm] {
        var forms: [InstructionForm] = []
        forms.append(InstructionForm("FLDCW m16", cases: 100) { b in
            // Unmasking a flagged exception makes it pending: FWAIT follows.
            b.x87State()
            b.bytes(0xD9)
            let a = b.modrmMemory(reg: 5, span: 0..<2)
            b.patch(at: a, value: UInt64(b.chance(0.5) ? UInt32(b.x87ControlWord()) : b.word() & 0xFFFF), size: 2)
            b.undefined.fpuStatus = allConditions
            b.end()
            b.emitRaw([0x9B])
        })
        for (name, escape, reg) in [("FNSTCW m16", UInt8(0xD9), UInt8(7)), ("FNSTSW m16", 0xDD, 7)] {
            forms.append(InstructionForm(name, cases: 50) { b in
                b.x87State()
                b.bytes(escape)
                b.modrmMemory(reg: reg, span: 0..<2, write: true)
                b.undefined.fpuStatus = allConditions
                b.end()
            })
        }
        for (name, bytes) in [("FNSTSW AX", [UInt8(0xDF), 0xE0]), ("FNCLEX", [0xDB, 0xE2]), ("FNINIT", [0xDB, 0xE3]),
                              ("FNENI/FNDISI/FNSETPM (no-ops)", [0xDB, 0xE0])] {
            forms.append(InstructionForm(name, cases: 50) { b in
                b.x87State()
                var encoding = bytes
                if name.hasPrefix("FNENI") { encoding[1] = [0xE0, 0xE1, 0xE4][b.below(3)] }
                b.bytes(encoding)
                // FNINIT defines everything; the others leave C0–C3 undefined.
                if name != "FNINIT" { b.undefined.fpuStatus = allConditions }
                b.end()
            })
        }
        forms.append(InstructionForm("FWAIT after an unmasked exception", cases: 100) { b in
            // An operation that may raise an unmasked exception, then FWAIT
            // (#MF at the FWAIT), or the waiting FSTSW AX (9B DF E0).
            b.x87State(control: UInt16(0x0340 | b.below(64)))
            // FDIVP, FSQRT, FADD, FMULP, FDIV ST(0),ST(1), FNINIT (which
            // clears the exception, so FWAIT does nothing).
            let ops: [[UInt8]] = [[0xDE, 0xF9], [0xD9, 0xFA], [0xD8, 0xC1], [0xDE, 0xC9], [0xD8, 0xF1], [0xDB, 0xE3]]
            b.bytes(ops[b.below(ops.count)])
            b.undefined.fpuStatus = allConditions
            b.end()
            b.emitRaw(b.chance(0.7) ? [0x9B] : [0x9B, 0xDF, 0xE0])
        })
        forms.append(InstructionForm("FNSTENV m14/m28", cases: 120) { b in
            environmentStore(&b, escape: 0xD9, reg: 6, image: .environment)
        })
        forms.append(InstructionForm("FNSAVE m94/m108", cases: 100) { b in
            environmentStore(&b, escape: 0xDD, reg: 6, image: .save)
        })
        forms.append(InstructionForm("FXSAVE m512", cases: 80) { b in
            environmentStore(&b, escape: 0x0F, reg: 0, image: .fxsave)
        })
        forms.append(InstructionForm("FLDENV m14/m28", cases: 120) { b in
            environmentLoad(&b, save: false)
        })
        forms.append(InstructionForm("FRSTOR m94/m108", cases: 100) { b in
            environmentLoad(&b, save: true)
        })
        forms.append(InstructionForm("FXRSTOR m512", cases: 100) { b in
            fxrstor(&b)
        })
        return forms
    }

    enum StateImage { case environment, save, fxsave }

    /// An x87 instruction with a memory operand first (sometimes), so the
    /// stored image has an instruction and operand pointer and opcode to
    /// show; then the store.
    static func environmentStore(_ b: inout CaseBuilder, escape: UInt8, reg: UInt8, image: StateImage) {
        b.x87State(control: 0x037F)
        if b.chance(0.6) {
            let double = b.chance(0.5)
            b.bytes(double ? 0xDD : 0xD9)
            let a = b.modrmMemory(reg: 0, span: 0..<8, segmentFaults: false)
            if double { b.patch(at: a, value: b.float64(), size: 8) } else { b.patch(at: a, value: UInt64(b.float32()), size: 4) }
            b.end()
        } else if b.chance(0.5) {
            b.bytes(0xD8, 0xC0 + UInt8(b.below(8)))
            b.end()
        }
        let short = image != .fxsave && b.chance(0.3)
        let size: Int
        switch image {
        case .environment: size = short ? 14 : 28
        case .save: size = short ? 94 : 108
        case .fxsave: size = 512
        }
        if short { b.prefix(0x66) }
        if image == .fxsave { b.bytes(0x0F, 0xAE) } else { b.bytes(escape) }
        // FXSAVE needs a 16-byte aligned operand (#GP otherwise).
        let a = b.modrmMemory(reg: reg, span: 0..<size, align: image == .fxsave && b.chance(0.9) ? 16 : 1, write: true)
        if image == .fxsave {
            let o = Int(a) - Int(DifferentialLayout.dataBase)
            // The host leaves FOP/FIP/FDP zero in FXSAVE unless an exception
            // is pending; a P6 has no MXCSR or XMM registers to store.
            b.undefined.memory += [o + 6..<o + 24, o + 24..<o + 32, o + 160..<o + 288]
        }
        b.undefined.fpuStatus = allConditions
        b.end()
    }

    /// A random environment (and registers) to load: control and status
    /// words with any flags, including unmasked pending exceptions (FWAIT
    /// follows to deliver them), a tag word with any pattern, and pointers.
    static func environmentLoad(_ b: inout CaseBuilder, save: Bool) {
        b.x87State()
        let short = b.chance(0.3)
        let envSize = short ? 14 : 28
        let size = envSize + (save ? 80 : 0)
        b.bytes(save ? 0xDD : 0xD9)
        if short { b.prefix(0x66) }
        let a = b.modrmMemory(reg: 4, span: 0..<size)
        let fcw = UInt32(b.chance(0.7) ? b.x87ControlWord() : UInt16(truncatingIfNeeded: b.rng.next()))
        var fsw = UInt32(truncatingIfNeeded: b.rng.next()) & 0xFFFF
        if b.chance(0.6) { fsw &= ~0x80BF } // no pending exception
        let ftw = UInt32(truncatingIfNeeded: b.rng.next()) & 0xFFFF
        let fields: [UInt32] = [fcw, fsw, ftw, b.word(), UInt32(0x23) | (b.word() & 0x07FF) << 16, b.word(), 0x2B]
        for (i, v) in fields.enumerated() {
            if short { b.patch(at: a + UInt32(2 * i), value: UInt64(v & 0xFFFF), size: 2) } else { b.patch(at: a + UInt32(4 * i), value: UInt64(v), size: 4) }
        }
        if save {
            for i in 0..<8 {
                let (significand, se) = b.float80()
                b.patch(at: a + UInt32(envSize + 10 * i), value: significand, size: 8)
                b.patch(at: a + UInt32(envSize + 10 * i + 8), value: UInt64(se), size: 2)
            }
        }
        b.end()
        if b.chance(0.5) {
            // Store it again, to see the pointers and the tag word as kept.
            if short { b.prefix(0x66) }
            b.bytes(0xD9)
            b.modrmMemory(reg: 6, span: 0..<28, write: true, segmentFaults: false)
            b.end()
        }
        b.emitRaw([0x9B])
    }

    /// FXRSTOR of a random image: control and status words, abridged tags,
    /// pointers, registers. MXCSR is kept valid (a P6 has none to check).
    static func fxrstor(_ b: inout CaseBuilder) {
        b.x87State()
        b.bytes(0x0F, 0xAE)
        let a = b.modrmMemory(reg: 1, span: 0..<512, align: b.chance(0.9) ? 16 : 1)
        var image = [UInt8](repeating: 0, count: 32)
        let fcw = b.chance(0.7) ? b.x87ControlWord() : UInt16(truncatingIfNeeded: b.rng.next())
        var fsw = UInt16(truncatingIfNeeded: b.rng.next())
        if b.chance(0.6) { fsw &= ~0x80BF }
        image[0] = UInt8(fcw & 0xFF); image[1] = UInt8(fcw >> 8)
        image[2] = UInt8(fsw & 0xFF); image[3] = UInt8(fsw >> 8)
        image[4] = UInt8(truncatingIfNeeded: b.rng.next())
        image[24] = 0x80; image[25] = 0x1F
        b.patch(at: a, image)
        for i in 0..<8 {
            let (significand, se) = b.float80()
            b.patch(at: a + UInt32(32 + 16 * i), value: significand, size: 8)
            b.patch(at: a + UInt32(32 + 16 * i + 8), value: UInt64(se), size: 2)
        }
        b.end()
        b.emitRaw([0x9B])
    }

    // MARK: - Undocumented aliases a P6 decodes

    static var aliases: [InstructionForm] {
        [
            InstructionForm("x87 aliases (FSTP1/8/9, FXCH4/7, FCOM2, FCOMP3/5, FFREEP)", cases: 160) { b in
                let encodings: [(UInt8, UInt8)] = [(0xD9, 0xD8), (0xDF, 0xD0), (0xDF, 0xD8), (0xDD, 0xC8), (0xDF, 0xC8),
                                                   (0xDC, 0xD0), (0xDC, 0xD8), (0xDE, 0xD0), (0xDF, 0xC0)]
                let (escape, base) = encodings[b.below(encodings.count)]
                b.x87State()
                b.bytes(escape, base + UInt8(b.below(8)))
                // The compare aliases define C0–C3; the rest follow FSTP/FXCH/FFREE.
                b.undefined.fpuStatus = escape == 0xDC || escape == 0xDE ? 0 : allConditions
                if escape == 0xDC || escape == 0xDE { unmaskedInvalidCompare(&b, eflags: false) }
                b.endX87()
            },
        ]
    }
}
