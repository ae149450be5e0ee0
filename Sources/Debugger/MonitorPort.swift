import Glibc

/// Where the monitor listens: the terminal, a Unix socket or a TCP port.
/// Socket clients come and go; several may be connected at once.
/// Every reply ends with the prompt, which scripts can wait for. On a
/// terminal the monitor edits the line itself, with Tab completion
/// (`LineEditor`); a pipe on stdin gets plain lines, as a socket does.
public final class MonitorPort: DebugPort {
    public enum Endpoint: Equatable {
        case stdio
        case unix(String)
        case tcp(host: String, port: UInt16)
    }

    public static let prompt = "(novabox) "

    let monitor: Monitor
    private let listener: Int32?
    private var clients: [Int32: [UInt8]] = [:]
    private let unixPath: String?
    public private(set) var tcpPort: UInt16?
    /// Set when stdin is a terminal the monitor put in non-canonical mode.
    private var editor: LineEditor?

    public init(session: DebugSession, monitor: Monitor, endpoint: Endpoint) throws(SocketError) {
        self.monitor = monitor
        switch endpoint {
        case .stdio:
            listener = nil; unixPath = nil
            clients[0] = []
            if TerminalMode.enterCharacterMode() { editor = LineEditor() }
            Socket.send(1, Array(MonitorPort.prompt.utf8))
        case .unix(let path):
            listener = try Socket.listenUnix(path: path); unixPath = path
        case .tcp(let host, let port):
            let l = try Socket.listenTCP(host: host, port: port)
            listener = l.fd; tcpPort = l.port; unixPath = nil
        }
        session.add(self)
    }

    deinit {
        for fd in clients.keys where fd != 0 { close(fd) }
        if let listener { close(listener) }
        if let unixPath { unlink(unixPath) }
    }

    var descriptors: [Int32] { Array(clients.keys) + (listener.map { [$0] } ?? []) }

    private func output(_ fd: Int32) -> Int32 { fd == 0 ? 1 : fd }

    func service(_ readable: Set<Int32>) {
        if let listener, readable.contains(listener), let fd = Socket.accept(listener) {
            clients[fd] = []
            Socket.send(fd, Array(MonitorPort.prompt.utf8))
        }
        for fd in Array(clients.keys) where readable.contains(fd) {
            guard let bytes = Socket.receive(fd) else {
                if fd != 0 { close(fd) }
                clients[fd] = nil
                continue
            }
            if fd == 0, var e = editor {
                for b in bytes {
                    let (echo, entered) = e.feed(b)
                    Socket.send(1, echo)
                    if let entered {
                        Socket.send(1, Array((monitor.execute(entered).map { $0 + "\n" }.joined() + MonitorPort.prompt).utf8))
                    }
                }
                editor = e
                continue
            }
            clients[fd, default: []] += bytes
            while let buffer = clients[fd], let newline = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[..<newline].filter { $0 != 0x0D }, as: UTF8.self)
                clients[fd] = Array(buffer[(newline + 1)...])
                let reply = monitor.execute(line).map { $0 + "\n" }.joined() + MonitorPort.prompt
                Socket.send(output(fd), Array(reply.utf8))
            }
            // A line longer than this is not a command: drop it.
            if clients[fd]?.count ?? 0 > 4096 {
                clients[fd] = []
                Socket.send(output(fd), Array((Monitor.unknown + "\n" + MonitorPort.prompt).utf8))
            }
        }
    }

    func machineStopped(_ reason: StopReason) {
        let lines = [monitor.describe(reason)] + monitor.inspector.disassemble(at: nil, count: 1)
        let text = Array(("\n" + lines.joined(separator: "\n") + "\n" + MonitorPort.prompt).utf8)
        for fd in clients.keys {
            // On the terminal, the line being typed is shown again after the prompt.
            let typed = fd == 0 ? editor.map { Array($0.line.utf8) } ?? [] : []
            Socket.send(output(fd), text + typed)
        }
    }
}

/// Non-canonical, no-echo mode for the monitor's terminal, undone when the
/// process exits (however it exits: `quit`, a signal, the time limit).
enum TerminalMode {
    nonisolated(unsafe) private static var saved = termios()

    /// False when stdin is not a terminal (a pipe, a file).
    static func enterCharacterMode() -> Bool {
        guard isatty(0) == 1, tcgetattr(0, &saved) == 0 else { return false }
        var raw = saved
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO)
        // VMIN = 1, VTIME = 0: a read returns as soon as one byte is there.
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        guard tcsetattr(0, TCSANOW, &raw) == 0 else { return false }
        atexit { _ = tcsetattr(0, TCSANOW, &TerminalMode.saved) }
        return true
    }
}
