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

    func drain() -> [UInt8] {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        let out = pending
        pending.removeAll(keepingCapacity: true)
        hasData = false
        return out
    }
}
