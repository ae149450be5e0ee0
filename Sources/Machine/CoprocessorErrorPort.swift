import CPU
import Devices

/// PC/AT x87 error wiring: the CPU's FERR# output drives IRQ13, and a write
/// to port F0h clears the IRQ and asserts IGNNE# so the error handler's own
/// x87 instructions can run (MS-DOS-compatible mode, CR0.NE = 0). It joins
/// the CPU and the PIC, so it lives with the machine that has both.
final class CoprocessorErrorPort: PortDevice {
    private unowned let cpu: CPU
    private unowned let board: Motherboard

    init(cpu: CPU, board: Motherboard, bus: IOBus) {
        self.cpu = cpu
        self.board = board
        bus.register(self, ports: [0xF0])
        cpu.onFPUError = { [unowned self] asserted in
            self.board.fpuError(asserted)
            if !asserted { self.cpu.ignoreNumericError = false }
        }
    }

    func portRead(_ port: UInt16, size: Int) -> UInt32 { 0xFF }

    func portWrite(_ port: UInt16, size: Int, value: UInt32) {
        board.fpuError(false)
        cpu.ignoreNumericError = true
    }
}
