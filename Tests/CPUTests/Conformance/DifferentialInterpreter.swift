@testable import CPU
@testable import MMU

/// Runs `DifferentialCase`s on the interpreter in the same environment the
/// host harness gives them: flat 32-bit protected mode at CPL 3 with the
/// selectors of a 32-bit Linux process (CS 23h, DS/ES/SS 2Bh, FS/GS as the
/// harness found them), CR0 as Linux sets it (PE MP ET NE WP AM; paging is
/// left off, since every access stays in RAM), and copies of the Linux GDT
/// entries and IDT gate privileges that user code can observe (segment loads,
/// LAR/LSL/VERR/VERW, which INT n are allowed at CPL 3).
///
/// The first exception ends a case: `onException` captures the state at
/// that moment (the host harness records its signal frame, i.e. the state
/// the exception was raised with) and the delivery that follows is ignored.
/// A software interrupt (INT n, INT3, INTO, INT1) is announced through
/// `onInterrupt` before its gate is checked: it ends the case unless that
/// check raises an exception in the same step. The gates lead to a ring-0
/// code segment and the TSS holds a ring-0 stack, so a delivery that passes
/// its checks completes without raising anything else.
final class DifferentialInterpreter {
    typealias L = DifferentialLayout

    let bench = CPUTestBench(ramSize: 2 << 20)
    let selectors: [UInt16]
    /// Steps before a case counts as running away.
    static let stepLimit = 200_000

    static let gdtBase: UInt32 = 0x1000
    static let idtBase: UInt32 = 0x1800
    /// A 32-bit TSS without an I/O permission bitmap (its map base is past
    /// the limit), as Linux has for a process that never called ioperm:
    /// IN/OUT at CPL 3 with IOPL 0 raise #GP. Its ring-0 stack (SS0 = 18h,
    /// ESP0) lies in RAM outside the code page and the data region.
    static let tssBase: UInt32 = 0x1100
    static let ringZeroStack: UInt32 = 0x5F00
    /// Linux x86-64 GDT (arch/x86/include/asm/segment.h): 1 = KERNEL32_CS,
    /// 2 = KERNEL_CS (64-bit), 3 = KERNEL_DS, 4 = USER32_CS (23h),
    /// 5 = USER_DS (2Bh), 6 = USER_CS (64-bit, 33h). Attribute words as
    /// GDT_ENTRY_INIT writes them (base 0, limit FFFFFh).
    static let gdtEntries: [UInt16] = [0, 0xC09B, 0xA09B, 0xC093, 0xC0FB, 0xC0F3, 0xA0FB]
    /// Gates user code may use with INT n (DPL 3): #BP, #OF and the system call.
    static let userGates: Set<Int> = [3, 4, 0x80]

    private var captured: DifferentialOutcome?
    private var softwareInterrupt: DifferentialOutcome?
    private var initialData: [UInt8] = []

    init(selectors: [UInt16]) {
        self.selectors = selectors
        let memory = bench.memory
        for (i, attributes) in DifferentialInterpreter.gdtEntries.enumerated() {
            let a = UInt32(attributes)
            let low: UInt32 = 0x0000_FFFF
            let high: UInt32 = (a & 0xFF) << 8 | 0x000F_0000 | (a & 0xF000) << 8
            memory.write(DifferentialInterpreter.gdtBase + UInt32(8 * i), size: 4, value: low)
            memory.write(DifferentialInterpreter.gdtBase + UInt32(8 * i + 4), size: 4, value: high)
        }
        for v in 0..<256 {
            let dpl: UInt32 = DifferentialInterpreter.userGates.contains(v) ? 3 : 0
            let offset: UInt32 = 0xFFFF_F000 + UInt32(v) * 16
            memory.write(DifferentialInterpreter.idtBase + UInt32(8 * v), size: 4, value: 0x0008 << 16 | offset & 0xFFFF)
            memory.write(DifferentialInterpreter.idtBase + UInt32(8 * v + 4), size: 4,
                         value: offset & 0xFFFF_0000 | 0x8E00 | dpl << 13)
        }
        memory.write(DifferentialInterpreter.tssBase + 4, size: 4, value: DifferentialInterpreter.ringZeroStack)
        memory.write(DifferentialInterpreter.tssBase + 8, size: 2, value: 0x18)
        memory.write(DifferentialInterpreter.tssBase + 0x66, size: 2, value: 0x68)
        bench.cpu.onException = { [unowned self] fault, _ in
            self.capture(DifferentialFault(vector: fault.vector, errorCode: fault.errorCode ?? 0, eip: self.bench.cpu.eip))
        }
        bench.cpu.onInterrupt = { [unowned self] vector, external in
            if !external && self.softwareInterrupt == nil {
                self.softwareInterrupt = self.snapshot(fault: DifferentialFault(vector: vector, errorCode: 0, eip: self.bench.cpu.eip))
            }
        }
    }

    private func capture(_ fault: DifferentialFault) {
        if captured == nil { captured = snapshot(fault: fault) }
    }

    private func snapshot(fault: DifferentialFault?) -> DifferentialOutcome {
        let cpu = bench.cpu
        let s = bench.state
        var changes: [UInt32] = []
        let ram = bench.memory.ram + Int(L.dataBase)
        initialData.withUnsafeBufferPointer { before in
            var i = 0
            while i < L.dataSize {
                // Compare eight bytes at a time; most are unchanged.
                if UnsafeRawPointer(ram + i).loadUnaligned(as: UInt64.self)
                    != UnsafeRawPointer(before.baseAddress! + i).loadUnaligned(as: UInt64.self) {
                    for k in i..<i + 8 where ram[k] != before[k] { changes.append(UInt32(k) << 8 | UInt32(ram[k])) }
                }
                i += 8
            }
        }
        return DifferentialOutcome(
            fault: fault,
            registers: (0..<8).map { cpu.reg32(UInt8($0)) },
            eflags: s.pointee.eflags,
            selectors: SegmentRegister.allCases.map { cpu.segment($0).pointee.selector },
            fpu: FXSaveImage.store(s),
            memoryChanges: changes)
    }

    func run(_ c: DifferentialCase) -> DifferentialOutcome {
        let cpu = bench.cpu
        let s = bench.state
        let memory = bench.memory
        bench.flat32(code: [], eip: L.codeBase, cpl: 3)
        for seg in SegmentRegister.allCases {
            let selector = selectors[seg.rawValue]
            let attributes: UInt16 = selector == 0 ? 0 : (seg == .cs ? 0xC0FB : 0xC0F3)
            cpu.segment(seg).pointee = SegmentDescriptorCache(selector: selector, base: 0, limit: 0xFFFF_FFFF, attributes: attributes)
        }
        s.pointee.cr0 = 0x0005_0033
        s.pointee.gdtr = DescriptorTableRegister(base: UInt64(DifferentialInterpreter.gdtBase),
                                                 limit: UInt16(8 * DifferentialInterpreter.gdtEntries.count - 1))
        s.pointee.idtr = DescriptorTableRegister(base: UInt64(DifferentialInterpreter.idtBase), limit: 0x7FF)
        s.pointee.tr = SegmentDescriptorCache(selector: 0x40, base: UInt64(DifferentialInterpreter.tssBase), limit: 0x67, attributes: 0x8B)
        // No LDT: LDTR holds the null selector.
        s.pointee.ldtr = SegmentDescriptorCache(selector: 0, base: 0, limit: 0, attributes: 0)
        for r in 0..<8 { cpu.setReg32(UInt8(r), c.registers[r]) }
        s.pointee.eflags = c.eflags | 0x202
        FXSaveImage.load(c.fpu, into: s)

        (memory.ram + Int(L.codeBase)).initialize(repeating: 0, count: L.codePageSize)
        c.code.withUnsafeBufferPointer { (memory.ram + Int(L.codeBase)).update(from: $0.baseAddress!, count: $0.count) }
        initialData = L.initialData(seed: c.dataSeed, patches: c.patches)
        initialData.withUnsafeBufferPointer { (memory.ram + Int(L.dataBase)).update(from: $0.baseAddress!, count: L.dataSize) }

        captured = nil
        softwareInterrupt = nil
        let end = L.codeBase + UInt32(c.code.count)
        var steps = 0
        while captured == nil && cpu.eip != end {
            if steps == DifferentialInterpreter.stepLimit {
                // Reported as a fault no processor raises, so it never matches.
                return snapshot(fault: DifferentialFault(vector: 0xFF, errorCode: 0, eip: cpu.eip))
            }
            cpu.step()
            steps += 1
            if captured == nil { captured = softwareInterrupt }
        }
        return captured ?? snapshot(fault: nil)
    }
}
