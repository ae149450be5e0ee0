/// An ATAPI CD-ROM drive: the PACKET command feature set of ATA/ATAPI-6
/// carrying MMC packet commands (in `ATAPIDrive+Commands.swift`), over a
/// `BlockDevice` of 2048-byte blocks that can be inserted and ejected.
///
/// The protocol (ATA/ATAPI-6 §9.8–9.9): PACKET (A0h) asks for the
/// 12-byte command packet with DRQ and Interrupt Reason CoD=1, IO=0 —
/// without an interrupt, as IDENTIFY PACKET DEVICE word 0 promises DRQ
/// within 50 µs. Data then goes to the host either by DMA (Features bit 0)
/// or by PIO in DRQ blocks no larger than the host's byte count limit
/// (LBA Mid/High), each announced by IO=1, the byte count and an
/// interrupt; the end is IO=1, CoD=1 with an interrupt. A command that
/// fails ends in CHECK CONDITION: ERR in Status, the sense key in Error
/// bits 7:4 (with ABRT for an illegal request), the details kept for
/// REQUEST SENSE.
///
/// CD data streams from the medium through the buffer: each DRQ block or
/// DMA window reads just the 2048-byte blocks it needs, so a READ(12) of a
/// whole disc never holds more than the buffer.
public final class ATAPIDrive: IDEDevice {
    public let model: String
    public let serialNumber: String
    public let firmwareRevision: String

    public private(set) var medium: BlockDevice?
    public private(set) var isTrayOpen = false
    /// PREVENT ALLOW MEDIUM REMOVAL has locked the tray.
    public private(set) var isRemovalPrevented = false
    /// Reported (and cleared) by the next command that is not exempt.
    var pendingUnitAttention: SenseCode?
    /// What REQUEST SENSE returns: the outcome of the last command.
    public internal(set) var sense = SenseCode.noSense
    /// The media event GET EVENT STATUS NOTIFICATION reports next (0 = none).
    var pendingMediaEvent: UInt8 = 0

    static let packetSize = 12
    static let blockSize = ISOImage.logicalBlockSize
    /// Interrupt Reason bits (Sector Count register).
    static let commandOrData: UInt8 = 0x01   // CoD
    static let inputToHost: UInt8 = 0x02     // IO
    /// The largest DRQ block: 65,534 bytes (a block is even and below 64 KiB).
    static let largestByteCount = 0xFFFE

    private enum Stage {
        case idle
        case identify
        case commandPacket
        case dataIn
    }
    private var stage = Stage.idle
    /// Features bit 0 of the PACKET command: data goes by DMA.
    private var usesDMA = false
    private var byteCountLimit = ATAPIDrive.largestByteCount
    /// Bytes of the command's data the host has still to take.
    private var bytesToSend = 0
    /// Bytes ready in the buffer end here (data before `dataPosition` is sent).
    private var stagedEnd = 0
    /// Medium blocks still to be read into the buffer, from `nextBlock`.
    private var blocksToStage = 0
    private var nextBlock: UInt64 = 0
    private var windowLength = 0

    public init(medium: BlockDevice? = nil, model: String = "NOVABOX CD-ROM", serialNumber: String = "NB0000000002",
                firmwareRevision: String = "1.0") {
        self.model = model
        self.serialNumber = serialNumber
        self.firmwareRevision = firmwareRevision
        self.medium = medium
        super.init()
        hardwareReset()
    }

    override var isPacketDevice: Bool { true }

    /// The medium can be read: present and the tray closed.
    public var hasMedium: Bool { medium != nil && !isTrayOpen }

    override func powerOnDefaults() {
        isTrayOpen = false
        isRemovalPrevented = false
        stage = .idle
        sense = .noSense
        pendingUnitAttention = .powerOnOrReset
        pendingMediaEvent = 0
    }

    // MARK: - Media changes (from the machine: monitor, command line)

    /// Puts a disc in and closes the tray; the guest sees a unit attention
    /// ("medium may have changed") and a new-media event.
    public func insert(_ medium: BlockDevice) {
        self.medium = medium
        isTrayOpen = false
        pendingUnitAttention = .mediumMayHaveChanged
        pendingMediaEvent = MediaEvent.newMedia
    }

    /// Takes the disc out, whatever the guest's lock says (the user's hand).
    public func eject() {
        medium = nil
        pendingUnitAttention = .mediumMayHaveChanged
        pendingMediaEvent = MediaEvent.mediaRemoval
    }

    /// The guest's START STOP UNIT opening or closing the tray.
    func moveTray(open: Bool) {
        guard open != isTrayOpen else { return }
        isTrayOpen = open
        if open {
            pendingMediaEvent = MediaEvent.mediaRemoval
        } else if medium != nil {
            pendingUnitAttention = .mediumMayHaveChanged
            pendingMediaEvent = MediaEvent.newMedia
        }
    }

    func setRemovalPrevented(_ prevented: Bool) { isRemovalPrevented = prevented }

    /// GET EVENT STATUS NOTIFICATION media event codes (MMC-5 Table 139).
    enum MediaEvent {
        static let noChange: UInt8 = 0
        static let newMedia: UInt8 = 2
        static let mediaRemoval: UInt8 = 3
    }

    // MARK: - ATA commands

    override func execute(_ command: UInt8) {
        switch command {
        case 0xA0: receivePacket()
        case 0xA1: identifyPacketDevice()
        case 0x08:
            // DEVICE RESET: this device alone, no interrupt.
            stage = .idle
            completeReset()
        case 0xEC:
            // IDENTIFY DEVICE is for ATA devices: a PACKET device aborts it
            // and shows its signature, which is how hosts tell the two apart.
            registers.setSignature(packetDevice: true)
            abort()
        case 0xEF:
            if !setTransferModeFeature() { abort() }
        default:
            if !executePowerCommand(command) { abort() }
        }
    }

    private func identifyPacketDevice() {
        identifyData().store(into: buffer)
        stage = .identify
        openWindow(.pioIn, count: 512)
        status = ATAStatus.ready | ATAStatus.dataRequest
        setInterrupt(true)
    }

    /// The IDENTIFY PACKET DEVICE words (ATA/ATAPI-6 Table 31).
    func identifyData() -> IdentifyData {
        var id = IdentifyData()
        // ATAPI, CD-ROM device type (05h), removable, DRQ within 50 µs, 12-byte packets.
        id[0] = 0x8000 | 0x0500 | 0x0080 | 0x0040
        id.setString(serialNumber, at: 10, words: 10)
        id.setString(firmwareRevision, at: 23, words: 4)
        id.setString(model, at: 27, words: 20)
        id[49] = 0x0B00                                  // IORDY, LBA, DMA
        id[50] = 0x4000
        id[53] = 0x0006                                  // words 64–70 and 88 valid
        id[63] = transferModes.word63
        id[64] = TransferModes.advancedPIOSupported
        for w in 65...68 { id[w] = 120 }
        id[80] = 0x007E
        id[82] = 0x0218                                  // DEVICE RESET, PACKET, power management
        id[83] = 0x4000
        id[84] = 0x4000
        id[85] = 0x0218
        id[87] = 0x4000
        id[88] = transferModes.word88
        id[93] = hardwareResetResult
        return id
    }

    // MARK: - The PACKET protocol

    private func receivePacket() {
        // Overlapped commands are not supported (IDENTIFY word 49 bit 13 clear).
        guard registers.features & 0x02 == 0 else { return abort() }
        usesDMA = registers.features & 0x01 != 0
        // A DRQ block is even and nonzero: an odd limit loses its last byte, and
        // a zero limit (which hosts must not send) is read as the largest block.
        let limit = registers.byteCount & ~1
        byteCountLimit = limit == 0 ? ATAPIDrive.largestByteCount : limit
        stage = .commandPacket
        openWindow(.pioOut, count: ATAPIDrive.packetSize)
        registers.sectorCount = ATAPIDrive.commandOrData
        status = ATAStatus.ready | ATAStatus.dataRequest
    }

    override func windowCompleted() {
        switch stage {
        case .identify:
            stage = .idle
            complete(interrupt: false)
        case .commandPacket:
            stage = .idle
            let packet = [UInt8](UnsafeRawBufferPointer(start: buffer, count: ATAPIDrive.packetSize))
            executePacket(packet)
        case .dataIn:
            bytesToSend -= windowLength
            if bytesToSend == 0 { succeed() } else { nextWindow(first: false) }
        case .idle:
            break
        }
    }

    /// Sends the first `count` bytes of the buffer (a response built there).
    func send(_ count: Int) {
        bytesToSend = count
        stagedEnd = count
        blocksToStage = 0
        dataPosition = 0
        beginDataIn()
    }

    /// Sends `count` blocks of the medium from `block`.
    func sendBlocks(from block: UInt64, count: Int) {
        bytesToSend = count * ATAPIDrive.blockSize
        stagedEnd = 0
        blocksToStage = count
        nextBlock = block
        dataPosition = 0
        beginDataIn()
    }

    private func beginDataIn() {
        guard bytesToSend > 0 else { return succeed() }
        stage = .dataIn
        nextWindow(first: true)
    }

    private func nextWindow(first: Bool) {
        guard stageWindow(limit: usesDMA ? IDEDevice.bufferCapacity : byteCountLimit) else { return }
        windowLength = dataEnd - dataPosition
        registers.sectorCount = ATAPIDrive.inputToHost
        status = ATAStatus.ready | ATAStatus.dataRequest
        if usesDMA {
            phase = .dmaIn
            // Later windows are taken by the bus master already running.
            if first { startDMA() }
        } else {
            phase = .pioIn
            registers.byteCount = windowLength
            setInterrupt(true)
        }
    }

    /// Makes the next window ready in the buffer: moves what is left of the
    /// staged data to the front and reads whole medium blocks after it.
    /// False after failing the command.
    private func stageWindow(limit: Int) -> Bool {
        let wanted = min(bytesToSend, limit)
        if stagedEnd - dataPosition < wanted {
            let leftover = stagedEnd - dataPosition
            buffer.copyMemory(from: buffer + dataPosition, byteCount: leftover)
            dataPosition = 0
            stagedEnd = leftover
            while stagedEnd < wanted && blocksToStage > 0 {
                let room = (IDEDevice.bufferCapacity - stagedEnd) / ATAPIDrive.blockSize
                guard let medium, hasMedium, room > 0 else { break }
                let n = min(blocksToStage, room)
                do {
                    try medium.read(block: nextBlock, count: n, into: buffer + stagedEnd)
                } catch {
                    checkCondition(.unrecoveredReadError)
                    return false
                }
                nextBlock += UInt64(n)
                blocksToStage -= n
                stagedEnd += n * ATAPIDrive.blockSize
            }
        }
        let length = min(wanted, stagedEnd - dataPosition)
        // Only a disc taken out mid-command leaves nothing to send.
        guard length > 0 else {
            checkCondition(notReadySense)
            return false
        }
        dataEnd = dataPosition + length
        return true
    }

    /// Good status: IO and CoD set, an interrupt.
    func succeed() {
        stage = .idle
        sense = .noSense
        registers.sectorCount = ATAPIDrive.inputToHost | ATAPIDrive.commandOrData
        complete()
    }

    /// CHECK CONDITION with `code` kept for REQUEST SENSE.
    func checkCondition(_ code: SenseCode) {
        stage = .idle
        sense = code
        registers.sectorCount = ATAPIDrive.inputToHost | ATAPIDrive.commandOrData
        fail(code.key << 4 | (code.key == SenseCode.illegalRequestKey ? ATAError.aborted : 0))
    }

    /// Why the medium cannot be read: no disc, or the tray is open.
    var notReadySense: SenseCode {
        isTrayOpen ? .mediumNotPresentTrayOpen : .mediumNotPresentTrayClosed
    }
}
