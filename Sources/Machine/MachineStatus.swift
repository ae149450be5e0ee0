import CPU

/// What a front end shows about the machine (the window title, later the
/// monitor): taken on the machine's thread, read on any.
public struct MachineStatus: Equatable, Sendable {
    /// Which engine runs the guest: the reference interpreter, the
    /// recompiler (`-engine interp|rec`), or KVM after a hand-over.
    public enum Engine: String, Sendable {
        case interpreter
        case recompiler
        case kvm
        /// The engines `-engine` chooses between, by the names it takes.
        public static let selectable: [(name: String, engine: Engine)] = [("interp", .interpreter), ("rec", .recompiler)]
    }

    /// The processor's operating mode, as CR0, CR4, EFER and EFLAGS.VM give it.
    public enum CPUMode: Equatable, Sendable {
        case real
        case virtual8086
        case protected
        /// Protected mode with paging; `pae` for 64-bit page tables.
        case paging(pae: Bool)
        /// IA-32e mode (EFER.LMA).
        case long

        public init(cr0: UInt64, cr4: UInt64, efer: UInt64, eflags: UInt32) {
            if efer & (1 << 10) != 0 { self = .long }
            else if cr0 & 1 == 0 { self = .real }
            else if eflags & EFLAGS.vm != 0 { self = .virtual8086 }
            else if cr0 & (1 << 31) != 0 { self = .paging(pae: cr4 & (1 << 5) != 0) }
            else { self = .protected }
        }

        public var name: String {
            switch self {
            case .real: return "real mode"
            case .virtual8086: return "virtual-8086 mode"
            case .protected: return "protected mode"
            case .paging(let pae): return pae ? "paging (PAE)" : "paging"
            case .long: return "long mode"
            }
        }
    }

    public var isPaused: Bool
    public var engine: Engine
    public var cpuMode: CPUMode
    /// Guest instructions retired since power-on.
    public var instructions: UInt64
    /// Guest time since power-on, in nanoseconds.
    public var guestNanoseconds: UInt64
}
