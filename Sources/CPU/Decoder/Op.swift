/// Operations, one per mnemonic family. The decoder's opcode tables map
/// encodings to these; the interpreter gives each its semantics; the
/// disassembler prints `mnemonic`. Operand sizes come from the operands,
/// conditions from `Instruction.condition`.
public enum Op: UInt16, CaseIterable {
    // Not an instruction.
    case invalid        // #UD
    case incomplete     // ran out of bytes before the instruction ended
    case tooLong        // more than 15 bytes: #GP(0)

    // Integer arithmetic and logic.
    case add, or, adc, sbb, and, sub, xor, cmp, test
    case inc, dec, neg, not
    case mul, imul, div, idiv
    case daa, das, aaa, aas, aam, aad
    case rol, ror, rcl, rcr, shl, shr, sal, sar, shld, shrd
    case bt, bts, btr, btc, bsf, bsr
    case cbw, cwd           // CBW/CWDE and CWD/CDQ by operand size
    case salc

    // Data movement.
    case mov, movzx, movsx, lea, xchg, xadd, cmpxchg, cmpxchg8b, bswap
    case cmov, setcc
    case push, pop, pusha, popa, pushf, popf, lahf, sahf
    case lds, les, lss, lfs, lgs
    case xlat, enter, leave, bound
    case nop, pause

    // Strings (operand size from the operands; REP from the prefix).
    case movs, cmps, stos, lods, scas, ins, outs

    // Control transfer.
    case jcc, jmp, jmpFar, call, callFar, ret, retFar, iret
    case loop, loope, loopne, jcxz
    case int, int3, into, int1

    // Flags and processor control.
    case clc, stc, cmc, cld, std, cli, sti
    case hlt, wait, cpuid, rdtsc, rdmsr, wrmsr, rdpmc
    case `in`, out

    // System.
    case sldt, str, lldt, ltr, verr, verw
    case sgdt, sidt, lgdt, lidt, smsw, lmsw, invlpg
    case lar, lsl, arpl, clts, invd, wbinvd, ud2, rsm
    case sysenter, sysexit
    case fxsave, fxrstor

    // x87 arithmetic (memory or register forms; P = pop, I = integer memory).
    case fadd, fmul, fcom, fcomp, fsub, fsubr, fdiv, fdivr
    case faddp, fmulp, fsubp, fsubrp, fdivp, fdivrp, fcompp
    case fiadd, fimul, ficom, ficomp, fisub, fisubr, fidiv, fidivr
    case fucom, fucomp, fucompp, fcomi, fcomip, fucomi, fucomip
    // x87 loads and stores.
    case fld, fst, fstp, fild, fist, fistp, fbld, fbstp, fxch, fcmov
    case fld1, fldl2t, fldl2e, fldpi, fldlg2, fldln2, fldz
    // x87 functions.
    case fchs, fabs, ftst, fxam, f2xm1, fyl2x, fptan, fpatan, fxtract
    case fprem, fprem1, fdecstp, fincstp, fyl2xp1, fsqrt, fsincos
    case frndint, fscale, fsin, fcos, fnop, ffree, ffreep
    // x87 control.
    case fldenv, fldcw, fnstenv, fnstcw, fnclex, fninit, frstor, fnsave, fnstsw
    case fneni, fndisi, fnsetpm   // 8087/287 leftovers: no-ops on a P6
}
