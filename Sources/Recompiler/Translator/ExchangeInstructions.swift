import CPU

/// XCHG, XADD and CMPXCHG. With memory, the store comes first and the
/// register written last, from a callee-saved host register that survives
/// the store's helper call, so a fault leaves the registers as they were;
/// with LOCK they are the same code (one CPU, nothing else touches guest
/// memory while a block runs).
extension BlockTranslator {
    /// XCHG r, r/m. With memory, the store comes first: a fault leaves the
    /// register as it was. The old memory value waits in R13 across the
    /// store's helper call.
    mutating func translateExchange(_ i: Instruction, eip: UInt32, next: UInt32) -> Bool {
        let a = i.operands.0, b = i.operands.1
        guard isPlain(a), isPlain(b), a.kind != .immediate, b.kind != .immediate, a.size == b.size,
              !(isMemory(a) && isMemory(b)) else { return false }
        let size = Int(a.size)
        let (memory, register) = isMemory(a) ? (a, b) : (b, a)
        guard isMemory(memory) else {
            loadGuestRegister(a.register, size: size, into: .rax)
            loadGuestRegister(b.register, size: size, into: .rcx)
            storeGuestRegister(a.register, size: size, from: .rcx)
            storeGuestRegister(b.register, size: size, from: .rax)
            return true
        }
        loadForUpdate(memory, i, size: size, eip: eip)
        emit.movReg32(.r13, .rax)
        loadGuestRegister(register.register, size: size, into: .rcx)
        emit.movReg32(.rsi, .r14)
        storeToGuest(segment: i.segment, size: size, eip: eip, next: .eip(next), readModifyWrite: false) { t in
            t.emit.movReg32(.rax, .r13)
            t.storeGuestRegister(register.register, size: size, from: .rax)
        }
        return true
    }

    /// XADD r/m, r: the destination ← the sum (with ADD's flags), the
    /// source register ← the old destination. With memory, the old value
    /// waits in R14 across the store's helper call (as in CMPXCHG) and
    /// reaches the register only after the store succeeded; with a register
    /// the sum is written last, so XADD r, r leaves the sum (the reference's
    /// order).
    mutating func translateExchangeAdd(_ i: Instruction, eip: UInt32, next: UInt32) -> Bool {
        let d = i.operands.0, source = i.operands.1
        guard isPlain(d), d.kind != .immediate, source.kind == .register, source.size == d.size else { return false }
        let size = Int(d.size)
        loadForUpdate(d, i, size: size, eip: eip)
        loadGuestRegister(source.register, size: size, into: .rcx)
        // Addition commutes, flags included: RCX ← source + old = the sum.
        emit.alu(.add, size: size, .rcx, .rax)
        flagsProduced()
        if isMemory(d) {
            emit.movReg32(.rsi, .r14)
            emit.movReg32(.r14, .rax)
            storeToGuest(segment: i.segment, size: size, eip: eip, next: .eip(next), readModifyWrite: true) { t in
                t.emit.movReg32(.rax, .r14)
                t.storeGuestRegister(source.register, size: size, from: .rax)
            }
        } else {
            storeGuestRegister(source.register, size: size, from: .rax)
            storeGuestRegister(d.register, size: size, from: .rcx)
        }
        return true
    }

    /// CMPXCHG r/m, r: the flags of accumulator − destination; equal: the
    /// destination ← the source, else the destination is written back
    /// unchanged (the reference writes either way, so a read-only page
    /// faults either way) and the accumulator ← it. With memory the new
    /// accumulator waits in R14 (the address is no longer needed once the
    /// store has it) and is written only after the store succeeded.
    mutating func translateCompareExchange(_ i: Instruction, eip: UInt32, next: UInt32) -> Bool {
        let d = i.operands.0, source = i.operands.1
        guard isPlain(d), d.kind != .immediate, source.kind == .register, source.size == d.size else { return false }
        let size = Int(d.size)
        let notEqual: UInt8 = 5
        loadForUpdate(d, i, size: size, eip: eip)
        loadGuestRegister(0, size: size, into: .rdx)
        loadGuestRegister(source.register, size: size, into: .rcx)
        emit.alu(.cmp, size: size, .rdx, .rax)
        flagsProduced()
        emit.moveIf(guestCondition: notEqual, size: 4, .rcx, .rax)
        if isMemory(d) {
            emit.moveIf(guestCondition: notEqual, size: 4, .rdx, .rax)
            emit.movReg32(.rsi, .r14)
            emit.movReg32(.r14, .rdx)
            storeToGuest(segment: i.segment, size: size, eip: eip, next: .eip(next), readModifyWrite: true) { t in
                t.emit.movReg32(.rax, .r14)
                t.storeGuestRegister(0, size: size, from: .rax)
            }
        } else {
            // The destination first: when it is the accumulator and equal, it keeps the source.
            storeGuestRegister(d.register, size: size, from: .rcx)
            let equal = emit.jump(if: .zero)
            storeGuestRegister(0, size: size, from: .rax)
            emit.bind(equal)
        }
        return true
    }
}
