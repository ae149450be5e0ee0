import Debugger

/// The debugger's command-line options (`-monitor`, `-gdb`, `-s`, `-S`,
/// `-history`), kept apart from the machine's configuration: they say how
/// someone watches the machine, not what the machine is.
struct DebugOptions {
    var monitor: MonitorPort.Endpoint?
    /// Host ("" = loopback) and port of the gdb stub; port 0 picks a free one.
    var gdb: (host: String, port: UInt16)?
    var startPaused = false
    /// Instructions kept for `info history` and the triple-fault report.
    var history: Int?

    var sessionWanted: Bool { monitor != nil || gdb != nil || startPaused }

    static let usage = """
    Debugging:
      -monitor stdio|unix:PATH|tcp:HOST:PORT   the monitor (type help)
      -gdb tcp:[HOST]:PORT  a gdb remote stub (HOST defaults to 127.0.0.1)
      -s                    same as -gdb tcp::1234
      -S                    start paused (continue from gdb or the monitor)
      -history N            keep the last N executed instructions (triple-fault report, info history)
    """

    static func endpoint(_ flag: String, _ v: String) throws(UsageError) -> MonitorPort.Endpoint {
        if v == "stdio" { return .stdio }
        if v.hasPrefix("unix:"), v.count > 5 { return .unix(String(v.dropFirst(5))) }
        if v.hasPrefix("tcp:"), let (host, port) = hostAndPort(String(v.dropFirst(4))) { return .tcp(host: host, port: port) }
        throw UsageError("\(flag) \(v): use stdio, unix:PATH or tcp:HOST:PORT")
    }

    /// `HOST:PORT` or `:PORT`.
    static func hostAndPort(_ v: String) -> (String, UInt16)? {
        guard let colon = v.lastIndex(of: ":"), let port = UInt16(v[v.index(after: colon)...]) else { return nil }
        return (String(v[..<colon]), port)
    }

    static func gdbEndpoint(_ v: String) throws(UsageError) -> (String, UInt16) {
        let text = v.hasPrefix("tcp:") ? String(v.dropFirst(4)) : v
        guard let hp = hostAndPort(text) else { throw UsageError("-gdb \(v): use tcp::PORT or tcp:HOST:PORT") }
        return hp
    }
}
