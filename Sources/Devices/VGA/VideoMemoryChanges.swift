import MMU

/// Which parts of video memory the guest wrote between two looks, so a
/// front end redraws only the lines that show them.
///
/// The marks are set where the writes happen, on the machine's thread: the
/// VGA's legacy-window path marks the 4 KiB VRAM page and the planes it
/// wrote; the physical memory map marks pages written through a linear
/// framebuffer (the CPU's stores, string instructions' host pointers, DMA).
/// `VGA.takeMemoryChanges()` copies them out and clears them between two
/// instruction batches, so no write falls between copy and clear. Page
/// granularity keeps marking to one store per write and a copy of 4 KiB per
/// frame; a page is 1024 plane offsets (6 text rows of 80 columns, 13 lines
/// of mode 12h, a line of a 1024-pixel 32 bpp mode).
public struct VideoMemoryChanges: Sendable {
    /// One byte per VRAM page: bit p set when plane p (VRAM bytes 4k + p) changed.
    private let pages: [UInt8]

    init(pages: [UInt8]) { self.pages = pages }

    /// Every page, every plane changed: for a first picture.
    public static let everything = VideoMemoryChanges(
        pages: [UInt8](repeating: PhysicalMemory.deviceMemoryWritten, count: VGA.videoMemorySize >> PhysicalMemory.pageShift))

    /// Whether any byte of VRAM in `bytes` may have changed.
    public func touch(_ bytes: Range<Int>) -> Bool { touch(bytes, planes: 0x0F) }

    /// Whether any page holding VRAM `bytes` saw a write to one of `planes` (a 4-bit set).
    func touch(_ bytes: Range<Int>, planes: UInt8) -> Bool {
        guard !bytes.isEmpty else { return false }
        let first = max(0, bytes.lowerBound) >> PhysicalMemory.pageShift
        let last = min(pages.count - 1, (bytes.upperBound - 1) >> PhysicalMemory.pageShift)
        guard first <= last else { return false }
        return pages.withUnsafeBufferPointer { marks in
            for page in first...last where marks[page] & planes != 0 { return true }
            return false
        }
    }
}

extension VGA {
    /// The changes since the last call, clearing the marks. Call it on the
    /// machine's thread, once per picture, from one consumer only.
    public func takeMemoryChanges() -> VideoMemoryChanges {
        let count = VGA.videoMemorySize >> PhysicalMemory.pageShift
        let changes = VideoMemoryChanges(pages: Array(UnsafeBufferPointer(start: memoryChanges, count: count)))
        memoryChanges.update(repeating: 0, count: count)
        return changes
    }
}
