/// An ATA hard disk (ATA/ATAPI-6 general and 48-bit address feature sets)
/// over a `BlockDevice` of 512-byte sectors.
///
/// Sectors are addressed by LBA28, LBA48 (the EXT commands) or CHS
/// through the current translation (default or set by INITIALIZE DEVICE
/// PARAMETERS). PIO transfers raise an interrupt per DRQ block — one
/// sector, or the READ/WRITE MULTIPLE block count — and DMA transfers
/// stream through the buffer in 64 KiB windows while the bus master runs.
/// An address outside the disk is refused with IDNF before any data moves,
/// and a host I/O error becomes UNC (read) or ABRT (write) for the guest.
///
/// Writes reach the image file at once; the drive's "write cache" is the
/// host's page cache, so FLUSH CACHE (and the machine's exit) fsyncs, and
/// with the write cache disabled by SET FEATURES every write command
/// fsyncs before it completes.
public final class ATADrive: IDEDevice {
    public let disk: BlockDevice
    public let model: String
    public let serialNumber: String
    public let firmwareRevision: String

    /// READ/WRITE MULTIPLE block size limit (IDENTIFY word 47).
    static let maximumMultiple = 16
    /// Sectors one DMA window moves.
    static let dmaWindowSectors = IDEDevice.bufferCapacity / DiskImage.sectorSize
    /// LBA28 can address sectors below 2^28 (IDENTIFY words 60–61 saturate).
    static let lba28Limit: UInt64 = 0x0FFF_FFFF

    public let defaultGeometry: Geometry
    /// The translation in force: the default until INITIALIZE DEVICE PARAMETERS.
    public private(set) var currentGeometry: Geometry
    /// Sectors per DRQ block of READ/WRITE MULTIPLE; 0 = disabled.
    public private(set) var multipleCount = 0
    public private(set) var writeCacheEnabled = true
    private var readLookAheadEnabled = true

    /// The transfer in progress.
    private var transferLBA: UInt64 = 0
    private var sectorsLeft = 0
    private var sectorsPerBlock = 1
    private var windowSectors = 0
    private var extendedCommand = false

    /// A CHS translation: cylinders × heads × sectors per track.
    public struct Geometry: Equatable {
        public var cylinders: Int
        public var heads: Int
        public var sectorsPerTrack: Int
        public var sectorCount: Int { cylinders * heads * sectorsPerTrack }

        /// The default translation of ATA/ATAPI-6 (annex on CHS): 16 heads
        /// and 63 sectors per track, as many cylinders as fit, at most
        /// 16,383 (so any disk past 8.4 GB reports 16383/16/63). A disk too
        /// small for one such cylinder gets fewer heads and sectors.
        public init(capacity: UInt64) {
            let spt = Int(min(capacity, 63))
            let heads = max(1, Int(min(16, capacity / UInt64(max(spt, 1)))))
            sectorsPerTrack = max(spt, 1)
            self.heads = heads
            cylinders = Int(min(16383, capacity / UInt64(heads * sectorsPerTrack)))
        }

        public init(cylinders: Int, heads: Int, sectorsPerTrack: Int) {
            self.cylinders = cylinders
            self.heads = heads
            self.sectorsPerTrack = sectorsPerTrack
        }
    }

    public init(disk: BlockDevice, model: String = "NOVABOX HARDDISK", serialNumber: String = "NB0000000001",
                firmwareRevision: String = "1.0") {
        self.disk = disk
        self.model = model
        self.serialNumber = serialNumber
        self.firmwareRevision = firmwareRevision
        defaultGeometry = Geometry(capacity: disk.blockCount)
        currentGeometry = defaultGeometry
        super.init()
        hardwareReset()
    }

    override func powerOnDefaults() {
        currentGeometry = defaultGeometry
        multipleCount = 0
        writeCacheEnabled = true
        readLookAheadEnabled = true
    }

    public override func flush() throws(StorageError) {
        try disk.flush()
    }

    // MARK: - Commands

    override func execute(_ command: UInt8) {
        // No sectors owed from a command the host abandoned or that failed:
        // only a transfer command sets them again.
        sectorsLeft = 0
        switch command {
        case 0xEC: identify()
        case 0x20, 0x21: startTransfer(extended: false, write: false, dma: false, multiple: false)
        case 0x24: startTransfer(extended: true, write: false, dma: false, multiple: false)
        case 0xC4: startTransfer(extended: false, write: false, dma: false, multiple: true)
        case 0x29: startTransfer(extended: true, write: false, dma: false, multiple: true)
        case 0xC8, 0xC9: startTransfer(extended: false, write: false, dma: true, multiple: false)
        case 0x25: startTransfer(extended: true, write: false, dma: true, multiple: false)
        case 0x30, 0x31: startTransfer(extended: false, write: true, dma: false, multiple: false)
        case 0x34: startTransfer(extended: true, write: true, dma: false, multiple: false)
        case 0xC5: startTransfer(extended: false, write: true, dma: false, multiple: true)
        case 0x39: startTransfer(extended: true, write: true, dma: false, multiple: true)
        case 0xCA, 0xCB: startTransfer(extended: false, write: true, dma: true, multiple: false)
        case 0x35: startTransfer(extended: true, write: true, dma: true, multiple: false)
        case 0x40, 0x41: verify(extended: false)
        case 0x42: verify(extended: true)
        case 0x10...0x1F: complete()              // RECALIBRATE: nothing to move
        case 0x70...0x7F: seek()
        case 0x91: initializeDeviceParameters()
        case 0xC6: setMultipleMode()
        case 0xE7, 0xEA: flushCache()
        case 0xEF: setFeatures()
        default:
            if !executePowerCommand(command) { abort() }
        }
    }

    // MARK: IDENTIFY DEVICE

    private func identify() {
        identifyData().store(into: buffer)
        openWindow(.pioIn, count: DiskImage.sectorSize)
        status = ATAStatus.ready | ATAStatus.seekComplete | ATAStatus.dataRequest
        setInterrupt(true)
    }

    /// The IDENTIFY DEVICE words (ATA/ATAPI-6 Table 27).
    func identifyData() -> IdentifyData {
        var id = IdentifyData()
        let capacity = disk.blockCount
        id[0] = 0x0040                                   // fixed device, not removable
        id[1] = UInt16(defaultGeometry.cylinders)
        id[3] = UInt16(defaultGeometry.heads)
        id[6] = UInt16(defaultGeometry.sectorsPerTrack)
        id.setString(serialNumber, at: 10, words: 10)
        id.setString(firmwareRevision, at: 23, words: 4)
        id.setString(model, at: 27, words: 20)
        id[47] = 0x8000 | UInt16(ATADrive.maximumMultiple)
        id[49] = 0x0B00                                  // IORDY, LBA, DMA
        id[50] = 0x4000
        id[51] = 0x0200                                  // PIO timing mode 2 (obsolete field)
        id[53] = 0x0007                                  // words 54–58, 64–70, 88 valid
        id[54] = UInt16(currentGeometry.cylinders)
        id[55] = UInt16(currentGeometry.heads)
        id[56] = UInt16(currentGeometry.sectorsPerTrack)
        id.setDoubleWord(UInt32(currentGeometry.sectorCount), at: 57)
        id[59] = 0x0100 | UInt16(multipleCount)          // multiple setting valid
        id.setDoubleWord(UInt32(min(capacity, ATADrive.lba28Limit)), at: 60)
        id[63] = transferModes.word63
        id[64] = TransferModes.advancedPIOSupported
        for w in 65...68 { id[w] = 120 }                 // cycle times (ns) of MW DMA 2 and PIO 4
        id[80] = 0x007E                                  // ATA-1 … ATA/ATAPI-6
        // Supported: power management, write cache, look-ahead; FLUSH CACHE (EXT), 48-bit.
        id[82] = 0x0068
        id[83] = 0x4000 | 0x2000 | 0x1000 | 0x0400
        id[84] = 0x4000
        id[85] = 0x0008 | (writeCacheEnabled ? 0x0020 : 0) | (readLookAheadEnabled ? 0x0040 : 0)
        id[86] = 0x2000 | 0x1000 | 0x0400
        id[87] = 0x4000
        id[88] = transferModes.word88
        id[93] = hardwareResetResult
        id.setQuadWord(capacity, at: 100)
        return id
    }

    // MARK: Reads and writes

    /// The first sector a command addresses: LBA, or CHS through the
    /// current translation (nil for a CHS address outside it).
    private func startingSector(extended: Bool) -> UInt64? {
        if extended { return registers.lba48 }
        if registers.usesLBA { return registers.lba28 }
        let g = currentGeometry
        let (c, h, s) = (registers.cylinder, registers.head, registers.sector)
        guard s >= 1, s <= g.sectorsPerTrack, h < g.heads, c < g.cylinders else { return nil }
        return UInt64((c * g.heads + h) * g.sectorsPerTrack + s - 1)
    }

    /// The address range of the command, or nil after failing it with IDNF.
    private func addressedRange(extended: Bool) -> (lba: UInt64, count: Int)? {
        let count = extended ? registers.count48 : registers.count28
        guard let lba = startingSector(extended: extended) else {
            fail(ATAError.idNotFound)
            return nil
        }
        guard disk.contains(block: lba, count: count) else {
            // Error outputs name the first sector that could not be found.
            if extended || registers.usesLBA { registers.setLBA(max(lba, disk.blockCount), extended: extended) }
            fail(ATAError.idNotFound)
            return nil
        }
        return (lba, count)
    }

    private func startTransfer(extended: Bool, write: Bool, dma: Bool, multiple: Bool) {
        if multiple && multipleCount == 0 { return abort() }
        guard let (lba, count) = addressedRange(extended: extended) else { return }
        if write && disk.isReadOnly { return abort() }
        powerMode = .active
        transferLBA = lba
        sectorsLeft = count
        extendedCommand = extended
        sectorsPerBlock = dma ? ATADrive.dmaWindowSectors : (multiple ? multipleCount : 1)
        status = ATAStatus.ready | ATAStatus.seekComplete | ATAStatus.dataRequest
        switch (write, dma) {
        case (false, false):
            if loadWindow(.pioIn) { setInterrupt(true) }
        case (true, false):
            // The first block of a PIO write is requested without an interrupt.
            openWriteWindow(.pioOut)
        case (false, true):
            if loadWindow(.dmaIn) { startDMA() }
        case (true, true):
            openWriteWindow(.dmaOut)
            startDMA()
        }
    }

    /// Reads the next block of sectors into the buffer; false after failing the command.
    private func loadWindow(_ phase: DataPhase) -> Bool {
        windowSectors = min(sectorsPerBlock, sectorsLeft)
        do {
            try disk.read(block: transferLBA, count: windowSectors, into: buffer)
        } catch {
            registers.setLBA(transferLBA, extended: extendedCommand)
            fail(ATAError.uncorrectable)
            return false
        }
        openWindow(phase, count: windowSectors * DiskImage.sectorSize)
        return true
    }

    private func openWriteWindow(_ phase: DataPhase) {
        windowSectors = min(sectorsPerBlock, sectorsLeft)
        openWindow(phase, count: windowSectors * DiskImage.sectorSize)
    }

    override func windowCompleted() {
        switch phase {
        case .pioIn, .dmaIn:
            // IDENTIFY's block is not sectors of the medium: draining it
            // ends the command (PIO data-in: no interrupt after the block).
            guard sectorsLeft > 0 else { return complete(interrupt: false) }
            advance()
            if sectorsLeft == 0 {
                // PIO data-in interrupts before each block, not after the last.
                complete(interrupt: phase == .dmaIn)
            } else if loadWindow(phase) && phase == .pioIn {
                setInterrupt(true)
            }
        case .pioOut, .dmaOut:
            do {
                try disk.write(block: transferLBA, count: windowSectors, from: buffer)
                if sectorsLeft == windowSectors && !writeCacheEnabled { try disk.flush() }
            } catch {
                registers.setLBA(transferLBA, extended: extendedCommand)
                return abort()
            }
            advance()
            if sectorsLeft == 0 {
                complete()
            } else {
                openWriteWindow(phase)
                if phase == .pioOut { setInterrupt(true) }
            }
        case .none:
            break
        }
    }

    private func advance() {
        transferLBA += UInt64(windowSectors)
        sectorsLeft -= windowSectors
    }

    /// READ VERIFY SECTORS: the sectors exist and read; no data moves.
    private func verify(extended: Bool) {
        guard addressedRange(extended: extended) != nil else { return }
        complete()
    }

    /// SEEK: succeeds for any address inside the disk (IDNF otherwise).
    private func seek() {
        guard let lba = startingSector(extended: false), lba < disk.blockCount else { return fail(ATAError.idNotFound) }
        complete()
    }

    // MARK: Settings

    /// INITIALIZE DEVICE PARAMETERS: heads from Device bits 3:0 (maximum
    /// head number), sectors per track from Sector Count.
    private func initializeDeviceParameters() {
        let heads = registers.head + 1
        let sectors = Int(registers.sectorCount)
        guard sectors > 0 else { return abort() }
        let cylinders = Int(min(65535, disk.blockCount / UInt64(heads * sectors)))
        guard cylinders > 0 else { return abort() }
        currentGeometry = Geometry(cylinders: cylinders, heads: heads, sectorsPerTrack: sectors)
        complete()
    }

    /// SET MULTIPLE MODE: a power of two up to word 47's limit, or 0 to disable.
    private func setMultipleMode() {
        let n = Int(registers.sectorCount)
        guard n <= ATADrive.maximumMultiple, n & (n - 1) == 0 else { return abort() }
        multipleCount = n
        complete()
    }

    private func flushCache() {
        do { try disk.flush() } catch { return abort() }
        complete()
    }

    /// SET FEATURES: transfer mode, write cache, read look-ahead.
    private func setFeatures() {
        if setTransferModeFeature() { return }
        switch registers.features {
        case 0x02: writeCacheEnabled = true
        case 0x82:
            // Disabling the cache commits what it holds.
            do { try disk.flush() } catch { return abort() }
            writeCacheEnabled = false
        case 0xAA: readLookAheadEnabled = true
        case 0x55: readLookAheadEnabled = false
        default: return abort()
        }
        complete()
    }
}
