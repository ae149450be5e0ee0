import Foundation
import XCTest

/// The `novabox` command as a user meets it: bad input gets one line on
/// stderr and exit code 2, never a stack trace.
final class CommandLineTests: XCTestCase {
    func run(_ args: [String]) throws -> NovaboxCommand.Result { try NovaboxCommand.run(args) }

    func assertOneLineError(_ args: [String], environment: [String: String]? = nil, mentions words: [String],
                            file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try NovaboxCommand.run(args, environment: environment)
        XCTAssertEqual(r.status, 2, "exit status for \(args)", file: file, line: line)
        let lines = r.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "expected one line, got: \(r.stderr)", file: file, line: line)
        for w in words { XCTAssertTrue(r.stderr.contains(w), "'\(w)' missing in: \(r.stderr)", file: file, line: line) }
    }

    func testMissingFirmwareSaysWhatToDo() throws {
        try assertOneLineError(["-bios", "/nonexistent/bios.bin", "-display", "none"], mentions: ["/nonexistent/bios.bin", "-bios"])
    }

    func testFirmwareOfTheWrongSize() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("novabox-bad-bios-\(getpid()).bin").path
        FileManager.default.createFile(atPath: path, contents: Data(repeating: 0, count: 1000))
        defer { try? FileManager.default.removeItem(atPath: path) }
        try assertOneLineError(["-bios", path], mentions: [path, "64 KiB"])
    }

    func testMemorySizeThatIsNotASize() throws {
        try assertOneLineError(["-m", "lots"], mentions: ["-m lots", "128M"])
    }

    func testMemorySizeOutOfRange() throws {
        try assertOneLineError(["-m", "64G"], mentions: ["-m 64G", "out of range"])
        try assertOneLineError(["-m", "1K"], mentions: ["out of range"])
    }

    func testClockBaseThatIsNotADate() throws {
        try assertOneLineError(["-rtc", "base=yesterday"], mentions: ["-rtc base=yesterday", "2006-06-17T16:01:21"])
        try assertOneLineError(["-rtc", "base=2006-13-01"], mentions: ["-rtc base=2006-13-01"])
        try assertOneLineError(["-rtc", "clock=vm"], mentions: ["base=utc"])
    }

    func testUnknownFlag() throws {
        try assertOneLineError(["-frobnicate"], mentions: ["unknown option -frobnicate", "-help"])
    }

    func testUnknownTraceCategory() throws {
        try assertOneLineError(["-d", "int,bogus"], mentions: ["bogus", "cpu_mode"])
    }

    func testWindowWithoutADisplaySuggestsHeadless() throws {
        var environment = ProcessInfo.processInfo.environment
        environment["DISPLAY"] = nil
        environment["WAYLAND_DISPLAY"] = nil
        environment["SDL_VIDEODRIVER"] = nil
        try assertOneLineError(["-display", "sdl"], environment: environment, mentions: ["-display sdl", "-display none", "DISPLAY"])
    }

    func testDisplayOptionsOutOfRange() throws {
        try assertOneLineError(["-display", "gtk"], mentions: ["-display gtk", "sdl", "none"])
        try assertOneLineError(["-scale", "0"], mentions: ["-scale 0", "0.25 to 8"])
        try assertOneLineError(["-scale", "big"], mentions: ["-scale big"])
        try assertOneLineError(["-screenshot"], mentions: ["-screenshot needs a value"])
    }

    func testHelpListsTheFlags() throws {
        let r = try run(["-help"])
        XCTAssertEqual(r.status, 0)
        for flag in ["-m SIZE", "-bios", "-serial", "-debugcon", "-no-reboot", "-icount", "-d CATEGORIES", "-D FILE", "-text-screen",
                     "-display sdl|none", "-scale", "-full-screen", "-screenshot", "Ctrl+Alt+G", "Ctrl+Alt+End"] {
            XCTAssertTrue(r.stdout.contains(flag), "help lacks \(flag)")
        }
    }

    // MARK: - Storage inputs (issue: boot live ISOs)

    func temporaryFile(_ name: String, bytes: Int, mode: Int = 0o644) -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("novabox-\(getpid())-\(name)").path
        FileManager.default.createFile(atPath: path, contents: Data(repeating: 0, count: bytes),
                                       attributes: [.posixPermissions: mode])
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func testMissingCDROM() throws {
        try assertOneLineError(["-cdrom", "/nonexistent/x.iso"], mentions: ["/nonexistent/x.iso", "no such file"])
    }

    func testEmptyCDROM() throws {
        let p = temporaryFile("empty.iso", bytes: 0)
        try assertOneLineError(["-cdrom", p], mentions: [p, "empty"])
    }

    func testCDROMThatIsNotAnISO() throws {
        let p = temporaryFile("zero.iso", bytes: 64 << 10)
        try assertOneLineError(["-cdrom", p], mentions: [p, "ISO 9660"])
    }

    /// A real ISO (xorriso) cut off half-way, as an interrupted download leaves it.
    func testTruncatedCDROM() throws {
        let xorriso = "/usr/bin/xorriso"
        guard FileManager.default.isExecutableFile(atPath: xorriso) else { throw XCTSkip("xorriso is not installed (scripts/setup.sh installs it)") }
        let tree = FileManager.default.temporaryDirectory.appendingPathComponent("novabox-\(getpid())-tree").path
        try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: tree) }
        FileManager.default.createFile(atPath: tree + "/DATA.BIN", contents: Data(repeating: 0x5A, count: 1 << 20))
        let iso = temporaryFile("cut.iso", bytes: 0)
        let master = Process()
        master.executableURL = URL(fileURLWithPath: xorriso)
        master.arguments = ["-as", "mkisofs", "-quiet", "-o", iso, tree]
        master.standardError = FileHandle.nullDevice
        try master.run()
        master.waitUntilExit()
        XCTAssertEqual(master.terminationStatus, 0, "xorriso failed")
        let whole = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: iso)[.size] as? Int)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: iso))
        try handle.truncate(atOffset: UInt64(whole / 2))
        try handle.close()
        try assertOneLineError(["-cdrom", iso], mentions: [iso, "truncated"])
    }

    func testDiskNotAMultipleOf512() throws {
        let p = temporaryFile("odd.img", bytes: 1000)
        try assertOneLineError(["-hda", p], mentions: [p, "512"])
    }

    func testReadOnlyFileAsWritableDisk() throws {
        let p = temporaryFile("ro.img", bytes: 1 << 20, mode: 0o444)
        try assertOneLineError(["-hda", p], mentions: [p, "read-only", "-snapshot"])
    }

    func testTwoDrivesAtOnePosition() throws {
        let p = temporaryFile("a.img", bytes: 1 << 20)
        try assertOneLineError(["-hda", p, "-drive", "file=\(p),index=0"], mentions: ["position 0"])
    }

    func testMalformedDriveAndBootOptions() throws {
        try assertOneLineError(["-drive", "file=x.img,format=qcow2"], mentions: ["format=raw"])
        try assertOneLineError(["-boot", "z"], mentions: ["-boot z"])
    }
}
