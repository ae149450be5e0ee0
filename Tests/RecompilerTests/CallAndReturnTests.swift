import XCTest
import CPU
import MMU
@testable import Recompiler

/// Near calls and returns against the interpreter: frames in 32-bit and
/// 16-bit code, RET imm16, CALL and JMP through registers and memory, and
/// a RET, JMP or CALL whose target lies past the CS limit (#GP at the
/// instruction, from the interpreter the translation hands it to).
final class CallAndReturnTests: XCTestCase {
    func run(_ program: [UInt8], realMode: Bool, setUp: (EngineBench) -> Void = { _ in }) -> EngineBench {
        let reference = EngineBench(), translated = EngineBench()
        for bench in [reference, translated] {
            if realMode { bench.realMode(code: program) } else { bench.flat32(code: program) }
            for r: UInt8 in 0..<8 where r != 4 { bench.cpu.setReg32(r, UInt32(r) * 0x1111) }
            setUp(bench)
        }
        reference.run(recompiled: false, limit: 10_000)
        translated.run(recompiled: true, limit: 10_000)
        assertSameState(reference, translated, realMode ? "16-bit" : "32-bit")
        let stack: UInt32 = realMode ? 0x1_4000 : 0x1F_0000
        XCTAssertNil(firstDifference(translated.memory.copyOut(stack - 0x40, count: 0x40),
                                     reference.memory.copyOut(stack - 0x40, count: 0x40)), "stack")
        return translated
    }

    /// call f; push ecx; call g; inc esi; hlt — f: push eax; pop ebx; ret —
    /// g: push edx; pop edi; ret 4 (drops the pushed ECX).
    func testFrames32() {
        let program: [UInt8] = [0xE8, 0x08, 0x00, 0x00, 0x00,  //  0: call 13
                                0x51,                          //  5: push ecx
                                0xE8, 0x05, 0x00, 0x00, 0x00,  //  6: call 16
                                0x46, 0xF4,                    // 11: inc esi; hlt
                                0x50, 0x5B, 0xC3,              // 13: f
                                0x52, 0x5F, 0xC2, 0x04, 0x00]  // 16: g
        let bench = run(program, realMode: false)
        XCTAssertEqual(bench.cpu.reg32(3), 0, "EBX = EAX")
        XCTAssertEqual(bench.cpu.reg32(4), 0x1F_0000, "ESP back where it was")
        XCTAssertEqual(bench.recompiler.fallbackCounts.map(\.op), [.hlt], bench.recompiler.report)
    }

    /// The same in real mode: rel16 calls, 16-bit stack, RET 2.
    func testFrames16() {
        let program: [UInt8] = [0xE8, 0x06, 0x00,              //  0: call 9
                                0x51,                          //  3: push cx
                                0xE8, 0x05, 0x00,              //  4: call 12
                                0x46, 0xF4,                    //  7: inc si; hlt
                                0x50, 0x5B, 0xC3,              //  9: f
                                0x52, 0x5F, 0xC2, 0x02, 0x00]  // 12: g
        let bench = run(program, realMode: true)
        XCTAssertEqual(bench.cpu.reg32(4) & 0xFFFF, 0x4000)
        XCTAssertEqual(bench.recompiler.fallbackCounts.map(\.op), [.hlt], bench.recompiler.report)
    }

    /// A frame built with PUSH EBP / MOV EBP, ESP and torn down by LEAVE,
    /// in 32-bit and (with 66h) 16-bit operand size.
    func testFramesWithLeave() {
        let program: [UInt8] = [0xE8, 0x01, 0x00, 0x00, 0x00,  //  0: call 6
                                0xF4,                          //  5: hlt
                                0x55, 0x89, 0xE5,              //  6: push ebp; mov ebp, esp
                                0x6A, 0x11, 0x6A, 0x22,        //  9: push 0x11; push 0x22
                                0x66, 0x55, 0x66, 0x89, 0xE5,  // 13: push bp; mov bp, sp
                                0x66, 0x6A, 0x33,              // 18: push word 0x33
                                0x66, 0xC9,                    // 21: leave (16-bit: BP ← pop word)
                                0xC9, 0xC3]                    // 23: leave; ret
        let bench = run(program, realMode: false)
        XCTAssertEqual(bench.cpu.reg32(4), 0x1F_0000)
        XCTAssertEqual(bench.recompiler.fallbackCounts.map(\.op), [.hlt], bench.recompiler.report)
    }

    /// LEAVE on a 16-bit stack.
    func testFrameWithLeave16() {
        let program: [UInt8] = [0xE8, 0x01, 0x00,              // 0: call 4
                                0xF4,                          // 3: hlt
                                0x55, 0x89, 0xE5, 0x6A, 0x11,  // 4: push bp; mov bp, sp; push 0x11
                                0xC9, 0xC3]                    // 9: leave; ret
        let bench = run(program, realMode: true)
        XCTAssertEqual(bench.cpu.reg32(4) & 0xFFFF, 0x4000)
        XCTAssertEqual(bench.recompiler.fallbackCounts.map(\.op), [.hlt], bench.recompiler.report)
    }

    /// JMP through a register and through memory, 32-bit.
    func testIndirectJumps() {
        let base: UInt32 = 0x10_0000
        func address(_ offset: UInt32) -> [UInt8] { withUnsafeBytes(of: (base + offset).littleEndian, Array.init) }
        let program: [UInt8] = [0xB8] + address(9) + [0xFF, 0xE0, 0xF4, 0xF4]    //  0: mov eax, 9; jmp eax; hlt; hlt
            + [0x41, 0xFF, 0x25] + address(17) + [0xF4]                         //  9: inc ecx; jmp [17]; hlt
            + address(21) + [0x42, 0xF4]                                        // 17: dd 21; 21: inc edx; hlt
        let bench = run(program, realMode: false)
        XCTAssertEqual(bench.cpu.eip, base + 23)
        XCTAssertEqual(bench.recompiler.fallbackCounts.map(\.op), [.hlt], bench.recompiler.report)
    }

    /// CALL through a register and through memory, 32-bit.
    func testIndirectCalls() {
        let base: UInt32 = 0x10_0000
        func address(_ offset: UInt32) -> [UInt8] { withUnsafeBytes(of: (base + offset).littleEndian, Array.init) }
        let program: [UInt8] = [0xB8] + address(14) + [0xFF, 0xD0]             //  0: mov eax, 14; call eax
            + [0xFF, 0x15] + address(17) + [0xF4]                               //  7: call [17]; hlt
            + [0x41, 0xC3, 0xF4] + address(21) + [0x42, 0xC3]                   // 14: inc ecx; ret; hlt; 17: dd 21; 21: inc edx; ret
        let bench = run(program, realMode: false)
        XCTAssertEqual(bench.cpu.eip, base + 14, "after the HLT")
        XCTAssertEqual(bench.cpu.reg32(1), 0x1111 + 1)
        XCTAssertEqual(bench.cpu.reg32(2), 0x2222 + 1)
        XCTAssertEqual(bench.recompiler.fallbackCounts.map(\.op), [.hlt], bench.recompiler.report)
    }

    /// CALL r16 on a 16-bit stack.
    func testIndirectCall16() {
        let program: [UInt8] = [0xB8, 0x06, 0x01, 0xFF, 0xD0,  // 100h: mov ax, 106h; call ax
                                0xF4,                          // 105h: hlt
                                0x41, 0xC3]                    // 106h: inc cx; ret
        let bench = run(program, realMode: true)
        XCTAssertEqual(bench.cpu.reg32(1) & 0xFFFF, 0x1111 + 1)
        XCTAssertEqual(bench.recompiler.fallbackCounts.map(\.op), [.hlt], bench.recompiler.report)
    }

    /// A CALL r/m whose push rewrites code the block was translated from:
    /// the block leaves after the push, for the call's target.
    func testIndirectCallWhosePushRewritesCode() {
        let base: UInt32 = 0x10_0000
        func address(_ offset: UInt32) -> [UInt8] { withUnsafeBytes(of: (base + offset).littleEndian, Array.init) }
        let program: [UInt8] = [0xBC] + address(4)                             //  0: mov esp, base + 4
            + [0xB8] + address(13) + [0xFF, 0xD0, 0xF4]                         //  5: mov eax, 13; call eax; hlt
            + [0x41, 0xC3]                                                      // 13: inc ecx; ret
        let bench = run(program, realMode: false)
        XCTAssertEqual(bench.cpu.eip, base + 13, "after the HLT")
        XCTAssertEqual(bench.cpu.reg32(1), 0x1111 + 1)
    }

    /// A 16-bit CALL or JMP through AX to an address past the limit of a
    /// small CS faults (#GP at the instruction, before a CALL pushes).
    func checkBranchThroughAXPastTheLimitFaults(_ modrm: UInt8) {
        var program: [UInt8] = [0xB8, 0x00, 0xF0,       // mov ax, 0xF000 (beyond CS limit 0x7FFF)
                                0xFF, modrm]            // call ax (D0) / jmp ax (E0)
        program += [UInt8](repeating: 0x90, count: 0x100 - program.count) + [0xF4]
        let bench = run(program, realMode: true) { bench in
            bench.cpu.segment(.cs).pointee.limit = 0x7FFF
            bench.memory.copyIn(13 * 4, [0x00, 0x02, 0x00, 0x10])
        }
        XCTAssertEqual(bench.exceptions.map(\.vector), [13])
        XCTAssertEqual(bench.exceptions.first?.eip, 0x103)
    }

    func testIndirectCallPastTheLimitFaults() { checkBranchThroughAXPastTheLimitFaults(0xD0) }

    func testIndirectJumpPastTheLimitFaults() { checkBranchThroughAXPastTheLimitFaults(0xE0) }

    func testReturnPastTheLimitFaults() {
        // Real mode: 66 C3 pops a 32-bit address 0x12345 > CS limit 0xFFFF.
        var program: [UInt8] = [0x66, 0x68, 0x45, 0x23, 0x01, 0x00,  // push dword 0x12345
                                0x66, 0xC3]                          // ret (32-bit)
        program += [UInt8](repeating: 0x90, count: 0x100 - program.count) + [0xF4]
        let bench = run(program, realMode: true) { bench in
            bench.memory.copyIn(13 * 4, [0x00, 0x02, 0x00, 0x10]) // #GP handler at 1000:0200: HLT
        }
        XCTAssertEqual(bench.exceptions.map(\.vector), [13])
        XCTAssertEqual(bench.exceptions.first?.eip, 0x106)
    }
}
