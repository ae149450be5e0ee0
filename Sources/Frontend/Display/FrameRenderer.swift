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
/// Most frames of a guest at a prompt are the same as the last one, so the
/// renderer keeps the previous frame and says whether the new one differs:
/// an unchanged frame costs the render and a comparison, but no texture
/// upload or present. (Change tracking of video memory itself would save
/// the render too, but the VBE linear framebuffer is written straight into
/// host memory by the CPU, past any device hook.)
final class FrameRenderer {
    private(set) var current = Frame()
    private var previous = Frame()
    /// Thread CPU time spent rendering and comparing, and frames rendered.
    private(set) var cpuNanoseconds: UInt64 = 0
    private(set) var frames = 0

    /// Renders `scanout`; returns whether the picture changed.
    func render(_ scanout: VGAScanout) -> Bool {
        let start = FrameRenderer.threadCPUTime()
        defer {
            cpuNanoseconds += FrameRenderer.threadCPUTime() - start
            frames += 1
        }
        swap(&current, &previous)
        let mode = scanout.mode
        let needed = mode.width * mode.height
        if current.pixels.count < needed { current.pixels = [UInt32](repeating: 0, count: needed) }
        let size = current.pixels.withUnsafeMutableBufferPointer { scanout.render(into: $0) }
        current.width = size.width
        current.height = size.height
        guard current.width == previous.width, current.height == previous.height else { return true }
        return current.pixels.withUnsafeBytes { now in
            previous.pixels.withUnsafeBytes { before in
                memcmp(now.baseAddress!, before.baseAddress!, needed * 4) != 0
            }
        }
    }

    static func threadCPUTime() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
