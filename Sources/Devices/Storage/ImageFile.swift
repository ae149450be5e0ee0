import Glibc

/// A host file (or block device) holding a guest medium, reached with
/// pread/pwrite at byte offsets so no file position is shared between
/// accesses. Opening checks what a user can get wrong and says so
/// (`StorageError`); the formats on top (`DiskImage`, `ISOImage`) add
/// their own checks.
public final class ImageFile {
    public let path: String
    /// Bytes in the file when it was opened (images do not grow).
    public let size: UInt64
    public let isWritable: Bool
    private let descriptor: Int32

    /// Opens `path` for reading, and for writing too if `writable`.
    public init(path: String, writable: Bool) throws(StorageError) {
        self.path = path
        var info = stat()
        guard stat(path, &info) == 0 else {
            if errno == ENOENT { throw .missing(path: path) }
            throw .unreadable(path: path, reason: ImageFile.reason(errno))
        }
        let type = info.st_mode & S_IFMT
        guard type == S_IFREG || type == S_IFBLK else { throw .notAFile(path: path) }
        // A file nobody may write is read-only by intent, even to root, whom open() would let through.
        if writable && type == S_IFREG && info.st_mode & 0o222 == 0 { throw .readOnlyFile(path: path) }
        let fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            // A file the user may read but not write: the remedy is an option, not chmod.
            if writable && (code == EACCES || code == EROFS || code == EPERM) && access(path, R_OK) == 0 {
                throw .readOnlyFile(path: path)
            }
            throw .unreadable(path: path, reason: ImageFile.reason(code))
        }
        descriptor = fd
        isWritable = writable
        // Block devices report no size in stat; the end of the device is its size.
        let end = lseek(fd, 0, SEEK_END)
        size = end > 0 ? UInt64(end) : 0
    }

    /// An anonymous scratch file in `$TMPDIR` (or /tmp), unlinked at once
    /// so it vanishes with the process, however it ends.
    public static func scratch(for owner: String) throws(StorageError) -> ImageFile {
        let directory = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array("\(directory)/novabox-overlay-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw .overlayUnavailable(path: owner, reason: "\(directory): \(reason(errno))") }
        let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        unlink(path)
        return ImageFile(descriptor: fd, path: path)
    }

    private init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
        size = 0
        isWritable = true
    }

    deinit { close(descriptor) }

    /// Reads `count` bytes at `offset`; bytes past the end of the file read
    /// as zeros (an ISO's last block may be short).
    public func read(at offset: UInt64, count: Int, into buffer: UnsafeMutableRawPointer) throws(StorageError) {
        var done = 0
        while done < count {
            let n = pread(descriptor, buffer + done, count - done, off_t(offset + UInt64(done)))
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, operation: "read", reason: ImageFile.reason(errno))
            }
            if n == 0 {
                (buffer + done).initializeMemory(as: UInt8.self, repeating: 0, count: count - done)
                return
            }
            done += n
        }
    }

    public func write(at offset: UInt64, count: Int, from buffer: UnsafeRawPointer) throws(StorageError) {
        var done = 0
        while done < count {
            let n = pwrite(descriptor, buffer + done, count - done, off_t(offset + UInt64(done)))
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, operation: "write", reason: ImageFile.reason(errno))
            }
            done += n
        }
    }

    /// fsync: what was written is on the host's disk when this returns.
    public func synchronize() throws(StorageError) {
        guard isWritable else { return }
        while fsync(descriptor) != 0 {
            if errno == EINTR { continue }
            // A block device or pipe-like file that cannot sync has nothing buffered here.
            if errno == EINVAL { return }
            throw .io(path: path, operation: "fsync", reason: ImageFile.reason(errno))
        }
    }

    static func reason(_ code: Int32) -> String { String(cString: strerror(code)) }
}
