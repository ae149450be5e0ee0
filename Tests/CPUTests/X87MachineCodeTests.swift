import XCTest
@testable import CPU

/// x87 programs as machine code, through the decoder and the step loop.
final class X87MachineCodeTests: XCTestCase {
    func testOnePlusPiStoredAsDouble() {
        let b = CPUTestBench()
        let code: [UInt8] = [
            0xD9, 0xE8,                         // fld1
            0xD9, 0xEB,                         // fldpi
            0xDE, 0xC1,                         // faddp st(1), st
            0xDD, 0x1D, 0x00, 0x20, 0x00, 0x00, // fstp qword [0x2000]
            0xDF, 0xE0,                         // fnstsw ax
        ]
        b.flat32(code: code)
        b.run(until: 0x10_0000 + UInt32(code.count))
        XCTAssertTrue(b.exceptions.isEmpty)
        // 1 + π correctly rounded to a double.
        XCTAssertEqual(b.memory.copyOut(0x2000, count: 8), [0x8C, 0x16, 0x22, 0xAA, 0xFD, 0x90, 0x10, 0x40])
        // Stack empty again (TOP 0), #P from the store, C1: rounded down.
        XCTAssertEqual(b.cpu.reg16(0), 0x0020)
    }

    func testUnmaskedZeroDivideRaisesMFAtTheFollowingFWAIT() {
        let b = CPUTestBench()
        let code: [UInt8] = [
            0xD9, 0x2D, 0x00, 0x30, 0x00, 0x00, // fldcw [0x3000]  (037Bh: #Z unmasked)
            0xD9, 0xE8,                         // fld1
            0xD9, 0xEE,                         // fldz
            0xDE, 0xF9,                         // fdivp st(1), st  → 1/0, pending
            0x9B,                               // fwait            → #MF here
        ]
        b.flat32(code: code)
        b.cpu.state.pointee.cr0 |= CPU.cr0NE
        b.memory.copyIn(0x3000, [0x7B, 0x03])
        b.run(until: 0x10_0000 + UInt32(code.count), limit: 5)
        XCTAssertEqual(b.exceptions.first?.vector, 16)
        XCTAssertEqual(b.exceptions.first?.eip, 0x10_000C, "a fault: reported at the FWAIT")
        XCTAssertEqual(b.cpu.fpuInstructionOffset, 0x10_000A, "FIP names the FDIVP")
        XCTAssertEqual(b.cpu.fpuOpcode, 0x6F9, "FOP: DE F9")
    }
}
