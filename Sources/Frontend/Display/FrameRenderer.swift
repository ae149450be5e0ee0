import Devices
import Glibc

/// A picture in host memory: 0xFFRRGGBB pixels, row after row.
struct Frame {
    var pixels: [UInt32] = []
    var width = 0
    var height = 0
}

/// Turns VGA scan-out snapshots into frames, off the machine's thread.
///
/// Most frames of a guest at a prompt are the same as the last one, and
/// most others change a few lines (a cursor, a line of text), so the
/// renderer keeps the previous frame and says which rows differ: an
/// unchanged frame costs the render and a comparison but no texture upload
/// or present, a changed one uploads only its changed rows. (Change
/// tracking of video memory itself would save the render too, but the VBE
/// linear framebuffer is written straight into host memory by the CPU,
/// past any device hook.)
final class FrameRenderer {
    private(set) var current = Frame()
    private var previous = Frame()

    /// Renders `scanout`; returns the rows that differ from the last frame
    /// (all of them after a size change), or nil when none does.
    func render(_ scanout: VGAScanout) -> Range<Int>? {
        swap(&current, &previous)
        let mode = scanout.mode
        let needed = mode.width * mode.height
        if current.pixels.count < needed { current.pixels = [UInt32](repeating: 0, count: needed) }
        let size = current.pixels.withUnsafeMutableBufferPointer { scanout.render(into: $0) }
        current.width = size.width
        current.height = size.height
        let (width, height) = (current.width, current.height)
        guard width == previous.width, height == previous.height else { return 0..<height }
        return current.pixels.withUnsafeBytes { now in
            previous.pixels.withUnsafeBytes { before in
                func differs(_ row: Int) -> Bool {
                    memcmp(now.baseAddress! + row * width * 4, before.baseAddress! + row * width * 4, width * 4) != 0
                }
                guard let first = (0..<height).first(where: differs) else { return nil }
                let last = (first..<height).last(where: differs)!
                return first..<last + 1
            }
        }
    }
}
