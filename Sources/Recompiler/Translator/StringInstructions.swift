import CPU

/// LODS, STOS, MOVS, SCAS, CMPS without a REP prefix: one element through
/// the ordinary memory paths (inline RAM or TLB hit, else the helpers),
/// then the index registers step by DF, read at run time from
/// `CPUState`. A REP form stays on the interpreter, which runs whole
/// iterations on host memory where it can and stops for interrupts and the
/// budget as the architecture allows; the block goes on after it.
extension BlockTranslator {
    /// LODS, STOS, MOVS, SCAS, CMPS: one element at DS:(E)SI (or the
    /// override) and/or ES:(E)DI, then the index registers step by the
    /// element size, down when DF is set. Every access comes before any
    /// register changes, so a fault leaves them as they were.
    mutating func translateString(_ i: Instruction, eip: UInt32, next: UInt32) {
        let size = i.opcode & 1 == 0 ? 1 : Int(i.operandSize)
        let indexSize = Int(i.addressSize)
        let source: SegmentRegister = i.hasSegmentOverride ? i.segment : .ds
        switch i.op {
        case .lods:
            loadGuestRegister(6, size: indexSize, into: .rsi)
            loadFromGuest(segment: source, size: size, eip: eip)
            storeGuestRegister(0, size: size, from: .rax)
            advanceStringIndices([6], size: size, indexSize: indexSize)
        case .stos, .movs:
            if i.op == .movs {
                loadGuestRegister(6, size: indexSize, into: .rsi)
                loadFromGuest(segment: source, size: size, eip: eip)
                emit.movReg32(.rcx, .rax)
            } else {
                loadGuestRegister(0, size: size, into: .rcx)
            }
            loadGuestRegister(7, size: indexSize, into: .rsi)
            let indices: [UInt8] = i.op == .movs ? [6, 7] : [7]
            storeToGuest(segment: .es, size: size, eip: eip, next: .eip(next), readModifyWrite: false) { t in
                t.advanceStringIndices(indices, size: size, indexSize: indexSize)
            }
        default: // SCAS, CMPS: the flags of a compare, first operand − ES:[(E)DI]
            if i.op == .cmps {
                loadGuestRegister(6, size: indexSize, into: .rsi)
                loadFromGuest(segment: source, size: size, eip: eip)
                emit.movReg32(.r13, .rax)
            }
            loadGuestRegister(7, size: indexSize, into: .rsi)
            loadFromGuest(segment: .es, size: size, eip: eip)
            emit.movReg32(.rcx, .rax)
            advanceStringIndices(i.op == .cmps ? [6, 7] : [7], size: size, indexSize: indexSize)
            if i.op == .cmps {
                emit.movReg32(.rax, .r13)
            } else {
                loadGuestRegister(0, size: size, into: .rax)
            }
            emit.alu(.cmp, size: size, .rax, .rcx)
            flagsProduced()
        }
    }

    /// (E)SI and/or (E)DI += ±`size` (− when DF is set), wrapped to the
    /// address size. Clobbers RAX, RDX and the host flags (the guest's
    /// must already be in `CPUState`).
    mutating func advanceStringIndices(_ registers: [UInt8], size: Int, indexSize: Int) {
        // EDX ← DF ? −1 : 1.
        emit.movLoad(size: 4, .rdx, base: .rbx, BlockTranslator.eflagsOffset)
        emit.shiftRight32(.rdx, by: 10)
        emit.alu(.and, size: 4, .rdx, immediate: 1)
        emit.complement(negate: true, size: 4, .rdx)
        emit.alu(.or, size: 4, .rdx, immediate: 1)
        for r in registers {
            loadGuestRegister(r, size: indexSize, into: .rax)
            emit.lea32(.rax, base: .rax, index: .rdx, scale: UInt8(size.trailingZeroBitCount), 0)
            storeGuestRegister(r, size: indexSize, from: .rax)
        }
        hostFlagsClobbered()
    }
}
