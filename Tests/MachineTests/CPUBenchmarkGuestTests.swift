import CPUBenchmarkGuest
import Foundation
import Machine
import XCTest

/// The CPU benchmark guest (Benchmarks/CPUGuest) at a small work size:
/// booted from its disk image through SeaBIOS on the interpreter and on
/// the recompiler, every phase, with paging off and on, must print the
/// checksum the host computes with its own code (CPUBenchmarkReference).
/// Where QEMU is installed it must print the same, which holds the guest
/// program and the host reference to a third, independent CPU.
final class CPUBenchmarkGuestTests: XCTestCase {
    static let work = CPUBenchmarkGuest.WorkSize(integerRounds: 20_000, copyRounds: 2, decompressionRounds: 2,
                                                 unpackedBytes: 24 << 10)

    func makeGuest() throws -> CPUBenchmarkGuest {
        guard FileManager.default.fileExists(atPath: MachineConfiguration.defaultBIOS) else {
            throw XCTSkip("SeaBIOS is not installed (\(MachineConfiguration.defaultBIOS); apt-get install seabios)")
        }
        do {
            return try CPUBenchmarkGuest(work: CPUBenchmarkGuestTests.work)
        } catch {
            if error.toolMissing { throw XCTSkip(error.description) }
            throw error
        }
    }

    /// The guest's COM1 lines and how the run ended.
    func boot(_ guest: CPUBenchmarkGuest, on engine: MachineStatus.Engine) throws -> (lines: [String], reason: Machine.ExitReason) {
        var config = MachineConfiguration()
        config.ramSize = 64 << 20
        config.engine = engine
        config.acceleration = .tcg
        config.noReboot = true
        config.serial = .none
        config.instructionCountShift = 2
        config.timeLimit = 60
        config.drives = [DriveConfiguration(path: guest.imagePath, media: .disk, readOnly: true, index: 0)]
        let machine = try Machine(config)
        var output: [UInt8] = []
        machine.board.uart.output = { output.append($0) }
        let reason = machine.run()
        return (String(decoding: output, as: UTF8.self).split(separator: "\n").map(String.init), reason)
    }

    func printedChecksums(_ lines: [String]) -> [String: UInt32] {
        var sums: [String: UInt32] = [:]
        for line in lines {
            if case .end(let phase, let checksum) = CPUBenchmarkGuest.parse(line) { sums[phase] = checksum }
        }
        return sums
    }

    func testBothEnginesPrintTheHostReferenceChecksums() throws {
        let guest = try makeGuest()
        defer { unlink(guest.imagePath) }
        for engine in [MachineStatus.Engine.interpreter, .recompiler] {
            let (lines, reason) = try boot(guest, on: engine)
            XCTAssertEqual(reason, .guestReset(tripleFault: false), "\(engine): the guest ends with a reset through CF9h; output: \(lines)")
            XCTAssertEqual(lines.last, "done", "\(engine): \(lines)")
            XCTAssertEqual(guest.mismatches(printedChecksums(lines)), [], "\(engine)")
            XCTAssertEqual(lines.compactMap { CPUBenchmarkGuest.parse($0) }.count, 2 * CPUBenchmarkGuest.phases.count + 1,
                           "\(engine): a begin and an end line per phase, then done: \(lines)")
        }
    }

    func testQEMUPrintsTheSameChecksums() throws {
        let qemu = "/usr/bin/qemu-system-i386"
        guard FileManager.default.isExecutableFile(atPath: qemu) else {
            throw XCTSkip("qemu-system-i386 is not installed: the third-CPU check is skipped (apt-get install qemu-system-x86)")
        }
        let guest = try makeGuest()
        defer { unlink(guest.imagePath) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: qemu)
        p.arguments = ["-accel", "tcg", "-m", "64M", "-display", "none", "-monitor", "none", "-serial", "stdio",
                       "-no-reboot", "-snapshot", "-drive", "file=\(guest.imagePath),format=raw,media=disk,index=0"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let killer = DispatchWorkItem { if p.isRunning { p.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 60, execute: killer)
        let lines = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .split(separator: "\n").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        p.waitUntilExit()
        killer.cancel()
        XCTAssertEqual(lines.last, "done", "\(lines)")
        XCTAssertEqual(guest.mismatches(printedChecksums(lines)), [])
    }
}
