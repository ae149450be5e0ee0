import Devices
import XCTest

/// The graphics controller's write modes, latches and read modes, and the
/// sequencer's chain-4 addressing, as IBM's VGA documentation defines them.
final class VGAMemoryTests: XCTestCase {
    var bench: VGABench!

    override func setUpWithError() throws {
        bench = try VGABench()
        bench.program(.planar640x480)
    }

    /// Stores one byte per plane at A0000h + `offset` through the map mask.
    private func fill(_ offset: UInt32, planes: [UInt8]) {
        for (p, v) in planes.enumerated() {
            bench.sequencer(2, 1 << UInt8(p))
            bench.writeByte(0xA0000 + offset, v)
        }
        bench.sequencer(2, 0x0F)
    }

    private func planes(_ offset: Int) -> [UInt8] { (0..<4).map { bench.plane($0, offset) } }

    func testWriteMode0WritesTheCPUByteToEveryEnabledPlane() {
        bench.sequencer(2, 0x05)
        bench.writeByte(0xA0010, 0xA5)
        XCTAssertEqual(planes(0x10), [0xA5, 0x00, 0xA5, 0x00])
    }

    func testWriteMode0SetResetReplacesTheCPUByteForEnabledPlanes() {
        bench.graphics(0, 0x0A)   // set/reset: planes 1 and 3 to ones
        bench.graphics(1, 0x0F)   // enabled for all planes
        bench.writeByte(0xA0000, 0x5A)
        XCTAssertEqual(planes(0), [0x00, 0xFF, 0x00, 0xFF])
        bench.graphics(1, 0x03)   // only planes 0 and 1 take set/reset; 2 and 3 get the CPU byte
        bench.writeByte(0xA0001, 0x5A)
        XCTAssertEqual(planes(1), [0x00, 0xFF, 0x5A, 0x5A])
    }

    func testBitMaskTakesMaskedBitsFromTheLatchesNotFromMemory() {
        fill(0, planes: [0xFF, 0xFF, 0xFF, 0xFF])
        fill(1, planes: [0x11, 0x22, 0x44, 0x88])
        _ = bench.readByte(0xA0000)   // latches = FF FF FF FF
        bench.graphics(8, 0x0F)
        bench.writeByte(0xA0001, 0x00)
        XCTAssertEqual(planes(1), [0xF0, 0xF0, 0xF0, 0xF0], "bits 4-7 came from the latches of offset 0")
    }

    func testRotateAndLogicalOperationCombineWithLatches() {
        fill(0, planes: [0x0F, 0xF0, 0xFF, 0x00])
        _ = bench.readByte(0xA0000)
        bench.graphics(3, 0x18 | 1)   // XOR, rotate right by one
        bench.writeByte(0xA0000, 0x03)   // rotated: 0x81
        XCTAssertEqual(planes(0), [0x8E, 0x71, 0x7E, 0x81])
        _ = bench.readByte(0xA0000)
        bench.graphics(3, 0x08)   // AND
        bench.writeByte(0xA0000, 0xF0)
        XCTAssertEqual(planes(0), [0x80, 0x70, 0x70, 0x80])
        _ = bench.readByte(0xA0000)
        bench.graphics(3, 0x10)   // OR
        bench.writeByte(0xA0000, 0x01)
        XCTAssertEqual(planes(0), [0x81, 0x71, 0x71, 0x81])
    }

    func testWriteMode1CopiesAllFourPlanesThroughTheLatches() {
        fill(0x100, planes: [0x12, 0x34, 0x56, 0x78])
        _ = bench.readByte(0xA0100)
        bench.graphics(5, 0x01)
        bench.graphics(8, 0x00)   // the bit mask does not apply in write mode 1
        bench.writeByte(0xA0200, 0xEE)
        XCTAssertEqual(planes(0x200), [0x12, 0x34, 0x56, 0x78])
        bench.sequencer(2, 0x06)   // the map mask still does
        bench.writeByte(0xA0300, 0x00)
        XCTAssertEqual(planes(0x300), [0x00, 0x34, 0x56, 0x00])
    }

    func testWriteMode2SpreadsColourBitsAcrossPlanesUnderTheBitMask() {
        fill(0, planes: [0x00, 0x00, 0xFF, 0xFF])
        _ = bench.readByte(0xA0000)
        bench.graphics(5, 0x02)
        bench.graphics(8, 0x81)
        bench.writeByte(0xA0000, 0x05)   // colour 5: planes 0 and 2
        XCTAssertEqual(planes(0), [0x81, 0x00, 0xFF, 0x7E])
    }

    func testWriteMode3UsesRotatedCPUByteAsMaskForSetReset() {
        fill(0, planes: [0xFF, 0x00, 0xFF, 0x00])
        _ = bench.readByte(0xA0000)
        bench.graphics(5, 0x03)
        bench.graphics(0, 0x0C)   // colour 12: planes 2 and 3
        bench.graphics(8, 0x3C)
        bench.graphics(3, 0x02)   // rotate right by two
        bench.writeByte(0xA0000, 0xF0)   // rotated 0x3C, ANDed with 0x3C
        XCTAssertEqual(planes(0), [0xC3, 0x00, 0xFF, 0x3C])
    }

    func testReadMode0ReturnsTheSelectedPlane() {
        fill(0x40, planes: [0x11, 0x22, 0x33, 0x44])
        for p: UInt8 in 0..<4 {
            bench.graphics(4, p)
            XCTAssertEqual(bench.readByte(0xA0040), [0x11, 0x22, 0x33, 0x44][Int(p)])
        }
    }

    func testReadMode1ComparesColoursWithDontCare() {
        fill(0x40, planes: [0xF0, 0xCC, 0xAA, 0x00])
        bench.graphics(5, 0x08)
        bench.graphics(2, 0x07)   // colour 7
        bench.graphics(7, 0x0F)
        XCTAssertEqual(bench.readByte(0xA0040), 0x80, "only the leftmost pixel has colour 7")
        bench.graphics(7, 0x01)   // compare plane 0 only
        XCTAssertEqual(bench.readByte(0xA0040), 0xF0)
        bench.graphics(7, 0x00)   // nothing compared: every pixel matches
        XCTAssertEqual(bench.readByte(0xA0040), 0xFF)
    }

    func testChain4SelectsPlaneByLowAddressBits() {
        bench.program(.chained320x200)
        for i in 0..<8 { bench.writeByte(0xA0000 + UInt32(i), UInt8(0x10 + i)) }
        // Pixel n is in plane n & 3 at offset n & ~3, where the CRTC's
        // doubleword mode scans it.
        XCTAssertEqual(planes(0), [0x10, 0x11, 0x12, 0x13])
        XCTAssertEqual(planes(4), [0x14, 0x15, 0x16, 0x17])
        XCTAssertEqual(planes(1), [0, 0, 0, 0])
        XCTAssertEqual(bench.readByte(0xA0006), 0x16)
        bench.memory.write(0xA0100, size: 4, value: 0x4433_2211)
        XCTAssertEqual(bench.memory.read(0xA0100, size: 4), 0x4433_2211)
        bench.sequencer(2, 0x01)   // only plane 0 enabled
        bench.writeByte(0xA0001, 0xEE)
        bench.writeByte(0xA0004, 0xDD)
        XCTAssertEqual(planes(0), [0x10, 0x11, 0x12, 0x13])
        XCTAssertEqual(planes(4), [0xDD, 0x15, 0x16, 0x17])
    }
}
