import XCTest
@testable import MMU

/// RAM written where no write is seen (a KVM vCPU): every page's cached
/// code must count as stale afterwards, pages without code stay as they were.
final class UntrackedWriteTests: XCTestCase {
    func testUntrackedWritesMakeAllCachedCodeStale() throws {
        let m = try PhysicalMemory(ramSize: 1 << 20)
        let a = try XCTUnwrap(m.codePage(forReading: 0x5000)), b = try XCTUnwrap(m.codePage(forReading: 0x9000))
        let idle = try XCTUnwrap(m.codePage(forReading: 0xA000))
        m.watchCode(page: a, offset: 0, count: 16)
        m.watchCode(page: b, offset: 0x800, count: 16)
        let generations = (m.codeGenerations[a], m.codeGenerations[b], m.codeGenerations[idle]), epoch = m.codeEpoch
        m.ramWrittenUntracked()
        XCTAssertEqual(m.codeGenerations[a], generations.0 + 1)
        XCTAssertEqual(m.codeGenerations[b], generations.1 + 1)
        XCTAssertEqual(m.codeGenerations[idle], generations.2, "no code was cached there")
        XCTAssertGreaterThan(m.codeEpoch, epoch)
        XCTAssertFalse(m.isWatched(0x5000))
    }
}
