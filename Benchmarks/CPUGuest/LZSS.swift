/// The packer for the benchmark guest's decompressor phase: LZSS with a
/// 4 KiB window and matches of 3 to 18 bytes, the format
/// cpu-benchmark.asm decodes (a control byte whose bits, lowest first,
/// say literal (1) or match (0) for the next eight items; a match is two
/// bytes, little-endian: distance - 1 in bits 0-11, length - 3 in 12-15).
///
/// Greedy matching over hash chains of 3-byte prefixes: good enough to
/// give the decoder the usual mix of literals and short, overlapping
/// copies; the ratio itself is not what is measured. Only the host packs:
/// the guest's output is checked against the original data, never against
/// a host-side decoder.
enum LZSS {
    static let windowSize = 4096
    static let shortestMatch = 3
    static let longestMatch = 18
    /// Candidates tried per position: bounds the packer's time on
    /// repetitive input.
    static let chainLimit = 64
    static let hashBits = 14

    static func pack(_ input: [UInt8]) -> [UInt8] {
        let n = input.count
        var out: [UInt8] = []
        out.reserveCapacity(n)
        var head = [Int](repeating: -1, count: 1 << hashBits)
        var previous = [Int](repeating: -1, count: n)
        func hash(_ i: Int) -> Int {
            (Int(input[i]) &* 0x9E5 ^ Int(input[i + 1]) &* 0x3B ^ Int(input[i + 2])) & (1 << hashBits - 1)
        }
        var control = 0, itemsInGroup = 8
        var position = 0
        while position < n {
            if itemsInGroup == 8 {
                control = out.count
                out.append(0)
                itemsInGroup = 0
            }
            var bestLength = 0, bestDistance = 0
            if position + shortestMatch <= n {
                var candidate = head[hash(position)], tries = chainLimit
                while candidate >= 0 && position - candidate <= windowSize && tries > 0 {
                    var length = 0
                    while length < longestMatch && position + length < n && input[candidate + length] == input[position + length] {
                        length += 1
                    }
                    if length > bestLength {
                        bestLength = length
                        bestDistance = position - candidate
                        if length == longestMatch { break }
                    }
                    candidate = previous[candidate]
                    tries -= 1
                }
            }
            let step: Int
            if bestLength >= shortestMatch {
                let item = (bestDistance - 1) | (bestLength - shortestMatch) << 12
                out.append(UInt8(item & 0xFF))
                out.append(UInt8(item >> 8))
                step = bestLength
            } else {
                out[control] |= 1 << UInt8(itemsInGroup)
                out.append(input[position])
                step = 1
            }
            itemsInGroup += 1
            for i in position..<position + step where i + shortestMatch <= n {
                let h = hash(i)
                previous[i] = head[h]
                head[h] = i
            }
            position += step
        }
        return out
    }
}
