/// Specialized forms: how the block loop runs the instructions programs
/// execute most without paying for the generality of their semantics.
///
/// The semantic functions (Integer/) take any `Instruction` and ask at run
/// time what each operand is (register, memory, immediate) and how wide;
/// those questions cost more than an ALU operation itself. A form names
/// the answers — "binary ALU, register ← memory, 32 bits" — and a block
/// tags each decoded instruction with its form (`form(of:)`) once. The
/// block loop then calls the form's `handler`, which calls the same
/// semantic function the generic path calls, on the instruction with its
/// form restated as constants (`restating`). Those functions are inlined
/// there (`@inline(always)`), so the compiler folds the operand-kind and
/// size switches away and each handler becomes straight-line code.
///
/// So the semantics still live in one place: a form adds no behaviour,
/// it only tells the compiler facts that `form(of:)` checked. Anything
/// without a form runs through the generic `execute`.
enum SpecializedForm: UInt8 {
    case generic

    // Two-operand forms, each in 32, 16 and 8 bits (see `shapeBase`):
    // destination ← destination OP source, R = register, M = memory,
    // I = immediate.
    case aluRR4, aluRR2, aluRR1, aluRI4, aluRI2, aluRI1, aluRM4, aluRM2, aluRM1,
         aluMR4, aluMR2, aluMR1, aluMI4, aluMI2, aluMI1
    case movRR4, movRR2, movRR1, movRI4, movRI2, movRI1, movRM4, movRM2, movRM1,
         movMR4, movMR2, movMR1, movMI4, movMI2, movMI1
    /// The commonest of them, 32-bit with a register destination, with
    /// the operation known too (see `commonOperations`): they run without
    /// the switch on the operation.
    case addRR4, addRI4, addRM4, orRR4, orRI4, orRM4, andRR4, andRI4, andRM4,
         subRR4, subRI4, subRM4, xorRR4, xorRI4, xorRM4, cmpRR4, cmpRI4, cmpRM4

    // One-operand forms in 32, 16 and 8 bits.
    case incDecR4, incDecR2, incDecR1, incDecM4, incDecM2, incDecM1
    /// Shifts and rotates of a register by an immediate count, by the
    /// implied 1, by CL.
    case shiftRI4, shiftRI2, shiftRI1, shiftR14, shiftR12, shiftR11, shiftRC4, shiftRC2, shiftRC1
    /// The commonest of them, 32-bit by an immediate, with the operation
    /// known (see `commonShifts`).
    case shlRI4, shrRI4, sarRI4

    // Near control transfers and the stack, by operand size (32, 16).
    case jcc2, jmp4, jmp2, call4, call2, ret4, ret2
    /// Jcc with a 32-bit operand size by condition code, in condition-code
    /// order (0 = O … 15 = G): the flag test is known too.
    case jo4, jno4, jb4, jae4, je4, jne4, jbe4, ja4, js4, jns4, jp4, jnp4, jl4, jge4, jle4, jg4
    /// Indirect JMP/CALL through a register or memory; RET imm16.
    case jmpR4, jmpR2, jmpM4, jmpM2, callR4, callR2, callM4, callM2, retI4, retI2
    case pushR4, pushR2, popR4, popR2, pushI4, pushI2, pushM4, pushM2, leave4, leave2
    /// LEA r32/r16, m.
    case lea4, lea2

    /// What the block loop must re-check after an instruction of this form
    /// (`BoundaryChecks`).
    /// A form's data accesses (memory operands, the stack) go through
    /// `read`/`write`, whose fast path changes nothing the loop checks and
    /// whose full path raises `boundaryAttention`; so forms need no check.
    var boundaryChecks: BoundaryChecks {
        self == .generic ? [.instructionPointer, .interruptShadow, .memoryAccess, .machineState] : []
    }

    /// The operations of the per-operation ALU forms, in their order.
    private static let commonOperations: [Op] = [.add, .or, .and, .sub, .xor, .cmp]
    /// The operations of the per-operation shift forms, in their order.
    private static let commonShifts: [Op] = [.shl, .shr, .sar]

    /// Offsets of the shapes within a two-operand family (× 3 sizes).
    private static let shapeBase: [(Operand.Kind, Operand.Kind)] = [
        (.register, .register), (.register, .immediate), (.register, .memory),
        (.memory, .register), (.memory, .immediate),
    ]

    /// 0, 1, 2 for sizes 4, 2, 1 (nil for other sizes).
    private static func sizeIndex(_ size: UInt8) -> UInt8? {
        switch size {
        case 4: return 0
        case 2: return 1
        case 1: return 2
        default: return nil
        }
    }

    /// The form of a decoded instruction: the most specific one whose
    /// facts hold, else `.generic`.
    static func form(of i: Instruction) -> SpecializedForm {
        let d = i.operands.0, s = i.operands.1
        switch i.op {
        case .add, .or, .adc, .sbb, .and, .sub, .xor, .cmp, .test:
            let form = twoOperand(first: .aluRR4, d, s)
            // aluRR4, aluRI4, aluRM4 are 3 apart; their per-operation
            // forms are consecutive.
            guard form == .aluRR4 || form == .aluRI4 || form == .aluRM4,
                  let k = commonOperations.firstIndex(of: i.op) else { return form }
            return offset(.addRR4, UInt8(k) * 3 + (form.rawValue - SpecializedForm.aluRR4.rawValue) / 3)
        case .mov:
            return twoOperand(first: .movRR4, d, s)
        case .inc, .dec:
            guard let k = sizeIndex(d.size) else { return .generic }
            if d.kind == .register { return offset(.incDecR4, k) }
            if d.kind == .memory { return offset(.incDecM4, k) }
            return .generic
        case .rol, .ror, .rcl, .rcr, .shl, .shr, .sal, .sar:
            guard d.kind == .register, let k = sizeIndex(d.size) else { return .generic }
            switch s.kind {
            case .immediate:
                if k == 0, let n = commonShifts.firstIndex(of: i.op) { return offset(.shlRI4, UInt8(n)) }
                return offset(.shiftRI4, k)
            case .constant: return offset(.shiftR14, k)
            case .register: return offset(.shiftRC4, k)
            default: return .generic
            }
        case .jcc, .jmp, .call:
            guard i.operandSize == 4 || i.operandSize == 2 else { return .generic }
            let k: UInt8 = i.operandSize == 4 ? 0 : 1
            switch d.kind {
            case .relative where i.op == .jcc: return k == 0 ? offset(.jo4, i.condition & 15) : .jcc2
            case .relative: return offset(i.op == .jmp ? .jmp4 : .call4, k)
            case .register where i.op != .jcc && d.size == i.operandSize: return offset(i.op == .jmp ? .jmpR4 : .callR4, k)
            case .memory where i.op != .jcc && d.size == i.operandSize: return offset(i.op == .jmp ? .jmpM4 : .callM4, k)
            default: return .generic
            }
        case .ret:
            guard i.operandSize == 4 || i.operandSize == 2 else { return .generic }
            if d.kind == .none { return i.operandSize == 4 ? .ret4 : .ret2 }
            if d.kind == .immediate { return i.operandSize == 4 ? .retI4 : .retI2 }
            return .generic
        case .push, .pop:
            guard i.operandSize == 4 || i.operandSize == 2 else { return .generic }
            let k: UInt8 = i.operandSize == 4 ? 0 : 1
            switch d.kind {
            case .register where d.size == i.operandSize: return offset(i.op == .push ? .pushR4 : .popR4, k)
            case .immediate where i.op == .push: return offset(.pushI4, k)
            case .memory where i.op == .push && d.size == i.operandSize: return offset(.pushM4, k)
            default: return .generic
            }
        case .leave:
            guard d.kind == .none, i.operandSize == 4 || i.operandSize == 2 else { return .generic }
            return i.operandSize == 4 ? .leave4 : .leave2
        case .lea:
            guard d.kind == .register, s.kind == .memory, d.size == i.operandSize,
                  i.operandSize == 4 || i.operandSize == 2 else { return .generic }
            return i.operandSize == 4 ? .lea4 : .lea2
        default:
            return .generic
        }
    }

    /// Destination and source of the same size (an immediate's own size
    /// does not matter: it arrives extended in `immediate`).
    private static func twoOperand(first: SpecializedForm, _ d: Operand, _ s: Operand) -> SpecializedForm {
        guard let k = sizeIndex(d.size), s.kind == .immediate || s.size == d.size,
              let shape = shapeBase.firstIndex(where: { $0 == (d.kind, s.kind) }) else { return .generic }
        return offset(first, UInt8(shape) * 3 + k)
    }

    private static func offset(_ first: SpecializedForm, _ k: UInt8) -> SpecializedForm {
        SpecializedForm(rawValue: first.rawValue + k) ?? .generic
    }
}

extension Instruction {
    /// This instruction with facts its form established restated as
    /// constants: the operand kinds, and where given the op, the operand
    /// sizes, the operand size attribute and the condition code. The value is unchanged; the
    /// compiler can now see it.
    @inline(always)
    func restating(op: Op? = nil, _ destination: Operand.Kind, size: UInt8? = nil,
                   _ source: Operand.Kind? = nil, sourceSize: UInt8? = nil, operandSize: UInt8? = nil,
                   condition: UInt8? = nil) -> Instruction {
        var known = self
        if let op { known.op = op }
        if let condition { known.condition = condition }
        known.operands.0 = Operand(destination, size: size ?? operands.0.size, register: operands.0.register)
        if let source {
            known.operands.1 = Operand(source, size: sourceSize ?? operands.1.size, register: operands.1.register)
        }
        if let operandSize { known.operandSize = operandSize }
        return known
    }

    /// `restating` for a two-operand form: both operands `size` bytes,
    /// except an immediate source, whose own size the form leaves open.
    @inline(always)
    func restating(op: Op? = nil, _ destination: Operand.Kind, _ source: Operand.Kind, size: UInt8) -> Instruction {
        restating(op: op, destination, size: size, source, sourceSize: source == .immediate ? nil : size)
    }
}

/// What can have changed after an instruction, besides what every
/// boundary checks (interrupts, stop requests, a data access's full
/// path): a specialized form moves EIP only by ending its block, never
/// sets the interrupt shadow, never changes what the next fetch means
/// (CS, CPL, paging, TF, the mode), and changes code, the memory map
/// (MMIO accesses can: a device may remap memory or toggle A20) or a TLB
/// entry only through a data access's full path.
struct BoundaryChecks: OptionSet {
    let rawValue: UInt8
    /// EIP may not be at the next instruction (a REP instruction resuming).
    static let instructionPointer = BoundaryChecks(rawValue: 1)
    /// STI, MOV SS, POP SS set the shadow for one instruction.
    static let interruptShadow = BoundaryChecks(rawValue: 2)
    /// Memory may have been accessed other than through `read`/`write`:
    /// cached code, the memory map or the TLB entry of the code page may
    /// have changed.
    static let memoryAccess = BoundaryChecks(rawValue: 4)
    /// The state the next block's lookup depends on may have changed: the
    /// block loop goes through the full lookup after it.
    static let machineState = BoundaryChecks(rawValue: 8)
}

/// The code that runs one instruction of a form: a plain function pointer
/// (`@convention(thin)`: no context to retain), so the block loop calls
/// it directly. Each is its own small function, which keeps its prologue
/// small and lets Swift inline everything into it.
typealias FormHandler = @convention(thin) (CPU, UnsafePointer<DecodedBlockCache.CachedInstruction>) throws(CPUFault) -> Void

extension SpecializedForm {
    /// The handler for this form. Each reads the instruction through the
    /// pointer, so its inlined code loads only the fields it uses.
    var handler: FormHandler {
        switch self {
        case .generic: return { try $0.execute($1.pointee.instruction) }

        case .aluRR4: return { try $0.executeBinaryALU($1.pointee.instruction.restating(.register, .register, size: 4)) }
        case .aluRR2: return { try $0.executeBinaryALU($1.pointee.instruction.restating(.register, .register, size: 2)) }
        case .aluRR1: return { try $0.executeBinaryALU($1.pointee.instruction.restating(.register, .register, size: 1)) }
        case .aluRI4: return { try $0.executeBinaryALU($1.pointee.instruction.restating(.register, .immediate, size: 4)) }
        case .aluRI2: return { try $0.executeBinaryALU($1.pointee.instruction.restating(.register, .immediate, size: 2)) }
        case .aluRI1: return { try $0.executeBinaryALU($1.pointee.instruction.restating(.register, .immediate, size: 1)) }
        case .aluRM4: return { try $0.executeBinaryALU($1.pointee.instruction.restating(.register, .memory, size: 4)) }
        case .aluRM2: return { try $0.executeBinaryALU($1.pointee.instruction.restating(.register, .memory, size: 2)) }
        case .aluRM1: return { try $0.executeBinaryALU($1.pointee.instruction.restating(.register, .memory, size: 1)) }
        case .aluMR4: return { try $0.executeBinaryALU($1.pointee.instruction.restating(.memory, .register, size: 4)) }
        case .aluMR2: return { try $0.executeBinaryALU($1.pointee.instruction.restating(.memory, .register, size: 2)) }
        case .aluMR1: return { try $0.executeBinaryALU($1.pointee.instruction.restating(.memory, .register, size: 1)) }
        case .aluMI4: return { try $0.executeBinaryALU($1.pointee.instruction.restating(.memory, .immediate, size: 4)) }
        case .aluMI2: return { try $0.executeBinaryALU($1.pointee.instruction.restating(.memory, .immediate, size: 2)) }
        case .aluMI1: return { try $0.executeBinaryALU($1.pointee.instruction.restating(.memory, .immediate, size: 1)) }
        case .addRR4: return { try $0.executeBinaryALU($1.pointee.instruction.restating(op: .add, .register, .register, size: 4)) }
        case .addRI4: return { try $0.executeBinaryALU($1.pointee.instruction.restating(op: .add, .register, .immediate, size: 4)) }
        case .addRM4: return { try $0.executeBinaryALU($1.pointee.instruction.restating(op: .add, .register, .memory, size: 4)) }
        case .orRR4: return { try $0.executeBinaryALU($1.pointee.instruction.restating(op: .or, .register, .register, size: 4)) }
        case .orRI4: return { try $0.executeBinaryALU($1.pointee.instruction.restating(op: .or, .register, .immediate, size: 4)) }
        case .orRM4: return { try $0.executeBinaryALU($1.pointee.instruction.restating(op: .or, .register, .memory, size: 4)) }
        case .andRR4: return { try $0.executeBinaryALU($1.pointee.instruction.restating(op: .and, .register, .register, size: 4)) }
        case .andRI4: return { try $0.executeBinaryALU($1.pointee.instruction.restating(op: .and, .register, .immediate, size: 4)) }
        case .andRM4: return { try $0.executeBinaryALU($1.pointee.instruction.restating(op: .and, .register, .memory, size: 4)) }
        case .subRR4: return { try $0.executeBinaryALU($1.pointee.instruction.restating(op: .sub, .register, .register, size: 4)) }
        case .subRI4: return { try $0.executeBinaryALU($1.pointee.instruction.restating(op: .sub, .register, .immediate, size: 4)) }
        case .subRM4: return { try $0.executeBinaryALU($1.pointee.instruction.restating(op: .sub, .register, .memory, size: 4)) }
        case .xorRR4: return { try $0.executeBinaryALU($1.pointee.instruction.restating(op: .xor, .register, .register, size: 4)) }
        case .xorRI4: return { try $0.executeBinaryALU($1.pointee.instruction.restating(op: .xor, .register, .immediate, size: 4)) }
        case .xorRM4: return { try $0.executeBinaryALU($1.pointee.instruction.restating(op: .xor, .register, .memory, size: 4)) }
        case .cmpRR4: return { try $0.executeBinaryALU($1.pointee.instruction.restating(op: .cmp, .register, .register, size: 4)) }
        case .cmpRI4: return { try $0.executeBinaryALU($1.pointee.instruction.restating(op: .cmp, .register, .immediate, size: 4)) }
        case .cmpRM4: return { try $0.executeBinaryALU($1.pointee.instruction.restating(op: .cmp, .register, .memory, size: 4)) }

        case .movRR4: return { try $0.executeMove($1.pointee.instruction.restating(.register, .register, size: 4)) }
        case .movRR2: return { try $0.executeMove($1.pointee.instruction.restating(.register, .register, size: 2)) }
        case .movRR1: return { try $0.executeMove($1.pointee.instruction.restating(.register, .register, size: 1)) }
        case .movRI4: return { try $0.executeMove($1.pointee.instruction.restating(.register, .immediate, size: 4)) }
        case .movRI2: return { try $0.executeMove($1.pointee.instruction.restating(.register, .immediate, size: 2)) }
        case .movRI1: return { try $0.executeMove($1.pointee.instruction.restating(.register, .immediate, size: 1)) }
        case .movRM4: return { try $0.executeMove($1.pointee.instruction.restating(.register, .memory, size: 4)) }
        case .movRM2: return { try $0.executeMove($1.pointee.instruction.restating(.register, .memory, size: 2)) }
        case .movRM1: return { try $0.executeMove($1.pointee.instruction.restating(.register, .memory, size: 1)) }
        case .movMR4: return { try $0.executeMove($1.pointee.instruction.restating(.memory, .register, size: 4)) }
        case .movMR2: return { try $0.executeMove($1.pointee.instruction.restating(.memory, .register, size: 2)) }
        case .movMR1: return { try $0.executeMove($1.pointee.instruction.restating(.memory, .register, size: 1)) }
        case .movMI4: return { try $0.executeMove($1.pointee.instruction.restating(.memory, .immediate, size: 4)) }
        case .movMI2: return { try $0.executeMove($1.pointee.instruction.restating(.memory, .immediate, size: 2)) }
        case .movMI1: return { try $0.executeMove($1.pointee.instruction.restating(.memory, .immediate, size: 1)) }

        case .incDecR4: return { try $0.executeIncrementDecrement($1.pointee.instruction.restating(.register, size: 4)) }
        case .incDecR2: return { try $0.executeIncrementDecrement($1.pointee.instruction.restating(.register, size: 2)) }
        case .incDecR1: return { try $0.executeIncrementDecrement($1.pointee.instruction.restating(.register, size: 1)) }
        case .incDecM4: return { try $0.executeIncrementDecrement($1.pointee.instruction.restating(.memory, size: 4)) }
        case .incDecM2: return { try $0.executeIncrementDecrement($1.pointee.instruction.restating(.memory, size: 2)) }
        case .incDecM1: return { try $0.executeIncrementDecrement($1.pointee.instruction.restating(.memory, size: 1)) }

        case .shiftRI4: return { try $0.executeShiftRotate($1.pointee.instruction.restating(.register, size: 4, .immediate)) }
        case .shiftRI2: return { try $0.executeShiftRotate($1.pointee.instruction.restating(.register, size: 2, .immediate)) }
        case .shiftRI1: return { try $0.executeShiftRotate($1.pointee.instruction.restating(.register, size: 1, .immediate)) }
        case .shiftR14: return { try $0.executeShiftRotate($1.pointee.instruction.restating(.register, size: 4, .constant)) }
        case .shiftR12: return { try $0.executeShiftRotate($1.pointee.instruction.restating(.register, size: 2, .constant)) }
        case .shiftR11: return { try $0.executeShiftRotate($1.pointee.instruction.restating(.register, size: 1, .constant)) }
        case .shiftRC4: return { try $0.executeShiftRotate($1.pointee.instruction.restating(.register, size: 4, .register)) }
        case .shiftRC2: return { try $0.executeShiftRotate($1.pointee.instruction.restating(.register, size: 2, .register)) }
        case .shiftRC1: return { try $0.executeShiftRotate($1.pointee.instruction.restating(.register, size: 1, .register)) }
        case .shlRI4: return { try $0.executeShiftRotate($1.pointee.instruction.restating(op: .shl, .register, size: 4, .immediate)) }
        case .shrRI4: return { try $0.executeShiftRotate($1.pointee.instruction.restating(op: .shr, .register, size: 4, .immediate)) }
        case .sarRI4: return { try $0.executeShiftRotate($1.pointee.instruction.restating(op: .sar, .register, size: 4, .immediate)) }

        case .jo4: return { try $0.executeControl($1.pointee.instruction.restating(op: .jcc, .relative, operandSize: 4, condition: 0)) }
        case .jno4: return { try $0.executeControl($1.pointee.instruction.restating(op: .jcc, .relative, operandSize: 4, condition: 1)) }
        case .jb4: return { try $0.executeControl($1.pointee.instruction.restating(op: .jcc, .relative, operandSize: 4, condition: 2)) }
        case .jae4: return { try $0.executeControl($1.pointee.instruction.restating(op: .jcc, .relative, operandSize: 4, condition: 3)) }
        case .je4: return { try $0.executeControl($1.pointee.instruction.restating(op: .jcc, .relative, operandSize: 4, condition: 4)) }
        case .jne4: return { try $0.executeControl($1.pointee.instruction.restating(op: .jcc, .relative, operandSize: 4, condition: 5)) }
        case .jbe4: return { try $0.executeControl($1.pointee.instruction.restating(op: .jcc, .relative, operandSize: 4, condition: 6)) }
        case .ja4: return { try $0.executeControl($1.pointee.instruction.restating(op: .jcc, .relative, operandSize: 4, condition: 7)) }
        case .js4: return { try $0.executeControl($1.pointee.instruction.restating(op: .jcc, .relative, operandSize: 4, condition: 8)) }
        case .jns4: return { try $0.executeControl($1.pointee.instruction.restating(op: .jcc, .relative, operandSize: 4, condition: 9)) }
        case .jp4: return { try $0.executeControl($1.pointee.instruction.restating(op: .jcc, .relative, operandSize: 4, condition: 10)) }
        case .jnp4: return { try $0.executeControl($1.pointee.instruction.restating(op: .jcc, .relative, operandSize: 4, condition: 11)) }
        case .jl4: return { try $0.executeControl($1.pointee.instruction.restating(op: .jcc, .relative, operandSize: 4, condition: 12)) }
        case .jge4: return { try $0.executeControl($1.pointee.instruction.restating(op: .jcc, .relative, operandSize: 4, condition: 13)) }
        case .jle4: return { try $0.executeControl($1.pointee.instruction.restating(op: .jcc, .relative, operandSize: 4, condition: 14)) }
        case .jg4: return { try $0.executeControl($1.pointee.instruction.restating(op: .jcc, .relative, operandSize: 4, condition: 15)) }
        case .jcc2: return { try $0.executeControl($1.pointee.instruction.restating(op: .jcc, .relative, operandSize: 2)) }
        case .jmp4: return { try $0.executeControl($1.pointee.instruction.restating(op: .jmp, .relative, operandSize: 4)) }
        case .jmp2: return { try $0.executeControl($1.pointee.instruction.restating(op: .jmp, .relative, operandSize: 2)) }
        case .call4: return { try $0.executeControl($1.pointee.instruction.restating(op: .call, .relative, operandSize: 4)) }
        case .call2: return { try $0.executeControl($1.pointee.instruction.restating(op: .call, .relative, operandSize: 2)) }
        case .ret4: return { try $0.executeControl($1.pointee.instruction.restating(op: .ret, .none, operandSize: 4)) }
        case .ret2: return { try $0.executeControl($1.pointee.instruction.restating(op: .ret, .none, operandSize: 2)) }

        case .jmpR4: return { try $0.executeControl($1.pointee.instruction.restating(op: .jmp, .register, size: 4, operandSize: 4)) }
        case .jmpR2: return { try $0.executeControl($1.pointee.instruction.restating(op: .jmp, .register, size: 2, operandSize: 2)) }
        case .jmpM4: return { try $0.executeControl($1.pointee.instruction.restating(op: .jmp, .memory, size: 4, operandSize: 4)) }
        case .jmpM2: return { try $0.executeControl($1.pointee.instruction.restating(op: .jmp, .memory, size: 2, operandSize: 2)) }
        case .callR4: return { try $0.executeControl($1.pointee.instruction.restating(op: .call, .register, size: 4, operandSize: 4)) }
        case .callR2: return { try $0.executeControl($1.pointee.instruction.restating(op: .call, .register, size: 2, operandSize: 2)) }
        case .callM4: return { try $0.executeControl($1.pointee.instruction.restating(op: .call, .memory, size: 4, operandSize: 4)) }
        case .callM2: return { try $0.executeControl($1.pointee.instruction.restating(op: .call, .memory, size: 2, operandSize: 2)) }
        case .retI4: return { try $0.executeControl($1.pointee.instruction.restating(op: .ret, .immediate, operandSize: 4)) }
        case .retI2: return { try $0.executeControl($1.pointee.instruction.restating(op: .ret, .immediate, operandSize: 2)) }

        case .pushR4: return { try $0.executeStackOperation($1.pointee.instruction.restating(op: .push, .register, size: 4, operandSize: 4)) }
        case .pushR2: return { try $0.executeStackOperation($1.pointee.instruction.restating(op: .push, .register, size: 2, operandSize: 2)) }
        case .popR4: return { try $0.executeStackOperation($1.pointee.instruction.restating(op: .pop, .register, size: 4, operandSize: 4)) }
        case .popR2: return { try $0.executeStackOperation($1.pointee.instruction.restating(op: .pop, .register, size: 2, operandSize: 2)) }

        case .pushI4: return { try $0.executeStackOperation($1.pointee.instruction.restating(op: .push, .immediate, operandSize: 4)) }
        case .pushI2: return { try $0.executeStackOperation($1.pointee.instruction.restating(op: .push, .immediate, operandSize: 2)) }
        case .pushM4: return { try $0.executeStackOperation($1.pointee.instruction.restating(op: .push, .memory, size: 4, operandSize: 4)) }
        case .pushM2: return { try $0.executeStackOperation($1.pointee.instruction.restating(op: .push, .memory, size: 2, operandSize: 2)) }
        case .leave4: return { try $0.executeStackOperation($1.pointee.instruction.restating(op: .leave, .none, operandSize: 4)) }
        case .leave2: return { try $0.executeStackOperation($1.pointee.instruction.restating(op: .leave, .none, operandSize: 2)) }

        case .lea4: return { try $0.executeDataMovement($1.pointee.instruction.restating(op: .lea, .register, size: 4, .memory, operandSize: 4)) }
        case .lea2: return { try $0.executeDataMovement($1.pointee.instruction.restating(op: .lea, .register, size: 2, .memory, operandSize: 2)) }
        }
    }
}
