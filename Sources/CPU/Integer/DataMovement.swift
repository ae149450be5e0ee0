/// Data movement (SDM vol. 2): MOV (general, moffs, segment registers),
/// MOVZX, MOVSX, LEA, XCHG, XADD, CMPXCHG, CMPXCHG8B, BSWAP, CMOVcc,
/// SETcc, LAHF, SAHF, XLAT, BOUND, NOP, PAUSE, and the dispatch of the
/// stack instructions (Stack.swift).
///
/// Instructions with a memory and a register destination write memory
/// first: that write is the one that can fault, and registers must keep
/// their values when it does. Segment registers are only ever loaded
/// through `loadSegment`, which applies the rules of the current mode.
extension CPU {
    // Always inlined: SpecializedForms.swift specializes it per operand form.
    @inline(always)
    func executeDataMovement(_ i: Instruction) throws(CPUFault) {
        switch i.op {
        case .mov:
            try executeMove(i)
        case .movzx:
            try write(i.operands.0, i, try read(i.operands.1, i))
        case .movsx:
            let s = i.operands.1
            let v = UInt32(bitPattern: CPU.signExtend(try read(s, i), Int(s.size)))
            try write(i.operands.0, i, v & CPU.mask(Int(i.operands.0.size)))
        case .lea:
            // The effective address itself, no memory access; truncated to
            // the operand size when that is smaller than the address size.
            guard i.operands.1.kind == .memory else { throw .invalidOpcode }
            try write(i.operands.0, i, effectiveAddress(i))
        case .xchg:
            let a = i.operands.0, b = i.operands.1
            let va = try read(a, i), vb = try read(b, i)
            if b.kind == .register {
                try write(a, i, vb)
                try write(b, i, va)
            } else {
                try write(b, i, va)
                try write(a, i, vb)
            }
        case .xadd:
            // TEMP ← SRC + DEST; SRC ← DEST; DEST ← TEMP.
            let d = i.operands.0, s = i.operands.1
            let size = Int(d.size)
            let a = try read(d, i), b = try read(s, i)
            let sum = (a &+ b) & CPU.mask(size)
            if d.kind == .register {
                try write(s, i, a)
                try write(d, i, sum) // last, so XADD r, r leaves the sum
            } else {
                try write(d, i, sum)
                try write(s, i, a)
            }
            setAddFlags(a, b, size)
        case .cmpxchg:
            try compareExchange(i)
        case .cmpxchg8b:
            try compareExchange8Bytes(i)
        case .bswap:
            let r = i.operands.0.register
            if i.operandSize == 4 {
                setReg32(r, reg32(r).byteSwapped)
            } else {
                // Undefined in the SDM; P6 and later processors leave 0 in
                // the low word (the swap moves the zero-extended upper half
                // of a 16-bit value down).
                setReg16(r, 0)
            }
        case .cmov:
            // P6: the source is read (and may fault) whatever the condition.
            let v = try read(i.operands.1, i)
            if conditionHolds(i.condition) { try write(i.operands.0, i, v) }
        case .setcc:
            try write(i.operands.0, i, conditionHolds(i.condition) ? 1 : 0)
        case .lahf:
            // AH ← SF:ZF:0:AF:0:PF:1:CF.
            setReg8(4, UInt8(truncatingIfNeeded: state.pointee.eflags & 0xD5 | EFLAGS.fixed1))
        case .sahf:
            setFlags(UInt32(reg8(4)), mask: EFLAGS.sf | EFLAGS.zf | EFLAGS.af | EFLAGS.pf | EFLAGS.cf)
        case .xlat:
            // AL ← [seg:(E)BX + unsigned AL], DS unless overridden.
            var offset = (i.addressSize == 4 ? reg32(3) : UInt32(reg16(3))) &+ UInt32(reg8(0))
            if i.addressSize == 2 { offset &= 0xFFFF }
            setReg8(0, UInt8(try read(i.hasSegmentOverride ? i.segment : .ds, offset, size: 1)))
        case .bound:
            try checkBound(i)
        case .nop, .pause:
            break
        case .push, .pop, .pusha, .popa, .pushf, .popf, .enter, .leave:
            try executeStackOperation(i)
        default:
            throw .invalidOpcode
        }
    }

    /// MOV in all its forms except control/debug registers (System/).
    // Always inlined: SpecializedForms.swift specializes it per operand form.
    @inline(always)
    func executeMove(_ i: Instruction) throws(CPUFault) {
        let d = i.operands.0, s = i.operands.1
        if d.kind == .segment {
            // MOV Sreg, r/m16. CS cannot be loaded this way (#UD).
            guard let seg = SegmentRegister(rawValue: Int(d.register)), seg != .cs else { throw .invalidOpcode }
            let selector = s.kind == .register
                ? reg16(s.register)
                : UInt16(truncatingIfNeeded: try read(i.segment, memoryOffset(s, i), size: 2))
            try loadSegment(seg, selector)
        } else if s.kind == .segment {
            // MOV r/m, Sreg: 16 bits to memory; a 32-bit register gets the
            // selector zero-extended (P6 and later).
            guard let seg = SegmentRegister(rawValue: Int(s.register)) else { throw .invalidOpcode }
            let selector = UInt32(segment(seg).pointee.selector)
            if d.kind == .register {
                setRegister(d.register, size: Int(i.operandSize), selector)
            } else {
                try write(i.segment, memoryOffset(d, i), size: 2, value: selector)
            }
        } else {
            try write(d, i, try read(s, i))
        }
    }

    /// CMPXCHG r/m, r: compare the accumulator with the destination; equal:
    /// ZF = 1, destination ← source; else ZF = 0, accumulator ← destination.
    /// The destination is written in both cases (the P6 bus cycle writes the
    /// old value back), so a read-only destination faults either way.
    private func compareExchange(_ i: Instruction) throws(CPUFault) {
        let d = i.operands.0
        let size = Int(d.size)
        let accumulator = register(0, size: size)
        let old = try read(d, i)
        if accumulator == old {
            try write(d, i, try read(i.operands.1, i))
        } else {
            try write(d, i, old)
            setRegister(0, size: size, old)
        }
        setSubFlags(accumulator, old, size)
    }

    /// CMPXCHG8B m64: compare EDX:EAX with m64; equal: ZF = 1, m64 ←
    /// ECX:EBX; else ZF = 0, EDX:EAX ← m64 (and m64 is written back).
    /// Other flags are unchanged.
    private func compareExchange8Bytes(_ i: Instruction) throws(CPUFault) {
        guard i.operands.0.kind == .memory else { throw .invalidOpcode }
        let seg = i.segment
        let offset = effectiveAddress(i)
        let high = offset &+ 4
        try probeWrite(seg, offset, size: 8)
        let oldLow = try read(seg, offset, size: 4)
        let oldHigh = try read(seg, high, size: 4)
        if oldLow == reg32(0) && oldHigh == reg32(2) {
            try write(seg, offset, size: 4, value: reg32(3))
            try write(seg, high, size: 4, value: reg32(1))
            state.pointee.eflags |= EFLAGS.zf
        } else {
            try write(seg, offset, size: 4, value: oldLow)
            try write(seg, high, size: 4, value: oldHigh)
            setReg32(0, oldLow)
            setReg32(2, oldHigh)
            state.pointee.eflags &= ~EFLAGS.zf
        }
    }

    /// BOUND r, m: #BR unless lower ≤ r ≤ upper (signed), where the bounds
    /// are the two operand-size values at m.
    private func checkBound(_ i: Instruction) throws(CPUFault) {
        guard i.operands.1.kind == .memory else { throw .invalidOpcode }
        let size = Int(i.operandSize)
        let offset = effectiveAddress(i)
        let lower = CPU.signExtend(try read(i.segment, offset, size: size), size)
        let upper = CPU.signExtend(try read(i.segment, offset &+ UInt32(size), size: size), size)
        let index = CPU.signExtend(register(i.operands.0.register, size: size), size)
        if index < lower || index > upper { throw .boundRange }
    }
}
