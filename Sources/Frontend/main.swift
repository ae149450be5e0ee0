import Glibc
import Machine

/// `novabox`: parse the command line, assemble the PC, run it headless.
/// Every user mistake ends with one line on stderr and exit code 2.

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

// Ctrl-C and SIGTERM end the run cleanly (consoles flushed, disks written).
nonisolated(unsafe) var interruptedMachine: Machine? = machine
signal(SIGINT) { _ in interruptedMachine?.stop() }
signal(SIGTERM) { _ in interruptedMachine?.stop() }

SerialInput.start(machine)
let reason = machine.run()

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
do {
    try machine.flushDisks()
} catch {
    fail(error.description)
}
fflush(stdout)
switch reason {
case .guestReset(let tripleFault):
    fputs("novabox: the guest \(tripleFault ? "triple-faulted" : "reset") and -no-reboot is set\n", stderr)
    exit(tripleFault ? 3 : 0)
default:
    exit(0)
}
