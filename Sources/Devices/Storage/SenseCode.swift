/// A SCSI sense key with its additional sense code and qualifier (SPC-3
/// §4.5.6, MMC), what a packet command that ended in CHECK CONDITION
/// leaves for REQUEST SENSE.
public struct SenseCode: Equatable, CustomStringConvertible {
    public let key: UInt8
    public let asc: UInt8
    public let ascq: UInt8

    public init(key: UInt8, asc: UInt8, ascq: UInt8) {
        self.key = key
        self.asc = asc
        self.ascq = ascq
    }

    public static let noSense = SenseCode(key: 0x0, asc: 0x00, ascq: 0x00)
    public static let mediumNotPresentTrayClosed = SenseCode(key: 0x2, asc: 0x3A, ascq: 0x01)
    public static let mediumNotPresentTrayOpen = SenseCode(key: 0x2, asc: 0x3A, ascq: 0x02)
    public static let unrecoveredReadError = SenseCode(key: 0x3, asc: 0x11, ascq: 0x00)
    public static let invalidCommandOperationCode = SenseCode(key: 0x5, asc: 0x20, ascq: 0x00)
    public static let logicalBlockAddressOutOfRange = SenseCode(key: 0x5, asc: 0x21, ascq: 0x00)
    public static let invalidFieldInCDB = SenseCode(key: 0x5, asc: 0x24, ascq: 0x00)
    public static let savingParametersNotSupported = SenseCode(key: 0x5, asc: 0x39, ascq: 0x00)
    public static let mediumRemovalPrevented = SenseCode(key: 0x5, asc: 0x53, ascq: 0x02)
    public static let mediumMayHaveChanged = SenseCode(key: 0x6, asc: 0x28, ascq: 0x00)
    public static let powerOnOrReset = SenseCode(key: 0x6, asc: 0x29, ascq: 0x00)

    static let illegalRequestKey: UInt8 = 0x5

    public var description: String {
        let hex = { (v: UInt8) in String(v, radix: 16, uppercase: true) }
        return "sense \(hex(key))/\(hex(asc))/\(hex(ascq))"
    }

    /// Fixed-format sense data, current error (SPC-3 §4.5.3): 18 bytes.
    static let fixedFormatLength = 18

    func storeFixedFormat(into p: UnsafeMutableRawPointer) {
        p.initializeMemory(as: UInt8.self, repeating: 0, count: SenseCode.fixedFormatLength)
        p.storeBytes(of: 0x70, toByteOffset: 0, as: UInt8.self)
        p.storeBytes(of: key, toByteOffset: 2, as: UInt8.self)
        p.storeBytes(of: UInt8(SenseCode.fixedFormatLength - 8), toByteOffset: 7, as: UInt8.self)
        p.storeBytes(of: asc, toByteOffset: 12, as: UInt8.self)
        p.storeBytes(of: ascq, toByteOffset: 13, as: UInt8.self)
    }
}
