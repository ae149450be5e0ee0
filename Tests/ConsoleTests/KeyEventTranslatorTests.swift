import Console
import XCTest

/// Key events to set 2 bytes: typematic repeat, the modifier-dependent
/// PrintScreen and Pause codes of the scan code specification, host keys,
/// and no key left stuck in the guest.
final class KeyEventTranslatorTests: XCTestCase {
    let a = 4, g = 10, s = 22, end = 77, printScreen = 70, pause = 72
    let leftControl = 224, leftShift = 225, leftAlt = 226, rightAlt = 230

    func testPressRepeatRelease() {
        var k = KeyEventTranslator()
        XCTAssertEqual(k.keyDown(a).guestBytes, [0x1C])
        XCTAssertEqual(k.keyDown(a, isRepeat: true).guestBytes, [0x1C], "typematic repeat resends the make code")
        XCTAssertEqual(k.keyUp(a).guestBytes, [0xF0, 0x1C])
        XCTAssertEqual(k.keyUp(a).guestBytes, [], "no second break")
    }

    func testReleaseOfAKeyTheGuestNeverSawIsDropped() {
        var k = KeyEventTranslator()
        XCTAssertEqual(k.keyUp(a).guestBytes, [])
        XCTAssertEqual(k.keyDown(0).guestBytes, [], "unknown keys send nothing")
    }

    func testPrintScreenDependsOnModifiers() {
        var k = KeyEventTranslator()
        XCTAssertEqual(k.keyDown(printScreen).guestBytes, [0xE0, 0x12, 0xE0, 0x7C])
        XCTAssertEqual(k.keyDown(printScreen, isRepeat: true).guestBytes, [0xE0, 0x7C])
        XCTAssertEqual(k.keyUp(printScreen).guestBytes, [0xE0, 0xF0, 0x7C, 0xE0, 0xF0, 0x12])

        _ = k.keyDown(leftShift)
        XCTAssertEqual(k.keyDown(printScreen).guestBytes, [0xE0, 0x7C])
        _ = k.keyUp(leftShift)
        XCTAssertEqual(k.keyUp(printScreen).guestBytes, [0xE0, 0xF0, 0x7C], "the break matches the make")

        _ = k.keyDown(rightAlt)
        XCTAssertEqual(k.keyDown(printScreen).guestBytes, [0x84], "Alt+PrintScreen is SysRq")
        XCTAssertEqual(k.keyUp(printScreen).guestBytes, [0xF0, 0x84])
    }

    func testPauseAndBreak() {
        var k = KeyEventTranslator()
        XCTAssertEqual(k.keyDown(pause).guestBytes, [0xE1, 0x14, 0x77, 0xE1, 0xF0, 0x14, 0xF0, 0x77])
        XCTAssertEqual(k.keyDown(pause, isRepeat: true).guestBytes, [], "Pause does not repeat")
        XCTAssertEqual(k.keyUp(pause).guestBytes, [], "and has no break")
        _ = k.keyDown(leftControl)
        XCTAssertEqual(k.keyDown(pause).guestBytes, [0xE0, 0x7E, 0xE0, 0xF0, 0x7E], "Ctrl+Pause is Break")
        XCTAssertEqual(k.keyUp(pause).guestBytes, [])
    }

    func testHostKeysReachNovaboxNotTheGuest() {
        var k = KeyEventTranslator()
        XCTAssertEqual(k.keyDown(leftControl).guestBytes, [0x14])
        XCTAssertEqual(k.keyDown(leftAlt).guestBytes, [0x11])
        XCTAssertEqual(k.keyDown(g), .init(command: .toggleMouseGrab))
        XCTAssertEqual(k.keyDown(g, isRepeat: true), .init())
        XCTAssertEqual(k.keyUp(leftAlt).guestBytes, [0xF0, 0x11])
        XCTAssertEqual(k.keyUp(g), .init(), "the letter's release is swallowed too")
        XCTAssertEqual(k.keyDown(s).guestBytes, [0x1B], "without Alt, S is a key again")
        XCTAssertEqual(k.keyDown(leftAlt).guestBytes, [0x11])
        XCTAssertEqual(k.keyDown(s).command, nil, "a key already down repeats rather than becoming a host key")
    }

    func testControlAltEndSendsControlAltDelete() {
        var k = KeyEventTranslator()
        var bytes = k.keyDown(leftControl).guestBytes + k.keyDown(leftAlt).guestBytes
        bytes += k.keyDown(end).guestBytes
        XCTAssertEqual(bytes, [0x14, 0x11, 0xE0, 0x71])
        // Modifiers released first: End's release still releases Delete.
        _ = k.keyUp(leftAlt)
        _ = k.keyUp(leftControl)
        XCTAssertEqual(k.keyUp(end).guestBytes, [0xE0, 0xF0, 0x71])
        XCTAssertEqual(k.keyDown(end).guestBytes, [0xE0, 0x69], "End alone is End")
    }

    func testReleaseAllLeavesNoKeyStuck() {
        var k = KeyEventTranslator()
        _ = k.keyDown(leftShift)
        _ = k.keyDown(a)
        _ = k.keyDown(pause)
        XCTAssertEqual(k.releaseAll(), [0xF0, 0x1C, 0xF0, 0x12])
        XCTAssertEqual(k.keyUp(a).guestBytes, [])
    }
}
