import Foundation
import XCTest
@testable import Machine

/// A real guest shell driven through the window, as a user drives it: the
/// tiny-i386 live CD (isolinux, Debian's kernel, busybox) boots in an SDL window on
/// Xvfb, and a command typed into that window through X (xdotool) runs in
/// the shell the guest's /init starts on its first virtual terminal. The
/// shell computes the answer, so it can only appear if every key arrived:
/// on the serial line (the command copies its output there with tee) and
/// on the screen, found in the X capture with the guest's own font and in
/// the text the VGA holds at exit.
final class GuestShellWindowTests: XCTestCase {
    /// What is typed: the guest's shell evaluates 6×7; tee copies the
    /// result to COM1, since the window's shell writes to tty1 only.
    static let command = "echo $((6*7)) | tee /dev/ttyS0"
    /// The prompt /init sets for the tiny-i386 image.
    static let prompt = "tiny-i386:/# "

    func testTypedCommandRunsInTheGuestShell() throws {
        #if DEBUG
        throw XCTSkip("booting Linux needs a release build: run swift test -c release (scripts/test.sh)")
        #endif
        let iso = try GuestImages.path("tiny-i386.iso")
        for tool in ["Xvfb", "xdotool", "import", "convert", "identify"] where !XvfbSession.isInstalled(tool) {
            throw XCTSkip("\(tool) is not installed (apt-get install xvfb xdotool imagemagick)")
        }
        let font = try GuestFont.shared()
        let x = try XvfbSession()
        defer { x.stop() }
        let directory = FileManager.default.temporaryDirectory
        let serial = directory.appendingPathComponent("novabox-shell-\(getpid())-serial.log").path
        let screen = directory.appendingPathComponent("novabox-shell-\(getpid())-screen.txt").path
        let errors = directory.appendingPathComponent("novabox-shell-\(getpid())-stderr.txt").path
        _ = FileManager.default.createFile(atPath: errors, contents: nil)
        defer { for path in [serial, screen, errors] { try? FileManager.default.removeItem(atPath: path) } }
        // The live CD as a user boots it: SeaBIOS, isolinux, Linux. With
        // instruction-count time the guest's waits (isolinux's timeout, the
        // kernel's) pass without host time, so the boot costs its
        // instructions only, however busy the host is.
        let novabox = try NovaboxCommand.start(
            ["-cdrom", iso, "-icount", "2", "-display", "sdl",
             "-serial", "file:" + serial, "-text-screen", screen], environment: x.environment,
            stderr: FileHandle(forWritingAtPath: errors))
        defer { if novabox.isRunning { novabox.terminate() } }
        let window: String
        do {
            window = try x.findWindow(named: "^Novabox", of: novabox)
        } catch {
            // Say why (seen once in CI): novabox's own words, if it stopped.
            let said = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
            throw XCTSkip("\(error); its stderr: \(said.suffix(1000))")
        }
        func serialText() -> String { (try? String(contentsOfFile: serial, encoding: .isoLatin1)) ?? "" }

        XCTAssertTrue(poll(seconds: 1200) { serialText().contains("NOVABOX-MARKER: tiny-i386 up") || !novabox.isRunning },
                      "no marker on COM1:\n\(serialText().suffix(2000))")
        try XCTSkipUnless(novabox.isRunning, "novabox stopped during the boot:\n\(serialText().suffix(2000))")
        // The shell on tty1 prompts in the window.
        var capture: RGBImage?
        XCTAssertTrue(poll(seconds: 60) {
            capture = try? x.capture(window)
            return capture.flatMap { font.find(GuestShellWindowTests.prompt, in: $0) } != nil
        }, "no shell prompt in the window")

        // The kernel's "random: crng init done" comes a few guest seconds
        // after the prompt, on this console too; typed before it, the
        // command is split around it on screen (seen: "ec[ 73.81] random:
        // crng init done" / "ho $((6*7))…"). Type after it (or after two
        // minutes without it: the checks below still tolerate a split).
        _ = poll(seconds: 120) { serialText().contains("crng init done") }
        try x.run("xdotool", ["windowfocus", "--sync", window])
        try x.run("xdotool", ["type", "--delay", "60", GuestShellWindowTests.command])
        try x.run("xdotool", ["key", "Return"])

        let answered = poll(seconds: 300) {
            // Serial lines end in CR LF, one Character to Swift: split at any newline.
            serialText().split(whereSeparator: \.isNewline).contains { $0.trimmingCharacters(in: .whitespaces) == "42" }
        }
        XCTAssertTrue(answered, "no 42 on COM1:\n\(serialText().suffix(1000))")
        // On screen: the command as the shell echoed it, then 42 at the start
        // of a text row below it. The kernel's messages also go to this
        // console (console=tty0) and may land inside the echoed line (seen:
        // "echo [   59.31] random: crng init done" with the rest of the
        // command on the next row, and "tiny-i386:/# [   83.89] random: crng
        // init done" with the whole command on the next), so only `echo $(`,
        // which nothing else prints, is looked for, and the rows below are
        // searched rather than counted.
        let echoed = "echo $("
        var shown = false
        _ = poll(seconds: 30) {
            guard let image = try? x.capture(window), let command = font.find(echoed, in: image) else { return false }
            shown = stride(from: command.y + 16, to: min(command.y + 96, image.height - 15), by: 16).contains { y in
                font.find("42", in: image.rows(y ..< y + 16))?.x == 0
            }
            return shown
        }
        XCTAssertTrue(shown, "the window does not show the command and 42 under it")

        novabox.terminate()   // SIGTERM: a clean stop that writes the text screen
        novabox.waitUntilExit()
        let stderr = (try? String(contentsOfFile: errors, encoding: .isoLatin1)) ?? ""
        XCTAssertEqual(novabox.terminationStatus, 0, "novabox's exit after SIGTERM: \(stderr)")
        let text = (try? String(contentsOfFile: screen, encoding: .utf8)) ?? ""
        let rows = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        let answer = rows.lastIndex(of: "42")
        XCTAssertNotNil(answer, "no 42 in the VGA's text:\n\(text)")
        if let answer {
            XCTAssertTrue(rows[max(0, answer - 3) ..< answer].contains { $0.contains(echoed) }, "the VGA's text:\n\(text)")
            XCTAssertTrue(rows.dropFirst(answer + 1).first?.hasPrefix(GuestShellWindowTests.prompt.trimmingCharacters(in: .whitespaces)) ?? false,
                          "the next prompt; the VGA's text:\n\(text)")
        }
    }
}

extension RGBImage {
    /// The image's rows `range`, as an image of their own.
    func rows(_ range: Range<Int>) -> RGBImage {
        RGBImage(width: width, height: range.count, pixels: Array(pixels[range.lowerBound * width ..< range.upperBound * width]))
    }
}
