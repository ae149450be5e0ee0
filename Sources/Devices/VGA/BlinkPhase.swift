/// Where the text modes' two blinks are: the cursor and, when the attribute
/// controller makes attribute bit 7 mean blink (AR10 bit 3), the characters
/// with that bit set.
///
/// The VGA counts vertical syncs: the cursor is on for 8 frames and off for
/// 8, blinking characters show for 16 and hide for 16 (IBM's VGA technical
/// reference), about 4.4 and 2.2 cycles a second at the 70 Hz of the text
/// modes. A front end takes the phase from its own clock, the time it has
/// been showing the display: the blink is the monitor's, and a guest that
/// is paused or slow still blinks at the rate a user expects.
public struct BlinkPhase: Equatable, Sendable {
    public var cursorShown: Bool
    public var blinkingTextShown: Bool

    public init(cursorShown: Bool, blinkingTextShown: Bool) {
        self.cursorShown = cursorShown
        self.blinkingTextShown = blinkingTextShown
    }

    /// Everything showing: still pictures (screenshots) and tests.
    public static let steady = BlinkPhase(cursorShown: true, blinkingTextShown: true)

    /// Vertical syncs per cursor half-cycle; characters take twice as many.
    static let cursorHalfCycleFrames: UInt64 = 8

    /// The phase `nanoseconds` after the display started, at the text modes' frame rate.
    public init(atNanoseconds nanoseconds: UInt64) {
        let frame = nanoseconds / (VGA.lineNanoseconds * VGA.linesPerFrame)
        cursorShown = frame / BlinkPhase.cursorHalfCycleFrames % 2 == 0
        blinkingTextShown = frame / (2 * BlinkPhase.cursorHalfCycleFrames) % 2 == 0
    }
}
