/// A bounded first-in first-out queue of bytes: the UART's 16-byte FIFOs,
/// the PS/2 devices' output buffers. A ring over a fixed array, so pushing
/// and popping never allocate; pushing into a full queue is refused and the
/// caller decides what overrun means for its device.
struct ByteFIFO {
    private var storage: [UInt8]
    private var head = 0
    private(set) var count = 0

    init(capacity: Int) { storage = [UInt8](repeating: 0, count: capacity) }

    var capacity: Int { storage.count }
    var isEmpty: Bool { count == 0 }
    var isFull: Bool { count == storage.count }
    var first: UInt8? { isEmpty ? nil : storage[head] }

    /// Appends `byte`; false (and nothing stored) when full.
    @discardableResult
    mutating func push(_ byte: UInt8) -> Bool {
        guard !isFull else { return false }
        storage[(head + count) % storage.count] = byte
        count += 1
        return true
    }

    mutating func pop() -> UInt8? {
        guard !isEmpty else { return nil }
        let byte = storage[head]
        head = (head + 1) % storage.count
        count -= 1
        return byte
    }

    mutating func removeAll() { head = 0; count = 0 }
}
