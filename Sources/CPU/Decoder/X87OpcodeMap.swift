/// The x87 escape opcodes D8–DF (Intel SDM Vol. 2, Tables ), as
/// `OpcodeGroup` rows: the memory forms by ModRM.reg, then the register forms
/// by ModRM.reg. Memory operand sizes tell the interpreter the format (m32fp
/// vs m32int is told by the op: FLD vs FILD).
///
/// The register forms include the aliases the manual leaves blank but every
/// Intel x87 since the 387 executes: FSTP (D9 D8+i, DF D0+i, DF D8+i), FCOM
/// (DC D0+i), FCOMP (DC D8+i, DE D0+i), FXCH (DD C8+i, DF C8+i), and FFREEP
/// (DF C0+i). The SSE3 FISTTP memory forms (DB/DD/DF /1) are #UD on the P6.
enum X87OpcodeMap {
    static let d8: [OpcodeEntry] = [
        .op(.fadd, .Md), .op(.fmul, .Md), .op(.fcom, .Md), .op(.fcomp, .Md),
        .op(.fsub, .Md), .op(.fsubr, .Md), .op(.fdiv, .Md), .op(.fdivr, .Md),
        .op(.fadd, .ST0, .STi), .op(.fmul, .ST0, .STi), .op(.fcom, .STi), .op(.fcomp, .STi),
        .op(.fsub, .ST0, .STi), .op(.fsubr, .ST0, .STi), .op(.fdiv, .ST0, .STi), .op(.fdivr, .ST0, .STi),
    ]
    static let d9: [OpcodeEntry] = [
        .op(.fld, .Md), .invalid, .op(.fst, .Md), .op(.fstp, .Md),
        .op(.fldenv, .Menv), .op(.fldcw, .Mw), .op(.fnstenv, .Menv), .op(.fnstcw, .Mw),
        .op(.fld, .STi), .op(.fxch, .STi), .row(.d9Nop), .op(.fstp, .STi),
        .row(.d9Sign), .row(.d9Constants), .row(.d9Transcendental), .row(.d9Arithmetic),
    ]
    static let da: [OpcodeEntry] = [
        .op(.fiadd, .Md), .op(.fimul, .Md), .op(.ficom, .Md), .op(.ficomp, .Md),
        .op(.fisub, .Md), .op(.fisubr, .Md), .op(.fidiv, .Md), .op(.fidivr, .Md),
        // FCMOVcc: B, E, BE, U as the integer conditions 2, 4, 6, 10 (CF, ZF, CF|ZF, PF).
        .conditional(.fcmov, 0x2, .ST0, .STi), .conditional(.fcmov, 0x4, .ST0, .STi),
        .conditional(.fcmov, 0x6, .ST0, .STi), .conditional(.fcmov, 0xA, .ST0, .STi),
        .invalid, .row(.daCompare), .invalid, .invalid,
    ]
    static let db: [OpcodeEntry] = [
        .op(.fild, .Md), .invalid, .op(.fist, .Md), .op(.fistp, .Md),
        .invalid, .op(.fld, .Mt), .invalid, .op(.fstp, .Mt),
        // FCMOVNcc: NB, NE, NBE, NU as the integer conditions 3, 5, 7, 11.
        .conditional(.fcmov, 0x3, .ST0, .STi), .conditional(.fcmov, 0x5, .ST0, .STi),
        .conditional(.fcmov, 0x7, .ST0, .STi), .conditional(.fcmov, 0xB, .ST0, .STi),
        .row(.dbControl), .op(.fucomi, .ST0, .STi), .op(.fcomi, .ST0, .STi), .invalid,
    ]
    static let dc: [OpcodeEntry] = [
        .op(.fadd, .Mq), .op(.fmul, .Mq), .op(.fcom, .Mq), .op(.fcomp, .Mq),
        .op(.fsub, .Mq), .op(.fsubr, .Mq), .op(.fdiv, .Mq), .op(.fdivr, .Mq),
        // Destination ST(i); note /4 is FSUBR and /5 FSUB here (likewise DIV).
        .op(.fadd, .STi, .ST0), .op(.fmul, .STi, .ST0), .op(.fcom, .STi), .op(.fcomp, .STi),
        .op(.fsubr, .STi, .ST0), .op(.fsub, .STi, .ST0), .op(.fdivr, .STi, .ST0), .op(.fdiv, .STi, .ST0),
    ]
    static let dd: [OpcodeEntry] = [
        .op(.fld, .Mq), .invalid, .op(.fst, .Mq), .op(.fstp, .Mq),
        .op(.frstor, .Mstate), .invalid, .op(.fnsave, .Mstate), .op(.fnstsw, .Mw),
        .op(.ffree, .STi), .op(.fxch, .STi), .op(.fst, .STi), .op(.fstp, .STi),
        .op(.fucom, .STi), .op(.fucomp, .STi), .invalid, .invalid,
    ]
    static let de: [OpcodeEntry] = [
        .op(.fiadd, .Mw), .op(.fimul, .Mw), .op(.ficom, .Mw), .op(.ficomp, .Mw),
        .op(.fisub, .Mw), .op(.fisubr, .Mw), .op(.fidiv, .Mw), .op(.fidivr, .Mw),
        .op(.faddp, .STi, .ST0), .op(.fmulp, .STi, .ST0), .op(.fcomp, .STi), .row(.deCompare),
        .op(.fsubrp, .STi, .ST0), .op(.fsubp, .STi, .ST0), .op(.fdivrp, .STi, .ST0), .op(.fdivp, .STi, .ST0),
    ]
    static let df: [OpcodeEntry] = [
        .op(.fild, .Mw), .invalid, .op(.fist, .Mw), .op(.fistp, .Mw),
        .op(.fbld, .Mt), .op(.fild, .Mq), .op(.fbstp, .Mt), .op(.fistp, .Mq),
        .op(.ffreep, .STi), .op(.fxch, .STi), .op(.fstp, .STi), .op(.fstp, .STi),
        .row(.dfStatus), .op(.fucomip, .ST0, .STi), .op(.fcomip, .ST0, .STi), .invalid,
    ]
}
