import CPU
import Devices
import Foundation
import MMU
import XCTest
@testable import Machine

/// The Linux loader option ROM on its own: its headers against the option
/// ROM and PnP BIOS specifications, its machine code against GNU objdump,
/// and what it does when run on the CPU with a real fw_cfg device.
final class LinuxBootROMTests: XCTestCase {
    let rom = LinuxLoaderROM.image()

    func testOptionROMHeaderSizeAndChecksum() {
        XCTAssertEqual(Array(rom[0...1]), [0x55, 0xAA], "option ROM signature")
        XCTAssertGreaterThan(rom[2], 0)
        XCTAssertEqual(Int(rom[2]) * 512, rom.count, "byte 2 is the size in 512-byte blocks")
        XCTAssertEqual(rom.reduce(0, &+), 0, "all bytes of an option ROM sum to zero (mod 256)")
        // SeaBIOS far-calls the init vector of a PnP ROM during POST: it must come back.
        XCTAssertEqual(rom[3], 0xCB, "init vector is RETF")
    }

    func testPnPExpansionHeaderDeclaresABootstrapEntry() {
        let pnp = Int(rom[0x1A]) | Int(rom[0x1B]) << 8
        XCTAssertEqual(String(decoding: rom[pnp..<pnp + 4], as: UTF8.self), "$PnP")
        XCTAssertEqual(rom[pnp + 4], 1, "structure revision")
        let length = Int(rom[pnp + 5]) * 16
        XCTAssertGreaterThanOrEqual(length, 0x20)
        XCTAssertEqual(rom[pnp..<pnp + length].reduce(0, &+), 0, "the PnP header has its own zero checksum")
        XCTAssertNotEqual(rom[pnp + 0x15] & 0x04, 0, "device indicators: IPL device")
        XCTAssertEqual(Array(rom[pnp + 0x16...pnp + 0x17]), [0, 0], "no BCV: the ROM boots, it does not add a disk")
        let bev = Int(rom[pnp + 0x1A]) | Int(rom[pnp + 0x1B]) << 8
        XCTAssertGreaterThan(bev, pnp + length)
        XCTAssertLessThan(bev, rom.count)
        let product = Int(rom[pnp + 0x10]) | Int(rom[pnp + 0x11]) << 8
        XCTAssertEqual(String(decoding: rom[product...].prefix { $0 != 0 }, as: UTF8.self), LinuxLoaderROM.productName)
    }

    /// The BEV code as objdump (16-bit, Intel syntax) reads it: each line is
    /// the instruction the assembly listing in LinuxLoaderROM.swift names.
    func testBootstrapCodeDisassemblesAsWritten() throws {
        let objdump = "/usr/bin/objdump"
        guard FileManager.default.isExecutableFile(atPath: objdump) else { throw XCTSkip("objdump is not installed (binutils)") }
        let pnp = Int(rom[0x1A])
        let bev = Int(rom[pnp + 0x1A]) | Int(rom[pnp + 0x1B]) << 8
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("novabox-linuxboot-rom-\(getpid()).bin")
        try Data(rom).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: objdump)
        p.arguments = ["-D", "-b", "binary", "-m", "i8086", "-M", "intel",
                       "--start-address=\(bev)", "--stop-address=\(bev + LinuxLoaderROM.bootstrapCode().count)", file.path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(Self.listing(text), Self.expected)
    }

    /// objdump's lines as "address: bytes | instruction", with the bytes
    /// of an instruction that wraps onto a second line joined.
    static func listing(_ text: String) -> [String] {
        var lines: [(address: String, bytes: String, text: String)] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count >= 2, fields[0].hasSuffix(":"), fields[0].dropLast().allSatisfy(\.isHexDigit) else { continue }
            if fields.count == 2 {
                if !lines.isEmpty { lines[lines.count - 1].bytes += " " + fields[1] }
            } else {
                lines.append((String(fields[0].dropLast()), fields[1], fields[2].split(separator: " ").joined(separator: " ")))
            }
        }
        return lines.map { "\($0.address): \($0.bytes) | \($0.text)" }
    }

    static let expected = [
            "5f: fa | cli",
            "60: fc | cld",
            "61: b8 16 00 | mov ax,0x16",
            "64: e8 d1 00 | call 0x138",
            "67: 66 8b f0 | mov esi,eax",
            "6a: b8 13 00 | mov ax,0x13",
            "6d: e8 c8 00 | call 0x138",
            "70: 66 2b c6 | sub eax,esi",
            "73: 66 c1 ee 04 | shr esi,0x4",
            "77: 8e d6 | mov ss,si",
            "79: 8b e0 | mov sp,ax",
            "7b: 81 ec 10 00 | sub sp,0x10",
            "7f: 8b ec | mov bp,sp",
            "81: b8 16 00 | mov ax,0x16",
            "84: bb 17 00 | mov bx,0x17",
            "87: bf 18 00 | mov di,0x18",
            "8a: e8 3b 00 | call 0xc8",
            "8d: b8 07 00 | mov ax,0x7",
            "90: bb 08 00 | mov bx,0x8",
            "93: bf 11 00 | mov di,0x11",
            "96: e8 2f 00 | call 0xc8",
            "99: b8 0a 00 | mov ax,0xa",
            "9c: bb 0b 00 | mov bx,0xb",
            "9f: bf 12 00 | mov di,0x12",
            "a2: e8 23 00 | call 0xc8",
            "a5: b8 13 00 | mov ax,0x13",
            "a8: bb 14 00 | mov bx,0x14",
            "ab: bf 15 00 | mov di,0x15",
            "ae: e8 17 00 | call 0xc8",
            "b1: 81 c4 10 00 | add sp,0x10",
            "b5: 8c d0 | mov ax,ss",
            "b7: 8e d8 | mov ds,ax",
            "b9: 8e c0 | mov es,ax",
            "bb: 8e e0 | mov fs,ax",
            "bd: 8e e8 | mov gs,ax",
            "bf: 81 c0 20 00 | add ax,0x20",
            "c3: 50 | push ax",
            "c4: 68 00 00 | push 0x0",
            "c7: cb | retf",
            "c8: e8 6d 00 | call 0x138",
            "cb: 66 0f c8 | bswap eax",
            "ce: 66 89 46 0c | mov DWORD PTR [bp+0xc],eax",
            "d2: 66 c7 46 08 00 00 00 00 | mov DWORD PTR [bp+0x8],0x0",
            "da: 8b c3 | mov ax,bx",
            "dc: e8 59 00 | call 0x138",
            "df: 66 85 c0 | test eax,eax",
            "e2: 74 51 | je 0x135",
            "e4: 66 0f c8 | bswap eax",
            "e7: 66 89 46 04 | mov DWORD PTR [bp+0x4],eax",
            "eb: 66 0f b7 c7 | movzx eax,di",
            "ef: 66 c1 e0 10 | shl eax,0x10",
            "f3: b0 0a | mov al,0xa",
            "f5: 66 0f c8 | bswap eax",
            "f8: 66 89 46 00 | mov DWORD PTR [bp+0x0],eax",
            "fc: 66 33 c0 | xor eax,eax",
            "ff: 8c d0 | mov ax,ss",
            "101: 66 c1 e0 04 | shl eax,0x4",
            "105: 66 0f b7 d5 | movzx edx,bp",
            "109: 66 03 c2 | add eax,edx",
            "10c: 66 0f c8 | bswap eax",
            "10f: 66 8b c8 | mov ecx,eax",
            "112: 66 33 c0 | xor eax,eax",
            "115: ba 14 05 | mov dx,0x514",
            "118: 66 ef | out dx,eax",
            "11a: 66 8b c1 | mov eax,ecx",
            "11d: ba 18 05 | mov dx,0x518",
            "120: 66 ef | out dx,eax",
            "122: 66 8b 46 00 | mov eax,DWORD PTR [bp+0x0]",
            "126: 66 0f c8 | bswap eax",
            "129: 66 a9 fe ff ff ff | test eax,0xfffffffe",
            "12f: 75 f1 | jne 0x122",
            "131: a8 01 | test al,0x1",
            "133: 75 01 | jne 0x136",
            "135: c3 | ret",
            "136: cd 18 | int 0x18",
            "138: ba 10 05 | mov dx,0x510",
            "13b: ef | out dx,ax",
            "13c: 42 | inc dx",
            "13d: b9 04 00 | mov cx,0x4",
            "140: ec | in al,dx",
            "141: 66 c1 c8 08 | ror eax,0x8",
            "145: e2 f9 | loop 0x140",
            "147: c3 | ret"
    ]

    // MARK: - Running the ROM

    /// A CPU in real mode at the ROM's BEV, with a fw_cfg device holding a
    /// Linux boot, on 64 MiB of flat RAM (no chipset: the ROM needs none).
    final class Bench {
        let memory = try! PhysicalMemory(ramSize: 64 << 20)
        let bus = IOBus()
        let storage = CPUStateStorage()
        let fwcfg: FirmwareConfig
        let cpu: CPU
        var exceptions: [UInt8] = []
        static let romSegment: UInt16 = 0xC800

        init(_ boot: LinuxBoot) {
            fwcfg = FirmwareConfig(memory: memory, ramSize: 64 << 20)
            fwcfg.register(on: bus)
            boot.install(into: fwcfg)
            cpu = CPU(state: storage.pointer, memory: memory, io: MachinePorts(bus: bus))
            cpu.onException = { [unowned self] fault, _ in self.exceptions.append(fault.vector) }
            let rom = LinuxLoaderROM.image()
            memory.copyIn(UInt32(Bench.romSegment) << 4, rom)
            let pnp = Int(rom[0x1A])
            let bev = UInt16(rom[pnp + 0x1A]) | UInt16(rom[pnp + 0x1B]) << 8
            // As SeaBIOS calls a BEV: CS = the ROM, a stack of its own, interrupts on.
            cpu.segment(.cs).pointee = SegmentDescriptorCache(selector: Bench.romSegment, base: UInt64(Bench.romSegment) << 4, limit: 0xFFFF, attributes: 0x9B)
            for s in [SegmentRegister.ds, .es, .fs, .gs, .ss] {
                cpu.segment(s).pointee = SegmentDescriptorCache(selector: 0, base: 0, limit: 0xFFFF, attributes: 0x93)
            }
            cpu.setReg16(4, 0x7000)
            storage.pointer.pointee.eflags |= EFLAGS.if
            storage.pointer.pointee.rip = UInt64(bev)
        }

        /// Steps until CS:IP = `segment`:0 or `limit` instructions pass.
        func run(toSegment segment: UInt16, limit: Int = 100_000) {
            var n = 0
            while !(cpu.segment(.cs).pointee.selector == segment && cpu.eip == 0) && n < limit { cpu.step(); n += 1 }
        }
    }

    func testBootstrapLoadsEveryPieceAndEntersTheSetup() throws {
        let image = try BzImage(path: "test", bytes: LinuxBootFixtures.bzImage(sectors: 12, kernelSize: 0x2_3456))
        let initrd = (0..<0x1_2345).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) }
        let address = try LinuxBoot.placeInitrd(path: "initrd", size: initrd.count, kernel: image, ramSize: 64 << 20)
        let boot = try LinuxBoot(kernel: image, initrd: initrd, initrdAddress: address,
                                 commandLine: "console=ttyS0 quiet", ramSize: 64 << 20)
        let bench = Bench(boot)
        bench.run(toSegment: 0x1020)

        let cpu = bench.cpu
        XCTAssertEqual(bench.exceptions, [])
        // boot.rst, "Running the Kernel": jump to segment + 20h : 0 with
        // DS = ES = SS (and FS = GS, as recommended) = the setup segment,
        // SP at the heap end, interrupts disabled.
        XCTAssertEqual(cpu.segment(.cs).pointee.selector, 0x1020)
        XCTAssertEqual(cpu.eip, 0)
        for s in [SegmentRegister.ds, .es, .fs, .gs, .ss] {
            XCTAssertEqual(cpu.segment(s).pointee.selector, 0x1000, "\(s.name)")
        }
        XCTAssertEqual(cpu.reg16(4), 0xE000, "SP = heap end")
        XCTAssertEqual(bench.storage.pointer.pointee.eflags & EFLAGS.if, 0, "interrupts off")

        let m = bench.memory
        XCTAssertEqual(m.copyOut(0x1_0000, count: boot.setup.count), boot.setup, "setup at 10000h")
        XCTAssertEqual(m.copyOut(0x10_0000, count: image.protectedMode.count), image.protectedMode, "kernel at 1 MiB")
        XCTAssertEqual(m.copyOut(address, count: initrd.count), initrd, "initrd at its address")
        XCTAssertEqual(m.copyOut(0x1_E000, count: 20), Array("console=ttyS0 quiet".utf8) + [0], "command line at cmd_line_ptr")
        // The setup header the kernel will read says the same.
        XCTAssertEqual(m.read(0x1_0000 + 0x228, size: 4), 0x1_E000, "cmd_line_ptr")
        XCTAssertEqual(m.read(0x1_0000 + 0x218, size: 4), address, "ramdisk_image")
        XCTAssertEqual(m.read(0x1_0000 + 0x21C, size: 4), UInt32(initrd.count), "ramdisk_size")
        XCTAssertEqual(m.read(0x1_0000 + 0x224, size: 2), 0xE000 - 0x200, "heap_end_ptr")
    }

    func testWithoutAnInitrdOrCommandLine() throws {
        let image = try BzImage(path: "test", bytes: LinuxBootFixtures.bzImage())
        let boot = try LinuxBoot(kernel: image, initrd: [], initrdAddress: 0, commandLine: "", ramSize: 64 << 20)
        let bench = Bench(boot)
        bench.memory.copyIn(0x1_E000, [0xAB])
        bench.run(toSegment: 0x1020)
        XCTAssertEqual(bench.exceptions, [])
        XCTAssertEqual(bench.cpu.segment(.cs).pointee.selector, 0x1020)
        XCTAssertEqual(bench.memory.read(0x1_E000, size: 1), 0, "an empty command line is one NUL")
        XCTAssertEqual(bench.memory.read(0x1_0000 + 0x21C, size: 4), 0, "ramdisk_size")
    }
}
