/// One Intel 8259A programmable interrupt controller, as the datasheet
/// describes it: the interrupt request register (IRR), in-service register
/// (ISR), mask register (IMR), the priority resolver and the
/// initialization/operation command words. It knows nothing of the PC's
/// master/slave wiring; `ProgrammableInterruptController` joins two.
///
/// Priorities are kept as a rotation: `lowestPriority` is the IR level with
/// the lowest priority (7 after initialization), so level `l` ranks
/// `(l - lowestPriority - 1) mod 8` (0 = highest).
struct PICChip {
    var irr: UInt8 = 0
    var isr: UInt8 = 0
    var imr: UInt8 = 0
    /// Edge/level control (the PIIX3 ELCR; the 8259A's own LTIM bit is
    /// ignored on the PIIX3, which decides per line). Bit set = level.
    var levelTriggered: UInt8 = 0
    /// The current level of each IR input pin.
    var inputs: UInt8 = 0

    var vectorBase: UInt8 = 0
    var lowestPriority: UInt8 = 7
    var autoEOI = false
    var rotateOnAutoEOI = false
    var specialMaskMode = false
    var specialFullyNested = false
    var readISR = false
    var pollPending = false
    /// ICW3 as written (slave bitmap on the master, ID on the slave).
    var cascadeWord: UInt8 = 0

    /// Which ICW the next odd-port write is (0 = initialized, OCW1 follows).
    var initStep = 0
    var expectsICW3 = false
    var expectsICW4 = false

    /// Rank of level `l` under the current rotation (0 = highest).
    @inline(__always)
    func rank(_ l: Int) -> Int { (l - Int(lowestPriority) - 1) & 7 }

    /// The highest-priority level set in `bits`, or nil.
    func highest(_ bits: UInt8) -> Int? {
        guard bits != 0 else { return nil }
        var best = -1, bestRank = 8
        for l in 0..<8 where bits & (1 << l) != 0 {
            let r = rank(l)
            if r < bestRank { best = l; bestRank = r }
        }
        return best
    }

    /// The request the chip would present on INT now: the highest unmasked
    /// IRR level that outranks every level still in service.
    /// `cascadeLine` is the master's IR input a slave hangs on (special
    /// fully nested mode lets that slave interrupt its own service routine).
    func pendingRequest(cascadeLine: Int?) -> Int? {
        guard let request = highest(irr & ~imr) else { return nil }
        var blocking = isr
        // Special mask mode: a masked level in service does not hold off others.
        if specialMaskMode { blocking &= ~imr }
        if specialFullyNested, let c = cascadeLine { blocking &= ~(1 << c) }
        if let inService = highest(blocking), rank(inService) <= rank(request) { return nil }
        return request
    }

    /// An IR pin changes level. Edge-triggered inputs latch the rising edge
    /// in IRR until acknowledged; level-triggered ones follow the pin.
    mutating func setInput(_ l: Int, _ level: Bool) {
        let bit = UInt8(1 << l)
        let wasHigh = inputs & bit != 0
        if level { inputs |= bit } else { inputs &= ~bit }
        if levelTriggered & bit != 0 {
            if level { irr |= bit } else { irr &= ~bit }
        } else if level && !wasHigh {
            irr |= bit
        }
    }

    /// The INTA cycle for level `l`: into service (unless auto-EOI), out of
    /// the request register. A level input still high stays requested.
    mutating func acknowledge(_ l: Int) {
        let bit = UInt8(1 << l)
        if levelTriggered & bit == 0 || inputs & bit == 0 { irr &= ~bit }
        if autoEOI {
            if rotateOnAutoEOI { lowestPriority = UInt8(l) }
        } else {
            isr |= bit
        }
    }

    // MARK: - Command words

    /// ICW1 (even port, bit 4 set): starts the initialization sequence.
    mutating func writeICW1(_ v: UInt8) {
        // The edge sense latch resets: only inputs held high in level mode
        // remain requested.
        irr = inputs & levelTriggered
        isr = 0
        imr = 0
        lowestPriority = 7
        specialMaskMode = false
        readISR = false
        pollPending = false
        expectsICW3 = v & 0x02 == 0   // not single (SNGL = 0): cascaded
        expectsICW4 = v & 0x01 != 0
        if !expectsICW4 { autoEOI = false; rotateOnAutoEOI = false; specialFullyNested = false }
        initStep = 2
    }

    /// An odd-port write: the next ICW while initializing, else OCW1 (IMR).
    mutating func writeOdd(_ v: UInt8) {
        switch initStep {
        case 2:
            // In 8086 mode T7–T3 come from ICW2 and the level fills T2–T0.
            vectorBase = v & 0xF8
            initStep = expectsICW3 ? 3 : (expectsICW4 ? 4 : 0)
        case 3:
            cascadeWord = v
            initStep = expectsICW4 ? 4 : 0
        case 4:
            // Bit 0 selects 8086 mode; MCS-80/85 mode (CALL opcodes on INTA)
            // has no meaning on an x86 bus, so vectors are delivered either way.
            autoEOI = v & 0x02 != 0
            specialFullyNested = v & 0x10 != 0
            initStep = 0
        default:
            imr = v
        }
    }

    /// An even-port write with bit 4 clear: OCW2 (bit 3 clear) or OCW3.
    mutating func writeOCW(_ v: UInt8) {
        if v & 0x08 != 0 {
            // OCW3: ESMM/SMM, poll, read-register select.
            if v & 0x40 != 0 { specialMaskMode = v & 0x20 != 0 }
            if v & 0x04 != 0 { pollPending = true }
            if v & 0x02 != 0 { readISR = v & 0x01 != 0 }
            return
        }
        let level = Int(v & 7)
        switch v >> 5 {
        case 0b001:  // non-specific EOI
            if let l = highest(isr) { isr &= ~(1 << l) }
        case 0b011:  // specific EOI
            isr &= ~(1 << level)
        case 0b101:  // rotate on non-specific EOI
            if let l = highest(isr) { isr &= ~(1 << l); lowestPriority = UInt8(l) }
        case 0b100: rotateOnAutoEOI = true
        case 0b000: rotateOnAutoEOI = false
        case 0b111:  // rotate on specific EOI
            isr &= ~(1 << level)
            lowestPriority = UInt8(level)
        case 0b110:  // set priority
            lowestPriority = UInt8(level)
        default:     // 0b010: no operation
            break
        }
    }

    /// An even-port read: the poll word if a poll command is pending,
    /// otherwise IRR or ISR as OCW3 selected.
    mutating func readEven(cascadeLine: Int?) -> (value: UInt8, polled: Int?) {
        if pollPending {
            pollPending = false
            if let l = pendingRequest(cascadeLine: cascadeLine) {
                return (0x80 | UInt8(l), l)
            }
            return (0, nil)
        }
        return (readISR ? isr : irr, nil)
    }
}
