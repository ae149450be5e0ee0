import Console
import Foundation
import XCTest

/// PNG files checked by decoders we did not write: Python's zlib with the
/// chunk layout of the PNG specification, pngcheck, and ImageMagick.
final class PNGEncoderTests: XCTestCase {
    /// A picture whose every pixel differs from its neighbours.
    func picture(width: Int, height: Int) -> [UInt32] {
        (0..<width * height).map { i in
            let x = UInt32(i % width), y = UInt32(i / width)
            return 0xFF00_0000 | (x * 7 & 0xFF) << 16 | (y * 13 & 0xFF) << 8 | ((x ^ y) & 0xFF)
        }
    }

    func write(_ pixels: [UInt32], width: Int, height: Int) throws -> String {
        let png = try pixels.withUnsafeBufferPointer { try PNGEncoder.encode(width: width, height: height, pixels: $0) }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("novabox-png-\(getpid())-\(width)x\(height).png").path
        FileManager.default.createFile(atPath: path, contents: Data(png))
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func run(_ tool: String, _ args: [String]) throws -> (status: Int32, output: Data) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [tool] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, data)
    }

    func tool(_ name: String) throws {
        guard (try? run("sh", ["-c", "command -v \(name)"]))?.status == 0 else {
            throw XCTSkip("\(name) is not installed")
        }
    }

    /// Decodes with Python: checks the signature and every chunk's CRC,
    /// inflates IDAT, removes the filter bytes, and prints the RGB bytes in hex.
    static let pythonDecoder = """
    import sys, zlib, struct
    data = open(sys.argv[1], 'rb').read()
    assert data[:8] == b'\\x89PNG\\r\\n\\x1a\\n', 'signature'
    pos, idat, ihdr = 8, b'', None
    while pos < len(data):
        n, kind = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        crc, = struct.unpack('>I', data[pos + 8 + n:pos + 12 + n])
        assert zlib.crc32(kind + body) == crc, 'crc of ' + kind.decode()
        if kind == b'IHDR': ihdr = struct.unpack('>IIBBBBB', body)
        if kind == b'IDAT': idat += body
        pos += 12 + n
    w, h, depth, colour, comp, filt, interlace = ihdr
    assert (depth, colour, comp, filt, interlace) == (8, 2, 0, 0, 0), ihdr
    raw = zlib.decompress(idat)
    stride = 1 + 3 * w
    assert len(raw) == stride * h
    assert all(raw[y * stride] == 0 for y in range(h))
    print(w, h, b''.join(raw[y * stride + 1:(y + 1) * stride] for y in range(h)).hex())
    """

    func testPythonDecodesThePixels() throws {
        try tool("python3")
        let (width, height) = (37, 11)
        let pixels = picture(width: width, height: height)
        let path = try write(pixels, width: width, height: height)
        let r = try run("python3", ["-c", Self.pythonDecoder, path])
        XCTAssertEqual(r.status, 0)
        let expected = pixels.map { String(format: "%06x", $0 & 0xFF_FFFF) }.joined()
        XCTAssertEqual(String(decoding: r.output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines),
                       "\(width) \(height) \(expected)")
    }

    func testPngcheckAcceptsTheFile() throws {
        try tool("pngcheck")
        let path = try write(picture(width: 720, height: 400), width: 720, height: 400)
        let r = try run("pngcheck", ["-v", path])
        XCTAssertEqual(r.status, 0, String(decoding: r.output, as: UTF8.self))
        XCTAssertTrue(String(decoding: r.output, as: UTF8.self).contains("No errors"))
    }

    func testImageMagickReadsTheSamePixels() throws {
        try tool("convert")
        let (width, height) = (64, 48)
        let pixels = picture(width: width, height: height)
        let path = try write(pixels, width: width, height: height)
        let r = try run("convert", [path, "-depth", "8", "rgb:-"])
        XCTAssertEqual(r.status, 0)
        let expected = pixels.flatMap { [UInt8($0 >> 16 & 0xFF), UInt8($0 >> 8 & 0xFF), UInt8($0 & 0xFF)] }
        XCTAssertEqual([UInt8](r.output), expected)
    }

    func testEmptyImageIsRefused() {
        XCTAssertThrowsError(try [UInt32]().withUnsafeBufferPointer { try PNGEncoder.encode(width: 0, height: 0, pixels: $0) })
        XCTAssertThrowsError(try [UInt32](repeating: 0, count: 3).withUnsafeBufferPointer {
            try PNGEncoder.encode(width: 2, height: 2, pixels: $0)
        })
    }
}
