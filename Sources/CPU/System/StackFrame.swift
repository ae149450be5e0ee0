/// Building the frame of a far CALL, an interrupt or a task-switch error
/// code on a stack *before* it becomes SS:ESP.
///
/// The architecture makes these transfers all-or-nothing: if a push
/// faults, the registers must still hold the state before the
/// instruction or event. So pushes go through this cursor — a copy of the
/// target stack's descriptor cache and stack pointer — and the caller
/// commits SS, ESP, CS and EIP only after the last push has succeeded.
struct StackFrame {
    let stack: SegmentDescriptorCache
    /// The full ESP; a 16-bit stack (B = 0) moves only its low 16 bits.
    private(set) var stackPointer: UInt32
    /// Paging rights of the writes: a user access only for a CPL-3 stack.
    let access: MemoryAccess
    /// What a push past the limit raises: #SS(0) on the current stack,
    /// #SS(new SS selector) on an inner stack.
    let limitFault: CPUFault

    init(stack: SegmentDescriptorCache, stackPointer: UInt32, privilege: UInt8, limitFault: CPUFault) {
        self.stack = stack
        self.stackPointer = stackPointer
        self.access = MemoryAccess(write: true, user: privilege == 3)
        self.limitFault = limitFault
    }

    /// Pushes `size` (2 or 4) bytes of `value`.
    mutating func push(_ value: UInt32, size: Int, on cpu: CPU) throws(CPUFault) {
        let sp: UInt32
        let offset: UInt32
        if stack.is32Bit {
            sp = stackPointer &- UInt32(size)
            offset = sp
        } else {
            offset = (stackPointer &- UInt32(size)) & 0xFFFF
            sp = (stackPointer & 0xFFFF_0000) | offset
        }
        guard stack.contains(offset, size: size) else { throw limitFault }
        try cpu.writeLinear(UInt32(truncatingIfNeeded: stack.base) &+ offset, size: size, value: value, access)
        stackPointer = sp
    }

    /// Makes this stack SS:ESP.
    func commit(to cpu: CPU) {
        cpu.segment(.ss).pointee = stack
        cpu.setReg32(4, stackPointer)
    }
}

extension CPU {
    /// A frame on the current stack (same privilege level).
    func currentStackFrame() -> StackFrame {
        StackFrame(stack: segment(.ss).pointee, stackPointer: reg32(4), privilege: cpl, limitFault: .stackFault(0))
    }

    /// Pops done by RETF/IRET read the stack without moving ESP until the
    /// whole return has been checked; this moves it by `bytes` at the end.
    func releaseStack(_ bytes: UInt32) {
        stackPointer = stackPointer &+ bytes
    }
}
