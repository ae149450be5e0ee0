/// One counter of the Intel 8254, computed from time instead of ticked.
///
/// A running counter is described by when its counting element (CE) was
/// loaded: `elapsed(at:)` is the number of input clocks counted since the
/// count register (CR) was loaded into CE, so CE, OUT and the time of the
/// next OUT edge are all arithmetic on that number. Nothing runs per clock
/// or per guest instruction. Gate pauses keep the count in
/// `elapsedAtPause`; a CR written while modes 2/3 count is `pending` until
/// the end of the current period, as the datasheet says.
///
/// Ticks are input clocks (1.193182 MHz) since power-on, as Int64.
struct PITChannel {
    var mode: UInt8 = 0          // 0–5 (6 and 7 are stored as 2 and 3)
    var access: UInt8 = 3        // 1 = LSB, 2 = MSB, 3 = LSB then MSB
    var bcd = false
    var countRegister: UInt16 = 0
    /// N of the cycle being counted: 1...65536 (binary) or 1...10000 (BCD).
    var activeCount: Int64 = 0x10000
    var gate: Bool

    /// A count was written since the control word (the counter is armed to load).
    var loaded = false
    /// Modes 1 and 5: a gate trigger started the current one-shot.
    var triggered = false
    /// Modes 1 and 5: CR was written and waits for the next trigger.
    var countAwaitsTrigger = false
    var running = false
    var countingSince: Int64 = 0
    var elapsedAtPause: Int64 = 0
    var pending: (count: Int64, atElapsed: Int64)?

    // Byte sequencing for the data port.
    var writeHighNext = false
    var lowByteWritten: UInt8 = 0
    var readHighNext = false
    var latchedCount: UInt16?
    var latchedStatus: UInt8?

    init(gate: Bool) { self.gate = gate }

    // MARK: - Derived state

    var modulus: Int64 { bcd ? 10_000 : 0x10000 }

    /// Input clocks counted since CE was loaded; negative before the load.
    func elapsed(at t: Int64) -> Int64 {
        running ? elapsedAtPause + (t - countingSince) : elapsedAtPause
    }

    /// The OUT pin at tick `t`.
    func out(at t: Int64) -> Bool {
        let e = elapsed(at: t), n = activeCount
        switch mode {
        case 0: return loaded && e >= n
        case 1: return !triggered || e < 0 || e >= n
        case 2: return !loaded || !gate || e < 0 || e % n != n - 1
        case 3: return !loaded || !gate || e < 0 || e % n < (n + 1) / 2
        case 4: return !loaded || e != n
        default: return !triggered || e != n
        }
    }

    /// The counting element at tick `t`, in binary (0...65535 or 0...9999).
    func counter(at t: Int64) -> UInt16 {
        let e = elapsed(at: t), n = activeCount
        guard loaded, e >= 0 else { return countRegister }
        let value: Int64
        switch mode {
        case 2:
            value = n - e % n
        case 3:
            // Counts down by two through each half-period (odd N: from N−1).
            let p = e % n, high = (n + 1) / 2
            value = (n & ~1) - 2 * (p < high ? p : p - high)
        default:
            value = ((n - e) % modulus + modulus) % modulus
        }
        return UInt16(truncatingIfNeeded: value)
    }

    /// CR written but not yet in CE (status byte bit 6).
    func nullCount(at t: Int64) -> Bool {
        if !loaded { return true }
        switch mode {
        case 1, 5: return countAwaitsTrigger
        case 2, 3: return pending != nil || elapsed(at: t) < 0
        default: return elapsed(at: t) < 0
        }
    }

    /// The status byte of the read-back command.
    func status(at t: Int64) -> UInt8 {
        (out(at: t) ? 0x80 : 0) | (nullCount(at: t) ? 0x40 : 0) | access << 4 | mode << 1 | (bcd ? 1 : 0)
    }

    /// Tick of the first rising OUT edge after `t`, if one is coming.
    func nextRisingEdge(after t: Int64) -> Int64? {
        guard loaded, running else { return nil }
        let e = elapsed(at: t), n = activeCount
        let edge: Int64?
        switch mode {
        case 0: edge = e < n ? n : nil
        case 1: edge = triggered && e < n ? n : nil
        case 2, 3: edge = pending?.atElapsed ?? (e < 0 ? n : (e / n + 1) * n)
        case 4: edge = e < n + 1 ? n + 1 : nil
        default: edge = triggered && e < n + 1 ? n + 1 : nil
        }
        return edge.map { countingSince + ($0 - elapsedAtPause) }
    }

    // MARK: - Changes

    /// Applies a pending modes-2/3 reload whose period boundary has passed.
    mutating func sync(to t: Int64) {
        guard let p = pending, elapsed(at: t) >= p.atElapsed else { return }
        activeCount = p.count
        elapsedAtPause -= p.atElapsed
        pending = nil
    }

    /// A control word selecting this counter (not a latch command).
    mutating func setControl(_ v: UInt8) {
        access = (v >> 4) & 3
        mode = (v >> 1) & 7
        if mode > 5 { mode -= 4 }
        bcd = v & 1 != 0
        loaded = false
        triggered = false
        countAwaitsTrigger = false
        running = false
        elapsedAtPause = 0
        pending = nil
        writeHighNext = false
        readHighNext = false
        latchedCount = nil
        latchedStatus = nil
    }

    /// CE takes N on the clock after tick `t` and counts while the gate allows.
    private mutating func load(_ n: Int64, at t: Int64) {
        activeCount = n
        countingSince = t + 1
        elapsedAtPause = 0
        pending = nil
        running = gate
    }

    /// The numeric value of a count as written (0 means the maximum).
    private func countValue(_ raw: UInt16) -> Int64 {
        var n = Int64(raw)
        if bcd {
            // Nibbles above 9 are not valid BCD; weigh them as written.
            n = Int64(raw >> 12 & 0xF) * 1000 + Int64(raw >> 8 & 0xF) * 100 + Int64(raw >> 4 & 0xF) * 10 + Int64(raw & 0xF)
            n %= 10_000
        }
        return n == 0 ? modulus : n
    }

    /// A data-port write at tick `t`.
    mutating func writeData(_ v: UInt8, at t: Int64) {
        let raw: UInt16
        switch access {
        case 1: raw = UInt16(v)
        case 2: raw = UInt16(v) << 8
        default:
            if !writeHighNext {
                lowByteWritten = v
                writeHighNext = true
                // Mode 0: the first byte stops the count and drops OUT at once.
                if mode == 0 { loaded = false; running = false }
                return
            }
            writeHighNext = false
            raw = UInt16(v) << 8 | UInt16(lowByteWritten)
        }
        countRegister = raw
        let n = countValue(raw)
        let periodRunning = (mode == 2 || mode == 3) && loaded && running && elapsed(at: t) >= 0
        switch mode {
        case _ where periodRunning:
            // Takes effect when the current period ends.
            let e = elapsed(at: t)
            pending = (n, (e / activeCount + 1) * activeCount)
        case 1, 5:
            countAwaitsTrigger = true
            if !loaded { activeCount = n }
            loaded = true
        default:
            load(n, at: t)
            loaded = true
        }
    }

    /// A data-port read at tick `t`: a latched status first, then a latched
    /// count, else CE as it is now, byte by byte per the access mode.
    mutating func readData(at t: Int64) -> UInt8 {
        if let s = latchedStatus { latchedStatus = nil; return s }
        let value = encode(latchedCount ?? counter(at: t))
        let byte: UInt8
        switch access {
        case 1: byte = UInt8(value & 0xFF); latchedCount = nil
        case 2: byte = UInt8(value >> 8); latchedCount = nil
        default:
            byte = readHighNext ? UInt8(value >> 8) : UInt8(value & 0xFF)
            if readHighNext { latchedCount = nil }
            readHighNext.toggle()
        }
        return byte
    }

    /// Binary to the counter's read format (BCD digits in BCD mode).
    private func encode(_ v: UInt16) -> UInt16 {
        guard bcd else { return v }
        let d = v % 10_000
        return (d / 1000) << 12 | (d / 100 % 10) << 8 | (d / 10 % 10) << 4 | d % 10
    }

    mutating func latchCount(at t: Int64) {
        if latchedCount == nil { latchedCount = counter(at: t) }
    }

    mutating func latchStatus(at t: Int64) {
        if latchedStatus == nil { latchedStatus = status(at: t) }
    }

    /// The GATE input (only counter 2's is wired to anything on a PC).
    mutating func setGate(_ g: Bool, at t: Int64) {
        sync(to: t)
        guard g != gate else { return }
        gate = g
        switch mode {
        case 0, 4:
            // Counting pauses and resumes where it stopped.
            if g { countingSince = t; running = loaded } else { elapsedAtPause = elapsed(at: t); running = false }
        case 2, 3:
            // Low: OUT high, counting stops. Rising: CE reloads from CR.
            if g {
                if loaded { load(countValue(countRegister), at: t) }
            } else {
                elapsedAtPause = elapsed(at: t)
                running = false
            }
        default:
            // Modes 1 and 5 start (or restart) on the rising edge.
            if g && loaded {
                load(countValue(countRegister), at: t)
                triggered = true
                countAwaitsTrigger = false
            }
        }
    }
}
