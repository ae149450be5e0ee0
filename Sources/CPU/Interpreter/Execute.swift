/// Dispatch from a decoded instruction to the family that gives it its
/// semantics. Each family lives in its own folder: Integer/ (ALU, data
/// movement, strings, near control flow, port I/O), System/ (segments,
/// far transfers, interrupts, tasks, paging, system registers) and X87/.
///
/// Out of line: the families it reaches are inlined into it, and the hot
/// instructions of a block run through `executeForm` instead.
extension CPU {
    @inline(never)
    func execute(_ i: Instruction) throws(CPUFault) {
        switch i.op {
        case .add, .or, .adc, .sbb, .and, .sub, .xor, .cmp, .test,
             .inc, .dec, .neg, .not, .mul, .imul, .div, .idiv,
             .daa, .das, .aaa, .aas, .aam, .aad,
             .rol, .ror, .rcl, .rcr, .shl, .shr, .sal, .sar, .shld, .shrd,
             .bt, .bts, .btr, .btc, .bsf, .bsr, .cbw, .cwd, .salc:
            try executeArithmetic(i)

        case .mov:
            if i.operands.0.kind == .control || i.operands.1.kind == .control
                || i.operands.0.kind == .debug || i.operands.1.kind == .debug {
                try executeMoveSystemRegister(i)
            } else {
                try executeDataMovement(i)
            }
        case .movzx, .movsx, .lea, .xchg, .xadd, .cmpxchg, .cmpxchg8b, .bswap,
             .cmov, .setcc, .push, .pop, .pusha, .popa, .pushf, .popf, .lahf, .sahf,
             .xlat, .enter, .leave, .bound, .nop, .pause:
            try executeDataMovement(i)

        case .movs, .cmps, .stos, .lods, .scas, .ins, .outs:
            try executeString(i)

        case .jcc, .jmp, .call, .ret, .loop, .loope, .loopne, .jcxz,
             .in, .out, .clc, .stc, .cmc, .cld, .std, .cli, .sti:
            try executeControl(i)

        case .lds, .les, .lss, .lfs, .lgs, .jmpFar, .callFar, .retFar, .iret,
             .int, .int3, .into, .int1, .hlt, .cpuid, .rdtsc, .rdmsr, .wrmsr, .rdpmc,
             .sldt, .str, .lldt, .ltr, .verr, .verw, .sgdt, .sidt, .lgdt, .lidt,
             .smsw, .lmsw, .invlpg, .lar, .lsl, .arpl, .clts, .invd, .wbinvd,
             .ud2, .rsm, .sysenter, .sysexit:
            try executeSystem(i)

        case .wait, .fxsave, .fxrstor,
             .fadd, .fmul, .fcom, .fcomp, .fsub, .fsubr, .fdiv, .fdivr,
             .faddp, .fmulp, .fsubp, .fsubrp, .fdivp, .fdivrp, .fcompp,
             .fiadd, .fimul, .ficom, .ficomp, .fisub, .fisubr, .fidiv, .fidivr,
             .fucom, .fucomp, .fucompp, .fcomi, .fcomip, .fucomi, .fucomip,
             .fld, .fst, .fstp, .fild, .fist, .fistp, .fbld, .fbstp, .fxch, .fcmov,
             .fld1, .fldl2t, .fldl2e, .fldpi, .fldlg2, .fldln2, .fldz,
             .fchs, .fabs, .ftst, .fxam, .f2xm1, .fyl2x, .fptan, .fpatan, .fxtract,
             .fprem, .fprem1, .fdecstp, .fincstp, .fyl2xp1, .fsqrt, .fsincos,
             .frndint, .fscale, .fsin, .fcos, .fnop, .ffree, .ffreep,
             .fldenv, .fldcw, .fnstenv, .fnstcw, .fnclex, .fninit, .frstor, .fnsave, .fnstsw,
             .fneni, .fndisi, .fnsetpm:
            try executeX87(i)

        case .invalid, .incomplete:
            throw .invalidOpcode
        case .tooLong:
            throw .generalProtection(0)
        }
    }
}
