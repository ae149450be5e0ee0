import CPU
import Foundation
import XCTest
@testable import Machine

/// The recompiler on real firmware and a real kernel no one on the team
/// wrote: SeaBIOS boots to its "No bootable device" screen with `-engine
/// rec`, and with deterministic time (`-icount`) SeaBIOS and the tiny-i386
/// Linux kernel pass through exactly the states the interpreter does,
/// compared at the same guest instruction counts.
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
        // Both engines' machines start at the same clock time: SeaBIOS and
        // Linux copy it into RAM, and two machines made a moment apart can
        // straddle a second.
        config.clockBase = 1_150_560_081
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
            assertSameState(a, b, slice: slice)
            if b.eip != a.eip || b.instructionCount != a.instructionCount { break }
        }
        XCTAssertGreaterThan(reference.cpu.instructionCount, 2_000_000, "the comparison covered POST")
        XCTAssertGreaterThan(try XCTUnwrap(translated.recompiler).blocksRun, 1000)
    }

    /// The tiny-i386 kernel booted directly, on both engines with the same
    /// deterministic time, compared every 200 million instructions through
    /// decompression, paging on and the kernel's early start-up: the same
    /// count, registers, control registers, serial output and a hash of
    /// the whole guest RAM.
    func testTinyLinuxRunsTheSameOnBothEngines() throws {
        try GuestImages.requireReleaseBuild()
        func configuration(_ engine: MachineStatus.Engine, serial: String) throws -> MachineConfiguration {
            var config = try seaBIOSConfiguration(engine: engine)
            config.kernelPath = try GuestImages.path("tiny-i386.vmlinuz")
            config.initrdPath = try GuestImages.path("tiny-i386.initrd")
            config.kernelCommandLine = "console=ttyS0 nokaslr"
            config.serial = .file(serial)
            config.acceleration = .tcg
            return config
        }
        let directory = FileManager.default.temporaryDirectory.path
        let serialA = "\(directory)/novabox-interp-linux-\(getpid()).txt", serialB = "\(directory)/novabox-rec-linux-\(getpid()).txt"
        defer { for f in [serialA, serialB] { try? FileManager.default.removeItem(atPath: f) } }
        let reference = try Machine(try configuration(.interpreter, serial: serialA))
        let translated = try Machine(try configuration(.recompiler, serial: serialB))
        var pagingSeen = false
        // Decompression takes about 2.3 G instructions; the kernel turns
        // paging on and prints its banner soon after.
        for slice in 1...14 {
            _ = reference.run(until: 600, instructions: 200_000_000)
            _ = translated.run(until: 600, instructions: 200_000_000)
            let a = reference.cpu, b = translated.cpu
            let context = assertSameState(a, b, slice: slice)
            XCTAssertEqual(b.state.pointee.cr0, a.state.pointee.cr0, context)
            XCTAssertEqual(b.state.pointee.cr3, a.state.pointee.cr3, context)
            XCTAssertEqual(ramHash(translated), ramHash(reference), "guest RAM, \(context)")
            XCTAssertEqual(try String(contentsOfFile: serialB, encoding: .isoLatin1),
                           try String(contentsOfFile: serialA, encoding: .isoLatin1), "serial output, \(context)")
            pagingSeen = pagingSeen || a.pagingEnabled
            if testRun?.failureCount ?? 0 > 0 { break }
        }
        XCTAssertTrue(pagingSeen, "the comparison reached the kernel with paging on")
        let console = try String(contentsOfFile: serialA, encoding: .isoLatin1)
        XCTAssertTrue(console.contains("Linux version"), "the kernel printed its banner:\n\(console.suffix(2000))")
    }

    /// The recompiler's CPU `b` against the interpreter's `a` after a
    /// slice: count, EIP, CS, EFLAGS, general registers. Returns the
    /// context line for further checks.
    @discardableResult
    private func assertSameState(_ a: CPU, _ b: CPU, slice: Int, file: StaticString = #filePath, line: UInt = #line) -> String {
        let context = "slice \(slice), icount \(a.instructionCount), reference at \(String(a.eip, radix: 16))"
        XCTAssertEqual(b.instructionCount, a.instructionCount, context, file: file, line: line)
        XCTAssertEqual(b.eip, a.eip, context, file: file, line: line)
        XCTAssertEqual(b.segment(.cs).pointee.selector, a.segment(.cs).pointee.selector, context, file: file, line: line)
        XCTAssertEqual(b.state.pointee.eflags, a.state.pointee.eflags, context, file: file, line: line)
        for r: UInt8 in 0..<8 { XCTAssertEqual(b.reg32(r), a.reg32(r), "register \(r), \(context)", file: file, line: line) }
        return context
    }

    /// FNV-1a over the guest RAM, eight bytes at a time.
    private func ramHash(_ machine: Machine) -> UInt64 {
        let memory = machine.memory
        let words = UnsafeRawPointer(memory.ram).assumingMemoryBound(to: UInt64.self)
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for k in 0..<memory.ramSize / 8 { hash = (hash ^ words[k]) &* 0x100_0000_01B3 }
        return hash
    }
}
