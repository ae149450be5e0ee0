/// Turns video memory into pixels for a front end, the way the VGA's
/// scan-out does: the CRTC's address counter fetches four plane bytes per
/// character clock, the graphics controller's shift registers turn them
/// into colour indexes (text glyphs, 4-bit planar, CGA interleave or 8-bit),
/// the attribute controller maps 4-bit indexes through its palette, and the
/// DAC gives the colour. VBE modes read packed pixels straight from VRAM.
///
/// The picture is produced at its logical size (320×200 for mode 13h, not
/// the 640×400 the monitor sees), every pixel as 0xFFRRGGBB. Text blinks
/// as `blink` says (see `BlinkPhase`). Not modelled: horizontal panning,
/// the line-compare split screen, the overscan border, and blinking in
/// graphics modes.
extension VGAScanout {
    /// Draws the picture into `pixels`, row after row, and returns its
    /// size; with `lines`, only the picture lines whose flag is set (the
    /// others keep what `pixels` held). Draws nothing when `pixels` holds
    /// fewer than width × height or `lines` fewer than height flags.
    @discardableResult
    public func render(into pixels: UnsafeMutableBufferPointer<UInt32>, blink: BlinkPhase = .steady,
                       lines: UnsafeBufferPointer<Bool>? = nil) -> (width: Int, height: Int) {
        let mode = self.mode
        let (width, height) = (mode.width, mode.height)
        guard let out = pixels.baseAddress, width > 0, height > 0, pixels.count >= width * height,
              (lines?.count ?? height) >= height else {
            return (width, height)
        }
        let lines = lines.map { LineSelection.some($0.baseAddress!) } ?? .all
        // Palette address source clear (palette being loaded) or screen off
        // (SR1 bit 5): the VGA shows no picture.
        if attributeAddress & 0x20 == 0 || sequencer[1] & 0x20 != 0 {
            for y in 0..<height where lines.contains(y) { (out + y * width).update(repeating: 0xFF00_0000, count: width) }
            return (width, height)
        }
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 256 + 16) { colors in
            let dacColors = colors.baseAddress!
            let attributeColors = dacColors + 256
            for i in 0..<256 { dacColors[i] = dac.rgb(UInt8(i)) }
            for i in 0..<16 { attributeColors[i] = dacColors[Int(attributeDACIndex(UInt8(i)))] }
            switch mode {
            case .text(let columns, let rows, let cellWidth, let cellHeight):
                renderText(out, columns: columns, rows: rows, cellWidth: cellWidth, cellHeight: cellHeight,
                           colors: attributeColors, blink: blink, lines: lines)
            case .planar16:
                renderPlanar(out, width: width, height: height, colors: attributeColors, lines: lines)
            case .indexed256:
                renderIndexed(out, width: width, height: height, colors: dacColors, lines: lines)
            case .vbe(_, _, let depth) where depth == 4:
                renderVBEPlanar(out, width: width, height: height, colors: attributeColors, lines: lines)
            case .vbe(_, _, let depth):
                renderVBEPacked(out, width: width, height: height, depth: depth, colors: dacColors, lines: lines)
            }
        }
        return (width, height)
    }

    /// The DAC entry a 4-bit colour selects: colour plane enable (AR12),
    /// the palette register, then bits 4–5 from AR14 if AR10 bit 7 says so,
    /// and bits 6–7 always from AR14.
    func attributeDACIndex(_ color: UInt8) -> UInt8 {
        var index = attribute[Int(color & attribute[0x12] & 0x0F)]
        if attribute[0x10] & 0x80 != 0 { index = (index & 0x0F) | (attribute[0x14] & 0x03) << 4 }
        return index | (attribute[0x14] & 0x0C) << 4
    }

    /// Scan lines of a character row that show distinct memory, and how
    /// many lines of the picture each of them is (see `mode`).
    var linesPerPixelRow: Int { crtc[0x17] & 0x03 == 0x03 ? characterHeight : 1 }

    /// Counter value at the start of picture line `y` and the row scan to fetch it with.
    func lineStart(_ y: Int, linesPerPixelRow: Int) -> (counter: Int, rowScan: Int) {
        let scanLine = y * linesPerPixelRow
        let row = scanLine / characterHeight
        return (startAddress + row * rowStride, scanLine % characterHeight)
    }

    private func renderText(_ out: UnsafeMutablePointer<UInt32>, columns: Int, rows: Int, cellWidth: Int,
                            cellHeight: Int, colors: UnsafeMutablePointer<UInt32>, blink: BlinkPhase,
                            lines: LineSelection) {
        let width = columns * cellWidth
        // Character map select: map A for attribute bit 3 set, map B for clear.
        let select = sequencer[3]
        let mapA = Int(select >> 5 & 1) << 2 | Int(select >> 2 & 3)
        let mapB = Int(select >> 4 & 1) << 2 | Int(select & 3)
        func fontBase(_ map: Int) -> Int { (map & 3) * 0x4000 + (map >> 2) * 0x2000 }
        let (fontA, fontB) = (fontBase(mapA), fontBase(mapB))
        let lineGraphics = attribute[0x10] & 0x04 != 0
        let blinkAttribute = attribute[0x10] & 0x08 != 0
        let underlineScan = Int(crtc[0x14] & 0x1F)
        let cursorLocation = Int(crtc[0x0E]) << 8 | Int(crtc[0x0F])
        let cursorFirst = Int(crtc[0x0A] & 0x1F), cursorLast = Int(crtc[0x0B] & 0x1F)
        let cursorOn = crtc[0x0A] & 0x20 == 0 && blink.cursorShown
        // In the blink's off phase a blinking character is all background.
        let hideBlinking = blinkAttribute && !blink.blinkingTextShown
        for y in 0..<rows * cellHeight where lines.contains(y) {
            let rowScan = y % cellHeight
            let rowCounter = startAddress + (y / cellHeight) * rowStride
            var pixel = out + y * width
            for column in 0..<columns {
                let counter = (rowCounter + column) & 0xFFFF
                let cell = planes(at: scanOutAddress(counter, rowScan: rowScan))
                let character = Int(cell & 0xFF)
                let cellAttribute = UInt8(truncatingIfNeeded: cell >> 8)
                let font = cellAttribute & 0x08 != 0 ? fontA : fontB
                let hidden = hideBlinking && cellAttribute & 0x80 != 0
                var glyph = hidden ? 0 : videoMemory[(font + character * 32 + rowScan) << 2 | 2]
                // Underline and cursor cover the whole cell, ninth column included.
                let underline = !hidden && cellAttribute & 0x77 == 0x01 && rowScan == underlineScan
                let cursor = cursorOn && counter == cursorLocation && rowScan >= cursorFirst && rowScan <= cursorLast
                if underline || cursor { glyph = 0xFF }
                let foreground = colors[Int(cellAttribute & 0x0F)]
                let background = colors[Int(cellAttribute >> 4 & (blinkAttribute ? 0x07 : 0x0F))]
                for bit in 0..<8 {
                    pixel[bit] = glyph & (0x80 >> bit) != 0 ? foreground : background
                }
                if cellWidth == 9 {
                    // Box-drawing characters C0h–DFh extend their last column into the ninth.
                    let extend = underline || cursor || (lineGraphics && character & 0xE0 == 0xC0 && glyph & 1 != 0)
                    pixel[8] = extend ? foreground : background
                }
                pixel += cellWidth
            }
        }
    }

    private func renderPlanar(_ out: UnsafeMutablePointer<UInt32>, width: Int, height: Int,
                              colors: UnsafeMutablePointer<UInt32>, lines: LineSelection) {
        let interleave = graphics[5] & 0x20 != 0
        let repeatRows = linesPerPixelRow
        for y in 0..<height where lines.contains(y) {
            let (rowCounter, rowScan) = lineStart(y, linesPerPixelRow: repeatRows)
            var pixel = out + y * width
            for clock in 0..<width / 8 {
                let bytes = planes(at: scanOutAddress((rowCounter + clock) & 0xFFFF, rowScan: rowScan))
                if interleave {
                    // CGA 4-colour: 2-bit pixels, four from plane 0 (with
                    // plane 2 as the high bits), then four from plane 1 (and 3).
                    for i in 0..<8 {
                        let low = i < 4 ? bytes : bytes >> 8
                        let shift = UInt32(6 - 2 * (i & 3))
                        let color = (low >> shift) & 3 | ((low >> 16) >> shift & 3) << 2
                        pixel[i] = colors[Int(color)]
                    }
                } else {
                    for i in 0..<8 {
                        let shift = UInt32(7 - i)
                        let color = (bytes >> shift) & 1 | (bytes >> (shift + 7)) & 2
                            | (bytes >> (shift + 14)) & 4 | (bytes >> (shift + 21)) & 8
                        pixel[i] = colors[Int(color)]
                    }
                }
                pixel += 8
            }
        }
    }

    private func renderIndexed(_ out: UnsafeMutablePointer<UInt32>, width: Int, height: Int,
                               colors: UnsafeMutablePointer<UInt32>, lines: LineSelection) {
        let repeatRows = linesPerPixelRow
        for y in 0..<height where lines.contains(y) {
            let (rowCounter, rowScan) = lineStart(y, linesPerPixelRow: repeatRows)
            var pixel = out + y * width
            for clock in 0..<width / 4 {
                let bytes = planes(at: scanOutAddress((rowCounter + clock) & 0xFFFF, rowScan: rowScan))
                for i in 0..<4 { pixel[i] = colors[Int(bytes >> (8 * UInt32(i)) & 0xFF)] }
                pixel += 4
            }
        }
    }

    /// VBE 4-bit planar: eight pixels per plane byte, lines `virtualWidth / 8` plane bytes apart.
    private func renderVBEPlanar(_ out: UnsafeMutablePointer<UInt32>, width: Int, height: Int,
                                 colors: UnsafeMutablePointer<UInt32>, lines: LineSelection) {
        let planeSize = VGA.videoMemorySize / 4
        let lineStride = Int(vbe.virtualWidth) / 8
        let start = vbe.displayStart / 4
        for y in 0..<height where lines.contains(y) {
            let pixel = out + y * width
            let line = start + y * lineStride
            guard line + width / 8 <= planeSize else {
                pixel.update(repeating: 0xFF00_0000, count: width)
                continue
            }
            for group in 0..<width / 8 {
                let bytes = planes(at: line + group)
                for i in 0..<8 {
                    let shift = UInt32(7 - i)
                    let color = (bytes >> shift) & 1 | (bytes >> (shift + 7)) & 2
                        | (bytes >> (shift + 14)) & 4 | (bytes >> (shift + 21)) & 8
                    pixel[group * 8 + i] = colors[Int(color)]
                }
            }
        }
    }

    /// VBE packed pixels: 8-bit through the DAC, 15-bit 5:5:5, 16-bit
    /// 5:6:5, 24-bit B,G,R bytes and 32-bit B,G,R,X bytes (little-endian),
    /// or byte-reversed when the guest chose a big-endian framebuffer.
    private func renderVBEPacked(_ out: UnsafeMutablePointer<UInt32>, width: Int, height: Int, depth: Int,
                                 colors: UnsafeMutablePointer<UInt32>, lines: LineSelection) {
        let bytesPerPixel = vbe.bytesPerPixel
        let lineStride = vbe.bytesPerLine
        let start = vbe.displayStart
        let bigEndian = framebufferIsBigEndian
        func expand5(_ c: UInt32) -> UInt32 { c << 3 | c >> 2 }
        func expand6(_ c: UInt32) -> UInt32 { c << 2 | c >> 4 }
        for y in 0..<height where lines.contains(y) {
            let pixel = out + y * width
            let line = start + y * lineStride
            guard line + width * bytesPerPixel <= VGA.videoMemorySize else {
                pixel.update(repeating: 0xFF00_0000, count: width)
                continue
            }
            let source = UnsafeRawPointer(videoMemory + line)
            switch depth {
            case 8:
                for x in 0..<width { pixel[x] = colors[Int(source.load(fromByteOffset: x, as: UInt8.self))] }
            case 15, 16:
                for x in 0..<width {
                    var v = UInt32(source.loadUnaligned(fromByteOffset: 2 * x, as: UInt16.self))
                    if bigEndian { v = UInt32(UInt16(truncatingIfNeeded: v).byteSwapped) }
                    let (red, green, blue) = depth == 15
                        ? (expand5(v >> 10 & 0x1F), expand5(v >> 5 & 0x1F), expand5(v & 0x1F))
                        : (expand5(v >> 11 & 0x1F), expand6(v >> 5 & 0x3F), expand5(v & 0x1F))
                    pixel[x] = 0xFF00_0000 | red << 16 | green << 8 | blue
                }
            case 24:
                for x in 0..<width {
                    let b0 = UInt32(source.load(fromByteOffset: 3 * x, as: UInt8.self))
                    let b1 = UInt32(source.load(fromByteOffset: 3 * x + 1, as: UInt8.self))
                    let b2 = UInt32(source.load(fromByteOffset: 3 * x + 2, as: UInt8.self))
                    pixel[x] = 0xFF00_0000 | (bigEndian ? b0 << 16 | b1 << 8 | b2 : b2 << 16 | b1 << 8 | b0)
                }
            default:
                for x in 0..<width {
                    let v = source.loadUnaligned(fromByteOffset: 4 * x, as: UInt32.self)
                    pixel[x] = 0xFF00_0000 | (bigEndian ? v.byteSwapped : v)
                }
            }
        }
    }
}

/// The picture lines a render draws: all, or those flagged in a caller's table.
enum LineSelection {
    case all
    case some(UnsafePointer<Bool>)

    @inline(__always)
    func contains(_ y: Int) -> Bool {
        switch self {
        case .all: return true
        case .some(let flags): return flags[y]
        }
    }
}
