import XCTest
@testable import CPU
@testable import MMU

/// The decoded-block cache under everything that can make cached code
/// stale. The reference is the architecture: Intel SDM vol. 3, 8.1.3 and
/// 11.6 — a write to code the processor has already fetched (self- and
/// cross-modifying code, the same physical page through another linear
/// address) is detected, and the instruction executes as it now reads;
/// and `CPU.step`, which fetches each instruction only after the previous
/// one completed. Every program runs through `CPU.run` (the block loop);
/// each test fails if its kind of invalidation is taken away.
final class DecodedBlockTests: XCTestCase {
    let bench = CPUTestBench(ramSize: 4 << 20)
    var cpu: CPU { bench.cpu }
    var memory: PhysicalMemory { bench.memory }
    var state: UnsafeMutablePointer<CPUState> { bench.state }

    /// Runs the block loop until HLT.
    func runUntilHalted(limit: Int = 10_000, file: StaticString = #filePath, line: UInt = #line) {
        var n = 0
        while !state.pointee.halted && n < limit {
            let k = cpu.run(limit - n)
            if k == 0 { break }
            n += k
        }
        XCTAssertTrue(state.pointee.halted, "program did not reach HLT", file: file, line: line)
    }

    /// Runs again from `eip` (the program ended in HLT).
    func restart(at eip: UInt32) {
        state.pointee.halted = false
        state.pointee.rip = UInt64(eip)
    }

    // MARK: - Self-modifying code

    func testStoreIntoTheNextInstructionOfTheSameBlock() {
        bench.flat32(code: [
            0xC6, 0x05, 0x08, 0x00, 0x10, 0x00, 0x42, // mov byte [0x100008], 0x42 — the next instruction's imm8
            0xB0, 0x11,                               // mov al, 0x11
            0xF4,                                     // hlt
        ])
        runUntilHalted()
        XCTAssertEqual(cpu.reg8(0), 0x42, "the patched instruction runs, not the one decoded with the block")
    }

    func testCodePatchedByALaterBlockRunsPatchedOnItsNextPass() {
        bench.flat32(code: [
            0xB0, 0x11,                               // start: mov al, 0x11
            0x41,                                     //        inc ecx
            0x83, 0xF9, 0x02,                         //        cmp ecx, 2
            0x74, 0x09,                               //        je done
            0xC6, 0x05, 0x01, 0x00, 0x10, 0x00, 0x42, //        mov byte [start+1], 0x42
            0xEB, 0xEF,                               //        jmp start
            0xF4,                                     // done:  hlt
        ])
        runUntilHalted()
        XCTAssertEqual(cpu.reg32(1), 2)
        XCTAssertEqual(cpu.reg8(0), 0x42, "the second pass runs the patched MOV")
    }

    /// A REP instruction stops after a bounded number of iterations and
    /// leaves EIP on itself to resume (StringOps.swift); the block loop
    /// must follow EIP there rather than run on into the next instruction.
    func testRepeatedStringInstructionResumesItselfInsideABlock() {
        bench.flat32(code: [
            0xB9, 0x10, 0x27, 0x00, 0x00, // mov ecx, 10000 (more than one resumption's worth)
            0xBF, 0x00, 0x00, 0x18, 0x00, // mov edi, 0x180000
            0xB0, 0xAB,                   // mov al, 0xAB
            0xF3, 0xAA,                   // rep stosb
            0xBB, 0x01, 0x00, 0x00, 0x00, // mov ebx, 1
            0xF4,                         // hlt
        ])
        runUntilHalted()
        XCTAssertEqual(cpu.reg32(1), 0)
        XCTAssertEqual(cpu.reg32(3), 1)
        XCTAssertEqual(memory.copyOut(0x18_0000, count: 10001), [UInt8](repeating: 0xAB, count: 10000) + [0])
    }

    // MARK: - Instruction boundaries inside a block

    /// Real mode with vector 0x20's handler at 0000:0500 (mov bx, 1; hlt)
    /// and port 0x40 raising INTR, as a device's register write would.
    func interruptingMachine(code: [UInt8]) {
        bench.realMode(code: code, segment: 0, ip: 0x100)
        bench.write32(0x20 * 4, 0x0000_0500)
        memory.copyIn(0x500, [0xBB, 0x01, 0x00, 0xF4])
        let line = InterruptLine(cpu: cpu)
        cpu.io = line
        cpu.interruptController = line
    }

    /// An interrupt raised by an instruction is taken at the very next
    /// boundary (SDM vol. 3, 6.6), not at the end of the block.
    func testInterruptRaisedInsideABlockIsTakenAtTheNextBoundary() {
        interruptingMachine(code: [0xFB, 0xE6, 0x40, 0x41, 0x41, 0xF4]) // sti; out 0x40, al; inc cx; inc cx; hlt
        runUntilHalted()
        XCTAssertEqual(cpu.reg16(3), 1, "the handler ran")
        XCTAssertEqual(cpu.reg16(1), 0, "before either INC")
    }

    /// STI holds interrupts off for one more instruction (SDM "STI").
    func testInterruptShadowAfterSTIInsideABlock() {
        interruptingMachine(code: [0xE6, 0x40, 0xFB, 0x41, 0x41, 0xF4]) // out 0x40, al; sti; inc cx; inc cx; hlt
        runUntilHalted()
        XCTAssertEqual(cpu.reg16(3), 1, "the handler ran")
        XCTAssertEqual(cpu.reg16(1), 1, "after the instruction in STI's shadow")
    }

    // MARK: - Writes from outside the CPU

    func testCodeRewrittenThroughCopyInAndDMA() {
        bench.flat32(code: [0xB8, 0x01, 0x00, 0x00, 0x00, 0xF4]) // mov eax, 1; hlt
        runUntilHalted()
        XCTAssertEqual(cpu.reg32(0), 1)

        memory.copyIn(0x10_0001, [0x02])                            // mov eax, 2
        restart(at: 0x10_0000)
        runUntilHalted()
        XCTAssertEqual(cpu.reg32(0), 2, "a loader's copyIn over cached code")

        [UInt8(0x03)].withUnsafeBytes { memory.copyIn(0x10_0001, from: $0) } // mov eax, 3
        restart(at: 0x10_0000)
        runUntilHalted()
        XCTAssertEqual(cpu.reg32(0), 3, "a bus master's DMA over cached code")
    }

    // MARK: - The memory map

    /// SeaBIOS runs from the ROM copy at F0000, copies itself to the shadow
    /// RAM underneath and then flips the PAM register: the same physical
    /// addresses now read other bytes.
    func testShadowRAMSwitchedInUnderCachedROMCode() {
        var image = [UInt8](repeating: 0xF4, count: 0x1_0000)
        image.replaceSubrange(0..<4, with: [0xB8, 0x01, 0x00, 0xF4]) // mov ax, 1; hlt
        let rom = memory.addROM(image)
        memory.mapROM(at: 0xF_0000, size: 0x1_0000, romOffset: rom)
        bench.realMode(code: [], segment: 0xF000, ip: 0)
        runUntilHalted()
        XCTAssertEqual(cpu.reg16(0), 1)

        // PAM: reads from ROM, writes to RAM; the copy does not show yet.
        memory.mapShadow(at: 0xF_0000, size: 0x1_0000, readRAM: false, writeRAM: true, romOffset: rom)
        memory.copyIn(0xF_0000, [0xB8, 0x02, 0x00, 0xF4])            // mov ax, 2; hlt
        restart(at: 0)
        runUntilHalted()
        XCTAssertEqual(cpu.reg16(0), 1, "still reading the ROM")

        memory.mapShadow(at: 0xF_0000, size: 0x1_0000, readRAM: true, writeRAM: false, romOffset: rom)
        restart(at: 0)
        runUntilHalted()
        XCTAssertEqual(cpu.reg16(0), 2, "reads now reach the shadow RAM")
    }

    /// The PAM switch made by an instruction in the middle of a block: the
    /// next instruction is fetched from the new mapping, as `step` does.
    func testShadowSwitchByAnOUTInTheMiddleOfABlock() {
        var image = [UInt8](repeating: 0xF4, count: 0x1_0000)
        image.replaceSubrange(0..<6, with: [0xE6, 0x80, 0xB8, 0x01, 0x00, 0xF4]) // out 0x80, al; mov ax, 1; hlt
        let rom = memory.addROM(image)
        memory.mapShadow(at: 0xF_0000, size: 0x1_0000, readRAM: false, writeRAM: true, romOffset: rom)
        memory.copyIn(0xF_0000, [0xE6, 0x80, 0xB8, 0x02, 0x00, 0xF4])            // out 0x80, al; mov ax, 2; hlt
        let ports = ShadowSwitchPort(memory: memory, romOffset: rom)
        cpu.io = ports
        bench.realMode(code: [], segment: 0xF000, ip: 0)
        runUntilHalted()
        XCTAssertEqual(ports.switches, 1)
        XCTAssertEqual(cpu.reg16(0), 2, "the MOV after the OUT comes from shadow RAM")
    }

    /// A20 closed mid-block: the next fetch wraps to the first megabyte.
    func testA20GateClosedInTheMiddleOfABlock() {
        // At 1 MiB + 0x1000: out 0x92, al (the port closes A20); mov eax, 1; hlt.
        // At 0x1000 (where the wrapped fetch lands): same OUT, then mov eax, 2; hlt.
        bench.flat32(code: [0xE6, 0x92, 0xB8, 0x01, 0x00, 0x00, 0x00, 0xF4], eip: 0x10_1000)
        memory.copyIn(0x1000, [0xE6, 0x92, 0xB8, 0x02, 0x00, 0x00, 0x00, 0xF4])
        cpu.io = A20Port(memory: memory)
        runUntilHalted()
        XCTAssertEqual(cpu.reg32(0), 2)
    }

    // MARK: - Paging

    /// Two linear pages mapped to one frame: code runs through the first,
    /// is rewritten through the second, and runs again through the first.
    func testCodeRewrittenThroughAnotherLinearAliasOfItsPage() throws {
        let alias: UInt32 = 0x20_1000
        try pagingWithAliases(code: [0xB8, 0x01, 0x00, 0x00, 0x00, 0xF4]) // mov eax, 1; hlt
        runUntilHalted()
        XCTAssertEqual(cpu.reg32(0), 1)

        try cpu.write(.ds, alias + 1, size: 1, value: 2)
        restart(at: 0x20_0000)
        runUntilHalted()
        XCTAssertEqual(cpu.reg32(0), 2, "run through the first alias after a write through the second")
        restart(at: alias)
        runUntilHalted()
        XCTAssertEqual(cpu.reg32(0), 2, "and through the second")
    }

    func testStoreThroughAnAliasIntoTheNextInstruction() throws {
        try pagingWithAliases(code: [
            0xC6, 0x05, 0x08, 0x10, 0x20, 0x00, 0x42, // mov byte [0x201008], 0x42 — next imm8, via the alias
            0xB0, 0x11,                               // mov al, 0x11
            0xF4,                                     // hlt
        ])
        runUntilHalted()
        XCTAssertEqual(cpu.reg8(0), 0x42)
    }

    /// The block's page table entry is changed and its TLB entry then
    /// evicted by a data access to a page sharing the TLB slot: `step`
    /// fetches the next instruction through a fresh walk, from the new
    /// frame, and so must the block loop.
    func testCodePageTLBEntryReplacedInTheMiddleOfABlock() throws {
        let first: [UInt8] = [
            0xC7, 0x05, 0x00, 0x18, 0x01, 0x00, 0x07, 0x00, 0x32, 0x00, // mov dword [PTE of 0x200000], 0x320000 | 7
            0xA1, 0x00, 0x00, 0x60, 0x00,                               // mov eax, [0x600000] — same TLB slot
            0xB8, 0x01, 0x00, 0x00, 0x00,                               // mov eax, 1
            0xF4,                                                       // hlt
        ]
        try pagingWithAliases(code: first)
        var second = first
        second[16] = 0x02                                               // mov eax, 2 in the new frame
        memory.copyIn(0x32_0000, second)
        bench.write32(0x1_0004, 0x1_2000 | 7)                           // 4–8 MiB: a second table
        bench.write32(0x1_2000 + 4 * 0x200, 0x31_0000 | 7)             // 0x600000 → 0x310000
        runUntilHalted()
        XCTAssertEqual(cpu.reg32(0), 2)
    }

    /// Paging on with the first 4 MiB identity-mapped, and linear 0x200000
    /// and 0x201000 both mapped to the frame at 0x300000, which holds
    /// `code`; EIP = 0x200000.
    private func pagingWithAliases(code: [UInt8]) throws {
        let directory: UInt32 = 0x1_0000, table: UInt32 = 0x1_1000, frame: UInt32 = 0x30_0000
        bench.flat32(code: [], eip: 0x20_0000)
        bench.write32(directory, table | 7)
        for k: UInt32 in 0..<1024 { bench.write32(table + 4 * k, k << 12 | 7) }
        bench.write32(table + 4 * 0x200, frame | 7)
        bench.write32(table + 4 * 0x201, frame | 7)
        memory.copyIn(frame, code)
        try cpu.loadCR3(UInt64(directory))
        try cpu.writeCR0(UInt32(state.pointee.cr0) | CR0.pg)
    }

    // MARK: - What a cached block is keyed and checked by

    /// The same bytes decode differently in 16- and 32-bit code.
    func testSameBytesUnderBothCodeSizes() {
        let code: [UInt8] = [0xB8, 0x34, 0x12, 0xEB, 0x00, 0xF4] // 32: mov eax, 0x00EB1234; hlt. 16: mov ax, 0x1234; jmp $+2; hlt
        bench.flat32(code: code)
        runUntilHalted()
        XCTAssertEqual(cpu.reg32(0), 0x00EB_1234)

        cpu.setReg32(0, 0xAAAA_0000)
        cpu.segment(.cs).pointee.attributes &= ~0x4000 // D = 0, the same bytes at CS:0
        cpu.segment(.cs).pointee.base = 0x10_0000
        restart(at: 0)
        runUntilHalted()
        XCTAssertEqual(cpu.reg32(0), 0xAAAA_1234, "decoded as 16-bit code")
    }

    /// 16-bit code whose last instruction ends at 10000h: IP wraps to 0
    /// (SDM vol. 1, 3.6: the instruction pointer is 16 bits wide), where
    /// the HLT is. The block loop adds instruction lengths without masking
    /// IP, so it must leave such a block to `step`.
    func testSixteenBitCodeRunningIntoTheIPWrap() {
        bench.flat32(code: [0xF4], eip: 0x10_0000)             // CS:0000: hlt
        memory.copyIn(0x10_FFFE, [0x40, 0x40])                 // CS:FFFE: inc ax; inc ax
        cpu.segment(.cs).pointee.attributes &= ~0x4000         // D = 0
        cpu.segment(.cs).pointee.base = 0x10_0000
        cpu.segment(.cs).pointee.limit = 0xFFFF
        cpu.setReg32(0, 0)
        restart(at: 0xFFFE)
        runUntilHalted()
        XCTAssertTrue(bench.exceptions.isEmpty, "no #GP: IP wrapped inside the limit")
        XCTAssertEqual(cpu.reg32(0), 2)
        XCTAssertEqual(cpu.eip, 1, "halted after the HLT at CS:0")
    }

    /// A block that runs past the CS limit: the instructions inside it run,
    /// the first one outside raises #GP(0) at its own EIP.
    func testBlockReachingPastTheCodeSegmentLimit() {
        bench.flat32(code: [0x40, 0x40, 0x40, 0x40, 0xF4], eip: 0x10_0000) // inc eax ×4; hlt
        cpu.setReg32(0, 0)
        cpu.segment(.cs).pointee.limit = 0x10_0001 // the first two INCs are inside
        _ = cpu.run(3)
        XCTAssertEqual(cpu.reg32(0), 2)
        XCTAssertEqual(bench.exceptions.first?.vector, 13)
        XCTAssertEqual(bench.exceptions.first?.eip, 0x10_0002)
    }
}

/// Port 0x80 switches F0000–FFFFF to shadow RAM (as a PAM write would).
private final class ShadowSwitchPort: PortIO {
    let memory: PhysicalMemory
    let romOffset: Int
    var switches = 0
    init(memory: PhysicalMemory, romOffset: Int) { self.memory = memory; self.romOffset = romOffset }
    func portRead(_ port: UInt16, size: Int) -> UInt32 { 0xFF }
    func portWrite(_ port: UInt16, size: Int, value: UInt32) {
        guard port == 0x80 else { return }
        memory.mapShadow(at: 0xF_0000, size: 0x1_0000, readRAM: true, writeRAM: true, romOffset: romOffset)
        switches += 1
    }
}

/// Port 0x92 closes the A20 gate on any write (bit 1 = 0), as port A does.
private final class A20Port: PortIO {
    let memory: PhysicalMemory
    init(memory: PhysicalMemory) { self.memory = memory }
    func portRead(_ port: UInt16, size: Int) -> UInt32 { 0xFF }
    func portWrite(_ port: UInt16, size: Int, value: UInt32) {
        if port == 0x92 { memory.a20Mask = value & 2 != 0 ? 0xFFFF_FFFF : ~UInt32(1 << 20) }
    }
}

/// INTR as a device raises it: a write to port 0x40 asserts it; the
/// acknowledge cycle returns vector 0x20 and drops it.
private final class InterruptLine: PortIO, InterruptAcknowledge {
    unowned let cpu: CPU
    init(cpu: CPU) { self.cpu = cpu }
    func portRead(_ port: UInt16, size: Int) -> UInt32 { 0xFF }
    func portWrite(_ port: UInt16, size: Int, value: UInt32) { if port == 0x40 { cpu.interruptRequested = true } }
    func acknowledgeInterrupt() -> UInt8 {
        cpu.interruptRequested = false
        return 0x20
    }
}
