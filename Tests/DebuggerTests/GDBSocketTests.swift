import Glibc
import XCTest
@testable import Debugger

/// The stub's byte stream as the GDB manual specifies it (E.1, E.9
/// "Interrupts"): acknowledgements, `-` for a bad checksum, and a 0x03 byte
/// stopping a running target with SIGINT (S02).
final class GDBSocketTests: XCTestCase {
    func connect(_ port: UInt16) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        XCTAssertEqual(ok, 0)
        return fd
    }

    func send(_ fd: Int32, _ s: [UInt8]) { _ = s.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } }

    /// Reads until `marker` shows up (or 10 s pass).
    func receive(_ fd: Int32, until marker: String) -> String {
        var text = ""
        for _ in 0..<50 where !text.contains(marker) {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 200) > 0 else { continue }
            var b = [UInt8](repeating: 0, count: 4096)
            let n = b.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            text += String(decoding: b[0..<n], as: UTF8.self)
        }
        return text
    }

    func testNakInterruptAndDetach() throws {
        let t = try DebugTestMachine()
        t.start()
        defer { t.finish() }
        let fd = connect(t.stub.port)
        defer { close(fd) }
        send(fd, Array("$?#3f".utf8))
        XCTAssertEqual(receive(fd, until: "#"), "+$S02#b5")
        send(fd, Array("$g#00".utf8))
        XCTAssertTrue(receive(fd, until: "-").hasPrefix("-"))
        // Continue, then interrupt the running machine.
        send(fd, Array("$c#63".utf8))
        XCTAssertEqual(receive(fd, until: "+"), "+")
        usleep(200_000)
        XCTAssertFalse(t.session.paused)
        send(fd, [0x03])
        XCTAssertEqual(receive(fd, until: "#b5"), "$S02#b5")
        XCTAssertTrue(t.session.paused)
        let stoppedAt = t.machine.cpu.instructionCount
        XCTAssertGreaterThan(stoppedAt, 0)
        // Detach: OK, and the machine runs on without gdb.
        send(fd, Array("+$D#44".utf8))
        XCTAssertTrue(receive(fd, until: "#9a").hasSuffix("$OK#9a"))
        usleep(200_000)
        XCTAssertFalse(t.session.paused)
        XCTAssertGreaterThan(t.machine.cpu.instructionCount, stoppedAt)
    }
}
