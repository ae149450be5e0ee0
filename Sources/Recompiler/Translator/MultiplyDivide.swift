import CPU

/// MUL, IMUL (one operand), DIV and IDIV: the double-width forms. The
/// host computes them in 64-bit registers, which hold every 32×32 product
/// and every dividend; a division first rules out what would make the host
/// itself raise #DE (a zero divisor, a quotient that does not fit, and the
/// one 64-bit overflow, −2^63 ÷ −1), raising the guest's #DE through a
/// helper before any register changes.
extension BlockTranslator {
    /// One-operand MUL and IMUL: the double-width product of the
    /// accumulator and r/m, formed in a 64-bit host register (which holds
    /// every 32×32 product), to AX, DX:AX or EDX:EAX. CF = OF = the high
    /// half carries significance (MUL: it is not 0; IMUL: it is not the low
    /// half's sign extension); SF, ZF and PF follow the reference: from the
    /// low half, with AF = 0 — a TEST of the low half gives exactly those.
    mutating func translateWideMultiply(_ i: Instruction, eip: UInt32) -> Bool {
        let o = i.operands.0
        guard isPlain(o), o.kind != .immediate else { return false }
        let size = Int(o.size), signed = i.op == .imul
        loadRegisterOrMemory(i, o, eip: eip)
        emit.movReg32(.rcx, .rax)
        loadGuestRegister(0, size: size, into: .rax)
        if signed {
            emit.signExtend64(size: size, .rcx, .rcx)
            emit.signExtend64(size: size, .rax, .rax)
        }
        emit.multiply64(.rax, .rcx)
        emit.test(size: size, .rax, .rax)
        captureFlags(into: .r11, savingRAXIn: .r9)
        // R10 ← the high half; the significance test leaves ZF clear when it carries some.
        emit.movReg64(.r10, .rax)
        emit.shiftRight64(.r10, by: UInt8(8 * size))
        if signed {
            emit.signExtend64(size: size, .rdx, .rax)
            emit.alu64(.cmp, .rdx, .rax)
        }
        let insignificant = emit.jump(if: .zero)
        emit.alu(.or, size: 4, .r11, immediate: BlockTranslator.imageBits(EFLAGS.cf | EFLAGS.of))
        emit.bind(insignificant)
        flagsComputedInR11()
        if size == 1 {
            storeGuestRegister(0, size: 2, from: .rax)
        } else {
            emit.movReg32(.rax, .rax)
            storeGuestRegister(0, size: size, from: .rax)
            emit.movReg32(.r10, .r10)
            storeGuestRegister(2, size: size, from: .r10)
        }
        return true
    }

    /// DIV and IDIV: AX, DX:AX or EDX:EAX ÷ r/m, divided as 64-bit host
    /// integers. A zero divisor or a quotient that does not fit raises #DE
    /// (through a helper) before any register changes; the one division a
    /// 64-bit host IDIV cannot do, −2^63 ÷ −1, is a negation here (and its
    /// quotient never fits). Flags are unchanged.
    mutating func translateDivide(_ i: Instruction, eip: UInt32) -> Bool {
        let o = i.operands.0
        guard isPlain(o), o.kind != .immediate else { return false }
        let size = Int(o.size), signed = i.op == .idiv
        loadRegisterOrMemory(i, o, eip: eip)
        writeBackFlags()
        emit.movReg32(.rcx, .rax)
        if signed { emit.signExtend64(size: size, .rcx, .rcx) }
        // The dividend into RAX.
        if size == 1 {
            loadGuestRegister(0, size: 2, into: .rax)
            if signed { emit.signExtend64(size: 2, .rax, .rax) }
        } else {
            loadGuestRegister(2, size: size, into: .rdx)
            loadGuestRegister(0, size: size, into: .rax)
            emit.shiftLeft64(.rdx, by: UInt8(8 * size))
            emit.alu64(.or, .rax, .rdx)
            if signed && size == 2 { emit.signExtend64(size: 4, .rax, .rax) }
        }
        hostFlagsClobbered()
        emit.test(size: 8, .rcx, .rcx)
        let byZero = emit.jump(if: .zero)
        var tooLarge: [X86Emitter.Label] = []
        if signed {
            emit.alu64(.cmp, .rcx, immediate: -1)
            let ordinary = emit.jump(if: .notZero)
            emit.negate64(.rax)
            emit.movImm32(.rdx, 0)
            let divided = emit.jump()
            emit.bind(ordinary)
            emit.signExtendRAXIntoRDX()
            emit.divide64(signed: true, by: .rcx)
            emit.bind(divided)
            emit.signExtend64(size: size, .r10, .rax)
            emit.alu64(.cmp, .r10, .rax)
            tooLarge.append(emit.jump(if: .notZero))
        } else {
            emit.movImm32(.rdx, 0)
            emit.divide64(signed: false, by: .rcx)
            emit.movReg64(.r10, .rax)
            emit.shiftRight64(.r10, by: UInt8(8 * size))
            tooLarge.append(emit.jump(if: .notZero))
        }
        if size == 4 {
            emit.movReg32(.rax, .rax)
            emit.movReg32(.rdx, .rdx)
        }
        storeGuestRegister(0, size: size, from: .rax)
        storeGuestRegister(size == 1 ? 4 : 2, size: size, from: .rdx)
        let done = emit.jump()
        emit.bind(byZero)
        for label in tooLarge { emit.bind(label) }
        emit.movImm64(.rsi, RuntimeHelpers.fallbackDescriptor(eip: eip, retiredInBlock: retiredInBlock, length: Int(i.length), op: i.op))
        callHelper(helpers.raiseDivideError)
        emit.jump(to: settledExit)
        emit.bind(done)
        hostFlagsClobbered()
        return true
    }
}
