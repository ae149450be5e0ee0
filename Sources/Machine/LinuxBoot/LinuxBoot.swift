import Devices
import Glibc

/// Direct Linux boot (`-kernel`, `-initrd`, `-append`): the host reads the
/// bzImage, decides where every piece goes, fills in the setup header as a
/// boot loader must (boot.rst, "Details of Header Fields"), and hands the
/// pieces to the guest through fw_cfg under QEMU's keys. SeaBIOS then runs
/// our option ROM (`LinuxLoaderROM`), which copies them into place and
/// enters the kernel's real-mode setup like any boot loader would.
///
/// Memory layout (boot.rst's recommendation for protocol 2.02+, with the
/// real-mode block at X = 10000h so it stays clear of the EBDA):
///
///   10000 – 17FFF   boot sector + setup code (at most 32 KiB)
///   18000 – 1DFFF   setup heap and stack; the stack starts at the heap end
///   1E000 – 1FFFF   command line (up to 8 KiB)
///   100000 –        protected-mode kernel
///   top of RAM      initrd, page-aligned, as high as the kernel allows,
///                   below the 256 KiB SeaBIOS keeps for its tables
struct LinuxBoot {
    /// fw_cfg selector keys for a Linux boot (QEMU docs/specs/fw_cfg.rst).
    enum Key {
        static let kernelAddress: UInt16 = 0x07
        static let kernelSize: UInt16 = 0x08
        static let initrdAddress: UInt16 = 0x0A
        static let initrdSize: UInt16 = 0x0B
        static let kernelData: UInt16 = 0x11
        static let initrdData: UInt16 = 0x12
        static let commandLineAddress: UInt16 = 0x13
        static let commandLineSize: UInt16 = 0x14
        static let commandLineData: UInt16 = 0x15
        static let setupAddress: UInt16 = 0x16
        static let setupSize: UInt16 = 0x17
        static let setupData: UInt16 = 0x18
    }

    static let setupAddress: UInt32 = 0x1_0000
    /// The end of the setup heap, from the start of the real-mode block;
    /// the command line starts right there (the ROM relies on it).
    static let heapEnd: UInt16 = 0xE000
    static let commandLineAddress = setupAddress + UInt32(heapEnd)
    /// From the heap end to the next 64 KiB boundary, with the NUL.
    static let commandLineCapacity = 0x2000
    /// SeaBIOS keeps its ACPI/SMBIOS tables in the top 256 KiB of RAM
    /// below 4 GiB (BUILD_MAX_HIGHTABLE); an initrd must stay under them.
    static let firmwareReserve = 256 << 10
    static let pageSize: UInt64 = 4096
    /// type_of_loader for a boot loader without an assigned id (boot.rst).
    static let undefinedLoader: UInt8 = 0xFF

    let kernel: BzImage
    /// The boot sector and setup code with the header filled in.
    let setup: [UInt8]
    let initrd: [UInt8]
    let initrdAddress: UInt32
    /// The command line with its terminating NUL.
    let commandLine: [UInt8]

    /// Reads the files named in the configuration; nil without `-kernel`.
    static func load(_ configuration: MachineConfiguration) throws(MachineError) -> LinuxBoot? {
        guard let kernelPath = configuration.kernelPath else {
            if configuration.initrdPath != nil { throw MachineError("-initrd needs -kernel: an initrd is handed to a kernel booted with -kernel") }
            if !configuration.kernelCommandLine.isEmpty { throw MachineError("-append needs -kernel: the command line is handed to a kernel booted with -kernel") }
            return nil
        }
        let ramSize = configuration.ramSize
        let kernelFile = try HostFile(kernelPath, what: "kernel")
        guard kernelFile.size <= ramSize else {
            throw MachineError("kernel \(kernelPath) is \(mib(kernelFile.size)) MiB, more than the guest's \(ramSize >> 20) MiB of RAM; is it a kernel?")
        }
        let kernel = try BzImage(path: kernelPath, bytes: kernelFile.readAll())
        var initrd: [UInt8] = []
        var initrdAddress: UInt32 = 0
        if let initrdPath = configuration.initrdPath {
            let file = try HostFile(initrdPath, what: "initrd")
            initrdAddress = try placeInitrd(path: initrdPath, size: file.size, kernel: kernel, ramSize: ramSize)
            initrd = try file.readAll()
        }
        return try LinuxBoot(kernel: kernel, initrd: initrd, initrdAddress: initrdAddress,
                             commandLine: configuration.kernelCommandLine, ramSize: ramSize)
    }

    /// Checks the layout and fills in the setup header. `initrdAddress`
    /// comes from `placeInitrd` (ignored when `initrd` is empty).
    init(kernel: BzImage, initrd: [UInt8], initrdAddress: UInt32, commandLine: String, ramSize: Int) throws(MachineError) {
        let usable = UInt64(ramSize - LinuxBoot.firmwareReserve)
        guard kernel.footprintEnd <= usable else {
            let needed = (kernel.footprintEnd + UInt64(LinuxBoot.firmwareReserve) + (1 << 20) - 1) >> 20
            throw MachineError("kernel \(kernel.path) needs \(needed) MiB of RAM to unpack itself (it works up to \(LinuxBoot.mib(kernel.footprintEnd)) MiB); give more memory with -m \(needed)M or more")
        }
        let text = Array(commandLine.utf8)
        let limit = min(kernel.commandLineMax, LinuxBoot.commandLineCapacity - 1)
        guard text.count <= limit else {
            throw MachineError("-append: the command line is \(text.count) bytes; kernel \(kernel.path) takes at most \(limit)")
        }
        let videoMode = try LinuxBoot.videoMode(commandLine)

        var s = kernel.setup
        s[BzImage.Offset.typeOfLoader] = LinuxBoot.undefinedLoader
        s[BzImage.Offset.loadFlags] |= BzImage.canUseHeap
        BzImage.write16(&s, BzImage.Offset.heapEndPointer, LinuxBoot.heapEnd - 0x200)   // boot.rst: minus 200h
        BzImage.write32(&s, BzImage.Offset.commandLinePointer, LinuxBoot.commandLineAddress)
        BzImage.write32(&s, BzImage.Offset.ramdiskImage, initrd.isEmpty ? 0 : initrdAddress)
        BzImage.write32(&s, BzImage.Offset.ramdiskSize, UInt32(initrd.count))
        BzImage.write16(&s, BzImage.Offset.videoMode, videoMode)

        self.kernel = kernel
        self.setup = s
        self.initrd = initrd
        self.initrdAddress = initrd.isEmpty ? 0 : initrdAddress
        self.commandLine = text + [0]
    }

    /// The initrd's load address: page-aligned, as high as possible below
    /// both the kernel's initrd_addr_max and the firmware's tables, and
    /// above everything the kernel uses while it unpacks itself.
    static func placeInitrd(path: String, size: Int, kernel: BzImage, ramSize: Int) throws(MachineError) -> UInt32 {
        let ramTop = UInt64(ramSize - firmwareReserve)
        let kernelTop = UInt64(kernel.initrdAddressMax) + 1
        let top = min(ramTop, kernelTop)
        let lowest = (kernel.footprintEnd + pageSize - 1) & ~(pageSize - 1)
        guard UInt64(size) <= top, (top - UInt64(size)) & ~(pageSize - 1) >= lowest else {
            let fix = kernelTop < ramTop ? "use a smaller initrd" : "give more memory with -m"
            throw MachineError("initrd \(path) (\(mib(UInt64(size))) MiB) does not fit below the kernel's limit with -m \(ramSize >> 20)M (room from \(mib(lowest)) to \(mib(top)) MiB); \(fix)")
        }
        return UInt32((top - UInt64(size)) & ~(pageSize - 1))
    }

    /// vid_mode from the last `vga=` on the command line (boot.rst,
    /// "Special Command Line Options"): a number in C notation, or normal,
    /// ext, ask; "normal" (FFFFh) when there is none.
    static func videoMode(_ commandLine: String) throws(MachineError) -> UInt16 {
        guard let word = commandLine.split(separator: " ").last(where: { $0.hasPrefix("vga=") }) else { return 0xFFFF }
        let value = word.dropFirst(4)
        switch value {
        case "normal": return 0xFFFF
        case "ext": return 0xFFFE
        case "ask": return 0xFFFD
        default:
            let parsed: UInt16?
            if value.hasPrefix("0x") || value.hasPrefix("0X") {
                parsed = UInt16(value.dropFirst(2), radix: 16)
            } else if value.hasPrefix("0") && value.count > 1 {
                parsed = UInt16(value.dropFirst(), radix: 8)
            } else {
                parsed = UInt16(value)
            }
            guard let parsed else {
                throw MachineError("-append: \(word) is not a video mode; write a number (vga=0x317), normal, ext or ask")
            }
            return parsed
        }
    }

    /// Hands everything to the guest: the QEMU Linux-boot items, the loader
    /// ROM, and the ROM first in the boot order, so SeaBIOS boots the
    /// kernel ahead of any disk.
    func install(into fwcfg: FirmwareConfig) {
        func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
        fwcfg.addItem(Key.setupAddress, le32(LinuxBoot.setupAddress))
        fwcfg.addItem(Key.setupSize, le32(UInt32(setup.count)))
        fwcfg.addItem(Key.setupData, setup)
        fwcfg.addItem(Key.kernelAddress, le32(BzImage.kernelLoadAddress))
        fwcfg.addItem(Key.kernelSize, le32(UInt32(kernel.protectedMode.count)))
        fwcfg.addItem(Key.kernelData, kernel.protectedMode)
        fwcfg.addItem(Key.initrdAddress, le32(initrdAddress))
        fwcfg.addItem(Key.initrdSize, le32(UInt32(initrd.count)))
        fwcfg.addItem(Key.initrdData, initrd)
        fwcfg.addItem(Key.commandLineAddress, le32(LinuxBoot.commandLineAddress))
        fwcfg.addItem(Key.commandLineSize, le32(UInt32(commandLine.count)))
        fwcfg.addItem(Key.commandLineData, commandLine)

        fwcfg.addFile(LinuxLoaderROM.fileName, LinuxLoaderROM.image())
        let ours = "/rom@" + LinuxLoaderROM.fileName
        let earlier = (fwcfg.file("bootorder") ?? []).split(separator: 0).first
            .map { String(decoding: $0, as: UTF8.self).split(separator: "\n").map(String.init) } ?? []
        fwcfg.addFile("bootorder", FirmwareConfig.bootOrder([ours] + earlier.filter { $0 != ours }))
    }

    /// Whole MiB, or one decimal when it is not whole.
    static func mib<T: BinaryInteger>(_ bytes: T) -> String {
        let b = UInt64(bytes)
        if b % (1 << 20) == 0 { return "\(b >> 20)" }
        let tenths = (b * 10 + (1 << 20) - 1) >> 20
        return "\(tenths / 10).\(tenths % 10)"
    }
}

/// A host file opened for a whole read, its size known first so a file too
/// big for the guest is refused before it is read.
private final class HostFile {
    let path: String
    let what: String
    let size: Int
    private let file: UnsafeMutablePointer<FILE>

    init(_ path: String, what: String) throws(MachineError) {
        guard let f = fopen(path, "rb") else {
            throw MachineError("cannot read \(what) \(path): \(String(cString: strerror(errno)))")
        }
        var info = stat()
        guard fstat(fileno(f), &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            fclose(f)
            throw MachineError("cannot read \(what) \(path): not a regular file")
        }
        self.path = path
        self.what = what
        self.size = Int(info.st_size)
        self.file = f
    }

    deinit { fclose(file) }

    func readAll() throws(MachineError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: size)
        let n = bytes.withUnsafeMutableBytes { fread($0.baseAddress, 1, size, file) }
        guard n == size else { throw MachineError("cannot read \(what) \(path): read error after \(n) of \(size) bytes") }
        return bytes
    }
}
