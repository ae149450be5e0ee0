@testable import Devices
import XCTest

/// The Bochs VBE (DISPI) interface as SeaBIOS's VGA BIOS and Linux's
/// bochs-drm driver use it: register numbers, ID handshake, capabilities,
/// mode set and the banked window.
final class VGAVBETests: XCTestCase {
    var bench: VGABench!

    override func setUpWithError() throws { bench = try VGABench() }

    enum Index {
        static let id: UInt16 = 0, xres: UInt16 = 1, yres: UInt16 = 2, bpp: UInt16 = 3, enable: UInt16 = 4
        static let bank: UInt16 = 5, virtWidth: UInt16 = 6, virtHeight: UInt16 = 7
        static let xOffset: UInt16 = 8, yOffset: UInt16 = 9, videoMemory64K: UInt16 = 10
    }

    enum Enable {
        static let enabled: UInt16 = 0x01, getCaps: UInt16 = 0x02, dac8: UInt16 = 0x20
        static let lfb: UInt16 = 0x40, noClear: UInt16 = 0x80
    }

    func testIDHandshake() {
        // Linux reads the ID without writing it first and checks B0Cxh.
        XCTAssertEqual(bench.dispi(Index.id), 0xB0C5)
        // SeaBIOS writes ID0, expects it back, then selects ID5.
        bench.dispi(Index.id, 0xB0C0)
        XCTAssertEqual(bench.dispi(Index.id), 0xB0C0)
        bench.dispi(Index.id, 0xB0C5)
        XCTAssertEqual(bench.dispi(Index.id), 0xB0C5)
        bench.dispi(Index.id, 0xB0C6)
        XCTAssertEqual(bench.dispi(Index.id), 0xB0C5, "revisions past B0C5h do not exist")
        XCTAssertEqual(bench.dispi(Index.videoMemory64K), 256, "16 MiB in 64 KiB units")
        XCTAssertEqual(bench.dispi(0x0B), 0, "no register past VIDEO_MEMORY_64K")
    }

    func testGetCapsShowsMaximaWithoutChangingTheMode() {
        bench.dispi(Index.xres, 1024)
        bench.dispi(Index.enable, Enable.getCaps)
        XCTAssertEqual(bench.dispi(Index.xres), 2560)
        XCTAssertEqual(bench.dispi(Index.yres), 1600)
        XCTAssertEqual(bench.dispi(Index.bpp), 32)
        bench.dispi(Index.enable, 0)
        XCTAssertEqual(bench.dispi(Index.xres), 1024)
    }

    func testModeSetWithLinearFramebuffer() {
        bench.vga.videoMemory[0] = 0xAA
        bench.dispi(Index.enable, 0)
        bench.dispi(Index.bpp, 32)
        bench.dispi(Index.xres, 800)
        bench.dispi(Index.yres, 600)
        bench.dispi(Index.bank, 0)
        bench.dispi(Index.enable, Enable.enabled | Enable.lfb)
        XCTAssertEqual(bench.vga.mode, .vbe(width: 800, height: 600, bitsPerPixel: 32))
        XCTAssertEqual(bench.dispi(Index.enable), Enable.enabled | Enable.lfb)
        XCTAssertEqual(bench.dispi(Index.virtWidth), 800)
        XCTAssertEqual(bench.dispi(Index.virtHeight), UInt16((16 << 20) / 3200), "lines of 3200 bytes in 16 MiB")
        XCTAssertEqual(bench.vga.videoMemory[0], 0, "enabling without NOCLEARMEM clears the screen")
        XCTAssertNil(bench.vga.textScreen())
    }

    func testNoClearMemKeepsVideoMemory() {
        bench.vga.videoMemory[100] = 0x5A
        bench.dispi(Index.enable, Enable.enabled | Enable.noClear)
        XCTAssertEqual(bench.vga.videoMemory[100], 0x5A)
    }

    func testImpossibleValuesAreCorrected() {
        bench.dispi(Index.bpp, 12)
        XCTAssertEqual(bench.dispi(Index.bpp), 8)
        bench.dispi(Index.xres, 60_000)
        XCTAssertEqual(bench.dispi(Index.xres), 2560)
        bench.dispi(Index.xres, 801)
        XCTAssertEqual(bench.dispi(Index.xres), 800, "widths are whole 8-pixel groups")
        bench.dispi(Index.bpp, 32)
        bench.dispi(Index.yres, 600)
        bench.dispi(Index.enable, Enable.enabled)
        bench.dispi(Index.yOffset, 60_000)
        XCTAssertEqual(bench.dispi(Index.yOffset), 0, "panning past video memory is refused")
        bench.dispi(Index.yOffset, 600)
        XCTAssertEqual(bench.dispi(Index.yOffset), 600, "a second page fits")
        bench.dispi(Index.bank, 0xFFFF)
        XCTAssertEqual(bench.dispi(Index.bank), 0xFF, "banks past 16 MiB wrap")
    }

    func testBankedWindowShowsVideoMemoryInPackedModes() {
        bench.outb(0x3C2, 0x63)
        bench.dispi(Index.bpp, 8)
        bench.dispi(Index.xres, 640)
        bench.dispi(Index.yres, 480)
        bench.dispi(Index.enable, Enable.enabled)
        bench.writeByte(0xA0000, 0x11)
        bench.dispi(Index.bank, 3)
        bench.writeByte(0xA0005, 0x22)
        bench.memory.write(0xA0010, size: 4, value: 0x4433_2211)
        XCTAssertEqual(bench.vga.videoMemory[0], 0x11)
        XCTAssertEqual(bench.vga.videoMemory[3 * 0x10000 + 5], 0x22)
        XCTAssertEqual((0x10..<0x14).map { bench.vga.videoMemory[3 * 0x10000 + $0] }, [0x11, 0x22, 0x33, 0x44])
        XCTAssertEqual(bench.readByte(0xA0005), 0x22)
        XCTAssertEqual(bench.readByte(0xB0000), 0xFF, "the bank window is 64 KiB at A0000h")
    }

    func testPlanarVBEModeBanksPlaneOffsets() {
        bench.program(.planar640x480)
        bench.dispi(Index.bpp, 4)
        bench.dispi(Index.xres, 1024)
        bench.dispi(Index.yres, 768)
        bench.dispi(Index.enable, Enable.enabled)
        bench.dispi(Index.bank, 1)
        bench.sequencer(2, 0x04)
        bench.writeByte(0xA0020, 0x99)
        XCTAssertEqual(bench.plane(2, 0x10020), 0x99, "bank 1 is plane offset 64 KiB")
        XCTAssertEqual(bench.vga.mode, .vbe(width: 1024, height: 768, bitsPerPixel: 4))
    }

    func testEightBitDAC() {
        bench.dispi(Index.enable, Enable.enabled | Enable.dac8)
        bench.outb(0x3C8, 1)
        for v: UInt8 in [0xFF, 0x80, 0x41] { bench.outb(0x3C9, v) }
        bench.outb(0x3C7, 1)
        XCTAssertEqual((0..<3).map { _ in bench.inb(0x3C9) }, [0xFF, 0x80, 0x41])
    }

    func testDwordAccessAtIndexPortWritesIndexAndData() {
        bench.bus.write(0x1CE, size: 4, value: UInt32(1024) << 16 | UInt32(Index.xres))
        XCTAssertEqual(bench.dispi(Index.xres), 1024)
        XCTAssertEqual(bench.bus.read(0x1D0, size: 2), 1024, "1D0h is a second data port")
    }
}
