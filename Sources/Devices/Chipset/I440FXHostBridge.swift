import MMU

/// The Intel 82441FX PCI and memory controller (i440FX host bridge),
/// PCI 8086:1237 at 00:00.0, the device SeaBIOS identifies the platform by.
///
/// What matters to software is the Programmable Attribute Map: PAM0–PAM6
/// (config 59h–5Fh) decide, per region of C0000h–FFFFFh, whether reads and
/// writes reach DRAM or go to the bus (where the BIOS ROM answers reads and
/// writes are lost). SeaBIOS runs from the ROM, copies itself to RAM with
/// "read ROM, write RAM", then switches to "read RAM" and write-protects.
/// Each change is applied at once to the guest memory map.
///
///     PAM0 59h  bits 5:4  F0000–FFFFF (bits 1:0 reserved)
///     PAM1 5Ah  bits 1:0  C0000–C3FFF   bits 5:4  C4000–C7FFF
///     PAM2 5Bh            C8000–CBFFF             CC000–CFFFF
///     PAM3 5Ch            D0000–D3FFF             D4000–D7FFF
///     PAM4 5Dh            D8000–DBFFF             DC000–DFFFF
///     PAM5 5Eh            E0000–E3FFF             E4000–E7FFF
///     PAM6 5Fh            E8000–EBFFF             EC000–EFFFF
///     in each nibble: bit 0 read enable, bit 1 write enable
///
/// The SMRAM control register (72h) is stored with its lock: once D_LCK is
/// set, D_OPEN reads 0 and neither can be changed until reset. The CPU
/// model has no SMM, so SMRAM is never mapped. The DRAM control and timing
/// registers are kept for the BIOS to read back and have no effect.
public final class I440FXHostBridge: PCIDevice {
    /// Where a region's reads go while PAM disables RAM reads: the arena
    /// offset of the ROM bytes for the region starting at the given
    /// physical address, or nil for none (reads then float to all ones).
    public typealias ROMSource = (_ regionStart: UInt32) -> Int?

    static let pamBase = 0x59
    static let smram = 0x72
    static let smramLock: UInt8 = 0x10, smramOpen: UInt8 = 0x40

    private let memory: PhysicalMemory
    private let romSource: ROMSource

    /// `romSource` is asked for each region as it is mapped; see
    /// `biosWindow(arenaOffset:imageSize:)` for the usual PC layout.
    public init(memory: PhysicalMemory, romSource: @escaping ROMSource) {
        precondition(memory.ramSize >= 0x10_0000, "PAM shadowing needs RAM under the whole first megabyte")
        self.memory = memory
        self.romSource = romSource
        super.init(vendor: 0x8086, device: 0x1237, classCode: 0x06_0000, revision: 0x02)
        // PMCCFG/DETURBO/DBC/AXC/DRT/DRAMC/DRAMT, DRB0–7, FDHC, MTT, CLT, ERRCMD/ERRSTS, TRC.
        for o in [0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x68, 0x70, 0x71, 0x90, 0x91, 0x93] {
            writable[o] = 0xFF
        }
        for o in 0x60...0x67 { writable[o] = 0xFF }
        writable[Self.pamBase] = 0x30
        for o in Self.pamBase + 1...Self.pamBase + 6 { writable[o] = 0x33 }
        writable[Self.smram] = 0x78
        set16(0x06, 0x0280)          // fast back-to-back capable, DEVSEL medium
        reset()
    }

    /// Power-on values: PAM all zero (reads from the ROM, writes lost),
    /// SMRAM unlocked, DRAM registers cleared.
    public func reset() {
        config[0x04] = 0x06          // memory space and bus master: the host bridge always decodes
        for o in 0x50...0x7F where writable[o] != 0 { config[o] = 0 }
        for o in 0x90...0x93 where writable[o] != 0 { config[o] = 0 }
        config[Self.smram] = 0x02    // C_BASE_SEG: compatible SMRAM at A0000h
        for r in 0...6 { applyPAM(r) }
    }

    /// The PC's BIOS layout: the last 128 KiB of the image (or all of a
    /// smaller one) appear below 1 MiB, ending at FFFFFh.
    public static func biosWindow(arenaOffset: Int, imageSize: Int) -> ROMSource {
        let window = min(imageSize, 0x2_0000)
        let windowStart = UInt32(0x10_0000 - window)
        return { start in
            guard start >= windowStart else { return nil }
            return arenaOffset + imageSize - Int(0x10_0000 - start)
        }
    }

    /// (start, size, shift of its nibble) of the regions PAM register `r` controls.
    private static func regions(ofPAM r: Int) -> [(UInt32, UInt32, Int)] {
        if r == 0 { return [(0xF_0000, 0x1_0000, 4)] }
        let start = 0xC_0000 + UInt32(r - 1) * 0x8000
        return [(start, 0x4000, 0), (start + 0x4000, 0x4000, 4)]
    }

    private func applyPAM(_ r: Int) {
        let value = config[Self.pamBase + r]
        for (start, size, shift) in Self.regions(ofPAM: r) {
            let nibble = value >> shift
            memory.mapShadow(at: start, size: size, readRAM: nibble & 1 != 0, writeRAM: nibble & 2 != 0,
                             romOffset: romSource(start))
        }
    }

    public override func configWrite(_ offset: Int, size: Int, value: UInt32) {
        let oldPAM = Array(config[Self.pamBase...Self.pamBase + 6])
        let oldSMRAM = config[Self.smram]
        super.configWrite(offset, size: size, value: value)
        var smram = config[Self.smram]
        if oldSMRAM & Self.smramLock != 0 { smram = smram & ~Self.smramOpen | Self.smramLock }
        if smram & Self.smramLock != 0 { smram &= ~Self.smramOpen }
        config[Self.smram] = smram
        for r in 0...6 where config[Self.pamBase + r] != oldPAM[r] { applyPAM(r) }
    }
}
