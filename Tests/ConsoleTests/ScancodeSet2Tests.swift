import Console
import Devices
import XCTest

/// The host key table against the set 1 codes of Microsoft's Keyboard Scan
/// Code Specification (rev. 1.3a, the "Scan 1 Make" column per HID usage):
/// every set 2 code in the table, sent through the emulated 8042 with its
/// translation on (as every PC BIOS leaves it), must arrive as that key's
/// set 1 code, and its break as the set 1 break.
final class ScancodeSet2Tests: XCTestCase {
    /// SDL scancode (HID usage) → set 1 make bytes, from the specification.
    static let set1: [Int: [UInt8]] = [
        // A–Z
        4: [0x1E], 5: [0x30], 6: [0x2E], 7: [0x20], 8: [0x12], 9: [0x21], 10: [0x22], 11: [0x23], 12: [0x17],
        13: [0x24], 14: [0x25], 15: [0x26], 16: [0x32], 17: [0x31], 18: [0x18], 19: [0x19], 20: [0x10],
        21: [0x13], 22: [0x1F], 23: [0x14], 24: [0x16], 25: [0x2F], 26: [0x11], 27: [0x2D], 28: [0x15],
        29: [0x2C],
        // 1–0
        30: [0x02], 31: [0x03], 32: [0x04], 33: [0x05], 34: [0x06], 35: [0x07], 36: [0x08], 37: [0x09],
        38: [0x0A], 39: [0x0B],
        // Enter Esc Backspace Tab Space - = [ ] \ Europe1 ; ' ` , . / CapsLock
        40: [0x1C], 41: [0x01], 42: [0x0E], 43: [0x0F], 44: [0x39], 45: [0x0C], 46: [0x0D], 47: [0x1A],
        48: [0x1B], 49: [0x2B], 50: [0x2B], 51: [0x27], 52: [0x28], 53: [0x29], 54: [0x33], 55: [0x34],
        56: [0x35], 57: [0x3A],
        // F1–F12
        58: [0x3B], 59: [0x3C], 60: [0x3D], 61: [0x3E], 62: [0x3F], 63: [0x40], 64: [0x41], 65: [0x42],
        66: [0x43], 67: [0x44], 68: [0x57], 69: [0x58],
        // ScrollLock, Insert Home PgUp Delete End PgDn Right Left Down Up
        71: [0x46], 73: [0xE0, 0x52], 74: [0xE0, 0x47], 75: [0xE0, 0x49], 76: [0xE0, 0x53], 77: [0xE0, 0x4F],
        78: [0xE0, 0x51], 79: [0xE0, 0x4D], 80: [0xE0, 0x4B], 81: [0xE0, 0x50], 82: [0xE0, 0x48],
        // NumLock, keypad / * - + Enter 1–9 0 .
        83: [0x45], 84: [0xE0, 0x35], 85: [0x37], 86: [0x4A], 87: [0x4E], 88: [0xE0, 0x1C],
        89: [0x4F], 90: [0x50], 91: [0x51], 92: [0x4B], 93: [0x4C], 94: [0x4D], 95: [0x47], 96: [0x48],
        97: [0x49], 98: [0x52], 99: [0x53],
        // Europe 2, Application, Power, keypad =
        100: [0x56], 101: [0xE0, 0x5D], 102: [0xE0, 0x5E], 103: [0x59],
        // F13–F24
        104: [0x64], 105: [0x65], 106: [0x66], 107: [0x67], 108: [0x68], 109: [0x69], 110: [0x6A],
        111: [0x6B], 112: [0x6C], 113: [0x6D], 114: [0x6E], 115: [0x76],
        // Mute, Volume Up, Volume Down
        127: [0xE0, 0x20], 128: [0xE0, 0x30], 129: [0xE0, 0x2E],
        // Keypad comma, International 1–5
        133: [0x7E], 135: [0x73], 136: [0x70], 137: [0x7D], 138: [0x79], 139: [0x7B],
        // LCtrl LShift LAlt LGUI RCtrl RShift RAlt RGUI
        224: [0x1D], 225: [0x2A], 226: [0x38], 227: [0xE0, 0x5B], 228: [0xE0, 0x1D], 229: [0x36],
        230: [0xE0, 0x38], 231: [0xE0, 0x5C],
        // Next, Previous, Stop, Play/Pause, Mute, Media Select
        258: [0xE0, 0x19], 259: [0xE0, 0x10], 260: [0xE0, 0x24], 261: [0xE0, 0x22], 262: [0xE0, 0x20],
        263: [0xE0, 0x6D],
        // Mail, Calculator, My Computer
        265: [0xE0, 0x6C], 266: [0xE0, 0x21], 267: [0xE0, 0x6B],
        // Browser Search, Home, Back, Forward, Stop, Refresh, Favorites; Sleep
        268: [0xE0, 0x65], 269: [0xE0, 0x32], 270: [0xE0, 0x6A], 271: [0xE0, 0x69], 272: [0xE0, 0x68],
        273: [0xE0, 0x67], 274: [0xE0, 0x66], 282: [0xE0, 0x5F],
    ]

    final class NoInterrupts: InterruptSink { func setIRQ(_ line: Int, _ level: Bool) {} }

    /// What the guest reads from port 60h after the keyboard sent `bytes`.
    func throughThe8042(_ bytes: [UInt8]) -> [UInt8] {
        let sink = NoInterrupts()
        let controller = PS2Controller(keyboardIRQ: InterruptLine(sink, 1), mouseIRQ: InterruptLine(sink, 12))
        controller.keyboardScancodes(bytes)
        var out: [UInt8] = []
        while controller.portRead(0x64, size: 1) & 1 != 0 {
            out.append(UInt8(truncatingIfNeeded: controller.portRead(0x60, size: 1)))
        }
        return out
    }

    func testEveryKeyTranslatesToItsSet1Code() {
        for (scancode, expected) in Self.set1.sorted(by: { $0.key < $1.key }) {
            guard let key = ScancodeSet2.key(scancode) else {
                XCTFail("scancode \(scancode) has no set 2 code")
                continue
            }
            XCTAssertEqual(throughThe8042(key.make), expected, "make of scancode \(scancode)")
            var expectedBreak = expected
            expectedBreak[expectedBreak.count - 1] |= 0x80
            XCTAssertEqual(throughThe8042(key.breakCode), expectedBreak, "break of scancode \(scancode)")
        }
    }

    func testTheTableHasNoKeysBeyondTheSpecification() {
        for scancode in 0..<512 where ScancodeSet2.key(scancode) != nil {
            XCTAssertNotNil(Self.set1[scancode], "scancode \(scancode) is in the table but not in the reference")
        }
    }

    /// A few set 2 codes as IBM's keyboard reference gives them, byte for byte.
    func testSet2CodesFromTheKeyboardReference() {
        XCTAssertEqual(ScancodeSet2.key(4)?.make, [0x1C])              // A
        XCTAssertEqual(ScancodeSet2.key(40)?.make, [0x5A])             // Enter
        XCTAssertEqual(ScancodeSet2.key(64)?.make, [0x83])             // F7, the one code above 7Fh
        XCTAssertEqual(ScancodeSet2.key(228)?.make, [0xE0, 0x14])      // right Ctrl
        XCTAssertEqual(ScancodeSet2.key(88)?.breakCode, [0xE0, 0xF0, 0x5A])   // keypad Enter
        XCTAssertEqual(ScancodeSet2.key(41)?.breakCode, [0xF0, 0x76])  // Esc
        XCTAssertNil(ScancodeSet2.key(0))
        XCTAssertNil(ScancodeSet2.key(-1))
        XCTAssertNil(ScancodeSet2.key(1_000_000))
    }
}
