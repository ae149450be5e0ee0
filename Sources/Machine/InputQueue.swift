import Glibc

/// Bytes handed from a host thread (stdin reader, later the window) to the
/// machine's thread, which drains them between run batches.
public final class InputQueue: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var pending: [UInt8] = []
    /// Read without the lock as a cheap hint; the drain takes the lock.
    private(set) var hasData = false

    public init() { pthread_mutex_init(&mutex, nil) }

    public func push(_ bytes: [UInt8]) {
        pthread_mutex_lock(&mutex)
        pending.append(contentsOf: bytes)
        hasData = true
        pthread_mutex_unlock(&mutex)
    }

    /// Takes up to `limit` of the oldest bytes; the rest stay queued in order.
    func drain(upTo limit: Int) -> [UInt8] {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        let count = min(limit, pending.count)
        let out = Array(pending[..<count])
        pending.removeFirst(count)
        hasData = !pending.isEmpty
        return out
    }
}
