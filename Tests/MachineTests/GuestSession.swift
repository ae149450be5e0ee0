import Foundation
import XCTest

/// A Linux test guest (scripts/images.sh) running in a `novabox` process,
/// driven the way a person at its serial console drives it: wait for a line,
/// type a command, read what it printed, shut the guest down.
///
/// It runs the real command, as a user would: `-serial stdio` carries the
/// console, `-no-reboot` turns the guest's `reboot -f` into a clean exit of
/// novabox (disks flushed, the VGA text screen written), and `-icount`
/// gives deterministic guest time, so the guest's own timeouts do not
/// depend on how busy the host is (except where KVM may run the guest,
/// which keeps host time). Every wait is bounded in wall time; a
/// wait that runs out throws an error carrying the tail of the serial log,
/// which is what someone debugging the boot needs first.
final class GuestSession {
    /// The serial console so far, from a reader thread.
    private final class Transcript: @unchecked Sendable {
        private let lock = NSLock()
        private var bytes = Data()
        func append(_ data: Data) { lock.lock(); bytes.append(data); lock.unlock() }
        var text: String { lock.lock(); defer { lock.unlock() }; return String(decoding: bytes, as: UTF8.self) }
    }

    struct Timeout: Error, CustomStringConvertible {
        let description: String
    }

    /// Guest seconds after which novabox ends the run by itself, should
    /// every wall-clock bound here be missed.
    static let guestTimeLimit = 1800

    let name: String
    let textScreenPath: String
    private let process: Process
    private let input: FileHandle
    private let serial = Transcript()
    private let errors = Transcript()
    /// What novabox said on stderr so far.
    var messages: String { errors.text }
    private var commandCount = 0
    private let started = Date()

    /// Starts `novabox` with `arguments` plus the headless console options
    /// above; `hostTime` leaves out -icount (for KVM).
    init(name: String, arguments: [String], hostTime: Bool = false) throws {
        self.name = name
        textScreenPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("novabox-\(name)-\(getpid()).screen").path
        let options = ["-display", "none", "-serial", "stdio"] + (hostTime ? [] : ["-icount", "2"]) + ["-no-reboot",
                       "-timeout", "\(GuestSession.guestTimeLimit)", "-text-screen", textScreenPath]
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process = try NovaboxCommand.start(options + arguments, stdout: stdout, stderr: stderr, stdin: stdin)
        input = stdin.fileHandleForWriting
        for (pipe, transcript) in [(stdout, serial), (stderr, errors)] {
            let handle = pipe.fileHandleForReading
            Thread.detachNewThread {
                while true {
                    let data = handle.availableData
                    if data.isEmpty { return }
                    transcript.append(data)
                }
            }
        }
    }

    deinit {
        if process.isRunning { process.terminate(); process.waitUntilExit() }
        try? FileManager.default.removeItem(atPath: textScreenPath)
    }

    /// Everything the guest wrote to its serial console, carriage returns removed.
    var console: String { serial.text.replacingOccurrences(of: "\r", with: "") }

    /// The end of the serial log and novabox's stderr, for failure messages.
    var tail: String {
        let err = errors.text
        return "--- last serial output of \(name) (\(Int(Date().timeIntervalSince(started))) s):\n"
            + String(console.suffix(3000)) + (err.isEmpty ? "" : "\n--- novabox stderr:\n\(err.suffix(1000))")
    }

    /// Waits until the console holds `text` somewhere after `offset` characters.
    func wait(for text: String, after offset: Int = 0, within seconds: Double) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let output = console
            if output.count > offset, output.dropFirst(offset).contains(text) { return }
            guard process.isRunning else {
                throw Timeout(description: "novabox ended (status \(process.terminationStatus)) before '\(text)'\n\(tail)")
            }
            guard Date() < deadline else {
                throw Timeout(description: "no '\(text)' within \(Int(seconds)) s\n\(tail)")
            }
            usleep(200_000)
        }
    }

    /// Types `command` at the shell and returns what it printed, without the
    /// echo of the typed line. The command is framed by two `echo`s of an
    /// arithmetic expansion: the typed line shows `$((n))`, only the shell's
    /// output shows the number, so the frame cannot be confused with the echo.
    func run(_ command: String, within seconds: Double = 300) throws -> String {
        commandCount += 1
        let begin = "@@\(commandCount)@@", end = "@@/\(commandCount)@@"
        let offset = console.count
        let line = "echo @@$((\(commandCount)))@@; \(command); echo @@/$((\(commandCount)))@@\n"
        try type(line)
        try wait(for: end + "\n", after: offset, within: seconds)
        let output = String(console.dropFirst(offset))
        guard let from = output.range(of: begin + "\n"), let to = output.range(of: end + "\n", range: from.upperBound..<output.endIndex) else {
            throw Timeout(description: "the output of '\(command)' is not framed as expected\n\(tail)")
        }
        return String(output[from.upperBound..<to.lowerBound])
    }

    /// Sends bytes to the serial port, as keystrokes.
    func type(_ text: String) throws {
        try input.write(contentsOf: Data(text.utf8))
    }

    /// Shuts the guest down with `reboot -f` (busybox syncs first; the
    /// kernel then resets the PC, which -no-reboot makes the end of the run)
    /// and returns novabox's exit status.
    func reboot(within seconds: Double = 300) throws -> Int32 {
        try type("reboot -f\n")
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning {
            guard Date() < deadline else {
                throw Timeout(description: "novabox still runs \(Int(seconds)) s after 'reboot -f'\n\(tail)")
            }
            usleep(200_000)
        }
        return process.terminationStatus
    }

    /// The VGA text screen novabox wrote when the run ended.
    func textScreen() -> String { (try? String(contentsOfFile: textScreenPath, encoding: .utf8)) ?? "" }
}

/// The test guests that scripts/images.sh builds, and what its manifest
/// says about them.
enum GuestImages {
    /// `$NOVABOX_IMAGES`, else `~/.cache/novabox/images`: where the script writes.
    static var directory: String {
        if let dir = ProcessInfo.processInfo.environment["NOVABOX_IMAGES"], !dir.isEmpty { return dir }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/novabox/images").path
    }

    /// The path of `file` among the images, or a skip saying how to build it.
    static func path(_ file: String) throws -> String {
        let path = (directory as NSString).appendingPathComponent(file)
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("no \(path): build the test guests with scripts/images.sh")
        }
        return path
    }

    /// A whole-guest test needs the release build (the guest runs for
    /// minutes even there) and the image.
    static func requireReleaseBuild() throws {
        #if DEBUG
        throw XCTSkip("whole-guest boots need a release build: run swift test -c release (scripts/test.sh)")
        #endif
    }

    /// The sha256 of /novabox/check.bin on `image`'s ISO, as the image
    /// script recorded it (`on-iso:` in the image's manifest entry).
    static func checkFileSHA256(_ image: String) throws -> String {
        let manifest = try String(contentsOfFile: path("\(image).manifest"), encoding: .utf8)
        for line in manifest.split(separator: "\n") where line.hasPrefix("on-iso: ") && line.hasSuffix("novabox/check.bin") {
            return String(line.dropFirst("on-iso: ".count).prefix(64))
        }
        throw XCTSkip("\(image).manifest has no on-iso: line (built by an older script): run scripts/images.sh again")
    }

    /// The kernel command line the image uses on both boot paths.
    static func commandLine(_ image: String) throws -> String {
        try String(contentsOfFile: path("\(image).cmdline"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
