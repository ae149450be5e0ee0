import Foundation
import XCTest
import CPU
@testable import Debugger
import Machine

/// A small real-mode firmware written for these tests (64 KiB, so it sits
/// at F0000 and at the top of 4 GiB), driven through Debian's gdb: read
/// and access watchpoints (Z3/Z4), `monitor next` over CALL, INT and REP
/// STOSB, conditional breakpoints, and the x87 view. The references are
/// gdb's own reports, the program's listing (nasm, below) and the SDM's
/// semantics of the instructions; none comes from the debugger itself.
final class BringUpProgramTests: XCTestCase {
    /// nasm listing, `org 0`, code at F000:E000; reset vector `jmp F000:E000`.
    ///
    ///     E000 FA             start: cli
    ///     E001 31C0           xor ax, ax
    ///     E003 8ED8           mov ds, ax
    ///     E005 8EC0           mov es, ax
    ///     E007 8ED0           mov ss, ax
    ///     E009 BC0070         mov sp, 0x7000
    ///     E00C C7060002B8E0   mov word [0x80*4], handler
    ///     E012 C706020200F0   mov word [0x80*4+2], 0xF000
    ///     E018 C70600053412   mov word [0x500], 0x1234
    ///     E01E A10005         w_done: mov ax, [0x500]
    ///     E021 8B1E0006       r_done: mov bx, [0x600]
    ///     E025 E88800         call_site: call sub1
    ///     E028 CD80           after_call: int 0x80
    ///     E02A BF0010         after_int: mov di, 0x1000
    ///     E02D B90030         mov cx, 0x3000
    ///     E030 B05A           mov al, 0x5A
    ///     E032 F3AA           rep_site: rep stosb
    ///     E034 B90500         after_rep: mov cx, 5
    ///     E037 42             loop_top: inc dx
    ///     E038 E2FD           loop loop_top
    ///     E03A DBE3           fninit
    ///     E03C D9E8           fld1
    ///     E03E D9EB           fldpi
    ///     E040 66B977020000   mov ecx, 0x277
    ///     E046 0F32           rdmsr
    ///     E048 B011           mov al, 0x11
    ///     E04A E620           out 0x20, al
    ///     E04C E6A0           out 0xA0, al
    ///     E04E B020           mov al, 0x20
    ///     E050 E621           out 0x21, al
    ///     E052 B028           mov al, 0x28
    ///     E054 E6A1           out 0xA1, al
    ///     E056 B004           mov al, 4
    ///     E058 E621           out 0x21, al
    ///     E05A B002           mov al, 2
    ///     E05C E6A1           out 0xA1, al
    ///     E05E B001           mov al, 1
    ///     E060 E621           out 0x21, al
    ///     E062 E6A1           out 0xA1, al
    ///     E064 B0FA           mov al, 0xFA
    ///     E066 E621           out 0x21, al
    ///     E068 B0BF           mov al, 0xBF
    ///     E06A E6A1           out 0xA1, al
    ///     E06C B036           mov al, 0x36
    ///     E06E E643           out 0x43, al
    ///     E070 B034           mov al, 0x34
    ///     E072 E640           out 0x40, al
    ///     E074 B012           mov al, 0x12
    ///     E076 E640           out 0x40, al
    ///     E078 BAFB03         mov dx, 0x3FB
    ///     E07B B080           mov al, 0x80
    ///     E07D EE             out dx, al
    ///     E07E BAF803         mov dx, 0x3F8
    ///     E081 B00C           mov al, 12
    ///     E083 EE             out dx, al
    ///     E084 BAFB03         mov dx, 0x3FB
    ///     E087 B003           mov al, 0x03
    ///     E089 EE             out dx, al
    ///     E08A BAFA03         mov dx, 0x3FA
    ///     E08D B007           mov al, 0x07
    ///     E08F EE             out dx, al
    ///     E090 B00B           mov al, 0x0B
    ///     E092 E670           out 0x70, al
    ///     E094 B006           mov al, 0x06
    ///     E096 E671           out 0x71, al
    ///     E098 BAC203         mov dx, 0x3C2
    ///     E09B B067           mov al, 0x67
    ///     E09D EE             out dx, al
    ///     E09E BAD403         mov dx, 0x3D4
    ///     E0A1 B80C34         mov ax, 0x340C
    ///     E0A4 EF             out dx, ax
    ///     E0A5 0F20E0         mov eax, cr4
    ///     E0A8 0C20           or al, 0x20
    ///     E0AA 0F22E0         mov cr4, eax
    ///     E0AD F4             done: hlt
    ///     E0AE EBFD           jmp done
    ///     E0B0 BE0700         sub1: mov si, 7
    ///     E0B3 FF060205       inc word [0x502]
    ///     E0B7 C3             ret
    ///     E0B8 BD8000         handler: mov bp, 0x80
    ///     E0BB CF             iret
    static let code: [UInt8] = [
        0xFA, 0x31, 0xC0, 0x8E, 0xD8, 0x8E, 0xC0, 0x8E, 0xD0, 0xBC, 0x00, 0x70, 0xC7, 0x06, 0x00, 0x02,
        0xB8, 0xE0, 0xC7, 0x06, 0x02, 0x02, 0x00, 0xF0, 0xC7, 0x06, 0x00, 0x05, 0x34, 0x12, 0xA1, 0x00,
        0x05, 0x8B, 0x1E, 0x00, 0x06, 0xE8, 0x88, 0x00, 0xCD, 0x80, 0xBF, 0x00, 0x10, 0xB9, 0x00, 0x30,
        0xB0, 0x5A, 0xF3, 0xAA, 0xB9, 0x05, 0x00, 0x42, 0xE2, 0xFD, 0xDB, 0xE3, 0xD9, 0xE8, 0xD9, 0xEB,
        0x66, 0xB9, 0x77, 0x02, 0x00, 0x00, 0x0F, 0x32, 0xB0, 0x11, 0xE6, 0x20, 0xE6, 0xA0, 0xB0, 0x20,
        0xE6, 0x21, 0xB0, 0x28, 0xE6, 0xA1, 0xB0, 0x04, 0xE6, 0x21, 0xB0, 0x02, 0xE6, 0xA1, 0xB0, 0x01,
        0xE6, 0x21, 0xE6, 0xA1, 0xB0, 0xFA, 0xE6, 0x21, 0xB0, 0xBF, 0xE6, 0xA1, 0xB0, 0x36, 0xE6, 0x43,
        0xB0, 0x34, 0xE6, 0x40, 0xB0, 0x12, 0xE6, 0x40, 0xBA, 0xFB, 0x03, 0xB0, 0x80, 0xEE, 0xBA, 0xF8,
        0x03, 0xB0, 0x0C, 0xEE, 0xBA, 0xFB, 0x03, 0xB0, 0x03, 0xEE, 0xBA, 0xFA, 0x03, 0xB0, 0x07, 0xEE,
        0xB0, 0x0B, 0xE6, 0x70, 0xB0, 0x06, 0xE6, 0x71, 0xBA, 0xC2, 0x03, 0xB0, 0x67, 0xEE, 0xBA, 0xD4,
        0x03, 0xB8, 0x0C, 0x34, 0xEF, 0x0F, 0x20, 0xE0, 0x0C, 0x20, 0x0F, 0x22, 0xE0, 0xF4, 0xEB, 0xFD,
        0xBE, 0x07, 0x00, 0xFF, 0x06, 0x02, 0x05, 0xC3, 0xBD, 0x80, 0x00, 0xCF,
    ]

    var firmwarePath = ""

    override func setUpWithError() throws {
        var image = [UInt8](repeating: 0xFF, count: 64 << 10)
        image.replaceSubrange(0xE000..<0xE000 + Self.code.count, with: Self.code)
        image.replaceSubrange(0xFFF0..<0xFFF5, with: [0xEA, 0x00, 0xE0, 0x00, 0xF0])
        firmwarePath = NSTemporaryDirectory() + "novabox-bringup-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).bin"
        FileManager.default.createFile(atPath: firmwarePath, contents: Data(image))
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: firmwarePath) }

    func eip(_ name: String, _ out: String) -> UInt64? { GDBBatch.register("eip", in: GDBBatch.section(name, of: out)) }

    func testReadAndAccessWatchpointsThroughGDB() throws {
        try GDBBatch.skipUnlessInstalled()
        let t = try DebugTestMachine(bios: firmwarePath)
        t.start()
        defer { t.finish() }
        let out = try GDBBatch.run(port: t.stub.port, [
            // The store to 0x500 does not trigger a read watchpoint; the
            // load does, and gdb reports it after the loading instruction.
            "rwatch *(short *)0x500", "continue", "echo ==read\\n", "info registers eip eax",
            "delete",
            "awatch *(short *)0x600", "continue", "echo ==access\\n", "info registers eip ebx",
            "delete",
            // An access watchpoint sees the write of `inc word [0x502]`'s
            // read first: one instruction, one stop, after it.
            "awatch *(short *)0x502", "continue", "echo ==rmw\\n", "info registers eip esi",
            "delete", "detach",
        ])
        XCTAssertTrue(out.contains("Hardware read watchpoint 1: *(short *)0x500"), out)
        XCTAssertTrue(out.contains("Value = 4660"), out)
        XCTAssertEqual(eip("read", out), 0xE021, out)          // after mov ax,[0x500]
        XCTAssertEqual(GDBBatch.register("eax", in: GDBBatch.section("read", of: out)), 0x1234)
        XCTAssertTrue(out.contains("Hardware access (read/write) watchpoint 2: *(short *)0x600"), out)
        XCTAssertEqual(eip("access", out), 0xE025, out)        // after mov bx,[0x600]
        XCTAssertTrue(out.contains("Hardware access (read/write) watchpoint 3: *(short *)0x502"), out)
        XCTAssertEqual(eip("rmw", out), 0xE0B7, out)           // after inc word [0x502], in sub1
        XCTAssertEqual(GDBBatch.register("esi", in: GDBBatch.section("rmw", of: out)).map { $0 & 0xFFFF }, 7)
        // With the watchpoints gone the CPU's data path is unwatched again.
        XCTAssertFalse(t.machine.cpu.dataWatchActive)
    }

    func testMonitorNextStepsOverCallIntAndRepFromGDB() throws {
        try GDBBatch.skipUnlessInstalled()
        let t = try DebugTestMachine(bios: firmwarePath)
        t.start()
        defer { t.finish() }
        let out = try GDBBatch.run(port: t.stub.port, [
            "monitor break f000:e025", "continue", "echo ==atcall\\n", "info registers eip",
            "monitor delete 1",
            "monitor next", "maint flush register-cache", "echo ==call\\n", "info registers eip esi esp",
            "monitor next", "maint flush register-cache", "echo ==int\\n", "info registers eip ebp esp",
            "monitor next", "monitor next", "monitor next",
            "monitor next", "maint flush register-cache", "echo ==rep\\n", "info registers eip ecx edi",
            "monitor next", "maint flush register-cache", "echo ==plain\\n", "info registers eip ecx",
            "detach",
        ])
        XCTAssertEqual(eip("atcall", out), 0xE025, out)
        // Over the call: sub1 ran (SI = 7), the stack is back where it was.
        let call = GDBBatch.section("call", of: out)
        XCTAssertEqual(eip("call", out), 0xE028, out)
        XCTAssertEqual(GDBBatch.register("esi", in: call).map { $0 & 0xFFFF }, 7)
        XCTAssertEqual(GDBBatch.register("esp", in: call).map { $0 & 0xFFFF }, 0x7000)
        // Over INT 80h: the handler ran (BP = 80h) and IRET came back.
        XCTAssertEqual(eip("int", out), 0xE02A, out)
        XCTAssertEqual(GDBBatch.register("ebp", in: GDBBatch.section("int", of: out)).map { $0 & 0xFFFF }, 0x80)
        // Over REP STOSB of 3000h bytes (more than one interpreter step's worth).
        let rep = GDBBatch.section("rep", of: out)
        XCTAssertEqual(eip("rep", out), 0xE034, out)
        XCTAssertEqual(GDBBatch.register("ecx", in: rep).map { $0 & 0xFFFF }, 0)
        XCTAssertEqual(GDBBatch.register("edi", in: rep).map { $0 & 0xFFFF }, 0x4000)
        XCTAssertEqual(t.machine.memory.read(0x3FFF, size: 1), 0x5A)
        // An ordinary instruction: `next` is one step.
        XCTAssertEqual(eip("plain", out), 0xE037, out)
        XCTAssertEqual(GDBBatch.register("ecx", in: GDBBatch.section("plain", of: out)).map { $0 & 0xFFFF }, 5)
    }

    func testConditionalBreakpointsAndTheX87View() throws {
        try GDBBatch.skipUnlessInstalled()
        let t = try DebugTestMachine(bios: firmwarePath)
        t.start()
        defer { t.finish() }
        let out = try GDBBatch.run(port: t.stub.port, [
            // LOOP counts CX down 5, 4, 3…: `inc dx` runs with CX = 3 on the third pass.
            "monitor break f000:e037 if cx == 3", "continue", "echo ==cx3\\n", "info registers eip ecx",
            "monitor break f000:e037 if ecx<=1 && al==0x5a", "continue", "echo ==cx1\\n", "info registers eip ecx",
            "monitor info breakpoints",
            "monitor break f000:e037 if ecx=1",
            // Right after RDMSR (E046), where the x87 work is done too.
            "monitor break f000:e048", "continue", "echo ==x87\\n", "monitor info x87",
            "echo ==msr\\n", "info registers eax edx", "monitor info msr 277", "monitor info msr 12345",
            "detach",
        ])
        XCTAssertEqual(eip("cx3", out), 0xE037, out)
        XCTAssertEqual(GDBBatch.register("ecx", in: GDBBatch.section("cx3", of: out)).map { $0 & 0xFFFF }, 3, out)
        XCTAssertEqual(eip("cx1", out), 0xE037, out)
        XCTAssertEqual(GDBBatch.register("ecx", in: GDBBatch.section("cx1", of: out)).map { $0 & 0xFFFF }, 1, out)
        XCTAssertTrue(out.contains("break f000:e037 if cx==0x3"), out)
        XCTAssertTrue(out.contains("break f000:e037 if ecx<=0x1 && al==0x5a"), out)
        XCTAssertTrue(out.contains("break ... if REG OP VALUE"), out)   // `=` is not a comparison
        // FNINIT, FLD1, FLDPI (SDM vol. 1, 8.1): TOP = 6, ST0 = π, ST1 = 1,
        // the control word FNINIT sets, the two registers tagged valid.
        let x87 = GDBBatch.section("x87", of: out)
        XCTAssertTrue(x87.contains("fcw=037f"), out)
        XCTAssertTrue(x87.contains("top=6"), out)
        XCTAssertTrue(x87.contains("ftw=0fff"), out)
        XCTAssertTrue(x87.contains("st0=\(Float80.pi)") || x87.contains("st0=\(Float80.pi.nextUp)") || x87.contains("st0=\(Float80.pi.nextDown)"), out)
        XCTAssertTrue(x87.contains("st1=1.0 "), out)
        XCTAssertTrue(x87.contains("st2=empty"), out)
        // The monitor's MSR view reads what the guest's RDMSR of IA32_PAT
        // got: the PAT's power-on value (SDM vol. 3, 11.12.4).
        let msr = GDBBatch.section("msr", of: out)
        XCTAssertEqual(GDBBatch.register("eax", in: msr), 0x0007_0406, out)
        XCTAssertEqual(GDBBatch.register("edx", in: msr), 0x0007_0406, out)
        XCTAssertTrue(msr.contains("msr 00000277 IA32_PAT = 0007040600070406"), out)
        XCTAssertTrue(msr.contains("msr 00012345: not implemented"), out)
    }

    /// The device views after the program programmed the PIC pair, the
    /// PIT, COM1, the RTC and the VGA: each shows what the datasheets say
    /// those writes set (8259A ICW2 vector bases and OCW1 masks; 8254
    /// control word 36h: counter 0, LSB then MSB, mode 3; 16550 divisor
    /// latch and LCR 03h = 8N1; MC146818 register B 06h = binary, 24-hour;
    /// VGA misc output bit 0 = colour, CRTC 0Ch = start address high).
    func testDeviceViewsShowWhatTheProgramWrote() throws {
        let t = try DebugTestMachine(bios: firmwarePath)
        t.start()
        defer { t.finish() }
        let m = try XCTUnwrap(MonitorClient(path: t.monitorPath))
        // CR4.PAE goes on just before the HLT (SDM vol. 3, 2.5: bit 5).
        XCTAssertTrue(m.command("break pae").hasPrefix("1: break pae (CR4.PAE changes)"))
        XCTAssertEqual(m.command("continue"), "")
        let pae = m.read(untilSuffix: MonitorPort.prompt)
        XCTAssertTrue(pae.contains("stopped: event 1: pae (CR4.PAE changes): CR4 00000000 -> 00000020 by the instruction at f000:0000e0aa"), pae)
        // Stopped after it, at the HLT: everything below has been programmed.
        XCTAssertTrue(pae.contains("f000:e0ad  f4 "), pae)

        let pic = m.command("info pic")
        XCTAssertTrue(pic.contains("master PIC (IRQ 0-7): vectors 20h-27h\n"), pic)
        XCTAssertTrue(pic.contains("imr=11111010"), pic)
        XCTAssertTrue(pic.contains("slave PIC (IRQ 8-15): vectors 28h-2fh\n"), pic)
        XCTAssertTrue(pic.contains("imr=10111111"), pic)
        let pit = m.command("info pit")
        XCTAssertTrue(pit.hasPrefix("counter 0: mode 3 (square wave), LSB then MSB, reload 1234h (256.0 Hz)"), pit)
        let uart = m.command("info uart")
        XCTAssertTrue(uart.hasPrefix("COM1 at 03f8h: 9600 baud (divisor 12), 8N1"), uart)
        XCTAssertTrue(uart.contains("FIFO on, trigger 1"), uart)
        let rtc = m.command("info rtc")
        XCTAssertTrue(rtc.contains("b=06 c=00 (binary, 24-hour; interrupts: none)"), rtc)
        let vga = m.command("info vga")
        XCTAssertTrue(vga.contains("misc output 67 (colour 3Dxh); start 3400h"), vga)
        XCTAssertTrue(m.command("info ide").contains("  master: none"))
        // The same bytes in both code sizes (nasm's listing above is the
        // 16-bit reading): 66 B9 imm32 is MOV ECX in 16-bit code, MOV CX
        // with a 16-bit immediate in 32-bit code.
        let sixteen = m.command("disas fe040 1")
        XCTAssertTrue(sixteen.hasPrefix("000fe040  66b977020000 "), sixteen)
        XCTAssertTrue(sixteen.contains("ecx"), sixteen)
        let thirtyTwo = m.command("disas fe040 1 32")
        XCTAssertTrue(thirtyTwo.hasPrefix("000fe040  66b97702 "), thirtyTwo)
        XCTAssertFalse(thirtyTwo.contains("ecx"), thirtyTwo)
        XCTAssertTrue(m.command("disas fe040 1 64").contains("16 or 32"))
        // Strings, with what is not printable escaped.
        t.machine.memory.copyIn(0x700, Array("boot\r\n\u{0}two\u{1}".utf8) + [0])
        XCTAssertEqual(m.command("x/2s 700"), "00000700: \"boot\\r\\n\"\n00000707: \"two\\x01\"\n")
        // Paging is off in this program.
        XCTAssertTrue(m.command("info mem").hasPrefix("paging is off"))
        // The engine log: -icount keeps the guest out of KVM, so no switches.
        XCTAssertEqual(m.command("info switches"), "engine: \(MachineConfiguration().engine.rawValue)\nno engine switches\n")
        // Help names every new command.
        let help = m.command("help")
        for c in ["next", "if COND", "watch [r|w|a]", "info x87", "info msr", "info mem", "info pic|pit|rtc|uart|ide|vga", "info switches"] {
            XCTAssertTrue(help.contains(c), c)
        }
    }

    /// The monitor's own `next` runs on and reports the stop, like
    /// `continue`; a physical read watchpoint stops after the load.
    func testMonitorNextAndAPhysicalReadWatchpoint() throws {
        let t = try DebugTestMachine(bios: firmwarePath)
        t.start()
        defer { t.finish() }
        let m = try XCTUnwrap(MonitorClient(path: t.monitorPath))
        XCTAssertEqual(m.command("watch r phys 600 2"), "1: watch read phys 00000600 length 2\n")
        XCTAssertEqual(m.command("continue"), "")
        let read = m.read(untilSuffix: MonitorPort.prompt)
        XCTAssertTrue(read.contains("stopped: watchpoint 1 (00000600 read)\nf000:e025  e8"), read)
        XCTAssertTrue(m.command("delete 1").hasPrefix("deleted 1"))
        // At the CALL: `next` answers at once and the stop follows after sub1 returned.
        XCTAssertEqual(m.command("next"), "")
        let stop = m.read(untilSuffix: MonitorPort.prompt)
        XCTAssertTrue(stop.contains("stopped: step\nf000:e028  cd80"), stop)
        XCTAssertEqual(t.machine.cpu.reg16(6), 7)   // SI from sub1
        // Over INT 80h the same way; then at an ordinary instruction `next`
        // is a step and answers with the next one at once.
        XCTAssertEqual(m.command("next"), "")
        XCTAssertTrue(m.read(untilSuffix: MonitorPort.prompt).contains("stopped: step\nf000:e02a  bf0010"))
        XCTAssertTrue(m.command("next").hasPrefix("f000:e02d  b90030"))
    }
}
