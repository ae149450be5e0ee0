import MMU

/// One IDE cable: up to two devices behind the command block (8 ports
/// from `commandBase`) and the control block port (Alternate Status /
/// Device Control), an IRQ, and the channel's bus-master engine.
///
/// Register writes reach every device, as both latch the cable; reads and
/// commands go to the device the DEV bit selects. With one device absent
/// the selected-but-absent one reads as 00h (so hosts probing device 1
/// find an empty status and no signature); with none at all the bus
/// floats and reads FFh. INTRQ is driven by the selected device while
/// nIEN is clear; the channel follows its level on the IRQ line, which
/// the PIC sees as an edge in compatibility mode.
public final class IDEChannel: PortDevice {
    public let commandBase: UInt16
    public let controlPort: UInt16
    public private(set) var master: IDEDevice?
    public private(set) var slave: IDEDevice?
    let busMaster: BusMasterIDE
    private let irq: InterruptLine
    private var irqLevel = false
    /// The DEV bit as last written to the Device register.
    private var selectedPosition = IDEPosition.master

    init(commandBase: UInt16, controlPort: UInt16, irq: InterruptLine, memory: PhysicalMemory) {
        self.commandBase = commandBase
        self.controlPort = controlPort
        self.irq = irq
        busMaster = BusMasterIDE(memory: memory)
    }

    public func device(at position: IDEPosition) -> IDEDevice? {
        position == .master ? master : slave
    }

    /// The device the DEV bit selects, present or not (for the monitor).
    public var selectedDevicePosition: IDEPosition { selectedPosition }

    /// The bus-master engine's registers (for the monitor).
    public var busMasterRegisters: (command: UInt8, status: UInt8, tablePointer: UInt32) {
        (busMaster.command, busMaster.status, busMaster.tablePointer)
    }

    /// The device the host is talking to, if present.
    var selected: IDEDevice? { selectedPosition == .master ? master : slave }

    private var isEmpty: Bool { master == nil && slave == nil }

    func attach(_ device: IDEDevice, at position: IDEPosition) {
        device.channel = self
        device.position = position
        if position == .master { master = device } else { slave = device }
        device.hardwareReset()
    }

    /// Power-on: every device reset, the engine stopped, the line low.
    func reset() {
        selectedPosition = .master
        busMaster.reset()
        master?.hardwareReset()
        slave?.hardwareReset()
        interruptChanged()
    }

    // MARK: Ports

    public func portRead(_ port: UInt16, size: Int) -> UInt32 {
        if port == commandBase {
            if let d = selected { return d.readData(size: size) }
            return size == 4 ? 0xFFFF_FFFF : (1 << (8 * size)) - 1
        }
        var value: UInt32 = 0
        for i in 0..<size { value |= UInt32(readByte(port &+ UInt16(i))) << (8 * i) }
        return value
    }

    public func portWrite(_ port: UInt16, size: Int, value: UInt32) {
        if port == commandBase {
            selected?.writeData(size: size, value: value)
            return
        }
        for i in 0..<size { writeByte(port &+ UInt16(i), UInt8(truncatingIfNeeded: value >> (8 * i))) }
    }

    private func readByte(_ port: UInt16) -> UInt8 {
        if isEmpty { return 0xFF }
        guard let d = selected else { return 0 }
        if port == controlPort { return d.status }   // Alternate Status: no acknowledge
        let register = Int(port &- commandBase)
        guard (1...7).contains(register) else { return 0xFF }
        return d.readRegister(register)
    }

    private func writeByte(_ port: UInt16, _ value: UInt8) {
        if port == controlPort {
            master?.writeControl(value)
            slave?.writeControl(value)
            return interruptChanged()
        }
        let register = Int(port &- commandBase)
        guard (1...7).contains(register) else { return }
        if register == 7 && value == 0x90 { return executeDeviceDiagnostic() }
        master?.writeRegister(register, value)
        slave?.writeRegister(register, value)
        if register == 6 {
            selectedPosition = value & TaskFile.deviceSelect != 0 ? .slave : .master
            interruptChanged()
        }
    }

    /// EXECUTE DEVICE DIAGNOSTIC runs on both devices whichever is
    /// selected; device 0 (or device 1 alone) reports with an interrupt.
    private func executeDeviceDiagnostic() {
        for d in [master, slave].compactMap({ $0 }) {
            // Held in reset, a device takes no command.
            guard d.control & DeviceControl.softwareReset == 0 else { continue }
            d.control &= ~DeviceControl.highOrderByte
            d.runDiagnostics(interrupt: d.position == .master || master == nil)
        }
    }

    // MARK: Device signals

    /// Recomputes INTRQ after a device's interrupt, the selection or nIEN changed.
    func interruptChanged() {
        let level: Bool
        if let d = selected {
            level = d.interruptPending && d.control & DeviceControl.interruptDisable == 0
        } else {
            level = false
        }
        guard level != irqLevel else { return }
        irqLevel = level
        if level { busMaster.noteInterrupt() }
        irq.set(level)
    }

    /// A device has a DMA phase ready (DMARQ).
    func deviceRequestsDMA(_ device: IDEDevice) {
        guard device === selected else { return }
        busMaster.service(device)
    }

    // MARK: Bus-master registers (through the controller's BAR 4)

    func readBusMaster(_ offset: Int) -> UInt8 { busMaster.readByte(offset) }

    func writeBusMaster(_ offset: Int, _ value: UInt8) {
        if busMaster.writeByte(offset, value), let d = selected, d.requestsDMA {
            busMaster.service(d)
        }
    }
}
