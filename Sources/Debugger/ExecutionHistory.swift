import CPU
import Glibc

/// What led up to now: the last exceptions (always recorded — they are rare)
/// and, when switched on, the last executed instructions in a ring buffer.
///
/// The instruction ring costs a closure call per instruction while on and
/// nothing while off (the CPU's `onInstruction` is nil then), so it is off
/// unless asked for. A triple fault prints both, so it is never silent.
public final class ExecutionHistory {
    public struct ExceptionRecord: Equatable {
        public var name: String
        public var vector: UInt8
        public var errorCode: UInt32?
        public var cs: UInt16
        public var eip: UInt32
        public var instructionCount: UInt64
    }

    public struct InstructionRecord: Equatable {
        public var cs: UInt16
        public var eip: UInt32
        public var text: String
    }

    let cpu: CPU
    private var exceptions: [ExceptionRecord] = []
    static let exceptionCapacity = 16

    private let capacity: Int
    private let ringCS: UnsafeMutablePointer<UInt16>
    private let ringEIP: UnsafeMutablePointer<UInt32>
    private let ringInstruction: UnsafeMutablePointer<Instruction>
    private var next = 0
    private var filled = 0
    private var previousInstructionObserver: ((UInt32, Instruction) -> Void)?

    /// Chains onto the CPU's exception and triple-fault observers (tracing
    /// keeps working); a triple fault prints its report on stderr.
    public init(cpu: CPU, instructionCapacity: Int = 64) {
        self.cpu = cpu
        capacity = max(1, instructionCapacity)
        ringCS = .allocate(capacity: capacity)
        ringEIP = .allocate(capacity: capacity)
        ringInstruction = .allocate(capacity: capacity)
        let previous = cpu.onException
        cpu.onException = { [unowned self] fault, eip in
            previous?(fault, eip)
            if exceptions.count == ExecutionHistory.exceptionCapacity { exceptions.removeFirst() }
            exceptions.append(ExceptionRecord(name: fault.name, vector: fault.vector, errorCode: fault.errorCode,
                                              cs: cpu.segment(.cs).pointee.selector, eip: eip, instructionCount: cpu.instructionCount))
        }
        let triple = cpu.onTripleFault
        cpu.onTripleFault = { [unowned self] in
            triple?()
            let text = tripleFaultReport().joined(separator: "\n") + "\n"
            fflush(stdout)
            fputs(text, stderr)
        }
    }

    deinit {
        ringCS.deallocate(); ringEIP.deallocate(); ringInstruction.deallocate()
    }

    public var recordsInstructions: Bool { isOurs }
    private var isOurs = false

    /// Starts or stops the instruction ring (chaining any tracer).
    public func recordInstructions(_ on: Bool) {
        guard on != isOurs else { return }
        isOurs = on
        if on {
            let previous = cpu.onInstruction
            previousInstructionObserver = previous
            cpu.onInstruction = { [unowned self] eip, instruction in
                previous?(eip, instruction)
                ringCS[next] = cpu.segment(.cs).pointee.selector
                ringEIP[next] = eip
                (ringInstruction + next).pointee = instruction
                next = next + 1 == capacity ? 0 : next + 1
                filled = min(filled + 1, capacity)
            }
        } else {
            cpu.onInstruction = previousInstructionObserver
            previousInstructionObserver = nil
        }
    }

    public var recentExceptions: [ExceptionRecord] { exceptions }

    /// The recorded instructions, oldest first.
    public var recentInstructions: [InstructionRecord] {
        (0..<filled).map { k in
            let slot = (next - filled + k + capacity) % capacity
            return InstructionRecord(cs: ringCS[slot], eip: ringEIP[slot], text: Disassembler.text(ringInstruction[slot], address: ringEIP[slot]))
        }
    }

    public func clearExceptions() { exceptions.removeAll() }

    /// The triple-fault report: the exceptions that led to it (the last
    /// three are the fault, the #DF, and the fault during #DF), the
    /// instruction at CS:EIP, and the instruction ring if it is on.
    public func tripleFaultReport() -> [String] {
        var lines = ["triple fault at icount \(cpu.instructionCount); exception chain (oldest first):"]
        for e in exceptions.suffix(8) {
            lines.append("  \(e.name) (vector \(e.vector))\(e.errorCode.map { " error \(hex($0, 4))" } ?? "") at \(hex(e.cs, 4)):\(hex(e.eip, 8)) icount \(e.instructionCount)")
        }
        let view = GuestMemoryView(cpu: cpu)
        let cs = cpu.segment(.cs).pointee
        let faulting = cpu.currentEIP
        if let bytes = view.readLinear(UInt32(truncatingIfNeeded: cs.base) &+ faulting, count: 15) {
            lines.append("faulting instruction: \(hex(cs.selector, 4)):\(hex(faulting, 8))  \(Disassembler.disassemble(bytes, address: faulting, default32: cs.is32Bit).0)")
        }
        let ring = recentInstructions
        if ring.isEmpty {
            lines.append("(last instructions: not recorded; run with -history N to keep them)")
        } else {
            lines.append("last \(ring.count) instructions:")
            lines += ring.map { "  \(hex($0.cs, 4)):\(hex($0.eip, 8))  \($0.text)" }
        }
        return lines
    }
}
