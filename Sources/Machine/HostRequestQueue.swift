import Glibc
import Synchronization

/// Work that host threads (the window, later the monitor) need done on the
/// machine's thread, the only thread that may touch CPU and devices: a key
/// press for the keyboard, a display snapshot for the renderer, a pause.
/// The run loop runs queued work between instruction batches, and a halted
/// or paused machine waits on the queue, so work is picked up at once.
public final class HostRequestQueue: @unchecked Sendable {
    public typealias Work = @Sendable (Machine) -> Void

    private var mutex = pthread_mutex_t()
    private var posted = pthread_cond_t()
    private var pending: [Work] = []
    /// Read without the lock once per batch; set under it.
    private let hasPending = Atomic<Bool>(false)

    init() {
        pthread_mutex_init(&mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(&posted, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    /// Queues `work` to run on the machine's thread; callable from any thread.
    public func post(_ work: @escaping Work) {
        pthread_mutex_lock(&mutex)
        pending.append(work)
        hasPending.store(true, ordering: .releasing)
        pthread_cond_signal(&posted)
        pthread_mutex_unlock(&mutex)
    }

    var hasWork: Bool { hasPending.load(ordering: .acquiring) }

    /// Runs everything queued so far, in order (machine thread).
    func runAll(on machine: Machine) {
        pthread_mutex_lock(&mutex)
        let work = pending
        pending.removeAll(keepingCapacity: true)
        hasPending.store(false, ordering: .releasing)
        pthread_mutex_unlock(&mutex)
        for w in work { w(machine) }
    }

    /// Blocks the machine's thread up to `nanoseconds`, or until work is posted.
    func wait(nanoseconds: UInt64) {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let end = UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec) + nanoseconds
        var deadline = timespec(tv_sec: Int(end / 1_000_000_000), tv_nsec: Int(end % 1_000_000_000))
        pthread_mutex_lock(&mutex)
        if pending.isEmpty { pthread_cond_timedwait(&posted, &mutex, &deadline) }
        pthread_mutex_unlock(&mutex)
    }
}
