/// The packet commands of the CD-ROM: what SeaBIOS's CD boot and Linux's
/// sr/cdrom drivers send, answered as MMC-5 and SPC-3 define them.
///
/// Order of checks for every command, as SPC-3 prescribes: a pending unit
/// attention is reported first (and cleared) except to the commands that
/// must work through it (INQUIRY, REQUEST SENSE, GET CONFIGURATION, GET
/// EVENT STATUS NOTIFICATION); then an unknown operation code is an
/// illegal request; then commands that touch the disc need one.
/// Responses are built big-endian in the drive's buffer and cut to the
/// command's allocation length.
extension ATAPIDrive {
    enum PacketCommand: UInt8 {
        case testUnitReady = 0x00
        case requestSense = 0x03
        case inquiry = 0x12
        case startStopUnit = 0x1B
        case preventAllowMediumRemoval = 0x1E
        case readCapacity = 0x25
        case read10 = 0x28
        case readTOC = 0x43
        case getConfiguration = 0x46
        case getEventStatusNotification = 0x4A
        case readDiscInformation = 0x51
        case modeSense10 = 0x5A
        case read12 = 0xA8
        case setCDSpeed = 0xBB
        case mechanismStatus = 0xBD

        var reportsUnitAttention: Bool {
            switch self {
            case .inquiry, .requestSense, .getConfiguration, .getEventStatusNotification: return false
            default: return true
            }
        }

        var needsMedium: Bool {
            switch self {
            case .testUnitReady, .readCapacity, .read10, .read12, .readTOC, .readDiscInformation: return true
            default: return false
            }
        }
    }

    func executePacket(_ cdb: [UInt8]) {
        let command = PacketCommand(rawValue: cdb[0])
        if let attention = pendingUnitAttention, command?.reportsUnitAttention ?? true {
            pendingUnitAttention = nil
            return checkCondition(attention)
        }
        guard let command else { return checkCondition(.invalidCommandOperationCode) }
        if command.needsMedium && !hasMedium { return checkCondition(notReadySense) }
        switch command {
        case .testUnitReady: succeed()
        case .requestSense: requestSense(cdb)
        case .inquiry: inquiry(cdb)
        case .startStopUnit: startStopUnit(cdb)
        case .preventAllowMediumRemoval:
            setRemovalPrevented(cdb[4] & 0x01 != 0)
            succeed()
        case .readCapacity: readCapacity()
        case .read10: read(cdb, block: field32(cdb, 2), count: Int(field16(cdb, 7)))
        case .read12: read(cdb, block: field32(cdb, 2), count: Int(field32(cdb, 6)))
        case .readTOC: readTOC(cdb)
        case .getConfiguration: getConfiguration(cdb)
        case .getEventStatusNotification: getEventStatusNotification(cdb)
        case .readDiscInformation: readDiscInformation(cdb)
        case .modeSense10: modeSense(cdb)
        case .setCDSpeed: succeed()   // any speed is the speed the host file gives
        case .mechanismStatus: mechanismStatus(cdb)
        }
    }

    // MARK: - Building responses

    func field16(_ cdb: [UInt8], _ at: Int) -> UInt32 { UInt32(cdb[at]) << 8 | UInt32(cdb[at + 1]) }
    func field32(_ cdb: [UInt8], _ at: Int) -> UInt32 { field16(cdb, at) << 16 | field16(cdb, at + 2) }

    private func clear(_ count: Int) { buffer.initializeMemory(as: UInt8.self, repeating: 0, count: count) }
    private func put8(_ value: Int, at: Int) { buffer.storeBytes(of: UInt8(truncatingIfNeeded: value), toByteOffset: at, as: UInt8.self) }
    private func put16(_ value: Int, at: Int) { put8(value >> 8, at: at); put8(value, at: at + 1) }
    private func put32(_ value: UInt64, at: Int) { put16(Int(truncatingIfNeeded: value >> 16), at: at); put16(Int(truncatingIfNeeded: value), at: at + 2) }
    private func putString(_ text: String, at: Int, length: Int) {
        let bytes = Array(text.utf8.prefix(length))
        for i in 0..<length { put8(i < bytes.count ? Int(bytes[i]) : 0x20, at: at + i) }
    }

    /// Sends `length` built bytes, no more than the host allocated.
    private func respond(_ length: Int, allocation: UInt32) {
        send(min(length, Int(allocation)))
    }

    /// An address as LBA, or as MSF (minute, second, frame; LBA 0 is 00:02:00).
    private func putAddress(_ lba: UInt64, msf: Bool, at: Int) {
        guard msf else { return put32(lba, at: at) }
        let frames = lba + 150
        put8(0, at: at)
        put8(Int(frames / (60 * 75)), at: at + 1)
        put8(Int(frames / 75 % 60), at: at + 2)
        put8(Int(frames % 75), at: at + 3)
    }

    // MARK: - SPC commands

    private func requestSense(_ cdb: [UInt8]) {
        let reported = pendingUnitAttention ?? sense
        pendingUnitAttention = nil
        reported.storeFixedFormat(into: buffer)
        respond(SenseCode.fixedFormatLength, allocation: UInt32(cdb[4]))
    }

    /// Standard INQUIRY data: a removable CD/DVD device (type 05h), SPC-3.
    private func inquiry(_ cdb: [UInt8]) {
        guard cdb[1] & 0x01 == 0 else { return checkCondition(.invalidFieldInCDB) }  // no VPD pages
        let length = 36
        clear(length)
        put8(0x05, at: 0)
        put8(0x80, at: 1)            // removable medium
        put8(0x05, at: 2)            // SPC-3
        put8(0x02, at: 3)            // response data format 2
        put8(length - 5, at: 4)
        putString("NOVABOX", at: 8, length: 8)
        putString(model, at: 16, length: 16)
        putString(firmwareRevision, at: 32, length: 4)
        respond(length, allocation: field16(cdb, 3))
    }

    /// START STOP UNIT: with LoEj, Start=0 opens the tray (unless locked)
    /// and Start=1 closes it; without LoEj, spinning up or down has no effect here.
    private func startStopUnit(_ cdb: [UInt8]) {
        let start = cdb[4] & 0x01 != 0
        let loadEject = cdb[4] & 0x02 != 0
        if loadEject {
            if !start && isRemovalPrevented { return checkCondition(.mediumRemovalPrevented) }
            moveTray(open: !start)
        }
        succeed()
    }

    // MARK: - Reading

    private func readCapacity() {
        guard let medium else { return checkCondition(notReadySense) }
        put32(medium.blockCount - 1, at: 0)
        put32(UInt64(ATAPIDrive.blockSize), at: 4)
        send(8)
    }

    private func read(_ cdb: [UInt8], block: UInt32, count: Int) {
        guard let medium else { return checkCondition(notReadySense) }
        guard medium.contains(block: UInt64(block), count: count) else {
            return checkCondition(.logicalBlockAddressOutOfRange)
        }
        sendBlocks(from: UInt64(block), count: count)
    }

    /// READ TOC/PMA/ATIP for a single-session disc with one data track:
    /// format 0 (TOC), 1 (session information) and 2 (raw TOC). The format
    /// is in byte 2, or in byte 9 bits 7:6 for hosts that follow the older
    /// SFF-8020 layout (Linux asks for session information that way).
    private func readTOC(_ cdb: [UInt8]) {
        guard let medium else { return checkCondition(notReadySense) }
        let msf = cdb[1] & 0x02 != 0
        let format = cdb[2] & 0x0F != 0 ? cdb[2] & 0x0F : cdb[9] >> 6
        let track = cdb[6]
        let leadOut = medium.blockCount
        let dataTrackControl = 0x14   // ADR 1 (position), control 4 (data track)
        var length: Int
        switch format {
        case 0:
            guard track <= 1 || track == 0xAA else { return checkCondition(.invalidFieldInCDB) }
            length = 4
            clear(4 + 2 * 8)
            if track <= 1 {
                put8(dataTrackControl, at: length + 1)
                put8(1, at: length + 2)
                putAddress(0, msf: msf, at: length + 4)
                length += 8
            }
            put8(dataTrackControl, at: length + 1)
            put8(0xAA, at: length + 2)
            putAddress(leadOut, msf: msf, at: length + 4)
            length += 8
        case 1:
            length = 12
            clear(length)
            put8(dataTrackControl, at: 5)
            put8(1, at: 6)                        // first track in the last session
            putAddress(0, msf: msf, at: 8)
        case 2:
            // Q sub-channel entries of the lead-in: A0 first track, A1 last
            // track, A2 lead-out, then track 1; addresses always as MSF.
            let points: [(point: Int, address: UInt64?, pmin: Int)] = [(0xA0, nil, 1), (0xA1, nil, 1), (0xA2, leadOut, 0), (0x01, 0, 0)]
            length = 4 + 11 * points.count
            clear(length)
            for (i, entry) in points.enumerated() {
                let at = 4 + 11 * i
                put8(1, at: at)                   // session
                put8(dataTrackControl, at: at + 1)
                put8(entry.point, at: at + 3)
                if let address = entry.address {
                    putAddress(address, msf: true, at: at + 7)   // zero, then PMIN/PSEC/PFRAME
                } else {
                    put8(entry.pmin, at: at + 8)  // PMIN = track number; PSEC 0 = CD-ROM disc
                }
            }
        default:
            return checkCondition(.invalidFieldInCDB)
        }
        put16(length - 2, at: 0)
        put8(1, at: 2)                            // first track or session
        put8(1, at: 3)                            // last track or session
        respond(length, allocation: field16(cdb, 7))
    }

    /// READ DISC INFORMATION (standard disc information, data type 000b):
    /// a complete, finalized, single-session disc.
    private func readDiscInformation(_ cdb: [UInt8]) {
        guard cdb[1] & 0x07 == 0 else { return checkCondition(.invalidFieldInCDB) }
        let length = 34
        clear(length)
        put16(length - 2, at: 0)
        put8(0x0E, at: 2)               // last session complete, disc finalized
        put8(1, at: 3)                  // first track
        put8(1, at: 4)                  // sessions
        put8(1, at: 5)                  // first track of the last session
        put8(1, at: 6)                  // last track of the last session
        put8(0x20, at: 7)               // unrestricted use
        put32(0xFFFF_FFFF, at: 16)      // no next session: lead-in and lead-out unused
        put32(0xFFFF_FFFF, at: 20)
        respond(length, allocation: field16(cdb, 7))
    }

    // MARK: - MMC device state

    /// GET CONFIGURATION: the CD-ROM profile and the features a read-only
    /// tray drive has (MMC-5 §5.3). RT 0 lists all features from the
    /// starting number, 1 the current ones, 2 exactly the one named.
    private func getConfiguration(_ cdb: [UInt8]) {
        let requestType = cdb[1] & 0x03
        guard requestType != 3 else { return checkCondition(.invalidFieldInCDB) }
        let startingFeature = Int(field16(cdb, 2))
        let disc = hasMedium
        let cdromProfile = 0x0008
        // (code, version, persistent, current, feature-dependent bytes)
        let features: [(code: Int, version: Int, persistent: Bool, current: Bool, data: [UInt8])] = [
            (0x0000, 0, true, true, [0x00, UInt8(cdromProfile), disc ? 0x01 : 0x00, 0x00]),        // profile list
            (0x0001, 1, true, true, [0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00]),             // core: ATAPI
            (0x0002, 1, true, true, [0x00, 0x00, 0x00, 0x00]),                                     // morphing: polled
            (0x0003, 0, true, true, [0x29, 0x00, 0x00, 0x00]),                                     // removable: tray, eject, lock
            (0x0010, 0, false, disc, [0x00, 0x00, 0x08, 0x00, 0x00, 0x01, 0x00, 0x00]),            // random readable: 2048, blocking 1
            (0x001E, 0, false, disc, [0x00, 0x00, 0x00, 0x00]),                                    // CD read
        ]
        var length = 8
        for f in features {
            let wanted: Bool
            switch requestType {
            case 0: wanted = f.code >= startingFeature
            case 1: wanted = f.code >= startingFeature && f.current
            default: wanted = f.code == startingFeature
            }
            guard wanted else { continue }
            put16(f.code, at: length)
            put8(f.version << 2 | (f.persistent ? 0x02 : 0) | (f.current ? 0x01 : 0), at: length + 2)
            put8(f.data.count, at: length + 3)
            for (i, b) in f.data.enumerated() { put8(Int(b), at: length + 4 + i) }
            length += 4 + f.data.count
        }
        put32(UInt64(length - 4), at: 0)
        put16(0, at: 4)
        put16(disc ? cdromProfile : 0, at: 6)
        respond(length, allocation: field16(cdb, 7))
    }

    /// GET EVENT STATUS NOTIFICATION, polled only: the media class (4)
    /// reports a pending new-media or removal event once, then "no change",
    /// with the tray and media state.
    private func getEventStatusNotification(_ cdb: [UInt8]) {
        guard cdb[1] & 0x01 != 0 else { return checkCondition(.invalidFieldInCDB) }  // asynchronous: not supported
        let mediaClass: UInt8 = 0x10
        let supportedClasses = Int(mediaClass)
        guard cdb[4] & mediaClass != 0 else {
            // No requested class is supported: NEA set, no descriptor.
            clear(4)
            put16(2, at: 0)
            put8(0x80, at: 2)
            put8(supportedClasses, at: 3)
            return respond(4, allocation: field16(cdb, 7))
        }
        clear(8)
        put16(6, at: 0)
        put8(4, at: 2)                                    // media class
        put8(supportedClasses, at: 3)
        put8(Int(pendingMediaEvent), at: 4)
        put8((medium != nil ? 0x02 : 0) | (isTrayOpen ? 0x01 : 0), at: 5)
        pendingMediaEvent = MediaEvent.noChange
        respond(8, allocation: field16(cdb, 7))
    }

    /// MODE SENSE(10): pages 01h (read error recovery) and 2Ah (CD
    /// capabilities and mechanical status, the MMC-2 20-byte form), or both
    /// (3Fh). Nothing is changeable; saved values are not supported.
    private func modeSense(_ cdb: [UInt8]) {
        let pageControl = cdb[2] >> 6
        let page = cdb[2] & 0x3F
        guard pageControl != 3 else { return checkCondition(.savingParametersNotSupported) }
        guard page == 0x01 || page == 0x2A || page == 0x3F else { return checkCondition(.invalidFieldInCDB) }
        let changeable = pageControl == 1
        var length = 8
        clear(8 + 12 + 22)
        // Medium type (SFF-8020): 01h 120 mm CD-ROM, 70h no disc, 71h tray open.
        put8(hasMedium ? 0x01 : (isTrayOpen ? 0x71 : 0x70), at: 2)
        if page == 0x01 || page == 0x3F {
            put8(0x01, at: length)
            put8(0x0A, at: length + 1)
            length += 12
        }
        if page == 0x2A || page == 0x3F {
            put8(0x2A, at: length)
            put8(0x14, at: length + 1)
            if !changeable {
                let speed = 32 * 176                    // 32×, in kB/s
                put8(0x03, at: length + 2)              // reads CD-R and CD-RW
                put8(0x40, at: length + 4)              // multi-session
                // Lock supported, lock state, eject, tray loading mechanism.
                put8(0x29 | (isRemovalPrevented ? 0x02 : 0), at: length + 6)
                put16(speed, at: length + 8)
                put16(IDEDevice.bufferCapacity >> 10, at: length + 12)
                put16(speed, at: length + 14)
            }
            length += 22
        }
        put16(length - 2, at: 0)
        respond(length, allocation: field16(cdb, 7))
    }

    /// MECHANISM STATUS: not a changer; idle; the door state.
    private func mechanismStatus(_ cdb: [UInt8]) {
        clear(8)
        put8(isTrayOpen ? 0x10 : 0, at: 1)
        respond(8, allocation: field16(cdb, 8))
    }
}
