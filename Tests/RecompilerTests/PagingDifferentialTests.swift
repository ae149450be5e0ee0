import XCTest
import CPU
import MMU
import GuestPrograms
@testable import Recompiler

/// The random programs again, with paging on (every memory access through
/// the helpers and the software TLB): identity-mapped
/// 4 KiB pages, and for odd seeds the data page read-only with CR0.WP, so
/// the first store into it raises a #PF inside a block. The exception goes
/// through a real IDT and GDT to a handler that halts.
final class PagingDifferentialTests: XCTestCase {
    static let pageDirectory: UInt32 = 0x1000
    static let pageTable: UInt32 = 0x2000
    static let idt: UInt32 = 0x3000
    static let gdt: UInt32 = 0x4000
    static let handler: UInt32 = 0x10_F000

    func enablePaging(_ bench: EngineBench, dataReadOnly: Bool) {
        func write32(_ address: UInt32, _ value: UInt32) {
            bench.memory.copyIn(address, withUnsafeBytes(of: value.littleEndian, Array.init))
        }
        write32(Self.pageDirectory, Self.pageTable | 0x3)
        for page: UInt32 in 0..<1024 {
            let readOnly = dataReadOnly && page << 12 == RandomProgramEncoder.data32
            write32(Self.pageTable + 4 * page, page << 12 | (readOnly ? 0x1 : 0x3))
        }
        // GDT: null, flat code (08), flat data (10); IDT: every exception to the HLT handler.
        for (k, d) in [UInt64(0), 0x00CF_9A00_0000_FFFF, 0x00CF_9200_0000_FFFF].enumerated() {
            bench.memory.copyIn(Self.gdt + UInt32(8 * k), withUnsafeBytes(of: d.littleEndian, Array.init))
        }
        for vector: UInt32 in 0..<32 {
            write32(Self.idt + 8 * vector, 0x0008_0000 | Self.handler & 0xFFFF)
            write32(Self.idt + 8 * vector + 4, Self.handler & 0xFFFF_0000 | 0x8E00)
        }
        bench.memory.copyIn(Self.handler, [0xF4])
        bench.state.pointee.gdtr = DescriptorTableRegister(base: UInt64(Self.gdt), limit: 23)
        bench.state.pointee.idtr = DescriptorTableRegister(base: UInt64(Self.idt), limit: 32 * 8 - 1)
        bench.state.pointee.cr3 = UInt64(Self.pageDirectory)
        bench.state.pointee.cr0 |= 0x8001_0000 // PG, WP
    }

    func testRandomProgramsWithPaging() {
        for seed: UInt64 in 201...230 {
            var encoder = RandomProgramEncoder(g: SplitMix64(seed: seed), code32: true)
            var program: [UInt8] = []
            for _ in 0..<300 { program += encoder.instruction() }
            var g = encoder.g
            let registers = (0..<8).map { _ in UInt32(truncatingIfNeeded: g.next()) }
            let data = (0..<RandomProgramEncoder.dataSize).map { _ in g.nextByte() }
            let reference = EngineBench(), translated = EngineBench()
            for bench in [reference, translated] {
                bench.flat32(code: program + [0xF4])
                for r in 0..<8 where r != 4 { bench.cpu.setReg32(UInt8(r), registers[r]) }
                bench.memory.copyIn(RandomProgramEncoder.data32, data)
                enablePaging(bench, dataReadOnly: seed & 1 == 1)
            }
            reference.run(recompiled: false, limit: 3000)
            translated.run(recompiled: true, limit: 3000)
            let context = "paging, seed \(seed)"
            assertSameState(reference, translated, context)
            XCTAssertEqual(translated.state.pointee.cr2, reference.state.pointee.cr2, "CR2: \(context)")
            XCTAssertNil(firstDifference(translated.memory.copyOut(0x1F_0000 - 0x1000, count: 0x1000),
                                         reference.memory.copyOut(0x1F_0000 - 0x1000, count: 0x1000)), "stack: \(context)")
            XCTAssertNil(firstDifference(translated.memory.copyOut(RandomProgramEncoder.data32, count: RandomProgramEncoder.dataSize),
                                         reference.memory.copyOut(RandomProgramEncoder.data32, count: RandomProgramEncoder.dataSize)),
                         "data: \(context)")
            if seed & 1 == 1 {
                XCTAssertEqual(reference.exceptions.first?.vector, 14, "the store into the read-only page: \(context)")
            } else {
                XCTAssertEqual(reference.exceptions.count, 0, context)
            }
        }
    }

    /// A loop inside one page chains with paging on (CrossPageChainingTests
    /// has the jumps between pages).
    func testLoopsChainWithinAPage() {
        let program: [UInt8] = [0xB9, 0x00, 0x01, 0x00, 0x00,  //  0: mov ecx, 256
                                0x01, 0xC8,                    //  5: add eax, ecx
                                0x31, 0xC2,                    //  7: xor edx, eax
                                0x49, 0x75, 0xF9,              //  9: dec ecx; jnz 5
                                0xF4]                          // 12: hlt
        let reference = EngineBench(), translated = EngineBench()
        for bench in [reference, translated] {
            bench.flat32(code: program)
            enablePaging(bench, dataReadOnly: false)
        }
        reference.run(recompiled: false, limit: 10_000)
        translated.run(recompiled: true, limit: 10_000)
        assertSameState(reference, translated, "paged loop")
        XCTAssertGreaterThan(translated.recompiler.chainedExits, 0)
        XCTAssertLessThan(translated.recompiler.blocksRun, 10)
    }
}
