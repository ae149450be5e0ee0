/// The window title: what the guest is doing and the host keys that matter
/// most, e.g. "Novabox · running · interpreter · protected mode ·
/// 48.2 MIPS · Ctrl+Alt+G grabs the mouse · Ctrl+Alt+End: Ctrl+Alt+Del".
public struct WindowTitle: Equatable, Sendable {
    public var paused: Bool
    /// The engine running the guest ("interpreter").
    public var engine: String
    /// The CPU mode in words ("real mode", "paging").
    public var cpuMode: String
    /// Guest million instructions per second over the last interval, if known.
    public var mips: Double?
    public var mouseGrabbed: Bool

    public init(paused: Bool, engine: String, cpuMode: String, mips: Double?, mouseGrabbed: Bool) {
        self.paused = paused
        self.engine = engine
        self.cpuMode = cpuMode
        self.mips = mips
        self.mouseGrabbed = mouseGrabbed
    }

    public var text: String {
        let grab = KeyEventTranslator.HostCommand.toggleMouseGrab.keyName
        var parts = ["Novabox", paused ? "paused" : "running", engine, cpuMode]
        if !paused, let mips { parts.append(mips < 10 ? "\(tenths(mips)) MIPS" : "\(Int(mips.rounded())) MIPS") }
        parts.append(mouseGrabbed ? "\(grab) releases the mouse" : "\(grab) grabs the mouse")
        parts.append("\(KeyEventTranslator.controlAltDeleteKeyName): Ctrl+Alt+Del")
        return parts.joined(separator: " · ")
    }

    private func tenths(_ x: Double) -> String {
        let t = Int((x * 10).rounded())
        return "\(t / 10).\(t % 10)"
    }
}
