import Foundation
import Machine
import XCTest

/// The hand-over to KVM on a bare-metal guest assembled here with nasm
/// (Guests/handover.asm): real mode -> protected mode -> paging -> port
/// output, VGA text writes, PIT interrupts and a guest-handled page fault
/// -> paging off again and timer interrupts in unpaged protected mode.
/// Code the guest rewrites while paging is on (in KVM) runs again once
/// paging is off: our engine must run the new code (KVM's dirty log tells
/// it which page changed) and keep what it cached of untouched pages.
/// The interpreter alone (`-accel tcg`) is the reference: the run with
/// KVM must print the same and leave the same results in memory. The
/// guest pages in long mode when CPUID offers it (only with KVM), so the
/// two runs take different paging paths through the same checks.
final class EngineSwitchTests: XCTestCase {
    static let guestSource = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Guests/handover.asm").path
    static let expectedOutput = "PM 1 PG IRQ PF OFF 2 DONE\n"
    /// The routine rewritten while paging is on, and the one nobody writes.
    static let rewrittenCode: UInt32 = 0x8000, untouchedCode: UInt32 = 0x7000

    struct Run {
        let output: String
        let reason: Machine.ExitReason
        /// Ticks, CR2, value read through the mapped page.
        let results: [UInt32]
        let atFaultPage: UInt32
        let vgaText: [UInt32]
        /// How often the cached code of the rewritten and the untouched routine's pages went stale.
        let staleCode: (rewritten: UInt64, untouched: UInt64)
        let switches: [EngineSwitch]
        let summary: String?
        /// What CPUID leaf 1 and 8000_0001h report at the end (EDX).
        let features: (standard: UInt32, extended: UInt32)
    }

    func requireKVM() throws {
        guard access("/dev/kvm", R_OK | W_OK) == 0 else { throw XCTSkip("no usable /dev/kvm on this host: the KVM hand-over cannot be tested here") }
    }

    func assemble(force32: Bool) throws -> String {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/nasm") else { throw XCTSkip("nasm is not installed (apt-get install nasm)") }
        let out = NSTemporaryDirectory() + "novabox-handover-\(force32 ? "32" : "auto")-\(getpid()).bin"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/nasm")
        p.arguments = ["-f", "bin"] + (force32 ? ["-DFORCE32"] : []) + ["-o", out, EngineSwitchTests.guestSource]
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "nasm")
        return out
    }

    func run(_ image: String, _ acceleration: MachineConfiguration.Acceleration) throws -> Run {
        let log = NSTemporaryDirectory() + "novabox-handover-\(getpid()).log"
        defer { unlink(log) }
        var c = MachineConfiguration()
        c.biosPath = image
        c.acceleration = acceleration
        c.serial = .none
        c.debugConsole = .file(log)
        c.noReboot = true
        c.timeLimit = 30
        c.ramSize = 16 << 20
        let machine = try Machine(c)
        let reason = machine.run()
        machine.flushConsoles()
        let output = try String(contentsOfFile: log, encoding: .utf8)
        let generation = { (address: UInt32) in machine.memory.codeGenerations[machine.memory.codePage(forReading: address)!] }
        return Run(output: output, reason: reason,
                   results: (0..<3).map { machine.memory.read(0x9000 + UInt32($0 * 4), size: 4) },
                   atFaultPage: machine.memory.read(0x40_0000, size: 4),
                   vgaText: [machine.memory.read(0xB8000, size: 2), machine.memory.read(0xB8002, size: 2)],
                   staleCode: (generation(EngineSwitchTests.rewrittenCode), generation(EngineSwitchTests.untouchedCode)),
                   switches: machine.engineSwitches, summary: machine.engineSummary,
                   features: (machine.cpu.cpuid.query(1).edx, machine.cpu.cpuid.query(0x8000_0001).edx))
    }

    func assertSameResults(_ run: Run, as reference: Run, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(run.output, EngineSwitchTests.expectedOutput, file: file, line: line)
        XCTAssertEqual(run.output, reference.output, file: file, line: line)
        XCTAssertEqual(run.reason, .guestReset(tripleFault: false), "the guest ends with a reset through CF9h", file: file, line: line)
        XCTAssertGreaterThanOrEqual(run.results[0], 3, "PIT interrupts reached the guest", file: file, line: line)
        XCTAssertEqual(run.results[1], reference.results[1], "CR2 of the page fault", file: file, line: line)
        XCTAssertEqual(run.results[2], reference.results[2], "the value written through the page the handler mapped", file: file, line: line)
        XCTAssertEqual(run.atFaultPage, reference.atFaultPage, "physical memory behind that page", file: file, line: line)
        XCTAssertEqual(run.vgaText, reference.vgaText, "VGA text memory (MMIO)", file: file, line: line)
        XCTAssertEqual(run.staleCode.rewritten, 1, "the rewritten routine's cached code went stale once", file: file, line: line)
        XCTAssertEqual(run.staleCode.untouched, 0, "code on a page nobody wrote stays cached", file: file, line: line)
    }

    func testLongModeGuestIsHandedToKVMAndAgreesWithTheInterpreter() throws {
        try requireKVM()
        let image = try assemble(force32: false)
        defer { unlink(image) }
        let reference = try run(image, .tcg)
        XCTAssertEqual(reference.output, EngineSwitchTests.expectedOutput)
        XCTAssertEqual(reference.results[1], 0x4000_0000)
        XCTAssertEqual(reference.results[2], 0x600D_600D)
        XCTAssertEqual(reference.atFaultPage, 0x600D_600D)
        XCTAssertEqual(reference.vgaText, [0x1F4F, 0x1F4B])
        XCTAssertTrue(reference.switches.isEmpty, "-accel tcg never hands over")
        XCTAssertNil(reference.summary)

        let kvm = try run(image, .kvm)
        assertSameResults(kvm, as: reference)
        XCTAssertEqual(kvm.switches.map(\.to), [.kvm, MachineConfiguration().engine], "back to our own engine: \(kvm.switches)")
        XCTAssertEqual(kvm.switches.last?.reason, "the guest turned paging off", "KVM hands back when paging goes off")
        XCTAssertTrue(kvm.switches.first?.reason.contains("long mode") ?? false, "\(kvm.switches)")
        XCTAssertTrue((0xF0000...0xFFFFF).contains(kvm.switches.first?.eip ?? 0), "hand-over right after the guest's mov cr0 in the ROM")
        XCTAssertTrue(kvm.summary?.contains("1 to KVM, 1 back") ?? false, kvm.summary ?? "no summary")
    }

    func testAutoGivesTheSameResultsWhicheverEngineItPicks() throws {
        try requireKVM()
        let image = try assemble(force32: false)
        defer { unlink(image) }
        let reference = try run(image, .tcg)
        assertSameResults(try run(image, .auto), as: reference)
    }

    /// A 32-bit paging guest forced onto KVM: on hosts whose KVM refuses
    /// 32-bit paging the hand-over is declined and the interpreter
    /// finishes the guest, which from then on sees the processor our
    /// engine is (as with -accel tcg: no SSE, no long mode); elsewhere KVM
    /// runs it. Either way, same results.
    func testThirtyTwoBitGuestForcedOntoKVMStillFinishes() throws {
        try requireKVM()
        let image = try assemble(force32: true)
        defer { unlink(image) }
        let reference = try run(image, .tcg)
        let forced = try run(image, .kvm)
        assertSameResults(forced, as: reference)
        if forced.switches.isEmpty {
            XCTAssertTrue(forced.summary?.contains("1 hand-over(s) declined") ?? false, forced.summary ?? "no summary")
            XCTAssertEqual(forced.features.standard, reference.features.standard, "CPUID 1 EDX after the refusal: our engine's")
            XCTAssertEqual(forced.features.extended, reference.features.extended, "CPUID 8000_0001h EDX: no long mode")
        } else {
            XCTAssertTrue(forced.switches[0].reason.contains("32-bit paging"), "\(forced.switches)")
        }
    }

    func testAccelKVMWithoutADeviceIsAnErrorSayingHowToFix() throws {
        let result = try NovaboxCommand.run(["-accel", "kvm,device=/nonexistent/kvm", "-display", "none", "-timeout", "0.1"])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.contains("does not exist") && result.stderr.contains("modprobe"), result.stderr)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, "one line: \(result.stderr)")
    }

    func testAccelAutoWithoutADeviceWarnsOnceAndRuns() throws {
        let image = try assemble(force32: true)
        defer { unlink(image) }
        let result = try NovaboxCommand.run(["-accel", "auto,device=/nonexistent/kvm", "-bios", image, "-display", "none",
                                             "-serial", "none", "-debugcon", "stdio", "-no-reboot", "-timeout", "30"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, EngineSwitchTests.expectedOutput)
        XCTAssertEqual(result.stderr.components(separatedBy: "KVM is not usable").count - 1, 1, result.stderr)
    }

    func testAccelOptionIsChecked() throws {
        let result = try NovaboxCommand.run(["-accel", "hvf", "-display", "none"])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.contains("-accel auto, -accel kvm or -accel tcg"), result.stderr)
    }
}
