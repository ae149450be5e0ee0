/// The Intel 8254 programmable interval timer at ports 40h–43h, clocked at
/// 1.193182 MHz. Counter 0 drives IRQ0, counter 1 once paced DRAM refresh,
/// counter 2 feeds the speaker and is read back through port 61h.
///
/// Counting is derived from `MachineClock` time (see `PITChannel`): a
/// port access computes the counter from `clock.now`, and IRQ0 is raised by
/// `advance(to:)`, which the run loop calls at the deadline this device
/// returns — the time of counter 0's next rising OUT edge. A guest write
/// that moves that edge reports the new deadline through `onReschedule`.
/// When the run loop comes late over several periods, one IRQ0 edge is
/// delivered (the 8259A could not latch more).
public final class ProgrammableIntervalTimer: PortDevice, TimedDevice {
    public static let frequency: UInt64 = 1_193_182

    private let clock: MachineClock
    private let irq0: InterruptLine
    private var channels: [PITChannel] = []
    /// The tick up to which counter 0's edges have been delivered.
    private var deliveredThrough: Int64 = 0

    public var onReschedule: ((_ deadline: UInt64) -> Void)?

    public init(clock: MachineClock, irq0: InterruptLine) {
        self.clock = clock
        self.irq0 = irq0
        reset()
    }

    /// Counters unprogrammed; gates 0 and 1 tied high, gate 2 low (port 61h bit 0 clear).
    public func reset() {
        channels = [PITChannel(gate: true), PITChannel(gate: true), PITChannel(gate: false)]
        deliveredThrough = Self.tick(at: clock.now)
    }

    public func register(on bus: IOBus) {
        bus.register(self, ports: 0x40...0x43)
    }

    // MARK: - Time

    /// Input clocks since power-on at `ns` nanoseconds.
    static func tick(at ns: UInt64) -> Int64 {
        let product = ns.multipliedFullWidth(by: frequency)
        return Int64(truncatingIfNeeded: UInt64(1_000_000_000).dividingFullWidth(product).quotient)
    }

    /// The first nanosecond at which `tick` has begun.
    static func nanoseconds(atTick tick: Int64) -> UInt64 {
        guard tick > 0 else { return 0 }
        let product = UInt64(tick).multipliedFullWidth(by: 1_000_000_000)
        guard product.high < frequency else { return .max }
        let (q, r) = frequency.dividingFullWidth(product)
        return r == 0 ? q : q &+ 1
    }

    private var currentTick: Int64 { Self.tick(at: clock.now) }

    // MARK: - Counter 2 for port 61h

    /// Counter 2's OUT pin (port 61h bit 5).
    public var counter2Output: Bool { channels[2].out(at: currentTick) }

    /// Counter 2's GATE pin (port 61h bit 0).
    public var counter2Gate: Bool {
        get { channels[2].gate }
        set { channels[2].setGate(newValue, at: currentTick) }
    }

    /// OUT of any counter, for tests and the monitor.
    public func output(ofCounter index: Int) -> Bool {
        guard channels.indices.contains(index) else { return false }
        return channels[index].out(at: currentTick)
    }

    /// One counter's programming and its state now, read-only, for the monitor.
    public struct CounterSnapshot: Equatable {
        public var mode: UInt8
        /// 1 = LSB only, 2 = MSB only, 3 = LSB then MSB.
        public var access: UInt8
        public var bcd: Bool
        /// The count last written (0 counts as the modulus, 65536 or 10000).
        public var reload: UInt16
        /// The counting element as a latch would read it now.
        public var count: UInt16
        public var gate, output, loaded: Bool
    }

    public func counterSnapshot(_ index: Int) -> CounterSnapshot? {
        guard channels.indices.contains(index) else { return nil }
        let c = channels[index], t = currentTick
        return CounterSnapshot(mode: c.mode, access: c.access, bcd: c.bcd, reload: c.countRegister, count: c.counter(at: t),
                               gate: c.gate, output: c.out(at: t), loaded: c.loaded)
    }

    // MARK: - TimedDevice

    public func advance(to now: UInt64) -> UInt64 {
        deliverEdges(through: Self.tick(at: now))
        return nextDeadline
    }

    /// Raises IRQ0 if counter 0 had a rising OUT edge not yet delivered.
    private func deliverEdges(through t: Int64) {
        guard t > deliveredThrough else { return }
        if let edge = channels[0].nextRisingEdge(after: deliveredThrough), edge <= t {
            irq0.pulse()
        }
        channels[0].sync(to: t)
        deliveredThrough = t
    }

    private var nextDeadline: UInt64 {
        guard let edge = channels[0].nextRisingEdge(after: deliveredThrough) else { return .max }
        return Self.nanoseconds(atTick: edge)
    }

    // MARK: - Ports

    public func portRead(_ port: UInt16, size: Int) -> UInt32 {
        let index = Int(port & 3)
        guard index < 3 else { return 0xFF }  // the control word register is write-only
        let t = currentTick
        channels[index].sync(to: t)
        return UInt32(channels[index].readData(at: t))
    }

    public func portWrite(_ port: UInt16, size: Int, value: UInt32) {
        let v = UInt8(truncatingIfNeeded: value)
        let t = currentTick
        // Edges counter 0 made before this write belong to the old programming.
        deliverEdges(through: t)
        let index = Int(port & 3)
        if index < 3 {
            channels[index].sync(to: t)
            channels[index].writeData(v, at: t)
        } else {
            writeControl(v, at: t)
        }
        // Counter 0's data and control words are what move the IRQ0 deadline.
        if index == 0 || (index == 3 && v >> 6 == 0) {
            onReschedule?(nextDeadline)
        }
    }

    private func writeControl(_ v: UInt8, at t: Int64) {
        let select = Int(v >> 6)
        if select == 3 {
            // Read-back: bit 5 clear latches counts, bit 4 clear latches status,
            // bits 1–3 pick counters 0–2.
            for i in 0..<3 where v & (2 << i) != 0 {
                channels[i].sync(to: t)
                if v & 0x20 == 0 { channels[i].latchCount(at: t) }
                if v & 0x10 == 0 { channels[i].latchStatus(at: t) }
            }
            return
        }
        channels[select].sync(to: t)
        if v & 0x30 == 0 {
            channels[select].latchCount(at: t)
        } else {
            channels[select].setControl(v)
        }
    }
}
