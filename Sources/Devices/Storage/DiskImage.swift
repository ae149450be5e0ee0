/// A raw disk image: the file is the disk, sector n at byte n × 512, as
/// `dd` or `qemu-img create -f raw` make it.
public final class DiskImage: BlockDevice {
    public static let sectorSize = 512

    public let file: ImageFile
    public let blockSize = DiskImage.sectorSize
    public let blockCount: UInt64
    public let isReadOnly: Bool
    public var name: String { file.path }

    /// How the command line wants a disk: written in place, never written
    /// (`readonly=on`: the guest's writes fail), or written to a throwaway
    /// overlay (`-snapshot`: the file is never touched).
    public enum Access: Equatable {
        case readWrite
        case readOnly
        case snapshot
    }

    public init(path: String, readOnly: Bool) throws(StorageError) {
        file = try ImageFile(path: path, writable: !readOnly)
        guard file.size > 0 else { throw .empty(path: path) }
        guard file.size % UInt64(DiskImage.sectorSize) == 0 else {
            throw .notASectorMultiple(path: path, size: file.size)
        }
        blockCount = file.size / UInt64(DiskImage.sectorSize)
        isReadOnly = readOnly
    }

    /// The disk a drive should use for `path` opened with `access`.
    public static func open(path: String, access: Access) throws(StorageError) -> BlockDevice {
        switch access {
        case .readWrite: return try DiskImage(path: path, readOnly: false)
        case .readOnly: return try DiskImage(path: path, readOnly: true)
        case .snapshot: return try CopyOnWriteOverlay(base: DiskImage(path: path, readOnly: true))
        }
    }

    public func read(block: UInt64, count: Int, into buffer: UnsafeMutableRawPointer) throws(StorageError) {
        guard contains(block: block, count: count) else { throw .outOfRange(path: name, block: block, count: count) }
        try file.read(at: block * UInt64(blockSize), count: count * blockSize, into: buffer)
    }

    public func write(block: UInt64, count: Int, from buffer: UnsafeRawPointer) throws(StorageError) {
        guard !isReadOnly else { throw .readOnlyMedium(path: name) }
        guard contains(block: block, count: count) else { throw .outOfRange(path: name, block: block, count: count) }
        try file.write(at: block * UInt64(blockSize), count: count * blockSize, from: buffer)
    }

    public func flush() throws(StorageError) {
        try file.synchronize()
    }
}
