/// The Bochs VBE extension ("DISPI" interface) of QEMU's standard VGA: a
/// handful of 16-bit registers, selected through an index at port 1CEh and
/// moved through the data port 1CFh, that set a packed-pixel or 4-bit planar
/// mode of any size directly, with no CRTC timing to program. SeaBIOS's VGA
/// BIOS builds its VESA BIOS Extensions on it; Linux's bochs-drm driver
/// drives it directly.
///
/// The registers always describe a mode that fits video memory: values are
/// corrected as they are written (as QEMU's card does) rather than trusted,
/// so a guest can never make the scan-out run past the end of VRAM.
struct BochsVBE {
    enum Register: UInt16 {
        case id = 0, xResolution, yResolution, bitsPerPixel, enable, bank
        case virtualWidth, virtualHeight, xOffset, yOffset, videoMemory64K
    }

    /// Bits of the ENABLE register.
    static let enabledBit: UInt16 = 0x01
    /// While set, XRES/YRES/BPP read back the card's maxima instead.
    static let getCapabilitiesBit: UInt16 = 0x02
    static let eightBitDACBit: UInt16 = 0x20
    static let linearFramebufferBit: UInt16 = 0x40
    static let noClearMemoryBit: UInt16 = 0x80

    /// Interface revisions a guest may select; the card implements the last.
    static let idRange: ClosedRange<UInt16> = 0xB0C0...0xB0C5
    /// Bochs's limits; 2560×1600 at 32 bpp still fits 16 MiB of VRAM, so
    /// any mode the registers accept fits memory.
    static let maxWidth: UInt16 = 2560
    static let maxHeight: UInt16 = 1600
    static let maxBitsPerPixel: UInt16 = 32
    static let validDepths: Set<UInt16> = [4, 8, 15, 16, 24, 32]

    /// Bytes of video memory the modes may use.
    let videoMemorySize: Int

    /// The register the index port selects.
    var index: UInt16 = 0
    private(set) var id: UInt16 = BochsVBE.idRange.upperBound
    // Power-on values describe 640×480×8 so the registers always describe a mode.
    private(set) var width: UInt16 = 640
    private(set) var height: UInt16 = 480
    private(set) var depth: UInt16 = 8
    private(set) var enableBits: UInt16 = 0
    private(set) var bank: UInt16 = 0
    private(set) var virtualWidth: UInt16 = 640
    private(set) var xOffset: UInt16 = 0
    private(set) var yOffset: UInt16 = 0

    init(videoMemorySize: Int) {
        self.videoMemorySize = videoMemorySize
    }

    var isEnabled: Bool { enableBits & BochsVBE.enabledBit != 0 }
    var eightBitDAC: Bool { enableBits & BochsVBE.eightBitDACBit != 0 }

    /// Bytes from one scan line to the next in video memory. In the 4-bit
    /// planar mode a byte of each plane holds eight pixels, and the planes
    /// are interleaved in VRAM, so a line is half a byte per pixel.
    var bytesPerLine: Int {
        depth == 4 ? Int(virtualWidth) / 2 : Int(virtualWidth) * bytesPerPixel
    }

    var bytesPerPixel: Int { (Int(depth) + 7) / 8 }

    /// Lines of `bytesPerLine` that video memory holds (VIRT_HEIGHT).
    var virtualHeight: Int { min(videoMemorySize / bytesPerLine, 0xFFFF) }

    /// Byte offset in VRAM of the top-left visible pixel.
    var displayStart: Int {
        let x = depth == 4 ? Int(xOffset) / 2 : Int(xOffset) * bytesPerPixel
        return Int(yOffset) * bytesPerLine + x
    }

    /// Byte offset in VRAM that the 64 KiB bank window at A0000h starts at.
    var bankOffset: Int { Int(bank) << 16 }

    /// Whether a write switched a mode on, for the VGA to act on.
    enum Transition { case none, enabled(clearMemory: Bool) }

    /// Register `index` as the guest reads it.
    func read(_ index: UInt16) -> UInt16 {
        value(index, showingCapabilities: enableBits & BochsVBE.getCapabilitiesBit != 0)
    }

    /// Register `index` as last set, even while GETCAPS shows the maxima
    /// (for merging a byte write into a register).
    func storedValue(_ index: UInt16) -> UInt16 {
        value(index, showingCapabilities: false)
    }

    private func value(_ index: UInt16, showingCapabilities capabilities: Bool) -> UInt16 {
        guard let register = Register(rawValue: index) else { return 0 }
        switch register {
        case .id: return id
        case .xResolution: return capabilities ? BochsVBE.maxWidth : width
        case .yResolution: return capabilities ? BochsVBE.maxHeight : height
        case .bitsPerPixel: return capabilities ? BochsVBE.maxBitsPerPixel : depth
        case .enable: return enableBits
        case .bank: return bank
        case .virtualWidth: return virtualWidth
        case .virtualHeight: return UInt16(virtualHeight)
        case .xOffset: return xOffset
        case .yOffset: return yOffset
        case .videoMemory64K: return UInt16(videoMemorySize >> 16)
        }
    }

    mutating func write(_ index: UInt16, _ value: UInt16) -> Transition {
        guard let register = Register(rawValue: index) else { return .none }
        switch register {
        case .id:
            if BochsVBE.idRange.contains(value) { id = value }
        case .xResolution: width = value
        case .yResolution: height = value
        case .bitsPerPixel: depth = value
        case .bank: bank = value & UInt16((videoMemorySize >> 16) - 1)
        case .virtualWidth: virtualWidth = value
        case .xOffset: xOffset = value
        case .yOffset: yOffset = value
        case .virtualHeight, .videoMemory64K:
            // Both follow from the others and the memory size.
            return .none
        case .enable:
            let wasEnabled = isEnabled
            enableBits = value & (BochsVBE.enabledBit | BochsVBE.getCapabilitiesBit | BochsVBE.eightBitDACBit
                                  | BochsVBE.linearFramebufferBit | BochsVBE.noClearMemoryBit)
            if isEnabled && !wasEnabled {
                // A fresh mode starts unpanned with lines as wide as the screen.
                virtualWidth = width
                xOffset = 0
                yOffset = 0
                correct()
                return .enabled(clearMemory: enableBits & BochsVBE.noClearMemoryBit == 0)
            }
            return .none
        }
        correct()
        return .none
    }

    /// Brings the geometry back inside what the card and its memory can show.
    private mutating func correct() {
        if !BochsVBE.validDepths.contains(depth) { depth = 8 }
        width = min(max(width & ~7, 8), BochsVBE.maxWidth)
        height = min(max(height, 1), BochsVBE.maxHeight)
        virtualWidth = max(virtualWidth & ~7, width)
        if bytesPerLine * Int(height) > videoMemorySize { virtualWidth = width }
        // Panning that would show memory past the end is dropped, first
        // vertically, then horizontally.
        let visibleBytes = Int(height) * bytesPerLine
        if displayStart + visibleBytes > videoMemorySize { yOffset = 0 }
        if displayStart + visibleBytes > videoMemorySize { xOffset = 0 }
    }
}
