import XCTest
import CPU
import MMU
@testable import Recompiler

/// Chained exits between linear pages with paging on, against the
/// interpreter: a loop jumps from its page to a routine in another linear
/// page and back, chained both ways (or, for the jump there, through the
/// jump cache: JMP EDX); then the guest maps that page to other code (a
/// CR3 switch, or a PTE rewrite and INVLPG) and runs the loop again. The
/// jumps must reach the new mapping's code, as the interpreter's fresh
/// translation does.
final class CrossPageChainingTests: XCTestCase {
    /// The routine's linear page and the two physical pages it maps to.
    static let routine: UInt32 = 0x30_0000
    static let firstCode: UInt32 = 0x18_0000
    static let secondCode: UInt32 = 0x19_0000
    /// Two page directories (each with one table for the low 4 MiB, identity
    /// but for the routine's page): the routine at `firstCode`, and at
    /// `secondCode`.
    static let firstDirectory: UInt32 = 0x1000, firstTable: UInt32 = 0x2000
    static let secondDirectory: UInt32 = 0x5000, secondTable: UInt32 = 0x6000
    static let loop: UInt32 = 0x10_0000 + 10

    func rel32(from next: UInt32, to target: UInt32) -> [UInt8] {
        withUnsafeBytes(of: (target &- next).littleEndian, Array.init)
    }

    func imm32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }

    /// The jump to the routine: JMP rel32, or MOV EDX, routine; JMP EDX.
    func jumpToRoutine(indirect: Bool, from at: UInt32 = CrossPageChainingTests.loop) -> [UInt8] {
        indirect ? [0xBA] + imm32(Self.routine) + [0xFF, 0xE2] : [0xE9] + rel32(from: at + 5, to: Self.routine)
    }

    /// Where the routine jumps back to.
    func back(indirect: Bool) -> UInt32 { Self.loop + UInt32(jumpToRoutine(indirect: indirect).count) }

    /// Two passes of 100 round trips to the routine (EAX += 1 from the
    /// first mapping, += 100 from the second); `remap` runs between them.
    func program(remap: [UInt8], indirect: Bool) -> [UInt8] {
        var code: [UInt8] = [0xBE] + imm32(2)                              //  0: mov esi, 2
        code += [0xB9] + imm32(100)                                         //  5: mov ecx, 100
        code += jumpToRoutine(indirect: indirect)                           // 10: to the routine
        code += [0x49, 0x75]                                                //     back: dec ecx; jnz 10
        code += [UInt8(bitPattern: Int8(10 - (code.count + 1)))]
        code += remap
        code += [0x4E, 0x75]                                                //     dec esi; jnz 5
        code += [UInt8(bitPattern: Int8(5 - (code.count + 1)))]
        return code + [0xF4]                                                //     hlt
    }

    func routine(adding n: UInt8, back: UInt32) -> [UInt8] {
        [0x83, 0xC0, n] + [0xE9] + rel32(from: Self.routine + 8, to: back)  // add eax, n; jmp back
    }

    func bench(remap: [UInt8], indirect: Bool) -> EngineBench {
        let bench = EngineBench()
        bench.flat32(code: program(remap: remap, indirect: indirect))
        func write32(_ address: UInt32, _ value: UInt32) { bench.memory.copyIn(address, imm32(value)) }
        for (directory, table, code) in [(Self.firstDirectory, Self.firstTable, Self.firstCode),
                                         (Self.secondDirectory, Self.secondTable, Self.secondCode)] {
            write32(directory, table | 3)
            for page: UInt32 in 0..<1024 { write32(table + 4 * page, page << 12 | 3) }
            write32(table + 4 * (Self.routine >> 12), code | 3)
        }
        bench.memory.copyIn(Self.firstCode, routine(adding: 1, back: back(indirect: indirect)))
        bench.memory.copyIn(Self.secondCode, routine(adding: 100, back: back(indirect: indirect)))
        bench.state.pointee.cr3 = UInt64(Self.firstDirectory)
        bench.state.pointee.cr0 |= 0x8000_0000
        return bench
    }

    func check(remap: [UInt8], indirect: Bool = false, _ context: String) {
        let reference = bench(remap: remap, indirect: indirect), translated = bench(remap: remap, indirect: indirect)
        reference.run(recompiled: false, limit: 10_000)
        translated.run(recompiled: true, limit: 10_000)
        assertSameState(reference, translated, context)
        XCTAssertEqual(translated.cpu.reg32(0), 100 * 1 + 100 * 100, "the second pass ran the new mapping's code: \(context)")
        XCTAssertLessThan(translated.recompiler.blocksRun, 50, "the round trips ran chained: \(context)")
    }

    func testChainedJumpsFollowACR3Switch() {
        // mov ebx, secondDirectory; mov cr3, ebx
        check(remap: [0xBB] + imm32(Self.secondDirectory) + [0x0F, 0x22, 0xDB], "CR3 switch")
    }

    var invalidatePTE: [UInt8] {
        // mov dword [PTE of routine], secondCode | 3; invlpg [routine]
        let pte = Self.firstTable + 4 * (Self.routine >> 12)
        return [0xC7, 0x05] + imm32(pte) + imm32(Self.secondCode | 3) + [0x0F, 0x01, 0x3D] + imm32(Self.routine)
    }

    func testChainedJumpsFollowAnInvalidatedPTE() {
        check(remap: invalidatePTE, "PTE rewrite and INVLPG")
    }

    func testIndirectJumpsFollowACR3Switch() {
        check(remap: [0xBB] + imm32(Self.secondDirectory) + [0x0F, 0x22, 0xDB], indirect: true, "JMP EDX, CR3 switch")
    }

    func testIndirectJumpsFollowAnInvalidatedPTE() {
        check(remap: invalidatePTE, indirect: true, "JMP EDX, PTE rewrite and INVLPG")
    }

    /// Global pages (CR4.PGE, PTE bit G), as a kernel maps its code: a
    /// loop reloads CR3 on every pass, as context switches do, and jumps
    /// to a routine in another page and back, directly and through the
    /// jump cache. A CR3 write keeps global translations, so the links
    /// between the pages stay: each pass enters the dispatcher once (after
    /// the MOV CR3), not once per jump.
    func testLinksBetweenGlobalPagesSurviveCR3Writes() {
        for indirect in [false, true] {
            func bench() -> EngineBench {
                let bench = EngineBench()
                var code: [UInt8] = [0xB9] + imm32(200)                        //  0: mov ecx, 200
                code += [0x0F, 0x20, 0xD8, 0x0F, 0x22, 0xD8]                   //  5: mov eax, cr3; mov cr3, eax
                code += jumpToRoutine(indirect: indirect, from: 0x10_0000 + 11) // 11: to the routine
                let back = UInt32(0x10_0000 + code.count)
                code += [0x49, 0x75, UInt8(bitPattern: Int8(5 - (code.count + 2)))] // dec ecx; jnz 5
                code += [0xF4]
                bench.flat32(code: code)
                bench.memory.copyIn(Self.firstCode, [0x83, 0xC3, 0x01, 0xE9] + rel32(from: Self.routine + 8, to: back)) // add ebx, 1; jmp back
                bench.memory.copyIn(Self.firstDirectory, imm32(Self.firstTable | 3))
                for page: UInt32 in 0..<1024 { bench.memory.copyIn(Self.firstTable + 4 * page, imm32(page << 12 | 0x103)) }
                bench.memory.copyIn(Self.firstTable + 4 * (Self.routine >> 12), imm32(Self.firstCode | 0x103))
                bench.state.pointee.cr3 = UInt64(Self.firstDirectory)
                bench.state.pointee.cr4 |= 1 << 7 // PGE
                bench.state.pointee.cr0 |= 0x8000_0000
                return bench
            }
            let reference = bench(), translated = bench()
            reference.run(recompiled: false, limit: 10_000)
            translated.run(recompiled: true, limit: 10_000)
            let context = indirect ? "JMP EDX between global pages" : "JMP between global pages"
            assertSameState(reference, translated, context)
            XCTAssertEqual(translated.cpu.reg32(3), 200, context)
            XCTAssertLessThan(translated.recompiler.blocksRun, 300, "one dispatcher entry per pass: \(context)")
        }
    }

    /// INVLPG goes on in its block unless it flushed a page code was looked
    /// up on. Here the code remaps its own page (PTE rewrite, INVLPG): the
    /// next instruction must come from the new frame. And INVLPG of a data
    /// page, in a loop, must not send each pass through the dispatcher.
    func testInvalidatingItsOwnPageLeavesTheBlockAndADataPageDoesNot() {
        func bench(_ code: [UInt8], atRoutine routineCode: [UInt8] = [], second: [UInt8] = []) -> EngineBench {
            let bench = EngineBench()
            bench.flat32(code: code)
            bench.memory.copyIn(Self.firstCode, routineCode)
            bench.memory.copyIn(Self.secondCode, second)
            bench.memory.copyIn(Self.firstDirectory, imm32(Self.firstTable | 3))
            for page: UInt32 in 0..<1024 { bench.memory.copyIn(Self.firstTable + 4 * page, imm32(page << 12 | 3)) }
            bench.memory.copyIn(Self.firstTable + 4 * (Self.routine >> 12), imm32(Self.firstCode | 3))
            bench.state.pointee.cr3 = UInt64(Self.firstDirectory)
            bench.state.pointee.cr0 |= 0x8000_0000
            return bench
        }
        // At the routine: remap its page to the second frame, then MOV EAX (1 here, 2 there); HLT.
        let remap = invalidatePTE
        func remapping() -> EngineBench {
            bench([0xE9] + rel32(from: 0x10_0005, to: Self.routine),
                  atRoutine: remap + [0xB8] + imm32(1) + [0xF4],
                  second: Array(repeating: 0x90, count: remap.count) + [0xB8] + imm32(2) + [0xF4])
        }
        let own = remapping(), ownReference = remapping()
        ownReference.run(recompiled: false, limit: 1_000)
        own.run(recompiled: true, limit: 1_000)
        assertSameState(ownReference, own, "INVLPG of the block's own page")
        XCTAssertEqual(own.cpu.reg32(0), 2, "the instruction after INVLPG came from the new frame")

        // mov ecx, 1000; invlpg [200000h]; dec ecx; jnz back; hlt
        let loop: [UInt8] = [0xB9] + imm32(1000) + [0x0F, 0x01, 0x3D] + imm32(0x20_0000) + [0x49, 0x75, 0xF6, 0xF4]
        let data = bench(loop), dataReference = bench(loop)
        dataReference.run(recompiled: false, limit: 10_000)
        data.run(recompiled: true, limit: 10_000)
        assertSameState(dataReference, data, "INVLPG of a data page")
        XCTAssertLessThan(data.recompiler.blocksRun, 20, "INVLPG of a data page stays in the chain")
    }
}
