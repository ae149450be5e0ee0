/// Operand access: the effective address of the memory operand, reading and
/// writing any resolved `Operand`, and the stack.
extension CPU {
    /// base + (index << scale) + displacement, truncated to the address size.
    @inline(__always)
    public func effectiveAddress(_ i: Instruction) -> UInt32 {
        var ea = i.displacement
        if i.base != Instruction.noRegister { ea &+= reg32(i.base) }
        // The scale is 0…3: a plain shift, without Swift's over-shift check.
        if i.index != Instruction.noRegister { ea &+= reg32(i.index) &<< UInt32(i.scale) }
        return i.addressSize == 2 ? ea & 0xFFFF : ea
    }

    /// The offset an operand of kind `.memory` or `.absolute` addresses.
    @inline(always)
    func memoryOffset(_ o: Operand, _ i: Instruction) -> UInt32 {
        o.kind == .absolute ? (i.addressSize == 2 ? i.displacement & 0xFFFF : i.displacement) : effectiveAddress(i)
    }

    // Operand access is inlined into every instruction (`@inline(always)`:
    // Swift's heuristic inliner refuses bodies of this size): a register
    // or immediate operand then costs a load, and a memory operand the
    // fast memory path; only the rare kinds make a call. (Internal, not
    // public: a public always-inlined function would have to expose all
    // it touches.)

    /// Reads an operand, zero-extended to 32 bits.
    @inline(always)
    func read(_ o: Operand, _ i: Instruction) throws(CPUFault) -> UInt32 {
        switch o.kind {
        case .register: return register(o.register, size: Int(o.size))
        case .immediate, .relative: return i.immediate
        case .memory, .absolute: return try readData(i.segment, memoryOffset(o, i), size: Int(o.size))
        case .immediate2: return i.immediate2
        case .constant: return UInt32(o.register)
        default: return try readSegmentOperand(o)
        }
    }

    /// A segment register's selector (the rare kind, out of line).
    @inline(never)
    func readSegmentOperand(_ o: Operand) throws(CPUFault) -> UInt32 {
        guard o.kind == .segment, let seg = SegmentRegister(rawValue: Int(o.register)) else { throw .invalidOpcode }
        return UInt32(segment(seg).pointee.selector)
    }

    /// Writes an operand (register, memory). Segment, control and debug
    /// register writes have side effects and go through their instructions.
    @inline(always)
    func write(_ o: Operand, _ i: Instruction, _ value: UInt32) throws(CPUFault) {
        switch o.kind {
        case .register: setRegister(o.register, size: Int(o.size), value)
        case .memory, .absolute: try writeData(i.segment, memoryOffset(o, i), size: Int(o.size), value: value)
        default: throw .invalidOpcode
        }
    }

    // MARK: - The stack

    /// SS's B bit selects ESP (32-bit) or SP (16-bit) as the stack pointer.
    @inline(__always) var stack32: Bool { segment(.ss).pointee.is32Bit }

    @inline(__always) public var stackPointer: UInt32 {
        get { stack32 ? reg32(4) : UInt32(reg16(4)) }
        set { if stack32 { setReg32(4, newValue) } else { setReg16(4, UInt16(truncatingIfNeeded: newValue)) } }
    }

    /// Pushes `size` bytes (2 or 4). The write happens before ESP changes,
    /// so a fault leaves ESP as it was.
    @inline(__always)
    public func push(_ value: UInt32, size: Int) throws(CPUFault) {
        let sp = stackPointer &- UInt32(size)
        let offset = stack32 ? sp : sp & 0xFFFF
        try write(.ss, offset, size: size, value: value)
        stackPointer = sp
    }

    @inline(__always)
    public func pop(size: Int) throws(CPUFault) -> UInt32 {
        let sp = stackPointer
        let v = try read(.ss, sp, size: size)
        stackPointer = sp &+ UInt32(size)
        return v
    }

    /// Reads the stack `depth` bytes above ESP without popping.
    public func peekStack(_ depth: UInt32, size: Int) throws(CPUFault) -> UInt32 {
        let sp = stackPointer &+ depth
        return try read(.ss, stack32 ? sp : sp & 0xFFFF, size: size)
    }
}
