import Foundation
import Glibc
import HWAccel
import Machine

/// Boot to the marker: how long a test guest takes from power-on to its
/// /init printing "NOVABOX-MARKER: <guest> up" on COM1 (tiny-i386, the
/// 32-bit guest, and live-amd64, the 64-bit one, whose /init prints the
/// same line once its CD is mounted), in Novabox with each `-accel` policy
/// asked for (`auto`, which hands the guest to KVM at the paging switch
/// when KVM's self-test says it is worth it, and `tcg`, our own engine
/// alone; `kvm` on request) and, as a yardstick measured in the same run on
/// the same machine, in QEMU's TCG (qemu-system-i386 for tiny-i386,
/// qemu-system-x86_64 for live-amd64; Debian's qemu-system-x86, which
/// Benchmarks/boot-benchmark.sh installs; Novabox never needs it). Release
/// build only; run it through that script, which also builds the images.
///
/// For each Novabox boot it also reports how the host time split between
/// our engine and KVM (from the machine's switch accounting) and the
/// switch summary; once per run, where /dev/kvm is usable, KVM's long-mode
/// self-test gives the cost of one port-I/O exit round trip. A boot that
/// does not reach the marker within --timeout is reported with the last
/// line the guest printed (a 64-bit guest cannot boot where neither KVM
/// nor our engine runs long mode).
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
    var qemuDirectory: String? = "/usr/bin"
    var guests = ["tiny-i386"]
    var accelerations: [MachineConfiguration.Acceleration] = [.auto, .tcg]
    var paths = ["cd"]
    var runs = 1
    var timeout = 1800.0
    /// `--path cpu`: the guest's work size (`CPUBenchmarkGuest.WorkSize.scaled`).
    var size = 10

    static let usage = """
    usage: novabox-boot-bench [--guest tiny-i386|live-amd64|all] [--accel auto,tcg,kvm] [--path cd|direct|all|cpu] [--size N]
                              [--runs N] [--qemu DIR|none] [--timeout SECONDS] [--images DIR]
    --qemu: the directory holding qemu-system-i386 and qemu-system-x86_64 (default /usr/bin)
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
            case "--qemu": let v = value(flag); qemuDirectory = v == "none" ? nil : v
            case "--guest":
                switch value(flag) {
                case "tiny-i386": guests = ["tiny-i386"]
                case "live-amd64": guests = ["live-amd64"]
                case "all": guests = ["tiny-i386", "live-amd64"]
                case let other: fail("--guest \(other): say tiny-i386, live-amd64 or all")
                }
            case "--accel":
                accelerations = value(flag).split(separator: ",").map { name in
                    guard let a = MachineConfiguration.Acceleration(rawValue: String(name)) else { fail("--accel \(name): say auto, tcg or kvm") }
                    return a
                }
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

struct Guest {
    let name: String
    let iso: String, kernel: String, initrd: String, commandLine: String
    /// QEMU's binary for this guest and the CPU it is given there (the
    /// 32-bit guest on a Pentium II, as Novabox's own identity).
    let qemuBinary: String, qemuCPU: String
    /// What its /init prints on COM1 when it is up.
    var marker: String { "NOVABOX-MARKER: \(name) up" }
    static let memoryMiB = 128

    init(_ name: String, directory: String) {
        self.name = name
        qemuBinary = name == "live-amd64" ? "qemu-system-x86_64" : "qemu-system-i386"
        qemuCPU = name == "live-amd64" ? "qemu64" : "pentium2"
        func file(_ name: String) -> String {
            let path = (directory as NSString).appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: path) else { fail("no \(path): build the images with scripts/images.sh") }
            return path
        }
        iso = file("\(name).iso")
        kernel = file("\(name).vmlinuz")
        initrd = file("\(name).initrd")
        commandLine = ((try? String(contentsOfFile: file("\(name).cmdline"), encoding: .utf8)) ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

struct Result {
    /// To the marker, or until the boot gave up (`reachedMarker` false).
    let seconds: Double
    var reachedMarker = true
    let instructions: UInt64?
    /// Host seconds in our engine and in KVM (Novabox only).
    var shares: (ours: Double, kvm: Double)? = nil
    var switches: String? = nil
}

/// Novabox in this process, to the marker or the timeout.
func bootNovabox(_ guest: Guest, path: String, acceleration: MachineConfiguration.Acceleration, timeout: Double) -> Result {
    var config = MachineConfiguration()
    config.acceleration = acceleration
    config.ramSize = Guest.memoryMiB << 20
    config.drives = [DriveConfiguration(path: guest.iso, media: .cdrom, readOnly: true, index: 2)]
    if path == "direct" {
        config.kernelPath = guest.kernel
        config.initrdPath = guest.initrd
        config.kernelCommandLine = guest.commandLine
    }
    let run = runNovabox(config, timeout: timeout) { $0.contains(guest.marker) }
    let account = run.novabox
    if run.reachedStop, let line = run.lines.last {
        return Result(seconds: line.seconds, instructions: line.instructions, shares: account?.shares, switches: account?.switches)
    }
    let seconds = run.lines.last?.seconds ?? timeout
    fputs("novabox-boot-bench: Novabox -accel \(acceleration.rawValue) did not reach the marker (\(guest.name), \(path)) in "
          + String(format: "%.0f s; last line: %@\n", timeout, run.lastLine), stderr)
    return Result(seconds: max(seconds, timeout), reachedMarker: false, instructions: account?.instructions,
                  shares: account?.shares, switches: account?.switches)
}

/// QEMU as a child process, to the marker or the timeout.
func bootQEMU(_ guest: Guest, path: String, qemu: String, timeout: Double) -> Result? {
    var args = ["-accel", "tcg", "-cpu", guest.qemuCPU, "-m", "\(Guest.memoryMiB)M", "-display", "none",
                "-monitor", "none", "-serial", "stdio", "-no-reboot", "-cdrom", guest.iso]
    if path == "direct" { args += ["-kernel", guest.kernel, "-initrd", guest.initrd, "-append", guest.commandLine] }
    let run = runQEMU(qemu, args, timeout: timeout) { $0.contains(guest.marker) }
    if run.reachedStop, let line = run.lines.last { return Result(seconds: line.seconds, instructions: nil) }
    fputs("novabox-boot-bench: QEMU did not reach the marker (\(guest.name), \(path)); serial tail:\n\(run.tail)\n", stderr)
    return nil
}

func median(_ xs: [Double]) -> Double { let s = xs.sorted(); return s[s.count / 2] }

/// The median boot among those that reached the marker, else the first that did not.
func median(_ results: [Result]) -> Result? {
    let reached = results.filter(\.reachedMarker).sorted { $0.seconds < $1.seconds }
    return reached.isEmpty ? results.first : reached[reached.count / 2]
}

func loadAverage() -> String {
    var loads = [Double](repeating: 0, count: 3)
    return getloadavg(&loads, 3) == 3 ? String(format: "%.2f %.2f %.2f", loads[0], loads[1], loads[2]) : "?"
}

// Each run's line as it finishes, also when the output goes to a file.
setlinebuf(stdout)
let options = Options(Array(CommandLine.arguments.dropFirst()))
if options.paths == ["cpu"] {
    exit(benchmarkCPUGuest(options) ? 0 : 1)
}
let guests = options.guests.map { Guest($0, directory: options.images) }
print("boot to \"NOVABOX-MARKER: <guest> up\": -m \(Guest.memoryMiB)M, real time, \(options.runs) run(s) each, median")
print("host: \(ProcessInfo.processInfo.activeProcessorCount) CPUs, load average before: \(loadAverage())")
if let kvm = try? KVMSystem() {
    // The long-mode self-test also times port-I/O exits: the price of every device access a KVM guest makes.
    print("KVM: " + KVMSelfTest.run(.longMode, system: kvm, interpreterRate: KVMSelfTest.measureInterpreter()).summary)
} else {
    print("KVM: not usable here; -accel auto runs our engine alone")
}
print("guest       path    engine        boot (s)  guest instr.  our engine / KVM (s)")
var failed = false
for guest in guests {
    for path in options.paths {
        var rows: [(String, Result?)] = []
        for acceleration in options.accelerations {
            let results = (0..<options.runs).map { _ in bootNovabox(guest, path: path, acceleration: acceleration, timeout: options.timeout) }
            if results.contains(where: { !$0.reachedMarker }) { failed = true }
            rows.append(("novabox " + acceleration.rawValue, median(results)))
        }
        if let qemu = qemuBinary(guest.qemuBinary, in: options.qemuDirectory) {
            let results = (0..<options.runs).compactMap { _ in bootQEMU(guest, path: path, qemu: qemu, timeout: options.timeout) }
            if results.count < options.runs { failed = true }
            rows.append(("qemu tcg", median(results)))
        }
        for (engine, result) in rows {
            let head = guest.name.padding(toLength: 12, withPad: " ", startingAt: 0) + path.padding(toLength: 8, withPad: " ", startingAt: 0)
                + engine.padding(toLength: 14, withPad: " ", startingAt: 0)
            guard let result else { print(head + "       -  (no marker)"); continue }
            print(head + (result.reachedMarker ? String(format: "%8.1f", result.seconds) : String(format: "> %6.0f", result.seconds))
                  + (result.instructions.map { String(format: "  %11.2fG", Double($0) / 1e9) } ?? String(repeating: " ", count: 14))
                  + (result.shares.map { String(format: "  %8.1f / %.1f", $0.ours, $0.kvm) } ?? ""))
            if let switches = result.switches { print("    " + switches) }
        }
    }
}
print("load average after: \(loadAverage())")
exit(failed ? 1 : 0)
