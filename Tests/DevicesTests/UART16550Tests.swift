import XCTest
import Devices

final class UART16550Tests: XCTestCase {
    let clock = manualClock()
    let sink = RecordingInterruptSink()
    lazy var uart = UART16550(irq: InterruptLine(sink, 4), clock: clock)
    var sent: [UInt8] = []

    override func setUp() { uart.output = { [unowned self] in self.sent.append($0) } }

    // Register offsets from COM1's base.
    let rbr: UInt16 = 0x3F8, ier: UInt16 = 0x3F9, iir: UInt16 = 0x3FA, lcr: UInt16 = 0x3FB
    let mcr: UInt16 = 0x3FC, lsr: UInt16 = 0x3FD, msr: UInt16 = 0x3FE, scr: UInt16 = 0x3FF

    /// Linux's 8250 autoconfig: IER must hold what is written, loopback
    /// must route RTS/OUT2 to CTS/DCD, and IIR bits 7:6 identify the FIFOs.
    func testLinuxAutoconfigProbe() {
        uart.outb(ier, 0x00)
        XCTAssertEqual(uart.inb(ier) & 0x0F, 0x00)
        uart.outb(ier, 0x0F)
        XCTAssertEqual(uart.inb(ier) & 0x0F, 0x0F)
        uart.outb(ier, 0xFF)
        XCTAssertEqual(uart.inb(ier), 0x0F, "IER bits 4–7 are not implemented in a 16550A")
        uart.outb(ier, 0x00)

        uart.outb(mcr, 0x1A)           // loopback, OUT2, RTS
        XCTAssertEqual(uart.inb(msr) & 0xF0, 0x90)
        uart.outb(mcr, 0x00)

        uart.outb(0x3FA, 0x01)         // FCR: enable FIFOs
        XCTAssertEqual(uart.inb(iir) >> 6, 3, "16550A")
        uart.outb(lcr, 0x80)
        uart.outb(0x3FA, 0x21)         // the 16750's 64-byte FIFO bit, written with DLAB set
        XCTAssertEqual(uart.inb(iir) & 0xE0, 0xC0, "no 64-byte FIFO: not a 16750")
        uart.outb(lcr, 0x00)
        uart.outb(0x3FA, 0x00)
        XCTAssertEqual(uart.inb(iir) & 0xC0, 0x00)
        XCTAssertEqual(uart.inb(iir), 0x01, "no interrupt pending")
    }

    func testScratchAndDivisorLatch() {
        uart.outb(scr, 0xA5)
        XCTAssertEqual(uart.inb(scr), 0xA5)
        uart.outb(ier, 0x05)
        uart.outb(lcr, 0x83)
        uart.outb(rbr, 0x01); uart.outb(ier, 0x00)    // 115200 baud
        XCTAssertEqual(uart.inb(rbr), 0x01)
        XCTAssertEqual(uart.inb(ier), 0x00)
        uart.outb(lcr, 0x03)
        XCTAssertEqual(uart.inb(ier), 0x05, "IER untouched by divisor writes")
        XCTAssertEqual(uart.inb(lcr), 0x03)
    }

    func testLoopbackEchoesTransmittedBytes() {
        uart.outb(mcr, 0x10)
        uart.outb(rbr, 0x55)
        XCTAssertEqual(uart.inb(lsr) & 0x61, 0x61, "data ready, THR and transmitter empty")
        XCTAssertEqual(uart.inb(rbr), 0x55)
        XCTAssertEqual(uart.inb(lsr) & 0x01, 0)
        XCTAssertEqual(sent, [], "nothing leaves the chip in loopback")
        uart.receive([0x41])
        XCTAssertEqual(uart.inb(lsr) & 0x01, 0, "the serial input is disconnected in loopback")
    }

    func testTransmitReachesOutput() {
        for b in "hi\n".utf8 { uart.outb(rbr, b) }
        XCTAssertEqual(sent, Array("hi\n".utf8))
        XCTAssertEqual(uart.inb(lsr) & 0x60, 0x60)
    }

    func testTHREInterruptOnEnableAndClearedByIIRRead() {
        uart.outb(mcr, 0x08)           // OUT2 gates INTR onto IRQ4
        XCTAssertFalse(sink.level(4))
        uart.outb(ier, 0x02)
        XCTAssertTrue(sink.level(4))
        XCTAssertEqual(uart.inb(iir), 0x02)
        XCTAssertFalse(sink.level(4), "reading IIR cleared THRE")
        XCTAssertEqual(uart.inb(iir), 0x01)
        // Linux's UART_BUG_THRE test: re-enabling must raise it again.
        uart.outb(ier, 0x00)
        uart.outb(ier, 0x02)
        XCTAssertEqual(uart.inb(iir), 0x02)
    }

    func testEveryTHRWriteGivesTheEdgeTriggeredPICANewEdge() {
        uart.outb(mcr, 0x08)
        uart.outb(ier, 0x02)
        let before = sink.edges(4)
        uart.outb(rbr, 0x41)
        uart.outb(rbr, 0x42)
        XCTAssertEqual(sink.edges(4), before + 2)
        XCTAssertTrue(sink.level(4))
    }

    func testInterruptNeedsOUT2() {
        uart.outb(ier, 0x02)
        XCTAssertEqual(uart.inb(iir), 0x02, "pending inside the chip")
        uart.outb(ier, 0x00); uart.outb(ier, 0x02)
        XCTAssertFalse(sink.level(4), "but OUT2 is off")
    }

    func testInterruptPriorities() {
        uart.outb(mcr, 0x08)
        uart.outb(ier, 0x0F)
        uart.receive([1, 2])           // no FIFO: the second overruns the first
        XCTAssertEqual(uart.inb(iir), 0x06, "line status first")
        XCTAssertEqual(uart.inb(lsr) & 0x03, 0x03, "overrun and data ready")
        XCTAssertEqual(uart.inb(lsr) & 0x02, 0, "overrun cleared by reading LSR")
        XCTAssertEqual(uart.inb(iir), 0x04, "then received data")
        XCTAssertEqual(uart.inb(rbr), 2, "the newer character overwrote the holding register")
        XCTAssertEqual(uart.inb(iir), 0x02, "then THR empty")
        // Loopback with RTS and OUT2: CTS and DCD stay asserted, DSR follows DTR (low).
        uart.outb(mcr, 0x1A)
        XCTAssertEqual(uart.inb(iir), 0x00, "then modem status")
        XCTAssertEqual(uart.inb(msr), 0x90 | 0x02, "CTS, DCD; delta DSR")
        XCTAssertEqual(uart.inb(iir), 0x01)
    }

    func testFIFOTriggerLevel() {
        uart.outb(mcr, 0x08)
        uart.outb(0x3FA, 0x81)         // FIFOs on, trigger at 8
        uart.outb(ier, 0x01)
        uart.receive([1, 2, 3, 4, 5, 6, 7])
        XCTAssertEqual(uart.inb(iir), 0xC1)
        XCTAssertFalse(sink.level(4))
        uart.receive([8])
        XCTAssertEqual(uart.inb(iir), 0xC4)
        XCTAssertTrue(sink.level(4))
        var got: [UInt8] = []
        while uart.inb(lsr) & 1 != 0 { got.append(uart.inb(rbr)) }
        XCTAssertEqual(got, [1, 2, 3, 4, 5, 6, 7, 8])
    }

    func testCharacterTimeoutAfterFourCharacterTimes() {
        uart.outb(lcr, 0x83); uart.outb(rbr, 0x01); uart.outb(ier, 0x00); uart.outb(lcr, 0x03)  // 115200 8N1
        uart.outb(mcr, 0x08)
        uart.outb(0x3FA, 0xC1)         // trigger at 14
        uart.outb(ier, 0x01)
        var deadline: UInt64 = 0
        uart.onReschedule = { deadline = $0 }
        uart.receive([0x31])
        // 8N1 is 10 bits a character: 4 × 10 / 115200 s.
        XCTAssertEqual(Double(deadline), 4 * 10 / 115_200 * 1e9, accuracy: 10)
        XCTAssertEqual(uart.advance(to: 0), deadline)
        XCTAssertFalse(sink.level(4))
        clock.set(nanoseconds: deadline)
        _ = uart.advance(to: deadline)
        XCTAssertTrue(sink.level(4))
        XCTAssertEqual(uart.inb(iir), 0xCC)
        XCTAssertEqual(uart.inb(rbr), 0x31)
        XCTAssertEqual(uart.inb(iir), 0xC1, "reading the data ends the timeout")
    }

    func testFIFOOverrunKeepsTheFirstSixteen() {
        uart.outb(0x3FA, 0x01)
        XCTAssertEqual(uart.receiveRoom, 16)
        uart.receive(Array(0..<17))
        XCTAssertEqual(uart.receiveRoom, 0)
        XCTAssertEqual(uart.inb(lsr) & 0x02, 0x02)
        var got: [UInt8] = []
        while uart.inb(lsr) & 1 != 0 { got.append(uart.inb(rbr)) }
        XCTAssertEqual(got, Array(0..<16))
    }

    func testFIFOResetBitClearsReceiver() {
        uart.outb(0x3FA, 0x01)
        uart.receive([1, 2, 3])
        uart.outb(0x3FA, 0x03)
        XCTAssertEqual(uart.inb(lsr) & 0x01, 0)
    }
}
