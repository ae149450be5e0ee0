import XCTest
@testable import CPU
@testable import MMU

/// The block loop and its instruction forms against `CPU.step`, the
/// reference: random programs of the instructions forms specialize (and
/// some they do not, mixed in), in 32-bit and 16-bit code, with random
/// registers, flags and memory, must end in the same registers, flags,
/// memory and instruction count either way.
final class BlockExecutionDifferentialTests: XCTestCase {
    /// The seeded generator of the decoder tests, so a failure repeats.
    typealias Generator = SplitMix64

    /// Where programs keep their data: offsets in DS (flat in 32-bit code).
    static let data32: UInt32 = 0x18_0000
    static let data16: UInt32 = 0x8000
    static let dataSize = 0x1000

    /// Encodes random instructions. `code32`: the code segment's default
    /// sizes. Registers never include (E)SP as a destination, and memory
    /// operands are absolute addresses inside the data area.
    struct Encoder {
        var g: Generator
        let code32: Bool

        mutating func register(byteSized: Bool) -> UInt8 {
            while true {
                let r = UInt8(g.below(8))
                if byteSized || r != 4 { return r }
            }
        }

        /// A ModRM byte (with its displacement) for `reg` and a register
        /// or absolute-memory r/m operand.
        mutating func modrm(reg: UInt8, byteSized: Bool, allowMemory: Bool = true) -> [UInt8] {
            if allowMemory && g.below(3) == 0 {
                let offset = UInt32(g.below(BlockExecutionDifferentialTests.dataSize - 4))
                if code32 {
                    let a = BlockExecutionDifferentialTests.data32 + offset
                    return [reg << 3 | 5] + withUnsafeBytes(of: a.littleEndian, Array.init)
                }
                let a = UInt16(BlockExecutionDifferentialTests.data16 + offset)
                return [reg << 3 | 6] + withUnsafeBytes(of: a.littleEndian, Array.init)
            }
            return [0xC0 | reg << 3 | register(byteSized: byteSized)]
        }

        mutating func immediate(_ size: Int) -> [UInt8] { (0..<size).map { _ in g.nextByte() } }

        /// An operand-size prefix, sometimes, and the resulting width.
        mutating func operandSize() -> (prefix: [UInt8], width: Int) {
            let flip = g.below(4) == 0
            let wide = code32 != flip
            return (flip ? [0x66] : [], wide ? 4 : 2)
        }

        mutating func instruction() -> [UInt8] {
            switch g.below(12) {
            case 0, 1: // ALU r/m, r and r, r/m (ADD … CMP)
                let op = UInt8(g.below(8)) << 3 | UInt8(g.below(4))
                let byteSized = op & 1 == 0
                let (prefix, _) = byteSized ? ([], 1) : operandSize()
                return prefix + [op] + modrm(reg: register(byteSized: byteSized), byteSized: byteSized)
            case 2: // ALU r/m, imm (80, 81, 83) and TEST r/m, r (84, 85)
                switch g.below(4) {
                case 0: return [0x80] + modrm(reg: UInt8(g.below(8)), byteSized: true) + immediate(1)
                case 1:
                    let (prefix, width) = operandSize()
                    return prefix + [0x81] + modrm(reg: UInt8(g.below(8)), byteSized: false) + immediate(width)
                case 2:
                    let (prefix, _) = operandSize()
                    return prefix + [0x83] + modrm(reg: UInt8(g.below(8)), byteSized: false) + immediate(1)
                default:
                    let byteSized = g.bool()
                    return [byteSized ? 0x84 : 0x85] + modrm(reg: register(byteSized: byteSized), byteSized: byteSized)
                }
            case 3, 4: // MOV in all its general forms
                switch g.below(4) {
                case 0:
                    let op = 0x88 | UInt8(g.below(4))
                    let byteSized = op & 1 == 0
                    let (prefix, _) = byteSized ? ([], 1) : operandSize()
                    return prefix + [op] + modrm(reg: register(byteSized: byteSized), byteSized: byteSized)
                case 1: return [0xC6] + modrm(reg: 0, byteSized: true) + immediate(1)
                case 2:
                    let (prefix, width) = operandSize()
                    return prefix + [0xC7] + modrm(reg: 0, byteSized: false) + immediate(width)
                default:
                    if g.bool() { return [0xB0 | register(byteSized: true)] + immediate(1) }
                    let (prefix, width) = operandSize()
                    return prefix + [0xB8 | register(byteSized: false)] + immediate(width)
                }
            case 5: // INC, DEC
                if g.bool() {
                    let (prefix, _) = operandSize()
                    return prefix + [(g.bool() ? 0x40 : 0x48) | register(byteSized: false)]
                }
                let byteSized = g.bool()
                let (prefix, _) = byteSized ? ([], 1) : operandSize()
                return prefix + [byteSized ? 0xFE : 0xFF] + modrm(reg: UInt8(g.below(2)), byteSized: byteSized)
            case 6: // shifts and rotates by imm8, by 1, by CL
                let byteSized = g.bool()
                let (prefix, _) = byteSized ? ([], 1) : operandSize()
                let w: UInt8 = byteSized ? 0 : 1
                let operation = UInt8(g.below(8))
                switch g.below(3) {
                case 0: return prefix + [0xC0 | w] + modrm(reg: operation, byteSized: byteSized) + [UInt8(g.below(40))]
                case 1: return prefix + [0xD0 | w] + modrm(reg: operation, byteSized: byteSized)
                default: return prefix + [0xD2 | w] + modrm(reg: operation, byteSized: byteSized)
                }
            case 7: // LEA r, [base + index·scale + disp8] (32-bit), [base/index + disp8] (16-bit)
                let (prefix, _) = operandSize()
                let reg = register(byteSized: false)
                if code32 {
                    let sib = UInt8(g.below(4)) << 6 | UInt8(g.below(8)) << 3 | UInt8([0, 1, 2, 3, 6, 7][g.below(6)])
                    return prefix + [0x8D, 0x44 | reg << 3, sib, g.nextByte()]
                }
                return prefix + [0x8D, 0x40 | reg << 3 | UInt8(g.below(8)), g.nextByte()] // [BX+SI+d8] … [BX+d8]
            case 8: // PUSH r, POP r, PUSH imm, PUSH m
                let (prefix, width) = operandSize()
                switch g.below(4) {
                case 0: return prefix + [0x68] + immediate(width)
                case 1: return prefix + [0x6A, g.nextByte()]
                case 2: return prefix + [0xFF] + modrm(reg: 6, byteSized: false).map { $0 } // PUSH r/m
                default: return prefix + [(g.bool() ? 0x50 : 0x58) | register(byteSized: false)]
                }
            case 9: // branches that land on the next instruction: Jcc, JMP, CALL
                switch g.below(3) {
                case 0: return [0x70 | UInt8(g.below(16)), 0x00]
                case 1: return [0xEB, 0x00]
                default: return [0xE8] + [UInt8](repeating: 0, count: code32 ? 4 : 2)
                }
            default: // forms left to the generic path: NOT, NEG, MOVZX, SETcc, CMOVcc, XCHG, CBW
                switch g.below(6) {
                case 0:
                    let byteSized = g.bool()
                    return [byteSized ? 0xF6 : 0xF7] + modrm(reg: UInt8(2 + g.below(2)), byteSized: byteSized)
                case 1: return [0x0F, 0xB6 | UInt8(g.below(2)) << 3] + modrm(reg: register(byteSized: false), byteSized: true)
                case 2: return [0x0F, 0x90 | UInt8(g.below(16))] + modrm(reg: 0, byteSized: true)
                case 3: return [0x0F, 0x40 | UInt8(g.below(16))] + modrm(reg: register(byteSized: false), byteSized: false)
                case 4: return [0x87, 0xC0 | register(byteSized: false) << 3 | register(byteSized: false)]
                default: return [g.bool() ? 0x98 : 0x99]
                }
            }
        }
    }

    /// Two CPUs in the same random state, one program: one steps, one runs
    /// blocks; their final states must agree.
    func compare(code32: Bool, seed: UInt64, length: Int = 300) {
        var encoder = Encoder(g: Generator(seed: seed), code32: code32)
        var program: [UInt8] = []
        for _ in 0..<length { program += encoder.instruction() }
        program.append(0xF4)
        var g = encoder.g

        let reference = CPUTestBench(), blocks = CPUTestBench()
        let registers = (0..<8).map { _ in UInt32(truncatingIfNeeded: g.next()) }
        let flags = UInt32(truncatingIfNeeded: g.next()) & EFLAGS.arithmetic
        let data = (0..<Self.dataSize).map { _ in g.nextByte() }
        for bench in [reference, blocks] {
            if code32 { bench.flat32(code: program) } else { bench.realMode(code: program) }
            for r in 0..<8 where r != 4 { bench.cpu.setReg32(UInt8(r), registers[r]) }
            // 16-bit: SP well inside the segment, so random PUSH/POP never reach its end.
            if !code32 { bench.cpu.setReg16(4, 0x4000) }
            bench.state.pointee.eflags |= flags
            bench.memory.copyIn(code32 ? Self.data32 : 0x1_0000 + Self.data16, data)
        }

        var steps = 0
        while !reference.state.pointee.halted && steps < 10 * length { reference.cpu.step(); steps += 1 }
        var ran = 0
        while !blocks.state.pointee.halted && ran < 10 * length {
            let n = blocks.cpu.run(10 * length - ran)
            if n == 0 { break }
            ran += n
        }

        let context = "\(code32 ? "32" : "16")-bit program, seed \(seed)"
        XCTAssertTrue(reference.state.pointee.halted && blocks.state.pointee.halted, "both reach HLT: \(context)")
        XCTAssertEqual(ran, steps, context)
        XCTAssertEqual(blocks.cpu.instructionCount, reference.cpu.instructionCount, context)
        for r: UInt8 in 0..<8 {
            XCTAssertEqual(blocks.cpu.reg32(r), reference.cpu.reg32(r), "register \(r): \(context)")
        }
        XCTAssertEqual(blocks.state.pointee.eflags, reference.state.pointee.eflags, "EFLAGS: \(context)")
        XCTAssertEqual(blocks.state.pointee.rip, reference.state.pointee.rip, "EIP: \(context)")
        let dataBase = code32 ? Self.data32 : 0x1_0000 + Self.data16
        XCTAssertEqual(blocks.memory.copyOut(dataBase, count: Self.dataSize),
                       reference.memory.copyOut(dataBase, count: Self.dataSize), "data: \(context)")
        let stack: UInt32 = code32 ? 0x1F_0000 : 0x1_4000
        XCTAssertEqual(blocks.memory.copyOut(stack - 0x1000, count: 0x2000),
                       reference.memory.copyOut(stack - 0x1000, count: 0x2000), "stack: \(context)")
    }

    func testRandom32BitPrograms() {
        for seed: UInt64 in 1...24 { compare(code32: true, seed: seed) }
    }

    func testRandom16BitPrograms() {
        for seed: UInt64 in 101...124 { compare(code32: false, seed: seed) }
    }

    /// The programs exercise the forms, not only the generic path.
    func testProgramsUseTheForms() {
        var encoder = Encoder(g: Generator(seed: 7), code32: true)
        var program: [UInt8] = []
        for _ in 0..<500 { program += encoder.instruction() }
        var formsSeen = Set<SpecializedForm>()
        program.withUnsafeBufferPointer { bytes in
            var at = 0
            while at < bytes.count {
                let i = Decoder.decode(bytes.baseAddress! + at, count: min(15, bytes.count - at), default32: true)
                formsSeen.insert(SpecializedForm.form(of: i))
                at += Int(i.length)
            }
        }
        XCTAssertGreaterThan(formsSeen.count, 40, "most forms occur")
        XCTAssertTrue(formsSeen.contains(.generic))
    }

    /// Indirect branches, RET imm16, PUSH imm/m and LEAVE: a function
    /// frame and calls through a register and through memory.
    func testIndirectBranchesAndFrames() {
        let base: UInt32 = 0x10_0000
        func address(_ offset: UInt32) -> [UInt8] { withUnsafeBytes(of: (base + offset).littleEndian, Array.init) }
        let program: [UInt8] = [0x55, 0x89, 0xE5,                     //  0: push ebp; mov ebp, esp
                                0x68, 0x78, 0x56, 0x34, 0x12,         //  3: push 0x12345678
                                0xFF, 0x35, 0x00, 0x00, 0x18, 0x00]   //  8: push dword [0x180000]
            + [0xB8] + address(46) + [0xFF, 0xD0]                     // 14: mov eax, f1; call eax
            + [0x6A, 0xAA, 0xFF, 0x15, 0x10, 0x00, 0x18, 0x00]        // 21: push 0xAA; call [0x180010] (f2)
            + [0xBB] + address(37) + [0xFF, 0xE3, 0xF4]               // 29: mov ebx, after; jmp ebx; hlt
            + [0xFF, 0x25, 0x20, 0x00, 0x18, 0x00, 0xF4]              // 37: after: jmp [0x180020] (end); hlt
            + [0xC9, 0xF4]                                            // 44: end: leave; hlt
            + [0x41, 0xC3]                                            // 46: f1: inc ecx; ret
            + [0x42, 0xC2, 0x04, 0x00]                                // 48: f2: inc edx; ret 4
        let reference = CPUTestBench(), blocks = CPUTestBench()
        for bench in [reference, blocks] {
            bench.flat32(code: program)
            bench.cpu.setReg32(2, 0) // EDX held the CPUID signature since RESET
            bench.write32(0x18_0000, 0xDEAD_BEEF)
            bench.write32(0x18_0010, base + 48)
            bench.write32(0x18_0020, base + 44)
        }
        while !reference.state.pointee.halted { reference.cpu.step() }
        while !blocks.state.pointee.halted { blocks.cpu.run(100) }
        XCTAssertEqual(blocks.cpu.eip, base + 46, "stopped at the HLT after LEAVE")
        XCTAssertEqual(blocks.cpu.reg32(4), 0x1F_0000, "LEAVE restored ESP")
        XCTAssertEqual(blocks.cpu.reg32(1), 1)
        XCTAssertEqual(blocks.cpu.reg32(2), 1)
        for r: UInt8 in 0..<8 { XCTAssertEqual(blocks.cpu.reg32(r), reference.cpu.reg32(r), "register \(r)") }
        XCTAssertEqual(blocks.memory.copyOut(0x1E_FFE0, count: 0x20), reference.memory.copyOut(0x1E_FFE0, count: 0x20))
        XCTAssertEqual(blocks.cpu.instructionCount, reference.cpu.instructionCount)
    }
}
