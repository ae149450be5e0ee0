import Foundation
import XCTest
@testable import Machine

/// Bytes typed or pasted into the serial console reach the guest in order
/// and without loss: the machine hands the UART only as many as its
/// receiver holds, the rest wait in the queue. Checked with the 16550's
/// own line status register (an overrun sets LSR bit 1), which is what a
/// guest driver would see.
final class SerialInputTests: XCTestCase {
    static let lineStatus: UInt16 = 0x3FD, receiveBuffer: UInt16 = 0x3F8
    static let dataReady: UInt32 = 0x01, overrunError: UInt32 = 0x02

    func testAPastedLineWaitsForRoomInsteadOfOverrunning() throws {
        guard FileManager.default.fileExists(atPath: MachineConfiguration.defaultBIOS) else {
            throw XCTSkip("SeaBIOS is not installed (apt-get install seabios)")
        }
        var config = MachineConfiguration()
        config.serial = .none
        config.instructionCountShift = 2
        let machine = try Machine(config)
        let line = Array("echo a line longer than any receiver FIFO\n".utf8)
        machine.serialInputQueue.push(line)

        // The firmware never reads COM1: its receiver fills and the rest waits.
        var received: [UInt8] = []
        for _ in line {
            XCTAssertEqual(machine.run(until: Double(machine.clock.now) / 1e9 + 0.0001), .timeLimit)
            let status = machine.ioBus.read(SerialInputTests.lineStatus, size: 1)
            XCTAssertEqual(status & SerialInputTests.overrunError, 0, "the receiver overran after \(received.count) bytes")
            guard status & SerialInputTests.dataReady != 0 else { break }
            received.append(UInt8(machine.ioBus.read(SerialInputTests.receiveBuffer, size: 1)))
        }
        XCTAssertEqual(received, line)
    }

    func testQueueDrainsOldestFirstUpToTheLimit() {
        let queue = InputQueue()
        queue.push([1, 2, 3])
        queue.push([4, 5])
        XCTAssertEqual(queue.drain(upTo: 2), [1, 2])
        XCTAssertTrue(queue.hasData)
        XCTAssertEqual(queue.drain(upTo: 16), [3, 4, 5])
        XCTAssertFalse(queue.hasData)
        XCTAssertEqual(queue.drain(upTo: 16), [])
    }
}
