import Foundation
import XCTest
import Machine
@testable import Debugger

/// A firmware that triple-faults on purpose: at the reset vector it loads
/// an IDT limit of 0 and executes INT3. Real-mode delivery finds vector 3
/// beyond the limit: #GP; #GP's vector is beyond it too: #DF; and #DF's
/// too: shutdown (SDM vol. 3, 6.15 "Interrupt 8", table 6-5).
final class TripleFaultTests: XCTestCase {
    func firmware() throws -> String {
        var image = [UInt8](repeating: 0xFF, count: 64 << 10)
        let resetVector: [UInt8] = [
            0x2E, 0x0F, 0x01, 0x1E, 0xF8, 0xFF, // lidt cs:[0FFF8h]
            0xCC,                               // int3
            0xF4,                               // hlt (never reached)
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // IDT: limit 0, base 0
            0xFF, 0xFF,
        ]
        image.replaceSubrange((image.count - 16)..., with: resetVector)
        let path = NSTemporaryDirectory() + "novabox-triple-\(getpid()).bin"
        FileManager.default.createFile(atPath: path, contents: Data(image))
        return path
    }

    func testTheChainNamesTheVectorsAndTheFaultingInstruction() throws {
        let path = try firmware()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let t = try DebugTestMachine(bios: path, noReboot: true)
        t.session.history.recordInstructions(true)
        XCTAssertTrue(t.monitor.execute("break triple").first!.hasSuffix("break triple fault"))
        t.start()
        let m = try XCTUnwrap(MonitorClient(path: t.monitorPath))
        XCTAssertEqual(m.command("continue"), "")
        // The event stopped the machine at the shutdown.
        let stop = m.read(untilSuffix: MonitorPort.prompt)
        XCTAssertTrue(stop.contains("stopped: event 1: triple fault"), stop)
        let report = t.session.history.tripleFaultReport()
        let text = report.joined(separator: "\n")
        let chain = report.filter { $0.hasPrefix("  #") }.map { $0.split(separator: " ").first.map(String.init) ?? "" }
        // INT3 beyond the limit: #GP; delivering it: #GP again (two
        // contributory faults make #DF); delivering #DF: #GP → shutdown.
        XCTAssertEqual(chain, ["#GP", "#GP", "#DF", "#GP"], text)
        XCTAssertTrue(text.contains("faulting instruction: f000:0000fff6  int3"), text)
        XCTAssertTrue(text.contains("f000:0000fff0  lidt"), text)
        // Continued, -no-reboot ends the run with the triple fault.
        XCTAssertEqual(m.command("continue"), "")
        usleep(300_000)
        XCTAssertEqual(t.finish(), .guestReset(tripleFault: true))
    }
}
