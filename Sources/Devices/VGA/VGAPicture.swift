/// The VGA's picture as a front end keeps it between frames, redrawn only
/// where it can have changed.
///
/// Each update gets a scan-out snapshot, the video memory pages written
/// since the last one (`VideoMemoryChanges`) and the blink phase. When the
/// mode, a register the picture depends on or a colour differs from the
/// last picture, everything is drawn again (that is rare: mode sets,
/// palette fades). Otherwise only the lines that fetch a written page are,
/// plus in text modes the rows the cursor left and entered, the rows with
/// blinking characters when the blink flips, and the whole screen when the
/// glyphs of a font in use changed. Registers a guest changes while
/// drawing (map mask, bit mask, write mode, the VBE bank) are not part of
/// the picture and cost nothing. An unchanged screen costs a comparison of
/// registers and one look per line at the change marks.
public final class VGAPicture {
    /// 0xFFRRGGBB, row after row, `width` × `height` of them in use.
    public private(set) var pixels: [UInt32] = []
    public private(set) var width = 0
    public private(set) var height = 0

    /// What the pixels were drawn from.
    private var drawn: (layout: PictureLayout, cursor: [UInt8], blink: BlinkPhase, scanout: VGAScanout)?
    /// Per picture line: draw it in this update.
    private var redraw: [Bool] = []

    public init() {}

    /// Brings the picture up to `scanout`; returns the picture lines that
    /// were drawn, or nil when none needed to be.
    public func update(from scanout: VGAScanout, changes: VideoMemoryChanges, blink: BlinkPhase) -> Range<Int>? {
        let layout = PictureLayout(scanout)
        let cursor = [0x0A, 0x0B, 0x0E, 0x0F].map { scanout.crtc[$0] }
        let mode = layout.mode
        let needed = mode.width * mode.height
        if pixels.count < needed { pixels = [UInt32](repeating: 0xFF00_0000, count: needed) }
        if redraw.count < mode.height { redraw = [Bool](repeating: false, count: mode.height) }
        defer { drawn = (layout, cursor, blink, scanout) }

        guard let last = drawn, last.layout == layout else {
            width = mode.width
            height = mode.height
            pixels.withUnsafeMutableBufferPointer { _ = scanout.render(into: $0, blink: blink) }
            return 0..<height
        }
        let any = redraw.withUnsafeMutableBufferPointer { flags in
            flags.update(repeating: false)
            scanout.markLines(in: flags.baseAddress!, changes: changes)
            if case .text = mode {
                scanout.markTextRows(in: flags.baseAddress!, cursorMoved: last.cursor != cursor, from: last.scanout,
                                     cursorBlinked: last.blink.cursorShown != blink.cursorShown,
                                     textBlinked: last.blink.blinkingTextShown != blink.blinkingTextShown)
            }
            return flags[0..<height].contains(true)
        }
        guard any else { return nil }
        let first = redraw.firstIndex(of: true)!
        let end = redraw[0..<height].lastIndex(of: true)! + 1
        redraw.withUnsafeBufferPointer { flags in
            pixels.withUnsafeMutableBufferPointer { _ = scanout.render(into: $0, blink: blink, lines: flags) }
        }
        return first..<end
    }
}

/// Everything besides video memory that decides the picture, except the
/// cursor: registers the guest sets once per mode, and the colours.
struct PictureLayout: Equatable {
    let mode: DisplayMode
    let shows: Bool
    let characterMapSelect: UInt8
    let shiftMode: UInt8
    let attribute: [UInt8]
    /// The CRTC with the cursor registers (0Ah, 0Bh, 0Eh, 0Fh) zeroed.
    let crtc: [UInt8]
    let vbeStart: Int
    let vbeLineBytes: Int
    let bigEndian: Bool
    /// The DAC's 256 colours as the scan-out sees them (PEL mask and width applied).
    let colors: [UInt32]

    init(_ scanout: VGAScanout) {
        mode = scanout.mode
        shows = scanout.attributeAddress & 0x20 != 0 && scanout.sequencer[1] & 0x20 == 0
        characterMapSelect = scanout.sequencer[3]
        shiftMode = scanout.graphics[5] & 0x60
        attribute = scanout.attribute
        var crtc = scanout.crtc
        for i in [0x0A, 0x0B, 0x0E, 0x0F] { crtc[i] = 0 }
        self.crtc = crtc
        vbeStart = scanout.vbe.displayStart
        vbeLineBytes = scanout.vbe.bytesPerLine
        bigEndian = scanout.framebufferIsBigEndian
        colors = (0..<256).map { scanout.dac.rgb(UInt8($0)) }
    }
}

extension VGAScanout {
    /// Flags every picture line that fetches a VRAM page in `changes`.
    func markLines(in flags: UnsafeMutablePointer<Bool>, changes: VideoMemoryChanges) {
        let mode = self.mode
        switch mode {
        case .text(let columns, let rows, _, let cellHeight):
            // Glyphs are plane 2 of the two font blocks selected: a change there can show anywhere.
            let select = sequencer[3]
            for map in [Int(select >> 5 & 1) << 2 | Int(select >> 2 & 3), Int(select >> 4 & 1) << 2 | Int(select & 3)] {
                let base = (map & 3) * 0x4000 + (map >> 2) * 0x2000
                if changes.touch(base << 2 ..< (base + 0x2000) << 2, planes: 0x04) {
                    flags.update(repeating: true, count: rows * cellHeight)
                    return
                }
            }
            for row in 0..<rows {
                let counter = startAddress + row * rowStride
                if touches(changes, counters: counter, count: columns, rowScan: 0, planes: 0x03) {
                    (flags + row * cellHeight).update(repeating: true, count: cellHeight)
                }
            }
        case .planar16(let width, let height), .indexed256(let width, let height):
            let clocks: Int
            if case .planar16 = mode { clocks = width / 8 } else { clocks = width / 4 }
            let repeatRows = linesPerPixelRow
            for y in 0..<height {
                let (counter, rowScan) = lineStart(y, linesPerPixelRow: repeatRows)
                if touches(changes, counters: counter, count: clocks, rowScan: rowScan, planes: 0x0F) { flags[y] = true }
            }
        case .vbe(let width, let height, let depth):
            // Packed pixels: a line's bytes; 4-bit planar: its plane offsets, four VRAM bytes each.
            let lineBytes = depth == 4 ? width / 2 : width * vbe.bytesPerPixel
            for y in 0..<height {
                let start = vbe.displayStart + y * vbe.bytesPerLine
                if changes.touch(start ..< start + lineBytes) { flags[y] = true }
            }
        }
    }

    /// Whether the `count` character clocks from `counter` fetch a page with
    /// a change to `planes` (any change when their addresses wrap around).
    private func touches(_ changes: VideoMemoryChanges, counters counter: Int, count: Int, rowScan: Int,
                         planes: UInt8) -> Bool {
        guard count > 0 else { return false }
        let first = scanOutAddress(counter & 0xFFFF, rowScan: rowScan)
        let last = scanOutAddress((counter + count - 1) & 0xFFFF, rowScan: rowScan)
        guard last >= first, last - first < 4 * count else { return true }
        return changes.touch(first << 2 ..< (last + 1) << 2, planes: planes)
    }

    /// Flags the text rows the cursor left (in `previous`) and entered when
    /// it moved or blinked, and the rows holding blinking characters when
    /// the character blink flipped.
    func markTextRows(in flags: UnsafeMutablePointer<Bool>, cursorMoved: Bool, from previous: VGAScanout,
                      cursorBlinked: Bool, textBlinked: Bool) {
        guard case .text(let columns, let rows, _, let cellHeight) = mode else { return }
        if cursorMoved || cursorBlinked {
            for row in [previous.cursor(columns: columns, rows: rows)?.row, cursor(columns: columns, rows: rows)?.row] {
                if let row, row < rows { (flags + row * cellHeight).update(repeating: true, count: cellHeight) }
            }
        }
        guard textBlinked, attribute[0x10] & 0x08 != 0 else { return }
        for row in 0..<rows {
            let counter = startAddress + row * rowStride
            for column in 0..<columns where planes(at: scanOutAddress((counter + column) & 0xFFFF, rowScan: 0)) & 0x8000 != 0 {
                (flags + row * cellHeight).update(repeating: true, count: cellHeight)
                break
            }
        }
    }
}
