import Foundation
import Glibc

/// Does the window slow the guest? First the renderer's own CPU per frame
/// for still and changing screens (RendererCost.swift, in this process, no
/// display needed). Then runs the same CPU-bound guest in `novabox`
/// headless and with the SDL window, and reports guest MIPS for both and
/// the window's whole CPU cost per frame. That part needs an X display; on
/// a machine without one:
///     swift build -c release
///     xvfb-run -s "-screen 0 1600x1200x24" .build/release/novabox-display-bench [OUTER-LOOPS]
///
/// The guest is a 64 KiB firmware image of our own: at the reset vector it
/// sets a 1024×768×32 Bochs VBE mode, then runs OUTER-LOOPS × 65,536
/// iterations of an ALU loop, changing one pixel per outer loop (so frames
/// differ and a line is redrawn and uploaded), and resets the machine through port CF9h; `-no-reboot` ends
/// the run there. MIPS = the guest's instruction count / the process's wall
/// time, start-up included (a few tens of milliseconds either way). On a
/// host with a core to spare for the window the two agree; on a busy host
/// the window's threads compete with the guest for cores, so the machine
/// thread's own CPU time is reported too: guest instructions per second of
/// machine-thread CPU show whether the window slows the emulation itself.

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Real-mode code at FFFF0000h (CS:0000 after reset), as assembled by nasm.
func guestCode(outerLoops: UInt16) -> [UInt8] {
    [
        0xBA, 0xC2, 0x03, 0xB0, 0x03, 0xEE,             // mov dx,3C2h; mov al,3; out dx,al   misc: colour, RAM on
        0xBA, 0xDA, 0x03, 0xEC,                         // mov dx,3DAh; in al,dx               reset the 3C0h flip-flop
        0xBA, 0xC0, 0x03, 0xB0, 0x20, 0xEE,             // mov dx,3C0h; mov al,20h; out dx,al  palette address source on
        0xBA, 0xCE, 0x01,                               // mov dx,1CEh
        0xB8, 0x01, 0x00, 0xEF, 0x42, 0xB8, 0x00, 0x04, 0xEF, 0x4A,   // XRES = 1024
        0xB8, 0x02, 0x00, 0xEF, 0x42, 0xB8, 0x00, 0x03, 0xEF, 0x4A,   // YRES = 768
        0xB8, 0x03, 0x00, 0xEF, 0x42, 0xB8, 0x20, 0x00, 0xEF, 0x4A,   // BPP = 32
        0xB8, 0x04, 0x00, 0xEF, 0x42, 0xB8, 0x01, 0x00, 0xEF,         // ENABLE = 1 (banked window)
        0xB8, 0x00, 0xA0, 0x8E, 0xC0,                   // mov ax,0A000h; mov es,ax
        0x31, 0xF6,                                     // xor si,si
        0xBD, UInt8(outerLoops & 0xFF), UInt8(outerLoops >> 8),   // mov bp,OUTER
        // outer:
        0x31, 0xC9,                                     // xor cx,cx    (65,536 inner loops)
        // inner:
        0x01, 0xD8,                                     // add ax,bx
        0x31, 0xC3,                                     // xor bx,ax
        0xD1, 0xE3,                                     // shl bx,1
        0xE2, 0xF8,                                     // loop inner
        0x26, 0x89, 0x04,                               // mov [es:si],ax   one pixel changes
        0x83, 0xC6, 0x04,                               // add si,4
        0x4D,                                           // dec bp
        0x75, 0xED,                                     // jnz outer
        0xBA, 0xF9, 0x0C, 0xB0, 0x06, 0xEE,             // mov dx,0CF9h; mov al,6; out dx,al   hard reset
        0xF4,                                           // hlt
    ]
}

/// Instructions the guest retires: the reset-vector jump and 36 set-up
/// instructions, 262,149 per outer loop, and 3 to reset.
func guestInstructions(outerLoops: Int) -> Double { Double(1 + 36 + outerLoops * (1 + 4 * 65536 + 4) + 3) }

func firmwareImage(outerLoops: UInt16) -> [UInt8] {
    var image = [UInt8](repeating: 0xF4, count: 64 << 10)
    let code = guestCode(outerLoops: outerLoops)
    image.replaceSubrange(0..<code.count, with: code)
    // Reset vector at FFFFFFF0h: jmp near 0000h.
    image.replaceSubrange(0xFFF0..<0xFFF3, with: [0xE9, 0x0D, 0x00])
    return image
}

struct RunFigures {
    let wallSeconds: Double
    /// User + system time of the whole process.
    let cpuSeconds: Double
    /// CPU time of its busiest thread: the machine's.
    let machineThreadSeconds: Double
}

/// CPU ticks (user + system) of each thread of `pid`, from /proc.
func threadTicks(_ pid: pid_t) -> [Int: Int] {
    var ticks: [Int: Int] = [:]
    guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task") else { return ticks }
    for task in tasks {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { continue }
        // Fields after the command name: state is field 3, utime and stime are fields 14 and 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]), let tid = Int(task) else { continue }
        ticks[tid] = user + system
    }
    return ticks
}

func runNovabox(_ binary: String, _ args: [String]) -> RunFigures? {
    var pid: pid_t = 0
    let argv = [binary] + args
    var cargs = argv.map { strdup($0) } + [nil]
    defer { cargs.forEach { free($0) } }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    defer { posix_spawn_file_actions_destroy(&actions) }
    let t0 = now()
    guard posix_spawn(&pid, binary, &actions, nil, &cargs, environ) == 0 else { return nil }
    var status: Int32 = 0
    var usage = rusage()
    var busiest = 0
    // Sample the threads until the process ends (their counts go with it).
    while wait4(pid, &status, WNOHANG, &usage) == 0 {
        busiest = max(busiest, threadTicks(pid).values.max() ?? 0)
        usleep(100_000)
    }
    let wall = now() - t0
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    guard status == 0 else {
        fputs("novabox-display-bench: novabox \(args.joined(separator: " ")) failed (status \(status))\n", stderr)
        return nil
    }
    return RunFigures(wallSeconds: wall, cpuSeconds: seconds(usage.ru_utime) + seconds(usage.ru_stime),
                      machineThreadSeconds: Double(busiest) / Double(sysconf(Int32(_SC_CLK_TCK))))
}

func median(_ xs: [Double]) -> Double { let s = xs.sorted(); return s[s.count / 2] }

let outerLoops = CommandLine.arguments.dropFirst().first.flatMap { UInt16($0) } ?? 4096
do {
    print("renderer CPU per frame (take the changes, update the picture; \(RendererCost.frames) frames each):")
    for figure in try RendererCost.run() {
        let name = figure.name.padding(toLength: 42, withPad: " ", startingAt: 0)
        print("  " + name + String(format: "%8.1f µs", figure.microseconds))
    }
} catch {
    fputs("novabox-display-bench: cannot boot SeaBIOS for the renderer figures: \(error)\n", stderr)
    exit(1)
}
guard getenv("DISPLAY") != nil else {
    fputs("novabox-display-bench: needs an X display; run it under xvfb-run (see the source's header)\n", stderr)
    exit(2)
}
let binary = CommandLine.arguments[0].replacingOccurrences(of: "novabox-display-bench", with: "novabox")
let firmware = FileManager.default.temporaryDirectory.appendingPathComponent("novabox-display-bench-\(getpid()).bin").path
_ = FileManager.default.createFile(atPath: firmware, contents: Data(firmwareImage(outerLoops: outerLoops)))
defer { try? FileManager.default.removeItem(atPath: firmware) }

let common = ["-bios", firmware, "-serial", "none", "-no-reboot"]
let instructions = guestInstructions(outerLoops: Int(outerLoops))
let runs = 3
print(String(format: "novabox-display-bench: %.0f M guest instructions, %d runs each (alternating), median reported",
             instructions / 1e6, runs))
var headless: [RunFigures] = [], windowed: [RunFigures] = []
for _ in 0..<runs {
    guard let h = runNovabox(binary, common + ["-display", "none"]),
          let w = runNovabox(binary, common + ["-display", "sdl"]) else { exit(1) }
    headless.append(h)
    windowed.append(w)
}
let headlessMIPS = median(headless.map { instructions / $0.wallSeconds / 1e6 })
let windowMIPS = median(windowed.map { instructions / $0.wallSeconds / 1e6 })
print(String(format: "headless:          %.1f MIPS (runs: %@)", headlessMIPS,
             headless.map { String(format: "%.1f", instructions / $0.wallSeconds / 1e6) }.joined(separator: ", ")))
print(String(format: "window, 1024×768:  %.1f MIPS (runs: %@) = %.1f%% of headless", windowMIPS,
             windowed.map { String(format: "%.1f", instructions / $0.wallSeconds / 1e6) }.joined(separator: ", "),
             windowMIPS / headlessMIPS * 100))
func perThreadMIPS(_ runs: [RunFigures]) -> Double { median(runs.map { instructions / $0.machineThreadSeconds / 1e6 }) }
print(String(format: "machine thread alone: %.1f MIPS per CPU second headless, %.1f with the window (%.1f%%)",
             perThreadMIPS(headless), perThreadMIPS(windowed), perThreadMIPS(windowed) / perThreadMIPS(headless) * 100))
// The window's own CPU: what the windowed process used beyond the headless one, per frame at 60 Hz.
let extraCPU = median(windowed.map(\.cpuSeconds)) - median(headless.map(\.cpuSeconds))
let frames = median(windowed.map(\.wallSeconds)) * 60
print(String(format: "window CPU (snapshot, render, upload, present): %.2f s over %.0f frames = %.2f ms per frame",
             extraCPU, frames, extraCPU / frames * 1000))
