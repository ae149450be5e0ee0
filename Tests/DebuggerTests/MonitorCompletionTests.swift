import XCTest
@testable import Debugger

/// Tab completion and the terminal line editor. What completion offers is
/// held to what the monitor itself accepts: every completed command runs
/// without an "unknown command" reply, and every verb and `info` topic the
/// help lists can be completed.
final class MonitorCompletionTests: XCTestCase {
    func testUniqueWordsCompleteAndAmbiguousOnesList() {
        XCTAssertEqual(Monitor.complete("ne").line, "next ")
        XCTAssertEqual(Monitor.complete("info x").line, "info x87 ")
        XCTAssertEqual(Monitor.complete("info p").line, "info p")
        XCTAssertEqual(Monitor.complete("info p").candidates, ["pg", "pic", "pit"])
        XCTAssertEqual(Monitor.complete("info pi").candidates, ["pic", "pit"])
        XCTAssertEqual(Monitor.complete("s").candidates, ["step", "stop", "screendump"])
        XCTAssertEqual(Monitor.complete("st").line, "st")
        XCTAssertEqual(Monitor.complete("x").line, "x/")
        XCTAssertEqual(Monitor.complete("break 7c00 ").line, "break 7c00 if ")
        XCTAssertEqual(Monitor.complete("break 7c00 if ea").line, "break 7c00 if eax ")
        XCTAssertEqual(Monitor.complete("break 7c00 if eax==1 ").line, "break 7c00 if eax==1 && ")
        XCTAssertEqual(Monitor.complete("watch r ").line, "watch r phys ")
        XCTAssertEqual(Monitor.complete("frobnicate ").candidates, [])
    }

    func testCompletionsAreCommandsTheMonitorAccepts() throws {
        let t = try DebugTestMachine()
        let help = Monitor.help.joined(separator: "\n")
        for topic in Monitor.infoTopics {
            let line = Monitor.complete("info " + topic).line
            XCTAssertEqual(line, "info \(topic) ")
            XCTAssertTrue(help.contains(topic), "help lists info \(topic)")
            let reply = t.monitor.execute(line + (topic == "pg" ? "0" : ""), runControl: false)
            XCTAssertFalse(reply.contains(Monitor.unknown) || reply.first == Monitor.infoUsage, "\(line) -> \(reply)")
        }
        for verb in Monitor.verbs {
            XCTAssertTrue(help.contains(verb), "help lists \(verb)")
            XCTAssertNotEqual(t.monitor.execute(verb, runControl: false), [Monitor.unknown], verb)
        }
    }

    func testLineEditorEchoesErasesAndCompletes() {
        var e = LineEditor()
        var echoed: [UInt8] = []
        var entered: [String] = []
        for b in Array("inf\tr\u{7F}x\t\r".utf8) {
            let (echo, line) = e.feed(b)
            echoed += echo
            if let line { entered.append(line) }
        }
        XCTAssertEqual(entered, ["info x87 "])
        XCTAssertEqual(String(decoding: echoed, as: UTF8.self), "info r\u{8} \u{8}x87 \n")
        // An ambiguous Tab lists the candidates and redraws the line.
        for b in Array("info p".utf8) { _ = e.feed(b) }
        XCTAssertEqual(String(decoding: e.feed(9).echo, as: UTF8.self), "\npg  pic  pit\n" + MonitorPort.prompt + "info p")
        // Ctrl-U erases the line.
        XCTAssertEqual(e.feed(0x15).echo.count, 3 * "info p".count)
        XCTAssertEqual(e.line, "")
    }
}
