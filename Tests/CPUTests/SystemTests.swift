import XCTest
@testable import CPU
@testable import MMU

/// Fixtures the system tests share: descriptor tables and a TSS written
/// into the bench's RAM in the formats of Intel SDM vol. 3 (figure 3-8
/// segment descriptors, 5-8 call gates, 6-2 IDT gates, 7-2 the 32-bit
/// TSS), so each test checks the CPU against encodings taken from the
/// manual rather than from the code under test.
enum Layout {
    static let gdt: UInt32 = 0x1000
    static let idt: UInt32 = 0x2000
    static let tss: UInt32 = 0x3000
    static let otherTSS: UInt32 = 0x3200
    static let ldt: UInt32 = 0x3800
    static let ring0StackTop: UInt32 = 0x9000
    static let ring3StackTop: UInt32 = 0x8000
    static let handler: UInt32 = 0x5_0000
}

/// The GDT every protected-mode test starts from.
enum Selector {
    static let code0: UInt16 = 0x08      // 32-bit code, DPL 0, flat
    static let data0: UInt16 = 0x10      // 32-bit data, DPL 0, flat
    static let code3: UInt16 = 0x1B      // 32-bit code, DPL 3, flat (RPL 3)
    static let data3: UInt16 = 0x23      // 32-bit data, DPL 3, flat (RPL 3)
    static let tss: UInt16 = 0x28        // 32-bit TSS at Layout.tss
    static let code16: UInt16 = 0x30     // 16-bit code, DPL 0, base 0, limit 0xFFFF
    static let data16: UInt16 = 0x38     // 16-bit data, DPL 0, base 0, limit 0xFFFF
    static let conforming: UInt16 = 0x40 // conforming code, DPL 0
    static let absentCode: UInt16 = 0x48 // code, not present
    static let absentData: UInt16 = 0x50 // data, not present
    static let readOnly: UInt16 = 0x58   // read-only data, DPL 0
    static let free: UInt16 = 0x60       // first free slot for a test's own descriptors
}

enum Descriptors {
    /// A code/data/system segment descriptor: `access` is byte 5 (P, DPL,
    /// S, type), `flags` the G, D/B, L, AVL nibble.
    static func segment(base: UInt32, limit: UInt32, access: UInt8, flags: UInt8 = 0xC) -> UInt64 {
        let low = (limit & 0xFFFF) | (base & 0xFFFF) << 16
        let high = (base >> 16) & 0xFF | UInt32(access) << 8 | limit & 0xF_0000 | UInt32(flags) << 20 | base & 0xFF00_0000
        return UInt64(high) << 32 | UInt64(low)
    }

    /// A gate: `type` 4/0xC call, 5 task, 6/0xE interrupt, 7/0xF trap.
    static func gate(selector: UInt16, offset: UInt32, type: UInt8, dpl: UInt8, present: Bool = true,
                     parameters: UInt8 = 0) -> UInt64 {
        let low = offset & 0xFFFF | UInt32(selector) << 16
        let access = (present ? 0x80 : 0) | UInt32(dpl) << 5 | UInt32(type)
        let high = offset & 0xFFFF_0000 | access << 8 | UInt32(parameters & 0x1F)
        return UInt64(high) << 32 | UInt64(low)
    }
}

extension CPUTestBench {
    func write32(_ address: UInt32, _ value: UInt32) { memory.write(address, size: 4, value: value) }

    func setDescriptor(_ selector: UInt16, _ d: UInt64, table: UInt32 = Layout.gdt) {
        let at = table + UInt32(selector & 0xFFF8)
        write32(at, UInt32(truncatingIfNeeded: d))
        write32(at + 4, UInt32(truncatingIfNeeded: d >> 32))
    }

    func descriptorHigh(_ selector: UInt16, table: UInt32 = Layout.gdt) -> UInt32 {
        read32(table + UInt32(selector & 0xFFF8) + 4)
    }

    func setIDTGate(_ vector: UInt8, _ d: UInt64) { setDescriptor(UInt16(vector) << 3, d, table: Layout.idt) }

    /// Protected mode (no paging) at `cpl` with the standard GDT, an empty
    /// IDT (limit covers 256 gates), TR loaded with the busy TSS whose
    /// SS0:ESP0 is data0:ring0StackTop, and flat segments at that CPL.
    func protectedMode(cpl: UInt8 = 0, eip: UInt32 = 0x10_0000) {
        flat32(code: [], eip: eip, cpl: cpl)
        let standard: [(UInt16, UInt64)] = [
            (Selector.code0, Descriptors.segment(base: 0, limit: 0xFFFFF, access: 0x9A)),
            (Selector.data0, Descriptors.segment(base: 0, limit: 0xFFFFF, access: 0x92)),
            (Selector.code3, Descriptors.segment(base: 0, limit: 0xFFFFF, access: 0xFA)),
            (Selector.data3, Descriptors.segment(base: 0, limit: 0xFFFFF, access: 0xF2)),
            // A busy 32-bit TSS with an I/O bitmap for ports 0–0x3FF (128 bytes).
            (Selector.tss, Descriptors.segment(base: Layout.tss, limit: 0x67 + 128, access: 0x8B, flags: 0)),
            (Selector.code16, Descriptors.segment(base: 0, limit: 0xFFFF, access: 0x9A, flags: 0)),
            (Selector.data16, Descriptors.segment(base: 0, limit: 0xFFFF, access: 0x92, flags: 0)),
            (Selector.conforming, Descriptors.segment(base: 0, limit: 0xFFFFF, access: 0x9E)),
            (Selector.absentCode, Descriptors.segment(base: 0, limit: 0xFFFFF, access: 0x1A)),
            (Selector.absentData, Descriptors.segment(base: 0, limit: 0xFFFFF, access: 0x12)),
            (Selector.readOnly, Descriptors.segment(base: 0, limit: 0xFFFFF, access: 0x90)),
        ]
        for (selector, d) in standard { setDescriptor(selector, d) }
        state.pointee.gdtr = DescriptorTableRegister(base: UInt64(Layout.gdt), limit: 0xFF)
        state.pointee.idtr = DescriptorTableRegister(base: UInt64(Layout.idt), limit: 0x7FF)
        state.pointee.tr = cache(Selector.tss)
        write32(Layout.tss + 4, Layout.ring0StackTop)      // ESP0
        write32(Layout.tss + 8, UInt32(Selector.data0))    // SS0
        write32(Layout.tss + 100, 0x68 << 16)              // I/O map base right after the TSS
        let code = cpl == 0 ? Selector.code0 : Selector.code3
        let data = cpl == 0 ? Selector.data0 : Selector.data3
        for s in SegmentRegister.allCases { cpu.segment(s).pointee = cache(s == .cs ? code : data) }
        cpu.setReg32(4, cpl == 0 ? Layout.ring0StackTop : Layout.ring3StackTop)
    }

    /// The cache a descriptor in the GDT yields (for setting up state).
    func cache(_ selector: UInt16) -> SegmentDescriptorCache {
        let at = Layout.gdt + UInt32(selector & 0xFFF8)
        return SegmentDescriptorCache(selector: selector, descriptorLow: read32(at), high: read32(at + 4))
    }

    /// The dwords (or words) on the stack from ESP upwards.
    func stack(_ count: Int, size: Int = 4) -> [UInt32] {
        let ss = cpu.segment(.ss).pointee
        let esp = ss.is32Bit ? cpu.reg32(4) : UInt32(cpu.reg16(4))
        return (0..<count).map { memory.read(UInt32(truncatingIfNeeded: ss.base) &+ esp &+ UInt32($0 * size), size: size) }
    }

    /// Runs `body` expecting it to throw `fault`.
    func expectFault(_ fault: CPUFault, _ message: String = "", file: StaticString = #filePath, line: UInt = #line,
                     _ body: () throws -> Void) {
        do {
            try body()
            XCTFail("expected \(describe(fault)), no fault. \(message)", file: file, line: line)
        } catch let error as CPUFault {
            XCTAssertEqual(error, fault, "got \(describe(error)). \(message)", file: file, line: line)
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
    }

    func describe(_ f: CPUFault) -> String {
        f.name + (f.errorCode.map { "(0x" + String($0, radix: 16) + ")" } ?? "")
    }
}

/// Builds instructions the way the decoder hands them over, for tests that
/// call the system semantics directly.
enum Build {
    static func instruction(_ op: Op, _ operands: Operand..., operandSize: UInt8 = 4, immediate: UInt32 = 0,
                            immediate2: UInt32 = 0, displacement: UInt32 = 0, segment: SegmentRegister = .ds) -> Instruction {
        var i = Instruction()
        i.op = op
        i.operandSize = operandSize
        i.addressSize = 4
        i.immediate = immediate
        i.immediate2 = immediate2
        i.displacement = displacement
        i.segment = segment
        if operands.count > 0 { i.operands.0 = operands[0] }
        if operands.count > 1 { i.operands.1 = operands[1] }
        if operands.contains(where: { $0.kind == .memory || $0.kind == .register }) { i.hasModRM = true }
        if operands.contains(where: { $0.kind == .memory }) { i.modrm = 0x05 } // [disp32]
        return i
    }

    static func memory(_ size: UInt8) -> Operand { Operand(.memory, size: size) }
    static func register(_ r: UInt8, _ size: UInt8 = 4) -> Operand { Operand(.register, size: size, register: r) }
}
