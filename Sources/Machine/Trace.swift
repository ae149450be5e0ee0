import Glibc

/// The bring-up trace (`-d`, `-D`): one line per event, to stderr or a
/// file, stopping (with a note) after `lineLimit` lines so that a long run
/// cannot fill the disk.
public final class TraceLog {
    private let file: UnsafeMutablePointer<FILE>
    private let ownsFile: Bool
    private var lines = 0
    private let limit: Int

    public init(path: String?, lineLimit: Int) throws(MachineError) {
        if let path {
            guard let f = fopen(path, "w") else {
                throw MachineError("cannot write the trace file \(path): \(String(cString: strerror(errno)))")
            }
            file = f; ownsFile = true
        } else {
            file = stderr; ownsFile = false
        }
        limit = lineLimit
    }

    deinit {
        fflush(file)
        if ownsFile { fclose(file) }
    }

    public func log(_ line: @autoclosure () -> String) {
        guard lines < limit else { return }
        lines += 1
        if lines == limit {
            fputs("trace: line limit (\(limit)) reached; further events are not written\n", file)
            return
        }
        fputs(line() + "\n", file)
    }

    public func flush() { fflush(file) }
}

/// A problem with the machine's inputs: one line for the user.
public struct MachineError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}
