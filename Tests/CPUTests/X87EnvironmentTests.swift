import XCTest
@testable import CPU

/// Control and status words, environment and state images, the last-
/// instruction pointers, and exception delivery (#MF, FERR#, #NM).
final class X87EnvironmentTests: XCTestCase {
    private func dwords(_ x: X87Bench, _ count: Int, at address: UInt32) -> [UInt32] {
        (0..<count).map { x.peek(UInt32.self, at: address + UInt32(4 * $0)) }
    }
    private func words(_ x: X87Bench, _ count: Int, at address: UInt32) -> [UInt16] {
        (0..<count).map { x.peek(UInt16.self, at: address + UInt32(2 * $0)) }
    }

    /// FLD m64 [2000h] at EIP 100010h (DD 05: FOP 505h), then
    /// FADD ST(0), ST(0) at 100020h (D8 C0: FOP 0C0h).
    private func runTwoInstructions(_ x: X87Bench, eip: UInt32 = 0x10_0010) {
        x.poke(UInt64(0x3FF0_0000_0000_0000), at: UInt32(x.cpu.segment(.ds).pointee.base) + X87Bench.data) // 1.0
        x.cpu.currentEIP = eip
        XCTAssertNil(x.run(X87Bench.memory(.fld, size: 8, opcode: 0xDD, modrm: 0x05)))
        x.cpu.currentEIP = eip + 0x10
        XCTAssertNil(x.run(X87Bench.instruction(.fadd, X87Bench.st(0), X87Bench.st(0), opcode: 0xD8, modrm: 0xC0)))
    }

    func testFNSTENVProtectedMode32BitLayout() {
        let x = X87Bench()
        x.setControl(0x0360) // everything unmasked; nothing will be raised
        runTwoInstructions(x)
        x.run(X87Bench.memory(.fnstenv, size: 28, at: 0x4000))
        // SDM vol. 1, figure 8-9; reserved halves stored as 1s.
        XCTAssertEqual(dwords(x, 7, at: 0x4000), [
            0xFFFF_0360, 0xFFFF_3800, 0xFFFF_3FFF, // FCW; FSW with TOP = 7; R7 valid, the rest empty
            0x0010_0020, 0x00C0_0008,              // FIP of the FADD; FOP 0C0h : FCS 08h
            0x0000_2000, 0xFFFF_0010,              // FDP of the FLD; FDS 10h
        ])
        XCTAssertEqual(x.cpu.fpuControlWord, 0x037F, "FNSTENV masks all exceptions")
    }

    func testFNSTENVRealMode16BitLayout() {
        let x = X87Bench(realMode: true) // CS = DS = 1000h
        runTwoInstructions(x, eip: 0x0100)
        x.run(X87Bench.memory(.fnstenv, size: 14, at: 0x4000))
        // SDM vol. 1, figure 8-10: 20-bit linear pointers, FOP beside FIP[19:16].
        XCTAssertEqual(words(x, 7, at: 0x1_4000), [0x037F, 0x3800, 0x3FFF, 0x0110, 0x1000 | 0x0C0, 0x2000, 0x1000])
    }

    func testFLDENVRestoresWhatFNSTENVStored() {
        let x = X87Bench()
        x.setRounding(1)
        x.push(1.0); x.push(0.0)
        x.run(X87Bench.memory(.fnstenv, size: 28, at: 0x4000))
        x.run(.fninit)
        x.run(X87Bench.memory(.fldenv, size: 28, at: 0x4000))
        XCTAssertEqual(x.cpu.fpuControlWord, 0x077F)
        XCTAssertEqual(x.top, 6)
        XCTAssertEqual(x.cpu.state.pointee.fpu.tags, 0x1FFF, "R6 zero (01), R7 valid (00)")
        XCTAssertEqual(x.st(1), ExtendedReal(1.0))
    }

    func testFNSAVELayoutReinitializesAndFRSTORRestores() {
        let x = X87Bench()
        x.push(1.0); x.push(-2.0)
        x.run(X87Bench.memory(.fnsave, size: 108, at: 0x4000))
        // Registers follow the 28-byte environment in ST(i) order.
        XCTAssertEqual(x.peek(UInt64.self, at: 0x4000 + 28), 1 << 63)
        XCTAssertEqual(x.peek(UInt16.self, at: 0x4000 + 36), 0xC000)  // ST(0) = −2
        XCTAssertEqual(x.peek(UInt16.self, at: 0x4000 + 46), 0x3FFF)  // ST(1) = 1
        XCTAssertEqual(x.cpu.fpuControlWord, 0x037F)
        XCTAssertEqual(x.status, 0)
        XCTAssertEqual(x.cpu.state.pointee.fpu.tags, 0xFFFF, "FNSAVE ends with FNINIT")
        x.run(X87Bench.memory(.frstor, size: 108, at: 0x4000))
        XCTAssertEqual(x.top, 6)
        XCTAssertEqual(x.st(0), ExtendedReal(-2.0))
        XCTAssertEqual(x.st(1), ExtendedReal(1.0))
    }

    func testFXSAVEStoresAbridgedTagsAndSTOrder() {
        let x = X87Bench()
        x.push(1.0); x.push(2.0) // TOP = 6: R6, R7 in use
        x.run(X87Bench.memory(.fxsave, size: 255, at: 0x4000))
        XCTAssertEqual(x.peek(UInt16.self, at: 0x4000), 0x037F)
        XCTAssertEqual(x.peek(UInt16.self, at: 0x4002), 0x3000)
        XCTAssertEqual(x.peek(UInt8.self, at: 0x4004), 0xC0, "abridged tag: bit p = R(p) in use")
        XCTAssertEqual(x.peek(UInt32.self, at: 0x4018), 0x1F80, "MXCSR")
        XCTAssertEqual(x.peek(UInt16.self, at: 0x4000 + 32 + 8), 0x4000, "ST(0) = 2.0 first")
        XCTAssertEqual(x.peek(UInt16.self, at: 0x4000 + 48 + 8), 0x3FFF, "ST(1) = 1.0")
        x.run(.fninit)
        x.run(X87Bench.memory(.fxrstor, size: 255, at: 0x4000))
        XCTAssertEqual(x.top, 6)
        XCTAssertEqual(x.st(0), ExtendedReal(2.0))
        XCTAssertEqual(x.cpu.state.pointee.fpu.tags, 0x0FFF, "valid tags recomputed from contents")
    }

    func testFXSAVERequiresSixteenByteAlignment() {
        let x = X87Bench()
        XCTAssertEqual(x.run(X87Bench.memory(.fxsave, size: 255, at: 0x4008)), .generalProtection(0))
        XCTAssertEqual(x.run(X87Bench.memory(.fxrstor, size: 255, at: 0x4004)), .generalProtection(0))
    }

    func testFXRSTORRejectsReservedMXCSRBits() {
        let x = X87Bench()
        x.run(X87Bench.memory(.fxsave, size: 255, at: 0x4000))
        x.poke(UInt32(0x0001_1F80), at: 0x4018)
        XCTAssertEqual(x.run(X87Bench.memory(.fxrstor, size: 255, at: 0x4000)), .generalProtection(0))
    }

    func testControlWordReservedBitsAndFNSTSWToAX() {
        let x = X87Bench()
        x.setControl(0xFFFF)
        x.run(X87Bench.memory(.fnstcw, size: 2, at: 0x4000))
        XCTAssertEqual(x.peek(UInt16.self, at: 0x4000), 0x1F7F)
        x.push(1.0)
        x.cpu.setReg32(0, 0xDEAD_BEEF)
        x.run(X87Bench.instruction(.fnstsw, Operand(.register, size: 2, register: 0)))
        XCTAssertEqual(x.cpu.reg32(0), 0xDEAD_3800)
    }

    // MARK: - Exception delivery

    /// FLDCW unmasking #Z, then 1/0 at EIP 100040h.
    private func divideByZeroUnmasked(_ x: X87Bench) {
        x.setControl(0x037B)
        x.push(1.0); x.push(0.0)
        x.cpu.currentEIP = 0x10_0040
        XCTAssertNil(x.run(X87Bench.instruction(.fdivp, X87Bench.st(1), X87Bench.st(0))), "no fault at the faulting instruction")
    }

    func testMFDeliveredAtNextWaitingInstructionWithNE() {
        let x = X87Bench()
        divideByZeroUnmasked(x)
        XCTAssertEqual(x.status & 0x8080, 0x8080, "ES and B")
        x.cpu.currentEIP = 0x10_0050
        XCTAssertEqual(x.run(X87Bench.instruction(.wait)), .floatingPoint)
        XCTAssertEqual(x.run(X87Bench.instruction(.fadd, X87Bench.st(0), X87Bench.st(1))), .floatingPoint)
        XCTAssertEqual(x.cpu.fpuInstructionOffset, 0x10_0040, "FIP still names the FDIVP")
        // Non-waiting instructions run.
        XCTAssertNil(x.run(X87Bench.memory(.fnstenv, size: 28, at: 0x4000)))
        XCTAssertNil(x.run(X87Bench.instruction(.wait)), "FNSTENV masked everything")
        x.setControl(0x037B)
        XCTAssertEqual(x.run(X87Bench.instruction(.wait)), .floatingPoint, "FLDCW unmasking a set flag")
        XCTAssertNil(x.run(X87Bench.instruction(.fnclex)))
        XCTAssertEqual(x.status & 0x80FF, 0)
        XCTAssertNil(x.run(X87Bench.instruction(.wait)))
    }

    func testMSDOSCompatibilityModeFreezesAndSignalsFERR() {
        let x = X87Bench()
        x.cpu.state.pointee.cr0 &= ~CPU.cr0NE
        var ferr: [Bool] = []
        x.cpu.onFPUError = { ferr.append($0) }
        divideByZeroUnmasked(x)
        XCTAssertEqual(ferr, [true], "FERR# at the end of the faulting instruction (P6)")
        x.cpu.currentEIP = 0x10_0060
        x.cpu.eip = 0x10_0062
        XCTAssertNil(x.run(X87Bench.instruction(.wait)))
        XCTAssertTrue(x.cpu.state.pointee.halted, "frozen until an interrupt")
        XCTAssertEqual(x.cpu.eip, 0x10_0060, "to restart the waiting instruction")
        x.cpu.state.pointee.halted = false
        x.cpu.ignoreNumericError = true
        x.push(3.0)
        XCTAssertFalse(x.cpu.state.pointee.halted, "IGNNE# lets it run")
        XCTAssertEqual(x.st(0), ExtendedReal(3.0))
        x.run(.fnclex)
        XCTAssertEqual(ferr, [true, false])
    }

    func testDeviceNotAvailable() {
        let x = X87Bench()
        x.cpu.state.pointee.cr0 |= CPU.cr0EM
        XCTAssertEqual(x.run(X87Bench.instruction(.fninit)), .deviceNotAvailable)
        XCTAssertNil(x.run(X87Bench.instruction(.wait)), "EM does not affect WAIT")
        x.cpu.state.pointee.cr0 = x.cpu.state.pointee.cr0 & ~CPU.cr0EM | CPU.cr0TS
        XCTAssertEqual(x.run(X87Bench.instruction(.fadd, X87Bench.st(0), X87Bench.st(1))), .deviceNotAvailable)
        XCTAssertEqual(x.run(X87Bench.memory(.fxsave, size: 255, at: 0x4000)), .deviceNotAvailable)
        XCTAssertNil(x.run(X87Bench.instruction(.wait)), "TS alone does not affect WAIT")
        x.cpu.state.pointee.cr0 |= CPU.cr0MP
        XCTAssertEqual(x.run(X87Bench.instruction(.wait)), .deviceNotAvailable)
    }
}
