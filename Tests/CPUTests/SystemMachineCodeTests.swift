import XCTest
@testable import CPU
@testable import MMU

/// The system semantics driven by real machine code through the decoder
/// and `CPU.step`: the sequences a boot loader and a kernel run. Each
/// program is given in NASM syntax; the bytes are NASM's output.
final class SystemMachineCodeTests: XCTestCase {
    let bench = CPUTestBench()
    var cpu: CPU { bench.cpu }
    var state: UnsafeMutablePointer<CPUState> { bench.state }

    /// Steps until HLT (or `limit` instructions); returns the number of steps.
    @discardableResult
    func runUntilHalted(limit: Int = 1000) -> Int {
        var n = 0
        while !state.pointee.halted && n < limit { cpu.step(); n += 1 }
        XCTAssertTrue(state.pointee.halted, "program did not reach HLT")
        return n
    }

    func testRealToProtectedModeSwitch() {
        // bits 16 / org 0x7C00
        //     cli
        //     lgdt [gdt_desc]
        //     mov eax, cr0
        //     or al, 1
        //     mov cr0, eax
        //     jmp 0x08:pm32
        // bits 32
        // pm32: mov ax, 0x10 / mov ds, ax / mov es, ax / mov ss, ax
        //     mov esp, 0x90000
        //     mov dword [0x6000], 0x12345678
        //     hlt
        // align 8
        // gdt: dq 0, 0x00CF9A000000FFFF, 0x00CF92000000FFFF
        // gdt_desc: dw 23 / dd gdt
        let program: [UInt8] = [
            0xfa, 0x0f, 0x01, 0x16, 0x48, 0x7c, 0x0f, 0x20, 0xc0, 0x0c, 0x01, 0x0f, 0x22, 0xc0, 0xea, 0x13,
            0x7c, 0x08, 0x00, 0x66, 0xb8, 0x10, 0x00, 0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xd0, 0xbc, 0x00, 0x00,
            0x09, 0x00, 0xc7, 0x05, 0x00, 0x60, 0x00, 0x00, 0x78, 0x56, 0x34, 0x12, 0xf4, 0x90, 0x90, 0x90,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x9a, 0xcf, 0x00,
            0xff, 0xff, 0x00, 0x00, 0x00, 0x92, 0xcf, 0x00, 0x17, 0x00, 0x30, 0x7c, 0x00, 0x00,
        ]
        bench.realMode(code: program, segment: 0, ip: 0x7C00)
        var writes: [Int] = []
        cpu.onControlRegisterWrite = { n, _, _ in writes.append(n) }
        XCTAssertEqual(cpu.run(100), 5, "the batch ends right after MOV CR0 (the fifth instruction) changes the mode")
        XCTAssertTrue(cpu.protectedMode)
        XCTAssertEqual(writes, [0])
        runUntilHalted()
        XCTAssertEqual(cpu.segment(.cs).pointee.selector, 0x08)
        XCTAssertTrue(cpu.segment(.cs).pointee.is32Bit)
        XCTAssertEqual(cpu.segment(.ss).pointee.limit, 0xFFFF_FFFF)
        XCTAssertEqual(cpu.cpl, 0)
        XCTAssertEqual(bench.read32(0x6000), 0x1234_5678)
        XCTAssertEqual(bench.read32(0x7C00 + 0x38 + 4) >> 8 & 0xFF, 0x9B, "CS descriptor marked accessed")
    }

    func testInterruptGateWithPrivilegeChangeAndBack() {
        // CPL 0, at 0x100000:
        //     push dword 0x23 / push dword 0x8000 / push dword 0x202
        //     push dword 0x1B / push dword user
        //     iret                      ; to CPL 3
        // user: mov eax, 0x1111
        //     int 0x30
        //     mov ebx, eax
        //     int 0x31
        let main: [UInt8] = [
            0x6a, 0x23, 0x68, 0x00, 0x80, 0x00, 0x00, 0x68, 0x02, 0x02, 0x00, 0x00, 0x6a, 0x1b, 0x68, 0x14,
            0x00, 0x10, 0x00, 0xcf, 0xb8, 0x11, 0x11, 0x00, 0x00, 0xcd, 0x30, 0x89, 0xc3, 0xcd, 0x31,
        ]
        // handler (vector 0x30): mov ecx, [esp+4] / mov edx, esp / add eax, 1 / iret
        let handler: [UInt8] = [0x8b, 0x4c, 0x24, 0x04, 0x89, 0xe2, 0x83, 0xc0, 0x01, 0xcf]
        bench.protectedMode()
        bench.memory.copyIn(0x10_0000, main)
        bench.memory.copyIn(0x10_0100, handler)
        bench.memory.copyIn(0x10_0200, [0xF4]) // vector 0x31: hlt
        bench.setIDTGate(0x30, Descriptors.gate(selector: Selector.code0, offset: 0x10_0100, type: 0xE, dpl: 3))
        bench.setIDTGate(0x31, Descriptors.gate(selector: Selector.code0, offset: 0x10_0200, type: 0xE, dpl: 3))
        runUntilHalted()
        XCTAssertEqual(cpu.reg32(1), UInt32(Selector.code3), "the handler saw the CPL-3 CS in its frame")
        XCTAssertEqual(cpu.reg32(2), Layout.ring0StackTop - 20, "on the ring-0 stack from the TSS")
        XCTAssertEqual(cpu.reg32(3), 0x1112, "IRET returned to CPL 3 with the handler's EAX")
        XCTAssertEqual(cpu.cpl, 0)
        XCTAssertEqual(bench.stack(5), [0x10_001F, UInt32(Selector.code3), 0x202, 0x8000, UInt32(Selector.data3)])
    }

    func testPageFaultReportsCR2AndErrorCode() {
        //     mov eax, cr4 / or eax, 0x10 / mov cr4, eax      ; PSE
        //     mov eax, 0x10000 / mov cr3, eax
        //     mov eax, cr0 / or eax, 0x80000000 / mov cr0, eax
        // fault: mov dword [0x00400000], 1                     ; not mapped
        //     hlt
        let main: [UInt8] = [
            0x0f, 0x20, 0xe0, 0x83, 0xc8, 0x10, 0x0f, 0x22, 0xe0, 0xb8, 0x00, 0x00, 0x01, 0x00, 0x0f, 0x22,
            0xd8, 0x0f, 0x20, 0xc0, 0x0d, 0x00, 0x00, 0x00, 0x80, 0x0f, 0x22, 0xc0, 0xc7, 0x05, 0x00, 0x00,
            0x40, 0x00, 0x01, 0x00, 0x00, 0x00, 0xf4,
        ]
        // handler (vector 14): pop eax / mov ebx, cr2 / mov ecx, [esp] / hlt
        let handler: [UInt8] = [0x58, 0x0f, 0x20, 0xd3, 0x8b, 0x0c, 0x24, 0xf4]
        bench.protectedMode()
        bench.memory.copyIn(0x10_0000, main)
        bench.memory.copyIn(0x10_0100, handler)
        bench.setIDTGate(14, Descriptors.gate(selector: Selector.code0, offset: 0x10_0100, type: 0xE, dpl: 0))
        bench.write32(0x10000, 0x0000_0083) // PDE 0: 4 MiB identity page, supervisor, writable; PDE 1 absent
        runUntilHalted()
        XCTAssertTrue(cpu.pagingEnabled)
        XCTAssertEqual(cpu.reg32(0), 2, "error code: not present, write, supervisor")
        XCTAssertEqual(cpu.reg32(3), 0x0040_0000, "CR2")
        XCTAssertEqual(cpu.reg32(1), 0x10_001C, "the faulting instruction is saved, to be restarted")
        XCTAssertEqual(bench.read32(0x10000), 0x0000_00E3, "4 MiB PDE accessed and dirty (the #PF frame was written through it)")
        XCTAssertEqual(bench.exceptions.map(\.vector), [14])
    }

    func testTaskSwitchThroughATaskGateAndBack() {
        // main:   mov eax, 0xAAAA / int 0x40 / mov ebx, eax / hlt
        // nested: mov dword [0x6000], 0x5555 / mov eax, 0x5555 / iret
        let main: [UInt8] = [0xb8, 0xaa, 0xaa, 0x00, 0x00, 0xcd, 0x40, 0x89, 0xc3, 0xf4]
        let nested: [UInt8] = [0xc7, 0x05, 0x00, 0x60, 0x00, 0x00, 0x55, 0x55, 0x00, 0x00, 0xb8, 0x55, 0x55, 0x00, 0x00, 0xcf]
        bench.protectedMode()
        bench.memory.copyIn(0x10_0000, main)
        bench.memory.copyIn(0x10_0100, nested)
        let tss = Selector.free
        bench.setDescriptor(tss, Descriptors.segment(base: Layout.otherTSS, limit: 0x67, access: 0x89, flags: 0))
        bench.write32(Layout.otherTSS + 32, 0x10_0100) // EIP
        bench.write32(Layout.otherTSS + 36, 0x2)       // EFLAGS
        bench.write32(Layout.otherTSS + 56, 0x7000)    // ESP
        for (k, sel) in [Selector.data0, Selector.code0, Selector.data0, Selector.data0, Selector.data0, Selector.data0].enumerated() {
            bench.write32(Layout.otherTSS + 72 + UInt32(4 * k), UInt32(sel))
        }
        bench.setIDTGate(0x40, Descriptors.gate(selector: tss, offset: 0, type: 5, dpl: 0))
        runUntilHalted()
        XCTAssertEqual(bench.read32(0x6000), 0x5555, "the nested task ran")
        XCTAssertEqual(cpu.reg32(3), 0xAAAA, "the old task's EAX came back with its state")
        XCTAssertEqual(state.pointee.tr.selector, Selector.tss)
        XCTAssertEqual(state.pointee.eflags & EFLAGS.nt, 0)
        XCTAssertEqual(bench.read32(Layout.otherTSS + 32), 0x10_0110, "the nested task resumes after its IRET")
        XCTAssertEqual(bench.descriptorHigh(tss) >> 8 & 0xFF, 0x89, "not busy any more")
    }

    func testVirtual8086ModeAndTheMonitor() {
        // CPL 0: push dword 0 (GS) / 0 (FS) / 0x3000 (DS) / 0 (ES) / 0x3000 (SS)
        //     push dword 0xFFFE (ESP) / 0x20202 (EFLAGS: VM, IF) / 0x2000 (CS) / 0 (EIP)
        //     iret
        let kernel: [UInt8] = [
            0x6a, 0x00, 0x6a, 0x00, 0x68, 0x00, 0x30, 0x00, 0x00, 0x6a, 0x00, 0x68, 0x00, 0x30, 0x00, 0x00,
            0x68, 0xfe, 0xff, 0x00, 0x00, 0x68, 0x02, 0x02, 0x02, 0x00, 0x68, 0x00, 0x20, 0x00, 0x00, 0x6a,
            0x00, 0xcf,
        ]
        // V86 at 2000:0000: mov ax, 0x1234 / mov [0x10], ax / int 0x21 (IOPL 0: #GP to the monitor)
        let v86: [UInt8] = [0xb8, 0x34, 0x12, 0xa3, 0x10, 0x00, 0xcd, 0x21]
        // #GP handler: mov ebx, [esp] / mov ecx, [esp+4] / mov edx, [esp+12] / hlt
        let monitor: [UInt8] = [0x8b, 0x1c, 0x24, 0x8b, 0x4c, 0x24, 0x04, 0x8b, 0x54, 0x24, 0x0c, 0xf4]
        bench.protectedMode()
        bench.memory.copyIn(0x10_0000, kernel)
        bench.memory.copyIn(0x2_0000, v86)
        bench.memory.copyIn(0x10_0100, monitor)
        bench.setIDTGate(13, Descriptors.gate(selector: Selector.code0, offset: 0x10_0100, type: 0xE, dpl: 0))
        runUntilHalted()
        XCTAssertEqual(bench.read16(0x3_0010), 0x1234, "V86 code wrote through DS = 0x3000 (linear 0x30010)")
        XCTAssertEqual(cpu.reg32(3), 0, "#GP(0)")
        XCTAssertEqual(cpu.reg32(1), 6, "the INT instruction's IP, to be emulated by the monitor")
        XCTAssertEqual(cpu.reg32(2) & EFLAGS.vm, EFLAGS.vm, "the interrupted EFLAGS has VM set")
        XCTAssertFalse(cpu.virtual8086)
        XCTAssertEqual(bench.stack(10), [0, 6, 0x2000, 0x2_0202, 0xFFFE, 0x3000, 0, 0x3000, 0, 0],
                       "error code, EIP, CS, EFLAGS, ESP, SS, ES, DS, FS, GS of the V86 task")
    }

    func testTripleFault() {
        // lidt [idt0] / int3 / hlt / idt0: dw 0, dd 0
        let program: [UInt8] = [0x0f, 0x01, 0x1e, 0x07, 0x7c, 0xcc, 0xf4, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]
        bench.realMode(code: program, segment: 0, ip: 0x7C00)
        var shutdowns = 0
        cpu.onTripleFault = { shutdowns += 1 }
        state.pointee.eflags |= EFLAGS.if
        cpu.run(10)
        XCTAssertEqual(shutdowns, 1)
        XCTAssertTrue(state.pointee.halted)
        XCTAssertEqual(state.pointee.eflags & EFLAGS.if, 0)
        XCTAssertEqual(cpu.eip, 0x7C05, "stopped at the INT3, which never completed")
    }
}
