import Foundation
import XCTest
import CPU
@testable import Debugger

/// Debian's gdb, in batch mode, against SeaBIOS from the reset vector.
/// The reference values come from outside the debugger: the reset state
/// the SDM defines (F000:FFF0) and the far jump in the BIOS image's last
/// 16 bytes, read from the file itself.
final class GDBSeaBIOSTests: XCTestCase {
    static let bios = "/usr/share/seabios/bios-256k.bin"

    func register(_ name: String, in output: Substring) -> UInt64? { GDBBatch.register(name, in: output) }

    func testAttachStepBreakIn32BitCodeAndDetach() throws {
        try GDBBatch.skipUnlessInstalled()
        let image = try XCTUnwrap(FileManager.default.contents(atPath: GDBSeaBIOSTests.bios))
        // The reset vector holds a far jump: EA, offset, segment.
        let reset = Array(image.suffix(16))
        XCTAssertEqual(reset[0], 0xEA)
        let jumpIP = UInt64(reset[1]) | UInt64(reset[2]) << 8
        let jumpCS = UInt64(reset[3]) | UInt64(reset[4]) << 8

        let t = try DebugTestMachine()
        t.start()
        defer { t.finish() }
        let out = try GDBBatch.run(port: t.stub.port, [
            "echo ==reset\\n", "info registers eip cs eflags edx",
            "x/5xb 0xffff0",
            "stepi", "echo ==step1\\n", "info registers eip cs",
            "stepi", "stepi", "echo ==step3\\n", "info registers eax ecx edx ebx esp eip eflags cs ss ds",
            "monitor info registers",
            // Run to the switch into protected mode, through the far jump
            // into 32-bit code, and learn where SeaBIOS goes next (JMP EDX).
            "monitor break pe", "continue", "stepi", "set architecture i386",
            "echo ==pm\\n", "info registers eip cs edx cr0",
            "break *$edx", "continue",
            "echo ==bp32\\n", "info registers eip cs esp",
            "x/8xb $eip", "x/4xw $esp", "monitor x/4d 7000",
            // Drop gdb's breakpoint and the monitor's `break pe` (SeaBIOS
            // switches modes again and again) so the machine runs on.
            "delete", "monitor delete 1", "detach",
        ])
        let sections = out.components(separatedBy: "==")
        func section(_ name: String) -> Substring {
            Substring(sections.first { $0.hasPrefix(name) } ?? "")
        }
        // Attached at the reset vector (SDM vol. 3, 9.1.1).
        let r = section("reset")
        XCTAssertEqual(register("eip", in: r), 0xFFF0, out)
        XCTAssertEqual(register("cs", in: r), 0xF000)
        XCTAssertEqual(register("eflags", in: r), 0x2)
        XCTAssertEqual(register("edx", in: r), UInt64(CPUIDTable.signature))
        XCTAssertTrue(r.contains(String(format: "0xea\t0x%02x\t0x%02x\t0x%02x\t0x%02x", reset[1], reset[2], reset[3], reset[4])), String(r))
        // One step takes the far jump.
        let s1 = section("step1")
        XCTAssertEqual(register("eip", in: s1), jumpIP, out)
        XCTAssertEqual(register("cs", in: s1), jumpCS)
        // gdb's g packet and the monitor's own view agree.
        let s3 = section("step3")
        for name in ["eax", "ecx", "edx", "ebx", "esp", "eip", "eflags"] {
            let value = try XCTUnwrap(register(name, in: s3), name)
            XCTAssertTrue(s3.contains("\(name)=\(hex(value, 8))"), "\(name) \(String(value, radix: 16)) vs monitor: \(s3)")
        }
        // The far jump into 32-bit code: CS is a flat 32-bit selector.
        let pm = section("pm")
        XCTAssertEqual((register("cr0", in: pm) ?? 0) & 1, 1, out)
        let target = try XCTUnwrap(register("edx", in: pm), out)
        // The breakpoint in 32-bit code is hit, at the address JMP EDX goes to.
        let bp = section("bp32")
        XCTAssertTrue(out.contains("Breakpoint 1, 0x\(hex(target, 8))"), out)
        XCTAssertEqual(register("eip", in: bp), target)
        XCTAssertEqual(register("cs", in: pm), register("cs", in: bp))
        // The code there is the BIOS image's (below 1 MiB the top 128 KiB
        // of the image is still mapped read-only this early).
        let codeLine = try XCTUnwrap(bp.split(separator: "\n").first { $0.hasPrefix("0x\(String(target, radix: 16)):") }, out)
        let code = codeLine.split(separator: "\t").dropFirst().map { UInt8($0.dropFirst(2), radix: 16) ?? 0 }
        let offset = image.count - (0x10_0000 - Int(target))
        XCTAssertEqual(code, Array(image[offset..<offset + 8]), out)
        // Memory through gdb equals memory through the monitor.
        let words = bp.split(separator: "\n").first { $0.hasPrefix("0x7000:") }.map { $0.split(separator: "\t").dropFirst().map { UInt32($0.dropFirst(2), radix: 16) ?? 0 } } ?? []
        XCTAssertEqual(words.count, 4, out)
        XCTAssertEqual(register("esp", in: bp), 0x7000)
        XCTAssertTrue(bp.contains("00007000: " + words.map { hex($0, 8) }.joined(separator: " ")), out)
        XCTAssertTrue(out.contains("deleted 1"), out)
        XCTAssertTrue(out.contains("detached"), out)
        // Detached: the machine runs on.
        let before = t.machine.cpu.instructionCount
        usleep(300_000)
        XCTAssertFalse(t.session.paused)
        XCTAssertGreaterThan(t.machine.cpu.instructionCount, before)
    }
}
