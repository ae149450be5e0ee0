import Console
import XCTest

final class WindowTitleTests: XCTestCase {
    func testTitleShowsStateEngineModeSpeedAndHostKeys() {
        let running = WindowTitle(paused: false, engine: "interpreter", cpuMode: "protected mode", mips: 48.24, mouseGrabbed: false)
        XCTAssertEqual(running.text,
                       "Novabox · running · interpreter · protected mode · 48 MIPS · Ctrl+Alt+G grabs the mouse · Ctrl+Alt+End: Ctrl+Alt+Del")
        let slow = WindowTitle(paused: false, engine: "interpreter", cpuMode: "real mode", mips: 3.14, mouseGrabbed: true)
        XCTAssertTrue(slow.text.contains("3.1 MIPS"))
        XCTAssertTrue(slow.text.contains("Ctrl+Alt+G releases the mouse"))
        let paused = WindowTitle(paused: true, engine: "interpreter", cpuMode: "paging", mips: 50, mouseGrabbed: false)
        XCTAssertTrue(paused.text.hasPrefix("Novabox · paused · interpreter · paging · Ctrl+Alt+G"), paused.text)
    }
}
