/// An MF2 keyboard on the 8042's first port, as the IBM PS/2 keyboard
/// technical reference describes its command set. The host side feeds it
/// scan code set 2 bytes (what the key matrix of an MF2 keyboard produces);
/// selected set 1, it translates them itself. Set 3 is not offered: asking
/// for it is answered with Resend, as a keyboard without it does.
///
/// Replies and key bytes wait in the keyboard's own buffer until the
/// controller takes them, which it does only while its keyboard interface
/// is enabled — the clock line inhibit of a real 8042.
final class PS2Keyboard {
    static let ack: UInt8 = 0xFA, resend: UInt8 = 0xFE, selfTestPassed: UInt8 = 0xAA
    /// The MF2 keyboard's identification bytes.
    static let identity: [UInt8] = [0xAB, 0x83]
    /// Key bytes the keyboard buffers before it reports an overrun.
    static let keyBufferSize = 16

    private var buffer = ByteFIFO(capacity: 64)
    private var scanning = true
    private(set) var scancodeSet: UInt8 = 2
    /// Scroll, Num and Caps Lock LEDs (bits 0–2) as the host last set them.
    private(set) var leds: UInt8 = 0
    /// A command waiting for its parameter byte (ED, F0, F3).
    private var awaitingParameter: UInt8?
    private var lastSent: UInt8 = 0
    private var set1Translator = ScancodeTranslator()

    /// Power-on defaults (and the reset command's).
    func reset() {
        buffer.removeAll()
        setDefaults()
        scanning = true
        leds = 0
        awaitingParameter = nil
    }

    private func setDefaults() {
        scancodeSet = 2
        set1Translator.reset()
    }

    func nextByte() -> UInt8? {
        guard let b = buffer.pop() else { return nil }
        lastSent = b
        return b
    }

    private func reply(_ bytes: UInt8...) {
        for b in bytes { buffer.push(b) }
    }

    // MARK: - Keys

    /// Set-2 bytes of key presses and releases. Dropped while scanning is
    /// disabled; when the buffer fills, the last slot gets the overrun code.
    func keyBytes(_ bytes: [UInt8]) {
        guard scanning else { return }
        for byte in bytes {
            let code: UInt8
            if scancodeSet == 1 {
                guard let translated = set1Translator.translate(byte) else { continue }
                code = translated
            } else {
                code = byte
            }
            if buffer.count >= Self.keyBufferSize { continue }
            let overrun: UInt8 = scancodeSet == 1 ? 0xFF : 0x00
            buffer.push(buffer.count == Self.keyBufferSize - 1 ? overrun : code)
        }
    }

    // MARK: - Commands from the host

    func receive(_ byte: UInt8) {
        if let command = awaitingParameter {
            awaitingParameter = nil
            parameter(byte, for: command)
            return
        }
        switch byte {
        case 0xED, 0xF3:                     // set LEDs, set typematic rate/delay
            reply(Self.ack)
            awaitingParameter = byte
        case 0xF0:                           // select/read scan code set
            reply(Self.ack)
            awaitingParameter = byte
        case 0xEE:                           // echo
            reply(0xEE)
        case 0xF2:                           // identify
            reply(Self.ack, Self.identity[0], Self.identity[1])
        case 0xF4:                           // enable scanning
            buffer.removeAll()
            scanning = true
            reply(Self.ack)
        case 0xF5:                           // disable scanning, restore defaults
            buffer.removeAll()
            setDefaults()
            scanning = false
            reply(Self.ack)
        case 0xF6:                           // restore defaults
            buffer.removeAll()
            setDefaults()
            reply(Self.ack)
        case 0xFE:                           // resend
            reply(lastSent)
        case 0xFF:                           // reset and self-test
            reset()
            reply(Self.ack, Self.selfTestPassed)
        default:                             // set-3 key type commands and unknown bytes
            reply(Self.resend)
        }
    }

    private func parameter(_ byte: UInt8, for command: UInt8) {
        switch command {
        case 0xED:
            leds = byte & 0x07
            reply(Self.ack)
        case 0xF3:
            // Key repeat comes from the host's own auto-repeat; the rate is only checked.
            reply(byte & 0x80 == 0 ? Self.ack : Self.resend)
        default:  // F0
            switch byte {
            case 0: reply(Self.ack, scancodeSet)
            case 1, 2:
                scancodeSet = byte
                set1Translator.reset()
                reply(Self.ack)
            default: reply(Self.resend)
            }
        }
    }
}
