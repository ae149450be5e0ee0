import Glibc

/// `-perfmap`: names each translated block for Linux `perf`, in the
/// file `perf` reads for code that no binary on disk holds,
/// `/tmp/perf-<pid>.map`. One line per translation: the host address,
/// the length and the guest code it came from. `perf report` then shows
/// guest code where it would show raw addresses. QEMU's `-perfmap` writes
/// the same format. After a cache flush the addresses are reused and
/// later lines overlap earlier ones.
public final class PerfMap {
    public let path: String
    private let file: UnsafeMutablePointer<FILE>

    /// Opens (truncating) the map of this process.
    public init(directory: String = "/tmp") throws(PerfMapError) {
        path = "\(directory)/perf-\(getpid()).map"
        guard let file = fopen(path, "w") else {
            throw PerfMapError(message: "-perfmap: cannot write \(path): \(String(cString: strerror(errno)))")
        }
        self.file = file
    }

    deinit { fclose(file) }

    /// The block at `code` (`size` bytes) translates the guest code at
    /// `csBase:eip` (`instructions` of them).
    func record(code: UnsafeRawPointer, size: Int, csBase: UInt32, eip: UInt32, instructions: Int) {
        let linear = csBase &+ eip
        let name = csBase == 0 ? "guest_\(hex(linear))" : "guest_\(hex(linear))_cs\(hex(csBase))"
        fputs("\(hex(UInt(bitPattern: code))) \(hex(size)) \(name)[\(instructions)]\n", file)
    }

    private func hex<T: BinaryInteger>(_ v: T) -> String { String(v, radix: 16) }
}

public struct PerfMapError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
