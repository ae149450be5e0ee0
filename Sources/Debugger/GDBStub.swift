import CPU
import Glibc

/// The GDB remote serial protocol over TCP, one client at a time.
///
/// Addresses in `m`, `M`, `X` and `Z` packets are linear addresses (CS base
/// + EIP for code) in every mode, translated through the paging the CPU
/// uses now; an unmapped page answers E14 (EFAULT). In real mode, gdb's
/// `$pc` is IP, so write breakpoints as `*($cs*16+IP)` — or use
/// `monitor break CS:IP`, which compares CS and IP themselves. Breakpoints
/// never patch guest memory: the session compares addresses at each
/// instruction boundary, so guest code that checksums or copies itself
/// sees its own bytes.
///
/// Connecting stops the machine (gdb expects a stopped target); `D`
/// detaches, drops gdb's breakpoints and lets the machine run on.
public final class GDBStub: DebugPort {
    let session: DebugSession
    let monitor: Monitor
    let listener: Int32
    public let port: UInt16
    private var client: Int32?
    private var reader = GDBPacketReader()
    /// gdb sent `c` or `s` and waits for a stop reply.
    private var running = false
    private var lastStop: StopReason = .interrupted

    public init(session: DebugSession, monitor: Monitor, host: String, port: UInt16) throws(SocketError) {
        self.session = session
        self.monitor = monitor
        (listener, self.port) = try Socket.listenTCP(host: host, port: port)
        session.add(self)
    }

    deinit {
        if let client { close(client) }
        close(listener)
    }

    var descriptors: [Int32] { client.map { [$0] } ?? [listener] }

    func service(_ readable: Set<Int32>) {
        if client == nil, readable.contains(listener) {
            guard let fd = Socket.accept(listener) else { return }
            client = fd
            reader = GDBPacketReader()
            running = false
            session.pause()
            return
        }
        guard let fd = client, readable.contains(fd) else { return }
        guard let bytes = Socket.receive(fd) else { disconnect(); return }
        for event in reader.feed(bytes) {
            guard client != nil else { return }
            switch event {
            case .corrupt: Socket.send(fd, Array("-".utf8))
            case .interrupt:
                if !session.paused { session.pause(.interrupted) }
            case .packet(let payload):
                Socket.send(fd, Array("+".utf8))
                if let reply = handle(payload) { send(reply) }
            }
        }
    }

    func machineStopped(_ reason: StopReason) {
        lastStop = reason
        guard running else { return }
        running = false
        send(stopReply(reason))
    }

    private func disconnect() {
        if let client { close(client) }
        client = nil
        running = false
        session.breakpoints.removeAll(owner: .gdb)
        session.updateHooks()
        session.resume()
    }

    private func send(_ payload: [UInt8]) {
        guard let fd = client else { return }
        if !Socket.send(fd, GDBPacketReader.frame(payload)) { disconnect() }
    }

    private func stopReply(_ reason: StopReason) -> [UInt8] {
        switch reason {
        case .interrupted: return Array("S02".utf8)
        case .watchpoint(_, let kind, let address):
            let name = kind == .write ? "watch" : kind == .read ? "rwatch" : "awatch"
            return Array("T05\(name):\(String(address, radix: 16));".utf8)
        default: return Array("S05".utf8)
        }
    }

    private static let ok = Array("OK".utf8)
    private static func error(_ code: Int) -> [UInt8] { Array("E\(code < 10 ? "0" : "")\(code)".utf8) }
    /// EINVAL for malformed packets, EFAULT for unmapped memory.
    private static let malformed = error(22)
    private static let fault = error(14)

    /// The reply to one packet; nil when the reply comes later (`c`).
    func handle(_ p: [UInt8]) -> [UInt8]? {
        guard let command = p.first else { return [] }
        let cpu = session.machine.cpu
        let args = p.dropFirst()
        switch command {
        case UInt8(ascii: "?"): return stopReply(lastStop)
        case UInt8(ascii: "g"):
            return hexString((0..<GDBRegisters.all.count).flatMap { GDBRegisters.read(cpu, $0) ?? [] })
        case UInt8(ascii: "G"):
            guard let bytes = bytesFromHex(args) else { return Self.malformed }
            var offset = 0
            var ok = true
            for (n, r) in GDBRegisters.all.enumerated() where offset + r.bytes <= bytes.count {
                ok = GDBRegisters.write(cpu, n, Array(bytes[offset..<offset + r.bytes])) && ok
                offset += r.bytes
            }
            return ok ? Self.ok : Self.malformed
        case UInt8(ascii: "p"):
            guard let n = parseHexNumber(args), n < UInt64(GDBRegisters.all.count), let v = GDBRegisters.read(cpu, Int(n)) else { return Self.malformed }
            return hexString(v)
        case UInt8(ascii: "P"):
            let parts = args.split(separator: UInt8(ascii: "="), maxSplits: 1)
            guard parts.count == 2, let n = parseHexNumber(parts[0]), n < UInt64(GDBRegisters.all.count),
                  let bytes = bytesFromHex(parts[1]), GDBRegisters.write(cpu, Int(n), bytes) else { return Self.malformed }
            return Self.ok
        case UInt8(ascii: "m"):
            guard let (address, length) = addressAndLength(args), length <= 0x8000 else { return Self.malformed }
            guard let bytes = session.view.readLinear(address, count: length) else { return Self.fault }
            return hexString(bytes)
        case UInt8(ascii: "M"), UInt8(ascii: "X"):
            guard let colon = args.firstIndex(of: UInt8(ascii: ":")), let (address, length) = addressAndLength(args[..<colon]) else { return Self.malformed }
            let data = args[(colon + 1)...]
            guard let bytes = command == UInt8(ascii: "M") ? bytesFromHex(data) : Array(data), bytes.count == length else { return Self.malformed }
            return session.view.writeLinear(address, bytes) ? Self.ok : Self.fault
        case UInt8(ascii: "c"), UInt8(ascii: "s"):
            if !args.isEmpty {
                guard let address = parseHexNumber(args) else { return Self.malformed }
                cpu.eip = UInt32(truncatingIfNeeded: address)
            }
            if command == UInt8(ascii: "s") {
                lastStop = session.step(1)
                return stopReply(lastStop)
            }
            running = true
            session.resume()
            return nil
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            return breakpoint(insert: command == UInt8(ascii: "Z"), args)
        case UInt8(ascii: "D"):
            send(Self.ok)
            disconnect()
            return nil
        case UInt8(ascii: "k"):
            disconnect()
            session.quit()
            return nil
        case UInt8(ascii: "H"), UInt8(ascii: "T"): return Self.ok
        case UInt8(ascii: "q"): return query(Array(args))
        default: return []
        }
    }

    private func addressAndLength(_ text: some Collection<UInt8>) -> (UInt32, Int)? {
        let parts = text.split(separator: UInt8(ascii: ","))
        guard parts.count == 2, let a = parseHexNumber(parts[0]), a <= 0xFFFF_FFFF, let n = parseHexNumber(parts[1]), n <= 0x10_0000 else { return nil }
        return (UInt32(a), Int(n))
    }

    /// Z0/Z1 (software and hardware breakpoints are the same here: neither
    /// touches guest memory), Z2/Z3/Z4 write, read and access watchpoints
    /// on linear ranges (`kind` is the length).
    private func breakpoint(insert: Bool, _ args: ArraySlice<UInt8>) -> [UInt8] {
        let parts = args.split(separator: UInt8(ascii: ","))
        guard parts.count >= 3, let type = parseHexNumber(parts[0]), let address = parseHexNumber(parts[1]),
              address <= 0xFFFF_FFFF, let kind = parseHexNumber(parts[2]) else { return Self.malformed }
        let a = UInt32(address)
        let table = session.breakpoints
        switch type {
        case 0, 1:
            if insert { table.addCode(.linear(a), owner: .gdb) } else { _ = table.removeCode(.linear(a), owner: .gdb) }
        case 2, 3, 4:
            guard (1...8).contains(kind) else { return Self.malformed }
            let watch: WatchKind = type == 2 ? .write : type == 3 ? .read : .access
            if insert {
                table.addWatch(watch, physical: false, address: a, length: Int(kind), owner: .gdb, view: session.view)
            } else {
                _ = table.removeWatch(watch, physical: false, address: a, length: Int(kind), owner: .gdb)
            }
        default:
            return []
        }
        session.updateHooks()
        return Self.ok
    }

    private func query(_ q: [UInt8]) -> [UInt8] {
        let text = String(decoding: q, as: UTF8.self)
        if text.hasPrefix("Supported") { return Array("PacketSize=4000;qXfer:features:read+".utf8) }
        if text == "Attached" { return Array("1".utf8) }
        if text == "C" { return Array("QC1".utf8) }
        if text == "fThreadInfo" { return Array("m1".utf8) }
        if text == "sThreadInfo" { return Array("l".utf8) }
        if text.hasPrefix("Xfer:features:read:") {
            let rest = text.dropFirst("Xfer:features:read:".count).split(separator: ":")
            guard rest.count == 2, rest[0] == "target.xml", let (offset, length) = addressAndLength(Array(rest[1].utf8)) else { return Self.malformed }
            let xml = Array(GDBRegisters.targetXML.utf8)
            let start = min(Int(offset), xml.count)
            let end = min(start + length, xml.count)
            return [UInt8(ascii: end == xml.count ? "l" : "m")] + xml[start..<end]
        }
        if text.hasPrefix("Rcmd,") {
            guard let bytes = bytesFromHex(Array(q.dropFirst(5))) else { return Self.malformed }
            let line = String(decoding: bytes, as: UTF8.self)
            for output in monitor.execute(line, runControl: false) {
                send([UInt8(ascii: "O")] + hexString(Array((output + "\n").utf8)))
            }
            return Self.ok
        }
        return []
    }
}
