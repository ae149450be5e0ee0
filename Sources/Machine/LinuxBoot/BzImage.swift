/// A Linux x86 kernel file in the bzImage format, read by its real-mode
/// header as the boot protocol (Documentation/arch/x86/boot.rst) lays it
/// out: the boot sector and setup code first ((setup_sects + 1) × 512
/// bytes), the protected-mode kernel after them, and at 01F1h the setup
/// header with what a boot loader must know.
///
/// Only what the loader uses is kept. Kernels older than boot protocol
/// 2.02 (Linux 2.4.0) and zImages (loaded low, at 10000h) are refused:
/// they need the real-mode code at 90000h and the old command-line
/// protocol, which nothing Novabox boots still uses.
struct BzImage {
    /// Header offsets (boot.rst, "The Real-Mode Kernel Header").
    enum Offset {
        static let setupSectors = 0x1F1
        static let videoMode = 0x1FA
        static let bootFlag = 0x1FE
        static let signature = 0x202
        static let version = 0x206
        static let typeOfLoader = 0x210
        static let loadFlags = 0x211
        static let ramdiskImage = 0x218
        static let ramdiskSize = 0x21C
        static let heapEndPointer = 0x224
        static let commandLinePointer = 0x228
        static let initrdAddressMax = 0x22C
        static let kernelAlignment = 0x230
        static let relocatable = 0x234
        static let commandLineSize = 0x238
        static let preferredAddress = 0x258
        static let initSize = 0x260
    }

    /// loadflags bits.
    static let loadedHigh: UInt8 = 0x01
    static let canUseHeap: UInt8 = 0x80
    /// "HdrS", little-endian.
    static let headerSignature: UInt32 = 0x5372_6448
    /// Where a bzImage's protected-mode part is loaded.
    static let kernelLoadAddress: UInt32 = 0x10_0000

    let path: String
    /// (major << 8) | minor, e.g. 020Fh for 2.15.
    let protocolVersion: UInt16
    /// The boot sector and the setup code, as in the file.
    let setup: [UInt8]
    /// The protected-mode kernel (32-bit code, usually a decompressor).
    let protectedMode: [UInt8]
    /// The highest address an initrd's last byte may occupy.
    let initrdAddressMax: UInt32
    /// The longest command line the kernel takes, without the NUL.
    let commandLineMax: Int
    /// The end of the memory the kernel uses from its load address on
    /// before it has read the memory map: where it decompresses itself
    /// (boot.rst, init_size) or, for kernels that do not say, its own end.
    let footprintEnd: UInt64

    /// A protocol version as boot.rst writes it: 2.02, 2.15.
    static func versionText(_ v: UInt16) -> String {
        let minor = v & 0xFF
        return "\(v >> 8)." + (minor < 10 ? "0\(minor)" : "\(minor)")
    }

    init(path: String, bytes: [UInt8]) throws(MachineError) {
        self.path = path
        guard bytes.count >= 0x400,
              BzImage.read32(bytes, Offset.signature) == BzImage.headerSignature,
              BzImage.read16(bytes, Offset.bootFlag) == 0xAA55 else {
            throw MachineError("kernel \(path) is not a Linux bzImage (no \"HdrS\" boot header at offset 0x202); give -kernel a vmlinuz file")
        }
        protocolVersion = BzImage.read16(bytes, Offset.version)
        guard protocolVersion >= 0x0202 else {
            throw MachineError("kernel \(path) uses boot protocol \(BzImage.versionText(protocolVersion)); novabox needs 2.02 or later (Linux 2.4 and newer)")
        }
        let loadFlags = bytes[Offset.loadFlags]
        guard loadFlags & BzImage.loadedHigh != 0 else {
            throw MachineError("kernel \(path) is a zImage (loaded below 1 MiB); novabox boots bzImage kernels only")
        }
        var sectors = Int(bytes[Offset.setupSectors])
        if sectors == 0 { sectors = 4 }   // boot.rst: 0 means 4
        let setupSize = (sectors + 1) * 512
        // The real-mode code and its heap share one 64 KiB segment; boot.rst
        // gives the code at most 32 KiB.
        guard setupSize <= 0x8000, setupSize < bytes.count else {
            throw MachineError("kernel \(path) is not a valid bzImage: its setup is \(setupSize) bytes (at most 32 KiB, and less than the \(bytes.count)-byte file)")
        }
        setup = Array(bytes[0..<setupSize])
        protectedMode = Array(bytes[setupSize...])

        initrdAddressMax = protocolVersion >= 0x0203 ? BzImage.read32(bytes, Offset.initrdAddressMax) : 0x37FF_FFFF
        commandLineMax = protocolVersion >= 0x0206 ? Int(BzImage.read32(bytes, Offset.commandLineSize)) : 255

        let loadEnd = UInt64(BzImage.kernelLoadAddress) + UInt64(protectedMode.count)
        if protocolVersion >= 0x020A {
            // boot.rst, init_size: the runtime start is the load address
            // aligned up for a relocatable kernel, else pref_address.
            let alignment = UInt64(BzImage.read32(bytes, Offset.kernelAlignment))
            let start: UInt64
            if bytes[Offset.relocatable] != 0 && alignment.nonzeroBitCount == 1 {
                start = (UInt64(BzImage.kernelLoadAddress) + alignment - 1) & ~(alignment - 1)
            } else {
                start = BzImage.read64(bytes, Offset.preferredAddress)
            }
            let (end, overflow) = start.addingReportingOverflow(UInt64(BzImage.read32(bytes, Offset.initSize)))
            footprintEnd = overflow ? .max : max(loadEnd, end)
        } else {
            footprintEnd = loadEnd
        }
    }

    // MARK: Little-endian fields

    static func read16(_ b: [UInt8], _ at: Int) -> UInt16 { UInt16(b[at]) | UInt16(b[at + 1]) << 8 }
    static func read32(_ b: [UInt8], _ at: Int) -> UInt32 { UInt32(read16(b, at)) | UInt32(read16(b, at + 2)) << 16 }
    static func read64(_ b: [UInt8], _ at: Int) -> UInt64 { UInt64(read32(b, at)) | UInt64(read32(b, at + 4)) << 32 }

    static func write16(_ b: inout [UInt8], _ at: Int, _ v: UInt16) {
        b[at] = UInt8(v & 0xFF); b[at + 1] = UInt8(v >> 8)
    }
    static func write32(_ b: inout [UInt8], _ at: Int, _ v: UInt32) {
        write16(&b, at, UInt16(v & 0xFFFF)); write16(&b, at + 2, UInt16(v >> 16))
    }
}
