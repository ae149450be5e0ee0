import XCTest
@testable import Debugger

/// Framing against the GDB manual's definition (E.1 Overview): the
/// checksum is the modulo-256 sum of the payload; `}` escapes with XOR 0x20.
final class GDBPacketReaderTests: XCTestCase {
    func testChecksumFromTheManual() {
        // "m0,4" sums to 0x6D + 0x30 + 0x2C + 0x34 = 0xFD.
        var r = GDBPacketReader()
        XCTAssertEqual(r.feed(Array("$m0,4#fd".utf8)), [.packet(Array("m0,4".utf8))])
        XCTAssertEqual(GDBPacketReader.frame(Array("OK".utf8)), Array("$OK#9a".utf8))
    }

    func testBadChecksumIsCorrupt() {
        var r = GDBPacketReader()
        XCTAssertEqual(r.feed(Array("$m0,4#fe".utf8)), [.corrupt])
        XCTAssertEqual(r.feed(Array("$m0,4#zz".utf8)), [.corrupt])
        // The reader recovers for the next packet.
        XCTAssertEqual(r.feed(Array("$g#67".utf8)), [.packet([UInt8(ascii: "g")])])
    }

    func testSplitAndJoinedPacketsAndInterrupt() {
        var r = GDBPacketReader()
        XCTAssertEqual(r.feed(Array("+$g".utf8)), [])
        XCTAssertEqual(r.feed(Array("#67$?#3f".utf8) + [0x03]), [.packet(Array("g".utf8)), .packet(Array("?".utf8)), .interrupt])
    }

    func testEscapes() {
        // "}\x03" is '#' (0x23) escaped; the checksum covers the escaped bytes.
        let framed = GDBPacketReader.frame([0x58, 0x23, 0x7D])
        XCTAssertEqual(Array(framed[1..<6]), [0x58, 0x7D, 0x03, 0x7D, 0x5D])
        var r = GDBPacketReader()
        XCTAssertEqual(r.feed(framed), [.packet([0x58, 0x23, 0x7D])])
    }

    func testOversizedPacketIsRejectedNotBuffered() {
        var r = GDBPacketReader()
        let big = [UInt8](repeating: UInt8(ascii: "a"), count: GDBPacketReader.maximumPayload + 10)
        let sum = big.reduce(UInt8(0), &+)
        let events = r.feed([UInt8(ascii: "$")] + big + [UInt8(ascii: "#")] + hexString([sum]))
        XCTAssertEqual(events, [.corrupt])
    }

    func testHexHelpers() {
        XCTAssertEqual(parseHexNumber(Array("fFf0".utf8)), 0xFFF0)
        XCTAssertNil(parseHexNumber(Array("12g".utf8)))
        XCTAssertNil(parseHexNumber([]))
        XCTAssertNil(bytesFromHex(Array("abc".utf8)))
        XCTAssertEqual(bytesFromHex(Array("00ff".utf8)), [0, 255])
    }
}
