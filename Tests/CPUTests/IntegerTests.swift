import XCTest
@testable import CPU
@testable import MMU

// Shared helpers of the Integer*Tests files: decoded instructions written
// by hand (the semantics are tested apart from the decoder), and running
// one of them the way `CPU.step` does — EIP advanced to the next
// instruction first, restored if the instruction faults.

/// General registers by encoding number.
enum R {
    static let eax: UInt8 = 0, ecx: UInt8 = 1, edx: UInt8 = 2, ebx: UInt8 = 3
    static let esp: UInt8 = 4, ebp: UInt8 = 5, esi: UInt8 = 6, edi: UInt8 = 7
    // 8-bit encodings
    static let al: UInt8 = 0, cl: UInt8 = 1, dl: UInt8 = 2, bl: UInt8 = 3
    static let ah: UInt8 = 4, ch: UInt8 = 5, dh: UInt8 = 6, bh: UInt8 = 7
}

func reg(_ r: UInt8, _ size: UInt8) -> Operand { Operand(.register, size: size, register: r) }
func mem(_ size: UInt8) -> Operand { Operand(.memory, size: size) }
func imm(_ size: UInt8) -> Operand { Operand(.immediate, size: size) }
func sreg(_ s: SegmentRegister) -> Operand { Operand(.segment, size: 2, register: UInt8(s.rawValue)) }
let shiftByOne = Operand(.constant, size: 1, register: 1)
let relative = Operand(.relative, size: 4)

/// A decoded instruction. The memory operand, if any, is
/// `segment:[base + index << scale + displacement]`.
func instruction(_ op: Op, _ a: Operand = .none, _ b: Operand = .none, _ c: Operand = .none,
                 immediate: UInt32 = 0, immediate2: UInt32 = 0,
                 operandSize: UInt8 = 4, addressSize: UInt8 = 4,
                 base: UInt8 = Instruction.noRegister, index: UInt8 = Instruction.noRegister, scale: UInt8 = 0,
                 displacement: UInt32 = 0, segment: SegmentRegister = .ds, override: Bool = false,
                 condition: UInt8 = 0, repeat prefix: RepeatPrefix = .none,
                 opcode: UInt16 = 0, length: UInt8 = 2) -> Instruction {
    var i = Instruction()
    i.op = op
    i.operands = (a, b, c)
    i.immediate = immediate
    i.immediate2 = immediate2
    i.operandSize = operandSize
    i.addressSize = addressSize
    i.base = base
    i.index = index
    i.scale = scale
    i.displacement = displacement
    i.segment = segment
    i.hasSegmentOverride = override
    i.condition = condition
    i.repeatPrefix = prefix
    i.opcode = opcode
    i.length = length
    if a.kind == .memory || b.kind == .memory || c.kind == .memory {
        i.hasModRM = true
        i.modrm = 0x00
    }
    return i
}

extension CPUTestBench {
    /// Executes `i` at the current EIP as `step` would; returns the fault
    /// it raised, if any (EIP is then back at the instruction).
    @discardableResult
    func execute(_ i: Instruction) -> CPUFault? {
        let at = cpu.eip
        cpu.currentEIP = at
        cpu.eip = at &+ UInt32(i.length)
        do {
            try cpu.execute(i)
            return nil
        } catch {
            cpu.eip = at
            return error
        }
    }

    var flags: UInt32 {
        get { state.pointee.eflags }
        set { state.pointee.eflags = newValue }
    }

    /// The six status flags as the SDM's examples print them: O S Z A P C.
    var statusFlags: String {
        let f = state.pointee.eflags
        return [EFLAGS.of, EFLAGS.sf, EFLAGS.zf, EFLAGS.af, EFLAGS.pf, EFLAGS.cf]
            .map { f & $0 != 0 ? "1" : "0" }.joined()
    }

    func read32(_ address: UInt32) -> UInt32 { memory.read(address, size: 4) }
    func read16(_ address: UInt32) -> UInt32 { memory.read(address, size: 2) }
    func read8(_ address: UInt32) -> UInt32 { memory.read(address, size: 1) }
}
