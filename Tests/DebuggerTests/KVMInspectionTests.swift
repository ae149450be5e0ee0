import Foundation
import XCTest
import CPU
@testable import Debugger
import Machine

/// The debugger's view of a guest KVM runs, through Debian's gdb: at a
/// stop the registers gdb reads are the guest's state now, not the state
/// of the hand-over, the guest stays in KVM, and a register gdb writes
/// reaches the guest. The guest is the hand-over test's nasm guest built
/// with -DPEEK (MachineTests/Guests/handover.asm): once KVM runs it in long
/// mode, it steps a linear congruential generator in EBX three times, each
/// step followed by an OUT to port 80h and EBX printed on E9h, then spins
/// on LOOP from 2^40 until a debugger writes a small count to ECX, and runs
/// on to the hand-over test's usual end (back in our engine once paging
/// is off, a reset through CF9h). The references are the guest's own
/// output and the generator's arithmetic.
final class KVMInspectionTests: XCTestCase {
    /// The guest's step: EBX * 1103515245 + 12345, in 32 bits.
    static func generatorStep(_ x: UInt32) -> UInt32 { x &* 1_103_515_245 &+ 12_345 }

    static func hex8(_ v: UInt32) -> String { hex(v, 8) }

    func testGDBReadsAndWritesTheStateOfAGuestThatStaysInKVM() throws {
        try GDBBatch.skipUnlessInstalled()
        let image = try HandoverBreakTests.assembleGuest(defines: ["PEEK"])
        defer { unlink(image) }
        let log = NSTemporaryDirectory() + "novabox-kvm-inspection-\(getpid()).log"
        defer { unlink(log) }
        let t = try DebugTestMachine.handingOverToKVM(bios: image, noReboot: true) { config in
            config.debugConsole = .file(log)
            config.ramSize = 16 << 20
        }
        t.start()
        defer { t.finish() }
        let monitor = try XCTUnwrap(MonitorClient(path: t.monitorPath))

        // gdb stops at the OUT of each step (`break io 80`): the first two
        // stops read EBX, the second writes it; the fourth stop is the
        // monitor's `stop` in the spin, where gdb reads ECX, has the
        // monitor show the registers, a page walk and the mapped ranges
        // (through gdb, so before it lets the guest run on), and writes 1.
        final class Output: @unchecked Sendable { var text = "" }
        let gdb = Output()
        let gdbDone = DispatchSemaphore(value: 0)
        let port = t.stub.port
        DispatchQueue.global().async {
            gdb.text = (try? GDBBatch.run(port: port, architecture: "i386", seconds: 180, [
                "monitor break io 80",
                "continue", "echo ==first\\n", "info registers eip ebx",
                "continue", "echo ==second\\n", "info registers eip ebx", "set $ebx = 0x12345678",
                "continue", "echo ==third\\n", "info registers eip ebx", "monitor delete 1",
                "continue", "echo ==spin\\n", "info registers eip ecx",
                "echo ==registers\\n", "monitor info registers", "echo ==walk\\n", "monitor info pg 9000",
                "echo ==mapped\\n", "monitor info mem", "set $ecx = 1",
                "detach",
            ])) ?? "gdb did not start"
            gdbDone.signal()
        }

        // Each stop at the OUT reaches the monitor too, with the
        // instruction at CS:RIP (checked below against gdb's EIP).
        let outStops = (0..<3).map { _ in monitor.read(untilSuffix: MonitorPort.prompt, seconds: 120) }
        for stop in outStops { XCTAssertTrue(stop.contains("stopped: event 1: out to port 0080h (size 1)\n"), stop) }
        // The third value printed: the guest is in its spin (or a few
        // instructions before it), in KVM.
        let deadline = Date().addingTimeInterval(120)
        while ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").filter({ $0 == " " }).count < 5 && Date() < deadline { usleep(100_000) }
        usleep(500_000)
        // The stop's report comes first, then the command's own empty reply.
        let spin = monitor.command("stop")
        XCTAssertTrue(spin.contains("stopped\n"), spin)
        XCTAssertEqual(monitor.read(untilSuffix: MonitorPort.prompt), MonitorPort.prompt)
        XCTAssertEqual(gdbDone.wait(timeout: .now() + 120), .success, "gdb finished")
        let out = gdb.text
        // The page walk goes through the guest's four levels as
        // handover.asm builds them (PML4 at 10000h, a 2 MiB page at 0).
        let walk = String(GDBBatch.section("walk", of: out))
        for line in ["(cr3=00010000, PAE):", "PML4E at 00010000 = 00000000000110", "PDPTE at 00011000 = 00000000000120",
                     "PDE at 00012000 = 00000000000000", "-> physical 00009000"] {
            XCTAssertTrue(walk.contains(line), out)
        }
        // Its two 2 MiB pages, as one range of the low 4 GiB.
        let mapped = String(GDBBatch.section("mapped", of: out))
        XCTAssertTrue(mapped.contains("\n00000000-003fffff -> 00000000-003fffff 4 MiB      S RW\n"), out)
        XCTAssertEqual(mapped.split(separator: "\n").filter { $0.contains(" -> ") }.count, 1, out)
        // The monitor shows the 64-bit registers, which gdb's i386 view cannot.
        let registers = String(GDBBatch.section("registers", of: out))

        let end = Date().addingTimeInterval(120)
        while !((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").hasSuffix("DONE\n") && Date() < end { usleep(100_000) }
        XCTAssertEqual(t.finish(), .guestReset(tripleFault: false))

        // The guest's own account: the first value the generator's, the
        // second the one gdb wrote, the third the generator's step from it.
        let v1 = KVMInspectionTests.generatorStep(0x600D)
        let v2 = KVMInspectionTests.generatorStep(v1)
        let v3 = KVMInspectionTests.generatorStep(0x1234_5678)
        XCTAssertEqual(try String(contentsOfFile: log, encoding: .utf8),
                       "PM 1 \(KVMInspectionTests.hex8(v1)) 12345678 \(KVMInspectionTests.hex8(v3)) SPUN PG IRQ PF OFF 2 DONE\n")

        // What gdb saw at each stop: the guest's values then, right after
        // the OUT (KVM finished it before the state was read).
        func register(_ name: String, _ section: String) -> UInt64? { GDBBatch.register(name, in: GDBBatch.section(section, of: out)) }
        XCTAssertEqual(register("ebx", "first"), UInt64(v1), out)
        XCTAssertEqual(register("ebx", "second"), UInt64(v2), out)
        XCTAssertEqual(register("ebx", "third"), UInt64(v3), out)
        let switches = t.machine.engineSwitches
        XCTAssertEqual(switches.map(\.to), [.kvm, MachineConfiguration().engine], "KVM kept the guest until paging went off: \(switches)")
        XCTAssertEqual(switches.first?.reason, "paging on (long mode)")
        let handOverEIP = switches.first.map { UInt64($0.eip) }
        let afterOut = register("eip", "first")
        XCTAssertNotNil(afterOut, out)
        XCTAssertNotEqual(afterOut, handOverEIP, "not the hand-over's EIP")
        XCTAssertTrue((0xF0000...0xFFFFF).contains(afterOut ?? 0), "in the ROM: \(out)")
        XCTAssertEqual(register("eip", "second"), afterOut, out)
        XCTAssertEqual(register("eip", "third"), afterOut, out)
        // The monitor shows the same place, in the 64-bit code segment
        // (at the hand-over CS was the 32-bit one, 08h).
        for stop in outStops { XCTAssertTrue(stop.contains("\n0018:\(String(afterOut ?? 0, radix: 16))  "), stop) }
        // In the spin: LOOP counted RCX down from 2^40, so its low half
        // wrapped to just under 2^32; the write of 1 ended the spin, or
        // the guest would still be in it.
        let spinEIP = register("eip", "spin")
        XCTAssertGreaterThan(spinEIP ?? 0, afterOut ?? .max, out)
        XCTAssertTrue((0xF0000...0xFFFFF).contains(spinEIP ?? 0), out)
        XCTAssertTrue(spin.contains("\n0018:\(String(spinEIP ?? 0, radix: 16))  "), spin)
        let ecx = register("ecx", "spin") ?? 0
        XCTAssertGreaterThan(ecx, 0xF000_0000, out)
        XCTAssertTrue(registers.contains("rcx=000000ff\(hex(ecx, 8))"), "RCX is 2^40 minus the iterations: \(registers)")
        XCTAssertTrue(registers.contains("rip=\(hex(spinEIP ?? 0, 16)) "), registers)
        XCTAssertTrue(registers.contains("long mode, 64-bit code"), registers)
        XCTAssertTrue(registers.contains("cs=0018 base=00000000 limit="), registers)
        XCTAssertTrue(registers.contains("code readable 64-bit"), registers)
        XCTAssertTrue(out.contains("Program received signal SIGINT"), out)
    }

    /// Real software no one here wrote: Debian's amd64 kernel (the live
    /// image's, booted directly) handed to KVM at its long-mode switch,
    /// stopped by the monitor while its decompressor runs there. The
    /// registers are the decompressor's own, not the hand-over's: 64-bit
    /// code (the hand-over's was 32-bit compatibility mode), another RIP;
    /// and the 16 bytes at that RIP, read through the guest's four-level
    /// page tables, are code of the kernel file, where the decompressor
    /// comes from. A second stop a moment later shows the guest moved on.
    func testTheAMD64KernelsDecompressorAsKVMRunsIt() throws {
        #if DEBUG
        throw XCTSkip("booting a kernel needs a release build: run swift test -c release (scripts/test.sh)")
        #endif
        let images = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/novabox/images").path
        let kernel = images + "/live-amd64.vmlinuz"
        try XCTSkipUnless(FileManager.default.fileExists(atPath: kernel), "no guest image at \(kernel) (scripts/images.sh builds it)")
        let commandLine = try String(contentsOfFile: images + "/live-amd64.cmdline", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let t = try DebugTestMachine.handingOverToKVM { config in
            config.kernelPath = kernel
            config.initrdPath = images + "/live-amd64.initrd"
            config.kernelCommandLine = commandLine
            config.ramSize = 256 << 20
        }
        t.start()
        defer { t.finish() }
        let m = try XCTUnwrap(MonitorClient(path: t.monitorPath))
        func value(_ name: String, _ text: String) -> UInt64? {
            guard let r = text.range(of: name + "=") else { return nil }
            return UInt64(text[r.upperBound...].prefix { $0.isHexDigit }, radix: 16)
        }

        XCTAssertTrue(m.command("break handover").hasPrefix("1: break handover"))
        XCTAssertEqual(m.command("continue"), "")
        let handOver = m.read(untilSuffix: MonitorPort.prompt, seconds: 120)
        XCTAssertTrue(handOver.contains("switch to kvm: paging on (long mode)"), handOver)
        let atHandOver = m.command("info registers")
        XCTAssertTrue(atHandOver.contains("long mode, compatibility mode, 32-bit code"), atHandOver)
        XCTAssertEqual(m.command("delete 1"), "deleted 1\n")

        func stopAfter(seconds: Double) -> String {
            XCTAssertEqual(m.command("continue"), "")
            usleep(UInt32(seconds * 1e6))
            let stop = m.command("stop")
            XCTAssertTrue(stop.contains("stopped\n"), stop)
            XCTAssertEqual(m.read(untilSuffix: MonitorPort.prompt), MonitorPort.prompt)
            return m.command("info registers")
        }
        let first = stopAfter(seconds: 3)
        XCTAssertTrue(first.contains("long mode, 64-bit code"), first)
        let rip = try XCTUnwrap(value("rip", first), first)
        XCTAssertNotEqual(rip, value("rip", atHandOver))
        XCTAssertLessThan(rip, 1 << 32, first)
        let dump = m.command("x/16b \(String(rip, radix: 16))")
        let code = dump.split(separator: "\n").flatMap { $0.split(separator: ":").dropFirst().joined().split(separator: " ") }.compactMap { UInt8($0, radix: 16) }
        XCTAssertEqual(code.count, 16, dump)
        let file = try Data(contentsOf: URL(fileURLWithPath: kernel))
        XCTAssertNotNil(file.range(of: Data(code)), "the code at RIP \(String(rip, radix: 16)) is the kernel file's: \(dump)")

        let second = stopAfter(seconds: 1)
        XCTAssertTrue(second.contains("long mode, 64-bit code"), second)
        XCTAssertNotEqual(second, first, "the guest moved on between the stops")
        XCTAssertEqual(t.machine.engineSwitches.map(\.to), [.kvm], "KVM kept the guest")
    }
}
