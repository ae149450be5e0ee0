import Foundation
import XCTest
@testable import Machine

/// The 64-bit live guest (Debian's amd64 kernel and the test initrd, booted
/// directly) forced onto KVM: our engine runs SeaBIOS, the loader and the
/// kernel's real-mode setup and 32-bit entry, and hands the CPU to KVM at
/// the `mov cr0` that activates long mode; KVM runs the rest.
///
/// Where KVM only emulates (kvm_pvm: about 1.4 million instructions per
/// second) the kernel's decompressor alone takes many minutes, so within
/// the bound nothing new reaches the serial port. What the bound does show,
/// and is checked: the hand-over at the long-mode switch, reported by
/// `-d switch` and in the exit summary; KVM keeping the guest (no hand-back,
/// no reset); and the decompressor's output appearing in guest RAM — the
/// header of the kernel's own ELF image (64-bit, x86-64), written at a
/// 2 MiB-aligned address from 16 MiB on, the alignment the kernel is
/// built for, by code that only ever ran in KVM.
final class KVMLongModeGuestTests: XCTestCase {
    static let bound = 75.0

    func testLiveAMD64HandsOverAtTheLongModeSwitchAndMakesProgressInKVM() throws {
        try GuestImages.requireReleaseBuild()
        guard access("/dev/kvm", R_OK | W_OK) == 0 else { throw XCTSkip("no usable /dev/kvm on this host: the hand-over of a 64-bit guest cannot be tested here") }
        guard FileManager.default.fileExists(atPath: MachineConfiguration.defaultBIOS) else {
            throw XCTSkip("SeaBIOS is not installed (apt-get install seabios)")
        }
        var config = MachineConfiguration()
        config.kernelPath = try GuestImages.path("live-amd64.vmlinuz")
        config.initrdPath = try GuestImages.path("live-amd64.initrd")
        config.kernelCommandLine = try String(contentsOfFile: GuestImages.path("live-amd64.cmdline"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        config.ramSize = 256 << 20
        config.acceleration = .kvm
        let tmp = NSTemporaryDirectory()
        let serial = tmp + "novabox-amd64-kvm-serial-\(getpid()).log", trace = tmp + "novabox-amd64-kvm-switch-\(getpid()).log"
        defer { unlink(serial); unlink(trace) }
        config.serial = .file(serial)
        config.trace.switches = true
        config.trace.file = trace
        config.noReboot = true
        let machine = try Machine(config)

        // Short slices up to the hand-over: no kernel image in RAM yet
        // (KVM has had at most one slice, far too little to decompress).
        var seconds = 0.0, reason = Machine.ExitReason.timeLimit
        while seconds < 10 && reason == .timeLimit && machine.engineSwitches.isEmpty {
            seconds += 0.05
            reason = machine.run(until: seconds)
        }
        XCTAssertNil(KVMLongModeGuestTests.decompressedKernel(in: machine), "no kernel image before KVM ran the decompressor")
        var kernelImage: UInt32?
        while seconds < KVMLongModeGuestTests.bound && reason == .timeLimit && kernelImage == nil {
            seconds += 2
            reason = machine.run(until: seconds)
            kernelImage = KVMLongModeGuestTests.decompressedKernel(in: machine)
        }
        machine.flushConsoles()
        let switches = machine.engineSwitches
        let output = (try? String(contentsOfFile: serial, encoding: .isoLatin1)) ?? ""

        XCTAssertEqual(reason, .timeLimit, "the guest neither stopped nor reset; serial: \(output)")
        XCTAssertEqual(switches.count, 1, "one hand-over, never given back: \(switches)")
        XCTAssertEqual(switches.first?.to, .kvm)
        XCTAssertEqual(switches.first?.reason, "paging on (long mode)", "\(switches)")
        // The boot protocol loads the 32-bit entry at 1 MiB: our engine ran
        // the loader, the setup and that entry up to its `mov cr0`.
        XCTAssertTrue((0x10_0000..<0x20_0000).contains(switches.first?.eip ?? 0), "hand-over in the kernel's 32-bit entry: \(switches)")
        XCTAssertGreaterThan(switches.first?.instructionCount ?? 0, 1_000_000, "our engine ran firmware, loader and setup first")
        let traced = (try? String(contentsOfFile: trace, encoding: .utf8)) ?? ""
        XCTAssertTrue(traced.contains("switch to kvm: paging on (long mode)"), "-d switch reports the hand-over: \(traced)")
        XCTAssertTrue(machine.engineSummary?.contains("1 to KVM, 0 back") ?? false, machine.engineSummary ?? "no summary")
        XCTAssertNotNil(kernelImage, "within \(Int(seconds)) s KVM's decompressor wrote the start of the kernel's ELF image")
        if let kernelImage { print("live-amd64 under -accel kvm: kernel ELF header at \(String(kernelImage, radix: 16)) after \(Int(seconds)) s") }
    }

    /// The physical address of a 64-bit x86-64 ELF header at a 2 MiB
    /// boundary from 16 MiB on (where the decompressor writes the kernel).
    static func decompressedKernel(in machine: Machine) -> UInt32? {
        let memory = machine.memory
        for address in stride(from: UInt32(16 << 20), to: UInt32(memory.ramSize), by: 2 << 20) {
            guard memory.read(address, size: 4) == 0x464C_457F,          // "\u{7F}ELF"
                  memory.read(address + 4, size: 1) == 2,                // ELFCLASS64
                  memory.read(address + 0x12, size: 2) == 0x3E           // EM_X86_64
            else { continue }
            return address
        }
        return nil
    }
}
