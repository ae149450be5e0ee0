import Devices
import MMU
import XCTest

/// Register values of the standard IBM VGA BIOS modes (the parameter
/// table every VGA BIOS carries), and a bench that programs them through
/// the ports the way a BIOS does.
struct VGAModeRegisters {
    var misc: UInt8
    var sequencer: [UInt8]   // SR0–SR4
    var crtc: [UInt8]        // CR00–CR18
    var attribute: [UInt8]   // AR00–AR14
    var graphics: [UInt8]    // GR0–GR8

    /// Mode 3: 80×25 colour text, 9×16 cells.
    static let text80x25 = VGAModeRegisters(
        misc: 0x67,
        sequencer: [0x03, 0x00, 0x03, 0x00, 0x02],
        crtc: [0x5F, 0x4F, 0x50, 0x82, 0x55, 0x81, 0xBF, 0x1F, 0x00, 0x4F, 0x0D, 0x0E, 0x00, 0x00, 0x00, 0x00,
               0x9C, 0x8E, 0x8F, 0x28, 0x1F, 0x96, 0xB9, 0xA3, 0xFF],
        attribute: [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F,
                    0x0C, 0x00, 0x0F, 0x08, 0x00],
        graphics: [0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0E, 0x00, 0xFF])

    /// Mode 12h: 640×480, 16 colours, planar.
    static let planar640x480 = VGAModeRegisters(
        misc: 0xE3,
        sequencer: [0x03, 0x01, 0x0F, 0x00, 0x06],
        crtc: [0x5F, 0x4F, 0x50, 0x82, 0x54, 0x80, 0x0B, 0x3E, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
               0xEA, 0x8C, 0xDF, 0x28, 0x00, 0xE7, 0x04, 0xE3, 0xFF],
        attribute: [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F,
                    0x01, 0x00, 0x0F, 0x00, 0x00],
        graphics: [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x0F, 0xFF])

    /// Mode 13h: 320×200, 256 colours, chain-4.
    static let chained320x200 = VGAModeRegisters(
        misc: 0x63,
        sequencer: [0x03, 0x01, 0x0F, 0x00, 0x0E],
        crtc: [0x5F, 0x4F, 0x50, 0x82, 0x54, 0x80, 0xBF, 0x1F, 0x00, 0x41, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
               0x9C, 0x8E, 0x8F, 0x28, 0x40, 0x96, 0xB9, 0xA3, 0xFF],
        attribute: [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F,
                    0x41, 0x00, 0x0F, 0x00, 0x00],
        graphics: [0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x05, 0x0F, 0xFF])
}

/// A VGA on its own physical memory and I/O bus, with a clock the test sets.
final class VGABench {
    let memory: PhysicalMemory
    let clock = MachineClock(mode: .instructionCount(shift: 0))
    let bus = IOBus()
    let vga: VGA

    init() throws {
        memory = try PhysicalMemory(ramSize: 1 << 20)
        vga = VGA(memory: memory, clock: clock)
        vga.register(on: bus)
    }

    func outb(_ port: UInt16, _ value: UInt8) { bus.write(port, size: 1, value: UInt32(value)) }
    func outw(_ port: UInt16, _ value: UInt16) { bus.write(port, size: 2, value: UInt32(value)) }
    func inb(_ port: UInt16) -> UInt8 { UInt8(bus.read(port, size: 1)) }
    func inw(_ port: UInt16) -> UInt16 { UInt16(bus.read(port, size: 2)) }

    func sequencer(_ index: UInt8, _ value: UInt8) { outb(0x3C4, index); outb(0x3C5, value) }
    func graphics(_ index: UInt8, _ value: UInt8) { outb(0x3CE, index); outb(0x3CF, value) }
    func crtc(_ index: UInt8, _ value: UInt8) { outb(0x3D4, index); outb(0x3D5, value) }

    func writeByte(_ address: UInt32, _ value: UInt8) { memory.write(address, size: 1, value: UInt32(value)) }
    func readByte(_ address: UInt32) -> UInt8 { UInt8(memory.read(address, size: 1)) }

    /// Byte `offset` of plane `plane`, straight from video memory.
    func plane(_ plane: Int, _ offset: Int) -> UInt8 { vga.videoMemory[offset * 4 + plane] }

    func dispi(_ index: UInt16, _ value: UInt16) { outw(0x1CE, index); outw(0x1CF, value) }
    func dispi(_ index: UInt16) -> UInt16 { outw(0x1CE, index); return inw(0x1CF) }

    /// Programs a mode the way a VGA BIOS's set-mode does: sequencer held
    /// in reset, misc output, the sequencer, CRTC (unlocked first), the
    /// graphics controller, then the attribute controller with the palette
    /// address source set again at the end so the picture shows.
    func program(_ mode: VGAModeRegisters) {
        sequencer(0, 0x01)
        outb(0x3C2, mode.misc)
        for (i, v) in mode.sequencer.enumerated() where i > 0 { sequencer(UInt8(i), v) }
        sequencer(0, mode.sequencer[0])
        crtc(0x11, mode.crtc[0x11] & 0x7F)
        for (i, v) in mode.crtc.enumerated() { crtc(UInt8(i), v) }
        for (i, v) in mode.graphics.enumerated() { graphics(UInt8(i), v) }
        _ = inb(0x3DA)
        for (i, v) in mode.attribute.enumerated() { outb(0x3C0, UInt8(i)); outb(0x3C0, v) }
        outb(0x3C0, 0x20)
    }
}
