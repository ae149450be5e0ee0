/// The Intel 82371SB (PIIX3) PCI-to-ISA bridge, function 0 of the
/// multi-function device at 00:01.0 (8086:7000). It hosts the legacy PC
/// devices, which are separate objects here; this is its configuration
/// space and the PCI interrupt router.
///
/// PCI interrupts: the board wires INTA#–INTD# of the device in slot `s`
/// to PIRQ[(pin − 1 + s − 1) mod 4] — the rotation the i440FX board
/// layout, QEMU and SeaBIOS's `piix_pci_slot_get_irq` share — and the
/// PIRQ route control registers (60h–63h) steer each PIRQ to an ISA IRQ
/// (bit 7 set = not routed). PCI lines are level-triggered and shared, so
/// the router ORs every asserted pin that lands on the same IRQ. An IRQ
/// driven by PCI should not also be used by an ISA device.
///
/// The other registers (ISA I/O recovery, X-bus chip select, top of memory,
/// motherboard IRQ/DMA routing, SMI control) are kept with their datasheet
/// reset values for the BIOS to program and read back; none changes
/// anything the emulated devices do.
public final class PIIX3ISABridge: PCIDevice {
    static let pirqRoute = 0x60

    private let interrupts: InterruptSink
    /// Asserted PCI pins, at index `slot * 4 + pin - 1`.
    private var assertedPins: [Bool] = Array(repeating: false, count: 32 * 4)
    /// ISA IRQs this router currently drives high.
    private var drivenIRQs: UInt16 = 0

    public init(interrupts: InterruptSink) {
        self.interrupts = interrupts
        super.init(vendor: 0x8086, device: 0x7000, classCode: 0x06_0100, headerType: 0x80)
        for (offset, values) in Self.resetValues {
            for i in values.indices { writable[offset + i] = 0xFF }
        }
        for i in 0..<4 { writable[Self.pirqRoute + i] = 0x8F }
        set16(0x06, 0x0200)          // DEVSEL medium
        reset()
    }

    /// Datasheet reset values; every PIRQ unrouted (which releases any IRQ it drove).
    public func reset() {
        for (offset, values) in Self.resetValues {
            for (i, v) in values.enumerated() { config[offset + i] = v }
        }
        config[0x04] = 0x07          // I/O, memory, bus master: the ISA bridge always decodes
        assertedPins = Array(repeating: false, count: 32 * 4)
        updateIRQs()
    }

    private static let resetValues: [(offset: Int, values: [UInt8])] = [
        (0x4C, [0x4D]),                    // IORT: ISA I/O recovery timer
        (0x4E, [0x03, 0x00]),              // XBCS: X-bus chip select
        (0x60, [0x80, 0x80, 0x80, 0x80]),  // PIRQRC[A:D]: not routed
        (0x69, [0x02]),                    // TOM: top of memory
        (0x6A, [0x00, 0x00]),              // MSTAT: miscellaneous status
        (0x70, [0x80, 0x80]),              // MBIRQ0/1: motherboard device IRQ routing
        (0x76, [0x0C, 0x0C]),              // MBDMA0/1
        (0x78, [0x02, 0x00]),              // PCSC: programmable chip select
        (0x80, [0x00]),                    // APICBASE
        (0x82, [0x00]),                    // DLC: deterministic latency control
        (0xA0, [0x08]),                    // SMICNTL
        (0xA2, [0x00, 0x00]),              // SMIEN
        (0xA4, [0x00, 0x00, 0x00, 0x00]),  // SEE: system event enable
        (0xA8, [0x0F]),                    // FTMR: fast off timer
        (0xAA, [0x00, 0x00]),              // SMIREQ
        (0xAC, [0x00]),                    // CTLTMR
        (0xAE, [0x00]),                    // CTHTMR
    ]

    // MARK: - Interrupt routing

    /// The ISA IRQ that INTx# `pin` (1 = INTA#) of the device in `slot`
    /// reaches, or nil if its PIRQ is not routed or routed to a reserved IRQ.
    public func irq(forPin pin: Int, slot: Int) -> Int? {
        guard (1...4).contains(pin), (0..<32).contains(slot) else { return nil }
        let route = config[Self.pirqRoute + (pin - 1 + slot - 1 + 4) % 4]
        let irq = Int(route & 0x0F)
        // IRQ0, 1, 2, 8 and 13 cannot take PCI interrupts on the PIIX3.
        guard route & 0x80 == 0, ![0, 1, 2, 8, 13].contains(irq) else { return nil }
        return irq
    }

    /// A PCI device's INTx# line changes level.
    public func setPCIInterrupt(slot: Int, pin: Int, asserted: Bool) {
        guard (1...4).contains(pin), (0..<32).contains(slot) else { return }
        assertedPins[slot * 4 + pin - 1] = asserted
        updateIRQs()
    }

    private func updateIRQs() {
        var levels: UInt16 = 0
        for (i, asserted) in assertedPins.enumerated() where asserted {
            if let irq = irq(forPin: i % 4 + 1, slot: i / 4) { levels |= 1 << irq }
        }
        let changed = levels ^ drivenIRQs
        drivenIRQs = levels
        for irq in 0..<16 where changed & (1 << irq) != 0 {
            interrupts.setIRQ(irq, levels & (1 << irq) != 0)
        }
    }

    public override func configWrite(_ offset: Int, size: Int, value: UInt32) {
        super.configWrite(offset, size: size, value: value)
        if offset < Self.pirqRoute + 4 && offset + size > Self.pirqRoute { updateIRQs() }
    }
}
