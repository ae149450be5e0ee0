import MMU

/// One channel's bus-master IDE registers (PIIX3 datasheet §2.7, the
/// SFF-8038i layout), eight bytes of the BAR 4 I/O block:
///
///   +0 BMICX command: bit 0 start/stop, bit 3 direction (1 = write to memory)
///   +2 BMISX status: bit 0 active (RO), bit 1 DMA error and bit 2
///      interrupt (write one to clear), bits 5–6 drive DMA capable (R/W)
///   +4 BMIDTP descriptor table pointer, dword aligned
///
/// Starting the engine loads the table pointer into a `PRDWalker`; data
/// moves whenever the selected device requests DMA in the direction the
/// command register names (a direction mismatch leaves both waiting, the
/// host's timeout ends it). When the table's last region is used up the
/// active bit clears: with the device's interrupt that means "transfer
/// and table ended together"; an interrupt with active still set means
/// the table was larger than the transfer; neither means the table was
/// too small. Stopping the engine discards the walk.
final class BusMasterIDE {
    static let start: UInt8 = 0x01
    static let writeToMemory: UInt8 = 0x08
    static let active: UInt8 = 0x01
    static let dmaError: UInt8 = 0x02
    static let interrupt: UInt8 = 0x04
    static let driveCapable: UInt8 = 0x60

    private let memory: PhysicalMemory
    private(set) var command: UInt8 = 0
    private(set) var status: UInt8 = 0
    private(set) var tablePointer: UInt32 = 0
    private var walk: PRDWalker?
    /// PCI command bit 2: without it the function may not master the bus.
    var busMasterEnabled = false

    init(memory: PhysicalMemory) {
        self.memory = memory
    }

    func reset() {
        command = 0
        status = 0
        tablePointer = 0
        walk = nil
    }

    var isActive: Bool { status & BusMasterIDE.active != 0 }

    // MARK: Registers (byte offsets 0–7)

    func readByte(_ offset: Int) -> UInt8 {
        switch offset {
        case 0: return command
        case 2: return status
        case 4...7: return UInt8(truncatingIfNeeded: tablePointer >> (8 * (offset - 4)))
        default: return 0
        }
    }

    /// Returns true when the write started the engine (the channel then offers it the selected device).
    func writeByte(_ offset: Int, _ value: UInt8) -> Bool {
        switch offset {
        case 0:
            let starting = value & BusMasterIDE.start != 0 && command & BusMasterIDE.start == 0
            let stopping = value & BusMasterIDE.start == 0 && command & BusMasterIDE.start != 0
            command = value & (BusMasterIDE.start | BusMasterIDE.writeToMemory)
            if starting {
                walk = PRDWalker(memory: memory, table: tablePointer)
                status |= BusMasterIDE.active
                return true
            }
            if stopping {
                walk = nil
                status &= ~BusMasterIDE.active
            }
        case 2:
            status &= ~(value & (BusMasterIDE.dmaError | BusMasterIDE.interrupt))
            status = status & ~BusMasterIDE.driveCapable | value & BusMasterIDE.driveCapable
        case 4...7:
            let shift = UInt32(8 * (offset - 4))
            tablePointer = (tablePointer & ~(0xFF << shift) | UInt32(value) << shift) & ~3
        default:
            break
        }
        return false
    }

    /// The channel's INTRQ rose.
    func noteInterrupt() { status |= BusMasterIDE.interrupt }

    /// Moves data for `device` if the engine runs in its direction.
    func service(_ device: IDEDevice) {
        guard isActive, busMasterEnabled, var table = walk else { return }
        let toMemory = command & BusMasterIDE.writeToMemory != 0
        guard (device.phase == .dmaIn && toMemory) || (device.phase == .dmaOut && !toMemory) else { return }
        device.runDMA(&table)
        walk = table
        if table.isExhausted { status &= ~BusMasterIDE.active }
    }
}
