import XCTest
import CPU
import MMU
@testable import Recompiler

/// An instruction whose bytes run past the end of its page, in a loop,
/// against the interpreter: its block fetches it anew each time (the
/// bytes in the next page may change without the block's page noticing),
/// and the loop runs chained through it rather than through the
/// dispatcher on every pass.
final class AcrossPageEndTests: XCTestCase {
    /// MOV EAX, imm32 at 0x100FFD: the opcode and the immediate's low two
    /// bytes in the first page, its high two bytes in the next.
    static let straddling: UInt32 = 0x10_0FFD

    /// Two passes of 1000 loop iterations (EBX += EAX); between them the
    /// program rewrites the immediate's bytes in the next page.
    func program() -> [UInt8] {
        var code: [UInt8] = [0xBE, 2, 0, 0, 0]                             // mov esi, 2
        code += [0xB9, 0xE8, 0x03, 0, 0]                                   // pass: mov ecx, 1000
        let jump = code.count
        code += [0xE9, 0, 0, 0, 0]                                         // jmp straddling
        let afterJump = UInt32(0x10_0000 + code.count)
        code.replaceSubrange(jump + 1..<jump + 5, with: withUnsafeBytes(of: (Self.straddling &- afterJump).littleEndian, Array.init))
        let back = UInt32(0x10_0000 + code.count)
        code += [0xC6, 0x05, 0x01, 0x10, 0x10, 0x00, 0x07]                 // back: mov byte [0x101001], 7
        code += [0x4E, 0x75, UInt8(bitPattern: Int8(5 - (code.count + 3)))] // dec esi; jnz pass
        code += [0xF4]                                                     // hlt
        var image = code + [UInt8](repeating: 0x90, count: Int(Self.straddling) - 0x10_0000 - code.count)
        image += [0xB8, 0x04, 0x03, 0x02, 0x01]                            // mov eax, 0x01020304
        image += [0x01, 0xC3, 0x49]                                        // add ebx, eax; dec ecx
        image += [0x0F, 0x85] + withUnsafeBytes(of: (Self.straddling &- (Self.straddling + 14)).littleEndian, Array.init) // jnz straddling
        image += [0xE9] + withUnsafeBytes(of: (back &- (Self.straddling + 19)).littleEndian, Array.init) // jmp back
        return image
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
