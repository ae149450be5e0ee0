import Glibc
import Machine

/// Feeds standard input to COM1 when the serial port is on stdio: a reader
/// thread hands bytes to the machine's thread through a locked queue.
enum SerialInput {
    static func start(_ machine: Machine) {
        guard machine.configuration.serial == .stdio else { return }
        let queue = machine.serialInputQueue
        Thread.detach {
            var buffer = [UInt8](repeating: 0, count: 256)
            while true {
                let n = read(0, &buffer, buffer.count)
                if n <= 0 { return }
                queue.push(Array(buffer[0..<n]))
            }
        }
    }
}
