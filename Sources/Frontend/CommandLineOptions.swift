import Glibc
import Machine

/// A command-line mistake: one line for the user, exit code 2.
struct UsageError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// QEMU-style options (`-m 256M`, `-serial stdio`, `-nographic`), parsed
/// by hand: they are single-dash long flags, which argument-parsing
/// libraries read as bundles of short flags.
struct CommandLineOptions {
    var configuration = MachineConfiguration()
    var debug = DebugOptions()
    var showHelp = false
    var showVersion = false

    /// Where the guest's screen goes: a window when a display is there
    /// (`automatic`), a window or an error (`sdl`), or nowhere (`none`).
    enum Display: Equatable { case automatic, sdl, none }
    var display = Display.automatic
    var fullScreen = false
    /// Window size as a multiple of the picture a VGA monitor would show.
    var scale = 1.0
    /// Where to write a PNG of the screen when the run ends.
    var screenshot: String? = nil
    static let scaleRange = 0.25...8.0

    static let usage = """
    usage: novabox [options]

    Machine:
      -m SIZE               guest RAM (e.g. 128M, 1G; default 128M; 2M–3G)
      -bios FILE            firmware image (default \(MachineConfiguration.defaultBIOS))
      -vga-bios FILE        VGA option ROM (default \(MachineConfiguration.defaultVGABIOS))
      -no-reboot            stop instead of resetting when the guest resets or triple-faults
      -icount SHIFT         deterministic time: 2^SHIFT ns per guest instruction
      -rtc base=utc|localtime|DATE[THH:MM:SS]
                            what the real-time clock shows at power-on (default
                            the host's UTC time); a fixed date makes -icount runs repeat
      -accel auto|kvm|tcg[,device=PATH]
                            KVM after the guest turns paging on: auto (default) when
                            KVM's self-test shows it correct and faster, kvm always
                            (an unusable KVM is an error), tcg never; -enable-kvm = kvm
      -engine interp|rec    run the guest on the recompiler (native x86-64 code, the default)
                            or on the interpreter (the reference)

    Storage (IDE: primary master/slave = 0/1, secondary = 2/3):
      -hda/-hdb/-hdc/-hdd FILE        raw disk image at IDE position 0–3
      -cdrom FILE                     ISO image in the CD drive (position 2)
      -drive file=FILE[,media=disk|cdrom][,format=raw][,readonly=on][,index=N]
      -snapshot                       write to a temporary overlay, never to the image files
      -boot ORDER                     boot order: c (disk), d (CD), e.g. -boot d or -boot order=dc

    Linux boot (no boot loader; SeaBIOS stays the firmware):
      -kernel FILE          boot this Linux bzImage
      -initrd FILE          with this initial ramdisk
      -append "TEXT"        and this kernel command line (e.g. "console=ttyS0")

    Console:
      -serial stdio|file:PATH|none    COM1 (default stdio)
      -debugcon stdio|file:PATH|none  the firmware debug port 0x402/0xE9 (default none)
      -display sdl|none     the guest's screen in a window (the default when a display
                            is available), or headless
      -nographic            same as -display none with the serial port on stdio
      -full-screen          start the window full screen
      -scale FACTOR         window size as a multiple of the guest's picture (default 1)
      -screenshot PATH      write the screen as a PNG file when the run ends
      -text-screen PATH|-   print the VGA text screen when the run ends
      -timeout SECONDS      end the run after SECONDS of guest time

    Window keys:
      Ctrl+Alt+G            grab or release the mouse (a click into the window grabs it)
      Ctrl+Alt+End          send Ctrl+Alt+Del to the guest
      Ctrl+Alt+S            save a screenshot (novabox-DATE-TIME.png)
      Ctrl+Alt+P            pause or resume the guest
      Ctrl+Alt+F            full screen on or off

    Tracing:
      -d CATEGORIES         comma-separated: \(TraceOptions.categories.map(\.name).joined(separator: ", ")), all
      -D FILE               write the trace to FILE instead of stderr
      -perfmap              name translated code for perf in /tmp/perf-<pid>.map

    \(DebugOptions.usage)

      -h, -help             this text
      -version              the version
    """

    static func parse(_ args: [String]) throws(UsageError) -> CommandLineOptions {
        var o = CommandLineOptions()
        var k = 0
        func value(_ flag: String) throws(UsageError) -> String {
            k += 1
            guard k < args.count else { throw UsageError("\(flag) needs a value (see novabox -help)") }
            return args[k]
        }
        while k < args.count {
            let raw = args[k]
            // Accept --flag as well as -flag, like QEMU.
            let flag = raw.hasPrefix("--") ? String(raw.dropFirst()) : raw
            switch flag {
            case "-h", "-help": o.showHelp = true
            case "-version": o.showVersion = true
            case "-m":
                let text = try value(flag)
                guard let size = parseSize(text) else {
                    throw UsageError("-m \(text): not a size; write it like 128M or 1G")
                }
                guard size >= MachineConfiguration.minimumRAM && size <= MachineConfiguration.maximumRAM else {
                    throw UsageError("-m \(text): out of range; Novabox takes 2M to 3G of guest RAM")
                }
                o.configuration.ramSize = size
            case "-bios": o.configuration.biosPath = try value(flag)
            case "-vga-bios": o.configuration.vgaBIOSPath = try value(flag)
            case "-no-reboot": o.configuration.noReboot = true
            case "-enable-kvm": o.configuration.acceleration = .kvm
            case "-accel":
                let text = try value(flag)
                let parts = text.split(separator: ",").map(String.init)
                guard let name = parts.first, let policy = MachineConfiguration.Acceleration(rawValue: name) else {
                    throw UsageError("-accel \(text): use -accel auto, -accel kvm or -accel tcg")
                }
                o.configuration.acceleration = policy
                for option in parts.dropFirst() {
                    guard option.hasPrefix("device="), option.count > 7 else {
                        throw UsageError("-accel \(text): unknown option '\(option)'; the one option is device=PATH (default /dev/kvm)")
                    }
                    o.configuration.kvmDevice = String(option.dropFirst(7))
                }
            case "-kernel": o.configuration.kernelPath = try value(flag)
            case "-initrd": o.configuration.initrdPath = try value(flag)
            case "-append": o.configuration.kernelCommandLine = try value(flag)
            case "-icount":
                let text = try value(flag)
                // QEMU accepts both `-icount 3` and `-icount shift=3`.
                let first = text.split(separator: ",").first.map(String.init) ?? ""
                guard let shift = Int(first.hasPrefix("shift=") ? String(first.dropFirst(6)) : first),
                      (0...10).contains(shift) else {
                    throw UsageError("-icount \(text): give a shift from 0 to 10 (ns per instruction = 2^shift)")
                }
                o.configuration.instructionCountShift = shift
            case "-perfmap": o.configuration.perfMap = true
            case "-rtc": o.configuration.clockBase = try parseClockBase(try value(flag))
            case "-engine":
                let name = try value(flag)
                guard let engine = MachineStatus.Engine.selectable.first(where: { $0.name == name })?.engine else {
                    throw UsageError("-engine \(name): use -engine interp or -engine rec")
                }
                o.configuration.engine = engine
            case "-serial": o.configuration.serial = try characterTarget(flag, try value(flag))
            case "-debugcon": o.configuration.debugConsole = try characterTarget(flag, try value(flag))
            case "-display":
                let v = try value(flag)
                switch v {
                case "sdl": o.display = .sdl
                case "none": o.display = .none
                default: throw UsageError("-display \(v): use -display sdl or -display none")
                }
            case "-nographic":
                o.display = .none
                o.configuration.serial = .stdio
            case "-full-screen": o.fullScreen = true
            case "-scale":
                let text = try value(flag)
                guard let factor = Double(text), scaleRange.contains(factor) else {
                    throw UsageError("-scale \(text): give a factor from 0.25 to 8, e.g. 2 or 1.5")
                }
                o.scale = factor
            case "-screenshot": o.screenshot = try value(flag)
            case "-text-screen": o.configuration.textScreenDump = try value(flag)
            case "-timeout":
                let text = try value(flag)
                guard let s = Double(text), s > 0 else { throw UsageError("-timeout \(text): give a number of seconds") }
                o.configuration.timeLimit = s
            case "-hda", "-hdb", "-hdc", "-hdd":
                let index = Int(flag.utf8.last! - UInt8(ascii: "a"))
                try o.addDrive(DriveConfiguration(path: try value(flag), media: .disk, index: index), flag)
            case "-cdrom":
                try o.addDrive(DriveConfiguration(path: try value(flag), media: .cdrom, readOnly: true, index: 2), flag)
            case "-drive": try o.addDrive(try parseDrive(try value(flag), taken: o.configuration.drives), flag)
            case "-snapshot": o.configuration.snapshot = true
            case "-boot":
                let v = try value(flag)
                let order = v.hasPrefix("order=") ? String(v.dropFirst(6)) : v
                guard !order.isEmpty, order.allSatisfy({ "acdn".contains($0) }) else {
                    throw UsageError("-boot \(v): give drive letters, c for the disk and d for the CD (e.g. -boot d or -boot order=dc)")
                }
                o.configuration.bootOrder = order
            case "-d":
                let v = try value(flag)
                if let bad = o.configuration.trace.enable(v) {
                    throw UsageError("-d \(bad): unknown trace category; known: \(TraceOptions.categories.map(\.name).joined(separator: ", ")), all")
                }
            case "-D": o.configuration.trace.file = try value(flag)
            case "-monitor": o.debug.monitor = try DebugOptions.endpoint(flag, try value(flag))
            case "-gdb": o.debug.gdb = try DebugOptions.gdbEndpoint(try value(flag))
            case "-s": o.debug.gdb = ("", 1234)
            case "-S": o.debug.startPaused = true
            case "-history":
                let text = try value(flag)
                guard let n = Int(text), (1...1_000_000).contains(n) else { throw UsageError("-history \(text): give a count from 1 to 1000000") }
                o.debug.history = n
            default:
                throw UsageError("unknown option \(raw) (see novabox -help)")
            }
            k += 1
        }
        if o.debug.startPaused && o.debug.monitor == nil && o.debug.gdb == nil {
            throw UsageError("-S starts paused: add -gdb tcp::PORT, -s or -monitor so something can continue it")
        }
        return o
    }

    mutating func addDrive(_ d: DriveConfiguration, _ flag: String) throws(UsageError) {
        if let other = configuration.drives.first(where: { $0.index == d.index }) {
            throw UsageError("\(flag) \(d.path): IDE position \(d.index) already holds \(other.path); use another position (-hdb, index=N)")
        }
        configuration.drives.append(d)
    }

    /// `file=PATH,media=cdrom,format=raw,readonly=on,index=N`, as QEMU reads it.
    static func parseDrive(_ text: String, taken: [DriveConfiguration]) throws(UsageError) -> DriveConfiguration {
        var path: String?, media = DriveConfiguration.Media.disk, readOnly = false, index: Int?
        for part in text.split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { throw UsageError("-drive \(text): '\(part)' is not key=value") }
            switch kv[0] {
            case "file": path = kv[1]
            case "media":
                switch kv[1] {
                case "disk": media = .disk
                case "cdrom": media = .cdrom
                default: throw UsageError("-drive \(text): media must be disk or cdrom")
                }
            case "format":
                guard kv[1] == "raw" else { throw UsageError("-drive \(text): only format=raw images are supported") }
            case "readonly":
                guard ["on", "off"].contains(kv[1]) else { throw UsageError("-drive \(text): readonly must be on or off") }
                readOnly = kv[1] == "on"
            case "index":
                guard let n = Int(kv[1]), (0...3).contains(n) else { throw UsageError("-drive \(text): index must be 0 to 3") }
                index = n
            case "if":
                guard kv[1] == "ide" else { throw UsageError("-drive \(text): only if=ide is available") }
            default: throw UsageError("-drive \(text): unknown key '\(kv[0])' (file, media, format, readonly, index)")
            }
        }
        guard let path, !path.isEmpty else { throw UsageError("-drive \(text): give file=PATH") }
        let free = (0...3).first { n in !taken.contains { $0.index == n } }
        guard let position = index ?? free else { throw UsageError("-drive \(text): all four IDE positions are taken") }
        return DriveConfiguration(path: path, media: media, readOnly: readOnly || media == .cdrom, index: position)
    }

    /// `128M`, `1G`, `65536K`, or a bare number of MiB (as QEMU reads it).
    static func parseSize(_ text: String) -> Int? {
        guard let last = text.last else { return nil }
        let units: [Character: Int] = ["K": 1 << 10, "k": 1 << 10, "M": 1 << 20, "m": 1 << 20, "G": 1 << 30, "g": 1 << 30]
        if let unit = units[last] {
            guard let n = Int(text.dropLast()), n > 0, n <= Int(Int32.max) else { return nil }
            return n * unit
        }
        guard let n = Int(text), n > 0, n <= 1 << 20 else { return nil }
        return n << 20
    }

    /// `-rtc base=utc|localtime|YYYY-MM-DD[THH:MM:SS]`, as QEMU spells it;
    /// nil means the host's clock as it is when the machine starts (utc).
    static func parseClockBase(_ text: String) throws(UsageError) -> Int64? {
        let base = text.split(separator: ",").first { $0.hasPrefix("base=") }.map { String($0.dropFirst(5)) }
        guard let base else { throw UsageError("-rtc \(text): give base=utc, base=localtime or base=2006-06-17T16:01:21") }
        switch base {
        case "utc": return nil
        case "localtime":
            var now = time(nil), local = tm()
            localtime_r(&now, &local)
            return Int64(now) + Int64(local.tm_gmtoff)
        default:
            let parts = base.split(separator: "T", omittingEmptySubsequences: false)
            let date = parts[0].split(separator: "-").compactMap { Int32($0) }
            let clock = parts.count > 1 ? parts[1].split(separator: ":").compactMap { Int32($0) } : [0, 0, 0]
            guard parts.count <= 2, date.count == 3, clock.count == 3,
                  (1970...2099).contains(date[0]), (1...12).contains(date[1]), (1...31).contains(date[2]),
                  (0...23).contains(clock[0]), (0...59).contains(clock[1]), (0...59).contains(clock[2]) else {
                throw UsageError("-rtc \(text): write the start time as 2006-06-17T16:01:21 (UTC), or base=utc")
            }
            var fields = tm()
            fields.tm_year = date[0] - 1900
            fields.tm_mon = date[1] - 1
            fields.tm_mday = date[2]
            fields.tm_hour = clock[0]
            fields.tm_min = clock[1]
            fields.tm_sec = clock[2]
            return Int64(timegm(&fields))
        }
    }

    static func characterTarget(_ flag: String, _ v: String) throws(UsageError) -> MachineConfiguration.CharacterTarget {
        if v == "stdio" { return .stdio }
        if v == "none" || v == "null" { return .none }
        if v.hasPrefix("file:"), v.count > 5 { return .file(String(v.dropFirst(5))) }
        throw UsageError("\(flag) \(v): use stdio, file:PATH or none")
    }
}
