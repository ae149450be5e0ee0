/// The checksums the benchmark guest must print, computed on the host by
/// code of its own: plain Swift over arrays, written from the description
/// of each phase in cpu-benchmark.asm, never by running guest code. The
/// decompressor's reference folds the original data, so it holds the
/// packer, the guest's decoder and the engine to account together.
public enum CPUBenchmarkReference {
    /// The guest's generator: xorshift32 with shifts 13, 17, 5.
    struct XorShift32 {
        var state: UInt32
        mutating func next() -> UInt32 {
            state ^= state << 13
            state ^= state >> 17
            state ^= state << 5
            return state
        }
    }

    /// c = rol(c, 5) xor dword, over the little-endian dwords of `bytes`.
    static func fold(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var c: UInt32 = 0
        for offset in stride(from: 0, to: bytes.count, by: 4) {
            c = (c << 5 | c >> 27) ^ UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
        }
        return c
    }

    /// Phase "int": ECX counts the rounds down, the division step runs
    /// when its low three bits are zero.
    public static func integerLoop(rounds: Int) -> UInt32 {
        var x = XorShift32(state: 0x1234_5678)
        var accumulator: UInt32 = 0, chain: UInt32 = 1
        var counter = UInt32(rounds)
        while counter != 0 {
            let v = x.next()
            accumulator &+= v &* 0x9E37_79B1
            if v & 1 != 0 {
                let d = accumulator &- v
                accumulator = d >> 3 | d << 29
            } else {
                let d = accumulator ^ v
                accumulator = d << 5 | d >> 27
            }
            if counter & 7 == 0 {
                let divisor = v >> 16 | 1
                chain &+= accumulator % divisor
                let product = UInt64(accumulator / divisor) * UInt64(chain)
                chain ^= UInt32(product >> 32)
                chain &+= UInt32(truncatingIfNeeded: product)
            }
            counter -= 1
        }
        return accumulator ^ chain
    }

    static let copyBytes = 0x40000
    static let copySlack = 256

    /// Phase "copy", round by round on byte arrays.
    public static func copies(rounds: Int) -> UInt32 {
        var generator = XorShift32(state: 0x2545_F491)
        var source = (0..<copyBytes / 4).map { _ in generator.next().littleEndian }
        var target = [UInt32](repeating: 0, count: (copyBytes + copySlack) / 4)
        var second = [UInt8](repeating: 0, count: copyBytes)
        for round in 0..<rounds {
            let r = UInt32(truncatingIfNeeded: round)
            let pattern = (r &* 0x0101_0101) ^ 0xA5A5_A5A5
            for i in target.indices { target[i] = pattern.littleEndian }
            target.withUnsafeMutableBytes { t in
                source.withUnsafeBytes { s in
                    (t.baseAddress! + 4 * (round % 16)).copyMemory(from: s.baseAddress!, byteCount: copyBytes)
                }
                second.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: t[(round % 8)...].prefix(copyBytes))) }
            }
            second.withUnsafeBytes { s in
                for i in source.indices {
                    source[i] = (s.load(fromByteOffset: 4 * i, as: UInt32.self).littleEndian &+ UInt32(i)).littleEndian
                }
            }
        }
        return source.withUnsafeBytes(fold)
    }

    /// Phase "lz": each round's output is the original data.
    public static func decompression(of data: [UInt8], rounds: Int) -> UInt32 {
        precondition(data.count % 4 == 0)
        let once = data.withUnsafeBytes(fold)
        var chain: UInt32 = 0
        for _ in 0..<rounds { chain = (chain << 1 | chain >> 31) &+ once }
        return chain
    }
}
