/// What the VGA's scan-out reads, taken at one instant: the registers that
/// shape the picture (sequencer, graphics controller, attribute controller,
/// CRTC), the DAC, the Bochs VBE mode, and where video memory is. The
/// renderer (VGA+Render.swift) and the mode and text-screen readers
/// (VGA+Display.swift) work on it, so a front end can take one on the
/// machine's thread and turn it into pixels on its own thread.
///
/// The registers are a consistent copy: the register files are copy-on-write
/// arrays, so taking a snapshot costs a few reference counts, and the VGA's
/// next write to a register file copies the VGA's own array instead of
/// changing the snapshot. Video memory is *not* copied: rendering reads it
/// while the guest may be writing it, so a frame can show a half-finished
/// guest update, which the next frame corrects (the tearing a real monitor
/// shows too). Every read stays inside VRAM, whatever the registers say.
public struct VGAScanout: @unchecked Sendable {
    let sequencer: [UInt8]
    let graphics: [UInt8]
    /// Bit 5 clear: the palette is being loaded and the screen shows nothing.
    let attributeAddress: UInt8
    let attribute: [UInt8]
    let crtc: [UInt8]
    let dac: VGADAC
    let vbe: BochsVBE
    let framebufferIsBigEndian: Bool
    /// The VGA's video memory itself (`VGA.videoMemorySize` bytes), shared
    /// with the running card.
    let videoMemory: UnsafePointer<UInt8>
}

extension VGA {
    /// The scan-out's view of the card now. Take it on the thread that runs
    /// the machine; the value can then go to any thread.
    public var scanout: VGAScanout {
        VGAScanout(sequencer: sequencer, graphics: graphics, attributeAddress: attributeAddress,
                   attribute: attribute, crtc: crtc, dac: dac, vbe: vbe,
                   framebufferIsBigEndian: framebufferIsBigEndian, videoMemory: UnsafePointer(videoMemory))
    }

    public var mode: DisplayMode { scanout.mode }

    /// Draws the current picture into `pixels` (see `VGAScanout.render(into:)`).
    @discardableResult
    public func render(into pixels: UnsafeMutableBufferPointer<UInt32>) -> (width: Int, height: Int) {
        scanout.render(into: pixels)
    }

    /// The current text screen, or nil in graphics and VBE modes.
    public func textScreen() -> TextScreen? { scanout.textScreen() }
}
