/// Buttons of a PS/2 mouse, in the bit order of its movement packets.
public struct MouseButtons: OptionSet, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue & 7 }
    public static let left = MouseButtons(rawValue: 1)
    public static let right = MouseButtons(rawValue: 2)
    public static let middle = MouseButtons(rawValue: 4)
}

/// A PS/2 mouse on the 8042's auxiliary port, per the IBM PS/2 mouse
/// command set, with the IntelliMouse wheel extension: the sample-rate
/// sequence 200, 100, 80 switches it to device ID 3 and 4-byte packets.
///
/// Motion from the host accumulates in counters like the mouse's own. In
/// stream mode with reporting enabled a packet is sent as soon as the
/// output buffer has room; counts beyond the packet's 9-bit range stay in
/// the counters for the next packet rather than setting the overflow bits,
/// so fast host motion is never lost.
final class PS2Mouse {
    static let ack: UInt8 = 0xFA, resend: UInt8 = 0xFE
    private static let validRates: Set<UInt8> = [10, 20, 40, 60, 80, 100, 200]
    private static let wheelSequence: [UInt8] = [200, 100, 80]

    private var buffer = ByteFIFO(capacity: 64)
    private var remoteMode = false
    private var reporting = false
    private var wrapMode = false
    private var scaling2to1 = false
    private var sampleRate: UInt8 = 100
    private var resolution: UInt8 = 2        // 4 counts/mm
    private var deviceID: UInt8 = 0
    private var recentRates: [UInt8] = []
    private var awaitingParameter: UInt8?
    private var lastSent: UInt8 = 0

    private var buttons = MouseButtons()
    private var dx = 0, dy = 0, dz = 0
    /// Buttons changed since the last packet (a packet is due even without motion).
    private var buttonsChanged = false

    func reset() {
        buffer.removeAll()
        setDefaults()
        deviceID = 0
        wrapMode = false
        awaitingParameter = nil
        recentRates = []
    }

    private func setDefaults() {
        remoteMode = false
        reporting = false
        scaling2to1 = false
        sampleRate = 100
        resolution = 2
        clearCounters()
    }

    private func clearCounters() {
        dx = 0; dy = 0; dz = 0
        buttonsChanged = false
    }

    func nextByte() -> UInt8? {
        if buffer.isEmpty && streamPacketDue { sendPacket(scaled: scaling2to1) }
        guard let b = buffer.pop() else { return nil }
        lastSent = b
        return b
    }

    private var packetSize: Int { deviceID == 3 ? 4 : 3 }

    private var streamPacketDue: Bool {
        reporting && !remoteMode && !wrapMode && (dx != 0 || dy != 0 || dz != 0 || buttonsChanged)
    }

    private func reply(_ bytes: UInt8...) {
        for b in bytes { buffer.push(b) }
    }

    // MARK: - Motion

    /// `dy` counts upwards, as the PS/2 protocol does; `dz` counts towards
    /// the user (wheel scrolled down).
    func motion(dx: Int, dy: Int, dz: Int, buttons: MouseButtons) {
        self.dx += dx
        self.dy += dy
        self.dz += dz
        if buttons != self.buttons { buttonsChanged = true }
        self.buttons = buttons
        if buffer.capacity - buffer.count >= packetSize && streamPacketDue { sendPacket(scaled: scaling2to1) }
    }

    /// One movement packet from the counters; what does not fit stays counted.
    private func sendPacket(scaled: Bool) {
        let x = min(max(dx, -256), 255), y = min(max(dy, -256), 255), z = min(max(dz, -8), 7)
        dx -= x; dy -= y; dz -= z
        buttonsChanged = false
        let sx = scaled ? Self.scale(x) : x, sy = scaled ? Self.scale(y) : y
        var header = buttons.rawValue | 0x08
        if sx < 0 { header |= 0x10 }
        if sy < 0 { header |= 0x20 }
        reply(header, UInt8(truncatingIfNeeded: sx), UInt8(truncatingIfNeeded: sy))
        if deviceID == 3 { reply(UInt8(truncatingIfNeeded: z)) }
    }

    /// 2:1 scaling of stream reports, per the table in the reference.
    private static func scale(_ v: Int) -> Int {
        let table = [0, 1, 1, 3, 6, 9]
        let m = abs(v)
        let s = m < table.count ? table[m] : min(2 * m, 255)
        return v < 0 ? -s : s
    }

    // MARK: - Commands from the host

    func receive(_ byte: UInt8) {
        if let command = awaitingParameter {
            awaitingParameter = nil
            parameter(byte, for: command)
            return
        }
        if wrapMode && byte != 0xEC && byte != 0xFF {
            reply(byte)
            return
        }
        switch byte {
        case 0xFF:                           // reset: self-test passed, ID 0
            reset()
            reply(Self.ack, 0xAA, 0x00)
        case 0xFE:
            reply(lastSent)
        case 0xF6:                           // set defaults
            setDefaults()
            reply(Self.ack)
        case 0xF5:                           // disable data reporting
            reporting = false
            clearCounters()
            reply(Self.ack)
        case 0xF4:                           // enable data reporting
            reporting = true
            clearCounters()
            reply(Self.ack)
        case 0xF3, 0xE8:                     // set sample rate, set resolution
            reply(Self.ack)
            awaitingParameter = byte
        case 0xF2:                           // get device ID
            reply(Self.ack, deviceID)
        case 0xF0:                           // remote mode
            remoteMode = true
            clearCounters()
            reply(Self.ack)
        case 0xEE:                           // wrap (echo) mode
            wrapMode = true
            clearCounters()
            reply(Self.ack)
        case 0xEC:                           // leave wrap mode
            wrapMode = false
            clearCounters()
            reply(Self.ack)
        case 0xEB:                           // read data (no scaling)
            reply(Self.ack)
            sendPacket(scaled: false)
        case 0xEA:                           // stream mode
            remoteMode = false
            clearCounters()
            reply(Self.ack)
        case 0xE9:                           // status request
            let b = buttons.rawValue
            // Status byte 1 orders the buttons left, middle, right from bit 2.
            let status = (remoteMode ? 0x40 : 0) | (reporting ? 0x20 : 0) | (scaling2to1 ? 0x10 : 0)
                | (b & 1) << 2 | (b & 4) >> 1 | (b & 2) >> 1
            reply(Self.ack, status, resolution, sampleRate)
        case 0xE7:
            scaling2to1 = true
            reply(Self.ack)
        case 0xE6:
            scaling2to1 = false
            reply(Self.ack)
        default:
            reply(Self.resend)
        }
    }

    private func parameter(_ byte: UInt8, for command: UInt8) {
        if command == 0xE8 {
            guard byte <= 3 else { reply(Self.resend); return }
            resolution = byte
            reply(Self.ack)
            return
        }
        guard Self.validRates.contains(byte) else { reply(Self.resend); return }
        sampleRate = byte
        recentRates = Array((recentRates + [byte]).suffix(3))
        if recentRates == Self.wheelSequence { deviceID = 3 }
        reply(Self.ack)
    }
}
