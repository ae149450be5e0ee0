/// How an opcode-map entry encodes one operand, in the notation of the Intel
/// SDM opcode map (Vol. 2, Appendix A.2): the capital letter says where the
/// operand lives, the lower-case suffix its size — b byte, w word, d dword,
/// v the operand size (2 or 4), z the same here (there is no 64-bit mode).
/// The names are kept as the manual spells them so a table row reads like
/// the manual's row; the decoder turns each into a concrete `Operand`.
enum OperandSpec: UInt8 {
    case none

    // ModRM r/m: a general register (mod = 3) or memory.
    case Eb, Ew, Ev
    /// Memory of 16 bits, or a register of the operand size: selectors and
    /// the MSW (SLDT, STR, SMSW, LAR, LSL, MOV to/from a segment register).
    case MwRv
    /// The r/m field names a 32-bit register whatever mod says (MOV CRn/DRn).
    case Rd

    // ModRM r/m that must be memory: mod = 3 is #UD.
    /// An address only (LEA); sized as the operand size.
    case M
    case Mb, Mw, Md, Mq
    /// 80-bit x87 memory (extended real, packed BCD).
    case Mt
    /// A far pointer: offset of the operand size, then a 16-bit selector (4 or 6 bytes).
    case Mp
    /// BOUND's pair of signed bounds (2 × operand size).
    case Ma
    /// A GDTR/IDTR image: 16-bit limit and 32-bit base.
    case Ms
    /// x87 environment (14 or 28 bytes by operand size).
    case Menv
    /// x87 environment and registers (94 or 108 bytes by operand size).
    case Mstate
    /// The 512-byte FXSAVE area.
    case Mfx

    // ModRM reg.
    case Gb, Gw, Gv
    /// A segment register that may be read (ES–GS; 6 and 7 are #UD).
    case Sw
    /// A segment register MOV may load: as `Sw`, but CS is #UD too.
    case SwLoad
    /// A control register that exists on the P6 (CR0, CR2, CR3, CR4).
    case Cd
    case Dd

    // Bytes after ModRM/SIB/displacement.
    case Ib, Iw, Iz
    /// An 8-bit immediate sign-extended to the operand size (83, 6A, 6B).
    case IbSignExtended
    /// ENTER's nesting level: the second immediate.
    case IbSecond
    /// Relative branch displacements.
    case Jb, Jz
    /// A direct far pointer: offset of the operand size, then a selector.
    case Ap
    /// A memory offset of the address size, no ModRM (A0–A3).
    case Ob, Ov

    // Registers the opcode implies.
    case AL, CL, DX, AX, eAX
    /// A general register numbered by the opcode's low three bits.
    case Zb, Zv
    case ES, CS, SS, DS, FS, GS
    /// The constant 1 of the D0/D1 shifts.
    case one
    /// A string instruction's element; its addresses are implied (SI/DI).
    case Xb, Xv
    /// x87 stack top, and ST(i) with i from ModRM.rm.
    case ST0, STi

    /// Whether the operand is found through a ModRM byte.
    var usesModRM: Bool {
        switch self {
        case .Eb, .Ew, .Ev, .MwRv, .Rd, .M, .Mb, .Mw, .Md, .Mq, .Mt, .Mp, .Ma, .Ms,
             .Menv, .Mstate, .Mfx, .Gb, .Gw, .Gv, .Sw, .SwLoad, .Cd, .Dd, .STi:
            return true
        default:
            return false
        }
    }
}
