import Devices
import Glibc

/// Screenshots as PNG files: the window's host key (named by the time, in
/// the current directory), `-screenshot PATH` when the run ends, and the
/// monitor's `screendump PATH`.
public enum Screenshot {
    public struct Failure: Error {
        public let message: String
    }

    public static func write(_ picture: VGAPicture, to path: String) throws(Failure) {
        let png: [UInt8]
        do {
            png = try picture.pixels.withUnsafeBufferPointer {
                try PNGEncoder.encode(width: picture.width, height: picture.height,
                                      pixels: UnsafeBufferPointer(rebasing: $0[0..<picture.width * picture.height]))
            }
        } catch {
            throw Failure(message: "cannot encode a \(picture.width)×\(picture.height) screenshot (\(error))")
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

    /// Renders the VGA's picture now, blinking text and cursor showing,
    /// and writes it (on the machine's thread, between instructions).
    public static func write(_ scanout: VGAScanout, to path: String) throws(Failure) {
        let picture = VGAPicture()
        _ = picture.update(from: scanout, changes: .everything, blink: .steady)
        try write(picture, to: path)
    }

    /// `novabox-20240131-154501.png`, local time.
    public static func timestampedName() -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        strftime(&buffer, buffer.count, "novabox-%Y%m%d-%H%M%S.png", &parts)
        return String(cString: buffer)
    }
}
