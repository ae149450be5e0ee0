import XCTest
import CPU
import MMU
@testable import Recompiler

/// An instruction whose bytes run past the end of its page, in a loop,
/// against the interpreter: its block translates it behind a check of the
/// next page's bytes and mapping, which may change without the block's
/// page noticing (then the interpreter fetches it anew), and the loop runs
/// chained through it rather than through the dispatcher on every pass.
final class AcrossPageEndTests: XCTestCase {
    /// MOV EAX, imm32 at 0x100FFD: the opcode and the immediate's low two
    /// bytes in the first page, its high two bytes in the next.
    static let straddling: UInt32 = 0x10_0FFD

    /// Two passes of 1000 loop iterations (EBX += EAX); between them the
    /// program rewrites the immediate's bytes in the next page, or runs
    /// `between` instead.
    func program(between: [UInt8]? = nil) -> [UInt8] {
        var code: [UInt8] = [0xBE, 2, 0, 0, 0]                             // mov esi, 2
        code += [0xB9, 0xE8, 0x03, 0, 0]                                   // pass: mov ecx, 1000
        let jump = code.count
        code += [0xE9, 0, 0, 0, 0]                                         // jmp straddling
        let afterJump = UInt32(0x10_0000 + code.count)
        code.replaceSubrange(jump + 1..<jump + 5, with: withUnsafeBytes(of: (Self.straddling &- afterJump).littleEndian, Array.init))
        let back = UInt32(0x10_0000 + code.count)
        code += between ?? [0xC6, 0x05, 0x01, 0x10, 0x10, 0x00, 0x07]      // back: mov byte [0x101001], 7
        code += [0x4E, 0x75, UInt8(bitPattern: Int8(5 - (code.count + 3)))] // dec esi; jnz pass
        code += [0xF4]                                                     // hlt
        var image = code + [UInt8](repeating: 0x90, count: Int(Self.straddling) - 0x10_0000 - code.count)
        image += [0xB8, 0x04, 0x03, 0x02, 0x01]                            // mov eax, 0x01020304
        image += [0x01, 0xC3, 0x49]                                        // add ebx, eax; dec ecx
        image += [0x0F, 0x85] + withUnsafeBytes(of: (Self.straddling &- (Self.straddling + 14)).littleEndian, Array.init) // jnz straddling
        image += [0xE9] + withUnsafeBytes(of: (back &- (Self.straddling + 19)).littleEndian, Array.init) // jmp back
        return image
    }

    func imm32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }

    /// Paging: a page directory and one table mapping the low 4 MiB 1:1,
    /// and the frame the next page is remapped to.
    static let directory: UInt32 = 0x1000, table: UInt32 = 0x2000, copy: UInt32 = 0x18_0000

    /// The program with paging on (`between` runs between the passes);
    /// the frame `copy` holds the next page with the immediate's byte
    /// changed. Returns the translated run, checked against the reference.
    func runPaged(between: [UInt8], _ context: String) -> EngineBench {
        let reference = EngineBench(), translated = EngineBench()
        for bench in [reference, translated] {
            bench.flat32(code: program(between: between))
            var next = bench.memory.copyOut(0x10_1000, count: 0x1000)
            next[1] = 7
            bench.memory.copyIn(Self.copy, next)
            bench.memory.copyIn(Self.directory, imm32(Self.table | 3))
            for page: UInt32 in 0..<1024 { bench.memory.copyIn(Self.table + 4 * page, imm32(page << 12 | 3)) }
            bench.state.pointee.cr3 = UInt64(Self.directory)
            bench.state.pointee.cr0 |= 0x8000_0000
        }
        reference.run(recompiled: false, limit: 100_000)
        translated.run(recompiled: true, limit: 100_000)
        assertSameState(reference, translated, context)
        return translated
    }

    func testLoopThroughAnInstructionAcrossARemappedPageEnd() {
        // mov dword [PTE of 0x101000], copy | 3; invlpg [0x101000]
        let remap = [0xC7, 0x05] + imm32(Self.table + 4 * 0x101) + imm32(Self.copy | 3) + [0x0F, 0x01, 0x3D] + imm32(0x10_1000)
        let translated = runPaged(between: remap, "straddling MOV, next page remapped")
        XCTAssertEqual(translated.cpu.reg32(3), 1000 &* 0x0102_0304 &+ 1000 &* 0x0702_0304,
                       "the second pass used the bytes of the next page's new frame")
    }

    /// A TLB flush that leaves the next page where it was (MOV CR3 of the
    /// same directory): the block looks it up again once and stays
    /// translated, instead of interpreting the instruction from then on.
    func testLoopThroughAnInstructionAcrossAPageEndAfterAFlush() {
        let translated = runPaged(between: [0x0F, 0x20, 0xD8, 0x0F, 0x22, 0xD8], "straddling MOV, CR3 reloaded")
        XCTAssertEqual(translated.cpu.reg32(3), 2000 &* 0x0102_0304)
        XCTAssertEqual(translated.recompiler.fallbackCounts.filter { $0.op == .incomplete }.map(\.count), [],
                       translated.recompiler.report)
    }

    func testLoopThroughAnInstructionAcrossThePageEnd() {
        let reference = EngineBench(), translated = EngineBench()
        for bench in [reference, translated] { bench.flat32(code: program()) }
        reference.run(recompiled: false, limit: 100_000)
        translated.run(recompiled: true, limit: 100_000)
        assertSameState(reference, translated, "straddling MOV")
        XCTAssertEqual(translated.cpu.reg32(3), 1000 &* 0x0102_0304 &+ 1000 &* 0x0702_0304,
                       "the second pass used the rewritten bytes in the next page")
        XCTAssertLessThan(translated.recompiler.blocksRun, 100, "the loop ran chained through the straddling instruction")
    }
}
