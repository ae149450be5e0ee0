import Foundation
import Machine
import XCTest

/// `-perfmap`: the map `perf` reads for code outside any binary names the
/// translated blocks by the guest code they came from.
final class PerfMapTests: XCTestCase {
    func testBlocksAreNamedByTheirGuestCode() throws {
        try GuestImages.requireReleaseBuild()
        guard FileManager.default.fileExists(atPath: MachineConfiguration.defaultBIOS) else {
            throw XCTSkip("SeaBIOS is not installed (apt-get install seabios)")
        }
        let p = try NovaboxCommand.start(["-perfmap", "-display", "none", "-serial", "none", "-accel", "tcg",
                                          "-icount", "2", "-timeout", "0.2"])
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let path = "/tmp/perf-\(p.processIdentifier).map"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        // perf's format: start and length in hex, then the name.
        let entries = lines.map { $0.split(separator: " ", maxSplits: 2) }
        XCTAssertTrue(entries.allSatisfy { $0.count == 3 && UInt($0[0], radix: 16) != nil && (UInt($0[1], radix: 16) ?? 0) > 0 },
                      "malformed lines:\n\(lines.prefix(5).joined(separator: "\n"))")
        // The first block is the reset vector (CS base FFFF0000, IP FFF0);
        // SeaBIOS's far jump from there lands at F000:E05B.
        XCTAssertTrue(entries.first?[2].hasPrefix("guest_fffffff0_csffff0000[") == true, "first: \(lines.first ?? "none")")
        XCTAssertTrue(entries.contains { $0[2].hasPrefix("guest_fe05b_csf0000[") }, "no block at F000:E05B")
        XCTAssertGreaterThan(entries.count, 100, "SeaBIOS's POST runs more blocks than that")
    }
}
