/// The option ROM that boots a Linux kernel handed over through fw_cfg
/// (`-kernel`), so SeaBIOS stays the firmware and the kernel's real-mode
/// setup finds a normal BIOS underneath — the arrangement QEMU uses, with
/// a ROM of our own.
///
/// SeaBIOS copies every fw_cfg file named `genroms/…` into the option-ROM
/// area and, for a ROM with a PnP expansion header, calls its init vector
/// during POST and adds its Bootstrap Entry Vector (BEV) to the boot menu
/// (BIOS Boot Specification 1.01, appendix A). When that entry is chosen,
/// the BEV code below:
///
///   1. reads where the host placed everything from the QEMU keys
///      (SETUP_ADDR, CMDLINE_ADDR …) through the traditional data port;
///   2. moves its stack into the kernel's real-mode segment, just below the
///      command line, which the host put exactly at the heap end;
///   3. has the fw_cfg DMA engine copy setup, kernel, initrd and command
///      line to their addresses (DMA reaches above 1 MiB from real mode);
///   4. jumps to the setup entry, segment + 20h : 0, with DS = ES = FS = GS
///      = SS = the setup segment, SP = the heap end and interrupts off, as
///      the boot protocol's "Running the Kernel" asks.
///
/// A failed transfer gives control back to the BIOS with INT 18h (BBS: a
/// BEV that cannot boot does so), which moves on to the next boot device.
/// The host does all the thinking (LinuxBoot): the ROM only copies.
enum LinuxLoaderROM {
    /// The fw_cfg file SeaBIOS finds the ROM in; its boot-order path is
    /// "/rom@" + this name.
    static let fileName = "genroms/novabox-linuxboot.bin"
    static let manufacturer = "Novabox"
    /// What SeaBIOS shows in its boot menu.
    static let productName = "Linux kernel (-kernel)"

    /// Byte offsets of the structures inside the ROM.
    static let initVector = 0x03
    static let pnpHeader = 0x20
    static let pnpHeaderLength = 0x20
    static let blockSize = 512

    // fw_cfg ports and the DMA control bits (docs/specs/fw_cfg.rst).
    static let selectorPort: UInt16 = 0x510
    static let dmaAddressHighPort: UInt16 = 0x514
    static let dmaAddressLowPort: UInt16 = 0x518
    static let dmaError: UInt32 = 0x01
    static let dmaRead: UInt32 = 0x02
    static let dmaSelect: UInt32 = 0x08

    /// The complete ROM image: header, PnP header, strings, code, padded to
    /// whole 512-byte blocks and checksummed to zero.
    static func image() -> [UInt8] {
        var rom = [UInt8](repeating: 0, count: pnpHeader + pnpHeaderLength)
        rom[0] = 0x55; rom[1] = 0xAA                  // option ROM signature
        rom[initVector] = 0xCB                        // init: RETF — nothing to set up at POST
        store16(&rom, 0x18, 0)                        // no PCI data structure
        store16(&rom, 0x1A, UInt16(pnpHeader))        // offset of the PnP expansion header

        let manufacturerOffset = rom.count
        rom += Array(manufacturer.utf8) + [0]
        let productOffset = rom.count
        rom += Array(productName.utf8) + [0]
        let bootOffset = rom.count
        rom += bootstrapCode()

        // PnP expansion header (PnP BIOS spec 1.0A §3.2, BBS appendix A).
        var pnp = [UInt8](repeating: 0, count: pnpHeaderLength)
        pnp[0..<4] = [0x24, 0x50, 0x6E, 0x50]         // "$PnP"
        pnp[4] = 0x01                                 // structure revision
        pnp[5] = UInt8(pnpHeaderLength / 16)          // length in 16-byte units
        store16(&pnp, 0x0E, UInt16(manufacturerOffset))
        store16(&pnp, 0x10, UInt16(productOffset))
        pnp[0x12] = 0x01; pnp[0x13] = 0x80            // device type: mass storage, other
        pnp[0x15] = 0x54                              // indicators: may be shadowed, needed only to boot, IPL device
        store16(&pnp, 0x1A, UInt16(bootOffset))       // Bootstrap Entry Vector
        pnp[0x09] = checksumByte(pnp)
        rom.replaceSubrange(pnpHeader..<pnpHeader + pnpHeaderLength, with: pnp)

        let blocks = (rom.count + 1 + blockSize - 1) / blockSize   // + 1: room for the checksum byte
        rom += [UInt8](repeating: 0, count: blocks * blockSize - rom.count)
        rom[2] = UInt8(blocks)
        rom[rom.count - 1] = checksumByte(rom)
        return rom
    }

    /// The byte that makes `bytes` (which holds 0 at its place) sum to zero.
    static func checksumByte(_ bytes: [UInt8]) -> UInt8 {
        0 &- bytes.reduce(0, &+)
    }

    private static func store16(_ a: inout [UInt8], _ at: Int, _ v: UInt16) {
        a[at] = UInt8(v & 0xFF); a[at + 1] = UInt8(v >> 8)
    }

    /// The BEV code. In assembly:
    ///
    ///     boot:   cli
    ///             cld
    ///             mov   ax, SETUP_ADDR
    ///             call  read32
    ///             mov   esi, eax            ; setup address
    ///             mov   ax, CMDLINE_ADDR
    ///             call  read32
    ///             sub   eax, esi            ; command line offset = heap end
    ///             shr   esi, 4
    ///             mov   ss, si              ; stack: setup segment : heap end
    ///             mov   sp, ax
    ///             sub   sp, 16              ; one DMA descriptor at SS:BP
    ///             mov   bp, sp
    ///             (for setup, kernel, initrd, command line:)
    ///             mov   ax, ADDR_KEY
    ///             mov   bx, SIZE_KEY
    ///             mov   di, DATA_KEY
    ///             call  load
    ///             add   sp, 16              ; SP = heap end
    ///             mov   ax, ss
    ///             mov   ds, ax
    ///             mov   es, ax
    ///             mov   fs, ax
    ///             mov   gs, ax
    ///             add   ax, 0x20
    ///             push  ax
    ///             push  0
    ///             retf                      ; → setup segment + 20h : 0
    ///
    ///     ; AX = address key, BX = size key, DI = data key: DMA the data item
    ///     load:   call  read32
    ///             bswap eax
    ///             mov   [bp+12], eax        ; descriptor address, low half (big-endian)
    ///             mov   dword [bp+8], 0     ; descriptor address, high half
    ///             mov   ax, bx
    ///             call  read32
    ///             test  eax, eax
    ///             jz    .done               ; nothing to load (no initrd)
    ///             bswap eax
    ///             mov   [bp+4], eax         ; descriptor length
    ///             movzx eax, di
    ///             shl   eax, 16
    ///             mov   al, SELECT | READ
    ///             bswap eax
    ///             mov   [bp+0], eax         ; descriptor control
    ///             xor   eax, eax
    ///             mov   ax, ss
    ///             shl   eax, 4
    ///             movzx edx, bp
    ///             add   eax, edx            ; descriptor's physical address
    ///             bswap eax
    ///             mov   ecx, eax
    ///             xor   eax, eax
    ///             mov   dx, 0x514
    ///             out   dx, eax             ; DMA address, high half
    ///             mov   eax, ecx
    ///             mov   dx, 0x518
    ///             out   dx, eax             ; DMA address, low half: go
    ///     .wait:  mov   eax, [bp+0]
    ///             bswap eax
    ///             test  eax, ~ERROR
    ///             jnz   .wait               ; transfer still running
    ///             test  al, ERROR
    ///             jnz   .fail
    ///     .done:  ret
    ///     .fail:  int   0x18                ; boot failed: back to the BIOS
    ///
    ///     ; AX = key: EAX = the item's first four bytes (little-endian)
    ///     read32: mov   dx, 0x510
    ///             out   dx, ax              ; select the item
    ///             inc   dx                  ; the data port, 0x511
    ///             mov   cx, 4
    ///     .byte:  in    al, dx
    ///             ror   eax, 8              ; each byte ends up above the earlier ones
    ///             loop  .byte
    ///             ret
    static func bootstrapCode() -> [UInt8] {
        typealias Key = LinuxBoot.Key
        var a = RealModeAssembler()
        let load = a.newLabel(), read32 = a.newLabel()

        a.cli()
        a.cld()
        a.mov(.ax, Key.setupAddress)
        a.call(read32)
        a.mov(.esi, .eax)
        a.mov(.ax, Key.commandLineAddress)
        a.call(read32)
        a.sub(.eax, .esi)
        a.shr(.esi, 4)
        a.mov(.ss, .si)
        a.mov(.sp, .ax)
        a.sub(.sp, 16)
        a.mov(.bp, .sp)
        for (address, size, data) in [(Key.setupAddress, Key.setupSize, Key.setupData),
                                      (Key.kernelAddress, Key.kernelSize, Key.kernelData),
                                      (Key.initrdAddress, Key.initrdSize, Key.initrdData),
                                      (Key.commandLineAddress, Key.commandLineSize, Key.commandLineData)] {
            a.mov(.ax, address)
            a.mov(.bx, size)
            a.mov(.di, data)
            a.call(load)
        }
        a.add(.sp, 16)
        a.mov(.ax, .ss)
        a.mov(.ds, .ax)
        a.mov(.es, .ax)
        a.mov(.fs, .ax)
        a.mov(.gs, .ax)
        a.add(.ax, 0x20)
        a.push(.ax)
        a.push(0)
        a.retf()

        let done = a.newLabel(), wait = a.newLabel(), fail = a.newLabel()
        a.bind(load)
        a.call(read32)
        a.bswap(.eax)
        a.mov(bp: 12, .eax)
        a.mov(bp: 8, 0)
        a.mov(.ax, .bx)
        a.call(read32)
        a.test(.eax, .eax)
        a.jz(done)
        a.bswap(.eax)
        a.mov(bp: 4, .eax)
        a.movzx(.eax, .di)
        a.shl(.eax, 16)
        a.movAL(UInt8(dmaSelect | dmaRead))
        a.bswap(.eax)
        a.mov(bp: 0, .eax)
        a.xor(.eax, .eax)
        a.mov(.ax, .ss)
        a.shl(.eax, 4)
        a.movzx(.edx, .bp)
        a.add(.eax, .edx)
        a.bswap(.eax)
        a.mov(.ecx, .eax)
        a.xor(.eax, .eax)
        a.mov(.dx, dmaAddressHighPort)
        a.outDXEAX()
        a.mov(.eax, .ecx)
        a.mov(.dx, dmaAddressLowPort)
        a.outDXEAX()
        a.bind(wait)
        a.mov(.eax, bp: 0)
        a.bswap(.eax)
        a.testEAX(~dmaError)
        a.jnz(wait)
        a.testAL(UInt8(dmaError))
        a.jnz(fail)
        a.bind(done)
        a.ret()
        a.bind(fail)
        a.int(0x18)

        let next = a.newLabel()
        a.bind(read32)
        a.mov(.dx, selectorPort)
        a.outDXAX()
        a.inc(.dx)
        a.mov(.cx, 4)
        a.bind(next)
        a.inALDX()
        a.ror(.eax, 8)
        a.loop(next)
        a.ret()
        return a.finish()
    }
}
