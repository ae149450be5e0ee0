/// The PC/AT pair of 8259A interrupt controllers: the master at 20h/21h
/// takes IRQ0–7, the slave at A0h/A1h takes IRQ8–15 and drives the master's
/// IR2. The PIIX3's edge/level control registers (ELCR, 4D0h/4D1h) choose
/// the trigger mode per line.
///
/// The CPU side asks `hasPendingInterrupt`, a stored flag recomputed
/// whenever IRR, ISR, IMR or priorities change, so the interpreter's check
/// per instruction and the recompiler's check per block are one load.
/// `acknowledge()` is the two-pulse INTA cycle and returns the vector.
///
/// The slave's INT output is wired to the master's IR2 as a level: the
/// master sees the request for as long as the slave presents one, which is
/// what the open INT line of the 8259A does until INTA.
public final class ProgrammableInterruptController: PortDevice, InterruptSink {
    private var master = PICChip()
    private var slave = PICChip()
    private static let cascadeLine = 2

    /// The master's INT output: an unmasked request outranks what is in service.
    public private(set) var hasPendingInterrupt = false

    public init() {}

    /// The chips after power-on: uninitialized, vector base 0, all masks clear.
    public func reset() {
        master = PICChip()
        slave = PICChip()
        update()
    }

    public func register(on bus: IOBus) {
        bus.register(self, ports: [0x20, 0x21, 0xA0, 0xA1, 0x4D0, 0x4D1])
    }

    // MARK: - Devices' side

    /// IRQ `line` (0–15) changes level. On the PC/AT bus the IRQ2 pin is
    /// routed to IRQ9, because the master's IR2 carries the cascade.
    public func setIRQ(_ line: Int, _ level: Bool) {
        switch line {
        case 2: slave.setInput(1, level)
        case 0...7: master.setInput(line, level)
        case 8...15: slave.setInput(line - 8, level)
        default: return
        }
        update()
    }

    // MARK: - CPU side

    /// The INTA cycle: returns the vector and moves the request into
    /// service. With no request left (it went away after INT was raised)
    /// the 8259A answers with IR7 of the responding chip and sets no ISR
    /// bit: the spurious IRQ7/IRQ15 that operating systems check for.
    public func acknowledge() -> UInt8 {
        defer { update() }
        guard let l = master.pendingRequest(cascadeLine: cascadeLineIfNested) else {
            return master.vectorBase | 7
        }
        master.acknowledge(l)
        guard l == Self.cascadeLine && isCascaded else { return master.vectorBase | UInt8(l) }
        guard let s = slave.pendingRequest(cascadeLine: nil) else { return slave.vectorBase | 7 }
        slave.acknowledge(s)
        return slave.vectorBase | UInt8(s)
    }

    // MARK: - State for tests and the monitor

    public var masterIRR: UInt8 { master.irr }
    public var masterISR: UInt8 { master.isr }
    public var masterIMR: UInt8 { master.imr }
    public var slaveIRR: UInt8 { slave.irr }
    public var slaveISR: UInt8 { slave.isr }
    public var slaveIMR: UInt8 { slave.imr }

    /// One 8259A's registers and programming, read-only, for the monitor.
    public struct ChipSnapshot: Equatable {
        public var irr, isr, imr: UInt8
        /// ELCR: bit set = level-triggered line.
        public var levelTriggered: UInt8
        public var vectorBase: UInt8
        /// The IR level with the lowest priority (7 unless rotated).
        public var lowestPriority: UInt8
        public var autoEOI, specialMaskMode, specialFullyNested: Bool
        /// False while an ICW sequence is under way.
        public var initialized: Bool
    }

    public var masterSnapshot: ChipSnapshot { Self.snapshot(master) }
    public var slaveSnapshot: ChipSnapshot { Self.snapshot(slave) }

    private static func snapshot(_ c: PICChip) -> ChipSnapshot {
        ChipSnapshot(irr: c.irr, isr: c.isr, imr: c.imr, levelTriggered: c.levelTriggered, vectorBase: c.vectorBase,
                     lowestPriority: c.lowestPriority, autoEOI: c.autoEOI, specialMaskMode: c.specialMaskMode,
                     specialFullyNested: c.specialFullyNested, initialized: c.initStep == 0)
    }

    // MARK: - Ports

    public func portRead(_ port: UInt16, size: Int) -> UInt32 {
        let value: UInt8
        switch port {
        case 0x20: value = readEven(ofMaster: true)
        case 0xA0: value = readEven(ofMaster: false)
        case 0x21: value = master.imr
        case 0xA1: value = slave.imr
        case 0x4D0: value = master.levelTriggered
        case 0x4D1: value = slave.levelTriggered
        default: value = 0xFF
        }
        return UInt32(value)
    }

    public func portWrite(_ port: UInt16, size: Int, value: UInt32) {
        let v = UInt8(truncatingIfNeeded: value)
        switch port {
        case 0x20: writeEven(&master, v)
        case 0xA0: writeEven(&slave, v)
        case 0x21: master.writeOdd(v)
        case 0xA1: slave.writeOdd(v)
        // IRQ0, 1, 2, 8 and 13 are edge-triggered on the PIIX3; their ELCR bits are reserved.
        case 0x4D0: master.levelTriggered = v & 0xF8; reapplyInputs(&master)
        case 0x4D1: slave.levelTriggered = v & 0xDE; reapplyInputs(&slave)
        default: return
        }
        update()
    }

    // MARK: - Internals

    private var isCascaded: Bool { master.expectsICW3 }
    private var cascadeLineIfNested: Int? { master.specialFullyNested ? Self.cascadeLine : nil }

    private func writeEven(_ chip: inout PICChip, _ v: UInt8) {
        if v & 0x10 != 0 { chip.writeICW1(v) } else { chip.writeOCW(v) }
    }

    private func readEven(ofMaster isMaster: Bool) -> UInt8 {
        defer { update() }
        if isMaster {
            let (value, polled) = master.readEven(cascadeLine: cascadeLineIfNested)
            if let l = polled { master.acknowledge(l) }
            return value
        }
        let (value, polled) = slave.readEven(cascadeLine: nil)
        if let l = polled { slave.acknowledge(l) }
        return value
    }

    /// A line switched between edge and level: a level line's IRR follows its pin.
    private func reapplyInputs(_ chip: inout PICChip) {
        let level = chip.levelTriggered
        chip.irr = (chip.irr & ~level) | (chip.inputs & level)
    }

    /// Recomputes the cascade input and the INT output after any change.
    private func update() {
        let slaveINT = slave.pendingRequest(cascadeLine: nil) != nil
        // The cascade input is a level, whatever the ELCR says (its bit is reserved).
        if slaveINT { master.irr |= 1 << Self.cascadeLine } else { master.irr &= ~(1 << Self.cascadeLine) }
        master.inputs = slaveINT ? master.inputs | (1 << Self.cascadeLine) : master.inputs & ~(1 << Self.cascadeLine)
        hasPendingInterrupt = master.pendingRequest(cascadeLine: cascadeLineIfNested) != nil
    }
}
