import Devices

/// Everything a PC is assembled from: what the command line describes.
public struct MachineConfiguration {
    public enum CharacterTarget: Equatable {
        case none
        case stdio
        case file(String)
    }

    public var ramSize: Int = 128 << 20
    public var biosPath: String = MachineConfiguration.defaultBIOS
    public var vgaBIOSPath: String = MachineConfiguration.defaultVGABIOS
    public var serial: CharacterTarget = .stdio
    public var debugConsole: CharacterTarget = .none
    /// `-no-reboot`: a guest reset (or triple fault) ends the run instead.
    public var noReboot = false
    /// `-icount SHIFT`: time advances 2^SHIFT ns per guest instruction.
    public var instructionCountShift: Int? = nil
    /// `-rtc base=`: seconds since 1970 the real-time clock shows at power-on;
    /// the host's clock when nil. Fixed, it makes a deterministic run repeat
    /// exactly, since firmware and kernel copy the time into guest RAM.
    public var clockBase: Int64? = nil
    /// `-engine interp|rec`: what runs the guest's instructions. The
    /// recompiler, as DESIGN.md wants; the interpreter stays the reference
    /// and takes over for single steps, breakpoints and tracing.
    public var engine: MachineStatus.Engine = .recompiler
    /// `-perfmap`: name translated blocks for `perf` in /tmp/perf-<pid>.map.
    public var perfMap = false
    /// `-d` categories and `-D` file.
    public var trace: TraceOptions = TraceOptions()
    /// Ends the run after this much guest time (seconds).
    public var timeLimit: Double? = nil
    /// Where to print the VGA text screen when the run ends (`-` = stdout).
    public var textScreenDump: String? = nil
    /// `-kernel`, `-initrd`, `-append`: boot a Linux bzImage directly (LinuxBoot).
    public var kernelPath: String? = nil
    public var initrdPath: String? = nil
    public var kernelCommandLine = ""

    /// IDE drives by position: index 0–3 = primary master, primary slave,
    /// secondary master, secondary slave (QEMU's `-hda`…`-hdd`, `-cdrom` = 2).
    public var drives: [DriveConfiguration] = []
    /// `-snapshot`: guest writes go to a temporary overlay, never the files.
    public var snapshot = false
    /// `-boot`: drive letters in boot order (c = first disk, d = first CD).
    public var bootOrder: String = "cd"
    /// `-accel`: when the guest may run on KVM (see `EngineSwitcher`).
    public var acceleration: Acceleration = .auto
    /// The KVM device node (`-accel kvm,device=PATH`).
    public var kvmDevice: String = "/dev/kvm"

    public enum Acceleration: String, Equatable, Sendable {
        /// Hand over once paging is on, if KVM passed its self-test for that kind of state.
        case auto
        /// Always hand over once paging is on; an unusable KVM is an error.
        case kvm
        /// Never use KVM.
        case tcg
    }

    public static let defaultBIOS = "/usr/share/seabios/bios-256k.bin"
    public static let defaultVGABIOS = "/usr/share/seabios/vgabios-stdvga.bin"
    /// Largest RAM below the PCI hole (no memory above 4 GiB yet).
    public static let maximumRAM = 3 << 30
    public static let minimumRAM = 2 << 20

    public init() {}
}

/// `-d` categories (QEMU's names where they exist) and where they go.
public struct TraceOptions {
    public var exceptions = false   // int: exceptions and interrupts
    public var modes = false        // cpu_mode: PE, PG, PAE, WP… changes with the EIP
    public var ports = false        // ioport
    public var instructions = false // in_asm: every executed instruction, disassembled
    public var switches = false     // switch: engine switches (interpreter <-> KVM)
    public var recompiler = false   // rec: the recompiler's report at the end of the run
    public var file: String? = nil
    /// Lines written at most, so a long run cannot fill the disk.
    public var lineLimit = 1_000_000

    public init() {}

    public static let categories: [(name: String, help: String)] = [
        ("int", "exceptions and interrupts, with vector, error code and EIP"),
        ("cpu_mode", "mode changes: CR0.PE/PG/WP, CR4.PAE/PSE, CR3 loads, with the EIP"),
        ("ioport", "every port read and write"),
        ("in_asm", "every executed instruction with its disassembly"),
        ("switch", "engine switches between our engine and KVM, with reason, instruction count and EIP"),
        ("rec", "at the end: recompiler blocks, and the instructions it left to the interpreter"),
    ]

    public var any: Bool { exceptions || modes || ports || instructions || switches || recompiler }

    /// Parses `int,cpu_mode,...`; returns the unknown name on error.
    public mutating func enable(_ list: String) -> String? {
        for name in list.split(separator: ",") {
            switch name {
            case "int": exceptions = true
            case "cpu_mode": modes = true
            case "ioport": ports = true
            case "in_asm": instructions = true
            case "switch": switches = true
            case "rec": recompiler = true
            case "all": exceptions = true; modes = true; ports = true; instructions = true; switches = true; recompiler = true
            default: return String(name)
            }
        }
        return nil
    }
}

/// One `-hda`/`-cdrom`/`-drive` argument.
public struct DriveConfiguration: Equatable {
    public enum Media: Equatable { case disk, cdrom }
    public var path: String
    public var media: Media
    public var readOnly: Bool
    /// IDE position 0–3.
    public var index: Int

    public init(path: String, media: Media, readOnly: Bool = false, index: Int) {
        self.path = path; self.media = media; self.readOnly = readOnly; self.index = index
    }

    /// channel 0/1 and master/slave of `index`.
    public var channel: Int { index / 2 }
    public var isSlave: Bool { index % 2 == 1 }
}
