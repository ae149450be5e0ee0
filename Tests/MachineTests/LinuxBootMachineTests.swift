import Foundation
import XCTest
@testable import Machine

/// Whole-machine direct Linux boot: Debian's SeaBIOS runs our loader ROM,
/// which starts Debian's i386 kernel. What is checked comes from that real
/// software — SeaBIOS's debug log, the kernel's real-mode setup on the
/// screen, the kernel's own messages on COM1 — and from the boot protocol
/// (where the setup must jump).
final class LinuxBootMachineTests: XCTestCase {
    struct Run {
        let machine: Machine
        let serialLog: String
        let debugLog: String
        func serial() -> String { (try? String(contentsOfFile: serialLog, encoding: .isoLatin1)) ?? "" }
        func debug() -> String { (try? String(contentsOfFile: debugLog, encoding: .isoLatin1)) ?? "" }
        /// Where the CPU is, for a failure message the CPU owner can act on.
        var position: String {
            let cpu = machine.cpu
            return "CPU at \(String(cpu.segment(.cs).pointee.selector, radix: 16)):\(String(cpu.eip, radix: 16)), cr0 \(String(cpu.state.pointee.cr0, radix: 16)), \(cpu.instructionCount) instructions"
        }
    }

    func boot(commandLine: String, initrd: Bool) throws -> Run {
        #if DEBUG
        throw XCTSkip("whole-machine boots need a release build: run swift test -c release (scripts/test.sh)")
        #endif
        guard FileManager.default.fileExists(atPath: MachineConfiguration.defaultBIOS) else {
            throw XCTSkip("SeaBIOS is not installed (apt-get install seabios)")
        }
        var config = MachineConfiguration()
        config.kernelPath = try LinuxBootFixtures.kernelPath()
        if initrd {
            config.initrdPath = try LinuxBootFixtures.fixture(env: "NOVABOX_TEST_INITRD", cached: "tiny-i386.initrd",
                                                              what: "the test images' initrd")
        }
        config.kernelCommandLine = commandLine
        let tmp = FileManager.default.temporaryDirectory
        let serial = tmp.appendingPathComponent("novabox-linux-serial-\(getpid())-\(name.hashValue).log").path
        let debug = tmp.appendingPathComponent("novabox-linux-debug-\(getpid())-\(name.hashValue).log").path
        addTeardownBlock {
            try? FileManager.default.removeItem(atPath: serial)
            try? FileManager.default.removeItem(atPath: debug)
        }
        config.serial = .file(serial)
        config.debugConsole = .file(debug)
        config.instructionCountShift = 2   // deterministic: 4 ns per instruction
        config.noReboot = true
        return Run(machine: try Machine(config), serialLog: serial, debugLog: debug)
    }

    /// Runs in slices of guest time until `done` or `limit` seconds.
    func run(_ r: Run, upTo limit: Double, slice: Double = 0.5, until done: () -> Bool) -> Machine.ExitReason {
        var t = 0.0
        var reason = Machine.ExitReason.timeLimit
        while t < limit && reason == .timeLimit && !done() {
            t += slice
            reason = r.machine.run(until: t)
        }
        return reason
    }

    /// SeaBIOS boots the ROM; the ROM enters the setup at 1020:0000; the
    /// setup (using the BIOS: it prints "Probing EDD") switches to
    /// protected mode and jumps to code32_start, the kernel at 1 MiB.
    func testSetupRunsAndJumpsToTheProtectedModeKernel() throws {
        let r = try boot(commandLine: "console=ttyS0,115200", initrd: false)
        let cpu = r.machine.cpu
        var setupEntered = false
        var firstHighFetch: UInt32?
        cpu.onInstruction = { eip, _ in
            // Only the segment and offset are checked per instruction; this
            // run is short.
            let cs = cpu.segment(.cs).pointee
            if cs.selector == 0x1020 && eip == 0 { setupEntered = true }
            if setupEntered && firstHighFetch == nil && cs.base + UInt64(eip) >= 0x10_0000 {
                firstHighFetch = UInt32(cs.base + UInt64(eip))
            }
        }
        let reason = run(r, upTo: 3, slice: 0.1) { firstHighFetch != nil }
        cpu.onInstruction = nil
        let debug = r.debug()
        XCTAssertTrue(debug.contains("Booting from ROM"), "SeaBIOS did not boot the loader ROM:\n\(debug.suffix(2000))")
        XCTAssertTrue(setupEntered, "the ROM never reached the setup entry 1020:0000; \(r.position)")
        XCTAssertEqual(reason, .timeLimit, "the guest reset")
        XCTAssertEqual(firstHighFetch, 0x10_0000, "the setup must jump to code32_start; \(r.position)")
        XCTAssertTrue(cpu.protectedMode)
        let screen = (r.machine.textScreen() ?? []).joined(separator: "\n")
        XCTAssertTrue(screen.contains("Probing EDD"), "no real-mode setup output on the screen:\n\(screen)")
    }

    /// The kernel unpacks itself (about 2.3 G instructions of XZ) and
    /// starts: its first messages on COM1 show the command line and the
    /// initrd as the loader passed them.
    func testKernelStartsWithTheCommandLineAndInitrd() throws {
        let commandLine = "console=ttyS0,115200 earlyprintk=serial,ttyS0,115200"
        let r = try boot(commandLine: commandLine, initrd: true)
        _ = run(r, upTo: 20) { r.serial().contains("RAMDISK:") }
        let serial = r.serial()
        XCTAssertTrue(serial.contains("Linux version 6."), "no kernel banner on COM1; \(r.position):\n\(serial.suffix(2000))")
        XCTAssertTrue(serial.contains("Kernel command line: \(commandLine)"), serial.suffix(3000).description)
        // The kernel reports the initrd where the loader put it.
        let boot = try XCTUnwrap(LinuxBoot.load(r.machine.configuration))
        let first = String(boot.initrdAddress, radix: 16)
        let last = String(boot.initrdAddress + UInt32((boot.initrd.count + 4095) & ~4095) - 1, radix: 16)
        let zeros = { (s: String) in String(repeating: "0", count: 8 - s.count) + s }   // the kernel's %#010llx
        XCTAssertTrue(serial.contains("RAMDISK: [mem 0x\(zeros(first))-0x\(zeros(last))]"),
                      "initrd not where the loader put it (\(first)–\(last)):\n\(serial.suffix(3000))")
    }

    /// All the way to the initramfs's /init printing its marker: about
    /// 35 s of guest time, some 10 s of host time on the recompiler (it
    /// was minutes on the interpreter, and ran only when asked for).
    func testInitramfsReachesItsMarker() throws {
        let r = try boot(commandLine: "console=ttyS0,115200", initrd: true)
        _ = run(r, upTo: 120, slice: 1) { r.serial().contains("NOVABOX-MARKER:") }
        let serial = r.serial()
        XCTAssertTrue(serial.contains("Run /init as init process"), "\(r.position):\n\(serial.suffix(3000))")
        XCTAssertTrue(serial.contains("NOVABOX-MARKER: tiny-i386 up"), "\(r.position):\n\(serial.suffix(3000))")
    }
}
