import XCTest
import Devices

final class ProgrammableInterruptControllerTests: XCTestCase {
    /// The initialization every PC BIOS does: ICW1 11h (edge, cascade, ICW4),
    /// vectors 08h and 70h, slave on IR2, 8086 mode.
    func biosInitialized() -> ProgrammableInterruptController {
        let pic = ProgrammableInterruptController()
        pic.outb(0x20, 0x11); pic.outb(0x21, 0x08); pic.outb(0x21, 0x04); pic.outb(0x21, 0x01)
        pic.outb(0xA0, 0x11); pic.outb(0xA1, 0x70); pic.outb(0xA1, 0x02); pic.outb(0xA1, 0x01)
        return pic
    }

    func readISR(_ pic: ProgrammableInterruptController, _ port: UInt16) -> UInt8 {
        pic.outb(port, 0x0B)   // OCW3: read ISR
        let v = pic.inb(port)
        pic.outb(port, 0x0A)   // back to IRR
        return v
    }

    func testKeyboardInterruptDeliversVector9AndEOIClearsService() {
        let pic = biosInitialized()
        XCTAssertFalse(pic.hasPendingInterrupt)
        pic.setIRQ(1, true)
        XCTAssertTrue(pic.hasPendingInterrupt)
        XCTAssertEqual(pic.inb(0x20), 0x02, "IRR shows IR1")
        XCTAssertEqual(pic.acknowledge(), 0x09)
        XCTAssertEqual(readISR(pic, 0x20), 0x02)
        XCTAssertEqual(pic.inb(0x20), 0x00, "IRR bit cleared by INTA")
        XCTAssertFalse(pic.hasPendingInterrupt)
        pic.outb(0x20, 0x20)   // non-specific EOI
        XCTAssertEqual(readISR(pic, 0x20), 0x00)
    }

    func testFixedPriorityAndNesting() {
        let pic = biosInitialized()
        pic.setIRQ(3, true); pic.setIRQ(1, true)
        XCTAssertEqual(pic.acknowledge(), 0x09, "IR1 outranks IR3")
        XCTAssertFalse(pic.hasPendingInterrupt, "IR3 waits while IR1 is in service")
        pic.setIRQ(0, true)
        XCTAssertTrue(pic.hasPendingInterrupt, "IR0 may interrupt IR1's handler")
        XCTAssertEqual(pic.acknowledge(), 0x08)
        pic.outb(0x20, 0x20)   // ends IR0 (the highest in service)
        XCTAssertEqual(readISR(pic, 0x20), 0x02)
        pic.outb(0x20, 0x61)   // specific EOI for IR1
        XCTAssertEqual(pic.acknowledge(), 0x0B)
    }

    func testMaskedLinesDoNotDeliverUntilUnmasked() {
        let pic = biosInitialized()
        pic.outb(0x21, 0x02)
        pic.setIRQ(1, true)
        XCTAssertFalse(pic.hasPendingInterrupt)
        XCTAssertEqual(pic.inb(0x21), 0x02)
        pic.outb(0x21, 0x00)
        XCTAssertTrue(pic.hasPendingInterrupt)
    }

    func testSlaveInterruptsCascadeThroughIR2() {
        let pic = biosInitialized()
        pic.setIRQ(8, true)
        XCTAssertTrue(pic.hasPendingInterrupt)
        XCTAssertEqual(pic.acknowledge(), 0x70)
        XCTAssertEqual(readISR(pic, 0x20), 0x04)
        XCTAssertEqual(readISR(pic, 0xA0), 0x01)
        // Masking IR2 on the master hides every slave line.
        pic.outb(0xA0, 0x20); pic.outb(0x20, 0x20)
        pic.outb(0x21, 0x04)
        pic.setIRQ(14, true)
        XCTAssertFalse(pic.hasPendingInterrupt)
        pic.outb(0x21, 0x00)
        XCTAssertEqual(pic.acknowledge(), 0x76)
    }

    func testISABusIRQ2ArrivesAsIRQ9() {
        let pic = biosInitialized()
        pic.setIRQ(2, true)
        XCTAssertEqual(pic.acknowledge(), 0x71)
    }

    func testEdgeTriggeredLineLatchesOneRequestPerRisingEdge() {
        let pic = biosInitialized()
        pic.setIRQ(4, true); pic.setIRQ(4, false)
        pic.setIRQ(4, true); pic.setIRQ(4, false)
        XCTAssertEqual(pic.acknowledge(), 0x0C)
        pic.outb(0x20, 0x20)
        XCTAssertFalse(pic.hasPendingInterrupt, "two edges before INTA are one request")
        // A line held high raises no second request after EOI.
        pic.setIRQ(4, true)
        XCTAssertEqual(pic.acknowledge(), 0x0C)
        pic.outb(0x20, 0x20)
        XCTAssertFalse(pic.hasPendingInterrupt)
    }

    func testLevelTriggeredLineRequestsAgainWhileHeld() {
        let pic = biosInitialized()
        pic.outb(0x4D1, 0x0C)   // IRQ10 and IRQ11 level-triggered, as SeaBIOS sets for PCI
        XCTAssertEqual(pic.inb(0x4D1), 0x0C)
        pic.setIRQ(11, true)
        XCTAssertEqual(pic.acknowledge(), 0x73)
        pic.outb(0xA0, 0x20); pic.outb(0x20, 0x20)
        XCTAssertTrue(pic.hasPendingInterrupt, "still asserted after EOI")
        pic.setIRQ(11, false)
        XCTAssertFalse(pic.hasPendingInterrupt, "request follows the line")
    }

    func testELCRReservedBitsStayEdge() {
        let pic = biosInitialized()
        pic.outb(0x4D0, 0xFF); pic.outb(0x4D1, 0xFF)
        XCTAssertEqual(pic.inb(0x4D0), 0xF8, "IRQ0–2 are edge only on the PIIX3")
        XCTAssertEqual(pic.inb(0x4D1), 0xDE, "IRQ8 and IRQ13 are edge only")
    }

    func testRequestWithdrawnBeforeINTAGivesSpuriousIRQ7() {
        let pic = biosInitialized()
        pic.outb(0x4D0, 0x20)   // IRQ5 level
        pic.setIRQ(5, true)
        XCTAssertTrue(pic.hasPendingInterrupt)
        pic.setIRQ(5, false)
        XCTAssertEqual(pic.acknowledge(), 0x0F)
        XCTAssertEqual(readISR(pic, 0x20), 0x00, "a spurious IR7 sets no in-service bit")
    }

    func testAutoEOILeavesNothingInService() {
        let pic = ProgrammableInterruptController()
        pic.outb(0x20, 0x11); pic.outb(0x21, 0x20); pic.outb(0x21, 0x04); pic.outb(0x21, 0x03)
        pic.setIRQ(6, true)
        XCTAssertEqual(pic.acknowledge(), 0x26)
        XCTAssertEqual(readISR(pic, 0x20), 0x00)
    }

    func testSetPriorityRotatesTheOrder() {
        let pic = biosInitialized()
        pic.outb(0x20, 0xC2)   // OCW2 set priority: IR2 lowest, so IR3 highest
        pic.setIRQ(1, true); pic.setIRQ(3, true)
        XCTAssertEqual(pic.acknowledge(), 0x0B)
        pic.outb(0x20, 0xA0)   // rotate on non-specific EOI: IR3 becomes lowest
        XCTAssertEqual(pic.acknowledge(), 0x09)
    }

    func testSpecialMaskModeLetsLowerLevelsIn() {
        let pic = biosInitialized()
        pic.setIRQ(1, true)
        XCTAssertEqual(pic.acknowledge(), 0x09)
        pic.setIRQ(5, true)
        XCTAssertFalse(pic.hasPendingInterrupt)
        pic.outb(0x21, 0x02)   // mask the level in service
        pic.outb(0x20, 0x68)   // OCW3: set special mask mode
        XCTAssertTrue(pic.hasPendingInterrupt)
        XCTAssertEqual(pic.acknowledge(), 0x0D)
    }

    func testPollCommandReturnsAndAcknowledgesHighestRequest() {
        let pic = biosInitialized()
        pic.setIRQ(3, true)
        pic.outb(0x20, 0x0C)   // OCW3 poll
        XCTAssertEqual(pic.inb(0x20), 0x83)
        XCTAssertEqual(readISR(pic, 0x20), 0x08)
        pic.outb(0x20, 0x0C)
        XCTAssertEqual(pic.inb(0x20), 0x00, "nothing left to poll")
    }

    func testReinitializationClearsMaskAndService() {
        let pic = biosInitialized()
        pic.outb(0x21, 0xFF)
        pic.setIRQ(0, true)
        pic.outb(0x20, 0x11); pic.outb(0x21, 0x08); pic.outb(0x21, 0x04); pic.outb(0x21, 0x01)
        XCTAssertEqual(pic.inb(0x21), 0x00)
        XCTAssertFalse(pic.hasPendingInterrupt, "the edge latch is reset by ICW1")
    }
}
