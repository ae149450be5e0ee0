import Foundation
import Glibc
import Machine

/// One guest run as the benchmarks see it: the lines the guest wrote on
/// COM1, each stamped with the wall time (from just before the machine or
/// process was created) at which its newline reached this process, the
/// CPU time the emulator had used by then, and for Novabox the guest
/// instructions executed by then. Novabox runs in this process, so the
/// stamps are taken inside the UART's write (CPU time of the machine's
/// thread) and the count is the CPU's own; QEMU runs as a child process
/// with COM1 on a pipe, stamped by a reader thread as the bytes arrive
/// (CPU time of all its threads, from /proc, in clock ticks). CPU time
/// shows what an emulator does with the processor when it gets it, which
/// on a shared machine wall time alone does not.
struct TimedLine {
    let text: String
    let seconds: Double
    let cpuSeconds: Double?
    let instructions: UInt64?
}

struct GuestRun {
    var lines: [TimedLine]
    /// The line the caller waited for arrived.
    var reachedStop: Bool
    /// What the emulator itself said on stderr (QEMU), for a failure message.
    var errors = ""
    /// The last output, for a failure message.
    var tail: String { lines.suffix(20).map(\.text).joined(separator: "\n") + (errors.isEmpty ? "" : "\nstderr: \(errors)") }
}

/// COM1 bytes to lines (a trailing carriage return dropped).
struct LineAssembler {
    private var pending: [UInt8] = []

    mutating func add(_ byte: UInt8) -> String? {
        guard byte == 10 else { pending.append(byte); return nil }
        if pending.last == 13 { pending.removeLast() }
        defer { pending.removeAll(keepingCapacity: true) }
        return String(decoding: pending, as: UTF8.self)
    }
}

/// Novabox in this process, until `stopAt` accepts a line, the guest
/// resets (with `-no-reboot` set in `config`) or `timeout` seconds pass.
func runNovabox(_ config: MachineConfiguration, timeout: Double, stopAt: @escaping (String) -> Bool) -> GuestRun {
    final class Recorder {
        var assembler = LineAssembler()
        var lines: [TimedLine] = []
        var reachedStop = false
    }
    var config = config
    config.serial = .none
    config.timeLimit = timeout
    let start = now()
    let machine: Machine
    do { machine = try Machine(config) } catch { fail(error.description) }
    let recorder = Recorder()
    machine.board.uart.output = { [unowned machine] byte in
        guard let text = recorder.assembler.add(byte) else { return }
        recorder.lines.append(TimedLine(text: text, seconds: now() - start, cpuSeconds: now(CLOCK_THREAD_CPUTIME_ID),
                                        instructions: machine.cpu.instructionCount))
        if stopAt(text) {
            recorder.reachedStop = true
            machine.stop()
        }
    }
    _ = machine.run()
    return GuestRun(lines: recorder.lines, reachedStop: recorder.reachedStop)
}

/// QEMU as a child process with `arguments` (COM1 on its stdout), until
/// `stopAt` accepts a line, it exits, or `timeout` seconds pass.
func runQEMU(_ qemu: String, _ arguments: [String], timeout: Double, stopAt: @escaping @Sendable (String) -> Bool) -> GuestRun {
    final class Transcript: @unchecked Sendable {
        let lock = NSLock()
        var assembler = LineAssembler()
        var lines: [TimedLine] = []
        var reachedStop = false
        var closed = false
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: qemu)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    let errors = Pipe()
    process.standardError = errors
    process.standardInput = FileHandle.nullDevice
    let transcript = Transcript()
    let start = now()
    do { try process.run() } catch { fail("cannot start \(qemu): \(error)") }
    let reader = output.fileHandleForReading
    let pid = process.processIdentifier
    Thread.detachNewThread {
        while true {
            let data = reader.availableData
            let seconds = now() - start, cpuSeconds = processCPUSeconds(pid)
            transcript.lock.lock()
            defer { transcript.lock.unlock() }
            if data.isEmpty { transcript.closed = true; return }
            for byte in data {
                guard let text = transcript.assembler.add(byte) else { continue }
                transcript.lines.append(TimedLine(text: text, seconds: seconds, cpuSeconds: cpuSeconds, instructions: nil))
                if stopAt(text) { transcript.reachedStop = true }
            }
        }
    }
    while now() - start < timeout {
        transcript.lock.lock()
        let over = transcript.reachedStop || transcript.closed
        transcript.lock.unlock()
        if over { break }
        usleep(5_000)
    }
    if process.isRunning { process.terminate() }
    process.waitUntilExit()
    let said = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    transcript.lock.lock()
    defer { transcript.lock.unlock() }
    return GuestRun(lines: transcript.lines, reachedStop: transcript.reachedStop,
                    errors: said.trimmingCharacters(in: .whitespacesAndNewlines))
}

/// User plus system time of all threads of process `pid` (fields 14 and
/// 15 of each /proc/PID/task/TID/stat, after the command name).
func processCPUSeconds(_ pid: Int32) -> Double? {
    guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task") else { return nil }
    var ticks = 0
    for task in tasks {
        // A thread that ended since the listing no longer counts.
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { continue }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else { return nil }
        ticks += user + system
    }
    return Double(ticks) / Double(sysconf(Int32(_SC_CLK_TCK)))
}
