@testable import Devices
import MMU
import XCTest

/// The kept picture: a guest's writes, wherever they come from, redraw the
/// lines that show them and no others, and the picture always equals a
/// whole render of the same state; and text blinks at the VGA's rates.
final class VGAPictureTests: XCTestCase {
    var bench: VGABench!
    let picture = VGAPicture()

    override func setUpWithError() throws { bench = try VGABench() }

    /// Updates the kept picture from the card as a front end does.
    @discardableResult
    func update(blink: BlinkPhase = .steady) -> Range<Int>? {
        picture.update(from: bench.vga.scanout, changes: bench.vga.takeMemoryChanges(), blink: blink)
    }

    /// The picture a fresh, whole render of the card gives.
    func wholeRender(blink: BlinkPhase = .steady) -> [UInt32] {
        var pixels = [UInt32](repeating: 0, count: picture.width * picture.height)
        pixels.withUnsafeMutableBufferPointer { _ = bench.vga.scanout.render(into: $0, blink: blink) }
        return pixels
    }

    func assertPictureIsWholeRender(blink: BlinkPhase = .steady, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(Array(picture.pixels[0..<picture.width * picture.height]) == wholeRender(blink: blink),
                      "the kept picture differs from a whole render", file: file, line: line)
    }

    func setUpText() {
        bench.program(.text80x25)
        for i in 0..<16 { bench.outb(0x3C8, UInt8(i)); for c in [i * 4, 63 - i * 4, i * 2] { bench.outb(0x3C9, UInt8(c)) } }
        // A font: glyph c is the bit pattern c on every line.
        bench.sequencer(2, 0x04); bench.sequencer(4, 0x06); bench.graphics(5, 0x00); bench.graphics(6, 0x04)
        for c in 0..<256 { for row in 0..<16 { bench.writeByte(0xA0000 + UInt32(c * 32 + row), UInt8(c)) } }
        bench.sequencer(2, 0x03); bench.sequencer(4, 0x02); bench.graphics(5, 0x10); bench.graphics(6, 0x0E)
        for cell in 0..<80 * 25 { bench.memory.write(0xB8000 + UInt32(2 * cell), size: 2, value: UInt32(0x0700 | cell & 0xFF)) }
    }

    func setCursor(_ location: Int) {
        bench.crtc(0x0E, UInt8(location >> 8))
        bench.crtc(0x0F, UInt8(location & 0xFF))
    }

    // MARK: - Change tracking

    func testFirstPictureIsWholeAndAStillScreenRedrawsNothing() {
        setUpText()
        XCTAssertEqual(update(), 0..<400)
        assertPictureIsWholeRender()
        XCTAssertNil(update(), "nothing written, nothing redrawn")
        // Registers a guest changes while drawing are not part of the picture.
        bench.sequencer(2, 0x0F)
        bench.graphics(8, 0x55)
        bench.graphics(5, 0x12)
        XCTAssertNil(update())
    }

    /// Mode 3 keeps row r's cells at B8000h + 160 r (IBM's text layout):
    /// a character written on row 10 redraws that row's 16 lines.
    func testTextWriteRedrawsItsRowOnly() {
        setUpText()
        update()
        bench.memory.write(0xB8000 + 160 * 10 + 2 * 7, size: 2, value: 0x1E41)
        let lines = update()
        XCTAssertNotNil(lines)
        XCTAssertTrue(lines.map { $0.contains(10 * 16) && $0.contains(10 * 16 + 15) } ?? false, "\(String(describing: lines))")
        // Page granularity: a 4 KiB page of VRAM is 1024 plane offsets, about 6 rows; never the whole screen.
        XCTAssertLessThanOrEqual(lines?.count ?? 0, 8 * 16)
        assertPictureIsWholeRender()
    }

    /// A new glyph can show on every row: a write to plane 2 of the font in use redraws all.
    func testFontChangeRedrawsEverything() {
        setUpText()
        update()
        bench.sequencer(2, 0x04); bench.sequencer(4, 0x06); bench.graphics(5, 0x00); bench.graphics(6, 0x04)
        bench.writeByte(0xA0000 + 0x41 * 32 + 3, 0xFF)
        bench.sequencer(2, 0x03); bench.sequencer(4, 0x02); bench.graphics(5, 0x10); bench.graphics(6, 0x0E)
        XCTAssertEqual(update(), 0..<400)
        assertPictureIsWholeRender()
    }

    func testPaletteChangeRedrawsEverything() {
        setUpText()
        update()
        bench.outb(0x3C8, 7)
        for c: UInt8 in [10, 20, 30] { bench.outb(0x3C9, c) }
        XCTAssertEqual(update(), 0..<400)
        assertPictureIsWholeRender()
    }

    func testCursorMoveRedrawsTheRowsItLeftAndEntered() {
        setUpText()
        setCursor(80 * 3 + 5)
        update()
        setCursor(80 * 20 + 5)
        let lines = update()
        XCTAssertEqual(lines, 3 * 16 ..< 21 * 16, "row 3 and row 20, and what lies between them in the range")
        assertPictureIsWholeRender()
    }

    /// Mode 12h: 80 bytes per line in each plane at A0000h; a write through
    /// the map mask lands on its line, and a many-write picture kept line by
    /// line ends equal to a whole render.
    func testPlanarWritesRedrawTheirLines() {
        bench.program(.planar640x480)
        for i in 0..<16 { bench.outb(0x3C8, UInt8(i)); for c in [i * 4, 0, 63 - i * 4] { bench.outb(0x3C9, UInt8(c)) } }
        XCTAssertEqual(update(), 0..<480)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            for _ in 0..<50 {
                bench.sequencer(2, UInt8.random(in: 1...15, using: &generator))
                bench.writeByte(0xA0000 + UInt32.random(in: 0..<38400, using: &generator), UInt8.random(in: 0...255, using: &generator))
            }
            update()
            assertPictureIsWholeRender()
        }
        bench.sequencer(2, 0x0F)
        bench.writeByte(0xA0000 + 80 * 300, 0xFF)
        let lines = update()
        XCTAssertTrue(lines?.contains(300) ?? false)
        XCTAssertLessThanOrEqual(lines?.count ?? 0, 14, "a page holds 12.8 lines of 80 plane bytes")
    }

    /// The linear framebuffer is host memory the CPU writes without the
    /// VGA: the memory map's own marks must bring its writes to the picture,
    /// from plain stores, string instructions' host pointers and DMA.
    func testLinearFramebufferWritesAreSeen() {
        let framebuffer: UInt32 = 0xE000_0000
        bench.memory.mapDeviceMemory(at: framebuffer, size: UInt32(VGA.videoMemorySize),
                                     arenaOffset: bench.vga.videoMemoryArenaOffset)
        bench.dispi(1, 1024); bench.dispi(2, 768); bench.dispi(3, 32); bench.dispi(4, 0x41)
        bench.outb(0x3C0, 0x20)
        XCTAssertEqual(update(), 0..<768)
        XCTAssertNil(update())

        bench.memory.write(framebuffer + 4096 * 100 + 8, size: 4, value: 0x00AB_CDEF)
        XCTAssertEqual(update(), 100..<101, "a 1024-pixel line of 32 bpp is one page")
        XCTAssertEqual(picture.pixels[100 * 1024 + 2], 0xFFAB_CDEF)

        let pointer = bench.memory.hostPointer(forWriting: framebuffer + 4096 * 200)!
        UnsafeMutableRawPointer(pointer).storeBytes(of: 0x0012_3456, as: UInt32.self)
        XCTAssertEqual(update(), 200..<201)

        let bytes: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
        bytes.withUnsafeBytes { bench.memory.copyIn(framebuffer + 4096 * 300 - 4, from: $0) }
        XCTAssertEqual(update(), 299..<301, "a copy across two pages")
        assertPictureIsWholeRender()
    }

    // MARK: - Blink

    /// IBM's VGA: the cursor blinks every 16 vertical syncs (8 on, 8 off),
    /// blinking characters every 32 (16 on, 16 off), at the text modes'
    /// 70 Hz: a frame is 449 lines of 31.778 µs.
    func testBlinkRatesAreTheVGAs() {
        let frame = 449 * 31_778.0
        func phase(atFrame n: Double) -> BlinkPhase { BlinkPhase(atNanoseconds: UInt64((n + 0.5) * frame)) }
        XCTAssertEqual(phase(atFrame: 0), .steady)
        XCTAssertEqual(phase(atFrame: 7), .steady)
        XCTAssertEqual(phase(atFrame: 8), BlinkPhase(cursorShown: false, blinkingTextShown: true))
        XCTAssertEqual(phase(atFrame: 16), BlinkPhase(cursorShown: true, blinkingTextShown: false))
        XCTAssertEqual(phase(atFrame: 31), BlinkPhase(cursorShown: false, blinkingTextShown: false))
        XCTAssertEqual(phase(atFrame: 32), .steady)
        // About 4.4 cursor cycles a second.
        XCTAssertEqual(1e9 / (16 * frame), 4.38, accuracy: 0.01)
    }

    /// Attribute bit 7 blinks when AR10 bit 3 is set: in the off phase the
    /// cell shows its background only. With the bit clear, bit 7 is the
    /// background's intensity and the character always shows.
    func testBlinkingCharactersHideInTheOffPhase() {
        setUpText()
        bench.memory.write(0xB8000 + 160 * 2, size: 2, value: 0x9AFF)   // glyph FFh: all foreground, blinking
        let off = BlinkPhase(cursorShown: true, blinkingTextShown: false)
        update()
        let foreground = picture.pixels[2 * 16 * 720]
        XCTAssertEqual(update(blink: off), 2 * 16 ..< 3 * 16, "the row with the blinking character")
        let hidden = picture.pixels[2 * 16 * 720]
        XCTAssertNotEqual(hidden, foreground)
        assertPictureIsWholeRender(blink: off)
        XCTAssertEqual(update(blink: .steady), 2 * 16 ..< 3 * 16)
        XCTAssertEqual(picture.pixels[2 * 16 * 720], foreground)

        _ = bench.inb(0x3DA)
        bench.outb(0x3C0, 0x30)          // AR10 with the palette address source kept on
        bench.outb(0x3C0, 0x04)          // blink off: bit 7 is background intensity
        update()
        XCTAssertEqual(picture.pixels[2 * 16 * 720], foreground, "the glyph is foreground")
        XCTAssertNil(update(blink: off), "nothing blinks")
        assertPictureIsWholeRender(blink: off)
    }

    func testCursorHidesInTheOffPhase() {
        setUpText()
        bench.memory.write(0xB8000 + 160 * 4, size: 2, value: 0x0700)   // glyph 0: background only
        bench.crtc(0x0A, 0); bench.crtc(0x0B, 15)
        setCursor(80 * 4)
        update()
        let cursor = picture.pixels[4 * 16 * 720]
        let off = BlinkPhase(cursorShown: false, blinkingTextShown: true)
        XCTAssertEqual(update(blink: off), 4 * 16 ..< 5 * 16)
        XCTAssertNotEqual(picture.pixels[4 * 16 * 720], cursor)
        assertPictureIsWholeRender(blink: off)
    }
}
