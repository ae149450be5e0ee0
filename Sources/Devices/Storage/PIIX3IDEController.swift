import MMU

/// The PIIX3's IDE interface, function 1 of the PIIX3 at 00:01 (8086:7010,
/// class 01 01 80h: an IDE controller in compatibility mode that can bus
/// master). Intel 82371SB datasheet §2.3 and §2.7.
///
/// Compatibility mode fixes the channels where the PC/AT had them: the
/// primary at 1F0h–1F7h and 3F6h on IRQ 14, the secondary at 170h–177h
/// and 376h on IRQ 15. Each channel's ports are decoded only while I/O
/// space is enabled (PCICMD bit 0) and that channel's IDETIM has IDE
/// Decode Enable (bit 15) set, both clear at reset — the BIOS turns them
/// on (SeaBIOS writes 8000h to 40h and 42h), and Linux's ata_piix reads
/// the bit to decide whether a channel exists. BAR 4 (BMIBA) places the
/// 16 bytes of bus-master registers, primary at +0 and secondary at +8,
/// in I/O space; they move on the I/O bus with the BAR. DMA needs bus
/// mastering (PCICMD bit 2).
///
/// The timing registers (IDETIM 40h–43h, SIDETIM 44h) read back what the
/// BIOS or driver programs; an emulated drive has no cycle times to obey.
public final class PIIX3IDEController: PCIDevice, PortDevice {
    public static let vendorID: UInt16 = 0x8086
    public static let deviceID: UInt16 = 0x7010
    static let classCode: UInt32 = 0x01_0180
    static let busMasterBAR = 4
    static let busMasterSize: UInt32 = 16
    static let idetim = [0x40, 0x42]
    static let sidetim = 0x44
    static let decodeEnable: UInt16 = 0x8000

    public let primary: IDEChannel
    public let secondary: IDEChannel
    public var channels: [IDEChannel] { [primary, secondary] }

    private var ioBus: IOBus?
    private var decodedChannels = [false, false]
    private var busMasterBase: UInt16?

    /// `interrupts` takes IRQ 14 and 15 (the PIC pair).
    public init(memory: PhysicalMemory, interrupts: InterruptSink) {
        primary = IDEChannel(commandBase: 0x1F0, controlPort: 0x3F6, irq: InterruptLine(interrupts, 14), memory: memory)
        secondary = IDEChannel(commandBase: 0x170, controlPort: 0x376, irq: InterruptLine(interrupts, 15), memory: memory)
        super.init(vendor: PIIX3IDEController.vendorID, device: PIIX3IDEController.deviceID,
                   classCode: PIIX3IDEController.classCode)
        // PCICMD: I/O space and bus master only; no memory space, no INTx disable (PCI 2.1).
        writable[0x04] = 0x05
        writable[0x05] = 0x00
        writable[0x0D] = 0xF0            // latency timer: bits 3:0 hardwired 0
        defineBAR(PIIX3IDEController.busMasterBAR, size: PIIX3IDEController.busMasterSize, io: true)
        for base in PIIX3IDEController.idetim {
            writable[base] = 0xFF
            writable[base + 1] = 0xF3    // bits 11:10 reserved
        }
        writable[PIIX3IDEController.sidetim] = 0xFF
        reset()
    }

    /// Claims the ports on `bus` as decoding allows, now and whenever the
    /// configuration changes.
    public func register(on bus: IOBus) {
        ioBus = bus
        updateDecoding()
    }

    /// Puts `device` on a channel (0 primary, 1 secondary).
    public func attach(_ device: IDEDevice, channel: Int, position: IDEPosition) {
        precondition(channel == 0 || channel == 1, "the PIIX3 has two IDE channels")
        channels[channel].attach(device, at: position)
    }

    /// Every attached device, for the machine's bookkeeping.
    public var devices: [IDEDevice] {
        channels.flatMap { [$0.master, $0.slave].compactMap { $0 } }
    }

    /// Makes every drive's written data durable; tries all of them and
    /// reports the first failure.
    public func flushAll() throws(StorageError) {
        var firstFailure: StorageError?
        for device in devices {
            do { try device.flush() } catch { firstFailure = firstFailure ?? error }
        }
        if let firstFailure { throw firstFailure }
    }

    /// Power-on state: datasheet defaults, decoding off, drives reset.
    public func reset() {
        config[0x04] = 0
        config[0x05] = 0
        set16(0x06, 0x0280)              // fast back-to-back capable, DEVSEL medium
        config[0x0D] = 0
        set32(0x10 + 4 * PIIX3IDEController.busMasterBAR, 1)
        for base in PIIX3IDEController.idetim { set16(base, 0) }
        config[PIIX3IDEController.sidetim] = 0
        primary.reset()
        secondary.reset()
        updateDecoding()
    }

    // MARK: Configuration

    public override func configWrite(_ offset: Int, size: Int, value: UInt32) {
        super.configWrite(offset, size: size, value: value)
        updateDecoding()
    }

    public override func barMoved(_ index: Int) {
        updateDecoding()
    }

    private func updateDecoding() {
        for channel in channels { channel.busMaster.busMasterEnabled = busMasterEnabled }
        guard let bus = ioBus else { return }
        for (i, channel) in channels.enumerated() {
            let decoded = ioEnabled && get16(PIIX3IDEController.idetim[i]) & PIIX3IDEController.decodeEnable != 0
            guard decoded != decodedChannels[i] else { continue }
            decodedChannels[i] = decoded
            let ports = channel.commandBase...(channel.commandBase + 7)
            if decoded {
                bus.register(channel, ports: ports)
                bus.register(channel, ports: [channel.controlPort])
            } else {
                release(ports, on: bus, owner: channel)
                release(channel.controlPort...channel.controlPort, on: bus, owner: channel)
            }
        }
        let address = barAddress(PIIX3IDEController.busMasterBAR)
        let base: UInt16? = ioEnabled && address != 0 && UInt64(address) + UInt64(PIIX3IDEController.busMasterSize) <= 0x10000
            ? UInt16(address) : nil
        guard base != busMasterBase else { return }
        if let old = busMasterBase {
            release(old...(old + UInt16(PIIX3IDEController.busMasterSize - 1)), on: bus, owner: self)
        }
        if let base { bus.register(self, ports: base...(base + UInt16(PIIX3IDEController.busMasterSize - 1))) }
        busMasterBase = base
    }

    /// Gives up ports only where this function still owns them (another
    /// device may have claimed them since).
    private func release(_ ports: ClosedRange<UInt16>, on bus: IOBus, owner: PortDevice) {
        for port in ports where bus.owner(of: port) === owner { bus.unregister(ports: port...port) }
    }

    // MARK: Bus-master registers (BAR 4)

    public func portRead(_ port: UInt16, size: Int) -> UInt32 {
        guard let base = busMasterBase else { return size == 4 ? 0xFFFF_FFFF : (1 << (8 * size)) - 1 }
        var value: UInt32 = 0
        for i in 0..<size {
            let offset = Int(port &- base) + i
            guard offset < Int(PIIX3IDEController.busMasterSize) else { continue }
            value |= UInt32(channels[offset >> 3].readBusMaster(offset & 7)) << (8 * i)
        }
        return value
    }

    public func portWrite(_ port: UInt16, size: Int, value: UInt32) {
        guard let base = busMasterBase else { return }
        for i in 0..<size {
            let offset = Int(port &- base) + i
            guard offset < Int(PIIX3IDEController.busMasterSize) else { continue }
            channels[offset >> 3].writeBusMaster(offset & 7, UInt8(truncatingIfNeeded: value >> (8 * i)))
        }
    }
}
