import XCTest
@testable import Recompiler

/// The translation table starts as zero pages and returns to them at a
/// flush: an empty slot must never answer a lookup, not even one for the
/// all-zero key (physical 0, EIP 0, a 16-bit real-mode CS of limit 0).
final class TranslationCacheTests: XCTestCase {
    let zeroKey = TranslationCache.Key(physical: 0, eip: 0, csBase: 0, csLimit: 0, mode: 0)
    let someKey = TranslationCache.Key(physical: 0x7C00, eip: 0x7C00, csBase: 0, csLimit: 0xFFFF, mode: 0)

    func testAnEmptyTableFindsNothing() throws {
        let cache = try TranslationCache()
        XCTAssertNil(cache.lookup(zeroKey))
        XCTAssertNil(cache.lookup(someKey))
    }

    func testRecordedBlocksAreFoundUntilAFlush() throws {
        let cache = try TranslationCache()
        for key in [zeroKey, someKey] {
            _ = cache.record(TranslationCache.Block(key: key, instructionCount: 3, codePage: 7))
        }
        for key in [zeroKey, someKey] {
            XCTAssertEqual(cache.lookup(key)?.pointee.instructionCount, 3)
            XCTAssertEqual(cache.lookup(key)?.pointee.codePage, 7)
        }
        cache.flush()
        XCTAssertNil(cache.lookup(zeroKey), "a flushed slot reads as zeros: empty")
        XCTAssertNil(cache.lookup(someKey))
        XCTAssertEqual(cache.flushes, 1)
    }
}
