import MMU

/// QEMU's standard VGA as a PCI function (1234:1111, class 030000h), the
/// device SeaBIOS's vgabios-stdvga.bin and Linux's bochs-drm look for:
/// - BAR 0: the linear framebuffer, all 16 MiB of VRAM, prefetchable;
/// - BAR 2: 4 KiB of registers: an EDID area at 0 (empty here, which
///   drivers read as "no EDID"), the VGA ports 3C0h–3DFh at 400h, the
///   DISPI registers as 16-bit words at 500h, and QEMU's extension
///   registers at 600h (their size, and the framebuffer byte order);
/// - the expansion ROM BAR (30h): the VGA BIOS image, which SeaBIOS copies
///   to C0000h and runs, as a PCI BIOS does with any option ROM.
///
/// BARs are decoded only while memory decoding is on, and not while they
/// touch the top of the 4 GiB space, where all-ones sizing writes leave
/// them (the same rule as QEMU's PCI host): mapping there would cover the
/// BIOS.
public final class VGAPCIFunction: PCIDevice, MMIOHandler {
    public static let vendorID: UInt16 = 0x1234
    public static let deviceID: UInt16 = 0x1111
    /// Revision 2 announces the extension registers at 600h of BAR 2.
    static let revision: UInt8 = 2
    public static let registerBARSize: UInt32 = 0x1000
    static let romBAROffset = 0x30
    /// The framebuffer byte-order values of QEMU's extension register.
    static let littleEndianFramebuffer: UInt32 = 0x1E1E_1E1E
    static let bigEndianFramebuffer: UInt32 = 0xBEBE_BEBE

    public let vga: VGA
    /// Unowned: the memory map holds this function as BAR 2's handler.
    private unowned let memory: PhysicalMemory
    /// The VGA BIOS as given (for a firmware that loads it from a file,
    /// e.g. fw_cfg "vgaroms/vgabios-stdvga.bin").
    public let vgaBIOSImage: [UInt8]
    /// Size the ROM BAR decodes: the image rounded up to a power of two.
    public let romSize: UInt32
    private let romArenaOffset: Int

    /// Where each BAR is currently mapped, to unmap it when it moves.
    private var framebufferMappedAt: UInt32?
    private var registersMappedAt: UInt32?
    private var romMappedAt: UInt32?

    /// `vgaBIOS` is the option ROM image (vgabios-stdvga.bin), at most 16 MiB.
    public init(vga: VGA, memory: PhysicalMemory, vgaBIOS: [UInt8]) {
        self.vga = vga
        self.memory = memory
        vgaBIOSImage = vgaBIOS
        // PCI expansion ROMs decode at least 2 KiB.
        var size: UInt32 = 0x800
        while Int(size) < vgaBIOS.count && size < 0x100_0000 { size <<= 1 }
        romSize = size
        // The whole decoded size must be arena memory; past the image it reads as erased ROM.
        romArenaOffset = memory.allocateArena(Int(size), fill: 0xFF)
        let image = Array(vgaBIOS.prefix(Int(size)))
        (memory.arena + romArenaOffset).update(from: image, count: image.count)
        super.init(vendor: VGAPCIFunction.vendorID, device: VGAPCIFunction.deviceID, classCode: 0x03_0000,
                   revision: VGAPCIFunction.revision)
        defineBAR(0, size: UInt32(VGA.videoMemorySize), io: false, prefetchable: true)
        defineBAR(2, size: VGAPCIFunction.registerBARSize, io: false)
        // ROM BAR: address bits above the ROM size, and the enable bit 0.
        let romMask = ~(size - 1) & 0xFFFF_F800 | 1
        for i in 0..<4 { writable[VGAPCIFunction.romBAROffset + i] = UInt8(truncatingIfNeeded: romMask >> (8 * i)) }
    }

    // MARK: Decoding

    public override func configWrite(_ offset: Int, size: Int, value: UInt32) {
        super.configWrite(offset, size: size, value: value)
        updateROMMapping()
    }

    public override func barMoved(_ index: Int) {
        switch index {
        case 0:
            remap(&framebufferMappedAt, to: decodedAddress(barAddress(0), size: UInt32(VGA.videoMemorySize)),
                  size: UInt32(VGA.videoMemorySize)) { at in
                memory.mapDeviceMemory(at: at, size: UInt32(VGA.videoMemorySize), arenaOffset: vga.videoMemoryArenaOffset)
            }
        case 2:
            remap(&registersMappedAt, to: decodedAddress(barAddress(2), size: VGAPCIFunction.registerBARSize),
                  size: VGAPCIFunction.registerBARSize) { at in
                memory.mapMMIO(at: at, size: VGAPCIFunction.registerBARSize, handler: self)
            }
        default:
            break
        }
    }

    private func updateROMMapping() {
        let register = get32(VGAPCIFunction.romBAROffset)
        let address = register & 1 != 0 ? decodedAddress(register & 0xFFFF_F800, size: romSize) : nil
        remap(&romMappedAt, to: address, size: romSize) { at in
            memory.mapROM(at: at, size: romSize, romOffset: romArenaOffset)
        }
    }

    /// `address` if a BAR there of `size` bytes is decoded now.
    private func decodedAddress(_ address: UInt32, size: UInt32) -> UInt32? {
        guard memoryEnabled, address != 0, UInt64(address) + UInt64(size) < 0x1_0000_0000 else { return nil }
        return address
    }

    private func remap(_ current: inout UInt32?, to new: UInt32?, size: UInt32, map: (UInt32) -> Void) {
        guard current != new else { return }
        if let old = current { memory.unmap(at: old, size: size) }
        if let new { map(new) }
        current = new
    }

    // MARK: BAR 2 registers

    static let vgaPortsOffset: UInt32 = 0x400
    static let dispiOffset: UInt32 = 0x500
    static let extensionOffset: UInt32 = 0x600
    /// Bytes of extension registers: the size itself and the byte order.
    static let extensionSize: UInt32 = 8

    public func mmioRead(offset: UInt32, size: Int) -> UInt32 {
        var value: UInt32 = 0
        for i in 0..<size { value |= UInt32(readRegisterByte(offset &+ UInt32(i))) << (8 * i) }
        return value
    }

    public func mmioWrite(offset: UInt32, size: Int, value: UInt32) {
        if offset == VGAPCIFunction.extensionOffset + 4 && size == 4 {
            if value == VGAPCIFunction.littleEndianFramebuffer { vga.framebufferIsBigEndian = false }
            if value == VGAPCIFunction.bigEndianFramebuffer { vga.framebufferIsBigEndian = true }
            return
        }
        var i = 0
        while i < size {
            let at = offset &+ UInt32(i)
            let byte = UInt8(truncatingIfNeeded: value >> (8 * i))
            if let index = dispiIndex(at) {
                if at & 1 == 0 && i + 1 < size {
                    vga.writeVBE(index, UInt16(truncatingIfNeeded: value >> (8 * i)))
                    i += 2
                    continue
                }
                // A byte write replaces its half of the 16-bit register.
                let shift = UInt16(8 * (at & 1))
                let kept = vga.vbe.storedValue(index) & ~(0xFF << shift)
                vga.writeVBE(index, kept | UInt16(byte) << shift)
            } else if let port = vgaPort(at) {
                vga.writeRegister(port, byte)
            }
            i += 1
        }
    }

    private func readRegisterByte(_ at: UInt32) -> UInt8 {
        if let index = dispiIndex(at) {
            return UInt8(truncatingIfNeeded: vga.vbe.read(index) >> (8 * (at & 1)))
        }
        if let port = vgaPort(at) { return vga.readRegister(port) }
        if at >= VGAPCIFunction.extensionOffset && at < VGAPCIFunction.extensionOffset + VGAPCIFunction.extensionSize {
            let register = at < VGAPCIFunction.extensionOffset + 4 ? VGAPCIFunction.extensionSize
                : vga.framebufferIsBigEndian ? VGAPCIFunction.bigEndianFramebuffer : VGAPCIFunction.littleEndianFramebuffer
            return UInt8(truncatingIfNeeded: register >> (8 * (at & 3)))
        }
        return 0  // the empty EDID area and reserved space
    }

    /// The DISPI register at BAR 2 offset `at`, if any.
    private func dispiIndex(_ at: UInt32) -> UInt16? {
        guard at >= VGAPCIFunction.dispiOffset && at < VGAPCIFunction.dispiOffset + 0x20 else { return nil }
        return UInt16((at - VGAPCIFunction.dispiOffset) >> 1)
    }

    /// The VGA port at BAR 2 offset `at`, if any.
    private func vgaPort(_ at: UInt32) -> UInt16? {
        guard at >= VGAPCIFunction.vgaPortsOffset && at < VGAPCIFunction.vgaPortsOffset + 0x20 else { return nil }
        return 0x3C0 + UInt16(at - VGAPCIFunction.vgaPortsOffset)
    }
}
