import Console
import Debugger
import Glibc
import Machine

/// `novabox`: parse the command line, assemble the PC, run it in a window
/// or headless. Every user mistake ends with one line on stderr and exit
/// code 2.

setvbuf(stdout, nil, _IOFBF, 1 << 16)

func fail(_ message: String) -> Never {
    fflush(stdout)
    fputs("novabox: \(message)\n", stderr)
    exit(2)
}

let options: CommandLineOptions
do {
    options = try CommandLineOptions.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    fail(error.message)
}
if options.showHelp { print(CommandLineOptions.usage); exit(0) }
if options.showVersion { print("novabox 0.1"); exit(0) }

let machine: Machine
do {
    machine = try Machine(options.configuration)
} catch {
    fail(error.description)
}

// The window, when there is a display (or an error if -display sdl insisted).
// A debugger session drives the run loop itself and runs headless for now.
var console: SDLConsole? = nil
if options.display != .none && !options.debug.sessionWanted {
    do {
        console = try SDLConsole(machine: machine, scale: options.scale, fullScreen: options.fullScreen)
    } catch where options.display == .sdl {
        fail("-display sdl: no display to open a window on (\(error.reason)); run headless with -display none")
    } catch {
        // No display and none asked for: headless, as with -display none.
    }
}

// Ctrl-C and SIGTERM end the run cleanly (consoles flushed, disks written).
nonisolated(unsafe) var interruptedMachine: Machine? = machine
signal(SIGINT) { _ in interruptedMachine?.stop() }
signal(SIGTERM) { _ in interruptedMachine?.stop() }

// Exceptions are always remembered (they are rare), so a triple fault
// prints its chain; the instruction ring only with -history.
let history = ExecutionHistory(cpu: machine.cpu, instructionCapacity: options.debug.history ?? 64)
if options.debug.history != nil { history.recordInstructions(true) }

let reason: Machine.ExitReason
if options.debug.sessionWanted {
    let debug = options.debug
    let session = DebugSession(machine: machine, startPaused: debug.startPaused, history: history)
    let monitor = Monitor(session: session)
    var ports: [AnyObject] = []
    do {
        if let gdb = debug.gdb {
            let stub = try GDBStub(session: session, monitor: monitor, host: gdb.host, port: gdb.port)
            fputs("novabox: gdb stub on tcp:\(gdb.host.isEmpty ? "127.0.0.1" : gdb.host):\(stub.port)\n", stderr)
            ports.append(stub)
        }
        if let endpoint = debug.monitor {
            let port = try MonitorPort(session: session, monitor: monitor, endpoint: endpoint)
            if let tcp = port.tcpPort { fputs("novabox: monitor on tcp port \(tcp)\n", stderr) }
            ports.append(port)
        }
    } catch {
        fail("cannot listen: \(error.description)")
    }
    if debug.monitor != .stdio { SerialInput.start(machine) }
    reason = withExtendedLifetime(ports) { session.run() }
} else if let window = console {
    SerialInput.start(machine)
    reason = window.run()
    console = nil   // closes the window
} else {
    SerialInput.start(machine)
    reason = machine.run()
}

if let path = options.screenshot {
    do {
        try Screenshot.write(machine.board.vga.scanout, to: path)
    } catch {
        fail(error.message)
    }
}

if let dump = options.configuration.textScreenDump {
    let text = (machine.textScreen() ?? ["(the display is in a graphics mode)"]).joined(separator: "\n") + "\n"
    if dump == "-" {
        fputs(text, stdout)
    } else if let f = fopen(dump, "w") {
        fputs(text, f); fclose(f)
    } else {
        fail("cannot write the text screen to \(dump): \(String(cString: strerror(errno)))")
    }
}
machine.logEngineReport()
do {
    try machine.flushDisks()
} catch {
    fail(error.description)
}
fflush(stdout)
if let summary = machine.engineSummary { fputs("novabox: \(summary)\n", stderr) }
switch reason {
case .guestUnrunnable(let why):
    fputs("novabox: \(why)\n", stderr)
    exit(1)
case .guestReset(let tripleFault):
    fputs("novabox: the guest \(tripleFault ? "triple-faulted" : "reset") and -no-reboot is set\n", stderr)
    exit(tripleFault ? 3 : 0)
default:
    exit(0)
}
