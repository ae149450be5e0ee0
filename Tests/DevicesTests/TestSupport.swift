import Devices

/// An interrupt controller stand-in that records what devices do to their lines.
final class RecordingInterruptSink: InterruptSink {
    private(set) var levels = [Int: Bool]()
    private(set) var risingEdges = [Int: Int]()

    func setIRQ(_ line: Int, _ level: Bool) {
        if level && levels[line] != true { risingEdges[line, default: 0] += 1 }
        levels[line] = level
    }

    func level(_ line: Int) -> Bool { levels[line] ?? false }
    func edges(_ line: Int) -> Int { risingEdges[line] ?? 0 }
}

extension PortDevice {
    func outb(_ port: UInt16, _ value: UInt8) { portWrite(port, size: 1, value: UInt32(value)) }
    func inb(_ port: UInt16) -> UInt8 { UInt8(truncatingIfNeeded: portRead(port, size: 1)) }
}

/// A clock whose time the test sets: instruction-count mode with one
/// nanosecond per instruction.
func manualClock() -> MachineClock { MachineClock(mode: .instructionCount(shift: 0)) }

extension MachineClock {
    func set(nanoseconds: UInt64) { instructions = nanoseconds }
}
