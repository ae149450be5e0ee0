/// The monitor's line editing on a terminal: the terminal is put in
/// non-canonical mode so Tab reaches the monitor, which then has to do what
/// the terminal's own line discipline did (echo, backspace, Ctrl-U) and adds
/// completion. Kept apart from the terminal itself so it can be tested
/// byte by byte.
struct LineEditor {
    private(set) var line = ""

    /// What one input byte does: bytes to echo, and a finished line on Enter.
    mutating func feed(_ byte: UInt8) -> (echo: [UInt8], entered: String?) {
        switch byte {
        case 0x0D, 0x0A:
            defer { line = "" }
            return (Array("\n".utf8), line)
        case 0x7F, 0x08:
            guard !line.isEmpty else { return ([], nil) }
            line.removeLast()
            return (Array("\u{8} \u{8}".utf8), nil)
        case 0x15: // Ctrl-U: erase the line
            let erase = Array(String(repeating: "\u{8} \u{8}", count: line.count).utf8)
            line = ""
            return (erase, nil)
        case 0x09:
            let (completed, candidates) = Monitor.complete(line)
            if completed != line {
                let added = String(completed.dropFirst(line.count))
                line = completed
                return (Array(added.utf8), nil)
            }
            // Nothing to add: list what fits, then the line again.
            guard candidates.count > 1 else { return ([], nil) }
            return (Array(("\n" + candidates.joined(separator: "  ") + "\n" + MonitorPort.prompt + line).utf8), nil)
        case 0x20...0x7E:
            guard line.utf8.count < 4096 else { return ([], nil) }
            line.append(Character(Unicode.Scalar(byte)))
            return ([byte], nil)
        default:
            return ([], nil)
        }
    }
}
