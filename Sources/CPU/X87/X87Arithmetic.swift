/// x87 basic arithmetic and comparison instructions: FADD/FSUB/FSUBR/
/// FMUL/FDIV/FDIVR in all their forms (m32fp, m64fp, ST(0),ST(i),
/// ST(i),ST(0), the popping P forms and the FI integer-memory forms), the
/// compares FCOM…FUCOMPP, FICOM(P), FCOMI…FUCOMIP and FTST, FXAM, FCHS,
/// FABS, FSQRT, FSCALE, FRNDINT, FXTRACT, FPREM and FPREM1
/// (SDM vol. 1, 8.3.5–8.3.7; vol. 2 per instruction).
///
/// The values come from `ExtendedArithmetic`; this file decides where they
/// go: stack underflow first, then the result is stored (and the stack
/// popped) unless an unmasked pre-computation exception forbids it, and
/// C1 reports rounding up.
extension CPU {
    private enum BinaryOperation { case add, multiply, subtract, subtractReversed, divide, divideReversed }

    func executeX87Arithmetic(_ i: Instruction) throws(CPUFault) {
        switch i.op {
        case .fadd, .fiadd: try binary(i, .add, pop: false)
        case .faddp: try binary(i, .add, pop: true)
        case .fmul, .fimul: try binary(i, .multiply, pop: false)
        case .fmulp: try binary(i, .multiply, pop: true)
        case .fsub, .fisub: try binary(i, .subtract, pop: false)
        case .fsubp: try binary(i, .subtract, pop: true)
        case .fsubr, .fisubr: try binary(i, .subtractReversed, pop: false)
        case .fsubrp: try binary(i, .subtractReversed, pop: true)
        case .fdiv, .fidiv: try binary(i, .divide, pop: false)
        case .fdivp: try binary(i, .divide, pop: true)
        case .fdivr, .fidivr: try binary(i, .divideReversed, pop: false)
        case .fdivrp: try binary(i, .divideReversed, pop: true)
        case .fcom, .ficom: try compare(i, quiet: false, pops: 0)
        case .fcomp, .ficomp: try compare(i, quiet: false, pops: 1)
        case .fcompp: try compare(i, quiet: false, pops: 2)
        case .fucom: try compare(i, quiet: true, pops: 0)
        case .fucomp: try compare(i, quiet: true, pops: 1)
        case .fucompp: try compare(i, quiet: true, pops: 2)
        case .fcomi: compareToFlags(i, quiet: false, pop: false)
        case .fcomip: compareToFlags(i, quiet: false, pop: true)
        case .fucomi: compareToFlags(i, quiet: true, pop: false)
        case .fucomip: compareToFlags(i, quiet: true, pop: true)
        case .ftst: test()
        case .fxam: examine()
        case .fchs, .fabs: changeSign(absolute: i.op == .fabs)
        case .fsqrt: unary { a, c in ExtendedArithmetic.squareRoot(a, c) }
        case .frndint: unary { a, c in ExtendedArithmetic.roundToIntegral(a, c) }
        case .fscale: scale()
        case .fxtract: extract()
        case .fprem, .fprem1: partialRemainder(ieee: i.op == .fprem1)
        default: throw .invalidOpcode
        }
    }

    /// Stores an arithmetic result in ST(`destination`) and pops, unless an
    /// unmasked #I/#D/#Z forbids it; records the exceptions. A suppressed
    /// result rounded nothing, so C1 reads 0 (as the hardware reports it).
    func completeArithmetic(_ o: X87Outcome, destination: Int, pop: Bool = false) {
        if fpuControl.unmasked(o.exceptions) & X87Status.preComputation == 0 {
            setST(destination, o.value)
            setRoundedUp(o.roundedUp)
            if pop { fpuPop() }
        } else {
            setRoundedUp(false)
        }
        raiseX87(o.exceptions)
    }

    // MARK: - Memory source operands

    /// A real (m32fp/m64fp) or integer (m16int/m32int) memory operand as
    /// an extended value; `denormal` for a denormal single/double.
    private func memorySource(_ i: Instruction, _ m: Operand) throws(CPUFault) -> (value: ExtendedReal, denormal: Bool) {
        let offset = memoryOffset(m, i)
        switch i.op {
        case .fiadd, .fimul, .fisub, .fisubr, .fidiv, .fidivr, .ficom, .ficomp:
            let raw = try read(i.segment, offset, size: Int(m.size))
            return (.integer(m.size == 2 ? Int64(Int16(truncatingIfNeeded: raw)) : Int64(Int32(bitPattern: raw))), false)
        default:
            if m.size == 8 { return X87Conversions.extended(double: try readX87Memory64(i.segment, offset)) }
            return X87Conversions.extended(single: try read(i.segment, offset, size: 4))
        }
    }

    /// Folds a denormal memory operand's #D into an outcome: when #D is
    /// unmasked the operation stops there. A NaN or unsupported ST(0), an
    /// #IA or a #Z outranks it (SDM vol. 1, 4.9.2: divide-by-zero comes
    /// before the denormal operand) and it is not reported at all.
    private func withMemoryDenormal(_ o: X87Outcome, _ denormal: Bool) -> X87Outcome {
        guard denormal && o.exceptions & (X87Status.invalid | X87Status.zeroDivide) == 0
            && !st(0).isNaNOrUnsupported else { return o }
        let c = fpuControl
        if !c.masks(X87Status.denormal) {
            return X87Outcome(.indefinite, exceptions: X87Status.denormal)
        }
        var r = o
        r.exceptions |= X87Status.denormal
        return r
    }

    // MARK: - FADD … FDIVRP

    private func binary(_ i: Instruction, _ operation: BinaryOperation, pop: Bool) throws(CPUFault) {
        let destination: Int
        let source: ExtendedReal
        var denormal = false
        if let m = x87MemoryOperand(i) {
            (source, denormal) = try memorySource(i, m)
            destination = 0
            if isEmpty(0) { fpuStackUnderflow(destination: 0); return }
        } else {
            let (d, s) = x87StackOperands(i, popping: pop)
            if isEmpty(d) || isEmpty(s) { fpuStackUnderflow(destination: d, pops: pop ? 1 : 0); return }
            (destination, source) = (d, st(s))
        }
        let a = st(destination)
        let c = fpuControl
        let o: X87Outcome
        switch operation {
        case .add: o = ExtendedArithmetic.add(a, source, subtract: false, c)
        case .multiply: o = ExtendedArithmetic.multiply(a, source, c)
        case .subtract: o = ExtendedArithmetic.add(a, source, subtract: true, c)
        case .subtractReversed: o = ExtendedArithmetic.add(source, a, subtract: true, c)
        case .divide: o = ExtendedArithmetic.divide(a, source, c)
        case .divideReversed: o = ExtendedArithmetic.divide(source, a, c)
        }
        completeArithmetic(withMemoryDenormal(o, denormal), destination: destination, pop: pop)
    }

    /// FSQRT, FRNDINT: ST(0) ← f(ST(0)).
    private func unary(_ f: (ExtendedReal, X87ControlWord) -> X87Outcome) {
        if isEmpty(0) { fpuStackUnderflow(destination: 0); return }
        completeArithmetic(f(st(0), fpuControl), destination: 0)
    }

    // MARK: - Compares

    /// C3 C2 C0 of a compare: > 000, < 001, = 100, unordered 111.
    private static func conditionCodes(_ order: ExtendedArithmetic.Order) -> UInt16 {
        switch order {
        case .greater: return 0
        case .less: return X87Status.c0
        case .equal: return X87Status.c3
        case .unordered: return X87Status.c3 | X87Status.c2 | X87Status.c0
        }
    }

    private func compare(_ i: Instruction, quiet: Bool, pops: Int) throws(CPUFault) {
        let source: ExtendedReal
        var denormal = false
        if let m = x87MemoryOperand(i) {
            (source, denormal) = try memorySource(i, m)
            if isEmpty(0) { compareUnderflow(pops: pops); return }
        } else {
            let s = pops == 2 ? 1 : x87StackRegister(i)
            if isEmpty(0) || isEmpty(s) { compareUnderflow(pops: pops); return }
            source = st(s)
        }
        let c = fpuControl
        let r = ExtendedArithmetic.compare(st(0), source, quietNaNIsInvalid: !quiet, c)
        let o = withMemoryDenormal(X87Outcome(.indefinite, exceptions: r.exceptions), denormal)
        finishCompare(r.order, o.exceptions, pops: pops)
    }

    /// The condition codes are set even when #IA or #D is unmasked (the
    /// hardware reports "unordered" or the order it found); only the pops
    /// are held back.
    private func finishCompare(_ order: ExtendedArithmetic.Order, _ exceptions: UInt16, pops: Int) {
        setConditionCodes(CPU.conditionCodes(order), mask: X87Status.conditionCodes)
        if fpuControl.unmasked(exceptions) & X87Status.preComputation == 0 {
            for _ in 0..<pops { fpuPop() }
        }
        raiseX87(exceptions)
    }

    /// An empty operand: masked, the result is "unordered".
    private func compareUnderflow(pops: Int) {
        if fpuControl.masks(X87Status.invalid) {
            setConditionCodes(CPU.conditionCodes(.unordered), mask: X87Status.c3 | X87Status.c2 | X87Status.c0)
        }
        fpuStackUnderflow(destination: nil, pops: pops)
    }

    /// FCOMI/FCOMIP/FUCOMI/FUCOMIP: ZF PF CF as C3 C2 C0 would be; OF, SF,
    /// AF cleared; C1 cleared; C0, C2, C3 unchanged.
    private func compareToFlags(_ i: Instruction, quiet: Bool, pop: Bool) {
        let s = x87StackRegister(i)
        let zpc = EFLAGS.zf | EFLAGS.pf | EFLAGS.cf
        let all = zpc | EFLAGS.of | EFLAGS.sf | EFLAGS.af
        if isEmpty(0) || isEmpty(s) {
            if fpuControl.masks(X87Status.invalid) { setFlags(zpc, mask: all) }
            fpuStackUnderflow(destination: nil, pops: pop ? 1 : 0)
            return
        }
        let r = ExtendedArithmetic.compare(st(0), st(s), quietNaNIsInvalid: !quiet, fpuControl)
        let flags: UInt32
        switch r.order {
        case .greater: flags = 0
        case .less: flags = EFLAGS.cf
        case .equal: flags = EFLAGS.zf
        case .unordered: flags = zpc
        }
        setFlags(flags, mask: all)
        setConditionCodes(0, mask: X87Status.c1)
        if pop && fpuControl.unmasked(r.exceptions) & X87Status.preComputation == 0 { fpuPop() }
        raiseX87(r.exceptions)
    }

    /// FTST: ST(0) compared with +0.0.
    private func test() {
        if isEmpty(0) { compareUnderflow(pops: 0); return }
        let r = ExtendedArithmetic.compare(st(0), .zero(negative: false), quietNaNIsInvalid: true, fpuControl)
        finishCompare(r.order, r.exceptions, pops: 0)
    }

    /// FXAM: the class of ST(0) in C3 C2 C0, its sign in C1. Never raises.
    private func examine() {
        let v = st(0)
        let c3 = X87Status.c3, c2 = X87Status.c2, c0 = X87Status.c0
        let codes: UInt16
        if isEmpty(0) {
            codes = c3 | c0
        } else if v.isUnsupported {
            codes = 0
        } else if v.isNaN {
            codes = c0
        } else if v.isInfinity {
            codes = c2 | c0
        } else if v.isZero {
            codes = c3
        } else if v.isDenormal {
            codes = c3 | c2
        } else {
            codes = c2
        }
        setConditionCodes(codes | (v.isNegative ? X87Status.c1 : 0), mask: X87Status.conditionCodes)
    }

    // MARK: - Sign, scale, extract, remainder

    /// FCHS/FABS act on the sign bit alone, NaNs included.
    private func changeSign(absolute: Bool) {
        if isEmpty(0) { fpuStackUnderflow(destination: 0); return }
        let v = st(0)
        setST(0, absolute ? v.magnitude : v.negated)
        setConditionCodes(0, mask: X87Status.c1)
    }

    private func scale() {
        if isEmpty(0) || isEmpty(1) { fpuStackUnderflow(destination: 0); return }
        completeArithmetic(ExtendedArithmetic.scale(st(0), st(1), fpuControl), destination: 0)
    }

    /// FXTRACT: ST(0) ← exponent, then push the significand (with the
    /// sign, exponent 0). ±0: #Z, exponent −∞.
    private func extract() {
        if isEmpty(0) || pushWouldOverflow {
            let overflow = !isEmpty(0)
            setConditionCodes(overflow ? X87Status.c1 : 0, mask: X87Status.c1)
            if fpuControl.masks(X87Status.invalid) {
                setST(0, .indefinite)
                fpuPush(.indefinite)
            }
            raiseX87(X87Status.invalid | X87Status.stackFault)
            return
        }
        let c = fpuControl
        let x = st(0)
        let exponent: ExtendedReal, significand: ExtendedReal
        var flags: UInt16 = 0
        if x.isNaNOrUnsupported {
            let r = ExtendedArithmetic.propagateNaN(x)
            (exponent, significand, flags) = (r.value, r.value, r.exceptions)
        } else if x.isZero {
            flags = X87Status.zeroDivide
            (exponent, significand) = (.infinity(negative: true), x)
        } else if x.isInfinity {
            (exponent, significand) = (.infinity(negative: false), x)
        } else {
            if x.isDenormal { flags = X87Status.denormal }
            let u = x.unpacked
            exponent = .integer(Int64(u.exponent))
            significand = ExtendedReal(significand: u.significand, signExponent: (x.isNegative ? 0x8000 : 0) | 0x3FFF)
        }
        if c.unmasked(flags) & X87Status.preComputation == 0 {
            setST(0, exponent)
            fpuPush(significand)
        }
        setConditionCodes(0, mask: X87Status.c1)
        raiseX87(flags)
    }

    /// FPREM/FPREM1: when complete, C2 = 0 and C0, C3, C1 receive quotient
    /// bits 2, 1, 0; while incomplete, C2 = 1 and the others read 0, as
    /// the hardware leaves them. A stack underflow or a suppressed result
    /// clears all four, as the reference host does.
    private func partialRemainder(ieee: Bool) {
        if isEmpty(0) || isEmpty(1) {
            setConditionCodes(0, mask: X87Status.conditionCodes)
            fpuStackUnderflow(destination: 0)
            return
        }
        let r = ExtendedArithmetic.remainder(st(0), st(1), roundToNearest: ieee, fpuControl)
        setConditionCodes(0, mask: X87Status.conditionCodes)
        if fpuControl.unmasked(r.outcome.exceptions) & X87Status.preComputation == 0 {
            setST(0, r.outcome.value)
            let q = r.complete ? r.quotient : 0
            var codes: UInt16 = r.complete ? 0 : X87Status.c2
            if q & 4 != 0 { codes |= X87Status.c0 }
            if q & 2 != 0 { codes |= X87Status.c3 }
            if q & 1 != 0 { codes |= X87Status.c1 }
            setConditionCodes(codes, mask: X87Status.conditionCodes)
        }
        raiseX87(r.outcome.exceptions)
    }
}
