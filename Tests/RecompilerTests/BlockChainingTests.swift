import XCTest
import CPU
import MMU
@testable import Recompiler

/// Chained blocks against the interpreter: loops that run without the
/// dispatcher, budgets that end a run in the middle of a chain, and code
/// rewritten under an existing chain.
final class BlockChainingTests: XCTestCase {
    let base: UInt32 = 0x10_0000

    func address(_ offset: UInt32) -> [UInt8] { withUnsafeBytes(of: (base + offset).littleEndian, Array.init) }

    /// ECX = 1000 down to 0, EAX += ECX, EDX ^= EAX over two blocks joined
    /// by a JMP.
    var loop: [UInt8] {
        [0xB9, 0xE8, 0x03, 0x00, 0x00,          //  0: mov ecx, 1000
         0x01, 0xC8,                            //  5: add eax, ecx
         0xEB, 0x05,                            //  7: jmp 14
         0xF4, 0xF4, 0xF4, 0xF4, 0xF4,          //  9: (not reached)
         0x31, 0xC2,                            // 14: xor edx, eax
         0x49,                                  // 16: dec ecx
         0x75, 0xF2,                            // 17: jnz 5
         0xF4]                                  // 19: hlt
    }

    func testLoopRunsChained() {
        let reference = EngineBench(), translated = EngineBench()
        for bench in [reference, translated] { bench.flat32(code: loop) }
        reference.run(recompiled: false, limit: 100_000)
        translated.run(recompiled: true, limit: 100_000)
        assertSameState(reference, translated, "loop")
        XCTAssertGreaterThan(translated.recompiler.chainedExits, 0)
        XCTAssertLessThan(translated.recompiler.blocksRun, 20, "the loop ran without returning to the dispatcher")
    }

    /// Runs of 7 instructions at a time end inside the chain; after each,
    /// the recompiler has retired exactly what the interpreter has.
    func testBudgetsEndChainsExactly() {
        let reference = EngineBench(), translated = EngineBench()
        for bench in [reference, translated] { bench.flat32(code: loop) }
        var total = 0
        while !reference.state.pointee.halted && total < 10_000 {
            let n = translated.recompiler.run(7)
            if !translated.state.pointee.halted { XCTAssertEqual(n, 7, "the whole budget, unless HLT came first") }
            for _ in 0..<n { reference.cpu.step() }
            total += n
            XCTAssertEqual(translated.cpu.instructionCount, reference.cpu.instructionCount)
            XCTAssertEqual(translated.cpu.eip, reference.cpu.eip, "after \(total)")
            XCTAssertEqual(translated.cpu.reg32(0), reference.cpu.reg32(0), "after \(total)")
            if translated.cpu.eip != reference.cpu.eip { break }
        }
    }

    /// A chained loop whose first block rewrites the second one, at
    /// `successor`, on the pass where ECX = 500: from then on the chain
    /// must run the new code (ADD 2 instead of ADD 1). Returns the
    /// recompiled bench, checked against the interpreter.
    func runRewrittenSuccessor(at successor: Int) -> EngineBench {
        func rel32(_ v: Int) -> [UInt8] { withUnsafeBytes(of: Int32(v).littleEndian, Array.init) }
        var program: [UInt8] = [0xB9, 0xE8, 0x03, 0x00, 0x00]                //  0: mov ecx, 1000
        program += [0x81, 0xF9, 0xF4, 0x01, 0x00, 0x00, 0x75, 0x07]          //  5: cmp ecx, 500; jne 20
        program += [0xC6, 0x05] + address(UInt32(successor + 2)) + [0x02]    // 13: mov byte [successor + 2], 2
        program += [0xE9] + rel32(successor - 25)                            // 20: jmp successor
        program += [UInt8](repeating: 0xF4, count: successor - program.count)
        program += [0x83, 0xC0, 0x01]                                        // successor: add eax, 1
        program += [0x49, 0x0F, 0x85] + rel32(5 - (successor + 10)) + [0xF4] // dec ecx; jnz 5; hlt
        let reference = EngineBench(), translated = EngineBench()
        for bench in [reference, translated] { bench.flat32(code: program); bench.cpu.setReg32(0, 0) }
        reference.run(recompiled: false, limit: 100_000)
        translated.run(recompiled: true, limit: 100_000)
        assertSameState(reference, translated, "successor rewritten at +\(successor)")
        XCTAssertEqual(translated.cpu.reg32(0), 1500)
        XCTAssertGreaterThan(translated.recompiler.chainedExits, 0)
        return translated
    }

    /// The successor in another page.
    func testRewrittenSuccessorUnderAChain() {
        let translated = runRewrittenSuccessor(at: 0x1000)
        XCTAssertLessThan(translated.recompiler.blocksRun, 30, "the jump to the rewritten block was linked again")
    }

    /// On one code page: links between its blocks enter past the
    /// successor's validity check, and the rewrite must still reach the
    /// chain (the writing block leaves, and both blocks are translated anew).
    func testRewrittenSuccessorOnTheSamePage() {
        let translated = runRewrittenSuccessor(at: 0x40)
        XCTAssertGreaterThan(translated.recompiler.chainedPastCheck, 0, "links on one page pass the check")
        XCTAssertLessThan(translated.recompiler.blocksRun, 30, "the loop ran chained before and after the rewrite")
    }

    /// A chained loop whose second block's page is remapped (as PAM or a
    /// BAR move would) to other RAM, holding ADD 2 instead of ADD 1, after
    /// 1200 instructions (300 ADDs): the chain must run what the page reads now.
    func testRemappedSuccessorUnderAChain() {
        func rel32(_ v: Int) -> [UInt8] { withUnsafeBytes(of: Int32(v).littleEndian, Array.init) }
        func successor(adding n: UInt8) -> [UInt8] {
            [0x83, 0xC0, n] + [0x49, 0x0F, 0x85] + rel32(5 - 0x100A) + [0xF4]   // add eax, n; dec ecx; jnz 5; hlt
        }
        var program: [UInt8] = [0xB9, 0xE8, 0x03, 0x00, 0x00]                   //  0: mov ecx, 1000
        program += [0xE9] + rel32(0x1000 - 10)                                  //  5: jmp 0x1000
        program += [UInt8](repeating: 0xF4, count: 0x1000 - program.count)
        program += successor(adding: 1)
        let other: UInt32 = 0x18_0000
        let reference = EngineBench(), translated = EngineBench()
        for bench in [reference, translated] {
            bench.flat32(code: program)
            bench.cpu.setReg32(0, 0)
            bench.memory.copyIn(other, successor(adding: 2))
        }
        reference.run(recompiled: false, limit: 1200)
        translated.run(recompiled: true, limit: 1200)
        XCTAssertEqual(translated.cpu.reg32(0), reference.cpu.reg32(0), "before the remap")
        for bench in [reference, translated] { bench.memory.mapRAM(at: base + 0x1000, size: 0x1000, ramOffset: Int(other)) }
        reference.run(recompiled: false, limit: 100_000)
        translated.run(recompiled: true, limit: 100_000)
        assertSameState(reference, translated, "remapped successor")
        XCTAssertEqual(translated.cpu.reg32(0), 300 + 2 * 700)
        XCTAssertGreaterThan(translated.recompiler.chainedExits, 0)
    }

    /// A block that jumps back to its own start (linked when it is emitted,
    /// past the code check): it runs without the dispatcher, and budgets
    /// of 5 still end it exactly where the interpreter is.
    func testSelfLoopKeepsItsBudget() {
        let selfLoop: [UInt8] = [0xB9, 0xE8, 0x03, 0x00, 0x00,   // 0: mov ecx, 1000
                                 0x01, 0xC8,                     // 5: add eax, ecx
                                 0x49,                           // 7: dec ecx
                                 0x75, 0xFB,                     // 8: jnz 5
                                 0xF4]                           // 10: hlt
        let reference = EngineBench(), translated = EngineBench()
        for bench in [reference, translated] { bench.flat32(code: selfLoop) }
        reference.run(recompiled: false, limit: 100_000)
        translated.run(recompiled: true, limit: 100_000)
        assertSameState(reference, translated, "self loop")
        XCTAssertLessThan(translated.recompiler.blocksRun, 10, "the loop ran without returning to the dispatcher")
        let stepped = EngineBench(), budgeted = EngineBench()
        for bench in [stepped, budgeted] { bench.flat32(code: selfLoop) }
        while !stepped.state.pointee.halted {
            let n = budgeted.recompiler.run(5)
            for _ in 0..<n { stepped.cpu.step() }
            XCTAssertEqual(budgeted.cpu.instructionCount, stepped.cpu.instructionCount)
            XCTAssertEqual(budgeted.cpu.eip, stepped.cpu.eip)
            XCTAssertEqual(budgeted.cpu.reg32(1), stepped.cpu.reg32(1))
            if n == 0 || budgeted.cpu.eip != stepped.cpu.eip { break }
        }
        XCTAssertTrue(budgeted.state.pointee.halted)
    }
}
