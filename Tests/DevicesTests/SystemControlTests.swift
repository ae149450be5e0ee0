import XCTest
import Devices

final class SystemControlTests: XCTestCase {
    func testPort92FastA20AndReset() {
        let port = SystemControlPortA()
        var a20: [Bool] = [], resets = 0
        port.onA20Change = { a20.append($0) }
        port.onResetRequest = { resets += 1 }
        port.outb(0x92, 0x02)
        XCTAssertEqual(a20, [true])
        XCTAssertEqual(port.inb(0x92) & 0x02, 0x02)
        port.outb(0x92, 0x02)
        XCTAssertEqual(a20, [true], "no change, no callback")
        port.outb(0x92, 0x03)
        XCTAssertEqual(resets, 1, "bit 0 going high resets")
        port.outb(0x92, 0x03)
        XCTAssertEqual(resets, 1, "only the rising edge")
        port.outb(0x92, 0x00)
        XCTAssertEqual(a20, [true, false])
    }

    func testResetControlRegisterAtCF9() {
        let rcr = ResetControlRegister()
        var kinds: [ResetControlRegister.Kind] = []
        rcr.onResetRequest = { kinds.append($0) }
        rcr.outb(0xCF9, 0x02)           // Linux reboot=pci: SRST first,
        XCTAssertEqual(kinds, [])
        XCTAssertEqual(rcr.inb(0xCF9), 0x02)
        rcr.outb(0xCF9, 0x06)           // then RCPU
        rcr.outb(0xCF9, 0x0E)
        rcr.outb(0xCF9, 0x04)
        XCTAssertEqual(kinds, [.hard, .hard, .soft])
    }

    func testResetControlSharesThePCIWindow() {
        let bus = IOBus()
        let pci = PCIBus()
        bus.register(pci, ports: 0xCF8...0xCFF)
        let rcr = ResetControlRegister()
        rcr.register(on: bus)
        var resets = 0
        rcr.onResetRequest = { _ in resets += 1 }
        bus.write(0xCF8, size: 4, value: 0x8000_0000)
        XCTAssertEqual(bus.read(0xCF8, size: 4), 0x8000_0000, "32-bit CF8h still reaches PCI")
        XCTAssertEqual(resets, 0)
        bus.write(0xCF9, size: 1, value: 0x06)
        XCTAssertEqual(resets, 1)
    }
}
