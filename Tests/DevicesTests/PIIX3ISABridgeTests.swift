import XCTest
import Devices

final class PIIX3ISABridgeTests: XCTestCase {
    let sink = RecordingInterruptSink()
    lazy var piix = PIIX3ISABridge(interrupts: sink)

    /// SeaBIOS's piix_isa_bridge_setup: PIRQA–D to IRQ 10, 10, 11, 11.
    func routeLikeSeaBIOS() {
        for (i, irq) in [10, 10, 11, 11].enumerated() { piix.configWrite(0x60 + i, size: 1, value: UInt32(irq)) }
    }

    func testIdentity() {
        XCTAssertEqual(piix.configRead(0x00, size: 4), 0x7000_8086)
        XCTAssertEqual(piix.configRead(0x0E, size: 1), 0x80, "multi-function")
        XCTAssertEqual(piix.configRead(0x09, size: 4) & 0xFF_FFFF, 0x06_0100, "PCI-to-ISA bridge")
        XCTAssertEqual(piix.configRead(0x60, size: 4), 0x8080_8080, "PIRQs start unrouted")
        XCTAssertEqual(piix.configRead(0x4C, size: 1), 0x4D)
    }

    func testUnroutedPinsHaveNoIRQ() {
        XCTAssertNil(piix.irq(forPin: 1, slot: 3))
        XCTAssertNil(piix.irq(forPin: 0, slot: 3), "pin 0: no interrupt pin")
        XCTAssertNil(piix.irq(forPin: 5, slot: 3))
    }

    /// Must agree with the IRQ line SeaBIOS writes into each device's
    /// config space (src/fw/pciinit.c: pci_irqs[(pin - 1 + slot - 1) & 3]).
    func testSwizzleMatchesSeaBIOS() {
        routeLikeSeaBIOS()
        let seabiosIRQs = [10, 10, 11, 11]
        for slot in 1...6 {
            for pin in 1...4 {
                XCTAssertEqual(piix.irq(forPin: pin, slot: slot), seabiosIRQs[(pin - 1 + slot - 1) & 3],
                               "slot \(slot) pin \(pin)")
            }
        }
        XCTAssertEqual(piix.configRead(0x60, size: 4), 0x0B0B_0A0A, "routes read back")
    }

    func testReservedIRQsAreNotRouted() {
        piix.configWrite(0x60, size: 1, value: 0x0D)
        XCTAssertNil(piix.irq(forPin: 1, slot: 1))
        piix.configWrite(0x60, size: 1, value: 0x05)
        XCTAssertEqual(piix.irq(forPin: 1, slot: 1), 5)
    }

    func testSharedLevelInterrupts() {
        routeLikeSeaBIOS()
        piix.setPCIInterrupt(slot: 3, pin: 1, asserted: true)   // PIRQC → 11
        XCTAssertTrue(sink.level(11))
        piix.setPCIInterrupt(slot: 4, pin: 4, asserted: true)   // PIRQC again
        piix.setPCIInterrupt(slot: 3, pin: 1, asserted: false)
        XCTAssertTrue(sink.level(11), "the other device still holds the shared line")
        piix.setPCIInterrupt(slot: 4, pin: 4, asserted: false)
        XCTAssertFalse(sink.level(11))
    }

    func testRerouteMovesAnAssertedLine() {
        routeLikeSeaBIOS()
        piix.setPCIInterrupt(slot: 2, pin: 1, asserted: true)   // PIRQB → 10
        XCTAssertTrue(sink.level(10))
        piix.configWrite(0x61, size: 1, value: 0x05)
        XCTAssertFalse(sink.level(10))
        XCTAssertTrue(sink.level(5))
        piix.configWrite(0x61, size: 1, value: 0x80)
        XCTAssertFalse(sink.level(5))
    }
}
