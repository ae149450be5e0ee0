import Foundation
import XCTest
@testable import Devices

/// The block back ends against files on the host: what the guest reads is
/// the file, writes land in the file (or only in the overlay), and every
/// way of naming a bad file gives its one-line error.
final class StorageBackendTests: XCTestCase {
    private func readBlocks(_ device: BlockDevice, _ block: UInt64, _ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0xEE, count: count * device.blockSize)
        try bytes.withUnsafeMutableBytes { raw in try device.read(block: block, count: count, into: raw.baseAddress!) }
        return bytes
    }

    private func writeBlocks(_ device: BlockDevice, _ block: UInt64, _ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { raw in try device.write(block: block, count: bytes.count / device.blockSize, from: raw.baseAddress!) }
    }

    private func openError(_ body: () throws -> Any) -> StorageError? {
        do { _ = try body() } catch let e as StorageError { return e } catch { return nil }
        return nil
    }

    // MARK: Raw disk images

    func testRawImageReadsTheFileSectorBySector() throws {
        let file = TemporaryFile(sectors: 8)
        let disk = try DiskImage(path: file.path, readOnly: true)
        XCTAssertEqual(disk.blockCount, 8)
        XCTAssertEqual(disk.blockSize, 512)
        XCTAssertEqual(try readBlocks(disk, 3, 2), Array(file.contents[1536..<2560]))
    }

    func testRawImageWriteAndFlushReachTheFile() throws {
        let file = TemporaryFile(sectors: 4)
        let disk = try DiskImage(path: file.path, readOnly: false)
        let data = [UInt8](repeating: 0xA5, count: 512)
        try writeBlocks(disk, 2, data)
        try disk.flush()
        XCTAssertEqual(Array(file.contents[1024..<1536]), data)
        XCTAssertEqual(Array(file.contents[0..<1024]), Array(TemporaryFile(sectors: 4).contents[0..<1024]), "other sectors untouched")
    }

    func testOutOfRangeAccessIsRefused() throws {
        let file = TemporaryFile(sectors: 4)
        let disk = try DiskImage(path: file.path, readOnly: false)
        XCTAssertThrowsError(try readBlocks(disk, 3, 2))
        XCTAssertThrowsError(try readBlocks(disk, UInt64.max, 1))
    }

    func testReadOnlyDiskRefusesWrites() throws {
        let file = TemporaryFile(sectors: 2)
        let disk = try DiskImage.open(path: file.path, access: .readOnly)
        XCTAssertTrue(disk.isReadOnly)
        XCTAssertThrowsError(try writeBlocks(disk, 0, [UInt8](repeating: 1, count: 512)))
        XCTAssertEqual(file.contents, TemporaryFile(sectors: 2).contents)
    }

    // MARK: Opening errors

    func testMissingFile() {
        let e = openError { try DiskImage(path: "/nonexistent/disk.img", readOnly: false) }
        XCTAssertEqual(e, .missing(path: "/nonexistent/disk.img"))
        XCTAssertTrue(e!.description.contains("/nonexistent/disk.img"))
    }

    func testEmptyFile() {
        let file = TemporaryFile(bytes: [])
        XCTAssertEqual(openError { try DiskImage(path: file.path, readOnly: false) }, .empty(path: file.path))
    }

    func testSizeNotAMultipleOf512() {
        let file = TemporaryFile(bytes: [UInt8](repeating: 0, count: 1000))
        let e = openError { try DiskImage(path: file.path, readOnly: false) }
        XCTAssertEqual(e, .notASectorMultiple(path: file.path, size: 1000))
        XCTAssertTrue(e!.description.contains("multiple of 512"))
    }

    func testReadOnlyFileAsWritableDisk() throws {
        let file = TemporaryFile(sectors: 2)
        chmod(file.path, 0o444)
        let e = openError { try DiskImage(path: file.path, readOnly: false) }
        XCTAssertEqual(e, .readOnlyFile(path: file.path))
        XCTAssertTrue(e!.description.hasSuffix("is read-only; add readonly=on or use -snapshot"))
        // Both remedies work.
        XCTAssertNoThrow(try DiskImage.open(path: file.path, access: .readOnly))
        XCTAssertNoThrow(try DiskImage.open(path: file.path, access: .snapshot))
    }

    func testDirectoryIsNotAnImage() {
        XCTAssertEqual(openError { try DiskImage(path: "/tmp", readOnly: true) }, .notAFile(path: "/tmp"))
    }

    // MARK: ISO images

    func testISOImageHas2048ByteBlocks() throws {
        let file = TemporaryFile(bytes: makeISO(blocks: 24))
        let iso = try ISOImage(path: file.path)
        XCTAssertEqual(iso.blockSize, 2048)
        XCTAssertEqual(iso.blockCount, 24)
        XCTAssertTrue(iso.isReadOnly)
        XCTAssertEqual(try readBlocks(iso, 20, 2), Array(file.contents[20 * 2048..<22 * 2048]))
    }

    func testFileWithoutVolumeDescriptorIsNotAnISO() {
        let file = TemporaryFile(bytes: makeISO(blocks: 24, identifier: "XXXXX"))
        XCTAssertEqual(openError { try ISOImage(path: file.path) }, .notAnISO(path: file.path))
        let tiny = TemporaryFile(bytes: [UInt8](repeating: 0, count: 4096))
        XCTAssertEqual(openError { try ISOImage(path: tiny.path) }, .notAnISO(path: tiny.path))
    }

    func testISOShorterThanItsVolumeIsTruncated() {
        let file = TemporaryFile(bytes: makeISO(blocks: 24, declaredBlocks: 100))
        let e = openError { try ISOImage(path: file.path) }
        XCTAssertEqual(e, .truncatedISO(path: file.path, size: 24 * 2048, declared: 100 * 2048))
        XCTAssertTrue(e!.description.contains("truncated"))
    }

    /// An ISO made by a real mastering tool, when one is installed.
    func testISOFromMasteringTool() throws {
        let tools = ["/usr/bin/xorriso", "/usr/bin/genisoimage", "/usr/bin/mkisofs"]
        guard let tool = tools.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("no xorriso/genisoimage installed; the hand-built ISO tests cover the format")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("novabox-iso-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data("hello from the CD\n".utf8).write(to: dir.appendingPathComponent("HELLO.TXT"))
        let output = dir.path + ".iso"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = (tool.hasSuffix("xorriso") ? ["-as", "mkisofs"] : []) + ["-quiet", "-o", output, dir.path]
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        let iso = try ISOImage(path: output)
        let size = try FileManager.default.attributesOfItem(atPath: output)[.size] as! UInt64
        XCTAssertEqual(iso.blockCount, size / 2048)
    }

    // MARK: -snapshot overlay

    func testOverlayKeepsTheImageUntouched() throws {
        let file = TemporaryFile(sectors: 200)
        let original = file.contents
        let overlay = try DiskImage.open(path: file.path, access: .snapshot)
        XCTAssertFalse(overlay.isReadOnly)
        let data = [UInt8](repeating: 0x5A, count: 3 * 512)
        try writeBlocks(overlay, 63, data)        // across a 64-block group boundary
        try writeBlocks(overlay, 66, [UInt8](repeating: 0x11, count: 512))
        try overlay.flush()
        XCTAssertEqual(file.contents, original, "the image file is never written")

        // Reads prefer the overlay, block by block, and fall back to the image.
        let mixed = try readBlocks(overlay, 62, 6)
        XCTAssertEqual(Array(mixed[0..<512]), Array(original[62 * 512..<63 * 512]))
        XCTAssertEqual(Array(mixed[512..<2048]), data)
        XCTAssertEqual(Array(mixed[2048..<2560]), [UInt8](repeating: 0x11, count: 512))
        XCTAssertEqual(Array(mixed[2560..<3072]), Array(original[67 * 512..<68 * 512]))
        XCTAssertEqual((overlay as! CopyOnWriteOverlay).writtenBlockCount, 4)
    }
}
