/// The VGA's colour look-up table (the RAMDAC): 256 entries of red, green
/// and blue, loaded and read back through ports 3C7h–3C9h one component at
/// a time.
///
/// Software writes an index to 3C8h (write mode) or 3C7h (read mode), then
/// moves three bytes through 3C9h: red, green, blue. After the third the
/// index steps to the next entry, so a whole palette streams through with
/// one index write. Components are 6 bits wide as on IBM's VGA, or 8 bits
/// once the Bochs VBE interface switches the DAC to 8-bit width.
struct VGADAC {
    /// Red, green, blue for each of the 256 entries.
    private(set) var palette = [UInt8](repeating: 0, count: 256 * 3)
    /// The PEL mask at 3C6h, ANDed with every pixel value before lookup.
    var pixelMask: UInt8 = 0xFF
    private(set) var readIndex: UInt8 = 0
    private(set) var writeIndex: UInt8 = 0
    /// Which of red, green, blue the next 3C9h access moves.
    private var component = 0
    /// Whether the last index written was the read index (3C7h reads 3).
    private var reading = false
    /// Red and green of an entry being written, kept until blue arrives so
    /// that a half-written entry never shows.
    private var pending: (UInt8, UInt8) = (0, 0)
    /// 8-bit DAC width (VBE); otherwise components keep their low 6 bits.
    var eightBitWide = false

    mutating func startRead(at index: UInt8) {
        readIndex = index
        component = 0
        reading = true
    }

    mutating func startWrite(at index: UInt8) {
        writeIndex = index
        component = 0
        reading = false
    }

    /// The DAC state register (3C7h): 3 after a read index, 0 after a write index.
    var state: UInt8 { reading ? 0x03 : 0x00 }

    mutating func writeComponent(_ value: UInt8) {
        let v = eightBitWide ? value : value & 0x3F
        switch component {
        case 0: pending.0 = v; component = 1
        case 1: pending.1 = v; component = 2
        default:
            let base = Int(writeIndex) * 3
            palette[base] = pending.0
            palette[base + 1] = pending.1
            palette[base + 2] = v
            writeIndex &+= 1
            component = 0
        }
    }

    mutating func readComponent() -> UInt8 {
        let v = palette[Int(readIndex) * 3 + component]
        component += 1
        if component == 3 {
            component = 0
            readIndex &+= 1
        }
        return v
    }

    /// Entry `index` (after the PEL mask) as 0xFFRRGGBB, scaling 6-bit
    /// components to the full 8-bit range.
    func rgb(_ index: UInt8) -> UInt32 {
        let base = Int(index & pixelMask) * 3
        func scale(_ c: UInt8) -> UInt32 {
            eightBitWide ? UInt32(c) : UInt32(c & 0x3F) << 2 | UInt32(c & 0x3F) >> 4
        }
        return 0xFF00_0000 | scale(palette[base]) << 16 | scale(palette[base + 1]) << 8 | scale(palette[base + 2])
    }
}
