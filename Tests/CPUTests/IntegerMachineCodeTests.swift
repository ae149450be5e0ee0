import XCTest
@testable import CPU

/// The integer instructions run from machine code through the whole
/// interpreter — fetch, decode, `step`, fault handling — on the SDM's
/// worked examples and a few small programs.
final class IntegerMachineCodeTests: XCTestCase {
    var bench: CPUTestBench!

    override func setUp() { bench = CPUTestBench() }

    func testDaaExampleInRealMode() {
        // mov al,79h; mov bl,35h; add al,bl; daa
        let code: [UInt8] = [0xB0, 0x79, 0xB3, 0x35, 0x00, 0xD8, 0x27]
        bench.realMode(code: code)
        bench.run(until: 0x100 + UInt32(code.count))
        XCTAssertEqual(bench.cpu.reg8(R.al), 0x14)
        XCTAssertNotEqual(bench.state.pointee.eflags & EFLAGS.cf, 0)
        XCTAssertNotEqual(bench.state.pointee.eflags & EFLAGS.af, 0)
    }

    func testDivideByZeroRaisesVectorZeroAtTheDiv() {
        // xor ecx,ecx; div ecx
        bench.flat32(code: [0x31, 0xC9, 0xF7, 0xF1])
        bench.cpu.setReg32(R.eax, 1234)
        bench.cpu.step()
        bench.cpu.step()
        XCTAssertEqual(bench.exceptions.first?.vector, 0)
        XCTAssertEqual(bench.exceptions.first?.eip, 0x10_0002)
        XCTAssertEqual(bench.cpu.reg32(R.eax), 1234)
    }

    func testLoopSumsOneToTen() {
        // mov cx,10; xor ax,ax; l: add ax,cx; loop l
        let code: [UInt8] = [0xB9, 0x0A, 0x00, 0x31, 0xC0, 0x01, 0xC8, 0xE2, 0xFC]
        bench.realMode(code: code)
        bench.run(until: 0x100 + UInt32(code.count))
        XCTAssertEqual(bench.cpu.reg16(R.eax), 55)
        XCTAssertEqual(bench.cpu.reg16(R.ecx), 0)
    }

    func testCallAndReturn() {
        // 100: call 106; 103: jmp $; 105: nop; 106: inc ax; ret
        bench.realMode(code: [0xE8, 0x03, 0x00, 0xEB, 0xFE, 0x90, 0x40, 0xC3])
        bench.run(until: 0x103)
        XCTAssertEqual(bench.cpu.reg16(R.eax), 1)
        XCTAssertEqual(bench.cpu.reg16(R.esp), 0xFFF0)
    }

    func testRepMovsbBackwards() {
        // mov si,2004h; mov di,2006h; mov cx,5; std; rep movsb
        let code: [UInt8] = [0xBE, 0x04, 0x20, 0xBF, 0x06, 0x20, 0xB9, 0x05, 0x00, 0xFD, 0xF3, 0xA4]
        bench.realMode(code: code)
        bench.memory.copyIn(0x1_2000, Array("ABCDE".utf8))
        bench.run(until: 0x100 + UInt32(code.count))
        XCTAssertEqual(bench.memory.copyOut(0x1_2000, count: 7), Array("ABABCDE".utf8))
        XCTAssertEqual(bench.cpu.reg16(R.ecx), 0)
    }

    func testOperandSizePrefixedRepStosInRealMode() {
        // mov di,3000h; mov cx,3; mov eax,11223344h; rep stosd
        let code: [UInt8] = [0xBF, 0x00, 0x30, 0xB9, 0x03, 0x00,
                             0x66, 0xB8, 0x44, 0x33, 0x22, 0x11, 0x66, 0xF3, 0xAB]
        bench.realMode(code: code)
        bench.run(until: 0x100 + UInt32(code.count))
        XCTAssertEqual(bench.cpu.reg16(R.edi), 0x300C)
        XCTAssertEqual(bench.memory.read(0x1_3008, size: 4), 0x1122_3344)
        XCTAssertEqual(bench.memory.read(0x1_300C, size: 4), 0)
    }

    func testShldAndThreeOperandImul() {
        // shld eax,edx,8; imul ecx,ebx,-3
        let code: [UInt8] = [0x0F, 0xA4, 0xD0, 0x08, 0x6B, 0xCB, 0xFD]
        bench.flat32(code: code)
        bench.cpu.setReg32(R.eax, 0x1234_5678)
        bench.cpu.setReg32(R.edx, 0x9ABC_DEF0)
        bench.cpu.setReg32(R.ebx, 1000)
        bench.run(until: 0x10_0000 + UInt32(code.count))
        XCTAssertEqual(bench.cpu.reg32(R.eax), 0x3456_789A)
        XCTAssertEqual(Int32(bitPattern: bench.cpu.reg32(R.ecx)), -3000)
    }

    func testPushaThenPopaRestoresEverythingButESP() {
        // pusha; xor eax,eax; xor ebp,ebp; popa
        let code: [UInt8] = [0x60, 0x31, 0xC0, 0x31, 0xED, 0x61]
        bench.flat32(code: code)
        bench.cpu.setReg32(R.eax, 0xAAAA)
        bench.cpu.setReg32(R.ebp, 0xBBBB)
        bench.run(until: 0x10_0000 + UInt32(code.count))
        XCTAssertEqual(bench.cpu.reg32(R.eax), 0xAAAA)
        XCTAssertEqual(bench.cpu.reg32(R.ebp), 0xBBBB)
        XCTAssertEqual(bench.cpu.reg32(R.esp), 0x1F_0000)
        XCTAssertEqual(bench.memory.read(0x1F_0000 - 20, size: 4), 0x1F_0000) // the saved ESP slot
    }
}
