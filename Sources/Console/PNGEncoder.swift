import CZlib

/// Screenshots as PNG files (W3C PNG specification, 2nd edition): 8-bit
/// RGB, no interlace, one IDAT chunk of zlib-compressed scan lines, each
/// with filter type 0 (none). zlib does the deflate and the CRC-32s; the
/// rest is the file format's fixed layout, written here.
public enum PNGEncoder {
    public enum Failure: Error, Equatable {
        case emptyImage
        /// zlib's return code.
        case compression(Int32)
    }

    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Encodes `width` × `height` pixels given as 0xAARRGGBB (alpha ignored),
    /// row after row.
    public static func encode(width: Int, height: Int, pixels: UnsafeBufferPointer<UInt32>) throws(Failure) -> [UInt8] {
        guard width > 0, height > 0, pixels.count >= width * height else { throw .emptyImage }
        // Scan lines as PNG wants them: a filter-type byte, then R, G, B per pixel.
        let lineBytes = 1 + 3 * width
        var raw = [UInt8](repeating: 0, count: lineBytes * height)
        raw.withUnsafeMutableBufferPointer { out in
            for y in 0..<height {
                var o = y * lineBytes + 1
                for x in 0..<width {
                    let p = pixels[y * width + x]
                    out[o] = UInt8(truncatingIfNeeded: p >> 16)
                    out[o + 1] = UInt8(truncatingIfNeeded: p >> 8)
                    out[o + 2] = UInt8(truncatingIfNeeded: p)
                    o += 3
                }
            }
        }
        var compressedSize = compressBound(uLong(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(compressedSize))
        let status = compress2(&compressed, &compressedSize, raw, uLong(raw.count), Z_DEFAULT_COMPRESSION)
        guard status == Z_OK else { throw .compression(status) }
        compressed.removeSubrange(Int(compressedSize)...)

        var header = [UInt8]()
        append32(UInt32(width), to: &header)
        append32(UInt32(height), to: &header)
        header += [8, 2, 0, 0, 0]   // bit depth 8, colour type 2 (RGB), deflate, filter method 0, no interlace

        var file = signature
        appendChunk("IHDR", header, to: &file)
        appendChunk("IDAT", compressed, to: &file)
        appendChunk("IEND", [], to: &file)
        return file
    }

    private static func append32(_ value: UInt32, to bytes: inout [UInt8]) {
        bytes += [UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16),
                  UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
    }

    /// Length, type, data, and the CRC-32 of type and data.
    private static func appendChunk(_ type: String, _ data: [UInt8], to file: inout [UInt8]) {
        let typeAndData = Array(type.utf8) + data
        append32(UInt32(data.count), to: &file)
        file += typeAndData
        let crc = typeAndData.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
        append32(UInt32(truncatingIfNeeded: crc), to: &file)
    }
}
