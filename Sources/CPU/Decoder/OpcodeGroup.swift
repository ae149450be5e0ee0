/// Opcodes whose operation is chosen by ModRM.reg — the manual's "groups"
/// (Intel SDM Vol. 2, Table A-6) — and the x87 escapes D8–DF (Tables A-7 to
/// A-22), which are the same shape: eight memory forms by ModRM.reg and eight
/// register forms by ModRM.reg, some of which fan out again by ModRM.rm
/// (`OpcodeRow`). A member without operands takes those of the opcode that
/// leads to the group (80 gives Eb,Ib; 81 Ev,Iz; …).
enum OpcodeGroup: UInt8, CaseIterable {
    case arithmetic          // 80–83  group 1
    case pop                 // 8F     group 1A
    case shift               // C0 C1 D0–D3  group 2
    case unaryByte           // F6     group 3
    case unary               // F7     group 3
    case incDecByte          // FE     group 4
    case incDecBranchPush    // FF     group 5
    case moveImmediate       // C6 C7  group 11
    case systemSegment       // 0F 00  group 6
    case systemTable         // 0F 01  group 7
    case bitTestImmediate    // 0F BA  group 8
    case compareExchange8    // 0F C7  group 9
    case extendedState       // 0F AE  group 15 (P6: FXSAVE/FXRSTOR only)
    case x87D8, x87D9, x87DA, x87DB, x87DC, x87DD, x87DE, x87DF

    /// Eight entries by ModRM.reg used for every mod, or sixteen: the memory
    /// forms (mod 0–2) by reg, then the register forms (mod 3) by reg.
    var entries: [OpcodeEntry] {
        switch self {
        case .arithmetic:
            return [.lockable(.add), .lockable(.or), .lockable(.adc), .lockable(.sbb),
                    .lockable(.and), .lockable(.sub), .lockable(.xor), .op(.cmp)]
        case .pop:
            return [.op(.pop, .Ev), .invalid, .invalid, .invalid, .invalid, .invalid, .invalid, .invalid]
        case .shift:
            // /6 is the undocumented alias of SHL that every Intel CPU executes.
            return [.op(.rol), .op(.ror), .op(.rcl), .op(.rcr), .op(.shl), .op(.shr), .op(.sal), .op(.sar)]
        case .unaryByte:
            // /1 is an undocumented alias of TEST.
            return [.op(.test, .Eb, .Ib), .op(.test, .Eb, .Ib), .lockable(.not, .Eb), .lockable(.neg, .Eb),
                    .op(.mul, .Eb), .op(.imul, .Eb), .op(.div, .Eb), .op(.idiv, .Eb)]
        case .unary:
            return [.op(.test, .Ev, .Iz), .op(.test, .Ev, .Iz), .lockable(.not, .Ev), .lockable(.neg, .Ev),
                    .op(.mul, .Ev), .op(.imul, .Ev), .op(.div, .Ev), .op(.idiv, .Ev)]
        case .incDecByte:
            return [.lockable(.inc, .Eb), .lockable(.dec, .Eb),
                    .invalid, .invalid, .invalid, .invalid, .invalid, .invalid]
        case .incDecBranchPush:
            return [.lockable(.inc, .Ev), .lockable(.dec, .Ev), .op(.call, .Ev), .op(.callFar, .Mp),
                    .op(.jmp, .Ev), .op(.jmpFar, .Mp), .op(.push, .Ev), .invalid]
        case .moveImmediate:
            return [.op(.mov), .invalid, .invalid, .invalid, .invalid, .invalid, .invalid, .invalid]
        case .systemSegment:
            return [.op(.sldt, .MwRv), .op(.str, .MwRv), .op(.lldt, .Ew), .op(.ltr, .Ew),
                    .op(.verr, .Ew), .op(.verw, .Ew), .invalid, .invalid]
        case .systemTable:
            // The register forms other than SMSW/LMSW (MONITOR, VMCALL, …) came after the P6.
            return [.op(.sgdt, .Ms), .op(.sidt, .Ms), .op(.lgdt, .Ms), .op(.lidt, .Ms),
                    .op(.smsw, .MwRv), .invalid, .op(.lmsw, .Ew), .op(.invlpg, .Mb),
                    .invalid, .invalid, .invalid, .invalid,
                    .op(.smsw, .MwRv), .invalid, .op(.lmsw, .Ew), .invalid]
        case .bitTestImmediate:
            return [.invalid, .invalid, .invalid, .invalid,
                    .op(.bt), .lockable(.bts), .lockable(.btr), .lockable(.btc)]
        case .compareExchange8:
            return [.invalid, .lockable(.cmpxchg8b, .Mq), .invalid, .invalid,
                    .invalid, .invalid, .invalid, .invalid]
        case .extendedState:
            return [.op(.fxsave, .Mfx), .op(.fxrstor, .Mfx), .invalid, .invalid,
                    .invalid, .invalid, .invalid, .invalid]
        case .x87D8: return X87OpcodeMap.d8
        case .x87D9: return X87OpcodeMap.d9
        case .x87DA: return X87OpcodeMap.da
        case .x87DB: return X87OpcodeMap.db
        case .x87DC: return X87OpcodeMap.dc
        case .x87DD: return X87OpcodeMap.dd
        case .x87DE: return X87OpcodeMap.de
        case .x87DF: return X87OpcodeMap.df
        }
    }
}

/// x87 register forms chosen by the whole ModRM byte: eight entries by
/// ModRM.rm, reached from a group's register form for one ModRM.reg.
enum OpcodeRow: UInt8, CaseIterable {
    case d9Nop               // D9 D0–D7
    case d9Sign              // D9 E0–E7
    case d9Constants         // D9 E8–EF
    case d9Transcendental    // D9 F0–F7
    case d9Arithmetic        // D9 F8–FF
    case daCompare           // DA E8–EF
    case dbControl           // DB E0–E7
    case deCompare           // DE D8–DF
    case dfStatus            // DF E0–E7

    var entries: [OpcodeEntry] {
        switch self {
        case .d9Nop:
            return [.op(.fnop), .invalid, .invalid, .invalid, .invalid, .invalid, .invalid, .invalid]
        case .d9Sign:
            return [.op(.fchs), .op(.fabs), .invalid, .invalid, .op(.ftst), .op(.fxam), .invalid, .invalid]
        case .d9Constants:
            return [.op(.fld1), .op(.fldl2t), .op(.fldl2e), .op(.fldpi),
                    .op(.fldlg2), .op(.fldln2), .op(.fldz), .invalid]
        case .d9Transcendental:
            return [.op(.f2xm1), .op(.fyl2x), .op(.fptan), .op(.fpatan),
                    .op(.fxtract), .op(.fprem1), .op(.fdecstp), .op(.fincstp)]
        case .d9Arithmetic:
            return [.op(.fprem), .op(.fyl2xp1), .op(.fsqrt), .op(.fsincos),
                    .op(.frndint), .op(.fscale), .op(.fsin), .op(.fcos)]
        case .daCompare:
            return [.invalid, .op(.fucompp), .invalid, .invalid, .invalid, .invalid, .invalid, .invalid]
        case .dbControl:
            // FNENI/FNDISI/FNSETPM are 8087/287 controls the P6 executes as
            // no-ops; DB E5 (the 287's FRSTPM) is #UD.
            return [.op(.fneni), .op(.fndisi), .op(.fnclex), .op(.fninit),
                    .op(.fnsetpm), .invalid, .invalid, .invalid]
        case .deCompare:
            return [.invalid, .op(.fcompp), .invalid, .invalid, .invalid, .invalid, .invalid, .invalid]
        case .dfStatus:
            return [.op(.fnstsw, .AX), .invalid, .invalid, .invalid, .invalid, .invalid, .invalid, .invalid]
        }
    }
}
