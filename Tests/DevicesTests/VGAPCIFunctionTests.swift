import Devices
import Foundation
import MMU
import XCTest

/// The VGA's PCI face: identity, BAR sizing per the PCI specification, the
/// linear framebuffer, the register BAR and the expansion ROM as SeaBIOS's
/// option ROM scan reads it.
final class VGAPCIFunctionTests: XCTestCase {
    var bench: VGABench!

    override func setUpWithError() throws { bench = try VGABench() }

    /// An option ROM image: 55AAh, its size in 512-byte blocks, then filler.
    private func romImage(bytes: Int) -> [UInt8] {
        var image = [UInt8](repeating: 0x90, count: bytes)
        image[0] = 0x55
        image[1] = 0xAA
        image[2] = UInt8(bytes / 512)
        return image
    }

    private func function(rom: [UInt8]) -> VGAPCIFunction {
        VGAPCIFunction(vga: bench.vga, memory: bench.memory, vgaBIOS: rom)
    }

    func testIdentity() {
        let pci = function(rom: romImage(bytes: 3072))
        XCTAssertEqual(pci.configRead(0x00, size: 4), 0x1111_1234)
        XCTAssertEqual(pci.configRead(0x08, size: 4) >> 8, 0x03_0000, "VGA-compatible display controller")
    }

    func testBARSizing() {
        let pci = function(rom: romImage(bytes: 3072))
        pci.configWrite(0x10, size: 4, value: 0xFFFF_FFFF)
        XCTAssertEqual(pci.configRead(0x10, size: 4), 0xFF00_0008, "16 MiB, 32-bit, prefetchable memory")
        pci.configWrite(0x18, size: 4, value: 0xFFFF_FFFF)
        XCTAssertEqual(pci.configRead(0x18, size: 4), 0xFFFF_F000, "4 KiB memory")
        XCTAssertEqual(pci.configRead(0x14, size: 4), 0, "BAR 1 is unused")
        // Expansion ROM sizing as SeaBIOS does it: all ones except the enable bit.
        pci.configWrite(0x30, size: 4, value: 0xFFFF_FFFE)
        XCTAssertEqual(pci.configRead(0x30, size: 4), 0xFFFF_F000, "3 KiB image decodes as 4 KiB")
        XCTAssertEqual(pci.romSize, 0x1000)
    }

    func testLinearFramebufferWritesLandInVideoMemory() {
        let pci = function(rom: romImage(bytes: 2048))
        pci.configWrite(0x10, size: 4, value: 0xE000_0000)
        XCTAssertEqual(bench.memory.read(0xE000_0000, size: 4), 0xFFFF_FFFF, "no decoding before the command register allows it")
        pci.configWrite(0x04, size: 2, value: 0x0003)
        bench.dispi(1, 800)
        bench.dispi(2, 600)
        bench.dispi(3, 32)
        bench.dispi(4, 0x41)
        let pixel = (10 * 800 + 5) * 4
        bench.memory.write(0xE000_0000 + UInt32(pixel), size: 4, value: 0x00FF_8040)
        XCTAssertEqual(UnsafeRawPointer(bench.vga.videoMemory + pixel).loadUnaligned(as: UInt32.self), 0x00FF_8040)
        XCTAssertNotNil(bench.memory.hostPointer(forWriting: 0xE000_0000), "the framebuffer is plain memory, no device call")
        // Moving the BAR moves the framebuffer.
        pci.configWrite(0x10, size: 4, value: 0xD000_0000)
        XCTAssertEqual(bench.memory.read(0xD000_0000 + UInt32(pixel), size: 4), 0x00FF_8040)
        XCTAssertEqual(bench.memory.read(0xE000_0000 + UInt32(pixel), size: 4), 0xFFFF_FFFF)
        pci.configWrite(0x04, size: 2, value: 0x0001)
        XCTAssertEqual(bench.memory.read(0xD000_0000, size: 4), 0xFFFF_FFFF, "memory decoding off")
    }

    func testSizingWithDecodingOnDoesNotCoverTheBIOS() {
        let bios = [UInt8](repeating: 0xEA, count: 0x10000)
        let biosOffset = bench.memory.addROM(bios)
        bench.memory.mapROM(at: 0xFFFF_0000, size: 0x10000, romOffset: biosOffset)
        let pci = function(rom: romImage(bytes: 2048))
        pci.configWrite(0x04, size: 2, value: 0x0003)
        pci.configWrite(0x10, size: 4, value: 0xFFFF_FFFF)
        pci.configWrite(0x10, size: 4, value: 0xE000_0000)
        XCTAssertEqual(bench.memory.read(0xFFFF_FFF0, size: 1), 0xEA)
    }

    func testROMBARServesTheImageWhenEnabled() {
        let image = romImage(bytes: 3072)
        let pci = function(rom: image)
        pci.configWrite(0x04, size: 2, value: 0x0002)
        pci.configWrite(0x30, size: 4, value: 0xFEB4_0000)
        XCTAssertEqual(bench.memory.read(0xFEB4_0000, size: 2), 0xFFFF, "ROM enable bit clear")
        pci.configWrite(0x30, size: 4, value: 0xFEB4_0001)
        XCTAssertEqual(pci.configRead(0x30, size: 4), 0xFEB4_0001)
        XCTAssertEqual(bench.memory.read(0xFEB4_0000, size: 2), 0xAA55)
        XCTAssertEqual(bench.memory.read(0xFEB4_0002, size: 1), 6, "size in 512-byte blocks")
        XCTAssertEqual(bench.memory.read(0xFEB4_0C00, size: 1), 0xFF, "past the image the ROM reads erased")
        bench.memory.write(0xFEB4_0000, size: 1, value: 0)
        XCTAssertEqual(bench.memory.read(0xFEB4_0000, size: 1), 0x55, "ROM ignores writes")
        pci.configWrite(0x30, size: 4, value: 0xFEB4_0000)
        XCTAssertEqual(bench.memory.read(0xFEB4_0000, size: 2), 0xFFFF)
    }

    /// SeaBIOS's map_pcirom accepts a ROM when its PCI data structure
    /// ("PCIR" at the offset in bytes 18h–19h) names the device's vendor and
    /// device ID and x86 code: check the VGA BIOS that ships with SeaBIOS.
    func testShippedVGABIOSMatchesTheFunction() throws {
        let path = "/usr/share/seabios/vgabios-stdvga.bin"
        guard let data = FileManager.default.contents(atPath: path) else { throw XCTSkip("\(path) not installed") }
        let pci = function(rom: [UInt8](data))
        XCTAssertEqual(pci.romSize, 0x10000)
        pci.configWrite(0x04, size: 2, value: 0x0003)
        pci.configWrite(0x30, size: 4, value: 0xFEB0_0001)
        let base: UInt32 = 0xFEB0_0000
        XCTAssertEqual(bench.memory.read(base, size: 2), 0xAA55)
        let pcir = base + bench.memory.read(base + 0x18, size: 2)
        XCTAssertEqual(bench.memory.read(pcir, size: 4), 0x5249_4350)   // "PCIR"
        XCTAssertEqual(bench.memory.read(pcir + 4, size: 2), UInt32(VGAPCIFunction.vendorID))
        XCTAssertEqual(bench.memory.read(pcir + 6, size: 2), UInt32(VGAPCIFunction.deviceID))
        XCTAssertEqual(bench.memory.read(pcir + 0x14, size: 1), 0, "x86 code")
        let blocks = Int(bench.memory.read(base + 2, size: 1))
        let sum = bench.memory.copyOut(base, count: blocks * 512).reduce(UInt8(0), &+)
        XCTAssertEqual(sum, 0, "option ROM checksum")
    }

    func testRegisterBARReachesDISPIAndVGARegisters() {
        let pci = function(rom: romImage(bytes: 2048))
        pci.configWrite(0x18, size: 4, value: 0xFEBF_0000)
        pci.configWrite(0x04, size: 2, value: 0x0002)
        let bar: UInt32 = 0xFEBF_0000
        XCTAssertEqual(bench.memory.read(bar + 0x500, size: 2), 0xB0C5, "DISPI ID at 500h")
        XCTAssertEqual(bench.memory.read(bar + 0x514, size: 2), 256, "VIDEO_MEMORY_64K at 500h + 2*0Ah")
        bench.memory.write(bar + 0x502, size: 2, value: 1280)
        XCTAssertEqual(bench.dispi(1), 1280)
        bench.memory.write(bar + 0x400 + 0x08, size: 1, value: 3)   // 3C8h: DAC write index
        bench.memory.write(bar + 0x400 + 0x09, size: 1, value: 0x2A)
        XCTAssertEqual(bench.inb(0x3C8), 3)
        XCTAssertEqual(bench.memory.read(bar + 0x000, size: 4), 0, "no EDID")
        XCTAssertEqual(bench.memory.read(bar + 0x600, size: 4), 8, "extension registers: 8 bytes")
        XCTAssertEqual(bench.memory.read(bar + 0x604, size: 4), 0x1E1E_1E1E, "little-endian framebuffer")
        bench.memory.write(bar + 0x604, size: 4, value: 0xBEBE_BEBE)
        XCTAssertTrue(bench.vga.framebufferIsBigEndian)
    }
}
