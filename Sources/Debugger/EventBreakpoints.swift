import CPU

/// The moments of a bring-up that are worth stopping at, whatever address
/// the code runs at: protected mode or paging switched on or off, PAE or
/// long mode (EFER.LME/LMA) changing, any control-register write, an
/// exception or interrupt by vector, a port range, HLT, a triple fault,
/// a hand-over between engines.
public enum DebugEvent: Equatable, CustomStringConvertible {
    case protectedMode
    case paging
    case physicalAddressExtension
    case longMode
    case controlRegister
    case exception(UInt8)
    case interrupt(UInt8)
    case port(ClosedRange<UInt16>)
    case halt
    case tripleFault
    /// The guest went to or came back from KVM.
    case engineSwitch

    public var description: String {
        switch self {
        case .protectedMode: return "pe (CR0.PE changes)"
        case .paging: return "pg (CR0.PG changes)"
        case .physicalAddressExtension: return "pae (CR4.PAE changes)"
        case .longMode: return "lme (EFER.LME or EFER.LMA changes)"
        case .controlRegister: return "cr (any CR0/CR3/CR4/EFER write)"
        case .exception(let v): return "exception \(v)"
        case .interrupt(let v): return "int \(hex(v, 2))h"
        case .port(let r): return r.count == 1 ? "io \(hex(r.lowerBound, 4))h" : "io \(hex(r.lowerBound, 4))h-\(hex(r.upperBound, 4))h"
        case .halt: return "hlt"
        case .tripleFault: return "triple fault"
        case .engineSwitch: return "handover (the guest goes to or from KVM)"
        }
    }

    /// Whether KVM can report this event too: its port exits reach the same
    /// bus, and the switches are the machine's own. The others need an
    /// engine of ours, which sees every instruction and CR write.
    var seenUnderKVM: Bool {
        switch self {
        case .port, .engineSwitch: return true
        default: return false
        }
    }

    /// Whether a CR write (register 0, 3, 4 or 0xE = EFER) is this event.
    func matchesControlWrite(register: Int, old: UInt64, new: UInt64) -> Bool {
        switch self {
        case .controlRegister: return true
        case .protectedMode: return register == 0 && (old ^ new) & UInt64(CR0.pe) != 0
        case .paging: return register == 0 && (old ^ new) & UInt64(CR0.pg) != 0
        case .physicalAddressExtension: return register == 4 && (old ^ new) & UInt64(CR4.pae) != 0
        // EFER bit 8 is LME, bit 10 LMA (SDM vol. 3, 2.2.1).
        case .longMode: return register == 0xE && (old ^ new) & 0x500 != 0
        default: return false
        }
    }
}

func hex<T: BinaryInteger>(_ v: T, _ digits: Int) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: max(0, digits - s.count)) + s
}
