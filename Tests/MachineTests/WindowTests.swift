import Foundation
import XCTest
@testable import Machine

/// The window as a user meets it, on a virtual X server (Xvfb): SeaBIOS
/// boots in a real SDL window; the window's pixels are captured through X,
/// not through our renderer, and must equal the PNG our renderer writes;
/// the text SeaBIOS prints is found in the capture by drawing it with the
/// guest's own font (plane 2 of VGA memory); the cursor blinks; keys typed into the window
/// through X reach SeaBIOS's keyboard handler (the port 60h reads in the
/// I/O trace), and Ctrl+Alt+End makes SeaBIOS reset the machine. Guests of
/// our own show a Bochs VBE mode whose pixels the test computes itself
/// (through the banked window, and through the linear framebuffer as the
/// picture changes), and
/// echo what they read from the keyboard and the grabbed PS/2 mouse to the
/// debug console.
final class WindowTests: XCTestCase {
    // MARK: - Tests

    func testScreenshotOnExitShowsSeaBIOSText() throws {
        try requireReleaseBuild()
        try requireTools(["convert", "identify"])
        let font = try GuestFont.shared()
        let path = temporaryPath("screenshot.png")
        let r = try NovaboxCommand.run(["-display", "none", "-serial", "none", "-icount", "2", "-timeout", "3",
                                        "-screenshot", path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let image = try RGBImage(contentsOf: path)
        XCTAssertEqual(image.width, 720)
        XCTAssertEqual(image.height, 400)
        for text in ["SeaBIOS (version", "No bootable device"] {
            XCTAssertNotNil(font.find(text, in: image), "'\(text)' is not in the screenshot")
        }
        XCTAssertNil(font.find("Booting from DVD/CD", in: image), "text that is not on the screen is not found")
    }

    /// The renderer Novabox picks (SDL's software renderer on Xvfb, where OpenGL would be Mesa's llvmpipe).
    func testSeaBIOSInAWindowTakesKeysFromX() throws {
        try checkSeaBIOSWindow(renderDriver: nil)
    }

    /// SDL's OpenGL renderer, as on a desktop with a GPU (here drawn by llvmpipe).
    func testSeaBIOSInAnOpenGLWindow() throws {
        try checkSeaBIOSWindow(renderDriver: "opengl")
    }

    func checkSeaBIOSWindow(renderDriver: String?) throws {
        try requireReleaseBuild()
        try requireTools(["Xvfb", "xdotool", "import", "convert", "identify"])
        let font = try GuestFont.shared()
        let x = try XvfbSession()
        defer { x.stop() }
        var environment = x.environment
        environment["SDL_RENDER_DRIVER"] = renderDriver
        let (log, trace, ours) = (temporaryPath("debugcon.log"), temporaryPath("io.trace"), temporaryPath("ours.png"))
        let stderrPath = temporaryPath("stderr")
        FileManager.default.createFile(atPath: stderrPath, contents: nil)
        let novabox = try NovaboxCommand.start(
            ["-display", "sdl", "-scale", "2", "-serial", "none", "-debugcon", "file:" + log, "-no-reboot",
             "-d", "ioport", "-D", trace, "-screenshot", ours],
            environment: environment, stderr: FileHandle(forWritingAtPath: stderrPath))
        defer { if novabox.isRunning { novabox.terminate() } }
        let window = try x.findWindow(named: "^Novabox", of: novabox)

        // SeaBIOS gives up booting; the window shows it at twice the size.
        var capture: RGBImage?
        let found = poll(seconds: 90) {
            guard let image = try? x.capture(window), let shrunk = image.halved() else { return false }
            capture = image
            return font.find("No bootable device", in: shrunk) != nil
        }
        let screen = try XCTUnwrap(capture, "no capture of the window")
        XCTAssertTrue(found, "'No bootable device' never showed in the window")
        XCTAssertEqual(screen.width, 1440)
        XCTAssertEqual(screen.height, 800)
        XCTAssertTrue(screen.isMadeOf2x2Blocks, "scale 2 doubles every guest pixel")
        let picture = try XCTUnwrap(screen.halved())
        XCTAssertNotNil(font.find("SeaBIOS (version", in: picture))
        // The cursor blinks (8 frames on, 8 off at 70 Hz): the window shows
        // both phases, and they differ in one character cell only. A capture
        // through X takes a few hundred milliseconds on a busy host, so
        // capture until both phases were seen (or 5 s pass).
        var pictures: [RGBImage] = [picture]
        var distinct: [RGBImage] = [picture]
        let blinkEnd = Date().addingTimeInterval(5)
        while Date() < blinkEnd && distinct.count < 2 {
            guard let image = try? x.capture(window), let shrunk = image.halved() else { continue }
            pictures.append(shrunk)
            if !distinct.contains(where: { $0.pixels == shrunk.pixels }) { distinct.append(shrunk) }
        }
        XCTAssertEqual(distinct.count, 2, "a still screen with a blinking cursor shows two pictures (\(pictures.count) captures)")
        if distinct.count == 2 {
            let changed = (0..<distinct[0].pixels.count).filter { distinct[0].pixels[$0] != distinct[1].pixels[$0] }
            let xs = changed.map { $0 % distinct[0].width }, ys = changed.map { $0 / distinct[0].width }
            XCTAssertLessThanOrEqual((xs.max() ?? 0) - (xs.min() ?? 0), 8, "the blink stays inside a 9-pixel cell")
            XCTAssertLessThanOrEqual((ys.max() ?? 0) - (ys.min() ?? 0), 15, "and inside a 16-line cell")
        }
        let title = try x.run("xdotool", ["getwindowname", window])
        XCTAssertTrue(title.contains("running · recompiler"), title)
        XCTAssertTrue(title.contains("Ctrl+Alt+G"), title)

        // A key typed into the window: SeaBIOS's IRQ1 handler reads its set 1 make and break.
        _ = try x.run("xdotool", ["windowfocus", "--sync", window])
        _ = try x.run("xdotool", ["key", "a"])
        XCTAssertTrue(poll(seconds: 20) { self.keyboardReads(trace).contains([0x1E, 0x9E]) },
                      "SeaBIOS did not read A's scancodes: \(keyboardReads(trace).suffix(20))")

        // Ctrl+Alt+End is Ctrl+Alt+Del for the guest: SeaBIOS resets, -no-reboot ends the run.
        _ = try x.run("xdotool", ["key", "ctrl+alt+End"])
        XCTAssertTrue(poll(seconds: 30) { !novabox.isRunning }, "the guest did not reset after Ctrl+Alt+End")
        novabox.waitUntilExit()
        let stderr = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
        XCTAssertEqual(novabox.terminationStatus, 0, stderr)
        XCTAssertTrue(stderr.contains("the guest reset"), stderr)
        XCTAssertTrue(keyboardReads(trace).contains([0x1D, 0x38, 0xE0, 0x53]), "Ctrl, Alt, Del makes as the guest read them")

        // The PNG our renderer wrote at exit (cursor showing) is a picture X
        // showed, pixel for pixel.
        let png = try RGBImage(contentsOf: ours)
        XCTAssertEqual(png.width, picture.width)
        XCTAssertEqual(png.height, picture.height)
        XCTAssertTrue(pictures.contains { $0.pixels == png.pixels }, "the window and the -screenshot PNG differ")
    }

    /// A guest of our own sets a 320×200×32 Bochs VBE mode and fills it
    /// through the banked window with a pattern the test computes itself:
    /// pixel n is R = 40h × (n / 16384) (its bank), G = n bits 8–15, B = n bits 0–7.
    func testVBEModeInAWindow() throws {
        try requireTools(["Xvfb", "xdotool", "import", "convert", "identify", "nasm"])
        let firmware = temporaryPath("vbe.bin"), source = temporaryPath("vbe.asm")
        try WindowTests.vbeGuest.write(toFile: source, atomically: true, encoding: .utf8)
        _ = try runTool("nasm", ["-f", "bin", source, "-o", firmware])
        let expected: [UInt32] = (0..<320 * 200).map { (n: Int) -> UInt32 in
            let bank = UInt32(n >> 14), low = UInt32(n & 0xFFFF)
            return bank << 22 | low
        }

        let x = try XvfbSession()
        defer { x.stop() }
        let ours = temporaryPath("vbe.png")
        let novabox = try NovaboxCommand.start(["-bios", firmware, "-display", "sdl", "-serial", "none",
                                                "-timeout", "5", "-screenshot", ours], environment: x.environment)
        defer { if novabox.isRunning { novabox.terminate() } }
        let window = try x.findWindow(named: "^Novabox", of: novabox)
        var capture: RGBImage?
        let shown = poll(seconds: 30) {
            capture = try? x.capture(window)
            return capture?.halved()?.pixels == expected
        }
        let screen = try XCTUnwrap(capture)
        XCTAssertTrue(shown, "the window never showed the guest's pattern")
        XCTAssertEqual(screen.width, 640, "320-pixel modes show doubled, as on a VGA monitor")
        XCTAssertEqual(screen.height, 400)
        XCTAssertTrue(screen.isMadeOf2x2Blocks)
        XCTAssertTrue(poll(seconds: 30) { !novabox.isRunning })
        let png = try RGBImage(contentsOf: ours)
        XCTAssertEqual(png.width, 320)
        XCTAssertEqual(png.height, 200)
        XCTAssertTrue(png.pixels == expected, "the -screenshot PNG is not the guest's pattern")
    }

    /// The linear framebuffer, which the CPU writes as host memory without
    /// the VGA seeing it: a guest of our own places PCI BAR 0 at E0000000h,
    /// sets 320×200×32 with the framebuffer, draws pixel n as n × 010203h
    /// one store at a time, waits, then paints lines 50–99 orange with one
    /// REP STOSD. The window must follow both, and it redraws only what the
    /// write marks say changed: a missed write would leave a stale picture.
    func testLinearFramebufferChangesReachTheWindow() throws {
        try requireTools(["Xvfb", "xdotool", "import", "convert", "identify", "nasm"])
        let firmware = temporaryPath("lfb.bin"), source = temporaryPath("lfb.asm")
        try WindowTests.framebufferGuest.write(toFile: source, atomically: true, encoding: .utf8)
        _ = try runTool("nasm", ["-f", "bin", source, "-o", firmware])
        let drawn: [UInt32] = (0..<320 * 200).map { UInt32($0) &* 0x010203 & 0xFF_FFFF }
        let painted: [UInt32] = (0..<320 * 200).map { (50..<100).contains($0 / 320) ? 0xFF8000 : drawn[$0] }

        let x = try XvfbSession()
        defer { x.stop() }
        let ours = temporaryPath("lfb.png")
        let novabox = try NovaboxCommand.start(["-bios", firmware, "-display", "sdl", "-serial", "none",
                                                "-timeout", "8", "-screenshot", ours], environment: x.environment)
        defer { if novabox.isRunning { novabox.terminate() } }
        let window = try x.findWindow(named: "^Novabox", of: novabox)
        var seen: [[UInt32]] = []
        let shown = poll(seconds: 60) {
            guard let pixels = (try? x.capture(window))?.halved()?.pixels else { return false }
            if seen.last != pixels { seen.append(pixels) }
            return pixels == painted
        }
        XCTAssertTrue(shown, "the window never showed the painted lines")
        XCTAssertTrue(poll(seconds: 30) { !novabox.isRunning })
        let png = try RGBImage(contentsOf: ours)
        XCTAssertTrue(png.pixels == painted, "the -screenshot PNG is not the guest's picture")
        // The drawn picture is normally caught during the guest's wait; its
        // absence only means the capture was slower than the wait.
        if !seen.contains(drawn) { print("note: the capture did not catch the picture before the painting") }
    }

    /// Keys typed through X as the guest reads them behind the 8042's
    /// translation: the set 1 codes of Microsoft's scan code specification,
    /// extended keys with E0, Pause and PrintScreen with their long codes,
    /// and a held key repeating its make code.
    func testKeysReachTheGuestAsSet1Codes() throws {
        try requireTools(["Xvfb", "xdotool", "nasm"])
        let x = try XvfbSession()
        defer { x.stop() }
        let (novabox, log) = try startInputEcho(on: x)
        defer { if novabox.isRunning { novabox.terminate() } }
        let window = try x.findWindow(named: "^Novabox", of: novabox)
        try x.run("xdotool", ["windowfocus", "--sync", window])
        for key in ["a", "Up", "KP_Divide", "KP_Enter", "Pause", "Print"] {
            try x.run("xdotool", ["key", key])
            usleep(200_000)
        }
        try x.run("xdotool", ["keydown", "b"])
        usleep(1_500_000)
        try x.run("xdotool", ["keyup", "b"])
        usleep(300_000)
        novabox.terminate()
        novabox.waitUntilExit()

        let keys = echoed(log, "K")
        let expected: [UInt8] = [
            0x1E, 0x9E,                                     // A
            0xE0, 0x48, 0xE0, 0xC8,                         // Up
            0xE0, 0x35, 0xE0, 0xB5,                         // keypad /
            0xE0, 0x1C, 0xE0, 0x9C,                         // keypad Enter
            0xE1, 0x1D, 0x45, 0xE1, 0x9D, 0xC5,             // Pause (no break of its own)
            0xE0, 0x2A, 0xE0, 0x37, 0xE0, 0xB7, 0xE0, 0xAA, // PrintScreen
        ]
        XCTAssertEqual(Array(keys.prefix(expected.count)), expected)
        let held = Array(keys.dropFirst(expected.count))
        XCTAssertGreaterThan(held.count, 3, "a held B repeats: \(held)")
        XCTAssertTrue(held.dropLast().allSatisfy { $0 == 0x30 }, "B's make code, repeated: \(held)")
        XCTAssertEqual(held.last, 0xB0, "then B's break")
    }

    /// The input echo guest turns on the PS/2 mouse and copies every byte it
    /// sends to the debug console. Grabbed with Ctrl+Alt+G, pointer motion
    /// and a click typed through X arrive as standard 3-byte packets;
    /// released, the pointer is the host's again.
    func testGrabbedMouseReachesTheGuest() throws {
        try requireTools(["Xvfb", "xdotool", "nasm"])
        let x = try XvfbSession()
        defer { x.stop() }
        let (novabox, log) = try startInputEcho(on: x)
        defer { if novabox.isRunning { novabox.terminate() } }
        let window = try x.findWindow(named: "^Novabox", of: novabox)
        try x.run("xdotool", ["windowfocus", "--sync", window])
        try x.run("xdotool", ["key", "ctrl+alt+g"])
        XCTAssertTrue(poll(seconds: 10) { ((try? x.run("xdotool", ["getwindowname", window])) ?? "").contains("releases the mouse") },
                      "the title does not say the mouse is grabbed")
        try x.run("xdotool", ["mousemove_relative", "--", "12", "-7"])
        usleep(300_000)
        try x.run("xdotool", ["click", "1"])
        usleep(300_000)
        try x.run("xdotool", ["key", "ctrl+alt+g"])
        usleep(300_000)
        try x.run("xdotool", ["mousemove_relative", "--", "30", "30"])
        usleep(300_000)
        novabox.terminate()   // SIGTERM: a clean stop, the debug console flushed
        novabox.waitUntilExit()

        let bytes = echoed(log, "M")
        XCTAssertEqual(bytes.first, 0xFA, "the mouse acknowledges Enable Data Reporting")
        let packets = stride(from: 1, to: bytes.count - 2, by: 3).map { Array(bytes[$0..<$0 + 3]) }
        XCTAssertEqual((bytes.count - 1) % 3, 0, "whole packets: \(bytes)")
        XCTAssertTrue(packets.allSatisfy { $0[0] & 0x08 != 0 }, "bit 3 of every packet's first byte is set")
        func signed(_ value: UInt8, negative: Bool) -> Int { negative ? Int(value) - 256 : Int(value) }
        let dx = packets.reduce(0) { $0 + signed($1[1], negative: $1[0] & 0x10 != 0) }
        let dy = packets.reduce(0) { $0 + signed($1[2], negative: $1[0] & 0x20 != 0) }
        XCTAssertEqual(dx, 12, "rightward motion")
        XCTAssertEqual(dy, 7, "upward motion is positive for PS/2")
        let buttons = packets.map { $0[0] & 0x07 }
        XCTAssertTrue(buttons.contains(1), "the left button went down")
        XCTAssertEqual(buttons.last, 0, "and up again")
    }

    func testClosingTheWindowStopsTheMachine() throws {
        try requireTools(["Xvfb", "xdotool", "python3"])
        let x = try XvfbSession()
        defer { x.stop() }
        let novabox = try NovaboxCommand.start(["-display", "sdl", "-serial", "none"], environment: x.environment)
        defer { if novabox.isRunning { novabox.terminate() } }
        let window = try x.findWindow(named: "^Novabox", of: novabox)
        // What a window manager sends when the user clicks the close button.
        _ = try x.run("python3", ["-c", WindowTests.closeWindow, window])
        XCTAssertTrue(poll(seconds: 30) { !novabox.isRunning }, "novabox kept running after its window was closed")
        novabox.waitUntilExit()
        XCTAssertEqual(novabox.terminationReason, .exit)
        XCTAssertEqual(novabox.terminationStatus, 0)
    }

    // MARK: - Support

    func requireReleaseBuild() throws {
        #if DEBUG
        throw XCTSkip("SeaBIOS boots need a release build: run swift test -c release (scripts/test.sh)")
        #endif
        guard FileManager.default.fileExists(atPath: MachineConfiguration.defaultBIOS) else {
            throw XCTSkip("SeaBIOS is not installed (apt-get install seabios)")
        }
    }

    func requireTools(_ tools: [String]) throws {
        for tool in tools where !XvfbSession.isInstalled(tool) {
            throw XCTSkip("\(tool) is not installed (apt-get install xvfb xdotool imagemagick python3)")
        }
    }

    func temporaryPath(_ name: String) -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("novabox-window-\(getpid())-\(name)").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    /// Bytes SeaBIOS read from port 60h, from the -d ioport trace.
    func keyboardReads(_ trace: String) -> [UInt8] {
        let text = (try? String(contentsOfFile: trace, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("in  port 0060 size 1 value ") else { return nil }
            return UInt8(line.split(separator: " ").last!, radix: 16)
        }
    }

    /// The VBE guest: real-mode code at the reset vector of a 64 KiB firmware image.
    /// Guest code (nasm) both VBE guests start with: colour VGA with the
    /// palette showing, then DISPI 320 × 200 × 32 enabled with `enable`
    /// (01h: the banked window at A0000h; 41h: the linear framebuffer).
    static func vbeModeSet(enable: Int) -> String {
        """
          mov dx, 0x3C2             ; misc output: colour, RAM access on
          mov al, 0x03
          out dx, al
          mov dx, 0x3DA             ; reset the attribute flip-flop,
          in al, dx
          mov dx, 0x3C0             ; then palette address source on: the screen shows
          mov al, 0x20
          out dx, al
          mov dx, 0x1CE             ; DISPI index 1-4: x, y, bpp, enable
          mov ax, 1
          out dx, ax
          inc dx
          mov ax, 320
          out dx, ax
          dec dx
          mov ax, 2
          out dx, ax
          inc dx
          mov ax, 200
          out dx, ax
          dec dx
          mov ax, 3
          out dx, ax
          inc dx
          mov ax, 32
          out dx, ax
          dec dx
          mov ax, 4
          out dx, ax
          inc dx
          mov ax, \(enable)
          out dx, ax
        """
    }

    static let vbeGuest = """
    bits 16
    org 0
    start:
    \(WindowTests.vbeModeSet(enable: 0x01))
      mov ax, 0xA000
      mov es, ax
      xor ebx, ebx              ; ebx = pixel number n
      xor bp, bp                ; bp = bank
    bank:
      mov dx, 0x1CE
      mov ax, 5
      out dx, ax
      inc dx
      mov ax, bp
      out dx, ax
      xor di, di
    pixel:
      mov eax, ebx
      and eax, 0xFFFF           ; G, B = n
      movzx ecx, bp
      shl ecx, 22               ; R = 40h x bank
      or eax, ecx
      mov [es:di], eax
      inc ebx
      cmp ebx, 64000
      jae done
      add di, 4
      jnz pixel                 ; 16384 pixels per 64 KiB bank
      inc bp
      jmp bank
    done:
      cli
      hlt
      jmp done
    times 0xFFF0 - ($ - $$) db 0xF4
      jmp start                 ; the reset vector
    times 0x10000 - ($ - $$) db 0xF4
    """

    /// The framebuffer guest: PCI configuration through CF8h/CFCh, big real
    /// mode (a flat 4 GiB data segment loaded in protected mode and kept
    /// after returning to real mode) to reach E0000000h, and 32-bit stores.
    static let framebufferGuest = """
    bits 16
    org 0
    start:
      mov dx, 0xCF8             ; 00:02.0 offset 10h (BAR 0) = E0000000h
      mov eax, 0x80001010
      out dx, eax
      mov dx, 0xCFC
      mov eax, 0xE0000000
      out dx, eax
      mov dx, 0xCF8             ; offset 04h: memory decoding on
      mov eax, 0x80001004
      out dx, eax
      mov dx, 0xCFC
      mov eax, 0x00000002
      out dx, eax
    \(WindowTests.vbeModeSet(enable: 0x41))
      cli                       ; big real mode: DS and ES with a 4 GiB limit
      o32 lgdt [cs:gdtr]
      mov eax, cr0
      or al, 1
      mov cr0, eax
      mov bx, 8
      mov ds, bx
      mov es, bx
      and al, 0xFE
      mov cr0, eax
      xor bx, bx
      mov ds, bx
      mov es, bx
      mov edi, 0xE0000000       ; pixel n = n x 010203h, a store at a time
      xor ebx, ebx
    pixel:
      mov eax, ebx
      imul eax, eax, 0x010203
      and eax, 0xFFFFFF
      mov [edi], eax
      add edi, 4
      inc ebx
      cmp ebx, 64000
      jb pixel
      mov ecx, 30000000         ; a wait the window can show the picture in
    linger:
      a32 loop linger
      mov edi, 0xE0000000 + 50 * 320 * 4
      mov ecx, 50 * 320
      mov eax, 0xFF8000
      cld
      a32 rep stosd             ; lines 50-99 orange
    done:
      hlt
      jmp done
    gdt:
      dq 0
      dq 0x00CF92000000FFFF     ; flat data, 4 GiB, writable
    gdtr:
      dw 15
      dd 0xFFFF0000 + gdt
    times 0xFFF0 - ($ - $$) db 0xF4
      jmp start                 ; the reset vector
    times 0x10000 - ($ - $$) db 0xF4
    """

    /// The input echo guest: enables the 8042's auxiliary port and the
    /// mouse's data reporting, then copies every byte the guest reads from
    /// port 60h to the debug console, after "K" (keyboard) or "M" (mouse).
    static let inputEchoGuest = """
    bits 16
    org 0
    start:
      mov al, 0xA8              ; enable the auxiliary interface
      out 0x64, al
      mov al, 0xD4              ; next data byte to the mouse:
      out 0x64, al
      mov al, 0xF4              ; enable data reporting
      out 0x60, al
      mov dx, 0x402
    poll:
      in al, 0x64
      test al, 0x01             ; output buffer full?
      jz poll
      mov ah, 'K'
      test al, 0x20             ; from the mouse?
      jz tagged
      mov ah, 'M'
    tagged:
      mov al, ah
      out dx, al
      in al, 0x60
      out dx, al
      jmp poll
    times 0xFFF0 - ($ - $$) db 0xF4
      jmp start
    times 0x10000 - ($ - $$) db 0xF4
    """

    /// Boots the input echo guest in a window on `x`; returns novabox and the echo file.
    func startInputEcho(on x: XvfbSession) throws -> (Process, String) {
        let firmware = temporaryPath("echo.bin"), source = temporaryPath("echo.asm"), log = temporaryPath("echo.log")
        try WindowTests.inputEchoGuest.write(toFile: source, atomically: true, encoding: .utf8)
        _ = try runTool("nasm", ["-f", "bin", source, "-o", firmware])
        let novabox = try NovaboxCommand.start(["-bios", firmware, "-display", "sdl", "-serial", "none",
                                                "-debugcon", "file:" + log], environment: x.environment)
        return (novabox, log)
    }

    /// The bytes the echo guest read from the keyboard (`tag` "K") or the mouse ("M").
    func echoed(_ log: String, _ tag: Character) -> [UInt8] {
        let bytes = [UInt8](FileManager.default.contents(atPath: log) ?? Data())
        return stride(from: 0, to: bytes.count - 1, by: 2).compactMap { bytes[$0] == tag.asciiValue! ? bytes[$0 + 1] : nil }
    }

    /// Sends WM_DELETE_WINDOW to the window given as argument, through libX11.
    static let closeWindow = """
    import ctypes, sys
    x = ctypes.cdll.LoadLibrary('libX11.so.6')
    x.XOpenDisplay.restype = ctypes.c_void_p
    x.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x.XInternAtom.restype = ctypes.c_ulong
    x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    class ClientMessage(ctypes.Structure):
        _fields_ = [('type', ctypes.c_int), ('serial', ctypes.c_ulong), ('send_event', ctypes.c_int),
                    ('display', ctypes.c_void_p), ('window', ctypes.c_ulong), ('message_type', ctypes.c_ulong),
                    ('format', ctypes.c_int), ('data', ctypes.c_long * 5)]
    class XEvent(ctypes.Union):
        _fields_ = [('xclient', ClientMessage), ('pad', ctypes.c_long * 24)]
    x.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.POINTER(XEvent)]
    x.XFlush.argtypes = [ctypes.c_void_p]
    d = x.XOpenDisplay(None)
    e = XEvent()
    e.xclient.type = 33
    e.xclient.window = int(sys.argv[1])
    e.xclient.message_type = x.XInternAtom(d, b'WM_PROTOCOLS', 0)
    e.xclient.format = 32
    e.xclient.data[0] = x.XInternAtom(d, b'WM_DELETE_WINDOW', 0)
    x.XSendEvent(d, int(sys.argv[1]), 0, 0, ctypes.byref(e))
    x.XFlush(d)
    """
}

struct ToolFailed: Error {
    let command: [String]
}

/// Runs `tool` from the PATH; its standard output. Throws when it fails.
func runTool(_ tool: String, _ args: [String], environment: [String: String]? = nil) throws -> Data {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = [tool] + args
    if let environment { p.environment = environment }
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { throw ToolFailed(command: [tool] + args) }
    return data
}

/// Calls `condition` every 100 ms until it holds or `seconds` pass.
func poll(seconds: Double, _ condition: () -> Bool) -> Bool {
    let end = Date().addingTimeInterval(seconds)
    while Date() < end {
        if condition() { return true }
        usleep(100_000)
    }
    return condition()
}

/// An X server of our own for the test, on a display number nobody uses.
final class XvfbSession {
    let display: String
    private let server: Process

    static func isInstalled(_ tool: String) -> Bool {
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").contains {
            FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)")
        }
    }

    /// Starts Xvfb on a display number no server holds. A number whose
    /// socket or lock a previous server left behind is skipped, and a
    /// server that exits at once (it found the display taken after all)
    /// or that no X client can talk to within 10 s is retried on the next
    /// number: CI ran window tests, a few times, against a display whose
    /// socket was there but that SDL could not open.
    init() throws {
        var number = 100 + Int(getpid()) % 800
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("novabox-xvfb-\(getpid()).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        for _ in 0..<8 {
            while ["/tmp/.X11-unix/X\(number)", "/tmp/.X\(number)-lock"].contains(where: FileManager.default.fileExists) { number += 1 }
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let server = Process()
            server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            server.arguments = ["Xvfb", ":\(number)", "-screen", "0", "1600x1200x24", "-nolisten", "tcp"]
            server.standardOutput = FileHandle.nullDevice
            server.standardError = FileHandle(forWritingAtPath: log)
            try server.run()
            let started = poll(seconds: 10) { !server.isRunning || FileManager.default.fileExists(atPath: "/tmp/.X11-unix/X\(number)") }
            // Still running a moment later, and answering a client: it holds the display.
            var environment = ProcessInfo.processInfo.environment
            environment["DISPLAY"] = ":\(number)"
            if started && server.isRunning && !poll(seconds: 0.3, { !server.isRunning })
                && (!XvfbSession.isInstalled("xdotool")
                    || poll(seconds: 10, { (try? runTool("xdotool", ["getdisplaygeometry"], environment: environment)) != nil })) {
                display = ":\(number)"
                self.server = server
                return
            }
            if server.isRunning { server.terminate() }
            server.waitUntilExit()
            number += 1
        }
        let said = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        throw XCTSkip("Xvfb did not start (tried up to :\(number)); it said: \(said.suffix(500))")
    }

    func stop() {
        if server.isRunning { server.terminate() }
        server.waitUntilExit()
    }

    var environment: [String: String] {
        var e = ProcessInfo.processInfo.environment
        e["DISPLAY"] = display
        e["WAYLAND_DISPLAY"] = nil
        return e
    }

    /// Runs an X client on this display; its standard output.
    @discardableResult
    func run(_ tool: String, _ args: [String]) throws -> String {
        String(decoding: try runTool(tool, args, environment: environment), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The id of the first window whose name matches `pattern`, waiting up
    /// to 60 s while `owner` (the novabox that should open it) runs. The
    /// skip says what there was instead (seen a few times in CI, never here).
    func findWindow(named pattern: String, of owner: Process) throws -> String {
        var id = ""
        _ = poll(seconds: 60) {
            id = (try? run("xdotool", ["search", "--name", pattern]))?.split(separator: "\n").first.map(String.init) ?? ""
            return !id.isEmpty || !owner.isRunning
        }
        guard id.isEmpty else { return id }
        let windows = ((try? run("xdotool", ["search", "--name", "."])) ?? "").split(separator: "\n").prefix(8)
            .map { (try? run("xdotool", ["getwindowname", String($0)])) ?? "?" }
        throw XCTSkip("no window named \(pattern) appeared on \(display): novabox "
                      + (owner.isRunning ? "still runs" : "exited with \(owner.terminationStatus)")
                      + "; the display's named windows: \(windows)")
    }

    /// The window's pixels as the X server has them.
    func capture(_ window: String) throws -> RGBImage {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("novabox-capture-\(getpid()).png").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try run("import", ["-window", window, "png:" + path])
        return try RGBImage(contentsOf: path)
    }
}

/// An image as 8-bit RGB triples, read through ImageMagick.
struct RGBImage {
    let width: Int
    let height: Int
    /// 0xRRGGBB per pixel, row after row.
    let pixels: [UInt32]

    init(width: Int, height: Int, pixels: [UInt32]) {
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    init(contentsOf path: String) throws {
        let size = String(decoding: try runTool("identify", ["-format", "%w %h", path]), as: UTF8.self)
            .split(separator: " ").compactMap { Int($0) }
        guard size.count == 2 else { throw CocoaError(.fileReadCorruptFile) }
        let bytes = [UInt8](try runTool("convert", [path, "-depth", "8", "rgb:-"]))
        guard bytes.count == size[0] * size[1] * 3 else { throw CocoaError(.fileReadCorruptFile) }
        width = size[0]
        height = size[1]
        pixels = (0..<width * height).map { i in
            UInt32(bytes[3 * i]) << 16 | UInt32(bytes[3 * i + 1]) << 8 | UInt32(bytes[3 * i + 2])
        }
    }

    subscript(x: Int, y: Int) -> UInt32 { pixels[y * width + x] }

    /// Every 2×2 block of pixels is one colour.
    var isMadeOf2x2Blocks: Bool {
        guard width % 2 == 0, height % 2 == 0 else { return false }
        for y in stride(from: 0, to: height, by: 2) {
            for x in stride(from: 0, to: width, by: 2) {
                let p = self[x, y]
                if self[x + 1, y] != p || self[x, y + 1] != p || self[x + 1, y + 1] != p { return false }
            }
        }
        return true
    }

    /// The top-left pixel of every 2×2 block.
    func halved() -> RGBImage? {
        guard width >= 2, height >= 2 else { return nil }
        let w = width / 2, h = height / 2
        return RGBImage(width: w, height: h, pixels: (0..<w * h).map { self[2 * ($0 % w), 2 * ($0 / w)] })
    }
}

/// The 8×16 font SeaBIOS's VGA BIOS loads into plane 2 for mode 3, taken
/// from a machine booted in this process, to draw expected text with.
struct GuestFont {
    /// 32 bytes per character (16 used), as the VGA stores a font block.
    let glyphs: [UInt8]

    private static let lock = NSLock()
    nonisolated(unsafe) private static var cached: GuestFont?

    static func shared() throws -> GuestFont {
        lock.lock()
        defer { lock.unlock() }
        if let cached { return cached }
        var config = MachineConfiguration()
        config.serial = .none
        config.instructionCountShift = 2
        config.noReboot = true
        let machine = try Machine(config)
        for slice in 1...20 {
            _ = machine.run(until: Double(slice))
            if (machine.textScreen() ?? []).joined().contains("No bootable device") { break }
        }
        // Byte o of plane p is at 4*o + p; font block 0 starts at plane offset 0.
        let vram = machine.board.vga.videoMemory
        let font = GuestFont(glyphs: (0..<256 * 32).map { vram[4 * $0 + 2] })
        cached = font
        return font
    }

    /// Where `text` appears in `image` drawn in 9×16 cells with this font
    /// (the ninth column blank): one colour wherever a glyph has a bit set,
    /// another wherever it has none.
    func find(_ text: String, in image: RGBImage) -> (x: Int, y: Int)? {
        let characters = Array(text.utf8)
        let width = 9 * characters.count, height = 16
        var mask = [Bool](repeating: false, count: width * height)
        for (i, c) in characters.enumerated() {
            for row in 0..<16 {
                let bits = glyphs[Int(c) * 32 + row]
                for column in 0..<8 where bits & (0x80 >> column) != 0 { mask[row * width + 9 * i + column] = true }
            }
        }
        guard image.width >= width, image.height >= height, let firstSet = mask.firstIndex(of: true) else { return nil }
        let firstClear = mask.firstIndex(of: false)!
        for y in 0...(image.height - height) {
            for x in 0...(image.width - width) {
                let foreground = image[x + firstSet % width, y + firstSet / width]
                let background = image[x + firstClear % width, y + firstClear / width]
                guard foreground != background else { continue }
                var matches = true
                for m in 0..<mask.count where image[x + m % width, y + m / width] != (mask[m] ? foreground : background) {
                    matches = false
                    break
                }
                if matches { return (x, y) }
            }
        }
        return nil
    }
}
