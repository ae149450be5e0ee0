import CSDL2
import Console
import Devices

/// No display to open a window on, or SDL could not set one up.
struct DisplayUnavailable: Error {
    let reason: String
}

/// The SDL window, its renderer and the streaming texture frames go into.
/// Main thread only (SDL's video functions must run on the thread that
/// initialised them).
///
/// The window is sized to the picture as a VGA monitor shows it times the
/// user's scale, and follows mode changes unless it is full screen; when
/// the user resizes it the picture keeps its aspect ratio, centred on
/// black. Scaling is nearest-neighbour, so at whole scales every guest
/// pixel stays sharp (and a test can compare the window with a screenshot).
final class SDLWindow {
    private let window: OpaquePointer
    private let renderer: OpaquePointer
    private var texture: OpaquePointer?
    private var picture = DisplayGeometry.Size(width: 0, height: 0)
    private let scale: Double
    private(set) var isFullScreen: Bool
    private(set) var isMouseGrabbed = false

    init(scale: Double, fullScreen: Bool) throws(DisplayUnavailable) {
        // Novabox's own SIGINT/SIGTERM handlers stop the machine; SDL must not replace them.
        SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1")
        SDL_SetHint(SDL_HINT_RENDER_SCALE_QUALITY, "nearest")
        if getenv("SDL_VIDEODRIVER") == nil {
            let drivers = SDLWindow.displayDrivers()
            guard !drivers.isEmpty else { throw DisplayUnavailable(reason: "DISPLAY is not set") }
            SDL_SetHint(SDL_HINT_VIDEODRIVER, drivers.joined(separator: ","))
        }
        guard SDL_Init(SDL_INIT_VIDEO) == 0 else {
            let sdl = String(cString: SDL_GetError())
            let noSession = getenv("DISPLAY") == nil && getenv("WAYLAND_DISPLAY") == nil
            throw DisplayUnavailable(reason: noSession ? "DISPLAY is not set; SDL: \(sdl)" : sdl)
        }
        self.scale = scale
        isFullScreen = fullScreen
        let initial = DisplayGeometry.windowSize(for: .init(width: 720, height: 400), scale: scale)
        var flags = SDL_WINDOW_RESIZABLE.rawValue | SDL_WINDOW_ALLOW_HIGHDPI.rawValue
        if fullScreen { flags |= SDL_WINDOW_FULLSCREEN_DESKTOP.rawValue }
        let centred = Int32(SDL_WINDOWPOS_CENTERED_MASK)
        guard let window = SDL_CreateWindow("Novabox", centred, centred, Int32(initial.width), Int32(initial.height), flags) else {
            let reason = String(cString: SDL_GetError())
            SDL_Quit()
            throw DisplayUnavailable(reason: reason)
        }
        var renderer = SDL_CreateRenderer(window, -1, 0)
        if let gl = renderer, getenv("SDL_RENDER_DRIVER") == nil, SDLWindow.isSoftwareOpenGL(gl) {
            // Without a GPU (a VM, Xvfb), Mesa rasterizes OpenGL on the CPU
            // with threads of its own: SDL's plain software renderer costs a
            // quarter of that per frame (see novabox-display-bench).
            SDL_DestroyRenderer(gl)
            SDL_SetHint(SDL_HINT_FRAMEBUFFER_ACCELERATION, "0")
            renderer = SDL_CreateRenderer(window, -1, SDL_RENDERER_SOFTWARE.rawValue)
        }
        guard let renderer else {
            let reason = String(cString: SDL_GetError())
            SDL_DestroyWindow(window)
            SDL_Quit()
            throw DisplayUnavailable(reason: reason)
        }
        self.window = window
        self.renderer = renderer
        // Key events only: no input method composing text out of them.
        SDL_StopTextInput()
    }

    /// SDL's video drivers that show a window to a person, in SDL's order.
    /// Left out: "offscreen", "dummy" and "evdev", which start without a
    /// screen, and X11 and Wayland when no session names a server (the
    /// Wayland library would print its own complaint).
    private static func displayDrivers() -> [String] {
        let hasWayland = getenv("WAYLAND_DISPLAY") != nil
        let hasX = getenv("DISPLAY") != nil
        return (0..<SDL_GetNumVideoDrivers()).compactMap { i in
            SDL_GetVideoDriver(i).map { String(cString: $0) }
        }.filter { name in
            switch name {
            case "offscreen", "dummy", "evdev": return false
            case "wayland": return hasWayland
            case "x11": return hasX
            default: return true
            }
        }
    }

    /// Whether `renderer` is OpenGL drawn by Mesa's CPU rasterizers
    /// (llvmpipe, softpipe), by the GL_RENDERER string of its context.
    private static func isSoftwareOpenGL(_ renderer: OpaquePointer) -> Bool {
        var info = SDL_RendererInfo()
        guard SDL_GetRendererInfo(renderer, &info) == 0, String(cString: info.name).hasPrefix("opengl"),
              let address = SDL_GL_GetProcAddress("glGetString") else { return false }
        typealias GetString = @convention(c) (UInt32) -> UnsafePointer<UInt8>?
        let glRenderer: UInt32 = 0x1F01
        guard let name = unsafeBitCast(address, to: GetString.self)(glRenderer) else { return false }
        let text = String(cString: name)
        return text.contains("llvmpipe") || text.contains("softpipe")
    }

    deinit {
        if let texture { SDL_DestroyTexture(texture) }
        SDL_DestroyRenderer(renderer)
        SDL_DestroyWindow(window)
        SDL_Quit()
    }

    var title: String = "" {
        didSet { if title != oldValue { SDL_SetWindowTitle(window, title) } }
    }

    /// Puts `rows` of `frame` into the texture, resizing window and texture
    /// when the guest changed mode (then all rows come).
    func show(_ frame: VGAPicture, rows: Range<Int>) {
        guard frame.width > 0, frame.height > 0 else { return }
        let size = DisplayGeometry.Size(width: frame.width, height: frame.height)
        if size != picture || texture == nil {
            if let texture { SDL_DestroyTexture(texture) }
            texture = SDL_CreateTexture(renderer, SDL_PIXELFORMAT_ARGB8888.rawValue,
                                        Int32(SDL_TEXTUREACCESS_STREAMING.rawValue), Int32(size.width), Int32(size.height))
            picture = size
            if !isFullScreen {
                let windowSize = DisplayGeometry.windowSize(for: size, scale: scale)
                SDL_SetWindowSize(window, Int32(windowSize.width), Int32(windowSize.height))
            }
        }
        guard let texture, rows.lowerBound >= 0, rows.upperBound <= frame.height, !rows.isEmpty else { return }
        var area = SDL_Rect(x: 0, y: Int32(rows.lowerBound), w: Int32(frame.width), h: Int32(rows.count))
        frame.pixels.withUnsafeBytes {
            _ = SDL_UpdateTexture(texture, &area, $0.baseAddress! + rows.lowerBound * frame.width * 4, Int32(frame.width * 4))
        }
    }

    /// Draws the texture letterboxed into the window and shows it.
    func present() {
        var outputWidth: Int32 = 0, outputHeight: Int32 = 0
        SDL_GetRendererOutputSize(renderer, &outputWidth, &outputHeight)
        SDL_SetRenderDrawColor(renderer, 0, 0, 0, 255)
        SDL_RenderClear(renderer)
        if let texture {
            let fit = DisplayGeometry.fit(picture, into: .init(width: Int(outputWidth), height: Int(outputHeight)))
            var target = SDL_Rect(x: Int32(fit.x), y: Int32(fit.y), w: Int32(fit.width), h: Int32(fit.height))
            SDL_RenderCopy(renderer, texture, nil, &target)
        }
        SDL_RenderPresent(renderer)
    }

    /// Relative mouse mode: the pointer is hidden and held in the window,
    /// motion comes as deltas, and keyboard shortcuts go to the guest.
    func setMouseGrab(_ grab: Bool) {
        guard grab != isMouseGrabbed else { return }
        isMouseGrabbed = grab
        SDL_SetWindowGrab(window, grab ? SDL_TRUE : SDL_FALSE)
        SDL_SetRelativeMouseMode(grab ? SDL_TRUE : SDL_FALSE)
    }

    func toggleFullScreen() {
        isFullScreen.toggle()
        SDL_SetWindowFullscreen(window, isFullScreen ? SDL_WINDOW_FULLSCREEN_DESKTOP.rawValue : 0)
        if !isFullScreen && picture.width > 0 {
            let size = DisplayGeometry.windowSize(for: picture, scale: scale)
            SDL_SetWindowSize(window, Int32(size.width), Int32(size.height))
        }
    }
}
