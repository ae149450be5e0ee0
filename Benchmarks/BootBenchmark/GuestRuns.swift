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
    /// Novabox only: the machine's own account at the end of the run.
    var novabox: NovaboxAccount? = nil
    /// The last output, for a failure message.
    var tail: String { lines.suffix(20).map(\.text).joined(separator: "\n") + (errors.isEmpty ? "" : "\nstderr: \(errors)") }
    /// The last line the guest printed: on COM1, else on the VGA text
    /// screen (where the kernel's real-mode setup reports a CPU it cannot
    /// run on).
    var lastLine: String {
        if let line = lines.last(where: { !$0.text.isEmpty }) { return "COM1: " + line.text }
        return novabox?.screenLine.map { "screen: " + $0 } ?? "(nothing on COM1 or the text screen)"
    }
}

/// What a Novabox machine says about its run when it ends.
struct NovaboxAccount {
    let instructions: UInt64
    /// Host seconds in our engine and in KVM.
    let shares: (ours: Double, kvm: Double)
    /// The switch summary line.
    let switches: String?
    /// The last non-empty line of the VGA text screen.
    let screenLine: String?
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
    let screen = machine.textScreen()?.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    return GuestRun(lines: recorder.lines, reachedStop: recorder.reachedStop,
                    novabox: NovaboxAccount(instructions: machine.cpu.instructionCount, shares: machine.engineTimeShares,
                                            switches: machine.engineSummary, screenLine: screen?.last))
}

/// QEMU's `name` in `directory` (nil: no QEMU asked for); exits with a
/// hint when it is not installed there.
func qemuBinary(_ name: String, in directory: String?) -> String? {
    guard let directory else { return nil }
    let path = (directory as NSString).appendingPathComponent(name)
    guard FileManager.default.isExecutableFile(atPath: path) else {
        fail("\(path) is not there: run Benchmarks/boot-benchmark.sh (it installs qemu-system-x86), or pass --qemu none")
    }
    return path
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
