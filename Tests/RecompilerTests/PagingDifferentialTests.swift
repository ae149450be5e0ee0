import XCTest
import CPU
import MMU
import GuestPrograms
@testable import Recompiler

/// The random programs again, with paging on (the inline software-TLB
/// path and, on misses and faults, the helpers; blocks chained across pages
/// under the paging epoch): identity-mapped 4 KiB pages whose A/D bits the walk sets, at
/// CPL 0 and CPL 3, with the data page made to fault in the ways paging
/// can (`DataPage`). An exception goes through a real IDT, GDT and (from
/// CPL 3) TSS to a handler that halts.
final class PagingDifferentialTests: XCTestCase {
    static let pageDirectory: UInt32 = 0x1000
    static let pageTable: UInt32 = 0x2000
    static let idt: UInt32 = 0x3000
    static let gdt: UInt32 = 0x4000
    static let tss: UInt32 = 0x5000
    static let handler: UInt32 = 0x10_F000

    /// What the data page is to the program.
    enum DataPage: CaseIterable {
        case writable
        /// Read-only with CR0.WP: the first store raises a #PF, at any CPL.
        case readOnly
        /// Read-only without CR0.WP: supervisor stores go through.
        case readOnlyNoWriteProtect
        /// Not present: the first access raises a #PF.
        case notPresent
        /// Supervisor-only: a #PF at CPL 3 only.
        case supervisorOnly

        var faults: Bool { self == .readOnly || self == .notPresent }
        func faults(user: Bool) -> Bool { faults || (user && self != .writable) }
    }

    /// Descriptor tables, a TSS, page tables and (with `paging`) CR0.PG.
    static func enablePaging(_ bench: EngineBench, dataPage: DataPage = .writable, user: Bool = false, paging: Bool = true) {
        func write32(_ address: UInt32, _ value: UInt32) {
            bench.memory.copyIn(address, withUnsafeBytes(of: value.littleEndian, Array.init))
        }
        write32(Self.pageDirectory, Self.pageTable | 0x7)
        for page: UInt32 in 0..<1024 {
            var flags: UInt32 = 0x7 // P, R/W, U/S
            if page << 12 == RandomProgramEncoder.data32 {
                switch dataPage {
                case .writable: break
                case .readOnly, .readOnlyNoWriteProtect: flags = 0x5
                case .notPresent: flags = 0x6
                case .supervisorOnly: flags = 0x3
                }
            }
            write32(Self.pageTable + 4 * page, page << 12 | flags)
        }
        // GDT: null, flat code and data at DPL 0 (08, 10) and DPL 3 (18, 20), the TSS (28).
        let descriptors: [UInt64] = [0, 0x00CF_9A00_0000_FFFF, 0x00CF_9200_0000_FFFF,
                                     0x00CF_FA00_0000_FFFF, 0x00CF_F200_0000_FFFF,
                                     0x0000_8B00_0000_0067 | UInt64(Self.tss) << 16]
        for (k, d) in descriptors.enumerated() {
            bench.memory.copyIn(Self.gdt + UInt32(8 * k), withUnsafeBytes(of: d.littleEndian, Array.init))
        }
        // The TSS's ring-0 stack, for an exception raised at CPL 3.
        write32(Self.tss + 4, 0x1E_0000)
        write32(Self.tss + 8, 0x10)
        bench.state.pointee.tr = SegmentDescriptorCache(selector: 0x28, base: UInt64(Self.tss), limit: 0x67, attributes: 0x8B)
        for vector: UInt32 in 0..<32 {
            write32(Self.idt + 8 * vector, 0x0008_0000 | Self.handler & 0xFFFF)
            write32(Self.idt + 8 * vector + 4, Self.handler & 0xFFFF_0000 | 0x8E00)
        }
        bench.memory.copyIn(Self.handler, [0xF4])
        bench.state.pointee.gdtr = DescriptorTableRegister(base: UInt64(Self.gdt), limit: UInt16(8 * descriptors.count - 1))
        bench.state.pointee.idtr = DescriptorTableRegister(base: UInt64(Self.idt), limit: 32 * 8 - 1)
        bench.state.pointee.cr3 = UInt64(Self.pageDirectory)
        if paging { bench.state.pointee.cr0 |= dataPage == .readOnlyNoWriteProtect ? 0x8000_0000 : 0x8001_0000 } // PG (, WP)
        if user {
            for s in SegmentRegister.allCases {
                bench.cpu.segment(s).pointee = SegmentDescriptorCache(selector: s == .cs ? 0x1B : 0x23, base: 0,
                                                                      limit: 0xFFFF_FFFF,
                                                                      attributes: (s == .cs ? 0xFB : 0xF3) | 0xC000)
            }
            bench.state.pointee.cpl = 3
        }
    }

    /// Runs one random program (`instruction` encodes each of its
    /// instructions) with paging on, on both engines, and compares them,
    /// the page tables' A/D bits included.
    func comparePaged(seed: UInt64, dataPage: DataPage, user: Bool, paging: Bool = true, length: Int = 300,
                      instruction: (inout RandomProgramEncoder) -> [UInt8] = { $0.instruction() }) -> EngineBench {
        var encoder = RandomProgramEncoder(g: SplitMix64(seed: seed), code32: true)
        var program: [UInt8] = []
        for _ in 0..<length { program += instruction(&encoder) }
        var g = encoder.g
        let registers = (0..<8).map { _ in UInt32(truncatingIfNeeded: g.next()) }
        let data = (0..<RandomProgramEncoder.dataSize).map { _ in g.nextByte() }
        let reference = EngineBench(), translated = EngineBench()
        for bench in [reference, translated] {
            bench.flat32(code: program + [0xF4])
            for r in 0..<8 where r != 4 { bench.cpu.setReg32(UInt8(r), registers[r]) }
            bench.memory.copyIn(RandomProgramEncoder.data32, data)
            Self.enablePaging(bench, dataPage: dataPage, user: user, paging: paging)
        }
        reference.run(recompiled: false, limit: 10 * length)
        translated.run(recompiled: true, limit: 10 * length)
        let context = "paging \(paging ? "on" : "off"), \(dataPage), CPL \(user ? 3 : 0), seed \(seed)"
        assertSameState(reference, translated, context)
        XCTAssertEqual(translated.state.pointee.cr2, reference.state.pointee.cr2, "CR2: \(context)")
        for (what, base, count) in [("stack", UInt32(0x1E_0000), 0x1_0000),
                                    ("data", RandomProgramEncoder.data32, RandomProgramEncoder.dataSize),
                                    ("page tables", Self.pageDirectory, 0x2000)] {
            XCTAssertNil(firstDifference(translated.memory.copyOut(base, count: count),
                                         reference.memory.copyOut(base, count: count)), "\(what): \(context)")
        }
        return translated
    }

    func testRandomProgramsWithPaging() {
        for seed: UInt64 in 201...240 {
            let kinds = DataPage.allCases
            let dataPage = kinds[Int(seed) % kinds.count], user = seed & 1 == 1
            let translated = comparePaged(seed: seed, dataPage: dataPage, user: user)
            if dataPage.faults(user: user) {
                XCTAssertEqual(translated.exceptions.first?.vector, 14, "the access to the data page, seed \(seed)")
            } else {
                // At CPL 3 the closing HLT is privileged: a #GP.
                XCTAssertEqual(translated.exceptions.map(\.vector), user ? [13] : [], "seed \(seed)")
            }
        }
    }

    /// The string instructions, wide MUL/IMUL, DIV/IDIV (#DE included),
    /// BSWAP, XCHG, XADD and CMPXCHG with memory, PUSHF, CLI, BT*, BSF/BSR, SHLD/SHRD
    /// and LOCK-prefixed read-modify-writes among the shared forms, paging on and
    /// off, at both CPLs, with the data page faulting in each way. They
    /// must run translated, not through the fallback (REP forms aside).
    func testMoreFormsWithAndWithoutPaging() {
        var divideErrors = 0
        for seed: UInt64 in 301...348 {
            let kinds = DataPage.allCases
            let translated = comparePaged(seed: seed, dataPage: kinds[Int(seed) % kinds.count], user: seed & 1 == 1,
                                          paging: seed & 2 == 0) { $0.instructionWithMoreForms() }
            divideErrors += translated.exceptions.filter { $0.vector == 0 }.count
            let fallbacks = translated.recompiler.fallbackCounts.map(\.op)
            // REP string forms run on the interpreter: a few per program.
            // (16-bit SHLD/SHRD are the interpreter's.)
            for op in [Op.mul, .div, .idiv, .bswap, .xchg, .xadd, .cmpxchg, .pushf, .push, .bt, .bts, .btr, .btc, .bsf, .bsr,
                       .add, .or, .adc, .sbb, .and, .sub, .xor, .inc, .dec, .not, .neg,
                       .lods, .stos, .movs, .scas, .cmps] {
                let interpreted = translated.recompiler.fallbackCounts.first { $0.op == op }?.count ?? 0
                XCTAssertLessThan(interpreted, [.lods, .stos, .movs, .scas, .cmps].contains(op) ? 16 : 1,
                                  "\(op) translated (seed \(seed)): \(fallbacks)")
            }
            // At CPL 3 (IOPL 0) CLI's #GP is the interpreter's.
            if seed & 1 == 0 { XCTAssertFalse(fallbacks.contains(.cli), "CLI at CPL 0 translated (seed \(seed))") }
        }
        XCTAssertGreaterThan(divideErrors, 5, "#DE raised from translated divisions")
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
            Self.enablePaging(bench)
        }
        reference.run(recompiled: false, limit: 10_000)
        translated.run(recompiled: true, limit: 10_000)
        assertSameState(reference, translated, "paged loop")
        XCTAssertGreaterThan(translated.recompiler.chainedExits, 0)
        XCTAssertLessThan(translated.recompiler.blocksRun, 10)
    }
}
