import Foundation
import XCTest
import CPU
@testable import Debugger
import Machine

/// `break handover` on the real /dev/kvm, with the nasm guest of the
/// machine's own hand-over test (MachineTests/Guests/handover.asm): it
/// turns long mode on (CPUID offers it only when KVM takes long mode),
/// computes, turns paging off and resets through CF9h. Under the
/// debugger with nothing else set, the guest goes to KVM at the `mov cr0`
/// that activates long mode and comes back when paging goes off; each
/// switch stops the machine with its reason. The references are the
/// guest's own output on port E9h and the architectural state at the
/// stop (EFER.LMA, CR0.PG, EIP in the ROM).
final class HandoverBreakTests: XCTestCase {
    static let guestSource = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("MachineTests/Guests/handover.asm").path

    /// The guest image, assembled with `defines` (nasm -D).
    static func assembleGuest(defines: [String] = []) throws -> String {
        guard access("/dev/kvm", R_OK | W_OK) == 0 else { throw XCTSkip("no usable /dev/kvm on this host: the hand-over to KVM cannot be tested here") }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/nasm") else { throw XCTSkip("nasm is not installed (apt-get install nasm)") }
        let out = NSTemporaryDirectory() + "novabox-handover-break-\(getpid())\(defines.joined()).bin"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/nasm")
        p.arguments = ["-f", "bin", "-o", out] + defines.map { "-D" + $0 } + [HandoverBreakTests.guestSource]
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "nasm")
        return out
    }

    func testBreakHandoverStopsAtBothSwitchesOfTheLongModeGuest() throws {
        let image = try HandoverBreakTests.assembleGuest()
        defer { unlink(image) }
        let log = NSTemporaryDirectory() + "novabox-handover-break-\(getpid()).log"
        defer { unlink(log) }
        let t = try DebugTestMachine.handingOverToKVM(bios: image, noReboot: true) { config in
            config.debugConsole = .file(log)
            config.ramSize = 16 << 20
        }
        // Set from gdb (`monitor break handover`, a qRcmd packet); the stops
        // reach every port, the monitor's included.
        let command = Array("break handover".utf8).map { hex($0, 2) }.joined()
        XCTAssertEqual(t.stub.handle(Array("qRcmd,\(command)".utf8)).map { String(decoding: $0, as: UTF8.self) }, "OK")
        XCTAssertEqual(t.session.events.map(\.event), [.engineSwitch])
        t.start()
        defer { t.finish() }
        let m = try XCTUnwrap(MonitorClient(path: t.monitorPath))
        XCTAssertEqual(m.command("info breakpoints"), "1: break handover (the guest goes to or from KVM)\n")

        // To KVM: right after the ROM's mov cr0 that activates long mode.
        XCTAssertEqual(m.command("continue"), "")
        let toKVM = m.read(untilSuffix: MonitorPort.prompt, seconds: 60)
        XCTAssertTrue(toKVM.contains("stopped: event 1: handover: switch to kvm: paging on (long mode) at eip "), toKVM)
        let state = t.machine.cpu.state.pointee
        XCTAssertNotEqual(state.efer & EFER.lma, 0, "EFER.LMA at the stop")
        XCTAssertNotEqual(state.cr0 & UInt64(CR0.pg), 0, "CR0.PG at the stop")
        XCTAssertTrue((0xF0000...0xFFFFF).contains(state.rip), "in the ROM: \(hex(state.rip, 8))")
        XCTAssertEqual(t.machine.engineSwitches.map(\.to), [.kvm])
        let switches = m.command("info switches")
        XCTAssertTrue(switches.hasPrefix("engine: kvm\nswitch to kvm: paging on (long mode) at eip \(hex(state.rip, 8))"), switches)

        // KVM keeps the 64-bit guest; the monitor says so when asked for a stop only our engines see.
        let kept = m.command("break pe")
        XCTAssertTrue(kept.hasPrefix("2: break pe (CR0.PE changes)\nnote: KVM runs this 64-bit guest"), kept)
        XCTAssertEqual(m.command("delete 2"), "deleted 2\n")

        // Back from KVM when the guest turns paging off.
        XCTAssertEqual(m.command("continue"), "")
        let back = m.read(untilSuffix: MonitorPort.prompt, seconds: 60)
        XCTAssertTrue(back.contains("stopped: event 1: handover: switch to \(MachineConfiguration().engine.rawValue): the guest turned paging off"), back)
        XCTAssertEqual(t.machine.cpu.state.pointee.cr0 & UInt64(CR0.pg), 0, "paging off at the stop")

        // The guest runs on to its end: the reset through CF9h ends the session (-no-reboot).
        XCTAssertEqual(m.command("delete 1"), "deleted 1\n")
        XCTAssertEqual(m.command("continue"), "")
        let deadline = Date().addingTimeInterval(60)
        while !(try String(contentsOfFile: log, encoding: .utf8)).hasSuffix("DONE\n") && Date() < deadline { usleep(100_000) }
        XCTAssertEqual(t.finish(), .guestReset(tripleFault: false))
        XCTAssertEqual(try String(contentsOfFile: log, encoding: .utf8), "PM 1 PG IRQ PF OFF 2 DONE\n")
        XCTAssertEqual(t.machine.engineSwitches.map(\.to), [.kvm, MachineConfiguration().engine])
    }
}
