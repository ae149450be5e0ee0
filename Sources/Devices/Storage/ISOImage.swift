/// A CD-ROM image in ISO 9660 (ECMA-119) form: 2048-byte logical blocks,
/// read-only. Opening checks the volume descriptor set, which starts at
/// block 16: the first descriptor carries the standard identifier "CD001",
/// and the primary volume descriptor (type 1) declares the volume space
/// size, so a cut-off download is caught before the guest reads garbage.
public final class ISOImage: BlockDevice {
    public static let logicalBlockSize = 2048
    /// Blocks 0–15 are the system area; the descriptors follow.
    static let firstDescriptor: UInt64 = 16
    static let standardIdentifier: [UInt8] = Array("CD001".utf8)
    static let primaryDescriptorType: UInt8 = 1
    static let terminatorType: UInt8 = 255
    /// Descriptors examined before giving up on finding the primary one.
    static let descriptorLimit: UInt64 = 32

    public let file: ImageFile
    public let blockSize = ISOImage.logicalBlockSize
    public let blockCount: UInt64
    public let isReadOnly = true
    public var name: String { file.path }

    public init(path: String) throws(StorageError) {
        file = try ImageFile(path: path, writable: false)
        guard file.size > 0 else { throw .empty(path: path) }
        let block = UInt64(ISOImage.logicalBlockSize)
        guard file.size >= (ISOImage.firstDescriptor + 1) * block else { throw .notAnISO(path: path) }
        // A short last block reads as zeros.
        blockCount = (file.size + block - 1) / block

        let descriptor = UnsafeMutableRawBufferPointer.allocate(byteCount: ISOImage.logicalBlockSize, alignment: 8)
        defer { descriptor.deallocate() }
        var index = ISOImage.firstDescriptor
        while true {
            guard index < blockCount, index < ISOImage.firstDescriptor + ISOImage.descriptorLimit else {
                throw .notAnISO(path: path)
            }
            try file.read(at: index * block, count: ISOImage.logicalBlockSize, into: descriptor.baseAddress!)
            guard Array(descriptor[1...5]) == ISOImage.standardIdentifier else { throw .notAnISO(path: path) }
            if descriptor[0] == ISOImage.terminatorType { throw .notAnISO(path: path) }
            if descriptor[0] == ISOImage.primaryDescriptorType { break }
            index += 1
        }
        // Volume space size (both-endian, little-endian half at 80) in
        // logical blocks of the size at 128 (both-endian, 16-bit).
        let volumeBlocks = (0..<4).reduce(UInt64(0)) { $0 | UInt64(descriptor[80 + $1]) << (8 * $1) }
        let logicalBlockSize = UInt64(descriptor[128]) | UInt64(descriptor[129]) << 8
        let declared = volumeBlocks * logicalBlockSize
        guard file.size >= declared else { throw .truncatedISO(path: path, size: file.size, declared: declared) }
    }

    public func read(block: UInt64, count: Int, into buffer: UnsafeMutableRawPointer) throws(StorageError) {
        guard contains(block: block, count: count) else { throw .outOfRange(path: name, block: block, count: count) }
        try file.read(at: block * UInt64(blockSize), count: count * blockSize, into: buffer)
    }

    public func write(block: UInt64, count: Int, from buffer: UnsafeRawPointer) throws(StorageError) {
        throw .readOnlyMedium(path: name)
    }

    /// Nothing is ever written.
    public func flush() throws(StorageError) {}
}
