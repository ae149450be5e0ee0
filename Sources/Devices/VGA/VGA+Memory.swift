import MMU

/// The VGA's memory path: CPU reads and writes in the legacy window
/// A0000h–BFFFFh, through the sequencer's plane selection and the graphics
/// controller's read and write modes, as IBM's VGA documents them.
///
/// Every write computes all four planes' bytes at once in a 32-bit word
/// (one byte lane per plane), the way the hardware's four parallel data
/// paths do, and stores the lanes the map mask enables; every read loads
/// all four latches with one 32-bit load. The register state used here is
/// decoded in `decodeMemoryAccess()` whenever a register changes.
///
/// Addressing within a plane follows the hardware, so the CRTC's byte, word
/// and doubleword scan-out modes find what the CPU wrote:
/// - chain-4 (mode 13h): address bits 0–1 pick the plane, and the plane
///   offset is the address with those bits cleared;
/// - chain odd/even (text modes): bit 0 picks plane 0/1 (or 2/3) and is
///   replaced in the offset by address bit 16 (128 KiB map) or by the page
///   bit of misc output (bit 5 set selects the low page, as on ATI and
///   Cirrus parts; IBM's text modes set it and scan out even offsets);
/// - otherwise the offset is the address and the map mask picks planes.
extension VGA: MMIOHandler {
    public func mmioRead(offset: UInt32, size: Int) -> UInt32 {
        var value: UInt32 = 0
        for i in 0..<size { value |= UInt32(readByte(offset &+ UInt32(i))) << (8 * i) }
        return value
    }

    public func mmioWrite(offset: UInt32, size: Int, value: UInt32) {
        for i in 0..<size { writeByte(offset &+ UInt32(i), UInt8(truncatingIfNeeded: value >> (8 * i))) }
    }

    /// Spreads the 4-bit plane set `planes` to 0xFF byte lanes.
    @inline(__always)
    static func lanes(_ planes: UInt32) -> UInt32 {
        ((planes & 1) | (planes & 2) << 7 | (planes & 4) << 14 | (planes & 8) << 21) &* 0xFF
    }

    @inline(__always)
    private func planeOffset(_ address: UInt32) -> UInt32 {
        let offset: UInt32
        if chain4 {
            offset = address & ~3
        } else if chainOddEven {
            offset = (address & ~1) | (oddEvenUsesA16 ? (address >> 16) & 1 : oddEvenPageBit)
        } else {
            offset = address
        }
        return offset & planeOffsetMask
    }

    @inline(__always)
    private func latchAddress(_ planeOffset: UInt32) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(videoMemory + Int(planeOffset) << 2)
    }

    /// One byte read at `offset` into the 128 KiB legacy range.
    func readByte(_ offset: UInt32) -> UInt8 {
        let inWindow = offset &- windowStart
        guard memoryDecodeEnabled, inWindow < windowSize else { return 0xFF }
        if let base = linearBankBase {
            return videoMemory[Int((base &+ inWindow) & UInt32(VGA.videoMemorySize - 1))]
        }
        let address = planarBankBase &+ inWindow
        latches = latchAddress(planeOffset(address)).load(as: UInt32.self)
        if readModeCompare {
            // Read mode 1: a bit is 1 where every plane that is not
            // "don't care" matches its color compare bit.
            var mismatch = (latches ^ colorCompareLanes) & colorDontCareLanes
            mismatch |= mismatch >> 16
            mismatch |= mismatch >> 8
            return ~UInt8(truncatingIfNeeded: mismatch)
        }
        let plane: UInt32
        if chain4 {
            plane = address & 3
        } else if oddEvenReads {
            plane = (readMapSelect & 2) | (address & 1)
        } else {
            plane = readMapSelect
        }
        return UInt8(truncatingIfNeeded: latches >> (plane << 3))
    }

    /// One byte written at `offset` into the 128 KiB legacy range.
    func writeByte(_ offset: UInt32, _ value: UInt8) {
        let inWindow = offset &- windowStart
        guard memoryDecodeEnabled, inWindow < windowSize else { return }
        if let base = linearBankBase {
            let at = Int((base &+ inWindow) & UInt32(VGA.videoMemorySize - 1))
            videoMemory[at] = value
            memoryChanges[at >> PhysicalMemory.pageShift] = PhysicalMemory.deviceMemoryWritten
            return
        }
        let address = planarBankBase &+ inWindow
        let planes: UInt32
        if chain4 {
            planes = mapMask & (1 << (address & 3))
        } else if oddEvenWrites {
            planes = mapMask & (address & 1 != 0 ? 0b1010 : 0b0101)
        } else {
            planes = mapMask
        }
        guard planes != 0 else { return }

        let data: UInt32
        switch writeMode {
        case 0:
            // Rotated CPU byte, or set/reset for the planes enabled for it.
            let cpu = UInt32(rotated(value)) &* 0x0101_0101
            let source = (cpu & ~enableSetResetLanes) | (setResetLanes & enableSetResetLanes)
            data = masked(combined(source), by: bitMaskLanes)
        case 1:
            // The latches, unchanged: a 4-plane copy per byte.
            data = latches
        case 2:
            // CPU bits 0–3 fill planes 0–3.
            data = masked(combined(VGA.lanes(UInt32(value & 0x0F))), by: bitMaskLanes)
        default:
            // The rotated CPU byte ANDed with the bit mask masks set/reset.
            let mask = UInt32(rotated(value) & bitMask) &* 0x0101_0101
            data = masked(combined(setResetLanes), by: mask)
        }
        let enable = VGA.lanes(planes)
        let offset = planeOffset(address)
        let cell = latchAddress(offset)
        cell.storeBytes(of: (cell.load(as: UInt32.self) & ~enable) | (data & enable), as: UInt32.self)
        // Four bytes of VRAM per plane offset: 1024 plane offsets per page.
        memoryChanges[Int(offset) >> (PhysicalMemory.pageShift - 2)] |= UInt8(truncatingIfNeeded: planes)
    }

    @inline(__always)
    private func rotated(_ value: UInt8) -> UInt8 {
        rotateCount == 0 ? value : value >> rotateCount | value << (8 - rotateCount)
    }

    /// The data rotate register's function: replace, AND, OR or XOR with the latches.
    @inline(__always)
    private func combined(_ data: UInt32) -> UInt32 {
        switch logicalOperation {
        case 1: return data & latches
        case 2: return data | latches
        case 3: return data ^ latches
        default: return data
        }
    }

    /// Bits clear in `mask` come from the latches instead.
    @inline(__always)
    private func masked(_ data: UInt32, by mask: UInt32) -> UInt32 {
        (data & mask) | (latches & ~mask)
    }

    /// Re-derives the memory path's state from the registers.
    func decodeMemoryAccess() {
        memoryDecodeEnabled = miscOutput & 0x02 != 0
        let map = (graphics[6] >> 2) & 3
        switch map {
        case 0: (windowStart, windowSize) = (0, 0x20000)
        case 1: (windowStart, windowSize) = (0, 0x10000)
        case 2: (windowStart, windowSize) = (0x10000, 0x8000)
        default: (windowStart, windowSize) = (0x18000, 0x8000)
        }
        linearBankBase = vbe.isEnabled && vbe.depth != 4 ? UInt32(vbe.bankOffset) : nil
        planarBankBase = vbe.isEnabled ? UInt32(vbe.bankOffset) : 0
        planeOffsetMask = vbe.isEnabled ? UInt32(VGA.videoMemorySize / 4 - 1) : 0xFFFF
        chain4 = sequencer[4] & 0x08 != 0
        oddEvenWrites = sequencer[4] & 0x04 == 0
        oddEvenReads = graphics[5] & 0x10 != 0
        chainOddEven = graphics[6] & 0x02 != 0
        oddEvenUsesA16 = map == 0
        oddEvenPageBit = miscOutput & 0x20 != 0 ? 0 : 1
        writeMode = graphics[5] & 0x03
        readModeCompare = graphics[5] & 0x08 != 0
        rotateCount = UInt32(graphics[3] & 0x07)
        logicalOperation = (graphics[3] >> 3) & 0x03
        setResetLanes = VGA.lanes(UInt32(graphics[0]))
        enableSetResetLanes = VGA.lanes(UInt32(graphics[1]))
        colorCompareLanes = VGA.lanes(UInt32(graphics[2]))
        colorDontCareLanes = VGA.lanes(UInt32(graphics[7]))
        bitMask = graphics[8]
        bitMaskLanes = UInt32(bitMask) &* 0x0101_0101
        mapMask = UInt32(sequencer[2] & 0x0F)
        readMapSelect = UInt32(graphics[4] & 0x03)
    }
}
