import Foundation
import XCTest
import CPU
@testable import Debugger
import Machine

/// The bring-up scenario on a real kernel: Debian's i386 kernel of the
/// tiny-i386 image, booted directly (`-kernel`, `-initrd`, its command
/// line plus `nokaslr`) twice. The first boot runs to the shell, where
/// `/proc/kallsyms` (read as root, so the addresses are real) gives
/// `start_kernel`'s address: Debian ships only a stub System.map. The
/// second boot, with the same command line, is stopped by `break pg` where
/// the start-up code (arch/x86/kernel/head_32.S) turns paging on; the page
/// walk of `start_kernel` resolves there, and a breakpoint on it is hit.
///
/// References from outside the debugger: the guest's own symbol table,
/// the bzImage header's
/// `pref_address` (boot protocol 2.10+, offset 258h) is where a
/// relocatable kernel without KASLR runs its text, physically; the i386
/// kernel maps it at PAGE_OFFSET (C0000000h) above that; and head_32.S's
/// instruction after `mov %eax,%cr0` is the far jump to the virtual
/// address of the code that follows.
final class KernelBringUpTests: XCTestCase {
    static let pageOffset: UInt32 = 0xC000_0000

    func image(_ suffix: String) throws -> String {
        let p = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/novabox/images/tiny-i386.\(suffix)").path
        try XCTSkipUnless(FileManager.default.fileExists(atPath: p), "no guest image at \(p) (scripts/images.sh builds it)")
        return p
    }

    static let prompt = "tiny-i386:/# "

    /// Reads a growing file until it holds `text`, within `seconds` of wall time.
    func wait(for text: String, in path: String, seconds: Double) -> String? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let log = try? String(contentsOfFile: path, encoding: .isoLatin1), log.contains(text) { return log }
            usleep(250_000)
        }
        return nil
    }

    /// The first boot: to the shell, where the kernel's own symbol table
    /// says where `start_kernel` is.
    func startKernelAddress(_ configure: @escaping (inout MachineConfiguration) -> Void) throws -> UInt32 {
        let log = NSTemporaryDirectory() + "novabox-kallsyms-\(getpid()).log"
        defer { unlink(log) }
        let t = try DebugTestMachine { config in
            configure(&config)
            config.serial = .file(log)
        }
        t.start()
        defer { t.finish() }
        let m = try XCTUnwrap(MonitorClient(path: t.monitorPath))
        XCTAssertEqual(m.command("continue"), "")
        let tail = { (try? String(contentsOfFile: log, encoding: .isoLatin1).suffix(3000)).map(String.init) ?? "" }
        _ = try XCTUnwrap(wait(for: KernelBringUpTests.prompt, in: log, seconds: 600), "no shell prompt on the serial console:\n\(tail())")
        t.machine.serialInputQueue.push(Array("grep ' start_kernel$' /proc/kallsyms\n".utf8))
        let answered = try XCTUnwrap(wait(for: " T start_kernel", in: log, seconds: 120), "no answer from grep:\n\(tail())")
        let line = answered.replacingOccurrences(of: "\r", with: "").split(separator: "\n").last { $0.hasSuffix(" T start_kernel") }
        return try XCTUnwrap(line.flatMap { UInt32($0.prefix(8), radix: 16) }.flatMap { $0 == 0 ? nil : $0 },
                             "no address for start_kernel in /proc/kallsyms: '\(line ?? "")'")
    }

    func testBreakOnPagingOnThenAtStartKernelFromTheGuestsOwnSymbols() throws {
        #if DEBUG
        throw XCTSkip("booting a kernel twice needs a release build: run swift test -c release (scripts/test.sh)")
        #endif
        let kernel = try image("vmlinuz"), initrd = try image("initrd")
        let commandLine = try String(contentsOfFile: try image("cmdline"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let header = try XCTUnwrap(FileManager.default.contents(atPath: kernel)).prefix(0x268)
        let preferred = header[0x258..<0x25C].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        XCTAssertEqual(header[0x202..<0x206].map { $0 }, Array("HdrS".utf8))

        // The same machine and command line for both boots (the crypto
        // self-tests, some 3 G instructions, skipped in both).
        let configure = { (config: inout MachineConfiguration) in
            config.ramSize = 256 << 20
            config.kernelPath = kernel
            config.initrdPath = initrd
            config.kernelCommandLine = commandLine + " nokaslr cryptomgr.notests"
        }
        let startKernel = try startKernelAddress(configure)
        XCTAssertGreaterThanOrEqual(startKernel, KernelBringUpTests.pageOffset &+ preferred, "start_kernel lies in the kernel's text")

        let t = try DebugTestMachine(configure: configure)
        t.start()
        defer { t.finish() }
        let m = try XCTUnwrap(MonitorClient(path: t.monitorPath))
        XCTAssertTrue(m.command("break pg").hasPrefix("1: break pg"))
        XCTAssertEqual(m.command("continue"), "")
        // The kernel first unpacks itself: about 2.3 G instructions of XZ,
        // under a minute of interpreter time in a release build, more on a
        // busy host. Bounded so a regression fails instead of hanging.
        let stop = m.read(untilSuffix: MonitorPort.prompt, seconds: 400)
        XCTAssertTrue(stop.contains("stopped: event 1: pg (CR0.PG changes): CR0 "), stop)

        let cpu = t.machine.cpu
        XCTAssertTrue(cpu.pagingEnabled)
        XCTAssertTrue(cpu.protectedMode)
        let cr3 = UInt32(truncatingIfNeeded: cpu.state.pointee.cr3)
        XCTAssertEqual(cr3 & 0xFFF, 0, "CR3 holds a page-aligned page directory")
        XCTAssertTrue(cr3 > 0 && Int(cr3) < 256 << 20, "the page directory is in RAM: \(hex(cr3, 8))")
        // Still running at physical addresses, inside the kernel's text.
        let eip = cpu.eip
        XCTAssertTrue(eip >= preferred && eip < preferred + 0x100_0000, "eip \(hex(eip, 8)) vs text at \(hex(preferred, 8))")
        let registers = m.command("info registers")
        XCTAssertTrue(registers.contains("cr3=\(hex(cr3, 8))"), registers)

        // The page walk of the kernel's start: PAGE_OFFSET + pref_address.
        let start = KernelBringUpTests.pageOffset &+ preferred
        let walk = m.command("info pg \(hex(start, 8))")
        XCTAssertTrue(walk.contains("  -> physical \(hex(preferred, 8))"), walk)
        XCTAssertTrue(walk.contains("PDE at \(hex(cr3 | (start >> 20) & 0xFFC, 8))"), walk)
        // The running code and its virtual alias are the same bytes.
        XCTAssertEqual(t.session.view.readLinear(KernelBringUpTests.pageOffset &+ eip, count: 16), t.session.view.readPhysical(eip, count: 16))
        // The summary of mappings covers the kernel's text at its virtual address.
        let ranges = try XCTUnwrap(t.session.view.mappedRanges())
        XCTAssertTrue(ranges.contains { UInt64($0.linear) <= UInt64(start) && UInt64(start) < UInt64($0.linear) + $0.size && $0.physical + UInt64(start - $0.linear) == UInt64(preferred) },
                      m.command("info mem"))

        // One step: the far jump into the kernel's virtual addresses.
        let stepped = m.command("step")
        XCTAssertGreaterThanOrEqual(cpu.eip, KernelBringUpTests.pageOffset, stepped)
        XCTAssertEqual(cpu.eip &- KernelBringUpTests.pageOffset, eip + 7, "ljmp ptr16:32 is 7 bytes: \(stepped)")

        // start_kernel, from the first boot's symbols: mapped, and hit.
        let symbolWalk = m.command("info pg \(hex(startKernel, 8))")
        XCTAssertTrue(symbolWalk.contains("  -> physical \(hex(startKernel &- KernelBringUpTests.pageOffset, 8))"), symbolWalk)
        XCTAssertTrue(m.command("break \(hex(startKernel, 8))").hasPrefix("2: break"))
        XCTAssertTrue(m.command("delete 1").hasPrefix("deleted 1"))
        XCTAssertEqual(m.command("continue"), "")
        let hit = m.read(untilSuffix: MonitorPort.prompt, seconds: 120)
        XCTAssertTrue(hit.contains("stopped: breakpoint 2"), hit)
        XCTAssertEqual(cpu.eip, startKernel, hit)
        XCTAssertEqual(t.session.view.instructionPointerLinear, startKernel, "CS is flat: the linear address is EIP")

        // Continue: the kernel runs on.
        XCTAssertTrue(m.command("delete 2").hasPrefix("deleted 2"))
        let before = cpu.instructionCount
        XCTAssertEqual(m.command("continue"), "")
        usleep(300_000)
        XCTAssertFalse(t.session.paused)
        XCTAssertGreaterThan(cpu.instructionCount, before + 1000)
    }
}
