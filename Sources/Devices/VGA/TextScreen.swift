/// What a VGA text mode shows, read out of video memory: the character and
/// attribute of every cell and where the cursor is. Front ends without a
/// window print it; tests read it to see what the guest wrote.
public struct TextScreen: Equatable, Sendable {
    public struct Cell: Equatable, Sendable {
        /// Code page 437 character code.
        public var character: UInt8
        /// Foreground colour in bits 0–3, background in bits 4–6, and in
        /// bit 7 blink or background intensity (attribute mode control bit 3).
        public var attribute: UInt8

        public init(character: UInt8, attribute: UInt8) {
            self.character = character
            self.attribute = attribute
        }
    }

    public struct Cursor: Equatable, Sendable {
        public var row: Int
        public var column: Int
        /// Scan lines of the cell the cursor covers (CRTC 0Ah/0Bh).
        public var firstScanLine: Int
        public var lastScanLine: Int
        /// False when software turned the cursor off (CRTC 0Ah bit 5) or
        /// its first line lies below its last, which the VGA shows as no cursor.
        public var isVisible: Bool
    }

    public let columns: Int
    public let rows: Int
    /// Scan lines per character row.
    public let characterHeight: Int
    /// Row after row, `columns` cells each.
    public let cells: [Cell]
    /// Nil when the cursor address lies outside the displayed screen.
    public let cursor: Cursor?

    public subscript(row: Int, column: Int) -> Cell { cells[row * columns + column] }

    /// Each row as text, code page 437 translated to Unicode.
    public var lines: [String] {
        (0..<rows).map { row in
            String(cells[row * columns ..< (row + 1) * columns].map { CodePage437.character($0.character) })
        }
    }
}
