import Foundation
import XCTest
@testable import CPU

/// The interpreter against the real processor: every user-mode integer and
/// x87 instruction form (see `InstructionForm.all`) on random inputs, run
/// natively by the host (an x86-64 running 32-bit code at CPL 3, through
/// `Tests/hostcpu/harness.c`) and by the interpreter in the same setting,
/// with registers, EFLAGS, selectors, x87 state, the data region and any
/// exception compared; what the SDM leaves undefined is masked per case.
///
/// Prints a per-form pass table and fails on any mismatch, listing the
/// first cases that differ with their bytes, inputs and both outcomes.
/// Skips when gcc cannot build 32-bit static programs here.
final class HostCPUDifferentialTests: XCTestCase {
    /// The fixed seed, so a failure reproduces; set
    /// NOVABOX_DIFFERENTIAL_SEED to explore others.
    static let seed: UInt64 = ProcessInfo.processInfo.environment["NOVABOX_DIFFERENTIAL_SEED"].flatMap { UInt64($0) }
        ?? 0x4E6F_7661_626F_7831
    static let batchSize = 6000
    /// Cases per form are `InstructionForm.cases` times this: about 55,000
    /// cases, some 15 s in a debug build on the development machine.
    static let scale = 2
    static let failuresShown = 40
    /// NOVABOX_DIFFERENTIAL_FORMS=FPREM,FCMOV runs only the forms whose
    /// names start with one of these, and shows more failing cases of each.
    static let formFilter = ProcessInfo.processInfo.environment["NOVABOX_DIFFERENTIAL_FORMS"]?
        .split(separator: ",").map(String.init)

    func makeHarness() throws -> HostCPUHarness {
        do { return try HostCPUHarness() } catch {
            throw XCTSkip("host-CPU differential test skipped: \(error)")
        }
    }

    /// The reference itself, checked against the SDM on cases whose outcome
    /// the manual spells out, so a broken harness cannot pass for a CPU.
    func testHarnessReportsWhatTheSDMSays() throws {
        let harness = try makeHarness()
        let L = DifferentialLayout.self
        func make(_ code: [UInt8], _ registers: [UInt32], eflags: UInt32 = 0) -> DifferentialCase {
            DifferentialCase(form: "", code: code, registers: registers, eflags: eflags, dataSeed: 1)
        }
        let stack = L.dataBase + 0x1000
        let outcomes = try harness.run([
            // ADD EAX, EBX: 7FFFFFFF + 1 overflows into the sign: OF SF AF PF set, CF ZF clear.
            make([0x01, 0xD8], [0x7FFF_FFFF, 0, 0, 1, stack, 0, 0, 0]),
            // DIV ECX with ECX = 0: #DE, EIP at the DIV, nothing changed.
            make([0x90, 0xF7, 0xF1], [5, 0, 7, 0, stack, 0, 0, 0]),
            // UD2: #UD at the instruction.
            make([0x0F, 0x0B], [0, 0, 0, 0, stack, 0, 0, 0]),
            // INT3: #BP, a trap: EIP after the instruction.
            make([0xCC], [0, 0, 0, 0, stack, 0, 0, 0]),
            // PUSH EAX: ESP - 4 holds EAX.
            make([0x50], [0xA1B2_C3D4, 0, 0, 0, stack, 0, 0, 0]),
            // CLI at CPL 3, IOPL 0: #GP(0).
            make([0xFA], [0, 0, 0, 0, stack, 0, 0, 0]),
        ])
        XCTAssertNil(outcomes[0].fault)
        XCTAssertEqual(outcomes[0].registers[0], 0x8000_0000)
        XCTAssertEqual(outcomes[0].eflags & EFLAGSBits.status, EFLAGSBits.of | EFLAGSBits.sf | EFLAGSBits.af | EFLAGSBits.pf)
        XCTAssertEqual(outcomes[1].fault, DifferentialFault(vector: 0, errorCode: 0, eip: L.codeBase + 1))
        XCTAssertEqual(outcomes[1].registers[0], 5)
        XCTAssertEqual(outcomes[2].fault?.vector, 6)
        XCTAssertEqual(outcomes[2].fault?.eip, L.codeBase)
        XCTAssertEqual(outcomes[3].fault?.vector, 3)
        XCTAssertEqual(outcomes[3].fault?.eip, L.codeBase + 1)
        XCTAssertEqual(outcomes[4].registers[4], stack - 4)
        var data = L.initialData(seed: 1, patches: [])
        for w in outcomes[4].memoryChanges { data[Int(w >> 8)] = UInt8(w & 0xFF) }
        XCTAssertEqual(Array(data[0xFFC..<0x1000]), [0xD4, 0xC3, 0xB2, 0xA1])
        XCTAssertEqual(outcomes[5].fault, DifferentialFault(vector: 13, errorCode: 0, eip: L.codeBase))
    }

    func testInterpreterMatchesHostCPU() throws {
        let harness = try makeHarness()
        var forms = InstructionForm.all
        if let prefixes = HostCPUDifferentialTests.formFilter {
            forms = forms.filter { f in prefixes.contains { f.name.hasPrefix($0) } }
        }
        let shownPerForm = HostCPUDifferentialTests.formFilter == nil ? 1 : 8
        let started = Date()
        let cases = InstructionForm.generate(forms, seed: HostCPUDifferentialTests.seed, scale: HostCPUDifferentialTests.scale)
        let generated = Date()
        var host: [DifferentialOutcome] = []
        host.reserveCapacity(cases.count)
        for start in stride(from: 0, to: cases.count, by: HostCPUDifferentialTests.batchSize) {
            host += try harness.run(Array(cases[start..<min(start + HostCPUDifferentialTests.batchSize, cases.count)]))
        }
        let hostDone = Date()

        let interpreter = DifferentialInterpreter(selectors: harness.startSelectors)
        var passed: [String: Int] = [:], failed: [String: Int] = [:], faulted: [String: Int] = [:]
        var firstFailures: [String] = []
        for (c, expected) in zip(cases, host) {
            if expected.fault != nil { faulted[c.form, default: 0] += 1 }
            let actual = interpreter.run(c)
            let differences = OutcomeComparison.differences(c, host: expected, interpreter: actual)
            if differences.isEmpty {
                passed[c.form, default: 0] += 1
                continue
            }
            failed[c.form, default: 0] += 1
            if firstFailures.count < HostCPUDifferentialTests.failuresShown && failed[c.form]! <= shownPerForm {
                firstFailures.append(report(c, differences))
            }
        }
        let finished = Date()

        print(table(forms, passed: passed, failed: failed, faulted: faulted))
        let failures = failed.values.reduce(0, +)
        print(String(format: "host-CPU differential: %d cases, %d differ; generation %.1f s, host %.1f s, interpreter %.1f s (seed %llu)",
                     cases.count, failures, generated.timeIntervalSince(started), hostDone.timeIntervalSince(generated),
                     finished.timeIntervalSince(hostDone),
                     HostCPUDifferentialTests.seed))
        if failures > 0 {
            XCTFail("\(failures) of \(cases.count) cases differ from the host CPU in \(failed.count) forms. "
                    + "First failing case of the first forms:\n" + firstFailures.joined(separator: "\n"))
        }
    }

    /// One row per form: cases passed and failed, and how many of them
    /// raised an exception on the host (a form that always faults would be
    /// testing little).
    func table(_ forms: [InstructionForm], passed: [String: Int], failed: [String: Int], faulted: [String: Int]) -> String {
        let width = forms.map(\.name.count).max() ?? 10
        var lines = ["form".padding(toLength: width, withPad: " ", startingAt: 0) + "   pass  fail  host exceptions"]
        for f in forms {
            let p = passed[f.name] ?? 0, x = failed[f.name] ?? 0
            let pad = { (n: Int) in String(repeating: " ", count: max(0, 6 - String(n).count)) + String(n) }
            lines.append(f.name.padding(toLength: width, withPad: " ", startingAt: 0) + " " + pad(p) + pad(x)
                         + pad(faulted[f.name] ?? 0) + (x > 0 ? "  FAIL" : ""))
        }
        return lines.joined(separator: "\n")
    }

    func report(_ c: DifferentialCase, _ differences: [String]) -> String {
        let hex = OutcomeComparison.hex
        let registers = zip(OutcomeComparison.registerNames, c.registers).map { "\($0)=\(hex($1, 8))" }.joined(separator: " ")
        var s = "[\(c.form)] code \(c.code.map { hex(UInt32($0), 2) }.joined(separator: " ")) at \(hex(DifferentialLayout.codeBase, 8))\n"
        s += "    in: \(registers) eflags=\(hex(c.eflags | 0x202, 8)) data seed \(c.dataSeed)"
        if !c.patches.isEmpty {
            s += ", patches " + c.patches.prefix(4).map { p in
                "\(hex(DifferentialLayout.dataBase + UInt32(p.offset), 4)):\(p.bytes.prefix(16).map { hex(UInt32($0), 2) }.joined())"
            }.joined(separator: " ")
        }
        if c.fpu != FXSaveImage.initialized {
            s += "\n    x87 in: fcw \(hex(UInt32(FXSaveImage.word(c.fpu, 0)), 4)) fsw \(hex(UInt32(FXSaveImage.word(c.fpu, 2)), 4))"
                + " tags \(hex(UInt32(c.fpu[4]), 2)) st: "
                + (0..<8).map { OutcomeComparison.float80(Array(c.fpu[32 + 16 * $0..<42 + 16 * $0])) }.joined(separator: " ")
        }
        return s + "\n    " + differences.joined(separator: "\n    ")
    }
}
