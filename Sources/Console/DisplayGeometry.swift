/// Where the guest's picture goes in the window.
///
/// The VGA renderer produces a mode's logical pixels (320×200 for mode 13h).
/// A VGA monitor never shows fewer than about 400 lines or 640 columns: the
/// 200-line modes are scanned twice and the 320-pixel modes use a halved
/// dot clock, so each logical pixel covers two. The window shows that
/// monitor picture, scaled by the user's factor; when the window is resized
/// the picture keeps its aspect ratio, centred, with black bars.
public enum DisplayGeometry {
    public struct Size: Equatable, Sendable {
        public var width: Int
        public var height: Int
        public init(width: Int, height: Int) { self.width = width; self.height = height }
    }

    public struct Rect: Equatable, Sendable {
        public var x: Int, y: Int, width: Int, height: Int
        public init(x: Int, y: Int, width: Int, height: Int) {
            self.x = x; self.y = y; self.width = width; self.height = height
        }
    }

    /// Widths up to this are doubled (320 and 360 pixel modes).
    static let doubledWidthLimit = 400
    /// Heights up to this are doubled (200 and 240 line modes).
    static let doubledHeightLimit = 300

    /// The size a VGA monitor shows a `picture` of logical pixels at.
    public static func monitorSize(of picture: Size) -> Size {
        Size(width: picture.width * (picture.width <= doubledWidthLimit ? 2 : 1),
             height: picture.height * (picture.height <= doubledHeightLimit ? 2 : 1))
    }

    /// The window size for `picture` at `scale` (at least 1×1).
    public static func windowSize(for picture: Size, scale: Double) -> Size {
        let monitor = monitorSize(of: picture)
        return Size(width: max(1, Int((Double(monitor.width) * scale).rounded())),
                    height: max(1, Int((Double(monitor.height) * scale).rounded())))
    }

    /// The largest rectangle with the monitor picture's aspect ratio that
    /// fits `window`, centred.
    public static func fit(_ picture: Size, into window: Size) -> Rect {
        let monitor = monitorSize(of: picture)
        guard monitor.width > 0, monitor.height > 0, window.width > 0, window.height > 0 else {
            return Rect(x: 0, y: 0, width: max(window.width, 0), height: max(window.height, 0))
        }
        // Compare window.width / window.height with monitor.width / monitor.height in integers.
        let width: Int, height: Int
        if window.width * monitor.height <= window.height * monitor.width {
            width = window.width
            height = max(1, (window.width * monitor.height + monitor.width / 2) / monitor.width)
        } else {
            height = window.height
            width = max(1, (window.height * monitor.width + monitor.height / 2) / monitor.height)
        }
        return Rect(x: (window.width - width) / 2, y: (window.height - height) / 2, width: width, height: height)
    }
}
