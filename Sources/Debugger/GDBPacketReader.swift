/// Framing of the GDB remote serial protocol: `$payload#cs`, where `cs` is
/// the sum of the payload bytes mod 256 in two hex digits; `+`/`-`
/// acknowledge; a lone 0x03 is an interrupt request (Ctrl-C).
///
/// The reader is fed whatever bytes the socket delivers and yields whole
/// events, so a packet split across reads or several packets in one read
/// are both fine. Payloads longer than `maximumPayload` are dropped as
/// malformed instead of growing without bound.
struct GDBPacketReader {
    enum Event: Equatable {
        case packet([UInt8])
        /// Checksum mismatch or an oversized packet: answer `-`.
        case corrupt
        case interrupt
    }

    static let maximumPayload = 64 * 1024

    private enum Phase { case idle, payload, checksum1, checksum2 }
    private var phase = Phase.idle
    private var payload: [UInt8] = []
    private var sum: UInt8 = 0
    private var overflow = false
    private var given: UInt8 = 0

    mutating func feed(_ bytes: some Sequence<UInt8>) -> [Event] {
        var events: [Event] = []
        for b in bytes {
            switch phase {
            case .idle:
                if b == 0x03 { events.append(.interrupt) }
                else if b == UInt8(ascii: "$") { phase = .payload; payload.removeAll(keepingCapacity: true); sum = 0; overflow = false }
                // '+', '-' and noise between packets are ignored.
            case .payload:
                if b == UInt8(ascii: "#") { phase = .checksum1; continue }
                if b == UInt8(ascii: "$") { payload.removeAll(keepingCapacity: true); sum = 0; overflow = false; continue } // a restart
                sum &+= b
                if payload.count < GDBPacketReader.maximumPayload { payload.append(b) } else { overflow = true }
            case .checksum1:
                guard let v = hexValue(b) else { phase = .idle; events.append(.corrupt); continue }
                given = v << 4; phase = .checksum2
            case .checksum2:
                phase = .idle
                guard let v = hexValue(b), given | v == sum, !overflow else { events.append(.corrupt); continue }
                events.append(.packet(GDBPacketReader.unescape(payload)))
            }
        }
        return events
    }

    /// `}` escapes the next byte XOR 0x20 (binary data in `X` packets and replies).
    static func unescape(_ p: [UInt8]) -> [UInt8] {
        guard p.contains(0x7D) else { return p }
        var out: [UInt8] = []
        var escape = false
        for b in p {
            if escape { out.append(b ^ 0x20); escape = false } else if b == 0x7D { escape = true } else { out.append(b) }
        }
        return out
    }

    /// A reply framed with its checksum; `#`, `$`, `}` and `*` are escaped.
    static func frame(_ payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "$")]
        var sum: UInt8 = 0
        for b in payload {
            if b == 0x23 || b == 0x24 || b == 0x7D || b == 0x2A {
                out.append(0x7D); out.append(b ^ 0x20); sum &+= 0x7D &+ (b ^ 0x20)
            } else {
                out.append(b); sum &+= b
            }
        }
        out.append(UInt8(ascii: "#"))
        out.append(hexDigits[Int(sum >> 4)]); out.append(hexDigits[Int(sum & 15)])
        return out
    }
}

let hexDigits = Array("0123456789abcdef".utf8)

func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case 0x30...0x39: return c - 0x30
    case 0x61...0x66: return c - 0x61 + 10
    case 0x41...0x46: return c - 0x41 + 10
    default: return nil
    }
}

/// Bytes as lowercase hex, the protocol's encoding for memory and registers.
func hexString(_ bytes: some Sequence<UInt8>) -> [UInt8] {
    var out: [UInt8] = []
    for b in bytes { out.append(hexDigits[Int(b >> 4)]); out.append(hexDigits[Int(b & 15)]) }
    return out
}

/// Hex text to bytes; nil on an odd length or a non-hex digit.
func bytesFromHex(_ text: some Collection<UInt8>) -> [UInt8]? {
    guard text.count % 2 == 0 else { return nil }
    var out: [UInt8] = []
    out.reserveCapacity(text.count / 2)
    var it = text.makeIterator()
    while let h = it.next(), let l = it.next() {
        guard let a = hexValue(h), let b = hexValue(l) else { return nil }
        out.append(a << 4 | b)
    }
    return out
}

/// A hex number of at most 16 digits; nil when empty, too long or not hex.
func parseHexNumber(_ text: some Collection<UInt8>) -> UInt64? {
    guard !text.isEmpty, text.count <= 16 else { return nil }
    var v: UInt64 = 0
    for c in text {
        guard let d = hexValue(c) else { return nil }
        v = v << 4 | UInt64(d)
    }
    return v
}
