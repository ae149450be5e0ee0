/// Host keys as the PS/2 keyboard reports them: scan code set 2 make codes,
/// the codes an MF2 keyboard sends and the 8042 translates to set 1.
///
/// Keys are named by SDL scancode, which for the keyboard proper (4–231)
/// *is* the USB HID usage ID of the Keyboard/Keypad page, the physical key
/// position whatever the host layout; the consumer keys above 256 are SDL's
/// own numbers. The codes follow Microsoft's "Keyboard Scan Code
/// Specification" (rev. 1.3a), which lists set 1 and set 2 codes per HID
/// usage. A break is F0 before the make code's last byte (after E0 if the
/// key has it).
///
/// PrintScreen and Pause do not fit that pattern (their bytes depend on the
/// modifiers held) and are handled by `KeyEventTranslator`.
public enum ScancodeSet2 {
    /// A make code: one byte, E0-prefixed for the keys the 101-key keyboard
    /// added (right Ctrl/Alt, the separate cursor block, keypad / and Enter…).
    public struct Key: Equatable, Sendable {
        public var code: UInt8
        public var extended: Bool

        public var make: [UInt8] { extended ? [0xE0, code] : [code] }
        public var breakCode: [UInt8] { extended ? [0xE0, 0xF0, code] : [0xF0, code] }
    }

    // SDL scancodes the translator gives special treatment.
    public static let printScreen = 70
    public static let pause = 72
    public static let end = 77
    public static let leftControl = 224, leftShift = 225, leftAlt = 226
    public static let rightControl = 228, rightShift = 229, rightAlt = 230

    /// The make code of the key at SDL scancode `scancode`, or nil for keys
    /// a PS/2 keyboard does not have.
    public static func key(_ scancode: Int) -> Key? {
        if scancode >= 0 && scancode < table.count, let key = table[scancode] { return key }
        return consumerKeys[scancode]
    }

    /// (SDL scancode, set 2 code), one-byte keys.
    private static let plain: [(Int, UInt8)] = [
        // Letters A–Z (4–29)
        (4, 0x1C), (5, 0x32), (6, 0x21), (7, 0x23), (8, 0x24), (9, 0x2B), (10, 0x34), (11, 0x33), (12, 0x43),
        (13, 0x3B), (14, 0x42), (15, 0x4B), (16, 0x3A), (17, 0x31), (18, 0x44), (19, 0x4D), (20, 0x15),
        (21, 0x2D), (22, 0x1B), (23, 0x2C), (24, 0x3C), (25, 0x2A), (26, 0x1D), (27, 0x22), (28, 0x35),
        (29, 0x1A),
        // 1–9, 0 (30–39)
        (30, 0x16), (31, 0x1E), (32, 0x26), (33, 0x25), (34, 0x2E), (35, 0x36), (36, 0x3D), (37, 0x3E),
        (38, 0x46), (39, 0x45),
        // Enter, Esc, Backspace, Tab, Space, - = [ ] \, Europe 1 (#~), ; ' ` , . /, CapsLock
        (40, 0x5A), (41, 0x76), (42, 0x66), (43, 0x0D), (44, 0x29), (45, 0x4E), (46, 0x55), (47, 0x54),
        (48, 0x5B), (49, 0x5D), (50, 0x5D), (51, 0x4C), (52, 0x52), (53, 0x0E), (54, 0x41), (55, 0x49),
        (56, 0x4A), (57, 0x58),
        // F1–F12
        (58, 0x05), (59, 0x06), (60, 0x04), (61, 0x0C), (62, 0x03), (63, 0x0B), (64, 0x83), (65, 0x0A),
        (66, 0x01), (67, 0x09), (68, 0x78), (69, 0x07),
        // ScrollLock, NumLock, keypad * - +
        (71, 0x7E), (83, 0x77), (85, 0x7C), (86, 0x7B), (87, 0x79),
        // Keypad 1–9, 0, .
        (89, 0x69), (90, 0x72), (91, 0x7A), (92, 0x6B), (93, 0x73), (94, 0x74), (95, 0x6C), (96, 0x75),
        (97, 0x7D), (98, 0x70), (99, 0x71),
        // Europe 2 (the 102nd key, <>|), keypad =
        (100, 0x61), (103, 0x0F),
        // F13–F24
        (104, 0x08), (105, 0x10), (106, 0x18), (107, 0x20), (108, 0x28), (109, 0x30), (110, 0x38),
        (111, 0x40), (112, 0x48), (113, 0x50), (114, 0x57), (115, 0x5F),
        // Keypad comma (Brazil), International 1–5: Ro, Katakana/Hiragana, Yen, Henkan, Muhenkan
        (133, 0x6D), (135, 0x51), (136, 0x13), (137, 0x6A), (138, 0x64), (139, 0x67),
        // Left Ctrl, Shift, Alt; right Shift
        (224, 0x14), (225, 0x12), (226, 0x11), (229, 0x59),
    ]

    /// (SDL scancode, set 2 code), E0-prefixed keys.
    private static let extendedKeys: [(Int, UInt8)] = [
        // Insert, Home, PageUp, Delete, End, PageDown, Right, Left, Down, Up
        (73, 0x70), (74, 0x6C), (75, 0x7D), (76, 0x71), (77, 0x69), (78, 0x7A), (79, 0x74), (80, 0x6B),
        (81, 0x72), (82, 0x75),
        // Keypad / and Enter, Application (menu), Power
        (84, 0x4A), (88, 0x5A), (101, 0x2F), (102, 0x37),
        // Mute, Volume Up, Volume Down (HID keyboard page)
        (127, 0x23), (128, 0x32), (129, 0x21),
        // Left GUI, right Ctrl, right Alt, right GUI
        (227, 0x1F), (228, 0x14), (230, 0x11), (231, 0x27),
    ]

    /// SDL's consumer keys (above 256): media and browser keys, E0-prefixed.
    private static let consumerKeys: [Int: Key] = Dictionary(uniqueKeysWithValues: [
        // Next, Previous, Stop, Play/Pause, Mute, Media Select
        (258, 0x4D), (259, 0x15), (260, 0x3B), (261, 0x34), (262, 0x23), (263, 0x50),
        // Mail, Calculator, My Computer
        (265, 0x48), (266, 0x2B), (267, 0x40),
        // Browser Search, Home, Back, Forward, Stop, Refresh, Favorites
        (268, 0x10), (269, 0x3A), (270, 0x38), (271, 0x30), (272, 0x28), (273, 0x20), (274, 0x18),
        // Sleep
        (282, 0x3F),
    ].map { ($0.0, Key(code: $0.1, extended: true)) })

    private static let table: [Key?] = {
        var t = [Key?](repeating: nil, count: 232)
        for (scancode, code) in plain { t[scancode] = Key(code: code, extended: false) }
        for (scancode, code) in extendedKeys { t[scancode] = Key(code: code, extended: true) }
        return t
    }()
}
