import MMU

/// The standard VGA with Bochs VBE extensions, as QEMU's `-vga std` shows
/// it to a guest: the IBM VGA register set at ports 3B0h–3DFh, the legacy
/// memory window at A0000h–BFFFFh over four 64 KiB planes, and the DISPI
/// registers at 1CEh/1CFh that set high-resolution packed-pixel modes.
/// `VGAPCIFunction` puts it on the PCI bus with its linear framebuffer and
/// option ROM.
///
/// Video memory (16 MiB) lives in the physical-memory arena, so the linear
/// framebuffer is plain host memory the CPU engines reach without calling
/// the device. The VGA's four planes are interleaved in it: byte `o` of
/// plane `p` is at `4*o + p`. That keeps a chain-4 / VBE packed-pixel byte
/// `n` at VRAM offset `n`, and lets one 32-bit load fill all four latches.
///
/// Register writes are decoded once into plain stored properties (see
/// VGA+Memory.swift), so the per-byte memory path reads no register arrays.
public final class VGA: PortDevice {
    public static let legacyWindowBase: UInt32 = 0xA0000
    public static let legacyWindowSize: UInt32 = 0x20000
    /// QEMU's default for -vga std; also the size of PCI BAR 0.
    public static let videoMemorySize = 16 << 20
    public static let vgaPorts: ClosedRange<UInt16> = 0x3B0...0x3DF
    /// Index, data, and the second data port QEMU also decodes.
    public static let vbePorts: ClosedRange<UInt16> = 0x1CE...0x1D0

    /// Unowned: the memory map holds the VGA as its window's handler, and
    /// VRAM lives in the map's arena, so the map outlives the device.
    unowned let memory: PhysicalMemory
    let clock: MachineClock
    /// Offset of VRAM in `memory.arena` (for mapping the linear framebuffer).
    public let videoMemoryArenaOffset: Int
    /// Host address of VRAM.
    public let videoMemory: UnsafeMutablePointer<UInt8>
    /// VRAM's part of the memory map's device-memory write marks: a byte
    /// per 4 KiB page, holding the planes written (bit p for plane p) when
    /// the legacy window wrote it, all bits when a linear framebuffer or a
    /// bank of packed pixels did. See `takeMemoryChanges()`.
    let memoryChanges: UnsafeMutablePointer<UInt8>

    // MARK: Register files

    /// Writable bits of each register, from IBM's VGA register descriptions.
    static let sequencerMasks: [UInt8] = [0x03, 0x3D, 0x0F, 0x3F, 0x0E]
    static let graphicsMasks: [UInt8] = [0x0F, 0x0F, 0x0F, 0x1F, 0x03, 0x7B, 0x0F, 0x0F, 0xFF]
    static let attributeMasks: [UInt8] = [UInt8](repeating: 0x3F, count: 16) + [0xEF, 0xFF, 0x3F, 0x0F, 0x0F]
    static let crtcCount = 0x19

    var miscOutput: UInt8 = 0
    var featureControl: UInt8 = 0
    var sequencerIndex: UInt8 = 0
    var sequencer = [UInt8](repeating: 0, count: 5)
    var graphicsIndex: UInt8 = 0
    var graphics = [UInt8](repeating: 0, count: 9)
    /// Attribute address: index in bits 0–4, palette address source in bit 5
    /// (0 while software loads the palette: the screen shows no picture).
    var attributeAddress: UInt8 = 0
    /// The 3C0h flip-flop: false = next write is an index, true = data.
    var attributeExpectsData = false
    var attribute = [UInt8](repeating: 0, count: 21)
    var crtcIndex: UInt8 = 0
    var crtc = [UInt8](repeating: 0, count: VGA.crtcCount)
    var dac = VGADAC()
    var vbe = BochsVBE(videoMemorySize: VGA.videoMemorySize)
    /// Byte order of 15/16/24/32-bit VBE pixels, chosen through QEMU's
    /// extension register in PCI BAR 2 (Linux selects it for its pixel format).
    public internal(set) var framebufferIsBigEndian = false

    /// The register files as last written, read-only, for the monitor.
    public struct Snapshot: Equatable {
        public var miscOutput: UInt8
        public var sequencer, graphics, attribute, crtc: [UInt8]
        public var vbeEnabled: Bool
        public var vbeWidth, vbeHeight, vbeDepth, vbeBank, vbeVirtualWidth, vbeXOffset, vbeYOffset: UInt16
        /// CRTC start address and cursor location (registers 0Ch–0Fh).
        public var startAddress: UInt16 { UInt16(crtc[0x0C]) << 8 | UInt16(crtc[0x0D]) }
        public var cursorLocation: UInt16 { UInt16(crtc[0x0E]) << 8 | UInt16(crtc[0x0F]) }
    }

    public var snapshot: Snapshot {
        Snapshot(miscOutput: miscOutput, sequencer: sequencer, graphics: graphics, attribute: attribute, crtc: crtc,
                 vbeEnabled: vbe.isEnabled, vbeWidth: vbe.width, vbeHeight: vbe.height, vbeDepth: vbe.depth, vbeBank: vbe.bank,
                 vbeVirtualWidth: vbe.virtualWidth, vbeXOffset: vbe.xOffset, vbeYOffset: vbe.yOffset)
    }

    // MARK: Decoded memory-access state (kept by `decodeMemoryAccess`)

    var memoryDecodeEnabled = false
    /// The part of the 128 KiB legacy range the memory map select decodes.
    var windowStart: UInt32 = 0
    var windowSize: UInt32 = 0x20000
    /// VBE packed-pixel modes: the window shows VRAM bytes directly from here.
    var linearBankBase: UInt32? = nil
    /// Added to window offsets before the plane logic (VBE planar banks).
    var planarBankBase: UInt32 = 0
    var planeOffsetMask: UInt32 = 0xFFFF
    var chain4 = false
    var oddEvenWrites = false
    var oddEvenReads = false
    var chainOddEven = false
    /// With chain odd/even in the 128 KiB map, address bit 16 takes bit 0's place.
    var oddEvenUsesA16 = false
    /// Otherwise the page bit does (misc output bit 5; set selects the low page).
    var oddEvenPageBit: UInt32 = 0
    var writeMode: UInt8 = 0
    var readModeCompare = false
    var rotateCount: UInt32 = 0
    var logicalOperation: UInt8 = 0
    /// 4-bit register values spread to one byte lane per plane (0x00 / 0xFF).
    var setResetLanes: UInt32 = 0
    var enableSetResetLanes: UInt32 = 0
    var colorCompareLanes: UInt32 = 0
    var colorDontCareLanes: UInt32 = 0
    var bitMaskLanes: UInt32 = 0
    var bitMask: UInt8 = 0
    var mapMask: UInt32 = 0
    var readMapSelect: UInt32 = 0
    /// The four plane latches, loaded by every read of planar memory.
    var latches: UInt32 = 0

    /// Creates the VGA with its VRAM in `memory`'s arena and maps the legacy
    /// window at A0000h. `clock` times the retrace bits of input status 1.
    public init(memory: PhysicalMemory, clock: MachineClock) {
        self.memory = memory
        self.clock = clock
        videoMemoryArenaOffset = memory.allocateArena(VGA.videoMemorySize)
        videoMemory = memory.arena + videoMemoryArenaOffset
        memoryChanges = memory.deviceMemoryWrites + videoMemoryArenaOffset >> PhysicalMemory.pageShift
        decodeMemoryAccess()
        mapLegacyWindow()
    }

    /// Claims the VGA and VBE ports on `bus`.
    public func register(on bus: IOBus) {
        bus.register(self, ports: VGA.vgaPorts)
        bus.register(self, ports: VGA.vbePorts)
    }

    /// Routes A0000h–BFFFFh to the VGA; the chipset calls it again after
    /// lending that range to SMRAM.
    public func mapLegacyWindow() {
        memory.mapMMIO(at: VGA.legacyWindowBase, size: VGA.legacyWindowSize, handler: self)
    }

    // MARK: Port I/O

    /// CRTC index/data and input status live at 3Dxh in colour mode and
    /// 3Bxh in monochrome mode (misc output bit 0); the other block is silent.
    var crtcPortBase: UInt16 { miscOutput & 1 != 0 ? 0x3D0 : 0x3B0 }

    public func portRead(_ port: UInt16, size: Int) -> UInt32 {
        if VGA.vbePorts.contains(port) { return readVBEPort(port, size: size) }
        var value: UInt32 = 0
        for i in 0..<size { value |= UInt32(readRegister(port &+ UInt16(i))) << (8 * i) }
        return value
    }

    public func portWrite(_ port: UInt16, size: Int, value: UInt32) {
        if VGA.vbePorts.contains(port) { return writeVBEPort(port, size: size, value: value) }
        // A word write to an index port writes the index, then the data (outw 3C4h, 0x0F02).
        for i in 0..<size { writeRegister(port &+ UInt16(i), UInt8(truncatingIfNeeded: value >> (8 * i))) }
    }

    /// One byte read from a VGA port (also reached through PCI BAR 2).
    func readRegister(_ port: UInt16) -> UInt8 {
        switch port {
        case 0x3C0: return attributeAddress
        case 0x3C1:
            let i = Int(attributeAddress & 0x1F)
            return i < attribute.count ? attribute[i] : 0
        case 0x3C2: return 0  // input status 0: no switch sense, no CRT interrupt
        case 0x3C4: return sequencerIndex
        case 0x3C5:
            let i = Int(sequencerIndex)
            return i < sequencer.count ? sequencer[i] : 0
        case 0x3C6: return dac.pixelMask
        case 0x3C7: return dac.state
        case 0x3C8: return dac.writeIndex
        case 0x3C9: return dac.readComponent()
        case 0x3CA: return featureControl
        case 0x3CC: return miscOutput
        case 0x3CE: return graphicsIndex
        case 0x3CF:
            let i = Int(graphicsIndex)
            return i < graphics.count ? graphics[i] : 0
        case crtcPortBase + 4: return crtcIndex
        case crtcPortBase + 5:
            let i = Int(crtcIndex)
            return i < crtc.count ? crtc[i] : 0
        case crtcPortBase + 0xA:
            attributeExpectsData = false
            return inputStatus1
        default: return 0xFF
        }
    }

    /// One byte written to a VGA port (also reached through PCI BAR 2).
    func writeRegister(_ port: UInt16, _ value: UInt8) {
        switch port {
        case 0x3C0:
            if attributeExpectsData {
                let i = Int(attributeAddress & 0x1F)
                // The 16 palette registers only take writes while the palette
                // address source bit is clear (the screen is off meanwhile).
                let paletteLocked = i < 16 && attributeAddress & 0x20 != 0
                if i < attribute.count && !paletteLocked { attribute[i] = value & VGA.attributeMasks[i] }
            } else {
                attributeAddress = value & 0x3F
            }
            attributeExpectsData.toggle()
        case 0x3C2:
            miscOutput = value
            decodeMemoryAccess()
        case 0x3C4: sequencerIndex = value & 0x07
        case 0x3C5:
            let i = Int(sequencerIndex)
            guard i < sequencer.count else { return }
            sequencer[i] = value & VGA.sequencerMasks[i]
            decodeMemoryAccess()
        case 0x3C6: dac.pixelMask = value
        case 0x3C7: dac.startRead(at: value)
        case 0x3C8: dac.startWrite(at: value)
        case 0x3C9: dac.writeComponent(value)
        case 0x3CE: graphicsIndex = value & 0x0F
        case 0x3CF:
            let i = Int(graphicsIndex)
            guard i < graphics.count else { return }
            graphics[i] = value & VGA.graphicsMasks[i]
            decodeMemoryAccess()
        case crtcPortBase + 4: crtcIndex = value & 0x3F
        case crtcPortBase + 5: writeCRTC(Int(crtcIndex), value)
        case crtcPortBase + 0xA: featureControl = value
        default: break
        }
    }

    /// CRTC registers 0–7 are locked while CR11 bit 7 is set, except the
    /// line compare bit 8 in CR07 (so old software cannot wreck timings).
    private func writeCRTC(_ index: Int, _ value: UInt8) {
        guard index < crtc.count else { return }
        if crtc[0x11] & 0x80 != 0 && index <= 7 {
            if index == 7 { crtc[7] = (crtc[7] & ~0x10) | (value & 0x10) }
            return
        }
        crtc[index] = value
    }

    // MARK: Input status 1 and retrace

    /// Fixed timing of the 70 Hz 400-line modes (25.175 MHz dot clock, 800
    /// dots by 449 lines), whatever the CRTC holds: software only polls the
    /// bits to wait for a retrace edge, and the period keeps such loops short.
    static let lineNanoseconds: UInt64 = 31_778
    static let visibleLineNanoseconds: UInt64 = 25_422   // 640 of 800 dots
    static let linesPerFrame: UInt64 = 449
    static let visibleLines: UInt64 = 400
    static let verticalRetraceLines: Range<UInt64> = 412..<414

    /// Bit 0: display disabled (horizontal or vertical blanking);
    /// bit 3: vertical retrace.
    var inputStatus1: UInt8 {
        let t = clock.now % (VGA.lineNanoseconds * VGA.linesPerFrame)
        let line = t / VGA.lineNanoseconds
        var status: UInt8 = 0
        if line >= VGA.visibleLines || t % VGA.lineNanoseconds >= VGA.visibleLineNanoseconds { status |= 0x01 }
        if VGA.verticalRetraceLines.contains(line) { status |= 0x08 }
        return status
    }

    // MARK: Bochs VBE ports

    /// Word accesses at 1CEh select the register, at 1CFh/1D0h move data;
    /// a dword at 1CEh does both (index in the low half). A byte access
    /// moves the low byte of the same register.
    private func readVBEPort(_ port: UInt16, size: Int) -> UInt32 {
        if port == 0x1CE {
            guard size == 4 else { return UInt32(vbe.index) & (size == 1 ? 0xFF : 0xFFFF) }
            return UInt32(vbe.index) | UInt32(vbe.read(vbe.index)) << 16
        }
        return UInt32(vbe.read(vbe.index)) & (size == 1 ? 0xFF : 0xFFFF)
    }

    private func writeVBEPort(_ port: UInt16, size: Int, value: UInt32) {
        if port == 0x1CE {
            vbe.index = UInt16(truncatingIfNeeded: value) & (size == 1 ? 0xFF : 0xFFFF)
            if size == 4 { writeVBE(vbe.index, UInt16(truncatingIfNeeded: value >> 16)) }
            return
        }
        writeVBE(vbe.index, UInt16(truncatingIfNeeded: value) & (size == 1 ? 0xFF : 0xFFFF))
    }

    /// Writes DISPI register `index` and applies what it changes.
    func writeVBE(_ index: UInt16, _ value: UInt16) {
        switch vbe.write(index, value) {
        case .enabled(let clearMemory):
            if clearMemory {
                let visible = min(vbe.bytesPerLine * Int(vbe.height), VGA.videoMemorySize)
                videoMemory.update(repeating: 0, count: visible)
                memoryChanges.update(repeating: PhysicalMemory.deviceMemoryWritten,
                                     count: (visible + PhysicalMemory.pageSize - 1) >> PhysicalMemory.pageShift)
            }
            // The bank window must decode at A0000h, 64 KiB, graphics: set
            // the memory map as QEMU's card does, whatever the VGA registers said.
            graphics[6] = (graphics[6] & ~0x0C) | 0x04 | 0x01
        case .none:
            break
        }
        dac.eightBitWide = vbe.eightBitDAC
        decodeMemoryAccess()
    }
}
