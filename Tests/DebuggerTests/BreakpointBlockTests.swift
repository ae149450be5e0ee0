import XCTest
import CPU
@testable import Debugger
import Machine

/// Code breakpoints on the recompiler, set and continued through the
/// monitor: the blocks that contain none stay translated and chained, and
/// every stop lands where the interpreter's stops (the reference) land —
/// same instruction count, EIP and registers.
final class BreakpointBlockTests: XCTestCase {
    /// Flat 32-bit code at 1 MiB (nasm listing):
    ///
    ///     100000 B9E8030000    mov ecx, 1000
    ///     100005 31C0          xor eax, eax
    ///     100007 31DB          xor ebx, ebx
    ///     100009 01C8          top: add eax, ecx
    ///     10000B 43            inc ebx
    ///     10000C 81FBF4010000  cmp ebx, 500
    ///     100012 7501          jne skip
    ///     100014 90            nop            ; once, at the 500th pass
    ///     100015 49            skip: dec ecx
    ///     100016 75F1          jnz top
    ///     100018 F4            hlt
    static let program: [UInt8] = [0xB9, 0xE8, 0x03, 0x00, 0x00, 0x31, 0xC0, 0x31, 0xDB, 0x01, 0xC8, 0x43,
                                   0x81, 0xFB, 0xF4, 0x01, 0x00, 0x00, 0x75, 0x01, 0x90, 0x49, 0x75, 0xF1, 0xF4]

    struct Stop: Equatable {
        var report: String
        var instructions: UInt64
        var eip: UInt32
        var eax: UInt32
        var ebx: UInt32
    }

    /// A paused machine at the program, in flat protected mode.
    func machine(_ engine: MachineStatus.Engine) throws -> DebugTestMachine {
        let t = try DebugTestMachine { config in
            config.engine = engine
            config.acceleration = .tcg
        }
        let cpu = t.machine.cpu
        cpu.state.pointee.cr0 |= 1
        for seg in SegmentRegister.allCases {
            cpu.segment(seg).pointee = SegmentDescriptorCache(selector: seg == .cs ? 8 : 16, base: 0, limit: 0xFFFF_FFFF,
                                                              attributes: (seg == .cs ? 0x9B : 0x93) | 0xC000)
        }
        cpu.state.pointee.rip = 0x10_0000
        t.machine.memory.copyIn(0x10_0000, BreakpointBlockTests.program)
        return t
    }

    /// Runs the monitor commands, then `continue`, and reads the stop.
    func proceed(_ t: DebugTestMachine, _ m: MonitorClient, after commands: [String]) -> Stop {
        for c in commands { _ = m.command(c) }
        XCTAssertEqual(m.command("continue"), "")
        let report = m.read(untilSuffix: MonitorPort.prompt, seconds: 20)
        let cpu = t.machine.cpu
        return Stop(report: report.split(separator: "\n").first.map(String.init) ?? "", instructions: cpu.instructionCount,
                    eip: cpu.eip, eax: cpu.reg32(0), ebx: cpu.reg32(3))
    }

    func testBreakpointsStopWhereTheInterpreterStopsAndOtherBlocksStayTranslated() throws {
        let translated = try machine(.recompiler), reference = try machine(.interpreter)
        translated.start(); reference.start()
        defer { translated.finish(); reference.finish() }
        let mt = try XCTUnwrap(MonitorClient(path: translated.monitorPath)), mr = try XCTUnwrap(MonitorClient(path: reference.monitorPath))
        let recompiler = try XCTUnwrap(translated.machine.recompiler)
        // A breakpoint in a block that runs once; then one inside the hot
        // loop's block, hit twice; then a breakpoint on the HLT after the loop.
        let steps: [(commands: [String], eip: UInt32)] = [
            (["break 100014"], 0x10_0014), (["delete 1", "break 10000b"], 0x10_000B), ([], 0x10_000B),
            (["delete 2", "break 100018"], 0x10_0018),
        ]
        for (k, step) in steps.enumerated() {
            let expected = proceed(reference, mr, after: step.commands)
            let got = proceed(translated, mt, after: step.commands)
            XCTAssertEqual(got, expected, "stop \(k)")
            XCTAssertEqual(got.eip, step.eip, "stop \(k): \(got.report)")
            XCTAssertTrue(got.report.contains("breakpoint"), got.report)
            if k == 0 {
                XCTAssertEqual(got.ebx, 500, "the nop runs at the 500th pass")
                // The loop ran translated, its exits chained, with the breakpoint set.
                XCTAssertGreaterThan(recompiler.blocksRun, 0, recompiler.report)
                XCTAssertGreaterThan(recompiler.chainedExits, 0, recompiler.report)
            }
        }
        XCTAssertEqual(translated.machine.cpu.reg32(0), (1...1000).reduce(0, +), "the loop's sum at the HLT")
    }
}
