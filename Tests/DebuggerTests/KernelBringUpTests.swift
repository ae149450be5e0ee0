import Foundation
import XCTest
import CPU
@testable import Debugger

/// The bring-up scenario on a real kernel: Debian's i386 kernel of the
/// tiny-i386 image, booted directly (`-kernel`, `-initrd`, its command
/// line plus `nokaslr`), stopped by `break pg` where its start-up code
/// (arch/x86/kernel/head_32.S) turns paging on.
///
/// References from outside the debugger: the bzImage header's
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

    func testBreakOnPagingOnInTheKernelsStartUpCode() throws {
        #if DEBUG
        throw XCTSkip("booting a kernel to paging needs a release build: run swift test -c release (scripts/test.sh)")
        #endif
        let kernel = try image("vmlinuz"), initrd = try image("initrd")
        let commandLine = try String(contentsOfFile: try image("cmdline"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let header = try XCTUnwrap(FileManager.default.contents(atPath: kernel)).prefix(0x268)
        let preferred = header[0x258..<0x25C].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        XCTAssertEqual(header[0x202..<0x206].map { $0 }, Array("HdrS".utf8))

        let t = try DebugTestMachine { config in
            config.ramSize = 256 << 20
            config.kernelPath = kernel
            config.initrdPath = initrd
            config.kernelCommandLine = commandLine + " nokaslr"
        }
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

        // Continue: the kernel runs on.
        XCTAssertTrue(m.command("delete 1").hasPrefix("deleted 1"))
        let before = cpu.instructionCount
        XCTAssertEqual(m.command("continue"), "")
        usleep(300_000)
        XCTAssertFalse(t.session.paused)
        XCTAssertGreaterThan(cpu.instructionCount, before + 1000)
    }
}
