import Foundation
import Glibc
import Machine

/// Boot to the marker: how long the tiny-i386 test guest takes from power-on
/// to its /init printing "NOVABOX-MARKER: tiny-i386 up" on COM1, in Novabox
/// and, as a yardstick measured in the same run on the same machine, in
/// QEMU's TCG (Debian's qemu-system-x86, which Benchmarks/boot-benchmark.sh
/// installs; Novabox never needs it). Release build only; run it through
/// that script, which also builds the images.
///
/// Both run the guest the way a user does, in real time (no -icount), with
/// the same RAM and the same devices in use (IDE CD, COM1, VGA text), so the
/// guest waits the same guest time in both (isolinux's one-second prompt,
/// /init's short polls for the CD). Novabox runs in this process, which is
/// how the guest instructions it executed are counted; QEMU runs as a child
/// process and is timed from spawn to the marker on its serial output.
///
/// Paths: `cd` boots the ISO through SeaBIOS and isolinux; `direct` boots
/// the same kernel and initramfs with -kernel/-initrd/-append, the ISO still
/// in the drive so /init finds its CD at once, as on the CD path. `cpu`
/// is another guest: the CPU-bound benchmark program (Benchmarks/CPUGuest)
/// from a raw disk, timed per phase on both our engines and on QEMU
/// (CPUGuestBenchmark.swift).

struct Options {
    var images = ProcessInfo.processInfo.environment["NOVABOX_IMAGES"]
        ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/novabox/images").path
    var qemu = "/usr/bin/qemu-system-i386"
    var paths = ["cd"]
    var runs = 1
    var timeout = 1800.0
    /// `--path cpu`: the guest's work size (`CPUBenchmarkGuest.WorkSize.scaled`).
    var size = 10

    static let usage = """
    usage: novabox-boot-bench [--path cd|direct|all|cpu] [--size N] [--runs N] [--qemu PATH|none] [--timeout SECONDS] [--images DIR]
    """

    init(_ args: [String]) {
        var rest = args[...]
        func value(_ flag: String) -> String {
            guard let v = rest.popFirst() else { fail("\(flag) needs a value") }
            return v
        }
        while let flag = rest.popFirst() {
            switch flag {
            case "--path":
                switch value(flag) {
                case "cd": paths = ["cd"]
                case "direct": paths = ["direct"]
                case "all": paths = ["cd", "direct"]
                case "cpu": paths = ["cpu"]
                case let other: fail("--path \(other): say cd, direct, all or cpu")
                }
            case "--runs": guard let n = Int(value(flag)), n > 0 else { fail("--runs needs a positive number") }; runs = n
            case "--size": guard let n = Int(value(flag)), (1...1000).contains(n) else { fail("--size needs a number from 1 to 1000") }; size = n
            case "--qemu": qemu = value(flag)
            case "--timeout": guard let t = Double(value(flag)), t > 0 else { fail("--timeout needs seconds") }; timeout = t
            case "--images": images = value(flag)
            case "-h", "--help": print(Options.usage); exit(0)
            default: fail("unknown option \(flag)\n\(Options.usage)")
            }
        }
    }
}

func fail(_ message: String) -> Never {
    fputs("novabox-boot-bench: \(message)\n", stderr)
    exit(2)
}

func now(_ clock: clockid_t = CLOCK_MONOTONIC) -> Double {
    var ts = timespec()
    clock_gettime(clock, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

let marker = "NOVABOX-MARKER: tiny-i386 up"

struct Guest {
    let iso: String, kernel: String, initrd: String, commandLine: String
    static let memoryMiB = 128

    init(directory: String) {
        func file(_ name: String) -> String {
            let path = (directory as NSString).appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: path) else { fail("no \(path): build the images with scripts/images.sh") }
            return path
        }
        iso = file("tiny-i386.iso")
        kernel = file("tiny-i386.vmlinuz")
        initrd = file("tiny-i386.initrd")
        commandLine = ((try? String(contentsOfFile: file("tiny-i386.cmdline"), encoding: .utf8)) ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

struct Result { let seconds: Double; let instructions: UInt64? }

/// The marker's line in a run, or nil (with the serial tail on stderr).
func markerResult(_ run: GuestRun, engine: String, path: String) -> Result? {
    if run.reachedStop, let line = run.lines.last {
        return Result(seconds: line.seconds, instructions: line.instructions)
    }
    fputs("novabox-boot-bench: \(engine) did not reach the marker (\(path)); serial tail:\n\(run.tail)\n", stderr)
    return nil
}

func bootNovabox(_ guest: Guest, path: String, timeout: Double) -> Result? {
    var config = MachineConfiguration()
    config.ramSize = Guest.memoryMiB << 20
    config.drives = [DriveConfiguration(path: guest.iso, media: .cdrom, readOnly: true, index: 2)]
    if path == "direct" {
        config.kernelPath = guest.kernel
        config.initrdPath = guest.initrd
        config.kernelCommandLine = guest.commandLine
    }
    return markerResult(runNovabox(config, timeout: timeout) { $0.contains(marker) }, engine: "Novabox", path: path)
}

func bootQEMU(_ guest: Guest, path: String, qemu: String, timeout: Double) -> Result? {
    var args = ["-accel", "tcg", "-cpu", "pentium2", "-m", "\(Guest.memoryMiB)M", "-display", "none",
                "-monitor", "none", "-serial", "stdio", "-no-reboot", "-cdrom", guest.iso]
    if path == "direct" { args += ["-kernel", guest.kernel, "-initrd", guest.initrd, "-append", guest.commandLine] }
    return markerResult(runQEMU(qemu, args, timeout: timeout) { $0.contains(marker) }, engine: "QEMU", path: path)
}

func median(_ xs: [Double]) -> Double { let s = xs.sorted(); return s[s.count / 2] }

func loadAverage() -> String {
    var loads = [Double](repeating: 0, count: 3)
    return getloadavg(&loads, 3) == 3 ? String(format: "%.2f %.2f %.2f", loads[0], loads[1], loads[2]) : "?"
}

// Each run's line as it finishes, also when the output goes to a file.
setlinebuf(stdout)
let options = Options(Array(CommandLine.arguments.dropFirst()))
let useQEMU = options.qemu != "none"
if useQEMU && !FileManager.default.isExecutableFile(atPath: options.qemu) {
    fail("\(options.qemu) is not there: run Benchmarks/boot-benchmark.sh (it installs qemu-system-x86), or pass --qemu none")
}
if options.paths == ["cpu"] {
    exit(benchmarkCPUGuest(options) ? 0 : 1)
}
let guest = Guest(directory: options.images)
print("boot to \"\(marker)\": \(guest.iso), -m \(Guest.memoryMiB)M, real time, \(options.runs) run(s) each, median")
print("host: \(ProcessInfo.processInfo.activeProcessorCount) CPUs, load average before: \(loadAverage())")
print("path    novabox (s)  guest instr.  guest MIPS  qemu tcg (s)  novabox/qemu")
var failed = false
for path in options.paths {
    var ours: [Result] = [], theirs: [Result] = []
    for _ in 0..<options.runs {
        if let r = bootNovabox(guest, path: path, timeout: options.timeout) { ours.append(r) } else { failed = true }
        if useQEMU { if let r = bootQEMU(guest, path: path, qemu: options.qemu, timeout: options.timeout) { theirs.append(r) } else { failed = true } }
    }
    guard !ours.isEmpty else { continue }
    let seconds = median(ours.map(\.seconds))
    let instructions = median(ours.map { Double($0.instructions ?? 0) })
    let qemuSeconds = theirs.isEmpty ? nil : median(theirs.map(\.seconds))
    print(path.padding(toLength: 8, withPad: " ", startingAt: 0)
          + String(format: "%11.1f  %11.2fG  %10.1f", seconds, instructions / 1e9, instructions / seconds / 1e6)
          + (qemuSeconds.map { String(format: "  %12.1f  %11.1fx", $0, seconds / $0) } ?? "  (no qemu)"))
}
print("load average after: \(loadAverage())")
exit(failed ? 1 : 0)
