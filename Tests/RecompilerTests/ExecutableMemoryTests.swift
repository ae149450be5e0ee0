import XCTest
import Glibc
@testable import Recompiler

/// The dual-mapped code region: what the host runs is what was written
/// through the other view, links patched later are seen, and the kernel's
/// own list of this process's mappings (/proc/self/maps) shows no page
/// writable and executable at once.
final class ExecutableMemoryTests: XCTestCase {
    typealias Function = @convention(c) () -> UInt32

    /// mov eax, value; ret
    func returning(_ value: UInt32) -> [UInt8] { [0xB8] + withUnsafeBytes(of: value.littleEndian, Array.init) + [0xC3] }

    func install(_ code: [UInt8], in memory: ExecutableMemory) -> UnsafeRawPointer {
        code.withUnsafeBufferPointer { memory.install($0.baseAddress!, count: code.count)! }
    }

    func call(_ address: UnsafeRawPointer) -> UInt32 { unsafeBitCast(address, to: Function.self)() }

    /// A /proc file to its end (its size reads as 0, so read until EOF).
    func readWholeFile(_ path: String) -> String {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    func testInstalledCodeRunsAndPatchedJumpsAreFollowed() throws {
        let memory = try ExecutableMemory(capacity: 1 << 20)
        let first = install(returning(1), in: memory), second = install(returning(2), in: memory)
        // jmp rel32 (to the next instruction until patched); mov eax, 3; ret
        let jumper = install([0xE9, 0, 0, 0, 0] + returning(3), in: memory)
        XCTAssertEqual(call(first), 1)
        XCTAssertEqual(call(second), 2)
        XCTAssertEqual(call(jumper), 3)
        memory.patchJump(field: jumper + 1, to: second)
        XCTAssertEqual(call(jumper), 2, "the patched jump runs at once")
        memory.patchJump(field: jumper + 1, to: first)
        XCTAssertEqual(call(jumper), 1)
    }

    func testNoMappingIsWritableAndExecutable() throws {
        let memory = try ExecutableMemory(capacity: 1 << 20)
        _ = install(returning(7), in: memory)
        let maps = readWholeFile("/proc/self/maps")
        let base = UInt(bitPattern: memory.base)
        // Shared anonymous memory shows as /dev/zero; the views are the two
        // mappings of the region's size.
        let views = maps.split(separator: "\n").filter { line in
            let range = line.split(separator: " ")[0].split(separator: "-").compactMap { UInt($0, radix: 16) }
            return line.contains("/dev/zero") && range.count == 2 && range[1] - range[0] == 1 << 20
        }
        XCTAssertGreaterThanOrEqual(views.count, 2, "a writable and an executable view:\n\(maps)")
        var sawExecutableView = false
        for line in views {
            let fields = line.split(separator: " ")
            let permissions = String(fields[1])
            XCTAssertFalse(permissions.contains("w") && permissions.contains("x"), "W^X: \(line)")
            let start = UInt(fields[0].split(separator: "-")[0], radix: 16)!
            if start == base { sawExecutableView = true; XCTAssertEqual(permissions, "r-xs") }
        }
        XCTAssertTrue(sawExecutableView, "the blocks' addresses lie in the read-execute view")
    }
}
