/// `-snapshot`: the guest writes into a scratch file and reads its own
/// writes back from there; every other block comes from the base image,
/// which is opened read-only and never touched.
///
/// The scratch file is sparse and laid out like the base (block n at
/// n × blockSize), so only written blocks take host space. Which blocks
/// are written is a bitmap kept in groups of 64 blocks, created only for
/// groups the guest writes: a 100 GB disk with a few written files costs a
/// few dictionary entries, not 25 MB of bitmap.
public final class CopyOnWriteOverlay: BlockDevice {
    public let base: BlockDevice
    private let scratch: ImageFile
    /// Group index (block / 64) → which of its 64 blocks live in the scratch file.
    private var written: [UInt64: UInt64] = [:]

    public var blockSize: Int { base.blockSize }
    public var blockCount: UInt64 { base.blockCount }
    public let isReadOnly = false
    public var name: String { base.name }

    public init(base: BlockDevice) throws(StorageError) {
        self.base = base
        scratch = try ImageFile.scratch(for: base.name)
    }

    /// Blocks the guest has written (and that now read from the overlay).
    public var writtenBlockCount: Int { written.values.reduce(0) { $0 + $1.nonzeroBitCount } }

    private func isWritten(_ block: UInt64) -> Bool {
        (written[block >> 6] ?? 0) & (1 << (block & 63)) != 0
    }

    /// Reads runs of blocks from wherever they live, one call per run.
    public func read(block: UInt64, count: Int, into buffer: UnsafeMutableRawPointer) throws(StorageError) {
        guard contains(block: block, count: count) else { throw .outOfRange(path: name, block: block, count: count) }
        var start = 0
        while start < count {
            let fromScratch = isWritten(block + UInt64(start))
            var end = start + 1
            while end < count && isWritten(block + UInt64(end)) == fromScratch { end += 1 }
            let at = buffer + start * blockSize
            if fromScratch {
                try scratch.read(at: (block + UInt64(start)) * UInt64(blockSize), count: (end - start) * blockSize, into: at)
            } else {
                try base.read(block: block + UInt64(start), count: end - start, into: at)
            }
            start = end
        }
    }

    public func write(block: UInt64, count: Int, from buffer: UnsafeRawPointer) throws(StorageError) {
        guard contains(block: block, count: count) else { throw .outOfRange(path: name, block: block, count: count) }
        try scratch.write(at: block * UInt64(blockSize), count: count * blockSize, from: buffer)
        for b in block..<(block + UInt64(count)) { written[b >> 6, default: 0] |= 1 << (b & 63) }
    }

    /// The overlay is discarded when the machine ends (that is what
    /// `-snapshot` asks for), so there is nothing to make durable.
    public func flush() throws(StorageError) {}
}
