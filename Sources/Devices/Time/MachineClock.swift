import Glibc

/// The machine's one clock, in nanoseconds since power-on. Every timer
/// device (PIT, RTC, UART pacing) reads it, so all of them agree.
///
/// By default it follows the host's monotonic clock. In instruction-count
/// mode (`-icount SHIFT`, as in QEMU) time is `instructions << shift`
/// nanoseconds, so a run is reproducible bit for bit.
public final class MachineClock {
    public enum Mode: Equatable {
        case realTime
        case instructionCount(shift: Int)
    }

    public let mode: Mode
    private let origin: UInt64
    /// Guest instructions retired. The machine points `instructionCounter`
    /// at the CPU's own count so that time is exact in the middle of a run
    /// batch; without one (device tests) the stored value is used.
    public var instructions: UInt64 {
        get { instructionCounter?() ?? storedInstructions }
        set { storedInstructions = newValue }
    }
    public var instructionCounter: (() -> UInt64)?
    private var storedInstructions: UInt64 = 0
    /// Time offset accumulated while the machine was paused or idle-skipped.
    private var skew: Int64 = 0

    public init(mode: Mode = .realTime) {
        self.mode = mode
        origin = MachineClock.hostNanoseconds()
    }

    public static func hostNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// Nanoseconds of guest time since power-on.
    public var now: UInt64 {
        switch mode {
        case .realTime:
            return UInt64(Int64(MachineClock.hostNanoseconds() &- origin) &+ skew)
        case .instructionCount(let shift):
            return UInt64(Int64(instructions << UInt64(shift)) &+ skew)
        }
    }

    /// Makes `now` read `guestTime` from here on: a machine resumed after a
    /// pause continues guest time where it stopped instead of jumping over
    /// the pause (in real-time mode the host clock ran on meanwhile).
    public func resume(at guestTime: UInt64) {
        skew &+= Int64(bitPattern: guestTime &- now)
    }

    /// In instruction-count mode a halted CPU retires nothing: the run loop
    /// jumps time forward to the next timer deadline instead of spinning.
    public func skip(to deadline: UInt64) {
        let n = now
        if deadline > n { skew &+= Int64(deadline - n) }
    }
}

/// A device with timers. The run loop calls `advance(to:)` when the
/// earliest deadline any device asked for has passed.
public protocol TimedDevice: AnyObject {
    /// Brings the device's timers up to `now` (raising interrupts that fell
    /// due) and returns the next time it needs a call, or `UInt64.max`.
    func advance(to now: UInt64) -> UInt64
    /// Set by the run loop. A guest register write can move the device's
    /// next deadline (a new PIT count, an RTC rate change); the device then
    /// calls this with the new deadline so the run loop need not poll.
    var onReschedule: ((_ deadline: UInt64) -> Void)? { get set }
}
