/// The display side of the VGA as the CRTC and attribute controller
/// describe it: which mode is showing, how large it is, and where in the
/// planes each character or pixel group is fetched from.
///
/// The CRTC walks a character-clock counter: it starts each frame at the
/// start address (CR0C/CR0D), steps once per character clock, and advances
/// by twice the offset register (CR13) per character row. Before reaching
/// memory the counter is rotated by the addressing mode (byte, word or
/// doubleword; CR17 bit 6, CR14 bit 6), which is what makes the CPU's
/// odd/even and chain-4 layouts come out in order.
extension VGAScanout {
    /// Character clocks in a displayed line (CR01 + 1).
    var displayedCharacterClocks: Int { Int(crtc[0x01]) + 1 }

    /// Scan lines in the displayed area: CR12 plus bits 8 and 9 from CR07.
    var displayedScanLines: Int {
        let end = Int(crtc[0x12]) | Int(crtc[0x07] & 0x02) << 7 | Int(crtc[0x07] & 0x40) << 3
        return end + 1
    }

    /// Scan lines per character row (maximum scan line, CR09 bits 0–4, plus one).
    var characterHeight: Int { Int(crtc[0x09] & 0x1F) + 1 }

    /// Rows of memory shown after 200-line modes' scan doubling (CR09 bit 7).
    var scannedLines: Int { displayedScanLines / (crtc[0x09] & 0x80 != 0 ? 2 : 1) }

    var startAddress: Int { Int(crtc[0x0C]) << 8 | Int(crtc[0x0D]) }

    /// Counter steps from one character row to the next.
    var rowStride: Int { Int(crtc[0x13]) * 2 }

    /// The plane offset the CRTC fetches for counter value `counter` on
    /// scan line `rowScan` of a character row.
    func scanOutAddress(_ counter: Int, rowScan: Int) -> Int {
        let mode = crtc[0x17]
        var address: Int
        if crtc[0x14] & 0x40 != 0 {
            address = counter << 2 | (counter >> 14) & 3
        } else if mode & 0x40 == 0 {
            address = counter << 1 | (counter >> (mode & 0x20 != 0 ? 15 : 13)) & 1
        } else {
            address = counter
        }
        // CGA-compatible modes interleave scan lines in memory: row scan
        // bits 0 and 1 replace address bits 13 and 14.
        if mode & 0x01 == 0 { address = address & ~0x2000 | (rowScan & 1) << 13 }
        if mode & 0x02 == 0 { address = address & ~0x4000 | (rowScan & 2) << 13 }
        return address & 0xFFFF
    }

    /// The four plane bytes at plane offset `offset`, plane 0 in the low byte.
    func planes(at offset: Int) -> UInt32 {
        UnsafeRawPointer(videoMemory + offset << 2).load(as: UInt32.self)
    }

    public var mode: DisplayMode {
        if vbe.isEnabled {
            return .vbe(width: Int(vbe.width), height: Int(vbe.height), bitsPerPixel: Int(vbe.depth))
        }
        if attribute[0x10] & 0x01 == 0 {
            return .text(columns: displayedCharacterClocks, rows: max(1, scannedLines / characterHeight),
                         cellWidth: sequencer[1] & 0x01 != 0 ? 8 : 9, cellHeight: characterHeight)
        }
        // Without scan-line interleave every line of a character row shows
        // the same memory, so a row is one line of the picture (mode 13h
        // sets two scan lines per row to double its 200 lines).
        let linesPerPixelRow = crtc[0x17] & 0x03 == 0x03 ? characterHeight : 1
        let height = max(1, scannedLines / linesPerPixelRow)
        if graphics[5] & 0x40 != 0 {
            return .indexed256(width: displayedCharacterClocks * 4, height: height)
        }
        return .planar16(width: displayedCharacterClocks * 8, height: height)
    }

    /// The text screen, or nil in graphics and VBE modes.
    public func textScreen() -> TextScreen? {
        guard case .text(let columns, let rows, _, let height) = mode else { return nil }
        var cells = [TextScreen.Cell]()
        cells.reserveCapacity(columns * rows)
        for row in 0..<rows {
            for column in 0..<columns {
                let counter = (startAddress + row * rowStride + column) & 0xFFFF
                let word = planes(at: scanOutAddress(counter, rowScan: 0))
                cells.append(TextScreen.Cell(character: UInt8(truncatingIfNeeded: word),
                                             attribute: UInt8(truncatingIfNeeded: word >> 8)))
            }
        }
        return TextScreen(columns: columns, rows: rows, characterHeight: height, cells: cells,
                          cursor: cursor(columns: columns, rows: rows))
    }

    func cursor(columns: Int, rows: Int) -> TextScreen.Cursor? {
        let location = Int(crtc[0x0E]) << 8 | Int(crtc[0x0F])
        let distance = (location - startAddress) & 0xFFFF
        let (row, column) = rowStride == 0 ? (0, distance) : distance.quotientAndRemainder(dividingBy: rowStride)
        guard row < rows && column < columns else { return nil }
        let first = Int(crtc[0x0A] & 0x1F), last = Int(crtc[0x0B] & 0x1F)
        return TextScreen.Cursor(row: row, column: column, firstScanLine: first, lastScanLine: last,
                                 isVisible: crtc[0x0A] & 0x20 == 0 && first <= last)
    }
}
