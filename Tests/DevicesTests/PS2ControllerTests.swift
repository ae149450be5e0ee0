import XCTest
import Devices

final class PS2ControllerTests: XCTestCase {
    let sink = RecordingInterruptSink()
    lazy var kbc = PS2Controller(keyboardIRQ: InterruptLine(sink, 1), mouseIRQ: InterruptLine(sink, 12))

    /// Reads every byte the controller has for the guest, as a BIOS polling
    /// status bit 0 does.
    func drain() -> [UInt8] {
        var bytes: [UInt8] = []
        while kbc.inb(0x64) & 0x01 != 0 { bytes.append(kbc.inb(0x60)) }
        return bytes
    }

    func controllerCommand(_ c: UInt8, _ data: UInt8? = nil) {
        kbc.outb(0x64, c)
        if let data { kbc.outb(0x60, data) }
    }

    func testSelfTestAnswers55AndSetsSystemFlag() {
        XCTAssertEqual(kbc.inb(0x64) & 0x04, 0)
        controllerCommand(0xAA)
        XCTAssertEqual(kbc.inb(0x64) & 0x01, 0x01)
        XCTAssertEqual(kbc.inb(0x60), 0x55)
        XCTAssertEqual(kbc.inb(0x64) & 0x05, 0x04, "buffer empty, system flag set")
        controllerCommand(0xAB)
        XCTAssertEqual(drain(), [0x00], "keyboard interface test passes")
    }

    func testCommandByteReadsBackAndStatusBit3TracksCommandWrites() {
        controllerCommand(0x60, 0x47)
        XCTAssertEqual(kbc.inb(0x64) & 0x08, 0, "last write went to the data port")
        controllerCommand(0x20)
        XCTAssertEqual(kbc.inb(0x64) & 0x08, 0x08)
        XCTAssertEqual(drain(), [0x47])
        controllerCommand(0xAD); controllerCommand(0xA7)
        controllerCommand(0x20)
        XCTAssertEqual(drain(), [0x47 | 0x30])
    }

    func testKeyboardResetAnswersAckThenSelfTestPassed() {
        kbc.outb(0x60, 0xFF)
        XCTAssertEqual(drain(), [0xFA, 0xAA])
    }

    func testIdentifyIsTranslatedLikeRealControllers() {
        // With translation on, the MF2 ID AB 83 arrives as AB 41 (Linux's atkbd accepts both).
        kbc.outb(0x60, 0xF2)
        XCTAssertEqual(drain(), [0xFA, 0xAB, 0x41])
        controllerCommand(0x60, 0x00)   // translation off
        kbc.outb(0x60, 0xF2)
        XCTAssertEqual(drain(), [0xFA, 0xAB, 0x83])
    }

    func testKeysAreTranslatedToSet1() {
        kbc.keyboardScancodes([0x1C, 0xF0, 0x1C])           // A pressed and released
        XCTAssertEqual(drain(), [0x1E, 0x9E])
        kbc.keyboardScancodes([0xE0, 0x75, 0xE0, 0xF0, 0x75])  // cursor up
        XCTAssertEqual(drain(), [0xE0, 0x48, 0xE0, 0xC8])
        controllerCommand(0x60, 0x00)
        kbc.keyboardScancodes([0x1C, 0xF0, 0x1C])
        XCTAssertEqual(drain(), [0x1C, 0xF0, 0x1C], "raw set 2 without translation")
    }

    func testScanCodeSetSelection() {
        controllerCommand(0x60, 0x00)
        kbc.outb(0x60, 0xF0); kbc.outb(0x60, 0x00)
        XCTAssertEqual(drain(), [0xFA, 0xFA, 0x02])
        kbc.outb(0x60, 0xF0); kbc.outb(0x60, 0x01)
        XCTAssertEqual(drain(), [0xFA, 0xFA])
        kbc.keyboardScancodes([0x76, 0xF0, 0x76])   // Escape in set 1, by the keyboard itself
        XCTAssertEqual(drain(), [0x01, 0x81])
    }

    func testKeyboardCommandsAcknowledge() {
        kbc.outb(0x60, 0xED); kbc.outb(0x60, 0x07)
        XCTAssertEqual(drain(), [0xFA, 0xFA])
        XCTAssertEqual(kbc.keyboardLEDs, 0x07)
        kbc.outb(0x60, 0xEE)
        XCTAssertEqual(drain(), [0xEE])
        kbc.outb(0x60, 0xF3); kbc.outb(0x60, 0x20)
        XCTAssertEqual(drain(), [0xFA, 0xFA])
        kbc.outb(0x60, 0xF5)
        XCTAssertEqual(drain(), [0xFA])
        kbc.keyboardScancodes([0x1C])
        XCTAssertEqual(drain(), [], "scanning disabled")
        kbc.outb(0x60, 0xF4)
        kbc.keyboardScancodes([0x1C])
        XCTAssertEqual(drain(), [0xFA, 0x1E])
    }

    func testDisabledKeyboardInterfaceHoldsBytes() {
        controllerCommand(0xAD)
        kbc.keyboardScancodes([0x1C])
        XCTAssertEqual(drain(), [])
        controllerCommand(0xAE)
        XCTAssertEqual(drain(), [0x1E])
    }

    func testKeyboardInterruptFollowsOutputBuffer() {
        controllerCommand(0x60, 0x41)   // translate, IRQ1 enabled
        kbc.keyboardScancodes([0x1C, 0xF0, 0x1C])
        XCTAssertTrue(sink.level(1))
        XCTAssertEqual(kbc.inb(0x60), 0x1E)
        XCTAssertTrue(sink.level(1), "the next byte moved in")
        XCTAssertEqual(sink.edges(1), 2)
        XCTAssertEqual(kbc.inb(0x60), 0x9E)
        XCTAssertFalse(sink.level(1))
    }

    func testA20GateThroughOutputPort() {
        var a20: [Bool] = []
        kbc.onA20Change = { a20.append($0) }
        controllerCommand(0xD1, 0xDD)   // A20 off (bit 0 kept high: no reset)
        controllerCommand(0xD1, 0xDF)   // A20 on
        XCTAssertEqual(a20, [false, true])
        XCTAssertTrue(kbc.a20Enabled)
        controllerCommand(0xD0)
        XCTAssertEqual(drain().first.map { $0 & 0x03 }, 0x03)
    }

    func testResetThroughPulseAndOutputPort() {
        var resets = 0
        kbc.onResetRequest = { resets += 1 }
        controllerCommand(0xFF)          // pulses nothing that matters
        XCTAssertEqual(resets, 0)
        controllerCommand(0xFE)
        XCTAssertEqual(resets, 1)
        controllerCommand(0xD1, 0x02)    // bit 0 low: reset
        XCTAssertEqual(resets, 2)
    }

    func testMouseResetAndIdentifyThroughD4() {
        controllerCommand(0xA8)
        controllerCommand(0xD4, 0xFF)
        XCTAssertEqual(drain(), [0xFA, 0xAA, 0x00])
        XCTAssertEqual(kbc.inb(0x64) & 0x20, 0)
        controllerCommand(0xD4, 0xF2)
        XCTAssertEqual(kbc.inb(0x64) & 0x21, 0x21, "byte comes from the aux device")
        XCTAssertEqual(drain(), [0xFA, 0x00])
    }

    func testMouseStreamPacketsAndIRQ12() {
        controllerCommand(0x60, 0x47)   // both interrupts, translation
        controllerCommand(0xD4, 0xF4)
        XCTAssertEqual(drain(), [0xFA])
        kbc.mouseMotion(dx: 5, dy: -3, buttons: [.left])   // 3 up on screen
        XCTAssertTrue(sink.level(12))
        XCTAssertFalse(sink.level(1))
        XCTAssertEqual(drain(), [0x09, 0x05, 0x03])
        kbc.mouseMotion(dx: -2, dy: 4, buttons: [])
        XCTAssertEqual(drain(), [0x38, 0xFE, 0xFC], "negative X and Y set the sign bits")
    }

    func testMouseStatusRateResolutionAndScaling() {
        for b: UInt8 in [0xF3, 40, 0xE8, 3, 0xE7] { controllerCommand(0xD4, b) }
        XCTAssertEqual(drain(), [0xFA, 0xFA, 0xFA, 0xFA, 0xFA])
        controllerCommand(0xD4, 0xE9)
        XCTAssertEqual(drain(), [0xFA, 0x10, 0x03, 40], "scaling 2:1, resolution 3, 40 samples/s")
        controllerCommand(0xD4, 0xF3); controllerCommand(0xD4, 33)
        XCTAssertEqual(drain(), [0xFA, 0xFE], "33 is not a sample rate")
    }

    func testMouseRemoteModeReadData() {
        controllerCommand(0xD4, 0xF0)
        kbc.mouseMotion(dx: 10, dy: 0, buttons: [.right])
        XCTAssertEqual(drain(), [0xFA], "remote mode sends nothing unasked")
        controllerCommand(0xD4, 0xEB)
        XCTAssertEqual(drain(), [0xFA, 0x0A, 0x0A, 0x00])
    }

    func testIntelliMouseMagicSequence() {
        for rate: UInt8 in [200, 100, 80] { controllerCommand(0xD4, 0xF3); controllerCommand(0xD4, rate) }
        controllerCommand(0xD4, 0xF2)
        XCTAssertEqual(drain().suffix(2), [0xFA, 0x03])
        controllerCommand(0xD4, 0xF4)
        _ = drain()
        kbc.mouseMotion(dx: 0, dy: 0, dz: -1, buttons: [])
        XCTAssertEqual(drain(), [0x08, 0x00, 0x00, 0xFF])
    }

    func testAuxLoopbackThroughD3() {
        controllerCommand(0x60, 0x02)   // IRQ12 only
        controllerCommand(0xD3, 0x5A)
        XCTAssertTrue(sink.level(12))
        XCTAssertEqual(kbc.inb(0x64) & 0x20, 0x20)
        XCTAssertEqual(kbc.inb(0x60), 0x5A)
    }
}
