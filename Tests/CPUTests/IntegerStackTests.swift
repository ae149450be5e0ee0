import XCTest
@testable import CPU

/// PUSH/POP in their special cases (ESP as operand, segment registers),
/// PUSHA/POPA layout, PUSHF/POPF privilege rules, ENTER/LEAVE frames —
/// each against the Operation section of its SDM page.
final class IntegerStackTests: XCTestCase {
    var bench: CPUTestBench!
    let top: UInt32 = 0x1F_0000

    override func setUp() {
        bench = CPUTestBench()
        bench.flat32(code: [])
    }

    var esp: UInt32 { bench.cpu.reg32(R.esp) }

    func testPushAndPopRegisterAndImmediate() {
        bench.cpu.setReg32(R.ebx, 0xDEAD_BEEF)
        bench.execute(instruction(.push, reg(R.ebx, 4)))
        XCTAssertEqual(esp, top - 4)
        XCTAssertEqual(bench.read32(top - 4), 0xDEAD_BEEF)
        bench.execute(instruction(.push, imm(4), immediate: 0xFFFF_FF80)) // 6A 80
        XCTAssertEqual(bench.read32(top - 8), 0xFFFF_FF80)
        bench.execute(instruction(.pop, reg(R.ecx, 4)))
        XCTAssertEqual(bench.cpu.reg32(R.ecx), 0xFFFF_FF80)
        bench.execute(instruction(.pop, reg(R.edx, 2), operandSize: 2))
        XCTAssertEqual(bench.cpu.reg16(R.edx), 0xBEEF)
        XCTAssertEqual(esp, top - 2)
    }

    func testPushESPPushesTheValueBeforeThePush() {
        bench.execute(instruction(.push, reg(R.esp, 4)))
        XCTAssertEqual(bench.read32(top - 4), top)
    }

    func testPopESPLoadsThePoppedValue() {
        bench.memory.write(top, size: 4, value: 0x0012_3456)
        bench.execute(instruction(.pop, reg(R.esp, 4)))
        XCTAssertEqual(esp, 0x0012_3456)
    }

    func testPopIntoESPRelativeMemoryUsesTheIncrementedESP() {
        // POP [ESP]: the destination address is computed after ESP moved up.
        bench.memory.write(top, size: 4, value: 0xAAAA_5555)
        bench.execute(instruction(.pop, mem(4), base: R.esp, segment: .ss))
        XCTAssertEqual(esp, top + 4)
        XCTAssertEqual(bench.read32(top + 4), 0xAAAA_5555)
    }

    func testPopToFaultingMemoryLeavesESP() {
        bench.cpu.segment(.ds).pointee.attributes = 0xC091 // read-only
        XCTAssertEqual(bench.execute(instruction(.pop, mem(4), displacement: 0x2000)), .generalProtection(0))
        XCTAssertEqual(esp, top)
    }

    func testPushSegmentWith32BitOperandWritesOnlyTheSelector() {
        bench.memory.write(top - 4, size: 4, value: 0xABCD_0000)
        bench.execute(instruction(.push, sreg(.ds)))
        XCTAssertEqual(esp, top - 4)
        XCTAssertEqual(bench.read32(top - 4), 0xABCD_0010)
    }

    func testPopSegmentGoesThroughLoadSegment() {
        bench.realMode(code: [])
        bench.memory.write(0x1_0000 + 0xFFF0, size: 2, value: 0x3000)
        bench.execute(instruction(.pop, sreg(.ss), operandSize: 2, addressSize: 2))
        XCTAssertEqual(bench.cpu.segment(.ss).pointee.base, 0x30000)
        XCTAssertEqual(bench.cpu.reg16(R.esp), 0xFFF2)
        XCTAssertTrue(bench.state.pointee.interruptShadow)
    }

    func testPushaLayout() {
        // Temp ← ESP; push EAX, ECX, EDX, EBX, Temp, EBP, ESI, EDI.
        for r in UInt8(0)..<8 where r != R.esp { bench.cpu.setReg32(r, 0x100 + UInt32(r)) }
        bench.execute(instruction(.pusha))
        XCTAssertEqual(esp, top - 32)
        let expected: [UInt32] = [0x107, 0x106, 0x105, top, 0x103, 0x102, 0x101, 0x100]
        for (k, value) in expected.enumerated() {
            XCTAssertEqual(bench.read32(top - 32 + UInt32(4 * k)), value, "slot \(k)")
        }
    }

    func testPopaSkipsTheSavedStackPointer() {
        for k in 0..<8 { bench.memory.write(top + UInt32(2 * k), size: 2, value: 0x50 + UInt32(k)) }
        bench.execute(instruction(.popa, operandSize: 2))
        XCTAssertEqual(bench.cpu.reg16(R.edi), 0x50)
        XCTAssertEqual(bench.cpu.reg16(R.esi), 0x51)
        XCTAssertEqual(bench.cpu.reg16(R.ebp), 0x52)
        XCTAssertEqual(bench.cpu.reg16(R.ebx), 0x54)
        XCTAssertEqual(bench.cpu.reg16(R.edx), 0x55)
        XCTAssertEqual(bench.cpu.reg16(R.ecx), 0x56)
        XCTAssertEqual(bench.cpu.reg16(R.eax), 0x57)
        XCTAssertEqual(esp, top + 16)
    }

    func testPushaFaultPartWayLeavesESP() {
        // An expand-down stack whose valid offsets end at 1001h: the first
        // two pushes fit, the third raises #SS(0).
        bench.cpu.segment(.ss).pointee.attributes = 0xC097
        bench.cpu.segment(.ss).pointee.limit = 0x1000
        bench.cpu.setReg32(R.esp, 0x100C)
        XCTAssertEqual(bench.execute(instruction(.pusha)), .stackFault(0))
        XCTAssertEqual(esp, 0x100C)
    }

    func testPushfClearsVMAndRFInTheImage() {
        bench.flags = EFLAGS.fixed1 | EFLAGS.rf | EFLAGS.ac | EFLAGS.cf
        bench.execute(instruction(.pushf))
        XCTAssertEqual(bench.read32(top - 4), EFLAGS.fixed1 | EFLAGS.ac | EFLAGS.cf)
    }

    func testPopfAtCPL0ChangesIOPLAndIF() {
        bench.memory.write(top, size: 4, value: 0x0000_3200 | EFLAGS.cf) // IOPL 3, IF
        bench.execute(instruction(.popf))
        XCTAssertEqual(bench.flags, EFLAGS.fixed1 | EFLAGS.iopl | EFLAGS.if | EFLAGS.cf)
        XCTAssertEqual(esp, top + 4)
    }

    func testPopfAtCPL3KeepsIOPLAndIF() {
        bench.flat32(code: [], cpl: 3)
        bench.flags = EFLAGS.fixed1 // IOPL 0
        bench.memory.write(top, size: 4, value: EFLAGS.iopl | EFLAGS.if | EFLAGS.vm | EFLAGS.zf | EFLAGS.ac)
        bench.execute(instruction(.popf))
        XCTAssertEqual(bench.flags, EFLAGS.fixed1 | EFLAGS.zf | EFLAGS.ac)
    }

    func testPopfWithIOPLAtCPLMayChangeIF() {
        bench.flat32(code: [], cpl: 3)
        bench.flags = EFLAGS.fixed1 | EFLAGS.iopl
        bench.memory.write(top, size: 4, value: EFLAGS.if)
        bench.execute(instruction(.popf))
        XCTAssertEqual(bench.flags, EFLAGS.fixed1 | EFLAGS.iopl | EFLAGS.if)
    }

    func testSixteenBitPopfChangesOnlyTheLowWord() {
        bench.flags = EFLAGS.fixed1 | EFLAGS.ac
        bench.memory.write(top, size: 2, value: 0xFFFF)
        bench.execute(instruction(.popf, operandSize: 2))
        // Bits 3, 5 and 15 are reserved (0); AC above the word stays.
        XCTAssertEqual(bench.flags, 0x7FD7 | EFLAGS.ac)
    }

    func testPushfAndPopfInVirtual8086ModeWithLowIOPLFault() {
        bench.flat32(code: [], cpl: 3)
        bench.flags = EFLAGS.fixed1 | EFLAGS.vm // IOPL 0
        XCTAssertEqual(bench.execute(instruction(.pushf, operandSize: 2)), .generalProtection(0))
        XCTAssertEqual(bench.execute(instruction(.popf, operandSize: 2)), .generalProtection(0))
        XCTAssertEqual(esp, top)
    }

    func testVirtualModeExtensionsRedirectIFToVIF() {
        bench.flat32(code: [], cpl: 3)
        bench.state.pointee.cr4 |= 1 // VME
        bench.flags = EFLAGS.fixed1 | EFLAGS.vm | EFLAGS.vif
        bench.execute(instruction(.pushf, operandSize: 2))
        // The image shows VIF as IF and IOPL = 3.
        XCTAssertEqual(bench.read16(top - 2), EFLAGS.fixed1 | EFLAGS.if | EFLAGS.iopl)
        bench.memory.write(top - 2, size: 2, value: EFLAGS.fixed1 | EFLAGS.cf) // IF = 0
        bench.execute(instruction(.popf, operandSize: 2))
        XCTAssertEqual(bench.flags, EFLAGS.fixed1 | EFLAGS.vm | EFLAGS.cf)
        // A 32-bit PUSHF still faults.
        XCTAssertEqual(bench.execute(instruction(.pushf)), .generalProtection(0))
    }

    func testEnterWithoutNesting() {
        bench.cpu.setReg32(R.ebp, 0x1234)
        bench.execute(instruction(.enter, imm(2), Operand(.immediate2, size: 1), immediate: 0x20, immediate2: 0))
        XCTAssertEqual(bench.read32(top - 4), 0x1234)
        XCTAssertEqual(bench.cpu.reg32(R.ebp), top - 4)
        XCTAssertEqual(esp, top - 4 - 0x20)
    }

    func testEnterWithNestingCopiesEnclosingFramePointers() {
        // An enclosing frame at EBP = top − 16 holding two display entries
        // just below it: [EBP−4] = A, [EBP−8] = B.
        let ebp = top - 0x100
        bench.memory.write(ebp - 4, size: 4, value: 0xA)
        bench.memory.write(ebp - 8, size: 4, value: 0xB)
        bench.cpu.setReg32(R.ebp, ebp)
        bench.execute(instruction(.enter, imm(2), Operand(.immediate2, size: 1), immediate: 8, immediate2: 3))
        // push EBP; push [EBP−4]; push [EBP−8]; push frame pointer; ESP −= 8.
        let frame = top - 4
        XCTAssertEqual(bench.read32(top - 4), ebp)
        XCTAssertEqual(bench.read32(top - 8), 0xA)
        XCTAssertEqual(bench.read32(top - 12), 0xB)
        XCTAssertEqual(bench.read32(top - 16), frame)
        XCTAssertEqual(bench.cpu.reg32(R.ebp), frame)
        XCTAssertEqual(esp, top - 16 - 8)
    }

    func testEnterLevelIsModulo32() {
        bench.cpu.setReg32(R.ebp, 0x1000)
        bench.execute(instruction(.enter, imm(2), Operand(.immediate2, size: 1), immediate: 0, immediate2: 32))
        XCTAssertEqual(esp, top - 4)
    }

    func testLeave() {
        bench.memory.write(top - 0x40, size: 4, value: 0x5555)
        bench.cpu.setReg32(R.ebp, top - 0x40)
        bench.execute(instruction(.leave))
        XCTAssertEqual(bench.cpu.reg32(R.ebp), 0x5555)
        XCTAssertEqual(esp, top - 0x3C)
    }

    func testSixteenBitStackWrapsAtZero() {
        bench.realMode(code: [])
        bench.cpu.setReg16(R.esp, 0x0000)
        bench.cpu.setReg16(R.eax, 0xBEEF)
        bench.execute(instruction(.push, reg(R.eax, 2), operandSize: 2, addressSize: 2))
        XCTAssertEqual(bench.cpu.reg16(R.esp), 0xFFFE)
        XCTAssertEqual(bench.read16(0x1_0000 + 0xFFFE), 0xBEEF)
    }
}
