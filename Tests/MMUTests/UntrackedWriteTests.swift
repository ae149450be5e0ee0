import XCTest
@testable import MMU

/// A RAM page written where no write is seen (a KVM vCPU, reported by its
/// dirty log): that page's cached code must count as stale afterwards;
/// other pages, with or without code, stay as they were.
final class UntrackedWriteTests: XCTestCase {
    func testUntrackedWriteMakesOnlyThatPagesCodeStale() throws {
        let m = try PhysicalMemory(ramSize: 1 << 20)
        let a = try XCTUnwrap(m.codePage(forReading: 0x5000)), b = try XCTUnwrap(m.codePage(forReading: 0x9000))
        let idle = try XCTUnwrap(m.codePage(forReading: 0xA000))
        m.watchCode(page: a, offset: 0, count: 16)
        m.watchCode(page: b, offset: 0x800, count: 16)
        var told: [UInt32] = []
        m.onCodePageWrite = { told.append($0) }
        let generations = (m.codeGenerations[a], m.codeGenerations[b], m.codeGenerations[idle]), epoch = m.codeEpoch
        m.ramPageWrittenUntracked(0x5)
        m.ramPageWrittenUntracked(0xA)
        m.ramPageWrittenUntracked(1 << 20)   // beyond RAM: ignored
        XCTAssertEqual(m.codeGenerations[a], generations.0 + 1)
        XCTAssertEqual(m.codeGenerations[b], generations.1, "page 9 was not written")
        XCTAssertEqual(m.codeGenerations[idle], generations.2, "no code was cached there")
        XCTAssertGreaterThan(m.codeEpoch, epoch)
        XCTAssertEqual(told, [0x5])
        XCTAssertFalse(m.isWatched(0x5000))
        XCTAssertTrue(m.isWatched(0x9800))
    }
}
