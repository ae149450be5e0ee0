/// The Intel 8042 keyboard controller of PS/2-class PCs, at ports 60h
/// (data) and 64h (status/command), with a keyboard on the first port
/// (IRQ1) and a mouse on the auxiliary port (IRQ12).
///
/// The controller has one output buffer. Bytes wait in the devices' own
/// buffers, or in the controller's reply queue for its command responses,
/// until the buffer is empty; then the next one moves in, keyboard bytes
/// passing through the set 2 → set 1 translation when command byte bit 6
/// asks for it. A device's bytes are held while its interface is disabled
/// (command byte bits 4/5). Each IRQ line is a level: output buffer full
/// with that device's byte and its interrupt enabled (bits 0/1).
///
/// Commands are carried out at once, so the input-buffer-full status bit
/// is never set. Output port bit 1 gates A20 and bit 0 is the (active-low)
/// CPU reset: the machine listens through `onA20Change` and
/// `onResetRequest`. The output port powers up with both high (A20 on), as
/// 8042 port pins are after reset.
public final class PS2Controller: PortDevice {
    // Status register bits.
    static let outputFull: UInt8 = 0x01, systemFlag: UInt8 = 0x04, lastWasCommand: UInt8 = 0x08
    static let notInhibited: UInt8 = 0x10, auxData: UInt8 = 0x20
    // Command byte bits.
    static let keyboardInterrupt: UInt8 = 0x01, auxInterrupt: UInt8 = 0x02, systemFlagBit: UInt8 = 0x04
    static let keyboardDisabled: UInt8 = 0x10, auxDisabled: UInt8 = 0x20, translate: UInt8 = 0x40

    private let keyboardIRQ: InterruptLine
    private let mouseIRQ: InterruptLine
    private let keyboard = PS2Keyboard()
    private let mouse = PS2Mouse()

    /// The controller's 32 bytes of RAM reachable by commands 20h–3Fh/60h–7Fh; byte 0 is the command byte.
    private var ram = [UInt8](repeating: 0, count: 32)
    private var commandByte: UInt8 {
        get { ram[0] }
        set { ram[0] = newValue }
    }
    private var status: UInt8 = 0
    private var outputBuffer: UInt8 = 0
    /// Replies to controller commands (and bytes written with D2h/D3h), with their source.
    private var replies: [(byte: UInt8, fromAux: Bool)] = []
    /// A command that takes the next data-port byte (60h–7Fh, D1h–D4h).
    private var pendingCommand: UInt8?
    private var outputPort: UInt8 = 0x03
    private var translator = ScancodeTranslator()

    public var onA20Change: ((Bool) -> Void)?
    public var onResetRequest: (() -> Void)?

    public init(keyboardIRQ: InterruptLine, mouseIRQ: InterruptLine) {
        self.keyboardIRQ = keyboardIRQ
        self.mouseIRQ = mouseIRQ
        reset()
    }

    /// Power-on state: devices reset, interfaces enabled, interrupts off, translation on.
    public func reset() {
        keyboard.reset()
        mouse.reset()
        ram = [UInt8](repeating: 0, count: 32)
        commandByte = Self.translate
        status = Self.notInhibited
        replies = []
        pendingCommand = nil
        outputPort = 0x03
        translator.reset()
        updateInterrupts()
    }

    public func register(on bus: IOBus) {
        bus.register(self, ports: [0x60, 0x64])
    }

    /// The output port's A20 gate (bit 1).
    public var a20Enabled: Bool { outputPort & 0x02 != 0 }
    /// Scroll, Num and Caps Lock (bits 0–2) as the guest last set the keyboard's LEDs.
    public var keyboardLEDs: UInt8 { keyboard.leds }

    // MARK: - Host side

    /// Key presses and releases as scan code set 2 bytes (make codes; F0
    /// before a make code for its release; E0/E1 prefixes as the key has them).
    public func keyboardScancodes(_ bytes: [UInt8]) {
        keyboard.keyBytes(bytes)
        fillOutputBuffer()
    }

    /// Pointer motion in screen directions (`dy` positive = down, `dz`
    /// positive = wheel scrolled down) and the buttons now held.
    public func mouseMotion(dx: Int, dy: Int, dz: Int = 0, buttons: MouseButtons) {
        mouse.motion(dx: dx, dy: -dy, dz: dz, buttons: buttons)
        fillOutputBuffer()
    }

    // MARK: - Ports

    public func portRead(_ port: UInt16, size: Int) -> UInt32 {
        if port == 0x64 { return UInt32(status) }
        let value = outputBuffer
        status &= ~(Self.outputFull | Self.auxData)
        // The line drops before the next byte moves in, so the edge-triggered
        // PIC sees a new request for it (on the wire, a byte takes a millisecond).
        updateInterrupts()
        fillOutputBuffer()
        return UInt32(value)
    }

    public func portWrite(_ port: UInt16, size: Int, value: UInt32) {
        let v = UInt8(truncatingIfNeeded: value)
        if port == 0x64 {
            status |= Self.lastWasCommand
            pendingCommand = nil
            command(v)
        } else {
            status &= ~Self.lastWasCommand
            data(v)
        }
        fillOutputBuffer()
    }

    // MARK: - Controller commands

    private func reply(_ byte: UInt8, fromAux: Bool = false) {
        replies.append((byte, fromAux))
    }

    private func command(_ v: UInt8) {
        switch v {
        case 0x20...0x3F:
            reply(ram[Int(v - 0x20)])
        case 0x60...0x7F, 0xD1, 0xD2, 0xD3, 0xD4:
            pendingCommand = v
        case 0xA4:                           // password installed? no
            reply(0xF1)
        case 0xA7:
            commandByte |= Self.auxDisabled
        case 0xA8:
            commandByte &= ~Self.auxDisabled
        case 0xA9, 0xAB:                     // aux / keyboard interface test: no error
            reply(0x00)
        case 0xAA:                           // controller self-test
            status |= Self.systemFlag
            reply(0x55)
        case 0xAD:
            commandByte |= Self.keyboardDisabled
        case 0xAE:
            commandByte &= ~Self.keyboardDisabled
        case 0xC0:                           // input port: keyboard not inhibited, no manufacturing jumper
            reply(0xA0)
        case 0xD0:
            reply(outputPortValue)
        case 0xF0...0xFF:                    // pulse output port bits 0–3 whose command bit is 0
            if v & 0x01 == 0 { onResetRequest?() }
        default:
            break
        }
        updateInterrupts()
    }

    private func data(_ v: UInt8) {
        guard let command = pendingCommand else {
            keyboard.receive(v)
            return
        }
        pendingCommand = nil
        switch command {
        case 0x60...0x7F:
            ram[Int(command - 0x60)] = v
            if command == 0x60 {
                if v & Self.systemFlagBit != 0 { status |= Self.systemFlag } else { status &= ~Self.systemFlag }
                updateInterrupts()
            }
        case 0xD1:
            writeOutputPort(v)
        case 0xD2:
            reply(v)
        case 0xD3:
            reply(v, fromAux: true)
        default:                             // D4: to the mouse
            mouse.receive(v)
        }
    }

    /// The output port as read with D0h: bits 4 and 5 show the two
    /// output-buffer-full interrupt lines.
    private var outputPortValue: UInt8 {
        var v = outputPort & ~0x30
        if status & Self.outputFull != 0 { v |= status & Self.auxData != 0 ? 0x20 : 0x10 }
        return v
    }

    private func writeOutputPort(_ v: UInt8) {
        let a20Before = a20Enabled
        outputPort = v
        if a20Enabled != a20Before { onA20Change?(a20Enabled) }
        if v & 0x01 == 0 { onResetRequest?() }
    }

    // MARK: - Output buffer

    private func fillOutputBuffer() {
        defer { updateInterrupts() }
        guard status & Self.outputFull == 0 else { return }
        if !replies.isEmpty {
            let r = replies.removeFirst()
            load(r.byte, fromAux: r.fromAux)
            return
        }
        if commandByte & Self.keyboardDisabled == 0 {
            while let b = keyboard.nextByte() {
                if commandByte & Self.translate != 0 {
                    guard let t = translator.translate(b) else { continue }
                    load(t, fromAux: false)
                } else {
                    load(b, fromAux: false)
                }
                return
            }
        }
        if commandByte & Self.auxDisabled == 0, let b = mouse.nextByte() {
            load(b, fromAux: true)
        }
    }

    private func load(_ byte: UInt8, fromAux: Bool) {
        outputBuffer = byte
        status |= Self.outputFull
        if fromAux { status |= Self.auxData } else { status &= ~Self.auxData }
    }

    private func updateInterrupts() {
        let full = status & Self.outputFull != 0, aux = status & Self.auxData != 0
        keyboardIRQ.set(full && !aux && commandByte & Self.keyboardInterrupt != 0)
        mouseIRQ.set(full && aux && commandByte & Self.auxInterrupt != 0)
    }
}
