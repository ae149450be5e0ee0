import XCTest
@testable import CPU
@testable import MMU
import GuestPrograms

/// The block loop and its instruction forms against `CPU.step`, the
/// reference: random programs (GuestPrograms/RandomProgramEncoder.swift)
/// of the instructions forms specialize (and some they do not, mixed in),
/// in 32-bit and 16-bit code, with random registers, flags and memory,
/// must end in the same registers, flags, memory and instruction count
/// either way.
final class BlockExecutionDifferentialTests: XCTestCase {
    /// Two CPUs in the same random state, one program: one steps, one runs
    /// blocks; their final states must agree.
    func compare(code32: Bool, seed: UInt64, length: Int = 300) {
        var encoder = RandomProgramEncoder(g: SplitMix64(seed: seed), code32: code32)
        var program: [UInt8] = []
        for _ in 0..<length { program += encoder.instruction() }
        program.append(0xF4)
        var g = encoder.g

        let reference = CPUTestBench(), blocks = CPUTestBench()
        let registers = (0..<8).map { _ in UInt32(truncatingIfNeeded: g.next()) }
        let flags = UInt32(truncatingIfNeeded: g.next()) & EFLAGS.arithmetic
        let data = (0..<RandomProgramEncoder.dataSize).map { _ in g.nextByte() }
        for bench in [reference, blocks] {
            if code32 { bench.flat32(code: program) } else { bench.realMode(code: program) }
            for r in 0..<8 where r != 4 { bench.cpu.setReg32(UInt8(r), registers[r]) }
            // 16-bit: SP well inside the segment, so random PUSH/POP never reach its end.
            if !code32 { bench.cpu.setReg16(4, 0x4000) }
            bench.state.pointee.eflags |= flags
            bench.memory.copyIn(code32 ? RandomProgramEncoder.data32 : 0x1_0000 + RandomProgramEncoder.data16, data)
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
        let dataBase = code32 ? RandomProgramEncoder.data32 : 0x1_0000 + RandomProgramEncoder.data16
        XCTAssertEqual(blocks.memory.copyOut(dataBase, count: RandomProgramEncoder.dataSize),
                       reference.memory.copyOut(dataBase, count: RandomProgramEncoder.dataSize), "data: \(context)")
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
        var encoder = RandomProgramEncoder(g: SplitMix64(seed: 7), code32: true)
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
