/// What a drive reads and writes: a medium of fixed-size blocks.
///
/// The ATA disk sees 512-byte sectors, the ATAPI CD-ROM 2048-byte logical
/// blocks; both drive the same protocol, so a raw image, an ISO and the
/// copy-on-write overlay of `-snapshot` plug into either. Calls move whole
/// blocks through host memory the drive owns; the drives check ranges
/// against `blockCount` before asking, and a back end refuses anything
/// outside it with `StorageError.outOfRange` rather than trusting them.
public protocol BlockDevice: AnyObject {
    /// Bytes per block: 512 for disks, 2048 for CD media.
    var blockSize: Int { get }
    var blockCount: UInt64 { get }
    /// Writes are refused (a CD, or a disk opened `readonly=on`).
    var isReadOnly: Bool { get }
    /// What the user named it (a path), for messages.
    var name: String { get }

    func read(block: UInt64, count: Int, into buffer: UnsafeMutableRawPointer) throws(StorageError)
    func write(block: UInt64, count: Int, from buffer: UnsafeRawPointer) throws(StorageError)
    /// Makes every completed write durable (fsync): a guest FLUSH CACHE and
    /// the machine's clean exit come here.
    func flush() throws(StorageError)
}

extension BlockDevice {
    /// Capacity in bytes.
    public var byteCount: UInt64 { blockCount * UInt64(blockSize) }

    /// Whether `count` blocks from `block` lie on the medium.
    func contains(block: UInt64, count: Int) -> Bool {
        count >= 0 && block <= blockCount && UInt64(count) <= blockCount - block
    }
}

/// Why an image cannot be opened or an access failed. Each message names
/// the file and says what to do.
public enum StorageError: Error, CustomStringConvertible, Equatable {
    case missing(path: String)
    case unreadable(path: String, reason: String)
    case notAFile(path: String)
    case empty(path: String)
    case notASectorMultiple(path: String, size: UInt64)
    case readOnlyFile(path: String)
    case notAnISO(path: String)
    case truncatedISO(path: String, size: UInt64, declared: UInt64)
    case overlayUnavailable(path: String, reason: String)
    case outOfRange(path: String, block: UInt64, count: Int)
    case readOnlyMedium(path: String)
    case io(path: String, operation: String, reason: String)

    public var description: String {
        switch self {
        case .missing(let path):
            return "\(path): no such file; check the path of the image"
        case .unreadable(let path, let reason):
            return "\(path): cannot open it (\(reason)); check its permissions"
        case .notAFile(let path):
            return "\(path) is not a regular file or block device; give the path of a disk or CD image"
        case .empty(let path):
            return "\(path) is empty; a disk image needs a size (e.g. `truncate -s 1G \(path)`)"
        case .notASectorMultiple(let path, let size):
            return "\(path) is \(size) bytes, not a multiple of 512; a disk image holds whole sectors (pad it with `truncate`)"
        case .readOnlyFile(let path):
            return "\(path) is read-only; add readonly=on or use -snapshot"
        case .notAnISO(let path):
            return "\(path) is not an ISO 9660 CD image (no CD001 volume descriptor at sector 16); use -hda for disk images"
        case .truncatedISO(let path, let size, let declared):
            return "\(path) is truncated: \(size) bytes, but its volume descriptor declares \(declared); download or copy it again"
        case .overlayUnavailable(let path, let reason):
            return "cannot create the -snapshot overlay for \(path) (\(reason)); set TMPDIR to a writable directory"
        case .outOfRange(let path, let block, let count):
            return "\(path): blocks \(block)+\(count) lie past the end of the medium"
        case .readOnlyMedium(let path):
            return "\(path) is read-only; the write was refused"
        case .io(let path, let operation, let reason):
            return "\(path): \(operation) failed (\(reason))"
        }
    }
}
