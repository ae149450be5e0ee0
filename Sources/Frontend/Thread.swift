import Glibc

/// Host threads for the front end: the stdin reader (detached) and the
/// machine's own thread while the window runs on the main thread (joined).
enum Thread {
    private final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    /// Starts `body` on a new thread.
    private static func spawn(_ body: @escaping () -> Void) -> pthread_t {
        let box = Unmanaged.passRetained(Body(body)).toOpaque()
        var tid = pthread_t()
        pthread_create(&tid, nil, { arg in
            Unmanaged<Body>.fromOpaque(arg!).takeRetainedValue().run()
            return nil
        }, box)
        return tid
    }

    /// Runs `body` on a thread nobody waits for.
    static func detach(_ body: @escaping () -> Void) {
        pthread_detach(spawn(body))
    }

    /// Runs `body` on a new thread; `join` waits for it to end.
    struct Joinable {
        fileprivate let tid: pthread_t
        func join() { pthread_join(tid, nil) }
    }

    static func start(_ body: @escaping () -> Void) -> Joinable {
        Joinable(tid: spawn(body))
    }
}
