import Console
import Devices
import Glibc

/// Screenshots as PNG files: the host key's (named by the time, in the
/// current directory) and `-screenshot PATH` when the run ends.
enum Screenshot {
    struct Failure: Error {
        let message: String
    }

    static func write(_ frame: Frame, to path: String) throws(Failure) {
        let png: [UInt8]
        do {
            png = try frame.pixels.withUnsafeBufferPointer {
                try PNGEncoder.encode(width: frame.width, height: frame.height, pixels: $0)
            }
        } catch {
            throw Failure(message: "cannot encode a \(frame.width)×\(frame.height) screenshot (\(error))")
        }
        guard let file = fopen(path, "wb") else {
            throw Failure(message: "cannot write the screenshot to \(path): \(String(cString: strerror(errno)))")
        }
        let written = png.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        let closed = fclose(file)
        guard written == png.count, closed == 0 else {
            throw Failure(message: "cannot write the screenshot to \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Renders the VGA's picture now and writes it (the machine is not running).
    static func write(_ scanout: VGAScanout, to path: String) throws(Failure) {
        let renderer = FrameRenderer()
        _ = renderer.render(scanout)
        try write(renderer.current, to: path)
    }

    /// `novabox-20240131-154501.png`, local time.
    static func timestampedName() -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        strftime(&buffer, buffer.count, "novabox-%Y%m%d-%H%M%S.png", &parts)
        return String(cString: buffer)
    }
}
