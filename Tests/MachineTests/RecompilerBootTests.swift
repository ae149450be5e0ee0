import CPU
import Foundation
import XCTest
@testable import Machine

/// The recompiler on real firmware no one on the team wrote: SeaBIOS
/// boots to its "No bootable device" screen with `-engine rec`, and with
/// deterministic time (`-icount`) it passes through exactly the states the
/// interpreter does, compared at the same guest instruction counts.
final class RecompilerBootTests: XCTestCase {
    func seaBIOSConfiguration(engine: MachineStatus.Engine, log: String? = nil) throws -> MachineConfiguration {
        #if DEBUG
        throw XCTSkip("whole-machine boots need a release build: run swift test -c release (scripts/test.sh)")
        #endif
        guard FileManager.default.fileExists(atPath: MachineConfiguration.defaultBIOS) else {
            throw XCTSkip("SeaBIOS is not installed (apt-get install seabios)")
        }
        var config = MachineConfiguration()
        config.serial = .none
        config.debugConsole = log.map { .file($0) } ?? .none
        config.instructionCountShift = 2
        config.noReboot = true
        config.engine = engine
        return config
    }

    func testSeaBIOSBootsOnTheRecompiler() throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("novabox-rec-seabios-\(getpid()).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let machine = try Machine(try seaBIOSConfiguration(engine: .recompiler, log: log))
        var screen: [String] = []
        for slice in 1...20 {
            let reason = machine.run(until: Double(slice))
            screen = machine.textScreen() ?? []
            if screen.joined().contains("No bootable device") || reason != .timeLimit { break }
        }
        let debugLog = (try? String(contentsOfFile: log, encoding: .isoLatin1)) ?? ""
        XCTAssertTrue(debugLog.contains("Booting from"), "POST did not reach the boot phase:\n\(debugLog.suffix(3000))")
        let text = screen.joined(separator: "\n")
        XCTAssertTrue(text.contains("No bootable device"), "screen:\n\(text)\n--- log tail:\n\(debugLog.suffix(3000))")
        let recompiler = try XCTUnwrap(machine.recompiler)
        XCTAssertGreaterThan(recompiler.blocksRun, 10_000, recompiler.report)
    }

    /// Both engines from RESET, in slices of 500 000 instructions: after
    /// each slice, the same instruction count, EIP, CS, general registers
    /// and EFLAGS.
    func testSeaBIOSRunsTheSameOnBothEngines() throws {
        let reference = try Machine(try seaBIOSConfiguration(engine: .interpreter))
        let translated = try Machine(try seaBIOSConfiguration(engine: .recompiler))
        for slice in 1...40 {
            _ = reference.run(until: 30, instructions: 500_000)
            _ = translated.run(until: 30, instructions: 500_000)
            let a = reference.cpu, b = translated.cpu
            let context = "slice \(slice), icount \(a.instructionCount), reference at \(String(a.eip, radix: 16))"
            XCTAssertEqual(b.instructionCount, a.instructionCount, context)
            XCTAssertEqual(b.eip, a.eip, context)
            XCTAssertEqual(b.segment(.cs).pointee.selector, a.segment(.cs).pointee.selector, context)
            XCTAssertEqual(b.state.pointee.eflags, a.state.pointee.eflags, context)
            for r: UInt8 in 0..<8 { XCTAssertEqual(b.reg32(r), a.reg32(r), "register \(r), \(context)") }
            if b.eip != a.eip || b.instructionCount != a.instructionCount { break }
        }
        XCTAssertGreaterThan(reference.cpu.instructionCount, 2_000_000, "the comparison covered POST")
        XCTAssertGreaterThan(try XCTUnwrap(translated.recompiler).blocksRun, 1000)
    }
}
