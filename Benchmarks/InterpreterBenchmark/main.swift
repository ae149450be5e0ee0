import CPU
import Debugger
import Foundation
import Glibc
import Machine
import MMU
import Recompiler

/// Engine speed (interpreter and recompiler on the same guest loop),
/// start-up time and host memory: the figures issues "machine" and
/// "recompiler" ask for. Release build only:
///     swift build -c release && .build/release/novabox-bench
/// Each figure is the median of several runs.
///     .build/release/novabox-bench loop N [interp|rec]
/// runs only the guest loop, once, for N instructions on one engine (the
/// interpreter by default): for profilers (`valgrind --tool=callgrind`),
/// whose instruction counts divided by N give host instructions per guest
/// instruction.

func now(_ clock: clockid_t = CLOCK_MONOTONIC) -> Double {
    var ts = timespec()
    clock_gettime(clock, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

final class NoPorts: PortIO {
    func portRead(_ port: UInt16, size: Int) -> UInt32 { 0xFFFF_FFFF }
    func portWrite(_ port: UInt16, size: Int, value: UInt32) {}
}

/// A CPU-bound guest loop in flat 32-bit protected mode: integer ALU work,
/// a memory load and store, a shift, and a counted branch — the mix of a
/// checksum or decompressor inner loop.
let loop: [UInt8] = [
    0xB9, 0x00, 0x00, 0x00, 0x10,       // mov ecx, 0x10000000
    0x31, 0xC0,                         // xor eax, eax
    0xBE, 0x00, 0x00, 0x18, 0x00,       // mov esi, 0x180000
    // top:
    0x03, 0x06,                         // add eax, [esi]
    0x89, 0xC2,                         // mov edx, eax
    0xC1, 0xE2, 0x05,                   // shl edx, 5
    0x31, 0xD0,                         // xor eax, edx
    0x89, 0x46, 0x04,                   // mov [esi+4], eax
    0x83, 0xC6, 0x04,                   // add esi, 4
    0x81, 0xE6, 0xFC, 0xFF, 0x18, 0x00, // and esi, 0x18fffc
    0x49,                               // dec ecx
    0x75, 0xE8,                         // jnz top (rel8 −24; it was −26, which
                                        // ran a stray `sbb [eax], al` each pass)
    0xF4,                               // hlt
]

/// Puts `cpu` in flat 32-bit protected mode at the loop, copied to 1 MiB.
func loadLoop(_ cpu: CPU, _ memory: PhysicalMemory) {
    let s = cpu.state
    s.pointee.cr0 |= 1
    for seg in SegmentRegister.allCases {
        cpu.segment(seg).pointee = SegmentDescriptorCache(selector: seg == .cs ? 8 : 16, base: 0, limit: 0xFFFF_FFFF,
                                                          attributes: (seg == .cs ? 0x9B : 0x93) | 0xC000)
    }
    s.pointee.rip = 0x10_0000
    memory.copyIn(0x10_0000, loop)
}

/// Guest instructions per second of wall time, and per second of this
/// thread's CPU time (on a shared machine the second shows what the
/// engine does when it gets the processor).
func timeLoop(_ cpu: CPU, _ recompiler: Recompiler?, instructions: Int) -> (wall: Double, cpu: Double) {
    let start = now(), startCPU = now(CLOCK_THREAD_CPUTIME_ID)
    var done = 0
    while done < instructions { done += recompiler?.run(100_000) ?? cpu.run(100_000) }
    let elapsed = now() - start, elapsedCPU = now(CLOCK_THREAD_CPUTIME_ID) - startCPU
    return (Double(done) / elapsed / 1e6, Double(done) / elapsedCPU / 1e6)
}

func loopMIPS(instructions: Int, recompiled: Bool) -> (wall: Double, cpu: Double) {
    let storage = CPUStateStorage()
    let memory = try! PhysicalMemory(ramSize: 4 << 20)
    let cpu = CPU(state: storage.pointer, memory: memory, io: NoPorts())
    loadLoop(cpu, memory)
    return timeLoop(cpu, recompiled ? try! Recompiler(cpu: cpu) : nil, instructions: instructions)
}

/// What a debug session has set while the loop runs under it: nothing,
/// one read watchpoint on a range the loop never touches (each of its data
/// accesses pays the check, none stops it), or one code breakpoint outside
/// the loop (no block of the loop contains it).
enum DebuggerLoad: String {
    case idle = "debugger idle"
    case readWatchpoint = "one read watchpoint"
    case breakpointOutside = "one breakpoint set outside the loop"
}

/// The same loop on one engine of a machine under a debug session.
func debuggerMIPS(instructions: Int, engine: MachineStatus.Engine, _ load: DebuggerLoad) -> (wall: Double, cpu: Double) {
    var config = MachineConfiguration()
    config.serial = .none
    config.engine = engine
    let machine = try! Machine(config)
    let session = DebugSession(machine: machine, startPaused: false, history: ExecutionHistory(cpu: machine.cpu))
    switch load {
    case .idle: break
    case .readWatchpoint: session.breakpoints.addWatch(.read, physical: false, address: 0x7000, length: 4, owner: .monitor, view: session.view)
    case .breakpointOutside: session.breakpoints.addCode(.linear(0x7000), owner: .monitor)
    }
    session.updateHooks()
    loadLoop(machine.cpu, machine.memory)
    return withExtendedLifetime(session) { timeLoop(machine.cpu, machine.recompiler, instructions: instructions) }
}

func median(_ xs: [Double]) -> Double { let s = xs.sorted(); return s[s.count / 2] }

func startupMilliseconds(binary: String, extra: [String] = []) -> Double? {
    // Wall time of a whole `novabox` process that runs the firmware's first
    // instructions and exits: an upper bound on start-up to the first
    // guest instruction.
    var pid: pid_t = 0
    let args = [binary, "-serial", "none", "-timeout", "0.000001"] + extra
    var cargs = args.map { strdup($0) } + [nil]
    defer { cargs.forEach { free($0) } }
    let t0 = now()
    guard posix_spawn(&pid, binary, nil, nil, &cargs, environ) == 0 else { return nil }
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    return (now() - t0) * 1000
}

func residentMiB() -> Double {
    guard let f = fopen("/proc/self/status", "r") else { return 0 }
    defer { fclose(f) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, 256, f) != nil {
        let s = String(cString: line)
        if s.hasPrefix("VmRSS:") {
            return Double(s.split(separator: " ").dropFirst().first.flatMap { Double($0) } ?? 0) / 1024
        }
    }
    return 0
}

let arguments = CommandLine.arguments
if (3...4).contains(arguments.count), arguments[1] == "loop", let n = Int(arguments[2]) {
    let engine = arguments.count == 4 ? arguments[3] : "interp"
    guard engine == "interp" || engine == "rec" else {
        fputs("novabox-bench: engine \(engine): use interp or rec\n", stderr)
        exit(2)
    }
    let (wall, cpu) = loopMIPS(instructions: n, recompiled: engine == "rec")
    print(String(format: "%@, CPU-bound loop: %.1f M guest instructions/s, %.1f per CPU-second (one run of %d)",
                 engine == "rec" ? "recompiler" : "interpreter", wall, cpu, n))
    exit(0)
}

let runs = 5
print("novabox-bench: \(runs) runs each, median reported")

// Memory first, in a process that has run nothing else yet (the engine
// runs below leave their own allocations behind).
var config = MachineConfiguration()
config.serial = .none
config.instructionCountShift = 2
let before = residentMiB()
if let machine = try? Machine(config) {
    _ = machine.run(until: 3)
    let after = residentMiB()
    let touchedRAM = Double(machine.memory.residentRAMBytes()) / 1048576
    print(String(format: "host memory: %.1f MiB resident after 3 s of SeaBIOS (guest RAM resident %.1f MiB; beyond guest RAM %.1f MiB; process before the machine %.1f MiB)",
                 after, touchedRAM, after - touchedRAM, before))
}

var medians: [Double] = []
for recompiled in [false, true] {
    let measured = (0..<runs).map { _ in loopMIPS(instructions: 50_000_000, recompiled: recompiled) }
    let mips = measured.map(\.wall)
    medians.append(median(mips))
    print(String(format: "%@, CPU-bound loop: %.1f M guest instructions/s (runs: %@); per CPU-second: %.1f",
                 recompiled ? "recompiler" : "interpreter", median(mips),
                 mips.map { String(format: "%.1f", $0) }.joined(separator: ", "), median(measured.map(\.cpu))))
}
print(String(format: "recompiler / interpreter: %.2f×", medians[1] / medians[0]))

for (engine, load) in [(MachineStatus.Engine.interpreter, DebuggerLoad.idle), (.interpreter, .readWatchpoint),
                       (.recompiler, .idle), (.recompiler, .breakpointOutside)] {
    let m = (0..<runs).map { _ in debuggerMIPS(instructions: 50_000_000, engine: engine, load) }
    let plain = medians[engine == .recompiler ? 1 : 0]
    print(String(format: "%@, same loop, %@: %.1f M guest instructions/s (%.0f %% of its plain figure); per CPU-second: %.1f",
                 engine == .recompiler ? "recompiler" : "interpreter", load.rawValue, median(m.map(\.wall)),
                 median(m.map(\.wall)) / plain * 100, median(m.map(\.cpu))))
}

let binary = CommandLine.arguments[0].replacingOccurrences(of: "novabox-bench", with: "novabox")
// With the default `-accel auto` the machine first runs KVM's self-test
// (where /dev/kvm exists); `-accel tcg` shows our own start-up alone.
for (label, extra) in [("-accel auto", [String]()), ("-accel tcg", ["-accel", "tcg"])] {
    let startups = (0..<runs).compactMap { _ in startupMilliseconds(binary: binary, extra: extra) }
    if !startups.isEmpty {
        print(String(format: "start-up to first guest instruction (whole process, upper bound), %@: %.1f ms", label, median(startups)))
    }
}
