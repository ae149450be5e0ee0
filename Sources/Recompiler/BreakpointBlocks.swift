/// Code breakpoints as the recompiler honours them, so that a debugger
/// with breakpoints set slows only the code around them.
///
/// A block never contains a breakpoint address: translation ends the
/// block before one, and a block that would start at one gets no code,
/// so the instruction there is always reached through the dispatcher,
/// which hands it to the interpreter's `run` — and that makes the
/// debugger's boundary check first. Every other block stays translated
/// and chained. The set is compared on each change and the translations
/// (with their chains) are dropped when it differs, so no chained jump
/// runs into a block translated before the breakpoint existed.
///
/// Real-mode CS:IP breakpoints come as their linear address (CS * 16 +
/// IP): a block may then end at an alias of another CS:IP, where the
/// interpreter's check finds nothing and the run goes on — slower, never
/// wrong.
public struct CodeBreakpointAddresses: Equatable, Sendable {
    public var linear: Set<UInt32>
    public var physical: Set<UInt32>

    public init(linear: Set<UInt32>, physical: Set<UInt32>) {
        self.linear = linear
        self.physical = physical
    }

    /// Whether a translated block must end before the instruction at this
    /// address.
    func stopsBefore(linear address: UInt32, physical physicalAddress: UInt32) -> Bool {
        linear.contains(address) || physical.contains(physicalAddress)
    }
}
