import Glibc
import XCTest
import Machine
@testable import Debugger

/// A SeaBIOS machine under a debug session, for tests: the session runs on
/// its own thread (as `novabox` runs it on the main one); the test talks to
/// it through its sockets only, then stops the machine and joins.
final class DebugTestMachine {
    let machine: Machine
    let session: DebugSession
    let monitor: Monitor
    let stub: GDBStub
    let monitorPort: MonitorPort
    let monitorPath: String
    private var thread: pthread_t?
    private var result: Machine.ExitReason?

    init(bios: String? = nil, noReboot: Bool = false, configure: (inout MachineConfiguration) -> Void = { _ in }) throws {
        var config = MachineConfiguration()
        config.serial = .none
        config.instructionCountShift = 2
        // No guest time limit: with -icount a halted SeaBIOS ("Retrying in
        // 60 seconds") skips guest time so fast that a limit ends the
        // session before a test's Ctrl-C or `stop` reaches it.
        config.timeLimit = nil
        config.noReboot = noReboot
        if let bios { config.biosPath = bios }
        configure(&config)
        machine = try Machine(config)
        session = DebugSession(machine: machine, startPaused: true, history: ExecutionHistory(cpu: machine.cpu))
        monitor = Monitor(session: session)
        stub = try GDBStub(session: session, monitor: monitor, host: "", port: 0)
        monitorPath = "/tmp/novabox-monitor-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        monitorPort = try MonitorPort(session: session, monitor: monitor, endpoint: .unix(monitorPath))
    }

    func start() {
        let box = Unmanaged.passRetained(self)
        var t = pthread_t()
        pthread_create(&t, nil, { arg in
            let me = Unmanaged<DebugTestMachine>.fromOpaque(arg!).takeRetainedValue()
            me.result = me.session.run()
            return nil
        }, box.toOpaque())
        thread = t
    }

    /// Stops the machine (as SIGINT does) and waits for the session to end.
    @discardableResult
    func finish() -> Machine.ExitReason? {
        guard let thread else { return nil }
        session.quit()
        machine.stop()
        pthread_join(thread, nil)
        self.thread = nil
        return result
    }
}

/// A line-oriented client of the monitor's Unix socket.
final class MonitorClient {
    let fd: Int32
    private var pending = ""

    init?(path: String) {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (k, b) in path.utf8.enumerated() { raw[k] = b }
        }
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard ok == 0 else { close(fd); return nil }
        _ = read(untilSuffix: MonitorPort.prompt)
    }

    deinit { close(fd) }

    /// Everything up to and including the first `marker`, waiting at most `seconds`.
    func read(untilSuffix marker: String, seconds: Double = 30) -> String {
        let deadline = Double(time(nil)) + seconds
        while !pending.contains(marker) && Double(time(nil)) < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 200) > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 65536)
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            pending += String(decoding: buffer[0..<n], as: UTF8.self)
        }
        guard let r = pending.range(of: marker) else { defer { pending = "" }; return pending }
        let out = String(pending[..<r.upperBound])
        pending = String(pending[r.upperBound...])
        return out
    }

    /// Sends a command and returns its reply without the prompt.
    func command(_ line: String) -> String {
        _ = Array((line + "\n").utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let reply = read(untilSuffix: MonitorPort.prompt)
        return reply.hasSuffix(MonitorPort.prompt) ? String(reply.dropLast(MonitorPort.prompt.count)) : reply
    }
}

extension DebugTestMachine {
    /// A machine that must hand its guest to KVM (host time, as KVM keeps
    /// it), configured further by `configure`; skips where KVM is not
    /// usable or does not run long mode, which the guests given to it here
    /// switch to.
    static func handingOverToKVM(bios: String? = nil, noReboot: Bool = false,
                                 configure: (inout MachineConfiguration) -> Void) throws -> DebugTestMachine {
        let t: DebugTestMachine
        do {
            t = try DebugTestMachine(bios: bios, noReboot: noReboot) { config in
                config.acceleration = .kvm
                config.instructionCountShift = nil
                configure(&config)
            }
        } catch {
            throw XCTSkip("KVM or the firmware is not usable here: \(error)")
        }
        try XCTSkipUnless(t.machine.cpu.cpuid.query(0x8000_0001).edx & 1 << 29 != 0,
                          "this host's KVM does not run long mode: the guest would never be handed over")
        return t
    }
}
