import Foundation
import XCTest

/// The `novabox` binary built next to the test bundle, run as a user runs it.
enum NovaboxCommand {
    struct Result { let status: Int32; let stdout: String; let stderr: String }

    static var path: String {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for dir in [bundle, bundle.deletingLastPathComponent()] {
            let candidate = dir.appendingPathComponent("novabox").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return bundle.appendingPathComponent("novabox").path
    }

    /// A started `novabox` with its output going to `stdout` and `stderr`
    /// (and its input from `stdin`, when given); `environment` replaces the
    /// test's own when given.
    static func start(_ args: [String], environment: [String: String]? = nil,
                      stdout: Any? = nil, stderr: Any? = nil, stdin: Any? = nil) throws -> Process {
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw XCTSkip("the novabox binary is not built next to the tests (\(path)); run swift build first")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        if let environment { p.environment = environment }
        p.standardOutput = stdout
        p.standardError = stderr
        if let stdin { p.standardInput = stdin }
        try p.run()
        return p
    }

    /// Runs `novabox` to the end.
    static func run(_ args: [String], environment: [String: String]? = nil) throws -> Result {
        let out = Pipe(), err = Pipe()
        let p = try start(args, environment: environment, stdout: out, stderr: err)
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                      stderr: String(decoding: e, as: UTF8.self))
    }
}
