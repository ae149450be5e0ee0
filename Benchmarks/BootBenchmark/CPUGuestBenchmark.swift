import CPUBenchmarkGuest
import Foundation
import Machine

/// `--path cpu`: guest instructions per second of the CPU-bound benchmark
/// guest (Benchmarks/CPUGuest), phase by phase, on Novabox's recompiler
/// (`-engine rec -accel tcg`), its interpreter (`-engine interp`) and
/// QEMU's TCG, all booting the same disk image through SeaBIOS.
///
/// A phase's time runs from the arrival of its "begin" line to that of its
/// "end" line: wall clock here, and the emulator's CPU time (see
/// `TimedLine`) as a second table. Its instruction count is a property of
/// the program, taken from Novabox's own count (the CPU's instruction
/// counter when those two lines reach COM1; the interpreter's runs when
/// there are any); QEMU's times divide the same count. Every run's
/// checksums are compared with the host reference; a run that printed a
/// wrong one is reported and left out of the figures.

private struct PhaseFigures {
    var seconds: [String: Double] = [:]
    var cpuSeconds: [String: Double] = [:]
    var instructions: [String: UInt64] = [:]
    var checksums: [String: UInt32] = [:]
}

private func phases(of run: GuestRun) -> PhaseFigures {
    var figures = PhaseFigures()
    var begun: [String: TimedLine] = [:]
    for line in run.lines {
        switch CPUBenchmarkGuest.parse(line.text) {
        case .begin(let phase): begun[phase] = line
        case .end(let phase, let checksum):
            figures.checksums[phase] = checksum
            guard let begin = begun[phase] else { continue }
            figures.seconds[phase] = line.seconds - begin.seconds
            if let end = line.cpuSeconds, let start = begin.cpuSeconds { figures.cpuSeconds[phase] = end - start }
            if let end = line.instructions, let start = begin.instructions { figures.instructions[phase] = end - start }
        case .done, nil: break
        }
    }
    return figures
}

/// Runs the benchmark; false when a run failed or printed a wrong checksum.
func benchmarkCPUGuest(_ options: Options) -> Bool {
    let work = CPUBenchmarkGuest.WorkSize.scaled(options.size)
    let guest: CPUBenchmarkGuest
    do { guest = try CPUBenchmarkGuest(work: work) } catch { fail(error.description) }
    defer { unlink(guest.imagePath) }
    let memoryMiB = 64
    let isDone: @Sendable (String) -> Bool = { CPUBenchmarkGuest.parse($0) == .done }

    func novabox(_ engine: MachineStatus.Engine) -> GuestRun {
        var config = MachineConfiguration()
        config.ramSize = memoryMiB << 20
        config.engine = engine
        config.acceleration = .tcg
        config.noReboot = true
        config.drives = [DriveConfiguration(path: guest.imagePath, media: .disk, readOnly: true, index: 0)]
        return runNovabox(config, timeout: options.timeout, stopAt: isDone)
    }
    // -snapshot: QEMU's IDE disks refuse a read-only drive; the guest writes nothing anyway.
    func qemu(_ binary: String) -> GuestRun {
        runQEMU(binary, ["-accel", "tcg", "-cpu", "pentium2", "-m", "\(memoryMiB)M", "-display", "none",
                               "-monitor", "none", "-serial", "stdio", "-no-reboot", "-snapshot",
                               "-drive", "file=\(guest.imagePath),format=raw,media=disk,index=0"],
                timeout: options.timeout, stopAt: isDone)
    }
    var engines: [(name: String, run: () -> GuestRun)] = [("rec", { novabox(.recompiler) }), ("interp", { novabox(.interpreter) })]
    if let binary = qemuBinary("qemu-system-i386", in: options.qemuDirectory) { engines.append(("qemu", { qemu(binary) })) }

    let imageBytes = (try? FileManager.default.attributesOfItem(atPath: guest.imagePath)[.size] as? Int) ?? 0
    print("cpu-bound guest: \(CPUBenchmarkGuest.source), -hda image of \(imageBytes / 1024) KiB, -m \(memoryMiB)M")
    print("size \(options.size): int \(work.integerRounds) rounds, copy \(work.copyRounds) rounds of 256 KiB, "
          + "lz \(work.decompressionRounds) rounds of \(work.unpackedBytes / 1024) KiB (packed \(guest.packedBytes / 1024) KiB); "
          + "phases without paging, then \"-pg\" with paging on")
    print("\(options.runs) run(s) per engine, interleaved, median; host: \(ProcessInfo.processInfo.activeProcessorCount) CPUs, load average before: \(loadAverage())")

    var good: [String: [PhaseFigures]] = [:]
    var failed = false
    for run in 1...options.runs {
        for engine in engines {
            let result = engine.run()
            let figures = phases(of: result)
            let wrong = guest.mismatches(figures.checksums)
            if !result.reachedStop || !wrong.isEmpty {
                failed = true
                print("WRONG: \(engine.name) run \(run): " + (result.reachedStop ? wrong.joined(separator: "; ")
                                                               : "did not reach \"done\"; serial tail:\n\(result.tail)"))
                continue
            }
            good[engine.name, default: []].append(figures)
            print("  \(engine.name) run \(run), seconds (CPU): " + CPUBenchmarkGuest.phases.map {
                String(format: "%@ %.2f (%.2f)", $0, figures.seconds[$0] ?? .nan, figures.cpuSeconds[$0] ?? .nan)
            }.joined(separator: ", "))
        }
    }

    // The program's instruction count per phase: the interpreter's, else the recompiler's.
    let counter = good["interp"]?.first ?? good["rec"]?.first
    guard let counts = counter?.instructions else {
        print("no Novabox run finished: no instruction counts")
        return false
    }
    print("instructions per phase: Novabox's own count (CPU.instructionCount when the phase's begin and end lines reach COM1) "
          + "from the \(good["interp"] != nil ? "interpreter" : "recompiler"); REP STOSD/MOVSD count once")
    if let rec = good["rec"]?.first?.instructions, let interp = good["interp"]?.first?.instructions, rec != interp {
        print("note: the engines' counts differ: " + CPUBenchmarkGuest.phases.compactMap { p in
            rec[p] == interp[p] ? nil : "\(p) rec \(rec[p] ?? 0) interp \(interp[p] ?? 0)"
        }.joined(separator: ", "))
    }
    func rate(_ engine: String, _ phase: String, _ time: KeyPath<PhaseFigures, [String: Double]>) -> Double? {
        guard let runs = good[engine], let n = counts[phase] else { return nil }
        let rates = runs.compactMap { $0[keyPath: time][phase] }.filter { $0 > 0 }.map { Double(n) / $0 / 1e6 }
        return rates.isEmpty ? nil : median(rates)
    }
    func column(_ v: Double?, _ format: String, width: Int) -> String {
        let text = v.map { String(format: format, $0) } ?? "-"
        return String(repeating: " ", count: max(0, width - text.count)) + text
    }
    for (title, time) in [("per second of wall time", \PhaseFigures.seconds), ("per CPU-second of the emulator", \PhaseFigures.cpuSeconds)] {
        print("guest M instructions \(title):")
        print("phase    M instructions       rec    interp      qemu  rec/interp  rec/qemu")
        for phase in CPUBenchmarkGuest.phases {
            let rec = rate("rec", phase, time), interp = rate("interp", phase, time), qemu = rate("qemu", phase, time)
            print(phase.padding(toLength: 8, withPad: " ", startingAt: 0)
                  + column(counts[phase].map { Double($0) / 1e6 }, "%.1f", width: 15)
                  + column(rec, "%.1f", width: 10) + column(interp, "%.1f", width: 10) + column(qemu, "%.1f", width: 10)
                  + column(rec.flatMap { r in interp.map { r / $0 } }, "%.2fx", width: 12)
                  + column(rec.flatMap { r in qemu.map { r / $0 } }, "%.2fx", width: 10))
        }
    }
    let sums = CPUBenchmarkGuest.phases.map { String(format: "%@ %08x", $0, guest.expectedChecksums[$0]!) }
    print("checksums: host reference " + sums.joined(separator: ", ") + "; "
          + engines.map { "\($0.name) \(good[$0.name]?.count ?? 0)/\(options.runs) runs right" }.joined(separator: ", "))
    print("load average after: \(loadAverage())")
    return !failed
}
