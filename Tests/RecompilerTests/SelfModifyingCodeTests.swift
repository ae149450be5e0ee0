import XCTest
import CPU
import MMU
@testable import Recompiler

/// Code that changes under translated blocks — patched by the block
/// itself, by a later block, through another linear alias of its page, or
/// copied over by a device (DMA) — and
/// faults inside blocks. Each program runs on the interpreter (the
/// reference) and on the recompiler; both must agree, and with the
/// values real hardware gives (P6 and later detect self-modifying code and
/// run the new bytes).
final class SelfModifyingCodeTests: XCTestCase {
    let base: UInt32 = 0x10_0000

    func address(_ offset: UInt32) -> [UInt8] { withUnsafeBytes(of: (base + offset).littleEndian, Array.init) }

    /// Runs `program` (flat 32-bit) on both engines and compares them.
    @discardableResult
    func runBoth(_ program: [UInt8], realMode: Bool = false, setUp: (EngineBench) -> Void = { _ in },
                 file: StaticString = #filePath, line: UInt = #line) -> (EngineBench, EngineBench) {
        let reference = EngineBench(), translated = EngineBench()
        for bench in [reference, translated] {
            if realMode { bench.realMode(code: program) } else { bench.flat32(code: program) }
            for r: UInt8 in 0..<8 where r != 4 { bench.cpu.setReg32(r, 0) }
            setUp(bench)
        }
        reference.run(recompiled: false, limit: 10_000)
        translated.run(recompiled: true, limit: 10_000)
        assertSameState(reference, translated, "program", file: file, line: line)
        return (reference, translated)
    }

    /// A loop whose body rewrites its own ADD's immediate: the first pass
    /// adds 1, the next two add 5.
    func testBlockRewritesItsOwnInstruction() {
        let program: [UInt8] = [0x83, 0xC0, 0x01]                       //  0: add eax, 1
            + [0xC6, 0x05] + address(2) + [0x05]                        //  3: mov byte [add+2], 5
            + [0x41, 0x83, 0xF9, 0x03, 0x75, 0xF0, 0xF4]                // 10: inc ecx; cmp ecx, 3; jne 0; hlt
        let (_, translated) = runBoth(program)
        XCTAssertEqual(translated.cpu.reg32(0), 11)
        XCTAssertGreaterThan(translated.recompiler.blocksRun, 3, "the loop ran as blocks")
    }

    /// A store that patches the very next instruction of the same block.
    func testStoreToTheNextInstruction() {
        let program: [UInt8] = [0xC6, 0x05] + address(9) + [0x42]       //  0: mov byte [9], 0x42
            + [0x90, 0xB0, 0x00, 0xF4]                                  //  7: nop; mov al, 0 → mov al, 0x42; hlt
        let (_, translated) = runBoth(program)
        XCTAssertEqual(translated.cpu.reg32(0) & 0xFF, 0x42)
    }

    /// Code replaced by a device copy (DMA) between runs: the next run
    /// executes the new bytes, not the old translation.
    func testCodeReplacedByDMA() {
        let bench = EngineBench()
        bench.flat32(code: [0xB8, 0x01, 0x00, 0x00, 0x00, 0xF4])          // mov eax, 1; hlt
        bench.run(recompiled: true, limit: 100)
        XCTAssertEqual(bench.cpu.reg32(0), 1)
        bench.memory.copyIn(base, [0xB8, 0x02, 0x00, 0x00, 0x00, 0xF4])  // mov eax, 2; hlt
        bench.state.pointee.halted = false
        bench.state.pointee.rip = UInt64(base)
        bench.run(recompiled: true, limit: 100)
        XCTAssertEqual(bench.cpu.reg32(0), 2)
    }

    /// With paging on, the loop of `testBlockRewritesItsOwnInstruction`
    /// patches its ADD through a second linear mapping of the code's
    /// physical page (at 4 MiB): the code tracking is physical, so the
    /// translated block sees the new immediate though no store went to
    /// its own linear address.
    func testCodeRewrittenThroughAnotherLinearAlias() {
        let alias: UInt32 = 0x40_0000, aliasTable: UInt32 = 0x6000
        let patchTarget = withUnsafeBytes(of: (alias + 2).littleEndian, Array.init)
        let program: [UInt8] = [0x83, 0xC0, 0x01]                       //  0: add eax, 1
            + [0xC6, 0x05] + patchTarget + [0x05]                       //  3: mov byte [alias+2], 5
            + [0x41, 0x83, 0xF9, 0x03, 0x75, 0xF0, 0xF4]                // 10: inc ecx; cmp ecx, 3; jne 0; hlt
        let (reference, translated) = runBoth(program) { bench in
            PagingDifferentialTests.enablePaging(bench)
            bench.memory.copyIn(PagingDifferentialTests.pageDirectory + 4, withUnsafeBytes(of: (aliasTable | 0x3).littleEndian, Array.init))
            bench.memory.copyIn(aliasTable, withUnsafeBytes(of: (self.base | 0x3).littleEndian, Array.init))
        }
        XCTAssertEqual(reference.cpu.reg32(0), 11, "the reference ran the patched code")
        XCTAssertEqual(translated.cpu.reg32(0), 11)
        XCTAssertEqual(translated.memory.copyOut(base + 2, count: 1), [5], "the store reached the code's physical page")
        XCTAssertGreaterThan(translated.recompiler.blocksRun, 3, "the loop ran as blocks")
    }

    /// A loop whose stack shares its code's page, as a boot sector's does
    /// (real mode, through SS's base) and as a small flat program's may:
    /// its pushes miss the code's lines, so after the first (which fills
    /// the host TLB) they are stored by the watched-page stub, not the
    /// helper; memory and state as on the interpreter.
    func testStoresBesideCodeOnItsPageNeedNoHelper() {
        // 16-bit registers and 2-byte pushes in real mode, 32-bit in flat.
        let loop: [UInt8] = [0x51, 0x5A, 0x01, 0xD0,                    // push ecx; pop edx; add eax, edx
                             0x41, 0x83, 0xF9, 0x64, 0x75, 0xF6, 0xF4]  // inc ecx; cmp ecx, 100; jne 0; hlt
        for realMode in [true, false] {
            let (codePage, stackTop): (UInt32, UInt32) = realMode ? (0x1_0000, 0xF00) : (base, base + 0xF00)
            let (reference, translated) = runBoth(loop, realMode: realMode) { $0.cpu.setReg32(4, stackTop) }
            XCTAssertEqual(translated.cpu.reg32(0), 4950, "real mode: \(realMode)")
            XCTAssertNil(firstDifference(translated.memory.copyOut(codePage, count: 4096),
                                         reference.memory.copyOut(codePage, count: 4096)), "real mode: \(realMode)")
            XCTAssertLessThan(translated.recompiler.helperStores, 5, "real mode: \(realMode): pushes beside the code")
        }
    }

    /// The stub checks the last byte's line too: a dword store whose first
    /// byte is in a line without code and whose last byte is an ADD's
    /// immediate, one line on. Each pass adds 1 to the immediate, so the
    /// passes add 1, 2 and 3.
    func testStoreWhoseLastByteReachesCode() {
        let program = [UInt8](repeating: 0x90, count: 0x40)             // line 0: never run
            + [0x83, 0xC0, 0x01]                                        // 40: add eax, 1
            + [0x81, 0x05] + address(0x3F) + [0x00, 0x00, 0x00, 0x01]   // 43: add dword [3F], 0x01000000
            + [0x41, 0x83, 0xF9, 0x03, 0x75, 0xED, 0xF4]                // 4D: inc ecx; cmp ecx, 3; jne 40; hlt
        let (_, translated) = runBoth(program) { $0.state.pointee.rip = UInt64(self.base + 0x40) }
        XCTAssertEqual(translated.cpu.reg32(0), 6)
    }

    /// And the first byte's: a word store whose first byte is a JMP's
    /// displacement at the end of a line and whose second byte is in a
    /// line without code. Each pass moves the jump one INC further on.
    func testStoreWhoseFirstByteReachesCode() {
        var program = [UInt8](repeating: 0x90, count: 0x40)             // line 0: never run
        program += [UInt8](repeating: 0x40, count: 32)                  // 40: inc eax × 32
        program += [0x66, 0x83, 0x05] + address(0x7F) + [0x01]          // 60: add word [7F], 1
        program += [0x41, 0x83, 0xF9, 0x03, 0x75, 0x10, 0xF4]           // 68: inc ecx; cmp ecx, 3; jne 7E; hlt
        program += [UInt8](repeating: 0x90, count: 0x7E - program.count) + [0xEB, 0xC0] // 7E: jmp 40
        let (_, translated) = runBoth(program) { $0.state.pointee.rip = UInt64(self.base + 0x40) }
        XCTAssertEqual(translated.cpu.reg32(0), 32 + 31 + 30)
    }

    /// A watched write entry goes with an INVLPG like any other: a page
    /// holding code (a RET, called once) and data is stored to, remapped
    /// to another frame (its PTE rewritten, then INVLPG), and stored to
    /// again; the second store reaches the new frame.
    func testRemappedWatchedPageTakesTheNewFrame() {
        func le(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
        let shared: UInt32 = 0x18_0000, newFrame: UInt32 = 0x19_0000, data = shared + 0x800
        let pte = PagingDifferentialTests.pageTable + 4 * (shared >> 12)
        let program: [UInt8] = [0xE8] + le(shared &- (base + 5))     // call the RET on the shared page
            + [0xC7, 0x05] + le(data) + le(1)                           // mov dword [data], 1
            + [0xC7, 0x05] + le(pte) + le(newFrame | 7)                 // mov dword [pte], new frame
            + [0x0F, 0x01, 0x3D] + le(data)                             // invlpg [data]
            + [0xC7, 0x05] + le(data) + le(2) + [0xF4]                  // mov dword [data], 2; hlt
        let (reference, translated) = runBoth(program) { bench in
            PagingDifferentialTests.enablePaging(bench)
            bench.memory.copyIn(shared, [0xC3])
        }
        XCTAssertEqual(reference.memory.copyOut(newFrame + 0x800, count: 1), [2], "the reference stored to the new frame")
        for frame in [shared, newFrame] {
            XCTAssertEqual(translated.memory.copyOut(frame + 0x800, count: 4), reference.memory.copyOut(frame + 0x800, count: 4))
        }
    }

    /// A load past DS's limit inside a block, after an ADD whose flags the
    /// block still held: #GP at the load's IP, with the ADD's flags in the
    /// pushed FLAGS image and its result in AX.
    func testFaultInsideABlockIsExact() {
        // Real mode at 1000:0100; the #GP handler (IVT 13) at 1000:0200 is HLT.
        var program: [UInt8] = [0x01, 0xD8,                             // add ax, bx
                                0x8B, 0x0E, 0xFF, 0xFF,                 // mov cx, [0xFFFF]: crosses the limit
                                0x41, 0xF4]                             // inc cx; hlt (not reached)
        program += [UInt8](repeating: 0x90, count: 0x100 - program.count) + [0xF4]
        let (reference, translated) = runBoth(program, realMode: true) { bench in
            bench.memory.copyIn(13 * 4, [0x00, 0x02, 0x00, 0x10])
            bench.cpu.setReg32(0, 0x8000)
            bench.cpu.setReg32(3, 0x8000)
        }
        XCTAssertEqual(translated.exceptions.map(\.vector), [13])
        XCTAssertEqual(translated.exceptions.first?.eip, 0x102)
        XCTAssertEqual(translated.memory.copyOut(0x1_3FFA, count: 6), reference.memory.copyOut(0x1_3FFA, count: 6),
                       "the exception frame (IP, CS, FLAGS)")
        XCTAssertEqual(translated.cpu.reg32(0) & 0xFFFF, 0)
    }
}
