/// x87 data transfer: FLD/FST/FSTP (m32fp, m64fp, m80fp, ST(i)), FILD/
/// FIST/FISTP (m16int, m32int, m64int), FBLD/FBSTP (m80bcd), FXCH,
/// FCMOVcc and the constant loads (SDM vol. 1, 8.3.3–8.3.4; vol. 2).
///
/// Each instruction reads its memory operand before touching the FPU
/// and writes its memory operand before committing status and stack
/// changes, so a page fault restarts it cleanly.
extension CPU {
    func executeX87LoadStore(_ i: Instruction) throws(CPUFault) {
        switch i.op {
        case .fld: try loadReal(i)
        case .fst: try storeReal(i, pop: false)
        case .fstp: try storeReal(i, pop: true)
        case .fild: try loadInteger(i)
        case .fist: try storeInteger(i, pop: false)
        case .fistp: try storeInteger(i, pop: true)
        case .fbld: try loadBCD(i)
        case .fbstp: try storeBCD(i)
        case .fxch: exchange(x87StackRegister(i))
        case .fcmov: conditionalMove(x87StackRegister(i), condition: i.condition)
        default: loadConstant(i.op)
        }
    }

    /// Pushes a loaded value, unless the push overflows or an unmasked #IA
    /// (an SNaN source) forbids it; an unmasked #D does not (the P6 loads
    /// the denormal and reports it). C1 = 0 (1 on overflow).
    private func pushLoaded(_ value: ExtendedReal, exceptions: UInt16 = 0) {
        if pushWouldOverflow { fpuStackOverflow(); return }
        setConditionCodes(0, mask: X87Status.c1)
        if fpuControl.unmasked(exceptions) & X87Status.invalid == 0 { fpuPush(value) }
        raiseX87(exceptions)
    }

    // MARK: - FLD / FST / FSTP

    private func loadReal(_ i: Instruction) throws(CPUFault) {
        guard let m = x87MemoryOperand(i) else {
            let source = x87StackRegister(i)
            if pushWouldOverflow { fpuStackOverflow(); return }
            if isEmpty(source) {
                setConditionCodes(0, mask: X87Status.c1)
                if fpuControl.masks(X87Status.invalid) { fpuPush(.indefinite) }
                raiseX87(X87Status.invalid | X87Status.stackFault)
                return
            }
            pushLoaded(st(source))
            return
        }
        let offset = memoryOffset(m, i)
        if m.size == 10 {
            // m80fp is copied as it is: no #IA for SNaNs, no #D.
            let raw = try readX87Memory80(i.segment, offset)
            pushLoaded(ExtendedReal(significand: raw.low, signExponent: raw.high))
            return
        }
        let (value, denormal) = m.size == 8
            ? X87Conversions.extended(double: try readX87Memory64(i.segment, offset))
            : X87Conversions.extended(single: try read(i.segment, offset, size: 4))
        if value.isSignalingNaN {
            pushLoaded(value.quieted, exceptions: X87Status.invalid)
        } else {
            pushLoaded(value, exceptions: denormal ? X87Status.denormal : 0)
        }
    }

    private func storeReal(_ i: Instruction, pop: Bool) throws(CPUFault) {
        guard let m = x87MemoryOperand(i) else {
            let destination = x87StackRegister(i)
            if isEmpty(0) { fpuStackUnderflow(destination: destination, pops: pop ? 1 : 0); return }
            setST(destination, st(0))
            setConditionCodes(0, mask: X87Status.c1)
            if pop { fpuPop() }
            return
        }
        let offset = memoryOffset(m, i)
        // The destination's segment and page checks come before anything
        // the value decides, even when an unmasked exception then
        // suppresses the store.
        try probeWrite(i.segment, offset, size: Int(m.size))
        let c = fpuControl
        if isEmpty(0) {
            // Masked: the destination format's indefinite is stored.
            if c.masks(X87Status.invalid) {
                switch m.size {
                case 4: try write(i.segment, offset, size: 4, value: 0xFFC0_0000)
                case 8: try writeX87Memory64(i.segment, offset, 0xFFF8_0000_0000_0000)
                default: try writeX87Memory80(i.segment, offset, low: ExtendedReal.indefinite.significand,
                                              high: ExtendedReal.indefinite.signExponent)
                }
            }
            fpuStackUnderflow(destination: nil, pops: pop ? 1 : 0)
            return
        }
        let value = st(0)
        var exceptions: UInt16 = 0
        var roundedUp = false
        var stores = true
        switch m.size {
        case 4:
            let r = X87Conversions.single(value, c)
            (exceptions, roundedUp) = (r.exceptions, r.roundedUp)
            stores = c.unmasked(exceptions) & X87Status.blocksMemoryStore == 0
            if stores { try write(i.segment, offset, size: 4, value: r.bits) }
        case 8:
            let r = X87Conversions.double(value, c)
            (exceptions, roundedUp) = (r.exceptions, r.roundedUp)
            stores = c.unmasked(exceptions) & X87Status.blocksMemoryStore == 0
            if stores { try writeX87Memory64(i.segment, offset, r.bits) }
        default:
            try writeX87Memory80(i.segment, offset, low: value.significand, high: value.signExponent)
        }
        // An unmasked exception leaves memory and the stack as they were;
        // nothing was rounded, so no #P and C1 = 0.
        if !stores {
            exceptions &= ~X87Status.precision
            roundedUp = false
        }
        setRoundedUp(roundedUp)
        if pop && stores { fpuPop() }
        raiseX87(exceptions)
    }

    // MARK: - FILD / FIST / FISTP

    private func loadInteger(_ i: Instruction) throws(CPUFault) {
        guard let m = x87MemoryOperand(i) else { throw .invalidOpcode }
        let size = Int(m.size)
        let raw = try readX87Memory(i.segment, memoryOffset(m, i), size: size)
        let shift = UInt64(64 - 8 * size)
        pushLoaded(.integer(Int64(bitPattern: raw << shift) >> shift))
    }

    private func storeInteger(_ i: Instruction, pop: Bool) throws(CPUFault) {
        guard let m = x87MemoryOperand(i) else { throw .invalidOpcode }
        let size = Int(m.size)
        let offset = memoryOffset(m, i)
        try probeWrite(i.segment, offset, size: size) // checked even if the store is suppressed
        let c = fpuControl
        let indefinite = X87Conversions.integerIndefinite(size: size)
        if isEmpty(0) {
            if c.masks(X87Status.invalid) { try writeX87Memory(i.segment, offset, size: size, indefinite) }
            fpuStackUnderflow(destination: nil, pops: pop ? 1 : 0)
            return
        }
        let limit = indefinite - 1
        let r = ExtendedArithmetic.toInteger(st(0), limit: limit, negativeLimit: indefinite, c)
        if let value = r.value {
            try writeX87Memory(i.segment, offset, size: size, UInt64(bitPattern: value))
        } else if c.masks(X87Status.invalid) {
            try writeX87Memory(i.segment, offset, size: size, indefinite)
        }
        setRoundedUp(r.roundedUp)
        if pop && c.unmasked(r.exceptions) & X87Status.blocksMemoryStore == 0 { fpuPop() }
        raiseX87(r.exceptions)
    }

    // MARK: - FBLD / FBSTP

    private func loadBCD(_ i: Instruction) throws(CPUFault) {
        guard let m = x87MemoryOperand(i) else { throw .invalidOpcode }
        let raw = try readX87Memory80(i.segment, memoryOffset(m, i))
        pushLoaded(X87Conversions.extended(bcd: raw.low, high: raw.high))
    }

    private func storeBCD(_ i: Instruction) throws(CPUFault) {
        guard let m = x87MemoryOperand(i) else { throw .invalidOpcode }
        let offset = memoryOffset(m, i)
        try probeWrite(i.segment, offset, size: 10) // checked even if the store is suppressed
        let c = fpuControl
        let indefinite = X87Conversions.bcdIndefinite
        if isEmpty(0) {
            if c.masks(X87Status.invalid) {
                try writeX87Memory80(i.segment, offset, low: indefinite.low, high: indefinite.high)
            }
            fpuStackUnderflow(destination: nil, pops: 1)
            return
        }
        let value = st(0)
        let r = ExtendedArithmetic.toInteger(value, limit: X87Conversions.bcdLimit,
                                             negativeLimit: X87Conversions.bcdLimit, c)
        if let v = r.value {
            // The sign of a zero result is kept (−0 stores sign byte 80h).
            let packed = X87Conversions.bcd(magnitude: v.magnitude, negative: value.isNegative)
            try writeX87Memory80(i.segment, offset, low: packed.low, high: packed.high)
        } else if c.masks(X87Status.invalid) {
            try writeX87Memory80(i.segment, offset, low: indefinite.low, high: indefinite.high)
        }
        setRoundedUp(r.roundedUp)
        if c.unmasked(r.exceptions) & X87Status.blocksMemoryStore == 0 { fpuPop() }
        raiseX87(r.exceptions)
    }

    // MARK: - FXCH / FCMOVcc

    private func exchange(_ other: Int) {
        if isEmpty(0) || isEmpty(other) {
            // Masked: empty operands become the real indefinite, then swap.
            setConditionCodes(0, mask: X87Status.c1)
            if fpuControl.masks(X87Status.invalid) {
                if isEmpty(0) { setST(0, .indefinite) }
                if isEmpty(other) { setST(other, .indefinite) }
                swapStackRegisters(other)
            }
            raiseX87(X87Status.invalid | X87Status.stackFault)
            return
        }
        swapStackRegisters(other)
        setConditionCodes(0, mask: X87Status.c1)
    }

    private func swapStackRegisters(_ other: Int) {
        let top = st(0)
        setST(0, st(other))
        setST(other, top)
    }

    /// FCMOVcc ST(0), ST(i). The P6 reads both registers whatever the
    /// condition, so an empty one is a stack underflow either way; the
    /// masked response loads the real indefinite into ST(0). Otherwise
    /// C1 is left as it was (the SDM's "C1 set to 0" is only for underflow;
    /// the reference host keeps it).
    private func conditionalMove(_ source: Int, condition: UInt8) {
        if isEmpty(0) || isEmpty(source) { fpuStackUnderflow(destination: 0); return }
        if conditionHolds(condition) { setST(0, st(source)) }
    }

    // MARK: - Constants

    /// FLD1 … FLDZ. The FPU holds π, log2 10, log2 e, log10 2 and ln 2 to
    /// more than 64 bits and rounds them under RC (SDM vol. 1, 8.3.8). None
    /// of their tails is exactly one half, so the 64-bit truncation plus
    /// "nearest rounds up" decides every mode; all are positive, so
    /// rounding up means +1 ulp and down/toward zero means the truncation.
    private func loadConstant(_ op: Op) {
        let constant: (signExponent: UInt16, truncated: UInt64, nearestRoundsUp: Bool)
        switch op {
        case .fld1: constant = (0x3FFF, 0x8000_0000_0000_0000, false)
        case .fldz: constant = (0, 0, false)
        case .fldpi: constant = (0x4000, 0xC90F_DAA2_2168_C234, true)   // …C4C6 628B…
        case .fldl2t: constant = (0x4000, 0xD49A_784B_CD1B_8AFE, false) // …492B F6FF…
        case .fldl2e: constant = (0x3FFF, 0xB8AA_3B29_5C17_F0BB, true)  // …BE87 FED0…
        case .fldlg2: constant = (0x3FFD, 0x9A20_9A84_FBCF_F798, true)  // …8F89 59AC…
        default: constant = (0x3FFE, 0xB172_17F7_D1CF_79AB, true)       // FLDLN2 …C9E3 B398…
        }
        let exact = op == .fld1 || op == .fldz
        let up: Bool
        switch fpuControl.rounding {
        case .nearestEven: up = constant.nearestRoundsUp
        case .up: up = !exact
        case .down, .towardZero: up = false
        }
        pushLoaded(ExtendedReal(significand: constant.truncated + (up ? 1 : 0), signExponent: constant.signExponent))
    }
}
