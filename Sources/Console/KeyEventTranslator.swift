/// Turns the host's key presses, auto-repeats and releases into the bytes
/// an MF2 keyboard would send (scan code set 2), and picks out the host key
/// combinations meant for Novabox itself.
///
/// The guest sees a key's break only if it saw its make, and the break
/// matches the make even when the modifiers changed in between: each
/// pressed key remembers the bytes its repeat and release send. Auto-repeat
/// resends the make code, as a keyboard's typematic repeat does (the rate
/// is the host's). Keys whose bytes depend on modifiers, per the scan code
/// specification:
/// - PrintScreen: E0 12 E0 7C alone, E0 7C with Shift or Ctrl, and the
///   SysRq code 84 with Alt;
/// - Pause: E1 14 77 E1 F0 14 F0 77 on press and nothing on release (it
///   sends its own break at once), E0 7E E0 F0 7E (Break) with Ctrl; never
///   repeated.
/// Not modelled: the fake Shift codes a real keyboard wraps around the
/// cursor keys while NumLock is on; operating systems discard them.
///
/// Host keys are Ctrl+Alt plus a letter (see `HostCommand`); the guest
/// sees Ctrl and Alt go down and up, never the letter. Ctrl+Alt+End sends
/// Delete, so the guest gets Ctrl+Alt+Del without the host desktop taking it.
public struct KeyEventTranslator {
    public enum HostCommand: Equatable, Sendable, CaseIterable {
        case toggleMouseGrab, screenshot, togglePause, toggleFullScreen

        /// SDL scancode of the letter pressed with Ctrl+Alt.
        public var scancode: Int {
            switch self {
            case .toggleMouseGrab: return 10    // G
            case .screenshot: return 22         // S
            case .togglePause: return 19        // P
            case .toggleFullScreen: return 9    // F
            }
        }

        /// How the window title and the help text name the combination.
        public var keyName: String {
            switch self {
            case .toggleMouseGrab: return "Ctrl+Alt+G"
            case .screenshot: return "Ctrl+Alt+S"
            case .togglePause: return "Ctrl+Alt+P"
            case .toggleFullScreen: return "Ctrl+Alt+F"
            }
        }
    }

    /// The host key that sends Ctrl+Alt+Del.
    public static let controlAltDeleteKeyName = "Ctrl+Alt+End"

    /// What one host key event means.
    public struct Output: Equatable, Sendable {
        /// Set 2 bytes for the keyboard, in order.
        public var guestBytes: [UInt8] = []
        public var command: HostCommand? = nil

        public init(guestBytes: [UInt8] = [], command: HostCommand? = nil) {
            self.guestBytes = guestBytes
            self.command = command
        }
    }

    /// What a key the guest saw go down sends on repeat and on release.
    private struct PressedKey {
        var repeatBytes: [UInt8]
        var breakBytes: [UInt8]
    }

    private var pressed: [Int: PressedKey] = [:]
    /// Host-key letters whose press Novabox took; their release is swallowed too.
    private var taken: Set<Int> = []

    public init() {}

    private func isDown(_ scancodes: Int...) -> Bool { scancodes.contains { pressed[$0] != nil } }
    private var control: Bool { isDown(ScancodeSet2.leftControl, ScancodeSet2.rightControl) }
    private var alt: Bool { isDown(ScancodeSet2.leftAlt, ScancodeSet2.rightAlt) }
    private var shift: Bool { isDown(ScancodeSet2.leftShift, ScancodeSet2.rightShift) }

    /// A key went down, or auto-repeated (`isRepeat`).
    public mutating func keyDown(_ scancode: Int, isRepeat: Bool = false) -> Output {
        if taken.contains(scancode) { return Output() }
        if let key = pressed[scancode] {
            // A repeat (or a second press without a release between, which
            // a keyboard cannot produce either): the typematic bytes.
            return Output(guestBytes: key.repeatBytes)
        }
        if control && alt, let command = HostCommand.allCases.first(where: { $0.scancode == scancode }) {
            taken.insert(scancode)
            return Output(command: command)
        }
        guard let key = press(scancode) else { return Output() }
        pressed[scancode] = key.pressed
        return Output(guestBytes: key.make)
    }

    /// A key went up.
    public mutating func keyUp(_ scancode: Int) -> Output {
        if taken.remove(scancode) != nil { return Output() }
        guard let key = pressed.removeValue(forKey: scancode) else { return Output() }
        return Output(guestBytes: key.breakBytes)
    }

    /// Releases every key the guest believes is down (the window lost the
    /// keyboard focus, so their releases will not come).
    public mutating func releaseAll() -> [UInt8] {
        let bytes = pressed.keys.sorted().flatMap { pressed[$0]!.breakBytes }
        pressed.removeAll()
        taken.removeAll()
        return bytes
    }

    /// The make bytes of a new press and what the key will repeat and release.
    private func press(_ scancode: Int) -> (make: [UInt8], pressed: PressedKey)? {
        switch scancode {
        case ScancodeSet2.printScreen:
            if alt { return plain(ScancodeSet2.Key(code: 0x84, extended: false)) }
            let screen = ScancodeSet2.Key(code: 0x7C, extended: true)
            if shift || control { return plain(screen) }
            return ([0xE0, 0x12] + screen.make,
                    PressedKey(repeatBytes: screen.make, breakBytes: screen.breakCode + [0xE0, 0xF0, 0x12]))
        case ScancodeSet2.pause:
            if control {
                let breakKey = ScancodeSet2.Key(code: 0x7E, extended: true)
                return (breakKey.make + breakKey.breakCode, PressedKey(repeatBytes: [], breakBytes: []))
            }
            return ([0xE1, 0x14, 0x77, 0xE1, 0xF0, 0x14, 0xF0, 0x77], PressedKey(repeatBytes: [], breakBytes: []))
        case ScancodeSet2.end where control && alt:
            return plain(ScancodeSet2.Key(code: 0x71, extended: true))   // Delete
        default:
            return ScancodeSet2.key(scancode).map(plain)
        }
    }

    private func plain(_ key: ScancodeSet2.Key) -> (make: [UInt8], pressed: PressedKey) {
        (key.make, PressedKey(repeatBytes: key.make, breakBytes: key.breakCode))
    }
}
