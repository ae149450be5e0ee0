/// An x86 exception raised while executing an instruction. Thrown (typed,
/// so no allocation) from any depth of the interpreter and turned into
/// guest exception delivery at the instruction boundary.
public struct CPUFault: Error, Equatable {
    public var vector: UInt8
    /// Pushed on the stack for #DF, #TS, #NP, #SS, #GP, #PF, #AC.
    public var errorCode: UInt32?

    public init(_ vector: UInt8, errorCode: UInt32? = nil) {
        self.vector = vector; self.errorCode = errorCode
    }

    public static let divideError = CPUFault(0)
    public static let debug = CPUFault(1)
    public static let breakpoint = CPUFault(3)
    public static let overflow = CPUFault(4)
    public static let boundRange = CPUFault(5)
    public static let invalidOpcode = CPUFault(6)
    public static let deviceNotAvailable = CPUFault(7)
    public static func doubleFault() -> CPUFault { CPUFault(8, errorCode: 0) }
    public static func invalidTSS(_ code: UInt32) -> CPUFault { CPUFault(10, errorCode: code) }
    public static func segmentNotPresent(_ code: UInt32) -> CPUFault { CPUFault(11, errorCode: code) }
    public static func stackFault(_ code: UInt32 = 0) -> CPUFault { CPUFault(12, errorCode: code) }
    public static func generalProtection(_ code: UInt32 = 0) -> CPUFault { CPUFault(13, errorCode: code) }
    public static func pageFault(_ code: UInt32) -> CPUFault { CPUFault(14, errorCode: code) }
    public static let floatingPoint = CPUFault(16)
    public static func alignmentCheck() -> CPUFault { CPUFault(17, errorCode: 0) }

    /// Traps report the address of the next instruction; faults that of the
    /// faulting one. (#DB is a trap for single-step and data breakpoints.)
    public var isTrap: Bool { vector == 3 || vector == 4 }

    public static let names = ["#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO",
                               "#TS", "#NP", "#SS", "#GP", "#PF", "15", "#MF", "#AC", "#MC", "#XM"]
    public var name: String { Int(vector) < CPUFault.names.count ? CPUFault.names[Int(vector)] : "vector \(vector)" }
}

/// How the CPU's port I/O reaches the machine's devices (the machine adapts
/// its I/O bus to this).
public protocol PortIO: AnyObject {
    func portRead(_ port: UInt16, size: Int) -> UInt32
    func portWrite(_ port: UInt16, size: Int, value: UInt32)
}

/// The interrupt controller as the CPU sees it: the INTR line and the
/// interrupt-acknowledge cycle.
public protocol InterruptAcknowledge: AnyObject {
    /// The INTA cycle: returns the vector and updates the controller.
    func acknowledgeInterrupt() -> UInt8
}
