import Devices
import Glibc
import Machine
import MMU

/// The renderer's own CPU per frame: what the window's frame costs before
/// SDL uploads and presents, for a still and for a changing screen, in a
/// text mode and a Bochs VBE mode. The screens are real: SeaBIOS's text
/// screen (booted in this process, with the VGA BIOS's font and mode 3 as
/// its VGA BIOS sets them), then the same card switched to 1024×768×32
/// with the linear framebuffer where SeaBIOS put it. Changes go through
/// the guest's paths (the physical memory map, hence the VGA's window or
/// the framebuffer's host memory) so their change marks are the ones a
/// guest leaves. A frame is what the window does per frame: take the
/// changes (on the machine thread there) and update the kept picture. A
/// whole render of each screen is the cost every frame had without change
/// tracking.
enum RendererCost {
    static let frames = 600

    struct Figure {
        let name: String
        let microseconds: Double
    }

    /// This thread's CPU time in seconds.
    static func threadCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// CPU microseconds per frame of taking `vga`'s changes and updating
    /// `picture`, with `change(frame)` run before each frame (not timed).
    static func measure(_ name: String, _ vga: VGA, _ picture: VGAPicture, blinkStep: UInt64,
                        change: (Int) -> Void) -> Figure {
        var cpu = 0.0
        for frame in 0..<frames {
            change(frame)
            let start = threadCPUSeconds()
            _ = picture.update(from: vga.scanout, changes: vga.takeMemoryChanges(),
                               blink: BlinkPhase(atNanoseconds: UInt64(frame) * blinkStep))
            cpu += threadCPUSeconds() - start
        }
        return Figure(name: name, microseconds: cpu / Double(frames) * 1e6)
    }

    /// CPU microseconds per whole render of `vga`'s picture: every frame's
    /// cost without change tracking, for comparison.
    static func measureWholeRender(_ name: String, _ vga: VGA) -> Figure {
        var pixels = [UInt32](repeating: 0, count: vga.mode.width * vga.mode.height)
        let start = threadCPUSeconds()
        for _ in 0..<frames / 10 {
            pixels.withUnsafeMutableBufferPointer { _ = vga.scanout.render(into: $0) }
        }
        return Figure(name: name, microseconds: (threadCPUSeconds() - start) / Double(frames / 10) * 1e6)
    }

    static func run() throws -> [Figure] {
        var config = MachineConfiguration()
        config.serial = .none
        config.instructionCountShift = 2
        config.noReboot = true
        let machine = try Machine(config)
        for slice in 1...20 {
            _ = machine.run(until: Double(slice))
            if (machine.textScreen() ?? []).joined().contains("No bootable device") { break }
        }
        let vga = machine.board.vga, memory = machine.memory
        let picture = VGAPicture()
        // The window's frames come at 60 Hz; the blink advances by the window's clock.
        let frameNanoseconds: UInt64 = 1_000_000_000 / 60
        var figures: [Figure] = []
        _ = picture.update(from: vga.scanout, changes: vga.takeMemoryChanges(), blink: .steady)
        figures.append(measure("text 80×25, still (cursor blinking)", vga, picture, blinkStep: frameNanoseconds) { _ in })
        figures.append(measure("text 80×25, a character a frame", vga, picture, blinkStep: frameNanoseconds) { frame in
            memory.write(0xB8000 + UInt32(frame % 2000) * 2, size: 2, value: 0x1F41 + UInt32(frame % 26))
        })
        figures.append(measureWholeRender("text 80×25, whole render", vga))

        // 1024×768×32 with the linear framebuffer, through the DISPI ports.
        for (index, value) in [(1, 1024), (2, 768), (3, 32), (4, 0x41)] as [(UInt32, UInt32)] {
            vga.portWrite(0x1CE, size: 2, value: index)
            vga.portWrite(0x1CF, size: 2, value: value)
        }
        let framebuffer = machine.board.vgaPCI.barAddress(0)
        _ = picture.update(from: vga.scanout, changes: vga.takeMemoryChanges(), blink: .steady)
        figures.append(measure("VBE 1024×768×32, still", vga, picture, blinkStep: frameNanoseconds) { _ in })
        figures.append(measure("VBE 1024×768×32, a pixel a frame", vga, picture, blinkStep: frameNanoseconds) { frame in
            memory.write(framebuffer + UInt32(frame % 768) * 4096 + 40, size: 4, value: UInt32(frame) &* 0x10101)
        })
        let wholeScreen = [UInt8](repeating: 0x5A, count: 1024 * 768 * 4)
        figures.append(measure("VBE 1024×768×32, every pixel a frame", vga, picture, blinkStep: frameNanoseconds) { frame in
            wholeScreen.withUnsafeBytes { memory.copyIn(framebuffer, from: $0) }
        })
        figures.append(measureWholeRender("VBE 1024×768×32, whole render", vga))
        return figures
    }
}
