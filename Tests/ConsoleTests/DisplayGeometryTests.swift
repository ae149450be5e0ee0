import Console
import XCTest

/// Picture sizes as a VGA monitor shows them, and aspect-preserving fits.
final class DisplayGeometryTests: XCTestCase {
    typealias Size = DisplayGeometry.Size
    typealias Rect = DisplayGeometry.Rect

    func testMonitorSizes() {
        XCTAssertEqual(DisplayGeometry.monitorSize(of: Size(width: 720, height: 400)), Size(width: 720, height: 400))
        XCTAssertEqual(DisplayGeometry.monitorSize(of: Size(width: 320, height: 200)), Size(width: 640, height: 400),
                       "mode 13h: halved dot clock and double scan")
        XCTAssertEqual(DisplayGeometry.monitorSize(of: Size(width: 360, height: 400)), Size(width: 720, height: 400),
                       "40-column text")
        XCTAssertEqual(DisplayGeometry.monitorSize(of: Size(width: 640, height: 200)), Size(width: 640, height: 400))
        XCTAssertEqual(DisplayGeometry.monitorSize(of: Size(width: 1024, height: 768)), Size(width: 1024, height: 768))
    }

    func testWindowSizeScales() {
        XCTAssertEqual(DisplayGeometry.windowSize(for: Size(width: 720, height: 400), scale: 2), Size(width: 1440, height: 800))
        XCTAssertEqual(DisplayGeometry.windowSize(for: Size(width: 320, height: 200), scale: 1.5), Size(width: 960, height: 600))
    }

    func testFitKeepsAspectRatioCentred() {
        let text = Size(width: 720, height: 400)
        XCTAssertEqual(DisplayGeometry.fit(text, into: Size(width: 720, height: 400)), Rect(x: 0, y: 0, width: 720, height: 400))
        // Wider window: bars left and right.
        XCTAssertEqual(DisplayGeometry.fit(text, into: Size(width: 1000, height: 400)), Rect(x: 140, y: 0, width: 720, height: 400))
        // Taller window: bars above and below.
        XCTAssertEqual(DisplayGeometry.fit(text, into: Size(width: 360, height: 400)), Rect(x: 0, y: 100, width: 360, height: 200))
        // Full HD with a 4:3 VBE mode.
        XCTAssertEqual(DisplayGeometry.fit(Size(width: 1024, height: 768), into: Size(width: 1920, height: 1080)),
                       Rect(x: 240, y: 0, width: 1440, height: 1080))
        XCTAssertEqual(DisplayGeometry.fit(text, into: Size(width: 0, height: 0)), Rect(x: 0, y: 0, width: 0, height: 0))
    }
}
