import Devices
import XCTest

/// The picture the scan-out produces, checked pixel by pixel against what
/// the VGA documentation says each mode shows.
final class VGARenderTests: XCTestCase {
    var bench: VGABench!

    override func setUpWithError() throws { bench = try VGABench() }

    private func setDAC(_ index: UInt8, _ red: UInt8, _ green: UInt8, _ blue: UInt8) {
        bench.outb(0x3C8, index)
        bench.outb(0x3C9, red)
        bench.outb(0x3C9, green)
        bench.outb(0x3C9, blue)
    }

    private func render() -> (pixels: [UInt32], width: Int, height: Int) {
        var pixels = [UInt32](repeating: 0, count: 2560 * 1600)
        let (width, height) = pixels.withUnsafeMutableBufferPointer { bench.vga.render(into: $0) }
        return (pixels, width, height)
    }

    /// Loads one glyph row into font block 0 the way a BIOS does, then restores text addressing.
    private func loadGlyphRow(_ character: UInt8, row: Int, _ bits: UInt8) {
        bench.sequencer(2, 0x04)
        bench.sequencer(4, 0x06)
        bench.graphics(5, 0x00)
        bench.graphics(6, 0x04)
        bench.writeByte(0xA0000 + UInt32(character) * 32 + UInt32(row), bits)
        bench.sequencer(2, 0x03)
        bench.sequencer(4, 0x02)
        bench.graphics(5, 0x10)
        bench.graphics(6, 0x0E)
    }

    func testTextCellsUseGlyphAttributePaletteAndDAC() {
        bench.program(.text80x25)
        setDAC(0x01, 0, 0, 0x2A)      // mode 3 palette: attribute 1 → DAC 1, blue
        setDAC(0x07, 0x2A, 0x2A, 0x2A)
        loadGlyphRow(0x41, row: 0, 0x81)
        loadGlyphRow(0xC4, row: 0, 0xFF)
        bench.memory.write(0xB8000, size: 2, value: 0x1741)   // 'A', grey on blue
        bench.memory.write(0xB8002, size: 2, value: 0x17C4)   // '─'
        let (pixels, width, height) = render()
        XCTAssertEqual(width, 720)
        XCTAssertEqual(height, 400)
        let grey: UInt32 = 0xFFAA_AAAA, blue: UInt32 = 0xFF00_00AA   // 6-bit 2Ah is 8-bit AAh
        XCTAssertEqual(Array(pixels[0..<9]), [grey, blue, blue, blue, blue, blue, blue, grey, blue],
                       "glyph bits left to right, ninth column background for letters")
        XCTAssertEqual(Array(pixels[9..<18]), [UInt32](repeating: grey, count: 9),
                       "line-drawing characters extend into the ninth column")
        XCTAssertEqual(pixels[width * 1], blue, "glyph row 1 is empty")
    }

    func testTextCursorCoversItsScanLines() {
        bench.program(.text80x25)
        setDAC(0x07, 0x3F, 0x3F, 0x3F)
        bench.memory.write(0xB8000 + 2 * 81, size: 2, value: 0x0720)   // row 1, column 1: a space
        bench.crtc(0x0E, 0)
        bench.crtc(0x0F, 81)
        let (pixels, width, _) = render()
        let cellLeft = 9, cellTop = 16
        XCTAssertEqual(pixels[(cellTop + 12) * width + cellLeft], 0xFF00_0000, "above the cursor lines")
        XCTAssertEqual(pixels[(cellTop + 13) * width + cellLeft], 0xFFFF_FFFF, "cursor from line 13")
        XCTAssertEqual(pixels[(cellTop + 14) * width + cellLeft + 8], 0xFFFF_FFFF, "to line 14")
        XCTAssertEqual(pixels[(cellTop + 15) * width + cellLeft], 0xFF00_0000)
    }

    func testMode13hPixelsGoThroughTheDAC() {
        bench.program(.chained320x200)
        setDAC(0x20, 0x3F, 0, 0)
        bench.writeByte(0xA0000 + 3 * 320 + 5, 0x20)
        let (pixels, width, height) = render()
        XCTAssertEqual(width, 320)
        XCTAssertEqual(height, 200)
        XCTAssertEqual(pixels[3 * 320 + 5], 0xFFFF_0000)
        XCTAssertEqual(pixels[3 * 320 + 4], 0xFF00_0000)
        XCTAssertEqual(pixels[2 * 320 + 5], 0xFF00_0000)
    }

    func testMode12hPixelsComeFromFourPlanes() {
        bench.program(.planar640x480)
        setDAC(0x3C, 0x3F, 0x3F, 0)   // colour 12 → palette register 3Ch → yellow here
        bench.graphics(0, 0x0C)
        bench.graphics(1, 0x0F)
        bench.graphics(8, 0x80)
        bench.writeByte(0xA0000 + 2 * 80 + 1, 0)   // x 8, y 2
        let (pixels, width, height) = render()
        XCTAssertEqual(width, 640)
        XCTAssertEqual(height, 480)
        XCTAssertEqual(pixels[2 * 640 + 8], 0xFFFF_FF00)
        XCTAssertEqual(pixels[2 * 640 + 9], 0xFF00_0000)
    }

    func testCGAModeInterleavesScanLinesAndTwoBitPixels() {
        bench.program(.cga320x200)
        setDAC(0x13, 0x3F, 0, 0)
        setDAC(0x15, 0, 0x3F, 0)
        setDAC(0x17, 0, 0, 0x3F)
        bench.writeByte(0xB8000, 0b11_10_01_00)   // line 0, pixels 0–3: colours 3, 2, 1, 0
        bench.writeByte(0xB8001, 0b00_01_10_11)   // pixels 4–7
        bench.writeByte(0xBA000, 0b01_00_00_00)   // line 1 lives 8 KiB further
        let (pixels, width, height) = render()
        XCTAssertEqual(width, 320)
        XCTAssertEqual(height, 200)
        let (red, green, blue, black): (UInt32, UInt32, UInt32, UInt32) = (0xFFFF_0000, 0xFF00_FF00, 0xFF00_00FF, 0xFF00_0000)
        XCTAssertEqual(Array(pixels[0..<8]), [blue, green, red, black, black, red, green, blue])
        XCTAssertEqual(Array(pixels[320..<322]), [red, black])
    }

    func testVBEPackedPixelFormats() {
        bench.dispi(3, 32)
        bench.dispi(1, 640)
        bench.dispi(2, 480)
        bench.dispi(4, 0x41)
        bench.outb(0x3C0, 0x20)
        UnsafeMutableRawPointer(bench.vga.videoMemory + (10 * 640 + 5) * 4).storeBytes(of: 0x0012_3456, as: UInt32.self)
        var (pixels, width, height) = render()
        XCTAssertEqual(width, 640)
        XCTAssertEqual(height, 480)
        XCTAssertEqual(pixels[10 * 640 + 5], 0xFF12_3456, "32 bpp: B, G, R, X bytes")
        bench.dispi(9, 1)   // pan down one line
        pixels = render().pixels
        XCTAssertEqual(pixels[9 * 640 + 5], 0xFF12_3456)

        bench.dispi(4, 0)
        bench.dispi(3, 16)
        bench.dispi(4, 0x41)
        UnsafeMutableRawPointer(bench.vga.videoMemory).storeBytes(of: 0xF800, as: UInt16.self)
        UnsafeMutableRawPointer(bench.vga.videoMemory + 2).storeBytes(of: 0x07E0, as: UInt16.self)
        pixels = render().pixels
        XCTAssertEqual(Array(pixels[0..<2]), [0xFFFF_0000, 0xFF00_FF00], "16 bpp is 5:6:5")

        bench.dispi(4, 0)
        bench.dispi(3, 15)
        bench.dispi(4, 0x41)
        UnsafeMutableRawPointer(bench.vga.videoMemory).storeBytes(of: 0x7C00, as: UInt16.self)
        UnsafeMutableRawPointer(bench.vga.videoMemory + 2).storeBytes(of: 0x001F, as: UInt16.self)
        pixels = render().pixels
        XCTAssertEqual(Array(pixels[0..<2]), [0xFFFF_0000, 0xFF00_00FF], "15 bpp is 5:5:5")

        bench.dispi(4, 0)
        bench.dispi(3, 24)
        bench.dispi(4, 0x41)
        for (i, b) in [0x56, 0x34, 0x12].enumerated() { bench.vga.videoMemory[i] = UInt8(b) }
        pixels = render().pixels
        XCTAssertEqual(pixels[0], 0xFF12_3456, "24 bpp: B, G, R bytes")
    }

    func testPaletteAddressSourceClearBlanksThePicture() {
        bench.program(.chained320x200)
        setDAC(0, 0x3F, 0x3F, 0x3F)
        XCTAssertEqual(render().pixels[0], 0xFFFF_FFFF)
        _ = bench.inb(0x3DA)
        bench.outb(0x3C0, 0x00)
        XCTAssertEqual(render().pixels[0], 0xFF00_0000)
    }

    func testTooSmallBufferIsLeftAlone() {
        bench.program(.chained320x200)
        var pixels = [UInt32](repeating: 7, count: 100)
        let size = pixels.withUnsafeMutableBufferPointer { bench.vga.render(into: $0) }
        XCTAssertEqual(size.width, 320)
        XCTAssertEqual(size.height, 200)
        XCTAssertEqual(pixels[0], 7)
    }

    /// A snapshot keeps the registers of its instant: a mode switch and a
    /// palette change after it show only in the next snapshot, while video
    /// memory is shared (written pixels show in both).
    func testScanoutSnapshotKeepsItsRegistersButSharesVideoMemory() {
        bench.program(.chained320x200)
        setDAC(5, 0x3F, 0, 0)
        setDAC(0xFF, 0x3F, 0x3F, 0x3F)
        bench.writeByte(0xA0000, 5)
        let before = bench.vga.scanout
        setDAC(5, 0, 0x3F, 0)
        bench.program(.planar640x480)
        XCTAssertEqual(before.mode, .indexed256(width: 320, height: 200))
        XCTAssertEqual(bench.vga.mode, .planar16(width: 640, height: 480))
        var pixels = [UInt32](repeating: 0, count: 320 * 200)
        _ = pixels.withUnsafeMutableBufferPointer { before.render(into: $0) }
        XCTAssertEqual(pixels[0], 0xFFFF_0000, "the snapshot's DAC entry 5 is red")
        // A mode-12h write fills plane 0's first byte; the old snapshot reads it as chain-4 pixel FFh.
        bench.writeByte(0xA0000, 0xFF)
        _ = pixels.withUnsafeMutableBufferPointer { before.render(into: $0) }
        XCTAssertEqual(pixels[0], 0xFFFF_FFFF)
    }
}
