/// Entry point of the x87 instruction set (and WAIT, FXSAVE, FXRSTOR):
/// the checks every x87 instruction makes before its own work, in the
/// order the P6 makes them, then dispatch to the family that gives it its
/// semantics:
/// - X87LoadStore.swift: loads, stores, conversions, exchanges, constants
/// - X87Arithmetic.swift: the basic arithmetic, compares, FSQRT, FSCALE,
///   FRNDINT, FXTRACT, FPREM/FPREM1, FCHS/FABS, FXAM
/// - X87Transcendental.swift: F2XM1, FYL2X(P1), FPTAN, FPATAN, FSIN, FCOS,
///   FSINCOS
/// - X87Environment.swift: control/status words, environment and state
///   save/restore, tag and stack-pointer management
///
/// Order: #NM (CR0.EM/TS) first; then, for waiting instructions, a pending
/// unmasked exception (#MF or the MS-DOS freeze); then the last-instruction
/// pointers (FIP/FCS, FOP, FDP/FDS) are recorded for non-control
/// instructions, so an #MF handler sees the instruction that caused it.
extension CPU {
    func executeX87(_ i: Instruction) throws(CPUFault) {
        try checkFPUAvailable(i.op)
        switch i.op {
        case .fninit, .fnclex, .fnstcw, .fnstsw, .fnstenv, .fnsave, .fxsave, .fxrstor,
             .fneni, .fndisi, .fnsetpm:
            try executeX87Environment(i) // non-waiting
            return
        default:
            break
        }
        guard try handlePendingX87Exception() else { return }
        switch i.op {
        case .wait:
            return
        case .fldcw, .fldenv, .frstor:
            try executeX87Environment(i) // waiting, but control: pointers kept
            return
        default:
            break
        }
        recordLastInstruction(i)
        switch i.op {
        case .fld, .fst, .fstp, .fild, .fist, .fistp, .fbld, .fbstp, .fxch, .fcmov,
             .fld1, .fldl2t, .fldl2e, .fldpi, .fldlg2, .fldln2, .fldz:
            try executeX87LoadStore(i)
        case .f2xm1, .fyl2x, .fyl2xp1, .fptan, .fpatan, .fsin, .fcos, .fsincos:
            executeX87Transcendental(i)
        case .ffree, .ffreep, .fdecstp, .fincstp, .fnop:
            try executeX87Environment(i)
        default:
            try executeX87Arithmetic(i)
        }
    }

    /// FOP, FIP/FCS and (for memory operands) FDP/FDS of the last
    /// non-control instruction (SDM vol. 1, 8.1.8–8.1.9). FIP points at the
    /// first prefix byte.
    func recordLastInstruction(_ i: Instruction) {
        fpuOpcode = (i.opcode & 7) << 8 | UInt16(i.modrm)
        fpuInstructionOffset = currentEIP
        fpuInstructionSelector = segment(.cs).pointee.selector
        if let m = x87MemoryOperand(i) {
            fpuDataOffset = memoryOffset(m, i)
            fpuDataSelector = segment(i.segment).pointee.selector
        }
    }

    // MARK: - Operands

    /// The instruction's memory operand, if it has one.
    func x87MemoryOperand(_ i: Instruction) -> Operand? {
        let (a, b) = (i.operands.0, i.operands.1)
        if a.kind == .memory || a.kind == .absolute { return a }
        if b.kind == .memory || b.kind == .absolute { return b }
        return nil
    }

    /// The ST(i) numbers of a register form: (destination, source). One
    /// operand means ST(0) with ST(i); none means ST(0), ST(1) — or, for
    /// the popping forms, ST(1), ST(0).
    func x87StackOperands(_ i: Instruction, popping: Bool = false) -> (destination: Int, source: Int) {
        let (a, b) = (i.operands.0, i.operands.1)
        if a.kind == .fpuStack && b.kind == .fpuStack { return (Int(a.register & 7), Int(b.register & 7)) }
        if a.kind == .fpuStack { return popping ? (Int(a.register & 7), 0) : (0, Int(a.register & 7)) }
        return popping ? (1, 0) : (0, 1)
    }

    /// The ST(i) a one-register instruction names (FLD/FST/FXCH/FFREE/
    /// FCOM/FUCOMI…): the operand other than ST(0), or `fallback`.
    func x87StackRegister(_ i: Instruction, fallback: Int = 1) -> Int {
        let (a, b) = (i.operands.0, i.operands.1)
        if b.kind == .fpuStack { return Int(b.register & 7) }
        if a.kind == .fpuStack { return Int(a.register & 7) }
        return fallback
    }

    // MARK: - Memory operands wider than four bytes

    func readX87Memory64(_ seg: SegmentRegister, _ offset: UInt32) throws(CPUFault) -> UInt64 {
        _ = try linearAddress(seg, offset, size: 8, write: false)
        let low = try read(seg, offset, size: 4)
        let high = try read(seg, offset &+ 4, size: 4)
        return UInt64(high) << 32 | UInt64(low)
    }

    /// An m80 (extended real or packed BCD): the low eight bytes and the
    /// top two.
    func readX87Memory80(_ seg: SegmentRegister, _ offset: UInt32) throws(CPUFault) -> (low: UInt64, high: UInt16) {
        _ = try linearAddress(seg, offset, size: 10, write: false)
        let low = try readX87Memory64(seg, offset)
        return (low, UInt16(try read(seg, offset &+ 8, size: 2)))
    }

    /// Checks the whole operand first, so a fault leaves memory unchanged.
    func writeX87Memory64(_ seg: SegmentRegister, _ offset: UInt32, _ value: UInt64) throws(CPUFault) {
        try probeWrite(seg, offset, size: 8)
        try write(seg, offset, size: 4, value: UInt32(truncatingIfNeeded: value))
        try write(seg, offset &+ 4, size: 4, value: UInt32(truncatingIfNeeded: value >> 32))
    }

    func writeX87Memory80(_ seg: SegmentRegister, _ offset: UInt32, low: UInt64, high: UInt16) throws(CPUFault) {
        try probeWrite(seg, offset, size: 10)
        try writeX87Memory64(seg, offset, low)
        try write(seg, offset &+ 8, size: 2, value: UInt32(high))
    }

    /// Reads a memory operand of `size` bytes (2, 4 or 8).
    func readX87Memory(_ seg: SegmentRegister, _ offset: UInt32, size: Int) throws(CPUFault) -> UInt64 {
        size == 8 ? try readX87Memory64(seg, offset) : UInt64(try read(seg, offset, size: size))
    }

    func writeX87Memory(_ seg: SegmentRegister, _ offset: UInt32, size: Int, _ value: UInt64) throws(CPUFault) {
        if size == 8 {
            try writeX87Memory64(seg, offset, value)
        } else {
            try write(seg, offset, size: size, value: UInt32(truncatingIfNeeded: value))
        }
    }
}
