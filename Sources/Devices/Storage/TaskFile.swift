/// The ATA command block registers as one device latches them (ATA/ATAPI-6
/// §7). Both devices on a channel see every write; each keeps its own copy.
///
/// Features, Sector Count and the three LBA registers are two-deep FIFOs
/// for the 48-bit address feature set: a write pushes the current value
/// into "previous", and reads with HOB set in Device Control return the
/// previous value. For ATAPI the Sector Count register is the Interrupt
/// Reason, LBA Mid/High the Byte Count.
struct TaskFile {
    var features: UInt8 = 0
    var previousFeatures: UInt8 = 0
    var sectorCount: UInt8 = 0
    var previousSectorCount: UInt8 = 0
    var lbaLow: UInt8 = 0
    var previousLBALow: UInt8 = 0
    var lbaMid: UInt8 = 0
    var previousLBAMid: UInt8 = 0
    var lbaHigh: UInt8 = 0
    var previousLBAHigh: UInt8 = 0
    /// Bit 6 LBA, bit 4 DEV, bits 3:0 head or LBA 27:24; bits 7 and 5 read back as written.
    var device: UInt8 = 0
    var error: UInt8 = 0

    static let lbaMode: UInt8 = 0x40
    static let deviceSelect: UInt8 = 0x10

    /// The device the DEV bit selects (0 master, 1 slave).
    var selectedPosition: Int { device & TaskFile.deviceSelect != 0 ? 1 : 0 }
    var usesLBA: Bool { device & TaskFile.lbaMode != 0 }

    // MARK: Addresses and counts

    /// The 28-bit LBA (LBA Low/Mid/High and Device bits 3:0).
    var lba28: UInt64 {
        UInt64(device & 0x0F) << 24 | UInt64(lbaHigh) << 16 | UInt64(lbaMid) << 8 | UInt64(lbaLow)
    }

    /// The 48-bit LBA: previous values are bits 47:24.
    var lba48: UInt64 {
        UInt64(previousLBAHigh) << 40 | UInt64(previousLBAMid) << 32 | UInt64(previousLBALow) << 24
            | UInt64(lbaHigh) << 16 | UInt64(lbaMid) << 8 | UInt64(lbaLow)
    }

    /// Sectors for a 28-bit command: 0 means 256.
    var count28: Int { sectorCount == 0 ? 256 : Int(sectorCount) }
    /// Sectors for a 48-bit command: 0 means 65,536.
    var count48: Int {
        let n = Int(previousSectorCount) << 8 | Int(sectorCount)
        return n == 0 ? 65536 : n
    }

    /// CHS fields: cylinder in LBA Mid/High, head in Device 3:0, sector in LBA Low.
    var cylinder: Int { Int(lbaHigh) << 8 | Int(lbaMid) }
    var head: Int { Int(device & 0x0F) }
    var sector: Int { Int(lbaLow) }

    /// Reports an address (the failing sector of an error) in the form the command used.
    mutating func setLBA(_ lba: UInt64, extended: Bool) {
        lbaLow = UInt8(truncatingIfNeeded: lba)
        lbaMid = UInt8(truncatingIfNeeded: lba >> 8)
        lbaHigh = UInt8(truncatingIfNeeded: lba >> 16)
        if extended {
            previousLBALow = UInt8(truncatingIfNeeded: lba >> 24)
            previousLBAMid = UInt8(truncatingIfNeeded: lba >> 32)
            previousLBAHigh = UInt8(truncatingIfNeeded: lba >> 40)
        } else {
            device = device & 0xF0 | UInt8(truncatingIfNeeded: lba >> 24) & 0x0F
        }
    }

    /// ATAPI byte count (LBA Mid/High).
    var byteCount: Int {
        get { Int(lbaHigh) << 8 | Int(lbaMid) }
        set { lbaMid = UInt8(truncatingIfNeeded: newValue); lbaHigh = UInt8(truncatingIfNeeded: newValue >> 8) }
    }

    // MARK: Register access (offsets 1–6 of the command block)

    /// A host write; the FIFO registers shift.
    mutating func write(_ register: Int, _ value: UInt8) {
        switch register {
        case 1: previousFeatures = features; features = value
        case 2: previousSectorCount = sectorCount; sectorCount = value
        case 3: previousLBALow = lbaLow; lbaLow = value
        case 4: previousLBAMid = lbaMid; lbaMid = value
        case 5: previousLBAHigh = lbaHigh; lbaHigh = value
        case 6: device = value
        default: break
        }
    }

    /// A host read; `hob` selects the previous values of the FIFO registers.
    func read(_ register: Int, hob: Bool) -> UInt8 {
        switch register {
        case 1: return error
        case 2: return hob ? previousSectorCount : sectorCount
        case 3: return hob ? previousLBALow : lbaLow
        case 4: return hob ? previousLBAMid : lbaMid
        case 5: return hob ? previousLBAHigh : lbaHigh
        case 6: return device
        default: return 0
        }
    }

    /// The signature a device leaves after reset or diagnostics (ATA-6
    /// §9.12): Sector Count and LBA Low 01h, LBA Mid/High 00h/00h for an
    /// ATA device, 14h/EBh for a PACKET device. DEV keeps the selection.
    mutating func setSignature(packetDevice: Bool) {
        sectorCount = 1
        lbaLow = 1
        lbaMid = packetDevice ? 0x14 : 0
        lbaHigh = packetDevice ? 0xEB : 0
        device &= TaskFile.deviceSelect
    }
}

/// Status register bits (ATA-6 §7.15).
enum ATAStatus {
    static let busy: UInt8 = 0x80
    static let ready: UInt8 = 0x40           // DRDY
    static let deviceFault: UInt8 = 0x20
    static let seekComplete: UInt8 = 0x10    // DSC (obsolete, still read by BIOSes)
    static let dataRequest: UInt8 = 0x08     // DRQ
    static let error: UInt8 = 0x01
}

/// Error register bits (ATA-6 §7.11).
enum ATAError {
    static let uncorrectable: UInt8 = 0x40   // UNC
    static let idNotFound: UInt8 = 0x10      // IDNF
    static let aborted: UInt8 = 0x04         // ABRT
    /// Diagnostic code: device 0 passed (and device 1 passed or is absent).
    static let diagnosticPassed: UInt8 = 0x01
}

/// Device Control register bits (ATA-6 §7.9).
enum DeviceControl {
    static let highOrderByte: UInt8 = 0x80   // HOB
    static let softwareReset: UInt8 = 0x04   // SRST
    static let interruptDisable: UInt8 = 0x02 // nIEN
}
