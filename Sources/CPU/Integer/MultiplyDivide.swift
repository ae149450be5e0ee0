/// MUL, IMUL (one-, two- and three-operand forms) and DIV, IDIV (Intel SDM
/// vol. 2). The implicit operands are the accumulator pair of the operand
/// size: AX ← AL·src and AX ÷ src for bytes, DX:AX for words, EDX:EAX for
/// doublewords. Products are formed in 64-bit host integers, which hold
/// every 32×32 product exactly. A division whose divisor is 0 or whose
/// quotient does not fit raises #DE before any register changes.
/// Undefined flags: see Arithmetic.swift.
extension CPU {
    func executeMultiplyDivide(_ i: Instruction) throws(CPUFault) {
        switch i.op {
        case .mul: try multiplyUnsigned(i)
        case .imul:
            if i.operands.1.kind == .none {
                try multiplySignedWide(i)
            } else {
                try multiplySignedTruncating(i)
            }
        case .div: try divideUnsigned(i)
        default: try divideSigned(i)
        }
    }

    /// CF = OF = `overflow`; SF, ZF, PF from the low half; AF = 0.
    @inline(__always)
    private func setMultiplyFlags(low: UInt32, overflow: Bool, _ size: Int) {
        var f = resultFlags(low & CPU.mask(size), size)
        if overflow { f |= EFLAGS.cf | EFLAGS.of }
        setFlags(f, mask: EFLAGS.arithmetic)
    }

    /// MUL: CF = OF = 1 when the high half of the product is not zero.
    private func multiplyUnsigned(_ i: Instruction) throws(CPUFault) {
        let size = Int(i.operands.0.size)
        let src = try read(i.operands.0, i)
        switch size {
        case 1:
            let p = UInt32(reg8(0)) * src
            setReg16(0, UInt16(truncatingIfNeeded: p))
            setMultiplyFlags(low: p, overflow: p > 0xFF, size)
        case 2:
            let p = UInt32(reg16(0)) * src
            setReg16(0, UInt16(truncatingIfNeeded: p))
            setReg16(2, UInt16(truncatingIfNeeded: p >> 16))
            setMultiplyFlags(low: p, overflow: p > 0xFFFF, size)
        default:
            let p = UInt64(reg32(0)) * UInt64(src)
            setReg32(0, UInt32(truncatingIfNeeded: p))
            setReg32(2, UInt32(truncatingIfNeeded: p >> 32))
            setMultiplyFlags(low: UInt32(truncatingIfNeeded: p), overflow: p > 0xFFFF_FFFF, size)
        }
    }

    /// One-operand IMUL: the double-width product in AX, DX:AX or EDX:EAX.
    /// CF = OF = 1 when the high half is more than the sign extension of
    /// the low half.
    private func multiplySignedWide(_ i: Instruction) throws(CPUFault) {
        let size = Int(i.operands.0.size)
        let src = Int64(CPU.signExtend(try read(i.operands.0, i), size))
        let p = Int64(CPU.signExtend(register(0, size: size), size)) * src
        let low = UInt32(truncatingIfNeeded: p)
        switch size {
        case 1:
            setReg16(0, UInt16(truncatingIfNeeded: p))
        case 2:
            setReg16(0, UInt16(truncatingIfNeeded: p))
            setReg16(2, UInt16(truncatingIfNeeded: p >> 16))
        default:
            setReg32(0, low)
            setReg32(2, UInt32(truncatingIfNeeded: p >> 32))
        }
        setMultiplyFlags(low: low, overflow: p != Int64(CPU.signExtend(low, size)), size)
    }

    /// Two-operand IMUL (dest ← dest·src) and three-operand IMUL
    /// (dest ← src·imm): the product truncated to the destination; CF = OF
    /// = 1 when the truncation lost significant bits.
    private func multiplySignedTruncating(_ i: Instruction) throws(CPUFault) {
        let d = i.operands.0
        let size = Int(d.size)
        let threeOperand = i.operands.2.kind != .none
        let a = try read(threeOperand ? i.operands.1 : d, i)
        let b = try read(threeOperand ? i.operands.2 : i.operands.1, i)
        let p = Int64(CPU.signExtend(a, size)) * Int64(CPU.signExtend(b, size))
        let r = UInt32(truncatingIfNeeded: p) & CPU.mask(size)
        try write(d, i, r)
        setMultiplyFlags(low: r, overflow: p != Int64(CPU.signExtend(r, size)), size)
    }

    /// DIV: quotient to AL/AX/EAX, remainder to AH/DX/EDX. Flags unchanged.
    private func divideUnsigned(_ i: Instruction) throws(CPUFault) {
        let size = Int(i.operands.0.size)
        let divisor = try read(i.operands.0, i)
        if divisor == 0 { throw .divideError }
        switch size {
        case 1:
            let n = UInt32(reg16(0))
            let q = n / divisor
            if q > 0xFF { throw .divideError }
            setReg8(0, UInt8(q))
            setReg8(4, UInt8(n % divisor))
        case 2:
            let n = UInt32(reg16(2)) << 16 | UInt32(reg16(0))
            let q = n / divisor
            if q > 0xFFFF { throw .divideError }
            setReg16(0, UInt16(q))
            setReg16(2, UInt16(n % divisor))
        default:
            let n = UInt64(reg32(2)) << 32 | UInt64(reg32(0))
            let q = n / UInt64(divisor)
            if q > 0xFFFF_FFFF { throw .divideError }
            setReg32(0, UInt32(q))
            setReg32(2, UInt32(n % UInt64(divisor)))
        }
    }

    /// IDIV: the quotient is truncated toward zero and must lie in
    /// −2^(n−1) … 2^(n−1)−1 (so the most negative quotient is valid, as on
    /// every processor since the 80286); the remainder has the sign of the
    /// dividend. Flags unchanged.
    private func divideSigned(_ i: Instruction) throws(CPUFault) {
        let size = Int(i.operands.0.size)
        let divisor = Int64(CPU.signExtend(try read(i.operands.0, i), size))
        if divisor == 0 { throw .divideError }
        let dividend: Int64
        switch size {
        case 1: dividend = Int64(Int16(bitPattern: reg16(0)))
        case 2: dividend = Int64(Int32(bitPattern: UInt32(reg16(2)) << 16 | UInt32(reg16(0))))
        default: dividend = Int64(bitPattern: UInt64(reg32(2)) << 32 | UInt64(reg32(0)))
        }
        // Int64.min ÷ −1 is the one division that overflows a 64-bit host
        // integer; its quotient is out of range for any size anyway.
        let (q, overflow) = dividend.dividedReportingOverflow(by: divisor)
        let limit = Int64(1) << (size * 8 - 1)
        if overflow || q < -limit || q >= limit { throw .divideError }
        let r = dividend - q * divisor
        // AL/AH for bytes (register 4 at size 1 is AH), else (E)AX/(E)DX.
        setRegister(0, size: size, UInt32(truncatingIfNeeded: q))
        setRegister(size == 1 ? 4 : 2, size: size, UInt32(truncatingIfNeeded: r))
    }
}
