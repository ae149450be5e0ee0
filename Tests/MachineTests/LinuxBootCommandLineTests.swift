import Foundation
import XCTest

/// `-kernel`, `-initrd`, `-append` as a user meets them: every mistake is
/// one line naming the file, exit code 2 (CommandLineTests' runner).
extension CommandLineTests {
    func testKernelFileMissing() throws {
        try assertOneLineError(["-kernel", "/nonexistent/vmlinuz"], mentions: ["/nonexistent/vmlinuz", "kernel"])
    }

    func testKernelThatIsNotABzImage() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("novabox-not-a-kernel-\(getpid())").path
        FileManager.default.createFile(atPath: path, contents: Data(repeating: 0x90, count: 4096))
        defer { try? FileManager.default.removeItem(atPath: path) }
        try assertOneLineError(["-kernel", path], mentions: [path, "bzImage"])
    }

    func testInitrdTooLargeForGuestRAM() throws {
        let kernel = FileManager.default.temporaryDirectory.appendingPathComponent("novabox-kernel-\(getpid())").path
        let initrd = FileManager.default.temporaryDirectory.appendingPathComponent("novabox-initrd-\(getpid())").path
        FileManager.default.createFile(atPath: kernel, contents: Data(LinuxBootFixtures.bzImage()))
        FileManager.default.createFile(atPath: initrd, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: kernel); try? FileManager.default.removeItem(atPath: initrd) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: initrd))
        try handle.truncate(atOffset: 40 << 20)   // sparse: 40 MiB of zeros
        try handle.close()
        try assertOneLineError(["-m", "32M", "-kernel", kernel, "-initrd", initrd],
                               mentions: [initrd, "40 MiB", "-m 32M", "give more memory"])
    }

    func testCommandLineTooLong() throws {
        let kernel = FileManager.default.temporaryDirectory.appendingPathComponent("novabox-kernel-cl-\(getpid())").path
        FileManager.default.createFile(atPath: kernel, contents: Data(LinuxBootFixtures.bzImage(commandLineSize: 100)))
        defer { try? FileManager.default.removeItem(atPath: kernel) }
        try assertOneLineError(["-kernel", kernel, "-append", String(repeating: "x", count: 101)], mentions: ["-append", "101", "at most 100"])
    }

    func testAppendWithoutKernel() throws {
        try assertOneLineError(["-append", "console=ttyS0"], mentions: ["-append needs -kernel"])
    }

    func testKernelFlagsNeedAValue() throws {
        try assertOneLineError(["-kernel"], mentions: ["-kernel needs a value"])
    }

    func testHelpListsTheLinuxBootFlags() throws {
        let r = try run(["-help"])
        for flag in ["-kernel FILE", "-initrd FILE", "-append"] {
            XCTAssertTrue(r.stdout.contains(flag), "help lacks \(flag)")
        }
    }
}
