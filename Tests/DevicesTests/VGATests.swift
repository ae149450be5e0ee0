@testable import Devices
import XCTest

/// VGA registers, text mode and the display description, checked against
/// IBM's VGA register documentation and the standard BIOS mode tables.
final class VGATests: XCTestCase {
    var bench: VGABench!

    override func setUpWithError() throws { bench = try VGABench() }

    // MARK: Text mode

    func testTextModeCharactersAndAttributesGoToPlanesZeroAndOne() {
        bench.program(.text80x25)
        // A word store at B8000h: character at the even byte, attribute at the odd one.
        bench.memory.write(0xB8000, size: 2, value: 0x0741)
        bench.memory.write(0xB8002, size: 2, value: 0x1F42)
        // Odd/even: even addresses reach plane 0, odd ones plane 1, both at
        // the even offset the CRTC's word mode scans.
        XCTAssertEqual(bench.plane(0, 0), 0x41)
        XCTAssertEqual(bench.plane(1, 0), 0x07)
        XCTAssertEqual(bench.plane(0, 2), 0x42)
        XCTAssertEqual(bench.plane(1, 2), 0x1F)
        XCTAssertEqual(bench.plane(2, 0), 0x00, "the font plane is not written in odd/even text mode")
        XCTAssertEqual(bench.memory.read(0xB8000, size: 2), 0x0741)
        XCTAssertEqual(bench.memory.read(0xB8002, size: 2), 0x1F42)
    }

    func testTextScreenShowsCharactersAttributesAndCursor() throws {
        bench.program(.text80x25)
        for (i, c) in "Hello".utf8.enumerated() {
            bench.memory.write(0xB8000 + 160 + UInt32(2 * i), size: 2, value: 0x0700 | UInt32(c))
        }
        bench.memory.write(0xB8000 + 160 * 24 + 2 * 79, size: 2, value: 0x4EDB)   // █ in the last cell
        // Cursor at row 1, column 5: CRTC counter 85; lines 13–14 as the BIOS sets.
        bench.crtc(0x0E, 0x00)
        bench.crtc(0x0F, 85)
        let screen = try XCTUnwrap(bench.vga.textScreen())
        XCTAssertEqual(screen.columns, 80)
        XCTAssertEqual(screen.rows, 25)
        XCTAssertEqual(screen.characterHeight, 16)
        XCTAssertEqual(screen.lines.count, 25)
        XCTAssertTrue(screen.lines[1].hasPrefix("Hello "))
        XCTAssertEqual(screen.lines[24].last, "█")
        XCTAssertEqual(screen[24, 79], TextScreen.Cell(character: 0xDB, attribute: 0x4E))
        XCTAssertEqual(screen[1, 0].attribute, 0x07)
        XCTAssertEqual(screen.cursor, TextScreen.Cursor(row: 1, column: 5, firstScanLine: 13, lastScanLine: 14,
                                                        isVisible: true))
        XCTAssertEqual(bench.vga.mode, .text(columns: 80, rows: 25, cellWidth: 9, cellHeight: 16))
    }

    func testTextScreenFollowsStartAddressAndCursorDisable() throws {
        bench.program(.text80x25)
        // Page 1 starts 4 KiB into the buffer: start address 2048 in character units.
        bench.memory.write(0xB9000, size: 2, value: 0x0750)
        bench.crtc(0x0C, 0x08)
        bench.crtc(0x0D, 0x00)
        bench.crtc(0x0A, 0x20)   // cursor off
        bench.crtc(0x0E, 0x08)
        bench.crtc(0x0F, 0x00)
        let screen = try XCTUnwrap(bench.vga.textScreen())
        XCTAssertEqual(screen.lines[0].first, "P")
        XCTAssertEqual(screen.cursor?.row, 0)
        XCTAssertEqual(screen.cursor?.isVisible, false)
    }

    func testFontLoadThroughPlaneTwoLeavesTextAlone() {
        bench.program(.text80x25)
        bench.memory.write(0xB8000, size: 2, value: 0x0741)
        // What a BIOS does to load glyphs: plane 2 only, sequential
        // addressing, A0000h 64 KiB map, read map 2.
        bench.sequencer(2, 0x04)
        bench.sequencer(4, 0x06)
        bench.graphics(4, 0x02)
        bench.graphics(5, 0x00)
        bench.graphics(6, 0x04)
        bench.writeByte(0xA0000 + 0x41 * 32 + 3, 0x7E)   // row 3 of glyph 'A'
        XCTAssertEqual(bench.plane(2, 0x41 * 32 + 3), 0x7E)
        XCTAssertEqual(bench.readByte(0xA0000 + 0x41 * 32 + 3), 0x7E)
        XCTAssertEqual(bench.plane(0, 0), 0x41)
        XCTAssertEqual(bench.plane(1, 0), 0x07)
    }

    func testGraphicsModesHaveNoTextScreen() {
        bench.program(.chained320x200)
        XCTAssertNil(bench.vga.textScreen())
        XCTAssertEqual(bench.vga.mode, .indexed256(width: 320, height: 200))
        bench.program(.planar640x480)
        XCTAssertEqual(bench.vga.mode, .planar16(width: 640, height: 480))
    }

    // MARK: Memory map select and RAM enable

    func testMemoryMapSelectDecidesWhichWindowDecodes() {
        bench.program(.text80x25)   // GR6 map 3: B8000h, 32 KiB
        bench.writeByte(0xA0000, 0x55)
        XCTAssertEqual(bench.readByte(0xA0000), 0xFF, "A0000h does not decode in the B8000h map")
        XCTAssertEqual(bench.readByte(0xB0000), 0xFF)
        bench.graphics(6, 0x0A)   // map 2: B0000h, 32 KiB
        bench.writeByte(0xB0000, 0x33)
        XCTAssertEqual(bench.plane(0, 0), 0x33)
        XCTAssertEqual(bench.readByte(0xB8000), 0xFF)
        bench.graphics(6, 0x04)   // map 1: A0000h, 64 KiB, sequential addressing
        bench.sequencer(4, 0x06)
        bench.graphics(5, 0x00)
        XCTAssertEqual(bench.readByte(0xB0000), 0xFF)
        bench.graphics(6, 0x00)   // map 0: the whole 128 KiB
        bench.graphics(4, 0x00)
        XCTAssertEqual(bench.readByte(0xB0000), 0x33, "B0000h is offset 10000h of the 128 KiB window, wrapping in 64 KiB planes")
    }

    func testMiscOutputRAMEnableGatesCPUAccess() {
        bench.program(.planar640x480)
        bench.writeByte(0xA0000, 0x12)
        bench.outb(0x3C2, 0xE1)   // RAM enable (bit 1) off
        XCTAssertEqual(bench.readByte(0xA0000), 0xFF)
        bench.writeByte(0xA0000, 0x34)
        bench.outb(0x3C2, 0xE3)
        XCTAssertEqual(bench.readByte(0xA0000), 0x12)
    }

    // MARK: Ports

    func testAttributeFlipFlopIsResetByReadingInputStatus1() {
        bench.program(.text80x25)
        _ = bench.inb(0x3DA)
        bench.outb(0x3C0, 0x14)   // index: colour select
        bench.outb(0x3C0, 0x05)   // data
        XCTAssertEqual(bench.vga.attribute[0x14], 0x05)
        bench.outb(0x3C0, 0x34)   // index again: flip-flop alternates
        XCTAssertEqual(bench.inb(0x3C1), 0x05)
        // Leave the flip-flop expecting data, then reset it: the next write is an index.
        _ = bench.inb(0x3DA)
        bench.outb(0x3C0, 0x33)
        XCTAssertEqual(bench.inb(0x3C0), 0x33, "3C0h reads back the index with the palette address source bit")
        XCTAssertEqual(bench.vga.attribute[0x14], 0x05, "0x33 went to the index, not to register 14h")
        bench.outb(0x3C0, 0x01)
        XCTAssertEqual(bench.vga.attribute[0x13], 0x01)
    }

    func testPaletteRegistersAreLockedWhileThePictureShows() {
        _ = bench.inb(0x3DA)
        bench.outb(0x3C0, 0x02)   // palette address source clear
        bench.outb(0x3C0, 0x2A)
        bench.outb(0x3C0, 0x22)   // source set: the palette is in use
        bench.outb(0x3C0, 0x15)
        XCTAssertEqual(bench.vga.attribute[2], 0x2A)
    }

    func testWordWriteToIndexPortWritesIndexThenData() {
        bench.outw(0x3C4, 0x0F02)   // SR2 (map mask) = 0Fh
        XCTAssertEqual(bench.vga.sequencer[2], 0x0F)
        bench.outw(0x3CE, 0xFF08)   // GR8 (bit mask) = FFh
        XCTAssertEqual(bench.vga.graphics[8], 0xFF)
        bench.outb(0x3C4, 0x04)
        bench.outb(0x3C5, 0xFF)
        XCTAssertEqual(bench.inb(0x3C5), 0x0E, "only memory-mode bits 1-3 exist")
    }

    func testDACStepsThroughRedGreenBlueAndAutoIncrements() {
        bench.outb(0x3C8, 5)
        for v: UInt8 in [10, 20, 30, 40, 50, 0xFF] { bench.outb(0x3C9, v) }
        XCTAssertEqual(bench.inb(0x3C8), 7, "write index moved past both entries")
        XCTAssertEqual(bench.inb(0x3C7), 0x00, "DAC state: write mode")
        bench.outb(0x3C7, 5)
        XCTAssertEqual(bench.inb(0x3C7), 0x03, "DAC state: read mode")
        let read = (0..<6).map { _ in bench.inb(0x3C9) }
        XCTAssertEqual(read, [10, 20, 30, 40, 50, 0x3F], "components are 6 bits wide")
        // Reading continues into entry 7 without a new index.
        XCTAssertEqual(bench.inb(0x3C9), 0)
    }

    func testCRTCProtectBitLocksTimingRegisters() {
        bench.outb(0x3C2, 0x67)
        bench.crtc(0x11, 0x80)
        bench.crtc(0x00, 0x5F)
        bench.crtc(0x07, 0x1F)
        bench.crtc(0x09, 0x4F)
        XCTAssertEqual(bench.vga.crtc[0x00], 0x00)
        XCTAssertEqual(bench.vga.crtc[0x07], 0x10, "only the line compare bit of CR07 stays writable")
        XCTAssertEqual(bench.vga.crtc[0x09], 0x4F)
    }

    func testMonochromeAndColourCRTCAddresses() {
        bench.outb(0x3C2, 0x66)   // bit 0 clear: CRTC at 3B4h/3B5h
        bench.outb(0x3B4, 0x0E)
        bench.outb(0x3B5, 0x12)
        XCTAssertEqual(bench.vga.crtc[0x0E], 0x12)
        XCTAssertEqual(bench.inb(0x3D5), 0xFF, "the colour block is silent in monochrome mode")
        bench.outb(0x3C2, 0x67)
        bench.outb(0x3D4, 0x0E)
        XCTAssertEqual(bench.inb(0x3D5), 0x12)
        XCTAssertEqual(bench.inb(0x3CC), 0x67, "misc output reads back at 3CCh")
    }

    func testInputStatus1FollowsRetraceTiming() {
        bench.outb(0x3C2, 0x67)
        let line: UInt64 = 31_778
        bench.clock.instructions = 100 * line   // line 100, start: picture
        XCTAssertEqual(bench.inb(0x3DA) & 0x09, 0x00)
        bench.clock.instructions = 100 * line + 30_000   // right border / horizontal blank
        XCTAssertEqual(bench.inb(0x3DA) & 0x09, 0x01)
        bench.clock.instructions = 412 * line + 10   // vertical retrace
        XCTAssertEqual(bench.inb(0x3DA) & 0x09, 0x09)
        bench.clock.instructions = 420 * line   // vertical blank after retrace
        XCTAssertEqual(bench.inb(0x3DA) & 0x09, 0x01)
        bench.clock.instructions = 449 * line + 5   // next frame
        XCTAssertEqual(bench.inb(0x3DA) & 0x09, 0x00)
    }

    func testCodePage437() {
        XCTAssertEqual(CodePage437.characters.count, 256)
        XCTAssertEqual(CodePage437.character(0x01), "☺")
        XCTAssertEqual(CodePage437.character(0x41), "A")
        XCTAssertEqual(CodePage437.character(0x7F), "⌂")
        XCTAssertEqual(CodePage437.character(0x80), "Ç")
        XCTAssertEqual(CodePage437.character(0xB0), "░")
        XCTAssertEqual(CodePage437.character(0xC4), "─")
        XCTAssertEqual(CodePage437.character(0xDB), "█")
        XCTAssertEqual(CodePage437.character(0xE1), "ß")
        XCTAssertEqual(CodePage437.character(0xFE), "■")
    }
}
