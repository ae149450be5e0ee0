import Devices
import Foundation
import MMU
import XCTest
@testable import Machine

/// The host side of a direct Linux boot: reading a bzImage, placing its
/// pieces, filling in the setup header and the fw_cfg items, all checked
/// against the boot protocol document (Documentation/arch/x86/boot.rst)
/// and QEMU's fw_cfg specification.
final class LinuxBootTests: XCTestCase {
    // MARK: - A real kernel

    func testRealKernelHeader() throws {
        let path = try LinuxBootFixtures.kernelPath()
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let image = try BzImage(path: path, bytes: bytes)
        XCTAssertGreaterThanOrEqual(image.protocolVersion, 0x020A, "any Linux of the last decade speaks 2.10 or later")
        XCTAssertEqual(image.setup.count, (Int(bytes[0x1F1]) + 1) * 512)
        XCTAssertEqual(image.setup.count + image.protectedMode.count, bytes.count)
        // payload_offset (2.08+) counts from the start of the protected-mode
        // part: a correct split finds a compressed payload's magic there.
        let payload = Int(BzImage.read32(bytes, 0x248))
        let magics: [[UInt8]] = [[0x1F, 0x8B], [0x1F, 0x9E], [0x42, 0x5A], [0x5D, 0x00], [0xFD, 0x37],
                                 [0x02, 0x21], [0x28, 0xB5], [0x7F, 0x45]]
        XCTAssertTrue(magics.contains(Array(image.protectedMode[payload..<payload + 2])),
                      "no compressed payload at payload_offset \(payload)")
        XCTAssertEqual(image.initrdAddressMax, 0x7FFF_FFFF, "a 32-bit kernel takes an initrd below 2 GiB")
        XCTAssertEqual(image.commandLineMax, 2047, "COMMAND_LINE_SIZE 2048 on x86, without the NUL")
        XCTAssertGreaterThanOrEqual(image.footprintEnd, UInt64(0x10_0000 + image.protectedMode.count))
    }

    // MARK: - Reading the header

    func testSetupSectorsZeroMeansFour() throws {
        let image = try BzImage(path: "k", bytes: LinuxBootFixtures.bzImage(sectors: 0))
        XCTAssertEqual(image.setup.count, 5 * 512)
        XCTAssertEqual(image.protectedMode.count, 0x3000)
        XCTAssertEqual(image.protectedMode.first, UInt8(truncatingIfNeeded: 5 * 512 * 7 + 3))
    }

    func testCommandLineLimitBeforeProtocol206Is255() throws {
        XCTAssertEqual(try BzImage(path: "k", bytes: LinuxBootFixtures.bzImage(version: 0x0205)).commandLineMax, 255)
        XCTAssertEqual(try BzImage(path: "k", bytes: LinuxBootFixtures.bzImage(version: 0x0206, commandLineSize: 4095)).commandLineMax, 4095)
    }

    func testInitrdLimitBeforeProtocol203() throws {
        XCTAssertEqual(try BzImage(path: "k", bytes: LinuxBootFixtures.bzImage(version: 0x0202)).initrdAddressMax, 0x37FF_FFFF)
    }

    /// boot.rst, init_size: a relocatable kernel runs from its load address
    /// aligned up to kernel_alignment, and needs init_size bytes from there.
    func testFootprintOfARelocatableKernel() throws {
        let image = try BzImage(path: "k", bytes: LinuxBootFixtures.bzImage(alignment: 0x100_0000, initSize: 0x100_C000))
        XCTAssertEqual(image.footprintEnd, 0x100_0000 + 0x100_C000)
        let old = try BzImage(path: "k", bytes: LinuxBootFixtures.bzImage(version: 0x0209))
        XCTAssertEqual(old.footprintEnd, 0x10_0000 + 0x3000, "before 2.10 only the loaded kernel itself is known")
    }

    func testNotABzImage() {
        var bytes = LinuxBootFixtures.bzImage()
        bytes[0x202] = UInt8(ascii: "X")
        XCTAssertThrowsError(try BzImage(path: "/tmp/vmlinux", bytes: bytes)) { error in
            XCTAssertTrue("\(error)".contains("/tmp/vmlinux"), "\(error)")
            XCTAssertTrue("\(error)".contains("HdrS"), "\(error)")
        }
        XCTAssertThrowsError(try BzImage(path: "k", bytes: Array(repeating: 0, count: 100)))
    }

    func testProtocolTooOld() {
        XCTAssertThrowsError(try BzImage(path: "old", bytes: LinuxBootFixtures.bzImage(version: 0x0201))) { error in
            XCTAssertTrue("\(error)".contains("boot protocol 2.01"), "\(error)")
            XCTAssertTrue("\(error)".contains("2.02"), "\(error)")
        }
    }

    func testZImageIsRefused() {
        XCTAssertThrowsError(try BzImage(path: "z", bytes: LinuxBootFixtures.bzImage(loadFlags: 0))) { error in
            XCTAssertTrue("\(error)".contains("zImage"), "\(error)")
        }
    }

    func testSetupLargerThan32KiBIsRefused() {
        XCTAssertThrowsError(try BzImage(path: "big", bytes: LinuxBootFixtures.bzImage(sectors: 64, kernelSize: 0x100)))
    }

    // MARK: - Layout and header

    func testInitrdGoesAsHighAsAllowedOnAPage() throws {
        let image = try BzImage(path: "k", bytes: LinuxBootFixtures.bzImage())
        let ram = 128 << 20
        let address = try LinuxBoot.placeInitrd(path: "i", size: 0x1_2345, kernel: image, ramSize: ram)
        XCTAssertEqual(address % 4096, 0)
        XCTAssertLessThanOrEqual(Int(address) + 0x1_2345, ram - (256 << 10), "below SeaBIOS's high tables")
        XCTAssertGreaterThan(Int(address) + 0x1_2345 + 4096, ram - (256 << 10), "as high as possible")
        // initrd_addr_max is the highest byte the initrd may occupy.
        let capped = try BzImage(path: "k", bytes: LinuxBootFixtures.bzImage(initrdMax: 0x37F_FFFF))
        XCTAssertEqual(try LinuxBoot.placeInitrd(path: "i", size: 0x2_0000, kernel: capped, ramSize: ram), 0x37E_0000)
    }

    func testInitrdTooLargeForRAM() throws {
        let image = try BzImage(path: "k", bytes: LinuxBootFixtures.bzImage())
        XCTAssertThrowsError(try LinuxBoot.placeInitrd(path: "/x/initrd.gz", size: 60 << 20, kernel: image, ramSize: 64 << 20)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("initrd /x/initrd.gz (60 MiB) does not fit below the kernel's limit with -m 64M"), text)
            XCTAssertTrue(text.contains("give more memory"), text)
        }
    }

    func testKernelTooLargeForRAM() throws {
        let image = try BzImage(path: "/k", bytes: LinuxBootFixtures.bzImage(alignment: 0x100_0000, initSize: 0x100_C000))
        XCTAssertThrowsError(try LinuxBoot(kernel: image, initrd: [], initrdAddress: 0, commandLine: "", ramSize: 32 << 20)) { error in
            XCTAssertTrue("\(error)".contains("kernel /k needs 33 MiB"), "\(error)")
        }
        XCTAssertNoThrow(try LinuxBoot(kernel: image, initrd: [], initrdAddress: 0, commandLine: "", ramSize: 33 << 20))
    }

    func testCommandLineLongerThanTheKernelTakes() throws {
        let image = try BzImage(path: "/k", bytes: LinuxBootFixtures.bzImage(version: 0x0205))
        XCTAssertNoThrow(try LinuxBoot(kernel: image, initrd: [], initrdAddress: 0, commandLine: String(repeating: "a", count: 255), ramSize: 64 << 20))
        XCTAssertThrowsError(try LinuxBoot(kernel: image, initrd: [], initrdAddress: 0, commandLine: String(repeating: "a", count: 256), ramSize: 64 << 20)) { error in
            XCTAssertTrue("\(error)".contains("256 bytes"), "\(error)")
            XCTAssertTrue("\(error)".contains("at most 255"), "\(error)")
        }
    }

    /// The fields boot.rst marks obligatory for a boot loader to write.
    func testSetupHeaderFilledInAsTheProtocolAsks() throws {
        let image = try BzImage(path: "k", bytes: LinuxBootFixtures.bzImage())
        let boot = try LinuxBoot(kernel: image, initrd: [1, 2, 3], initrdAddress: 0x3F0_0000, commandLine: "vga=0x317 ro", ramSize: 64 << 20)
        let s = boot.setup
        XCTAssertEqual(s[0x210], 0xFF, "type_of_loader: no assigned id")
        XCTAssertEqual(s[0x211], 0x81, "loadflags: LOADED_HIGH kept, CAN_USE_HEAP set")
        XCTAssertEqual(BzImage.read16(s, 0x224), 0xE000 - 0x200, "heap_end_ptr: heap end minus 200h")
        XCTAssertEqual(BzImage.read32(s, 0x228), 0x1_E000, "cmd_line_ptr: right after the heap")
        XCTAssertEqual(BzImage.read32(s, 0x218), 0x3F0_0000)
        XCTAssertEqual(BzImage.read32(s, 0x21C), 3)
        XCTAssertEqual(BzImage.read16(s, 0x1FA), 0x317, "vid_mode from vga=")
        XCTAssertEqual(Array(s[0x300...]), Array(image.setup[0x300...]), "the setup code itself is untouched")
        XCTAssertEqual(boot.commandLine, Array("vga=0x317 ro".utf8) + [0])
    }

    func testVideoModeFromTheCommandLine() throws {
        XCTAssertEqual(try LinuxBoot.videoMode("console=ttyS0"), 0xFFFF)
        XCTAssertEqual(try LinuxBoot.videoMode("vga=normal"), 0xFFFF)
        XCTAssertEqual(try LinuxBoot.videoMode("vga=ext"), 0xFFFE)
        XCTAssertEqual(try LinuxBoot.videoMode("vga=ask quiet"), 0xFFFD)
        XCTAssertEqual(try LinuxBoot.videoMode("vga=791"), 791)
        XCTAssertEqual(try LinuxBoot.videoMode("vga=0x317"), 0x317)
        XCTAssertEqual(try LinuxBoot.videoMode("vga=0777"), 0o777)
        XCTAssertEqual(try LinuxBoot.videoMode("vga=1 x vga=2"), 2, "the last one counts, as the kernel reads them")
        XCTAssertThrowsError(try LinuxBoot.videoMode("vga=big"))
    }

    // MARK: - fw_cfg

    func testItemsUnderQEMUKeysAndTheROMFirstInTheBootOrder() throws {
        let memory = try PhysicalMemory(ramSize: 64 << 20)
        let fwcfg = FirmwareConfig(memory: memory, ramSize: 64 << 20)
        fwcfg.addFile("bootorder", FirmwareConfig.bootOrder(["/pci@i0cf8/ide@1,1/drive@1/disk@0"]))
        let image = try BzImage(path: "k", bytes: LinuxBootFixtures.bzImage())
        let boot = try LinuxBoot(kernel: image, initrd: [9, 9], initrdAddress: 0x200_0000, commandLine: "quiet", ramSize: 64 << 20)
        boot.install(into: fwcfg)

        func item(_ key: UInt16, count: Int) -> [UInt8] {
            fwcfg.portWrite(0x510, size: 2, value: UInt32(key))
            return (0..<count).map { _ in UInt8(fwcfg.portRead(0x511, size: 1)) }
        }
        func le32(_ key: UInt16) -> UInt32 { BzImage.read32(item(key, count: 4), 0) }
        // docs/specs/fw_cfg.rst selector keys.
        XCTAssertEqual(le32(0x07), 0x10_0000, "KERNEL_ADDR")
        XCTAssertEqual(le32(0x08), UInt32(image.protectedMode.count), "KERNEL_SIZE")
        XCTAssertEqual(item(0x11, count: image.protectedMode.count), image.protectedMode, "KERNEL_DATA")
        XCTAssertEqual(le32(0x0A), 0x200_0000, "INITRD_ADDR")
        XCTAssertEqual(le32(0x0B), 2, "INITRD_SIZE")
        XCTAssertEqual(item(0x12, count: 2), [9, 9], "INITRD_DATA")
        XCTAssertEqual(le32(0x13), 0x1_E000, "CMDLINE_ADDR")
        XCTAssertEqual(le32(0x14), 6, "CMDLINE_SIZE counts the NUL")
        XCTAssertEqual(item(0x15, count: 6), Array("quiet".utf8) + [0], "CMDLINE_DATA")
        XCTAssertEqual(le32(0x16), 0x1_0000, "SETUP_ADDR")
        XCTAssertEqual(le32(0x17), UInt32(boot.setup.count), "SETUP_SIZE")
        XCTAssertEqual(item(0x18, count: boot.setup.count), boot.setup, "SETUP_DATA")

        XCTAssertEqual(fwcfg.file("genroms/novabox-linuxboot.bin"), LinuxLoaderROM.image())
        // SeaBIOS names a genroms/ ROM "/rom@<file name>" in the boot order.
        let order = String(decoding: fwcfg.file("bootorder") ?? [], as: UTF8.self)
        XCTAssertEqual(order, "/rom@genroms/novabox-linuxboot.bin\n/pci@i0cf8/ide@1,1/drive@1/disk@0\0")
    }

    // MARK: - Configuration

    func testInitrdOrAppendWithoutKernel() {
        var c = MachineConfiguration()
        c.initrdPath = "/tmp/initrd"
        XCTAssertThrowsError(try LinuxBoot.load(c)) { XCTAssertTrue("\($0)".contains("-initrd needs -kernel"), "\($0)") }
        c = MachineConfiguration()
        c.kernelCommandLine = "quiet"
        XCTAssertThrowsError(try LinuxBoot.load(c)) { XCTAssertTrue("\($0)".contains("-append needs -kernel"), "\($0)") }
        XCTAssertNil(try LinuxBoot.load(MachineConfiguration()))
    }

    /// The drives write the boot order too; the kernel must still come first.
    func testMachineWithADiskBootsTheKernelFirst() throws {
        guard FileManager.default.fileExists(atPath: MachineConfiguration.defaultBIOS) else {
            throw XCTSkip("SeaBIOS is not installed (apt-get install seabios)")
        }
        let tmp = FileManager.default.temporaryDirectory
        let kernel = tmp.appendingPathComponent("novabox-lb-kernel-\(getpid())").path
        let disk = tmp.appendingPathComponent("novabox-lb-disk-\(getpid()).img").path
        FileManager.default.createFile(atPath: kernel, contents: Data(LinuxBootFixtures.bzImage()))
        FileManager.default.createFile(atPath: disk, contents: Data(count: 1 << 20))
        defer { try? FileManager.default.removeItem(atPath: kernel); try? FileManager.default.removeItem(atPath: disk) }
        var c = MachineConfiguration()
        c.serial = .none
        c.kernelPath = kernel
        c.drives = [DriveConfiguration(path: disk, media: .disk, readOnly: true, index: 0)]
        c.bootOrder = "c"
        let machine = try Machine(c)
        let order = String(decoding: machine.board.firmwareConfig.file("bootorder") ?? [], as: UTF8.self)
        XCTAssertTrue(order.hasPrefix("/rom@genroms/novabox-linuxboot.bin\n/pci@i0cf8/ide@1,1/drive@0/disk@0"), order)
    }

    func testMissingKernelFile() {
        var c = MachineConfiguration()
        c.kernelPath = "/nonexistent/bzImage"
        XCTAssertThrowsError(try LinuxBoot.load(c)) { error in
            XCTAssertTrue("\(error)".contains("cannot read kernel /nonexistent/bzImage"), "\(error)")
        }
    }
}
