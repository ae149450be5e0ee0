import CSDL2
import Console
import Devices
import Glibc
import Machine
import Synchronization

/// The window console: the guest's screen, keyboard and mouse in an SDL
/// window, with the machine running on a thread of its own.
///
/// Threads: the main thread runs SDL's event loop, renders and presents;
/// the machine's thread runs the guest and alone touches CPU and devices.
/// They meet only through `Machine.hostRequests`: 60 times a second the
/// main thread asks for a display snapshot (the VGA's registers, copied,
/// and the machine status), which the machine thread takes between two
/// instruction batches — a few microseconds — and hands back through a
/// mailbox and an SDL event. With the snapshot the machine thread hands
/// over the video memory pages written since the last one, so the main
/// thread redraws only the lines showing them (see `VGAPicture`); an
/// unchanged screen costs neither a render nor an upload. Rendering from
/// the snapshot happens on the main thread, reading video memory while the
/// guest may be writing it (see `VGAScanout`): a frame can show a half-done
/// update, the next one corrects it (the write marked its page again), and
/// the guest never waits for the screen. Text blinks by the window's own
/// clock. Keys and mouse motion go the other way as posted work.
///
/// Closing the window asks the machine to stop; the loop ends when the
/// machine thread has returned from `run()`, consoles flushed.
final class SDLConsole {
    static let framesPerSecond: UInt64 = 60
    /// How often the title's MIPS figure is recomputed.
    static let statusInterval: UInt64 = 1_000_000_000

    private let window: SDLWindow
    private let machine: Machine
    private let picture = VGAPicture()
    /// When the window started: the blink's time base.
    private let started = MachineClock.hostNanoseconds()
    private var keyboard = KeyEventTranslator()
    private let frameReadyEvent: UInt32
    private let machineStoppedEvent: UInt32
    private let mailbox = SnapshotMailbox()

    // Mouse motion gathered over one pass of the event loop, sent as one report.
    private var mouseDX = 0, mouseDY = 0, mouseDZ = 0
    private var mouseButtons = MouseButtons()
    private var mouseChanged = false

    // What the title shows.
    private var status: MachineStatus?
    private var mips: Double?
    private var lastSample: (instructions: UInt64, time: UInt64)?

    init(machine: Machine, scale: Double, fullScreen: Bool) throws(DisplayUnavailable) {
        self.machine = machine
        window = try SDLWindow(scale: scale, fullScreen: fullScreen)
        let base = SDL_RegisterEvents(2)
        guard base != UInt32.max else { throw DisplayUnavailable(reason: "no SDL user events left") }
        frameReadyEvent = base
        machineStoppedEvent = base + 1
        updateTitle()
    }

    /// Runs the machine on its own thread and the window on this one until
    /// the machine stops; returns why it stopped.
    func run() -> Machine.ExitReason {
        let outcome = RunOutcome()
        let stopped = machineStoppedEvent
        let machine = self.machine
        let thread = Thread.start {
            outcome.reason = machine.run()
            SDLConsole.push(stopped)
        }
        let period = 1_000_000_000 / SDLConsole.framesPerSecond
        var nextFrame = MachineClock.hostNanoseconds()
        var frameRequested = false
        var running = true
        while running {
            let now = MachineClock.hostNanoseconds()
            if now >= nextFrame {
                if !frameRequested {
                    requestSnapshot()
                    frameRequested = true
                }
                nextFrame = max(nextFrame + period, now)
            }
            let waitMilliseconds = Int32(clamping: max(1, (nextFrame - min(now, nextFrame)) / 1_000_000))
            var event = SDL_Event()
            if SDL_WaitEventTimeout(&event, waitMilliseconds) != 0 {
                repeat {
                    switch event.type {
                    case frameReadyEvent:
                        frameRequested = false
                        showSnapshot()
                    case machineStoppedEvent:
                        running = false
                    default:
                        handle(event)
                    }
                } while SDL_PollEvent(&event) != 0
            }
            sendMouseReport()
        }
        thread.join()
        window.setMouseGrab(false)
        return outcome.reason
    }

    // MARK: - Frames

    private func requestSnapshot() {
        let mailbox = self.mailbox, ready = frameReadyEvent
        machine.hostRequests.post { machine in
            let vga = machine.board.vga
            mailbox.put(DisplaySnapshot(scanout: vga.scanout, changes: vga.takeMemoryChanges(), status: machine.status))
            SDLConsole.push(ready)
        }
    }

    private func showSnapshot() {
        guard let snapshot = mailbox.take() else { return }
        let blink = BlinkPhase(atNanoseconds: MachineClock.hostNanoseconds() - started)
        if let rows = picture.update(from: snapshot.scanout, changes: snapshot.changes, blink: blink) {
            window.show(picture, rows: rows)
            window.present()
        }
        update(snapshot.status)
    }

    private static func push(_ type: UInt32) {
        var event = SDL_Event()
        event.type = type
        SDL_PushEvent(&event)
    }

    // MARK: - Title

    private func update(_ new: MachineStatus) {
        let now = MachineClock.hostNanoseconds()
        let pausedChanged = status?.isPaused != new.isPaused
        status = new
        if let last = lastSample, now - last.time < SDLConsole.statusInterval && !pausedChanged { return }
        if let last = lastSample, now > last.time, new.instructions >= last.instructions {
            mips = Double(new.instructions - last.instructions) / Double(now - last.time) * 1e3
        }
        lastSample = (new.instructions, now)
        updateTitle()
    }

    private func updateTitle() {
        window.title = WindowTitle(paused: status?.isPaused ?? false, engine: status?.engine.rawValue ?? "interpreter",
                                   cpuMode: status?.cpuMode.name ?? "real mode", mips: mips,
                                   mouseGrabbed: window.isMouseGrabbed).text
    }

    // MARK: - Input

    private func handle(_ event: SDL_Event) {
        switch event.type {
        case SDL_QUIT.rawValue:
            machine.hostRequests.post { $0.stop() }
        case SDL_WINDOWEVENT.rawValue:
            switch UInt32(event.window.event) {
            case SDL_WINDOWEVENT_EXPOSED.rawValue, SDL_WINDOWEVENT_SIZE_CHANGED.rawValue:
                window.present()
            case SDL_WINDOWEVENT_FOCUS_LOST.rawValue:
                // Releases the host will not report any more: no key stays down in the guest.
                sendKeys(keyboard.releaseAll())
                setMouseGrab(false)
            default:
                break
            }
        case SDL_KEYDOWN.rawValue:
            let scancode = Int(event.key.keysym.scancode.rawValue)
            apply(keyboard.keyDown(scancode, isRepeat: event.key.repeat != 0))
        case SDL_KEYUP.rawValue:
            apply(keyboard.keyUp(Int(event.key.keysym.scancode.rawValue)))
        case SDL_MOUSEMOTION.rawValue where window.isMouseGrabbed:
            mouseDX += Int(event.motion.xrel)
            mouseDY += Int(event.motion.yrel)
            mouseChanged = true
        case SDL_MOUSEBUTTONDOWN.rawValue, SDL_MOUSEBUTTONUP.rawValue:
            guard window.isMouseGrabbed else {
                // A click into the window grabs the mouse; the guest does not see it.
                if event.type == SDL_MOUSEBUTTONDOWN.rawValue { setMouseGrab(true) }
                return
            }
            let button: MouseButtons
            switch Int32(event.button.button) {
            case SDL_BUTTON_LEFT: button = .left
            case SDL_BUTTON_RIGHT: button = .right
            case SDL_BUTTON_MIDDLE: button = .middle
            default: return
            }
            if event.type == SDL_MOUSEBUTTONDOWN.rawValue { mouseButtons.insert(button) } else { mouseButtons.remove(button) }
            // A report per button change: a click whose press and release
            // arrive in one pass must still reach the guest as two.
            mouseChanged = true
            sendMouseReport()
        case SDL_MOUSEWHEEL.rawValue where window.isMouseGrabbed:
            // SDL: positive y is away from the user; the PS/2 wheel counts that as negative.
            let flipped = event.wheel.direction == SDL_MOUSEWHEEL_FLIPPED.rawValue
            mouseDZ -= Int(event.wheel.y) * (flipped ? -1 : 1)
            mouseChanged = true
        default:
            break
        }
    }

    private func apply(_ output: KeyEventTranslator.Output) {
        sendKeys(output.guestBytes)
        switch output.command {
        case .toggleMouseGrab: setMouseGrab(!window.isMouseGrabbed)
        case .screenshot: saveScreenshot()
        case .togglePause: machine.hostRequests.post { $0.isPaused ? $0.resume() : $0.pause() }
        case .toggleFullScreen: window.toggleFullScreen()
        case nil: break
        }
    }

    private func sendKeys(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        machine.hostRequests.post { $0.board.ps2.keyboardScancodes(bytes) }
    }

    private func sendMouseReport() {
        guard mouseChanged else { return }
        let (dx, dy, dz, buttons) = (mouseDX, mouseDY, mouseDZ, mouseButtons)
        machine.hostRequests.post { $0.board.ps2.mouseMotion(dx: dx, dy: dy, dz: dz, buttons: buttons) }
        (mouseDX, mouseDY, mouseDZ, mouseChanged) = (0, 0, 0, false)
    }

    private func setMouseGrab(_ grab: Bool) {
        guard grab != window.isMouseGrabbed else { return }
        if !grab && !mouseButtons.isEmpty {
            // Buttons held at release would stay down in the guest.
            mouseButtons = []
            mouseChanged = true
        }
        window.setMouseGrab(grab)
        updateTitle()
    }

    private func saveScreenshot() {
        let path = Screenshot.timestampedName()
        do {
            try Screenshot.write(picture, to: path)
            fputs("novabox: screenshot saved to \(path)\n", stderr)
        } catch {
            fputs("novabox: \(error.message)\n", stderr)
        }
    }
}

/// What the main thread needs from the machine thread for one frame.
struct DisplaySnapshot: Sendable {
    let scanout: VGAScanout
    let changes: VideoMemoryChanges
    let status: MachineStatus
}

/// The latest snapshot, handed from the machine thread to the main thread.
final class SnapshotMailbox: Sendable {
    private let slot = Mutex<DisplaySnapshot?>(nil)
    func put(_ snapshot: DisplaySnapshot) { slot.withLock { $0 = snapshot } }
    func take() -> DisplaySnapshot? { slot.withLock { value in defer { value = nil }; return value } }
}

/// The machine thread's result, read after joining it.
private final class RunOutcome: @unchecked Sendable {
    var reason: Machine.ExitReason = .stopped
}
