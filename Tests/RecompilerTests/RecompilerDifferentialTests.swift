import XCTest
import CPU
import MMU
import GuestPrograms
@testable import Recompiler

/// Ports that read all ones and drop writes: the programs here do no I/O.
final class NoPorts: PortIO {
    func portRead(_ port: UInt16, size: Int) -> UInt32 { 0xFFFF_FFFF }
    func portWrite(_ port: UInt16, size: Int, value: UInt32) {}
}

/// One machine-less CPU on 2 MiB of RAM, set up in real mode or flat
/// 32-bit protected mode, with a recompiler beside it.
final class EngineBench {
    let storage = CPUStateStorage()
    let memory = try! PhysicalMemory(ramSize: 2 << 20)
    let cpu: CPU
    let recompiler: Recompiler
    var state: UnsafeMutablePointer<CPUState> { storage.pointer }
    var exceptions: [(vector: UInt8, eip: UInt32)] = []

    init() {
        cpu = CPU(state: storage.pointer, memory: memory, io: NoPorts())
        recompiler = try! Recompiler(cpu: cpu)
        cpu.onException = { [unowned self] fault, eip in self.exceptions.append((fault.vector, eip)) }
    }

    /// Real mode, all segments 0x1000, IP 0x100, SP 0x4000.
    func realMode(code: [UInt8]) {
        cpu.reset()
        for s in SegmentRegister.allCases {
            cpu.segment(s).pointee = SegmentDescriptorCache(selector: 0x1000, base: 0x1_0000, limit: 0xFFFF,
                                                            attributes: s == .cs ? 0x9B : 0x93)
        }
        state.pointee.rip = 0x100
        cpu.setReg16(4, 0x4000)
        memory.copyIn(0x1_0100, code)
    }

    /// Flat 32-bit protected mode at CPL 0, EIP 0x100000, ESP 0x1F0000.
    func flat32(code: [UInt8]) {
        cpu.reset()
        state.pointee.cr0 |= 1
        for s in SegmentRegister.allCases {
            cpu.segment(s).pointee = SegmentDescriptorCache(selector: s == .cs ? 8 : 16, base: 0, limit: 0xFFFF_FFFF,
                                                            attributes: (s == .cs ? 0x9B : 0x93) | 0xC000)
        }
        state.pointee.rip = 0x10_0000
        cpu.setReg32(4, 0x1F_0000)
        memory.copyIn(0x10_0000, code)
    }

    /// Runs until HLT or `limit` instructions, on the recompiler or on the
    /// interpreter one `step` at a time (the reference).
    func run(recompiled: Bool, limit: Int) {
        var ran = 0
        while !state.pointee.halted && ran < limit {
            if recompiled {
                let n = recompiler.run(limit - ran)
                if n == 0 { break }
                ran += n
            } else {
                cpu.step()
                ran += 1
            }
        }
    }
}

/// The recompiled run ended where the reference did: halted alike, same
/// instruction count, registers, EFLAGS, EIP and exceptions.
func assertSameState(_ reference: EngineBench, _ translated: EngineBench, _ context: String,
                     file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertTrue(reference.state.pointee.halted, "the reference reaches HLT: \(context)", file: file, line: line)
    XCTAssertEqual(translated.state.pointee.halted, reference.state.pointee.halted, context, file: file, line: line)
    XCTAssertEqual(translated.cpu.instructionCount, reference.cpu.instructionCount, "instruction count: \(context)",
                   file: file, line: line)
    for r: UInt8 in 0..<8 {
        XCTAssertEqual(translated.cpu.reg32(r), reference.cpu.reg32(r), "register \(r): \(context)", file: file, line: line)
    }
    XCTAssertEqual(String(translated.state.pointee.eflags, radix: 16), String(reference.state.pointee.eflags, radix: 16),
                   "EFLAGS: \(context)", file: file, line: line)
    XCTAssertEqual(translated.state.pointee.rip, reference.state.pointee.rip, "EIP: \(context)", file: file, line: line)
    XCTAssertEqual(translated.exceptions.map(\.vector), reference.exceptions.map(\.vector), "exceptions: \(context)",
                   file: file, line: line)
    XCTAssertEqual(translated.exceptions.map(\.eip), reference.exceptions.map(\.eip), "exception EIPs: \(context)",
                   file: file, line: line)
}

/// The first offset where two memory ranges differ (nil: identical), so a
/// failure names a byte instead of printing kilobytes.
func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> Int? {
    zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }?.offset
}

/// The recompiler against the interpreter: the same random programs
/// (GuestPrograms) from the same random state must end in the same
/// registers, EFLAGS, EIP, memory and instruction count.
final class RecompilerDifferentialTests: XCTestCase {
    func compare(code32: Bool, seed: UInt64, length: Int = 300) {
        var encoder = RandomProgramEncoder(g: SplitMix64(seed: seed), code32: code32)
        var program: [UInt8] = []
        for _ in 0..<length { program += encoder.instruction() }
        program.append(0xF4)
        var g = encoder.g
        let registers = (0..<8).map { _ in UInt32(truncatingIfNeeded: g.next()) }
        let flags = UInt32(truncatingIfNeeded: g.next()) & EFLAGS.arithmetic
        let data = (0..<RandomProgramEncoder.dataSize).map { _ in g.nextByte() }
        let dataBase = code32 ? RandomProgramEncoder.data32 : 0x1_0000 + RandomProgramEncoder.data16

        let reference = EngineBench(), translated = EngineBench()
        for bench in [reference, translated] {
            if code32 { bench.flat32(code: program) } else { bench.realMode(code: program) }
            for r in 0..<8 where r != 4 { bench.cpu.setReg32(UInt8(r), registers[r]) }
            bench.state.pointee.eflags |= flags
            bench.memory.copyIn(dataBase, data)
        }
        reference.run(recompiled: false, limit: 10 * length)
        translated.run(recompiled: true, limit: 10 * length)
        assertSameState(reference, translated, "\(code32 ? "32" : "16")-bit program, seed \(seed)")
        let stack: UInt32 = code32 ? 0x1F_0000 : 0x1_4000
        XCTAssertNil(firstDifference(translated.memory.copyOut(dataBase, count: RandomProgramEncoder.dataSize),
                                     reference.memory.copyOut(dataBase, count: RandomProgramEncoder.dataSize)),
                     "data, seed \(seed)")
        XCTAssertNil(firstDifference(translated.memory.copyOut(stack - 0x1000, count: 0x1000),
                                     reference.memory.copyOut(stack - 0x1000, count: 0x1000)), "stack, seed \(seed)")
    }

    func testRandom32BitPrograms() {
        for seed: UInt64 in 1...40 { compare(code32: true, seed: seed) }
    }

    func testRandom16BitPrograms() {
        for seed: UInt64 in 101...140 { compare(code32: false, seed: seed) }
    }

    /// IMUL r, r/m and IMUL r, r/m, imm (which the shared programs lack)
    /// mixed with ALU instructions, 16- and 32-bit operands.
    func testRandomSignedMultiplies() {
        for seed: UInt64 in 1...20 {
            var g = SplitMix64(seed: seed)
            var encoder = RandomProgramEncoder(g: SplitMix64(seed: seed ^ 0xABCD), code32: true)
            var program: [UInt8] = []
            for _ in 0..<100 {
                let prefix: [UInt8] = g.below(3) == 0 ? [0x66] : []
                let wide = prefix.isEmpty
                let modrm = UInt8(0xC0 | UInt8(g.below(8)) << 3 | UInt8(g.below(8)))
                let reg = modrm >> 3 & 7
                guard reg != 4 else { continue }
                switch g.below(4) {
                case 0: program += prefix + [0x0F, 0xAF, modrm]
                case 1: program += prefix + [0x6B, modrm, g.nextByte()]
                case 2: program += prefix + [0x69, modrm] + (0..<(wide ? 4 : 2)).map { _ in g.nextByte() }
                default: program += encoder.instruction()
                }
            }
            let reference = EngineBench(), translated = EngineBench()
            for bench in [reference, translated] {
                bench.flat32(code: program + [0xF4])
                var r = SplitMix64(seed: seed << 8)
                for k: UInt8 in 0..<8 where k != 4 { bench.cpu.setReg32(k, UInt32(truncatingIfNeeded: r.next())) }
            }
            reference.run(recompiled: false, limit: 10_000)
            translated.run(recompiled: true, limit: 10_000)
            assertSameState(reference, translated, "IMUL program, seed \(seed)")
            XCTAssertFalse(translated.recompiler.fallbackCounts.contains { $0.op == .imul }, "IMUL translated")
        }
    }

    /// CLC, STC, CMC, CLD, STD between the shared programs' instructions
    /// (ADC and SBB among them read the carry they set).
    func testFlagInstructions() {
        for seed: UInt64 in 1...10 {
            var g = SplitMix64(seed: seed)
            var encoder = RandomProgramEncoder(g: SplitMix64(seed: seed ^ 0x5EED), code32: seed & 1 == 0)
            var program: [UInt8] = []
            for _ in 0..<150 {
                program += g.below(3) == 0 ? [[0xF8, 0xF9, 0xF5, 0xFC, 0xFD][g.below(5)]] : encoder.instruction()
            }
            let reference = EngineBench(), translated = EngineBench()
            for bench in [reference, translated] {
                if encoder.code32 { bench.flat32(code: program + [0xF4]) } else { bench.realMode(code: program + [0xF4]) }
            }
            reference.run(recompiled: false, limit: 10_000)
            translated.run(recompiled: true, limit: 10_000)
            assertSameState(reference, translated, "flag program, seed \(seed)")
        }
    }

    /// The programs mostly run as translated code, not through the fallback.
    func testProgramsAreMostlyTranslated() {
        var encoder = RandomProgramEncoder(g: SplitMix64(seed: 3), code32: true)
        var program: [UInt8] = []
        for _ in 0..<300 { program += encoder.instruction() }
        let bench = EngineBench()
        bench.flat32(code: program + [0xF4])
        bench.run(recompiled: true, limit: 3000)
        let interpreted = bench.recompiler.fallbackCounts.reduce(0) { $0 + $1.count }
        XCTAssertGreaterThan(bench.recompiler.blocksRun, 0)
        XCTAssertLessThan(interpreted, 150, bench.recompiler.report)
        let translatedForms: Set<Op> = [.mov, .add, .adc, .sub, .xor, .cmp, .inc, .dec, .shl, .jcc, .call, .pop, .lea,
                                        .push, .cbw, .cwd, .xchg]
        XCTAssertTrue(bench.recompiler.fallbackCounts.allSatisfy { !translatedForms.contains($0.op) },
                      bench.recompiler.report)
    }
}
