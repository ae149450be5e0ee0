/// Where a device sits on its channel (the cable-select or jumper position).
public enum IDEPosition: Int, CaseIterable {
    case master = 0   // device 0
    case slave = 1    // device 1
}

/// What every device on an IDE channel shares, ATA disk or ATAPI CD-ROM
/// alike (ATA/ATAPI-6 §5–§9): its copy of the command block registers,
/// the status it presents, its pending interrupt (INTRQ), software reset,
/// and the data phase of a command.
///
/// A data phase is a window `[dataPosition, dataEnd)` of the device's
/// buffer that the host drains (data-in) or fills (data-out): one DRQ
/// block in PIO, a larger chunk when the bus master moves it. When a
/// window is done the drive's `windowCompleted()` decides what follows —
/// the next window or the end of the command — so PIO and DMA share one
/// path and the per-word data port access is a bounds check and a load.
///
/// Commands complete at once: a drive has no seek time, so BSY shows only
/// while the host holds SRST.
public class IDEDevice {
    /// Kinds of data phase; DMA phases wait for the bus master.
    enum DataPhase {
        case none
        case pioIn
        case pioOut
        case dmaIn
        case dmaOut
    }

    /// Large enough for 64 sectors of DMA or an ATAPI DRQ block of 64 KiB
    /// plus the rest of a partly sent CD block.
    static let bufferCapacity = 128 << 10

    var registers = TaskFile()
    var status: UInt8 = 0
    /// The Device Control register as last written (HOB, SRST, nIEN).
    var control: UInt8 = 0
    private(set) var interruptPending = false
    var powerMode = PowerMode.active
    var transferModes = TransferModes()

    /// The channel this device is attached to (it owns the device).
    weak var channel: IDEChannel?
    var position = IDEPosition.master

    let buffer: UnsafeMutableRawPointer
    var dataPosition = 0
    var dataEnd = 0
    var phase = DataPhase.none

    enum PowerMode { case active, standby }

    init() {
        buffer = .allocate(byteCount: IDEDevice.bufferCapacity, alignment: 16)
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: IDEDevice.bufferCapacity)
    }

    deinit { buffer.deallocate() }

    /// The task file and the protocol state, read-only, for the monitor
    /// (reading Status through the ports would acknowledge an interrupt).
    public struct Snapshot: Equatable {
        public var packetDevice: Bool
        public var status, error, sectorCount, lbaLow, lbaMid, lbaHigh, device, control: UInt8
        public var interruptPending: Bool
        /// "none", "PIO in", "PIO out", "DMA in" or "DMA out".
        public var phase: String
        /// Bytes of the current data window not yet transferred.
        public var dataRemaining: Int
    }

    public var snapshot: Snapshot {
        let r = registers
        let phaseName: String
        switch phase {
        case .none: phaseName = "none"
        case .pioIn: phaseName = "PIO in"
        case .pioOut: phaseName = "PIO out"
        case .dmaIn: phaseName = "DMA in"
        case .dmaOut: phaseName = "DMA out"
        }
        return Snapshot(packetDevice: isPacketDevice, status: status, error: r.error, sectorCount: r.sectorCount,
                        lbaLow: r.lbaLow, lbaMid: r.lbaMid, lbaHigh: r.lbaHigh, device: r.device, control: control,
                        interruptPending: interruptPending, phase: phaseName, dataRemaining: dataEnd - dataPosition)
    }

    /// Whether the DEV bit currently names this device.
    var isSelected: Bool { registers.selectedPosition == position.rawValue }

    /// Whether this device drives DMARQ: a DMA data phase is waiting for the bus master.
    var requestsDMA: Bool { phase == .dmaIn || phase == .dmaOut }

    // MARK: - What each kind of drive provides

    /// A PACKET device (its reset signature and idle status differ).
    var isPacketDevice: Bool { false }

    /// Executes a command written to the Command register.
    func execute(_ command: UInt8) { abort() }

    /// The current data window has been drained or filled.
    func windowCompleted() {}

    /// Flushes written data to the medium (FLUSH CACHE, machine exit).
    public func flush() throws(StorageError) {}

    /// Power-on state beyond the registers (geometry, modes, media state).
    func powerOnDefaults() {}

    // MARK: - Host register access

    /// A read of command block register 1–7 of this (selected) device.
    final func readRegister(_ register: Int) -> UInt8 {
        if register == 7 {
            // Reading Status acknowledges the interrupt (ATA-6 §5.2.9).
            if interruptPending { setInterrupt(false) }
            return status
        }
        return registers.read(register, hob: control & DeviceControl.highOrderByte != 0)
    }

    /// A write of command block register 1–7; every device on the channel latches it.
    final func writeRegister(_ register: Int, _ value: UInt8) {
        // A write to any command block register clears HOB (ATA-6 §7.9).
        control &= ~DeviceControl.highOrderByte
        if register == 7 {
            guard isSelected, control & DeviceControl.softwareReset == 0 else { return }
            // A new command ends whatever data phase the host abandoned.
            phase = .none
            if interruptPending { setInterrupt(false) }
            execute(value)
        } else {
            registers.write(register, value)
        }
    }

    /// A write of the Device Control register. SRST held high resets the
    /// device and keeps it busy; its falling edge completes the reset.
    final func writeControl(_ value: UInt8) {
        let wasResetting = control & DeviceControl.softwareReset != 0
        control = value
        let resetting = value & DeviceControl.softwareReset != 0
        if resetting && !wasResetting {
            phase = .none
            status = ATAStatus.busy
            setInterrupt(false)
        } else if !resetting && wasResetting {
            completeReset()
        }
    }

    /// The device after a reset: signature in the registers, diagnostic
    /// code in Error, no interrupt (ATA-6 §9.12: software reset does not
    /// assert INTRQ).
    final func completeReset() {
        phase = .none
        registers.setSignature(packetDevice: isPacketDevice)
        registers.error = ATAError.diagnosticPassed
        // A PACKET device shows DRDY clear until it gets a command.
        status = isPacketDevice ? 0 : ATAStatus.ready | ATAStatus.seekComplete
        setInterrupt(false)
    }

    /// Power-on or hardware reset (RESET- on the cable).
    final func hardwareReset() {
        control = 0
        registers = TaskFile()
        powerMode = .active
        transferModes = TransferModes()
        powerOnDefaults()
        completeReset()
    }

    /// EXECUTE DEVICE DIAGNOSTIC as both devices run it: the reset
    /// signature and the diagnostic code; device 0 reports with an interrupt.
    final func runDiagnostics(interrupt: Bool) {
        completeReset()
        if interrupt { setInterrupt(true) }
    }

    // MARK: - Data port (hot: every word of a PIO transfer)

    final func readData(size: Int) -> UInt32 {
        guard phase == .pioIn else { return size == 4 ? 0xFFFF_FFFF : (1 << (8 * size)) - 1 }
        let available = dataEnd - dataPosition
        let p = buffer + dataPosition
        var value: UInt32
        if available >= size {
            switch size {
            case 1: value = UInt32(p.load(as: UInt8.self))
            case 2: value = UInt32(p.loadUnaligned(as: UInt16.self))
            default: value = p.loadUnaligned(as: UInt32.self)
            }
        } else {
            // The odd last byte of an ATAPI block comes with a pad byte.
            value = 0
            for i in 0..<available { value |= UInt32(p.load(fromByteOffset: i, as: UInt8.self)) << (8 * i) }
        }
        dataPosition += min(size, available)
        if dataPosition == dataEnd { windowCompleted() }
        return value
    }

    final func writeData(size: Int, value: UInt32) {
        guard phase == .pioOut else { return }
        let n = min(size, dataEnd - dataPosition)
        let p = buffer + dataPosition
        switch n {
        case 4: p.storeBytes(of: value, as: UInt32.self)
        case 2: p.storeBytes(of: UInt16(truncatingIfNeeded: value), as: UInt16.self)
        default: for i in 0..<n { p.storeBytes(of: UInt8(truncatingIfNeeded: value >> (8 * i)), toByteOffset: i, as: UInt8.self) }
        }
        dataPosition += n
        if dataPosition == dataEnd { windowCompleted() }
    }

    // MARK: - DMA (the bus master calls this while it is active)

    /// Moves windows between the buffer and the PRD regions until the
    /// command's data is done or the table runs out (the device then keeps
    /// requesting DMA, as a real one would wait on DMARQ).
    final func runDMA(_ table: inout PRDWalker) {
        while requestsDMA {
            let wanted = dataEnd - dataPosition
            let moved = phase == .dmaIn
                ? table.copyToMemory(from: buffer + dataPosition, count: wanted)
                : table.copyFromMemory(into: buffer + dataPosition, count: wanted)
            dataPosition += moved
            guard dataPosition == dataEnd else { return }
            windowCompleted()
        }
    }

    // MARK: - For the drives: phases, completion, interrupts

    /// Opens a data window of `count` bytes from the start of the buffer.
    final func openWindow(_ phase: DataPhase, count: Int) {
        self.phase = phase
        dataPosition = 0
        dataEnd = count
    }

    /// Asks the bus master for a DMA phase that is ready in the buffer.
    final func startDMA() {
        channel?.deviceRequestsDMA(self)
    }

    /// Ends the command without error.
    final func complete(interrupt: Bool = true) {
        phase = .none
        status = ATAStatus.ready | (isPacketDevice ? 0 : ATAStatus.seekComplete)
        if interrupt { setInterrupt(true) }
    }

    /// Ends the command with `error` in the Error register.
    final func fail(_ error: UInt8) {
        phase = .none
        registers.error = error
        status = ATAStatus.ready | ATAStatus.error | (isPacketDevice ? 0 : ATAStatus.seekComplete)
        setInterrupt(true)
    }

    /// Command aborted: unsupported command or invalid parameter.
    final func abort() { fail(ATAError.aborted) }

    final func setInterrupt(_ pending: Bool) {
        interruptPending = pending
        channel?.interruptChanged()
    }

    /// The power management commands both kinds of drive accept (ATA-6
    /// §8.7–8.8, §8.36–8.37, §8.43–8.44); false if `command` is not one.
    final func executePowerCommand(_ command: UInt8) -> Bool {
        switch command {
        case 0xE0, 0xE2:   // STANDBY IMMEDIATE, STANDBY
            powerMode = .standby
        case 0xE1, 0xE3:   // IDLE IMMEDIATE, IDLE
            powerMode = .active
        case 0xE5:         // CHECK POWER MODE: FFh active or idle, 00h standby
            registers.sectorCount = powerMode == .active ? 0xFF : 0x00
        default:
            return false
        }
        complete()
        return true
    }

    /// SET FEATURES subcommand 03h (set transfer mode); false if not that subcommand.
    final func setTransferModeFeature() -> Bool {
        guard registers.features == 0x03 else { return false }
        if transferModes.select(registers.sectorCount) { complete() } else { abort() }
        return true
    }

    /// IDENTIFY word 93, hardware reset results: how each device saw the
    /// other at reset (ATA-6 §8.15.50). Device 0 reports whether device 1
    /// answered (DASP-), device 1 that it asserted PDIAG-; both say "by
    /// jumper" and that an 80-conductor cable is present.
    final var hardwareResetResult: UInt16 {
        let validity: UInt16 = 0x4000 | 0x2000
        switch position {
        case .master:
            let slavePresent = channel?.device(at: .slave) != nil
            return validity | 0x0001 | 0x0002 | 0x0008 | (slavePresent ? 0x0020 : 0)
        case .slave:
            return validity | 0x0100 | 0x0200 | 0x0800
        }
    }
}
