/// The 256-word block IDENTIFY DEVICE and IDENTIFY PACKET DEVICE return
/// (ATA/ATAPI-6 §8.15–8.16), built word by word; the drives fill in what
/// they are.
///
/// Strings follow the standard's byte order: two ASCII characters per
/// word, the first in bits 15:8, padded with spaces — so a little-endian
/// host reading the raw bytes sees each pair swapped. Word 255 carries the
/// integrity signature A5h and a checksum making all 512 bytes sum to 0.
struct IdentifyData {
    private(set) var words = [UInt16](repeating: 0, count: 256)

    subscript(_ index: Int) -> UInt16 {
        get { words[index] }
        set { words[index] = newValue }
    }

    /// Stores `text` (ASCII, space padded) in `count` words from `first`.
    mutating func setString(_ text: String, at first: Int, words count: Int) {
        var bytes = Array(text.utf8.prefix(2 * count).map { $0 < 0x20 || $0 > 0x7E ? UInt8(ascii: "?") : $0 })
        bytes += [UInt8](repeating: 0x20, count: 2 * count - bytes.count)
        for i in 0..<count { words[first + i] = UInt16(bytes[2 * i]) << 8 | UInt16(bytes[2 * i + 1]) }
    }

    /// A 32-bit value in two words, low word first (words 57–58, 60–61).
    mutating func setDoubleWord(_ value: UInt32, at first: Int) {
        words[first] = UInt16(truncatingIfNeeded: value)
        words[first + 1] = UInt16(truncatingIfNeeded: value >> 16)
    }

    /// A 64-bit value in four words, low word first (words 100–103).
    mutating func setQuadWord(_ value: UInt64, at first: Int) {
        for i in 0..<4 { words[first + i] = UInt16(truncatingIfNeeded: value >> (16 * i)) }
    }

    static let integritySignature: UInt16 = 0xA5

    /// Stores the block in `buffer` as the device sends it (each word little-endian),
    /// sealed with the word 255 checksum.
    func store(into buffer: UnsafeMutableRawPointer) {
        var sealed = words
        sealed[255] = IdentifyData.integritySignature
        var sum: UInt8 = 0
        for w in sealed[0..<255] { sum &+= UInt8(truncatingIfNeeded: w) &+ UInt8(w >> 8) }
        sum &+= UInt8(IdentifyData.integritySignature)
        sealed[255] |= UInt16(0 &- sum) << 8
        for (i, w) in sealed.enumerated() { buffer.storeBytes(of: w.littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
    }
}

/// The transfer modes a drive offers and the one SET FEATURES (subcommand
/// 03h) selected, as IDENTIFY words 63 and 88 report them. Only one DMA
/// mode is selected at a time: choosing a multiword mode clears the Ultra
/// DMA selection and the other way round. Modes offered: PIO 0–4 (word 64
/// names the advanced ones, 3 and 4), multiword DMA 0–2, Ultra DMA 0–5;
/// the host controller decides which it can drive (a PIIX3 stops at
/// multiword DMA 2).
struct TransferModes: Equatable {
    enum DMAMode: Equatable {
        case none
        case multiword(Int)
        case ultra(Int)
    }

    static let multiwordSupported: UInt16 = 0x0007
    static let ultraSupported: UInt16 = 0x003F
    static let advancedPIOSupported: UInt16 = 0x0003
    /// Transfer mode values (SET FEATURES sector count): type in bits 7:3, mode in 2:0.
    static let pioDefault: UInt8 = 0x00
    static let pioDefaultNoIORDY: UInt8 = 0x01
    static let pioFlowControl: UInt8 = 0x08
    static let multiwordDMA: UInt8 = 0x20
    static let ultraDMA: UInt8 = 0x40

    private(set) var pio = 0
    private(set) var dma = DMAMode.none

    /// Word 63: supported multiword modes, the selected one in bits 10:8.
    var word63: UInt16 {
        if case .multiword(let m) = dma { return TransferModes.multiwordSupported | 1 << (8 + m) }
        return TransferModes.multiwordSupported
    }

    /// Word 88: supported Ultra DMA modes, the selected one in bits 13:8.
    var word88: UInt16 {
        if case .ultra(let m) = dma { return TransferModes.ultraSupported | 1 << (8 + m) }
        return TransferModes.ultraSupported
    }

    /// Applies a SET FEATURES transfer mode value; false for a mode this drive lacks.
    mutating func select(_ value: UInt8) -> Bool {
        let mode = Int(value & 0x07)
        switch value & 0xF8 {
        case TransferModes.pioDefault where value <= TransferModes.pioDefaultNoIORDY: pio = 0
        case TransferModes.pioFlowControl where mode <= 4: pio = mode
        case TransferModes.multiwordDMA where mode <= 2: dma = .multiword(mode)
        case TransferModes.ultraDMA where mode <= 5: dma = .ultra(mode)
        default: return false
        }
        return true
    }
}
