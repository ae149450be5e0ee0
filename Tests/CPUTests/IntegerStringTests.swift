import XCTest
@testable import CPU

/// String instructions with and without REP: direction, address size,
/// segment override, REPE/REPNE termination, the bounded restartable REP
/// loop, exact registers after a fault, and the RAM fast path against the
/// element-by-element semantics.
final class IntegerStringTests: XCTestCase {
    var bench: CPUTestBench!

    override func setUp() {
        bench = CPUTestBench()
        bench.flat32(code: [])
    }

    private func string(_ op: Op, opcode: UInt16, rep: RepeatPrefix = .none,
                        operandSize: UInt8 = 4, addressSize: UInt8 = 4,
                        segment: SegmentRegister = .ds, override: Bool = false) -> Instruction {
        let element = Operand(.none, size: opcode & 1 == 0 ? 1 : operandSize)
        return instruction(op, element, operandSize: operandSize, addressSize: addressSize,
                           segment: segment, override: override, repeat: rep, opcode: opcode)
    }

    private func fill(_ address: UInt32, _ bytes: [UInt8]) { bench.memory.copyIn(address, bytes) }
    private func bytes(_ address: UInt32, _ count: Int) -> [UInt8] { bench.memory.copyOut(address, count: count) }

    func testMovsbForward() {
        fill(0x2000, [1, 2, 3])
        bench.cpu.setReg32(R.esi, 0x2000)
        bench.cpu.setReg32(R.edi, 0x3000)
        bench.execute(string(.movs, opcode: 0xA4))
        XCTAssertEqual(bytes(0x3000, 2), [1, 0])
        XCTAssertEqual(bench.cpu.reg32(R.esi), 0x2001)
        XCTAssertEqual(bench.cpu.reg32(R.edi), 0x3001)
    }

    func testRepMovsbBackwardWithDirectionFlag() {
        // Copy "ABCDE" from its last byte down, as memmove does for an overlap upwards.
        fill(0x2000, Array("ABCDE".utf8))
        bench.flags |= EFLAGS.df
        bench.cpu.setReg32(R.esi, 0x2004)
        bench.cpu.setReg32(R.edi, 0x2006)
        bench.cpu.setReg32(R.ecx, 5)
        bench.execute(string(.movs, opcode: 0xA4, rep: .repe))
        XCTAssertEqual(bytes(0x2000, 7), Array("ABABCDE".utf8))
        XCTAssertEqual(bench.cpu.reg32(R.ecx), 0)
        XCTAssertEqual(bench.cpu.reg32(R.esi), 0x1FFF)
        XCTAssertEqual(bench.cpu.reg32(R.edi), 0x2001)
        XCTAssertEqual(bench.cpu.eip, bench.cpu.currentEIP + 2) // finished
    }

    func testRepMovsbOverlappingForwardReplicatesThePattern() {
        // DI = SI + 1 copies the first byte over the whole run, element by element.
        fill(0x2000, [0x5A, 0, 0, 0, 0, 0, 0, 0])
        bench.cpu.setReg32(R.esi, 0x2000)
        bench.cpu.setReg32(R.edi, 0x2001)
        bench.cpu.setReg32(R.ecx, 7)
        bench.execute(string(.movs, opcode: 0xA4, rep: .repe))
        XCTAssertEqual(bytes(0x2000, 8), [UInt8](repeating: 0x5A, count: 8))
    }

    func testRepMovswOverlapByOneByteMatchesElementSemantics() {
        // MOVSW with DI = SI + 1: each word read sees the byte the previous store wrote.
        fill(0x2000, [1, 2, 3, 4, 5, 6, 7, 8, 9])
        bench.cpu.setReg32(R.esi, 0x2000)
        bench.cpu.setReg32(R.edi, 0x2001)
        bench.cpu.setReg32(R.ecx, 4)
        bench.execute(string(.movs, opcode: 0xA5, rep: .repe, operandSize: 2))
        // Element by element: [2001] ← (1, 2) read from 2000; then 2002 holds
        // 2 and 2003 still 4: [2003] ← (2, 4); [2005] ← (4, 6); [2007] ← (6, 8).
        XCTAssertEqual(bytes(0x2000, 9), [1, 1, 2, 2, 4, 4, 6, 6, 8])
    }

    func testRepStosdFillsAndCountsDown() {
        bench.cpu.setReg32(R.eax, 0x1122_3344)
        bench.cpu.setReg32(R.edi, 0x4000)
        bench.cpu.setReg32(R.ecx, 3000) // crosses pages: fast path in pieces
        bench.execute(string(.stos, opcode: 0xAB, rep: .repe))
        XCTAssertEqual(bench.cpu.reg32(R.ecx), 0)
        XCTAssertEqual(bench.cpu.reg32(R.edi), 0x4000 + 12000)
        XCTAssertEqual(bench.read32(0x4000), 0x1122_3344)
        XCTAssertEqual(bench.read32(0x4000 + 11996), 0x1122_3344)
        XCTAssertEqual(bench.read32(0x4000 + 12000), 0)
    }

    func testRepWithZeroCountDoesNothing() {
        bench.cpu.setReg32(R.ecx, 0)
        bench.cpu.setReg32(R.edi, 0x4000)
        bench.flags = EFLAGS.fixed1
        bench.execute(string(.scas, opcode: 0xAE, rep: .repe))
        XCTAssertEqual(bench.cpu.reg32(R.edi), 0x4000)
        XCTAssertEqual(bench.flags, EFLAGS.fixed1)
    }

    func testRepeCmpsbStopsAtTheFirstDifference() {
        fill(0x2000, Array("HELLO".utf8))
        fill(0x3000, Array("HELP!".utf8))
        bench.cpu.setReg32(R.esi, 0x2000)
        bench.cpu.setReg32(R.edi, 0x3000)
        bench.cpu.setReg32(R.ecx, 5)
        bench.execute(string(.cmps, opcode: 0xA6, rep: .repe))
        // Stops after comparing 'L' with 'P' (the fourth pair).
        XCTAssertEqual(bench.cpu.reg32(R.ecx), 1)
        XCTAssertEqual(bench.cpu.reg32(R.esi), 0x2004)
        XCTAssertEqual(bench.flags & EFLAGS.zf, 0)
        XCTAssertNotEqual(bench.flags & EFLAGS.cf, 0) // 'L' < 'P'
    }

    func testRepneScasbFindsTheByte() {
        fill(0x3000, Array("path/name\0".utf8))
        bench.cpu.setReg8(R.al, UInt8(ascii: "/"))
        bench.cpu.setReg32(R.edi, 0x3000)
        bench.cpu.setReg32(R.ecx, 100)
        bench.execute(string(.scas, opcode: 0xAE, rep: .repne))
        XCTAssertEqual(bench.cpu.reg32(R.edi), 0x3005) // one past the match
        XCTAssertEqual(bench.cpu.reg32(R.ecx), 95)
        XCTAssertNotEqual(bench.flags & EFLAGS.zf, 0)
    }

    func testLodsAndSourceSegmentOverride() {
        bench.cpu.segment(.fs).pointee.base = 0x10_0000
        bench.memory.write(0x10_0010, size: 2, value: 0xBEEF)
        bench.cpu.setReg32(R.esi, 0x10)
        bench.execute(string(.lods, opcode: 0xAD, operandSize: 2, segment: .fs, override: true))
        XCTAssertEqual(bench.cpu.reg16(R.eax), 0xBEEF)
        XCTAssertEqual(bench.cpu.reg32(R.esi), 0x12)
    }

    func testDestinationIsAlwaysES() {
        // An FS override applies to the source only; STOS writes ES:EDI.
        bench.cpu.segment(.es).pointee.base = 0x8_0000
        bench.cpu.setReg32(R.edi, 0x10)
        bench.cpu.setReg8(R.al, 0x77)
        bench.execute(string(.stos, opcode: 0xAA, segment: .fs, override: true))
        XCTAssertEqual(bench.read8(0x8_0010), 0x77)
    }

    func testSixteenBitAddressingUsesSIDICXAndWraps() {
        bench.realMode(code: [])
        bench.cpu.setReg32(R.esi, 0xABCD_FFFF)
        bench.cpu.setReg32(R.edi, 0x1234_0000)
        bench.cpu.setReg32(R.ecx, 0x5555_0002)
        bench.memory.write(0x1_0000 + 0xFFFF, size: 1, value: 0x11)
        bench.memory.write(0x1_0000 + 0x0000, size: 1, value: 0x22)
        bench.execute(string(.movs, opcode: 0xA4, rep: .repe, operandSize: 2, addressSize: 2))
        XCTAssertEqual(bench.cpu.reg32(R.esi), 0xABCD_0001) // SI wrapped, upper half kept
        XCTAssertEqual(bench.cpu.reg32(R.edi), 0x1234_0002)
        XCTAssertEqual(bench.cpu.reg32(R.ecx), 0x5555_0000)
        // Two bytes from DS:FFFF and DS:0000 (the wrap) to ES:0000 and ES:0001.
        XCTAssertEqual(bench.read8(0x1_0000), 0x11)
        XCTAssertEqual(bench.read8(0x1_0001), 0x11)
    }

    func testLongRepIsSplitAcrossStepsAndRestarts() {
        bench.cpu.setReg32(R.edi, 0x4000)
        let count = CPU.stringIterationsPerStep * 2 + 10
        bench.cpu.setReg32(R.ecx, count)
        let i = string(.stos, opcode: 0xAA, rep: .repe)
        let start = bench.cpu.eip
        bench.execute(i)
        XCTAssertEqual(bench.cpu.eip, start) // not finished: EIP stays on the instruction
        XCTAssertEqual(bench.cpu.reg32(R.ecx), count - CPU.stringIterationsPerStep)
        bench.execute(i)
        bench.execute(i)
        XCTAssertEqual(bench.cpu.reg32(R.ecx), 0)
        XCTAssertEqual(bench.cpu.eip, start + 2)
    }

    func testPendingInterruptStopsTheRepLoop() {
        bench.cpu.setReg32(R.esi, 0x2000)
        bench.cpu.setReg32(R.ecx, 100)
        bench.cpu.interruptRequested = true
        bench.flags |= EFLAGS.if
        let start = bench.cpu.eip
        bench.execute(string(.lods, opcode: 0xAC, rep: .repe))
        // One iteration, then back to the instruction so the interrupt can be taken.
        XCTAssertEqual(bench.cpu.reg32(R.ecx), 99)
        XCTAssertEqual(bench.cpu.reg32(R.esi), 0x2001)
        XCTAssertEqual(bench.cpu.eip, start)
        // With IF clear the request waits and the loop runs on.
        bench.flags &= ~EFLAGS.if
        bench.execute(string(.lods, opcode: 0xAC, rep: .repe))
        XCTAssertEqual(bench.cpu.reg32(R.ecx), 0)
    }

    func testTrapFlagRunsOneIterationPerStep() {
        bench.cpu.setReg32(R.edi, 0x4000)
        bench.cpu.setReg32(R.ecx, 3)
        bench.flags |= EFLAGS.tf
        bench.execute(string(.stos, opcode: 0xAA, rep: .repe))
        XCTAssertEqual(bench.cpu.reg32(R.ecx), 2)
    }

    func testFaultPartWayLeavesRegistersAtTheFaultingElement() {
        // ES limit 4000h + 5: the sixth byte is out of the segment.
        bench.cpu.segment(.es).pointee.limit = 0x4005
        bench.cpu.setReg32(R.edi, 0x4000)
        bench.cpu.setReg32(R.ecx, 10)
        bench.cpu.setReg8(R.al, 0xEE)
        XCTAssertEqual(bench.execute(string(.stos, opcode: 0xAA, rep: .repe)), .generalProtection(0))
        XCTAssertEqual(bench.cpu.reg32(R.edi), 0x4006)
        XCTAssertEqual(bench.cpu.reg32(R.ecx), 4)
        XCTAssertEqual(bench.read8(0x4005), 0xEE)
        XCTAssertEqual(bench.read8(0x4006), 0x00)
    }

    func testMovsIntoROMIsDroppedLikeAnyWrite() {
        // The fast path must not write through to pages that are not RAM.
        let romOffset = bench.memory.addROM([UInt8](repeating: 0xC3, count: 4096))
        bench.memory.mapROM(at: 0x10_0000, size: 4096, romOffset: romOffset)
        bench.cpu.setReg32(R.edi, 0x10_0000)
        bench.cpu.setReg32(R.ecx, 16)
        bench.execute(string(.stos, opcode: 0xAB, rep: .repe))
        XCTAssertEqual(bench.read32(0x10_0000), 0xC3C3_C3C3)
        XCTAssertEqual(bench.cpu.reg32(R.edi), 0x10_0040)
    }

    func testInsAndOutsGoThroughThePorts() {
        bench.ports.reads[0x60] = 0xAB
        bench.cpu.setReg16(R.edx, 0x60)
        bench.cpu.setReg32(R.edi, 0x5000)
        bench.cpu.setReg32(R.ecx, 3)
        bench.execute(string(.ins, opcode: 0x6C, rep: .repe))
        XCTAssertEqual(bytes(0x5000, 4), [0xAB, 0xAB, 0xAB, 0])
        fill(0x6000, [0x34, 0x12, 0x78, 0x56])
        bench.cpu.setReg32(R.esi, 0x6000)
        bench.cpu.setReg32(R.ecx, 2)
        bench.cpu.setReg16(R.edx, 0x1F0)
        bench.execute(string(.outs, opcode: 0x6F, rep: .repe, operandSize: 2))
        XCTAssertEqual(bench.ports.writes.map { $0.port }, [0x1F0, 0x1F0])
        XCTAssertEqual(bench.ports.writes.map { $0.value }, [0x1234, 0x5678])
        XCTAssertEqual(bench.ports.writes.map { $0.size }, [2, 2])
    }

    func testInsChecksTheDestinationBeforeReadingThePort() {
        final class CountingPorts: PortIO {
            var reads = 0
            func portRead(_ port: UInt16, size: Int) -> UInt32 { reads += 1; return 0 }
            func portWrite(_ port: UInt16, size: Int, value: UInt32) {}
        }
        let ports = CountingPorts()
        bench.cpu.io = ports
        bench.cpu.segment(.es).pointee.limit = 0xFFF
        bench.cpu.setReg32(R.edi, 0x1000)
        XCTAssertEqual(bench.execute(string(.ins, opcode: 0x6C)), .generalProtection(0))
        XCTAssertEqual(ports.reads, 0)
    }
}
