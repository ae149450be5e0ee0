import XCTest
import Devices

final class DebugPortTests: XCTestCase {
    /// SeaBIOS's qemu_debug_preinit keeps port 402h only if it reads back E9h.
    func testDebugConsolePresenceAndOutput() {
        let bus = IOBus()
        let console = DebugConsole()
        console.register(on: bus)
        var text: [UInt8] = []
        console.output = { text.append($0) }
        XCTAssertEqual(bus.read(0x402, size: 1), 0xE9)
        XCTAssertEqual(bus.read(0xE9, size: 1), 0xE9)
        for b in "SeaBIOS\n".utf8 { bus.write(0x402, size: 1, value: UInt32(b)) }
        bus.write(0xE9, size: 1, value: 0x21)
        XCTAssertEqual(String(decoding: text, as: UTF8.self), "SeaBIOS\n!")
    }

    func testPOSTCodesAreRememberedAndTraced() {
        let port = POSTCodePort()
        var codes: [UInt8] = []
        port.trace = { codes.append($0) }
        port.outb(0x80, 0x10)
        port.outb(0x80, 0xAA)
        XCTAssertEqual(port.lastCode, 0xAA)
        XCTAssertEqual(port.inb(0x80), 0xAA)
        XCTAssertEqual(codes, [0x10, 0xAA])
    }
}
