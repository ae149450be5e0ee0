import Foundation
import Glibc
import Machine

/// One guest run as the benchmarks see it: the lines the guest wrote on
/// COM1, each stamped with the wall time (from just before the machine or
/// process was created) at which its newline reached this process, and
/// for Novabox the guest instructions executed by then. Novabox runs in
/// this process, so the stamp is taken inside the UART's write and the
/// count is the CPU's own; QEMU runs as a child process with COM1 on a
/// pipe, stamped by a reader thread as the bytes arrive.
struct TimedLine {
    let text: String
    let seconds: Double
    let instructions: UInt64?
}

struct GuestRun {
    var lines: [TimedLine]
    /// The line the caller waited for arrived.
    var reachedStop: Bool
    /// The last output, for a failure message.
    var tail: String { lines.suffix(20).map(\.text).joined(separator: "\n") }
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
        recorder.lines.append(TimedLine(text: text, seconds: now() - start, instructions: machine.cpu.instructionCount))
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
    process.standardError = FileHandle.nullDevice
    process.standardInput = FileHandle.nullDevice
    let transcript = Transcript()
    let start = now()
    do { try process.run() } catch { fail("cannot start \(qemu): \(error)") }
    let reader = output.fileHandleForReading
    Thread.detachNewThread {
        while true {
            let data = reader.availableData
            let seconds = now() - start
            transcript.lock.lock()
            defer { transcript.lock.unlock() }
            if data.isEmpty { transcript.closed = true; return }
            for byte in data {
                guard let text = transcript.assembler.add(byte) else { continue }
                transcript.lines.append(TimedLine(text: text, seconds: seconds, instructions: nil))
                if stopAt(text) { transcript.reachedStop = true }
            }
        }
    }
    defer { if process.isRunning { process.terminate() }; process.waitUntilExit() }
    while now() - start < timeout {
        transcript.lock.lock()
        let over = transcript.reachedStop || transcript.closed
        transcript.lock.unlock()
        if over { break }
        usleep(5_000)
    }
    transcript.lock.lock()
    defer { transcript.lock.unlock() }
    return GuestRun(lines: transcript.lines, reachedStop: transcript.reachedStop)
}
