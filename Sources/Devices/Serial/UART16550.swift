/// A National Semiconductor 16550A UART (COM1: ports 3F8h–3FFh, IRQ4),
/// with its 16-byte FIFOs, the interrupt priorities of the IIR, loopback
/// and the modem status deltas — what Linux's 8250 driver probes for.
///
/// Transmission completes the moment THR is written: the byte goes to
/// `output`, and THR/the transmitter are empty again at once. To keep the
/// edge-triggered PIC seeing a fresh THRE interrupt for every refill (as
/// it would a character time later on real hardware), a THR write drops
/// the interrupt line and raises it again. Enabling the THRE interrupt
/// while THR is empty raises it, as a real 16550 does.
///
/// Reception is paced by the guest: `receive` fills the RX FIFO, with an
/// overrun when it is full; `receiveRoom` lets the host side wait instead.
/// The character timeout interrupt (data below the trigger level, untouched
/// for four character times) is timed from the line settings with
/// `MachineClock`, through `advance(to:)`.
///
/// Outside loopback the modem inputs are those of a host terminal on a
/// null-modem cable: CTS, DSR and DCD asserted, RI not.
public final class UART16550: PortDevice, TimedDevice {
    // IER bits.
    static let rxDataInterrupt: UInt8 = 0x01, thrEmptyInterrupt: UInt8 = 0x02
    static let lineStatusInterrupt: UInt8 = 0x04, modemStatusInterrupt: UInt8 = 0x08
    // LSR bits.
    static let dataReady: UInt8 = 0x01, overrunError: UInt8 = 0x02
    static let thrEmpty: UInt8 = 0x20, transmitterEmpty: UInt8 = 0x40
    // MCR bits.
    static let out2: UInt8 = 0x08, loopback: UInt8 = 0x10
    /// The 1.8432 MHz crystal divided by 16: baud rate at divisor 1.
    static let baseBaud: UInt64 = 115_200

    public let base: UInt16
    private let irq: InterruptLine
    private let clock: MachineClock

    private var rx = ByteFIFO(capacity: 16)
    private var fifoEnabled = false
    private var rxTrigger = 1
    private var ier: UInt8 = 0
    private var lcr: UInt8 = 0
    private var mcr: UInt8 = 0
    private var lineErrors: UInt8 = 0
    private var scratch: UInt8 = 0
    private var divisor: UInt16 = 12
    /// CTS, DSR, RI, DCD in bits 0–3 (MSR bits 4–7) and their deltas as in MSR bits 0–3.
    private var modemInputs: UInt8 = 0
    private var modemDeltas: UInt8 = 0
    private var thrInterruptPending = false
    /// Machine time of the last character into or out of the RX FIFO.
    private var lastRxActivity: UInt64 = 0

    /// Each transmitted byte, outside loopback.
    public var output: ((UInt8) -> Void)?
    public var onReschedule: ((_ deadline: UInt64) -> Void)?

    public init(base: UInt16 = 0x3F8, irq: InterruptLine, clock: MachineClock) {
        self.base = base
        self.irq = irq
        self.clock = clock
        reset()
    }

    /// The master reset: registers cleared, FIFOs off and empty. The
    /// divisor latch is not affected by reset (it keeps 12, 9600 baud, from power-on).
    public func reset() {
        rx.removeAll()
        fifoEnabled = false
        rxTrigger = 1
        ier = 0
        lcr = 0
        mcr = 0
        lineErrors = 0
        modemDeltas = 0
        modemInputs = externalModemInputs
        thrInterruptPending = false
        updateInterrupt()
    }

    public func register(on bus: IOBus) {
        bus.register(self, ports: base...base + 7)
    }

    // MARK: - Host side

    /// Bytes arriving on the serial line. The receiver is disconnected from
    /// the line in loopback mode.
    public func receive(_ bytes: [UInt8]) {
        guard mcr & Self.loopback == 0, !bytes.isEmpty else { return }
        for b in bytes { receiveCharacter(b) }
        updateInterrupt()
        onReschedule?(timeoutDeadline)
    }

    /// Characters the receiver can take now without an overrun.
    public var receiveRoom: Int { rxCapacity - rx.count }

    // MARK: - Ports

    public func portRead(_ port: UInt16, size: Int) -> UInt32 {
        let value: UInt8
        switch port &- base {
        case 0:
            if dlab { value = UInt8(divisor & 0xFF) } else { value = readReceiveBuffer() }
        case 1:
            value = dlab ? UInt8(divisor >> 8) : ier
        case 2:
            value = readInterruptIdentification()
        case 3:
            value = lcr
        case 4:
            value = mcr
        case 5:
            value = lineStatus
            lineErrors = 0
            updateInterrupt()
        case 6:
            value = modemInputs << 4 | modemDeltas
            modemDeltas = 0
            updateInterrupt()
        case 7:
            value = scratch
        default:
            value = 0xFF
        }
        return UInt32(value)
    }

    public func portWrite(_ port: UInt16, size: Int, value: UInt32) {
        let v = UInt8(truncatingIfNeeded: value)
        switch port &- base {
        case 0:
            if dlab { divisor = divisor & 0xFF00 | UInt16(v) } else { transmit(v) }
        case 1:
            if dlab {
                divisor = divisor & 0x00FF | UInt16(v) << 8
            } else {
                let enabling = v & ~ier & Self.thrEmptyInterrupt != 0
                ier = v & 0x0F
                // THR is always empty here, so enabling its interrupt raises it.
                if enabling { thrInterruptPending = true }
                updateInterrupt()
            }
        case 2:
            writeFIFOControl(v)
        case 3:
            lcr = v
        case 4:
            mcr = v & 0x1F
            modemInputsChanged()
        case 7:
            scratch = v
        default:
            return   // LSR and MSR are read-only
        }
    }

    // MARK: - Registers

    // MARK: - For the monitor

    /// The registers as a guest would read them, without the side effects
    /// of reading (IIR clears a THRE interrupt, LSR and MSR their flags).
    public struct Snapshot: Equatable {
        public var ier, iir, lcr, mcr, lsr, msr, scratch: UInt8
        public var divisor: UInt16
        public var fifoEnabled: Bool
        public var rxTriggerLevel: Int
        public var rxCount: Int
        /// The line rate the divisor sets (0 for divisor 0).
        public var baud: UInt64 { divisor == 0 ? 0 : UART16550.baseBaud / UInt64(divisor) }
    }

    public var snapshot: Snapshot {
        Snapshot(ier: ier, iir: pendingInterrupt(at: clock.now) | (fifoEnabled ? 0xC0 : 0), lcr: lcr, mcr: mcr, lsr: lineStatus,
                 msr: modemInputs << 4 | modemDeltas, scratch: scratch, divisor: divisor, fifoEnabled: fifoEnabled,
                 rxTriggerLevel: rxTrigger, rxCount: rx.count)
    }

    private var dlab: Bool { lcr & 0x80 != 0 }
    private var rxCapacity: Int { fifoEnabled ? rx.capacity : 1 }

    private var lineStatus: UInt8 {
        (rx.isEmpty ? 0 : Self.dataReady) | lineErrors | Self.thrEmpty | Self.transmitterEmpty
    }

    private func readReceiveBuffer() -> UInt8 {
        let b = rx.pop() ?? 0
        lastRxActivity = clock.now
        updateInterrupt()
        onReschedule?(timeoutDeadline)
        return b
    }

    private func readInterruptIdentification() -> UInt8 {
        let id = pendingInterrupt(at: clock.now)
        // Reading IIR while it reports THRE clears that interrupt.
        if id == 0x02 { thrInterruptPending = false; updateInterrupt() }
        return id | (fifoEnabled ? 0xC0 : 0)
    }

    private func transmit(_ b: UInt8) {
        thrInterruptPending = false
        updateInterrupt()
        if mcr & Self.loopback != 0 {
            receiveCharacter(b)
            onReschedule?(timeoutDeadline)
        } else {
            output?(b)
        }
        thrInterruptPending = true
        updateInterrupt()
    }

    private func receiveCharacter(_ b: UInt8) {
        if rx.count >= rxCapacity {
            lineErrors |= Self.overrunError
            // Without FIFOs the new character overwrites the holding register;
            // with them, the one in the shift register is lost.
            if !fifoEnabled { _ = rx.pop(); rx.push(b) }
        } else {
            rx.push(b)
        }
        lastRxActivity = clock.now
    }

    private func writeFIFOControl(_ v: UInt8) {
        let enable = v & 0x01 != 0
        if enable != fifoEnabled {
            // Switching FIFO mode empties both FIFOs.
            rx.removeAll()
            fifoEnabled = enable
        }
        // The other bits are only taken while bit 0 is set.
        if enable {
            if v & 0x02 != 0 { rx.removeAll() }
            rxTrigger = [1, 4, 8, 14][Int(v >> 6)]
        }
        updateInterrupt()
        onReschedule?(timeoutDeadline)
    }

    /// The modem inputs seen from outside: CTS, DSR and DCD asserted.
    private var externalModemInputs: UInt8 { 0x0B }

    /// In loopback DTR→DSR, RTS→CTS, OUT1→RI and OUT2→DCD.
    private func modemInputsChanged() {
        let inputs: UInt8
        if mcr & Self.loopback != 0 {
            inputs = (mcr & 0x02) >> 1 | (mcr & 0x01) << 1 | (mcr & 0x04) | (mcr & 0x08)
        } else {
            inputs = externalModemInputs
        }
        let changed = inputs ^ modemInputs
        // Delta bits for CTS, DSR and DCD; RI reports only its trailing edge.
        modemDeltas |= changed & 0x0B
        if changed & 0x04 != 0 && inputs & 0x04 == 0 { modemDeltas |= 0x04 }
        modemInputs = inputs
        updateInterrupt()
    }

    // MARK: - Interrupts

    /// Nanoseconds for one character with the current divisor and line format.
    private var characterTime: UInt64 {
        let dataBits = 5 + UInt64(lcr & 0x03)
        let halfStopBits: UInt64 = lcr & 0x04 == 0 ? 2 : (dataBits == 5 ? 3 : 4)
        let halfBits = 2 * (1 + dataBits + (lcr & 0x08 != 0 ? 1 : 0)) + halfStopBits
        let divisor = UInt64(self.divisor == 0 ? 0x10000 : Int(self.divisor))
        return halfBits * divisor * 1_000_000_000 / (2 * Self.baseBaud)
    }

    private var timeoutDeadline: UInt64 {
        guard fifoEnabled, !rx.isEmpty, ier & Self.rxDataInterrupt != 0 else { return .max }
        return lastRxActivity &+ 4 * characterTime
    }

    /// The IIR interrupt ID (bits 0–3) of the highest-priority pending interrupt.
    private func pendingInterrupt(at now: UInt64) -> UInt8 {
        if ier & Self.lineStatusInterrupt != 0 && lineErrors != 0 { return 0x06 }
        if ier & Self.rxDataInterrupt != 0 && rx.count >= (fifoEnabled ? rxTrigger : 1) { return 0x04 }
        if now >= timeoutDeadline { return 0x0C }
        if ier & Self.thrEmptyInterrupt != 0 && thrInterruptPending { return 0x02 }
        if ier & Self.modemStatusInterrupt != 0 && modemDeltas != 0 { return 0x00 }
        return 0x01
    }

    /// The INTR pin reaches the bus only through OUT2, which loopback disconnects.
    private func updateInterrupt(at now: UInt64) {
        let gated = mcr & (Self.out2 | Self.loopback) == Self.out2
        irq.set(gated && pendingInterrupt(at: now) != 0x01)
    }

    private func updateInterrupt() { updateInterrupt(at: clock.now) }

    public func advance(to now: UInt64) -> UInt64 {
        updateInterrupt(at: now)
        let deadline = timeoutDeadline
        return deadline > now ? deadline : .max
    }
}
