import XCTest
import Devices
import MMU

final class I440FXHostBridgeTests: XCTestCase {
    var memory: PhysicalMemory!
    var bridge: I440FXHostBridge!
    let pci = PCIBus()
    /// A 256 KiB BIOS image: each byte holds its 4 KiB page number within the image.
    let image = (0..<0x4_0000).map { UInt8($0 >> 12) }

    override func setUpWithError() throws {
        memory = try PhysicalMemory(ramSize: 2 << 20)
        let rom = memory.addROM(image)
        bridge = I440FXHostBridge(memory: memory,
                                  romSource: I440FXHostBridge.biosWindow(arenaOffset: rom, imageSize: image.count))
        pci.attach(bridge, slot: 0)
    }

    func configRead(_ offset: UInt32, size: Int = 4) -> UInt32 {
        pci.portWrite(0xCF8, size: 4, value: 0x8000_0000 | offset & 0xFC)
        return pci.portRead(0xCFC + UInt16(offset & 3), size: size)
    }

    func configWrite(_ offset: UInt32, _ value: UInt32, size: Int = 1) {
        pci.portWrite(0xCF8, size: 4, value: 0x8000_0000 | offset & 0xFC)
        pci.portWrite(0xCFC + UInt16(offset & 3), size: size, value: value)
    }

    func testIdentityAsSeaBIOSDetectsQEMU() {
        XCTAssertEqual(configRead(0x00), 0x1237_8086)
        XCTAssertEqual(configRead(0x08) >> 8, 0x06_0000, "host bridge class")
        XCTAssertEqual(configRead(0x2C), 0x1100_1AF4, "Red Hat / QEMU subsystem: SeaBIOS's qemu_detect")
        XCTAssertEqual(configRead(0x72, size: 1), 0x02, "SMRAM reset value")
    }

    func testBIOSWindowMapsTheImageTailBelow1MiB() {
        // Physical F0000h is 64 KiB before the end of the image: offset 30000h.
        XCTAssertEqual(memory.read(0xF_0000, size: 1), 0x30)
        XCTAssertEqual(memory.read(0xF_FFF0, size: 1), 0x3F)
        XCTAssertEqual(memory.read(0xE_0100, size: 1), 0x20, "E0000h is image offset 20000h")
        XCTAssertEqual(memory.read(0xC_0000, size: 1), 0xFF, "no ROM at C0000h: the bus floats")
    }

    func testPAMSwitchesF0000BetweenROMAndRAM() {
        memory.ram[0xF_0123] = 0x77   // what RAM holds underneath
        XCTAssertEqual(memory.read(0xF_0123, size: 1), 0x30, "reset: reads from ROM")
        memory.write(0xF_0123, size: 1, value: 0x55)
        XCTAssertEqual(memory.ram[0xF_0123], 0x77, "reset: writes dropped")

        configWrite(0x59, 0x20)        // write-enable only: the BIOS copies itself
        memory.write(0xF_0123, size: 1, value: 0x55)
        XCTAssertEqual(memory.read(0xF_0123, size: 1), 0x30, "still reading ROM")
        XCTAssertEqual(memory.ram[0xF_0123], 0x55)

        configWrite(0x59, 0x10)        // read-enable only: shadowed and write-protected
        XCTAssertEqual(memory.read(0xF_0123, size: 1), 0x55)
        memory.write(0xF_0123, size: 1, value: 0x66)
        XCTAssertEqual(memory.read(0xF_0123, size: 1), 0x55)

        configWrite(0x59, 0x30)
        memory.write(0xF_0123, size: 1, value: 0x66)
        XCTAssertEqual(memory.read(0xF_0123, size: 1), 0x66)
        XCTAssertEqual(configRead(0x59, size: 1), 0x30)
        configWrite(0x59, 0xFF)
        XCTAssertEqual(configRead(0x59, size: 1), 0x30, "only bits 5:4 exist in PAM0")
    }

    func testPAMNibblesCover16KiBPieces() {
        memory.ram[0xC_0000] = 0x11
        memory.ram[0xC_4000] = 0x22
        memory.ram[0xE_C000] = 0x33
        configWrite(0x5A, 0x01)        // PAM1 low nibble: C0000–C3FFF readable
        XCTAssertEqual(memory.read(0xC_0000, size: 1), 0x11)
        XCTAssertEqual(memory.read(0xC_3FFF, size: 1), 0x00)
        XCTAssertEqual(memory.read(0xC_4000, size: 1), 0xFF, "C4000h is the high nibble's")
        configWrite(0x5F, 0x10)        // PAM6 high nibble: EC000–EFFFF
        XCTAssertEqual(memory.read(0xE_C000, size: 1), 0x33)
        XCTAssertEqual(memory.read(0xE_8000, size: 1), 0x28, "E8000h still the ROM (offset 28000h)")
    }

    /// SeaBIOS's make_bios_writable: dword read-modify-write of 58h–5Fh.
    func testDwordPAMWritesLikeSeaBIOS() {
        configWrite(0x58, 0x3333_3000, size: 4)
        configWrite(0x5C, 0x3333_3333, size: 4)
        XCTAssertEqual(configRead(0x58), 0x3333_3000)
        XCTAssertEqual(configRead(0x5C), 0x3333_3333)
        memory.write(0xD_0000, size: 4, value: 0xCAFE_F00D)
        XCTAssertEqual(memory.read(0xD_0000, size: 4), 0xCAFE_F00D)
    }

    func testSMRAMLock() {
        configWrite(0x72, 0x4A)        // D_OPEN, G_SMRAME
        XCTAssertEqual(configRead(0x72, size: 1), 0x4A)
        configWrite(0x72, 0x5A)        // D_LCK: D_OPEN is reset
        XCTAssertEqual(configRead(0x72, size: 1), 0x1A)
        configWrite(0x72, 0x42)        // cannot reopen nor unlock; G_SMRAME still writable
        XCTAssertEqual(configRead(0x72, size: 1), 0x12)
        configWrite(0x72, 0x07)
        XCTAssertEqual(configRead(0x72, size: 1) & 0x07, 0x02, "C_BASE_SEG is fixed")
    }

    func testResetRestoresROMReadsAndUnlocksSMRAM() {
        configWrite(0x59, 0x30)
        configWrite(0x72, 0x1A)
        memory.write(0xF_0000, size: 1, value: 0x99)
        bridge.reset()
        XCTAssertEqual(configRead(0x59, size: 1), 0)
        XCTAssertEqual(memory.read(0xF_0000, size: 1), 0x30)
        configWrite(0x72, 0x4A)
        XCTAssertEqual(configRead(0x72, size: 1), 0x4A)
    }

    func testDRAMRegistersReadBack() {
        configWrite(0x57, 0x01)
        configWrite(0x60, 0x0202_0202, size: 4)
        XCTAssertEqual(configRead(0x57, size: 1), 0x01)
        XCTAssertEqual(configRead(0x60), 0x0202_0202)
        configWrite(0x00, 0xFFFF_FFFF, size: 4)
        XCTAssertEqual(configRead(0x00), 0x1237_8086, "identity is read-only")
    }
}
