import Foundation
import XCTest

/// Debian's gdb in batch mode against a stub, for the tests that hold the
/// stub to what a real gdb understands.
enum GDBBatch {
    static let gdb = "/usr/bin/gdb"

    static func skipUnlessInstalled() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: gdb), "Debian's gdb is not installed")
    }

    /// Runs gdb with `commands` against the stub on `port`, in real mode
    /// unless `architecture` says otherwise; its stdout and stderr. gdb is
    /// killed after `seconds`, so a stop that never comes (a missed
    /// watchpoint) fails the test instead of hanging it.
    static func run(port: UInt16, architecture: String = "i8086", seconds: Double = 60, _ commands: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: gdb)
        p.arguments = ["-nx", "-batch", "-ex", "set confirm off", "-ex", "set architecture \(architecture)", "-ex", "target remote 127.0.0.1:\(port)"]
            + commands.flatMap { ["-ex", $0] }
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { if p.isRunning { p.terminate() } }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// gdb's `info registers NAME` value column as a number.
    static func register(_ name: String, in output: Substring) -> UInt64? {
        for line in output.split(separator: "\n") {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            if f.count >= 2, f[0] == name, f[1].hasPrefix("0x") { return UInt64(f[1].dropFirst(2), radix: 16) }
        }
        return nil
    }

    /// The output split at `echo ==NAME\n` markers: the part after NAME.
    static func section(_ name: String, of output: String) -> Substring {
        Substring(output.components(separatedBy: "==").first { $0.hasPrefix(name + "\n") } ?? "")
    }
}
