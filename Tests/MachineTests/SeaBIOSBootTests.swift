import Foundation
import XCTest
@testable import Machine

/// Whole-machine test with real firmware: Debian's SeaBIOS boots on the
/// emulated PC. What is checked comes from SeaBIOS itself — its debug log
/// and the text it puts on the VGA screen — not from our own expectations.
final class SeaBIOSBootTests: XCTestCase {
    func testSeaBIOSBootsToNoBootableDevice() throws {
        #if DEBUG
        throw XCTSkip("whole-machine boots need a release build: run swift test -c release (scripts/test.sh)")
        #endif
        guard FileManager.default.fileExists(atPath: MachineConfiguration.defaultBIOS) else {
            throw XCTSkip("SeaBIOS is not installed (apt-get install seabios)")
        }
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("novabox-seabios-\(getpid()).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        var config = MachineConfiguration()
        config.serial = .none
        config.debugConsole = .file(log)
        config.instructionCountShift = 2   // deterministic: 4 ns per instruction
        config.timeLimit = 20
        config.noReboot = true
        let machine = try Machine(config)

        // Run in slices until SeaBIOS gives up on booting (it then retries
        // every 60 s: the screen is final long before that).
        var screen: [String] = []
        var debugLog = ""
        var reason: Machine.ExitReason = .stopped
        for slice in 1...20 {
            reason = machine.run(until: Double(slice))
            debugLog = (try? String(contentsOfFile: log, encoding: .isoLatin1)) ?? ""
            screen = machine.textScreen() ?? []
            if screen.joined().contains("No bootable device") { break }
            if reason != .timeLimit { break }
        }
        XCTAssertTrue(debugLog.contains("SeaBIOS (version"), "SeaBIOS's log never started:\n\(debugLog.suffix(2000))")
        XCTAssertTrue(debugLog.contains("Booting from"), "POST did not reach the boot phase:\n\(debugLog.suffix(3000))")
        let text = screen.joined(separator: "\n")
        XCTAssertTrue(text.contains("SeaBIOS (version"), "no SeaBIOS banner on the VGA screen:\n\(text)")
        XCTAssertTrue(text.contains("No bootable device"), "no 'No bootable device' on the VGA screen:\n\(text)\n--- log tail:\n\(debugLog.suffix(3000))")
    }
}
