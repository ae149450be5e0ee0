import XCTest
import CPU
import MMU
@testable import Recompiler

/// Flags an instruction composes (IMUL: SF, ZF, PF of the product; the
/// shifts: AF cleared) are skipped when the next instruction overwrites
/// them all. Against the interpreter, each producer is followed once by
/// an instruction that overwrites the flags and once by one that does not
/// (MOV), and the flags are read with PUSHFD after both. On hosts whose
/// IMUL and SHL leave those flags otherwise (AMD's do), a skipped
/// composition that was still needed shows in the images.
final class FlagLivenessTests: XCTestCase {
    func testComposedFlagsSurviveWhereTheyAreRead() {
        let imul: [UInt8] = [0x69, 0xC0, 0xB1, 0x79, 0x37, 0x9E]               // imul eax, eax, 0x9E3779B1
        let shl: [UInt8] = [0xC1, 0xE0, 0x03]                                   // shl eax, 3
        var code: [UInt8] = []
        for (producer, seed) in [(imul, UInt8(0x57)), (shl, UInt8(1)), (imul, UInt8(1)), (shl, UInt8(0x13))] {
            code += [0xB8, seed, 0, 0, 0] + producer + [0x89, 0xCB]             // mov eax, seed; producer; mov ebx, ecx
            code += [0x9C, 0x5A, 0x01, 0xD6]                                    // pushfd; pop edx; add esi, edx
            code += [0xB8, seed, 0, 0, 0] + producer + [0x83, 0xC0, 0x00]       // mov eax, seed; producer; add eax, 0
            code += [0x9C, 0x5A, 0x01, 0xD7]                                    // pushfd; pop edx; add edi, edx
            code += [0xB8, seed, 0, 0, 0] + producer + producer                 // producer twice: the first is dead
            code += [0x9C, 0x5A, 0x01, 0xD5]                                    // pushfd; pop edx; add ebp, edx
        }
        code += [0xF4]
        let reference = EngineBench(), translated = EngineBench()
        for bench in [reference, translated] { bench.flat32(code: code) }
        reference.run(recompiled: false, limit: 10_000)
        translated.run(recompiled: true, limit: 10_000)
        assertSameState(reference, translated, "IMUL and SHL followed by MOV, ADD and themselves")
    }
}
