import Foundation
import XCTest
@testable import Debugger

/// The monitor scripted over its Unix socket against SeaBIOS. References:
/// the reset vector's bytes from the BIOS file, the GDT SeaBIOS loads
/// (flat 32-bit code at 08h, data at 10h — its romlayout.S), and the SDM's
/// CR0.PE semantics.
final class MonitorSocketTests: XCTestCase {
    func testScriptedSession() throws {
        let image = try XCTUnwrap(FileManager.default.contents(atPath: "/usr/share/seabios/bios-256k.bin"))
        let t = try DebugTestMachine()
        t.start()
        defer { t.finish() }
        let m = try XCTUnwrap(MonitorClient(path: t.monitorPath))

        XCTAssertTrue(m.command("help").contains("info pg LINEAR"))
        for bad in ["frobnicate", "info nonsense", "break io zz", "break 12345:1", "x/4q 0", "step -1", "watch", "delete x", "disas 0 0"] {
            let r = m.command(bad)
            XCTAssertFalse(r.isEmpty, bad)
            XCTAssertTrue(r.contains("help") || r.contains("break") || r.contains("x/") || r.contains("step") || r.contains("watch") || r.contains("delete") || r.contains("disas"), "\(bad) -> \(r)")
        }
        // A line too long to be a command is refused, not buffered forever.
        XCTAssertTrue(m.command(String(repeating: "a", count: 5000)).contains("unknown"))

        // Paused at the reset vector: the bytes are the image's last 16.
        let reset = Array(image.suffix(16))
        XCTAssertEqual(m.command("x/4b phys fffffff0"), "fffffff0: " + reset.prefix(4).map { hex($0, 2) }.joined(separator: " ") + "\n")
        XCTAssertTrue(m.command("info registers").contains("eip=0000fff0"))
        XCTAssertTrue(m.command("disas").hasPrefix("f000:fff0  ea"))

        // Step one instruction: the far jump's target.
        let jump = "f000:" + hex(UInt16(reset[1]) | UInt16(reset[2]) << 8, 4)
        XCTAssertTrue(m.command("step").hasPrefix(jump), jump)

        // Break when protected mode goes on, continue, and look around.
        XCTAssertTrue(m.command("break pe").hasPrefix("1: break pe"))
        XCTAssertEqual(m.command("continue"), "")
        let stop = m.read(untilSuffix: MonitorPort.prompt)
        XCTAssertTrue(stop.contains("stopped: event 1: pe (CR0.PE changes): CR0 "), stop)
        XCTAssertTrue(t.machine.cpu.protectedMode)
        XCTAssertTrue(m.command("info registers").contains("cr0=00000011"))
        let stepped = m.command("step 2")
        XCTAssertTrue(stepped.hasPrefix("0008:"), "into flat 32-bit code at selector 08h: \(stepped)")
        let gdt = m.command("info gdt")
        XCTAssertTrue(gdt.contains("0008: 0008 base=00000000 limit=ffffffff attr=c09b dpl=0 code readable 32-bit"), gdt)
        XCTAssertTrue(gdt.contains("0010: 0010 base=00000000 limit=ffffffff attr=c093 dpl=0 data writable 32-bit"), gdt)
        // TR still holds its reset value (selector 0, base 0, a busy 32-bit TSS: SDM 9.1.1).
        XCTAssertTrue(m.command("info tss").hasPrefix("TSS 0000 at 00000000"))

        // A port-range event: SeaBIOS reads the CMOS early.
        XCTAssertTrue(m.command("delete 1").hasPrefix("deleted 1"))
        XCTAssertTrue(m.command("break io 70-71").hasPrefix("2: break io 0070h-0071h"))
        XCTAssertEqual(m.command("continue"), "")
        let io = m.read(untilSuffix: MonitorPort.prompt)
        XCTAssertTrue(io.contains("port 007"), io)
        XCTAssertTrue(m.command("info breakpoints").contains("2: break io"))
        XCTAssertTrue(m.command("delete 2").hasPrefix("deleted 2"))
        XCTAssertTrue(m.command("delete 2").hasPrefix("no breakpoint"))

        // Stop a running machine.
        XCTAssertEqual(m.command("continue"), "")
        usleep(200_000)
        XCTAssertEqual(m.command("stop").trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix("stopped"), true)
        XCTAssertTrue(t.session.paused)
    }

    /// `screendump` writes the screen SeaBIOS left: a PNG that ImageMagick
    /// reads as the 720×400 of VGA text mode 3 (80×25 cells of 9×16).
    func testScreendumpWritesThePictureAsPNG() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/identify") else {
            throw XCTSkip("ImageMagick's identify is not installed (apt-get install imagemagick)")
        }
        let t = try DebugTestMachine()
        t.start()
        defer { t.finish() }
        let m = try XCTUnwrap(MonitorClient(path: t.monitorPath))
        XCTAssertTrue(m.command("break hlt").hasPrefix("1: break hlt"))
        // Run from HLT to HLT (SeaBIOS waits with it) until SeaBIOS gives up
        // booting; the machine is paused whenever its screen is read.
        var text = ""
        for _ in 0..<500 where !text.contains("No bootable device") {
            _ = m.command("continue")
            _ = m.read(untilSuffix: MonitorPort.prompt)
            text = (t.machine.textScreen() ?? []).joined(separator: "\n")
        }
        XCTAssertTrue(text.contains("No bootable device"), "SeaBIOS's screen: \(text)")
        let path = NSTemporaryDirectory() + "novabox-screendump-\(getpid()).png"
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertEqual(m.command("screendump \(path)"), "screen written to \(path)\n")
        let identify = Process()
        identify.executableURL = URL(fileURLWithPath: "/usr/bin/identify")
        identify.arguments = ["-format", "%m %w %h", path]
        let out = Pipe()
        identify.standardOutput = out
        try identify.run()
        identify.waitUntilExit()
        XCTAssertEqual(String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self), "PNG 720 400")
        XCTAssertTrue(m.command("screendump /nonexistent/dir/x.png").hasPrefix("cannot write the screenshot"))
    }

    func testLinearBreakpointIsHitAtTheRightInstruction() throws {
        let t = try DebugTestMachine()
        t.start()
        defer { t.finish() }
        let m = try XCTUnwrap(MonitorClient(path: t.monitorPath))
        // Learn an address 5 instructions ahead by stepping, then restart
        // from a second machine and break there.
        _ = m.command("step 5")
        let state = t.machine.cpu
        let target = UInt32(truncatingIfNeeded: state.segment(.cs).pointee.base) &+ state.eip
        let icount = state.instructionCount
        t.finish()

        let u = try DebugTestMachine()
        u.start()
        defer { u.finish() }
        let n = try XCTUnwrap(MonitorClient(path: u.monitorPath))
        XCTAssertTrue(n.command("break \(hex(target, 8))").hasPrefix("1: break linear"))
        _ = n.command("continue")
        XCTAssertTrue(n.read(untilSuffix: MonitorPort.prompt).contains("stopped: breakpoint 1"))
        XCTAssertEqual(u.machine.cpu.instructionCount, icount)
        // Continue from the breakpoint: it does not fire again on the spot.
        XCTAssertTrue(n.command("step").contains(":"))
        XCTAssertEqual(u.machine.cpu.instructionCount, icount + 1)
    }
}
