/// Something that takes interrupt request lines (the PIC pair).
/// `level` true = asserted. Edge-triggered inputs see the rising edge.
public protocol InterruptSink: AnyObject {
    func setIRQ(_ line: Int, _ level: Bool)
}

/// One ISA IRQ line as a device holds it.
public struct InterruptLine {
    public let sink: InterruptSink
    public let line: Int
    public init(_ sink: InterruptSink, _ line: Int) { self.sink = sink; self.line = line }
    public func raise() { sink.setIRQ(line, true) }
    public func lower() { sink.setIRQ(line, false) }
    public func set(_ level: Bool) { sink.setIRQ(line, level) }
    /// An edge: raise then lower (ISA edge-triggered devices like the PIT).
    public func pulse() { sink.setIRQ(line, true); sink.setIRQ(line, false) }
}
