/// How the VGA currently turns video memory into a picture, with the
/// picture's size in pixels (text modes also in character cells).
public enum DisplayMode: Equatable, Sendable {
    /// Characters and attributes from planes 0/1, glyphs from plane 2.
    case text(columns: Int, rows: Int, cellWidth: Int, cellHeight: Int)
    /// Four bit planes, 16 colours through the attribute palette (also the
    /// CGA-compatible 4- and 2-colour modes).
    case planar16(width: Int, height: Int)
    /// One byte per pixel through the DAC: mode 13h (chain-4) and the
    /// unchained "mode X" variants.
    case indexed256(width: Int, height: Int)
    /// A Bochs VBE mode: packed pixels of 8, 15, 16, 24 or 32 bits, or 4-bit planar.
    case vbe(width: Int, height: Int, bitsPerPixel: Int)

    public var width: Int {
        switch self {
        case .text(let columns, _, let cellWidth, _): return columns * cellWidth
        case .planar16(let width, _), .indexed256(let width, _), .vbe(let width, _, _): return width
        }
    }

    public var height: Int {
        switch self {
        case .text(_, let rows, _, let cellHeight): return rows * cellHeight
        case .planar16(_, let height), .indexed256(_, let height), .vbe(_, let height, _): return height
        }
    }
}
