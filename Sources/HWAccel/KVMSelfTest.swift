import CKVM
import CPU
import Glibc
import MMU

/// The kind of paged state a guest is handed to KVM in; a host's KVM may
/// run one and refuse another (a software-only KVM refuses 32-bit paging).
public enum PagingKind: String, Sendable, CaseIterable {
    case paging32 = "32-bit paging"
    case pae = "PAE paging"
    case longMode = "long mode"

    /// The kind `state` is in (meaningful once CR0.PG is set).
    public init(_ state: CPUState) {
        if state.efer & EFER.lma != 0 { self = .longMode }
        else if state.cr4 & UInt64(CR4.pae) != 0 { self = .pae }
        else { self = .paging32 }
    }
}

/// What the start-up self-test found for one kind of state.
public struct KVMSelfTestResult: Sendable {
    public let kind: PagingKind
    /// The first check that failed, or nil when KVM ran everything right.
    public let failure: String?
    /// Guest instructions per second in KVM and in the interpreter, on the same loop.
    public let kvmRate: Double
    public let interpreterRate: Double
    /// Host time of one port-I/O exit and re-entry.
    public let ioRoundTripNanoseconds: Double

    /// Correct and faster than our own engine: worth handing over to.
    public var worthHandingOver: Bool { failure == nil && kvmRate > interpreterRate }

    public var summary: String {
        if let failure { return "KVM failed its \(kind.rawValue) self-test: \(failure)" }
        let kvm = KVMSelfTestResult.oneDecimal(kvmRate / 1e6)
        let ours = KVMSelfTestResult.oneDecimal(interpreterRate / 1e6)
        let trip = KVMSelfTestResult.oneDecimal(ioRoundTripNanoseconds / 1000)
        return "KVM runs \(kind.rawValue) correctly at \(kvm) million instructions/s (the interpreter: \(ours) million/s; one I/O exit round trip \(trip) µs)"
    }

    /// `v` with one decimal, for the one-line reports.
    public static func oneDecimal(_ v: Double) -> String {
        let tenths = Int((v * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}

/// A tiny guest run on its own VM, in the state kind that is about to be
/// handed over: it checks port output and input with known data, an MMIO
/// write and read, an injected interrupt taken through the guest's IDT,
/// times port-I/O round trips, and runs a counting loop whose speed is
/// compared with the interpreter running the same bytes. About ten
/// milliseconds per kind of state.
///
/// The guest's code is machine code written out below; every instruction
/// in it encodes the same in 32-bit and 64-bit mode (absolute addresses
/// use a SIB byte, not the 64-bit RIP-relative form), except IRET, which
/// needs REX.W in long mode.
public enum KVMSelfTest {
    static let memorySize = 0x10000
    static let codeAddress = 0x1000, handlerAddress = 0x2000
    /// The timed loop follows the checks.
    static var loopAddress: Int { codeAddress + code.count }
    static let mmioAddress: UInt32 = 0x10_0000
    static let interruptVector: UInt8 = 0x20
    static let checkPort: UInt16 = 0x510, interruptPort: UInt16 = 0x512, loopPort: UInt16 = 0x513, roundTripPort: UInt16 = 0x514
    /// Few and short: the guest's first CPUID waits for the verdict
    /// (KVMAssessment), and the decision needs only the order of magnitude.
    static let roundTrips = 250
    /// Iterations of the inner loop between two reports to `loopPort`.
    static let loopChunk: UInt32 = 4096
    static let timedNanoseconds: UInt64 = 5_000_000

    static let code: [UInt8] = [
        0x66, 0xBA, 0x10, 0x05,                     // mov dx, 0x510
        0xB8, 0x78, 0x56, 0x34, 0x12,               // mov eax, 0x12345678
        0xEF,                                       // out dx, eax
        0xED,                                       // in eax, dx          (host: 0x9ABCDEF0)
        0x89, 0x04, 0x25, 0x00, 0x00, 0x10, 0x00,   // mov [0x100000], eax (MMIO write)
        0x8B, 0x04, 0x25, 0x04, 0x00, 0x10, 0x00,   // mov eax, [0x100004] (host: 0x0BADF00D)
        0xEF,                                       // out dx, eax
        0xFB, 0xF4,                                 // sti; hlt            (host injects 0x20)
        0xFA,                                       // cli
        0x66, 0xBA, 0x14, 0x05,                     // mov dx, 0x514
        0xB9, 0xFA, 0x00, 0x00, 0x00,               // mov ecx, 250 (roundTrips)
        0xEE, 0xFF, 0xC9, 0x75, 0xFB,               // 1: out dx, al; dec ecx; jnz 1b
    ]
    /// At `loopAddress`, right after `code`: the timed loop, also what the interpreter runs.
    static let loop: [UInt8] = [
        0x66, 0xBA, 0x13, 0x05,                     // mov dx, 0x513
        0xB9, 0x00, 0x10, 0x00, 0x00,               // 1: mov ecx, 4096
        0xFF, 0xC9, 0x75, 0xFC,                     // 2: dec ecx; jnz 2b
        0xEE,                                       // out dx, al
        0xEB, 0xF4,                                 // jmp 1b
    ]
    static func handler(_ kind: PagingKind) -> [UInt8] {
        [0x66, 0xBA, 0x12, 0x05, 0xB0, 0x21, 0xEE]  // mov dx, 0x512; mov al, 0x21; out dx, al
            + (kind == .longMode ? [0x48, 0xCF] : [0xCF])   // iretq / iretd
    }

    struct Failure: Error { let check: String }

    /// Runs the test for `kind`; `interpreterRate` is what the
    /// interpreter achieves on the same loop (`measureInterpreter`).
    public static func run(_ kind: PagingKind, system: KVMSystem, interpreterRate: Double) -> KVMSelfTestResult {
        guard let memory = mmap(nil, memorySize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), memory != MAP_FAILED else {
            return KVMSelfTestResult(kind: kind, failure: "cannot allocate its memory", kvmRate: 0, interpreterRate: interpreterRate, ioRoundTripNanoseconds: 0)
        }
        defer { munmap(memory, memorySize) }
        do {
            let vm = try KVMVirtualMachine(system: system)
            try vm.setRegions([GuestMemoryRegion(guestPhysical: 0, size: memorySize, host: memory, readOnly: false)])
            let state = prepare(kind, memory)
            let cpuid = CPUIDTable(x86_64Baseline: kind == .longMode)
            let error = vm.vcpu.setCPUID(cpuid.leaves.map { leaf in
                let r = cpuid.query(leaf)
                var e = kvm_cpuid_entry2()
                e.function = leaf; e.eax = r.eax; e.ebx = r.ebx; e.ecx = r.ecx; e.edx = r.edx
                return e
            })
            guard error == 0 else { throw Failure(check: "KVM_SET_CPUID2: \(String(cString: strerror(error)))") }
            do {
                try KVMStateTransfer.load(state, tsc: 0, into: vm.vcpu)
            } catch {
                throw Failure(check: "it refused the state (\(error.description))")
            }
            let (roundTrip, rate) = try drive(vm.vcpu, kind)
            return KVMSelfTestResult(kind: kind, failure: nil, kvmRate: rate, interpreterRate: interpreterRate, ioRoundTripNanoseconds: roundTrip)
        } catch let error as KVMUnavailable {
            return KVMSelfTestResult(kind: kind, failure: error.description, kvmRate: 0, interpreterRate: interpreterRate, ioRoundTripNanoseconds: 0)
        } catch {
            return KVMSelfTestResult(kind: kind, failure: (error as? Failure)?.check ?? "\(error)", kvmRate: 0, interpreterRate: interpreterRate, ioRoundTripNanoseconds: 0)
        }
    }

    /// Writes descriptor tables, page tables and code into `memory` and
    /// returns the processor state that starts the guest in `kind`.
    static func prepare(_ kind: PagingKind, _ memory: UnsafeMutableRawPointer) -> CPUState {
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: memorySize)
        func put32(_ at: Int, _ v: UInt32) { memory.storeBytes(of: v, toByteOffset: at, as: UInt32.self) }
        func put64(_ at: Int, _ v: UInt64) { memory.storeBytes(of: v, toByteOffset: at, as: UInt64.self) }
        // GDT at 0: null, 32-bit code 08h, data 10h, 64-bit code 18h.
        put64(0x08, 0x00CF_9B00_0000_FFFF)
        put64(0x10, 0x00CF_9300_0000_FFFF)
        put64(0x18, 0x00AF_9B00_0000_FFFF)
        // IDT at 100h: one interrupt gate for the injected vector.
        let codeSelector: UInt32 = kind == .longMode ? 0x18 : 0x08
        let gate = 0x100 + Int(interruptVector) * (kind == .longMode ? 16 : 8)
        put32(gate, codeSelector << 16 | UInt32(handlerAddress & 0xFFFF))
        put32(gate + 4, UInt32(handlerAddress) & 0xFFFF_0000 | 0x8E00)
        // Page tables mapping the first 4 MiB with large pages.
        var state = CPUState()
        switch kind {
        case .paging32:
            put32(0x4000, 0x83)                                   // PDE: 4 MiB page
            state.cr3 = 0x4000; state.cr4 = UInt64(CR4.pse)
        case .pae:
            put64(0x5000, 0x4001)                                 // PDPTE
            put64(0x4000, 0x83); put64(0x4008, 0x20_0083)         // PDEs: 2 MiB pages
            state.cr3 = 0x5000; state.cr4 = UInt64(CR4.pae)
        case .longMode:
            put64(0x6000, 0x5003)                                 // PML4E
            put64(0x5000, 0x4003)                                 // PDPTE
            put64(0x4000, 0x83); put64(0x4008, 0x20_0083)
            state.cr3 = 0x6000; state.cr4 = UInt64(CR4.pae)
            state.efer = EFER.lme | EFER.lma
        }
        let bytes = memory.assumingMemoryBound(to: UInt8.self)
        for (k, b) in code.enumerated() { bytes[codeAddress + k] = b }
        for (k, b) in loop.enumerated() { bytes[loopAddress + k] = b }
        for (k, b) in handler(kind).enumerated() { bytes[handlerAddress + k] = b }

        let data = SegmentDescriptorCache(selector: 0x10, base: 0, limit: 0xFFFF_FFFF, attributes: 0xC093)
        let cs = kind == .longMode ? SegmentDescriptorCache(selector: 0x18, base: 0, limit: 0xFFFF_FFFF, attributes: 0xA09B)
                                   : SegmentDescriptorCache(selector: 0x08, base: 0, limit: 0xFFFF_FFFF, attributes: 0xC09B)
        state.segments = (data, cs, data, data, data, data)
        state.tr = SegmentDescriptorCache(selector: 0, base: 0x7000, limit: 0x67, attributes: 0x8B)
        state.gdtr = DescriptorTableRegister(base: 0, limit: 0x1F)
        state.idtr = DescriptorTableRegister(base: 0x100, limit: 0x2FF)
        state.cr0 = UInt64(CR0.pe | CR0.et | CR0.ne | CR0.pg)
        state.rip = UInt64(codeAddress)
        state.gpr.4 = 0x8000
        return state
    }

    /// Runs the guest through its checks; returns the round-trip cost and the loop rate.
    static func drive(_ vcpu: KVMVirtualCPU, _ kind: PagingKind) throws -> (Double, Double) {
        let kick = DeadlineKick()
        kick.arm(nanoseconds: 3_000_000_000, run: vcpu.run)   // a guest that never exits must not hang the start-up
        defer { kick.disarm() }
        func next() -> KVMExit {
            while true {
                let exit = vcpu.enter()
                if case .interruptWindowOpen = exit { continue }
                return exit
            }
        }
        func output(_ port: UInt16, _ size: Int, _ check: String) throws -> UInt32 {
            let exit = next()
            guard case let .portIO(p, s, true, 1, data) = exit, p == port, s == size else {
                throw Failure(check: "\(check): expected out to port \(String(port, radix: 16))h, got \(exit)")
            }
            return size == 1 ? UInt32(data.load(as: UInt8.self)) : data.loadUnaligned(as: UInt32.self)
        }

        guard try output(checkPort, 4, "port output") == 0x1234_5678 else { throw Failure(check: "port output carried the wrong value") }
        var exit = next()
        guard case let .portIO(port, 4, false, 1, data) = exit, port == checkPort else { throw Failure(check: "port input: got \(exit)") }
        data.storeBytes(of: UInt32(0x9ABC_DEF0), as: UInt32.self)
        exit = next()
        guard case .mmio(UInt64(mmioAddress), 4, true, let written) = exit else { throw Failure(check: "MMIO write: got \(exit)") }
        guard written & 0xFFFF_FFFF == 0x9ABC_DEF0 else { throw Failure(check: "port input or MMIO write carried the wrong value") }
        exit = next()
        guard case .mmio(UInt64(mmioAddress + 4), 4, false, _) = exit else { throw Failure(check: "MMIO read: got \(exit)") }
        vcpu.completeMMIORead(0x0BAD_F00D)
        guard try output(checkPort, 4, "port output after the MMIO read") == 0x0BAD_F00D else { throw Failure(check: "MMIO read returned the wrong value to the guest") }
        exit = next()
        guard case .halt = exit else { throw Failure(check: "HLT: got \(exit)") }
        // Inject when the guest can take it, else ask for the window.
        while !vcpu.readyForInterrupt {
            vcpu.run.pointee.request_interrupt_window = 1
            exit = vcpu.enter()
            guard case .interruptWindowOpen = exit else { throw Failure(check: "interrupt window: got \(exit)") }
        }
        vcpu.run.pointee.request_interrupt_window = 0
        guard vcpu.inject(vector: interruptVector) else { throw Failure(check: "KVM_INTERRUPT: \(String(cString: strerror(errno)))") }
        guard try output(interruptPort, 1, "injected interrupt") == 0x21 else { throw Failure(check: "the interrupt handler reported the wrong value") }

        let roundTripStart = MonotonicClock.nanoseconds()
        for _ in 0..<roundTrips { _ = try output(roundTripPort, 1, "I/O round trips") }
        let roundTrip = Double(MonotonicClock.nanoseconds() - roundTripStart) / Double(roundTrips)

        // Chunks of the counting loop until the time is spent (or plenty of them on a fast host).
        let start = MonotonicClock.nanoseconds()
        var chunks = 0
        repeat {
            _ = try output(loopPort, 1, "the timed loop")
            chunks += 1
        } while MonotonicClock.nanoseconds() - start < timedNanoseconds && chunks < 256
        let seconds = Double(MonotonicClock.nanoseconds() - start) / 1e9
        return (roundTrip, Double(chunks) * Double(loopChunk * 2 + 3) / seconds)
    }

    /// The interpreter on the same loop bytes, in flat 32-bit protected mode.
    public static func measureInterpreter() -> Double {
        guard let memory = try? PhysicalMemory(ramSize: 2 << 20) else { return 0 }
        let storage = CPUStateStorage()
        let cpu = CPU(state: storage.pointer, memory: memory, io: DiscardingPorts())
        memory.copyIn(UInt32(loopAddress), loop)
        let flat = SegmentDescriptorCache(selector: 0x10, base: 0, limit: 0xFFFF_FFFF, attributes: 0xC093)
        storage.pointer.pointee.segments = (flat, SegmentDescriptorCache(selector: 0x08, base: 0, limit: 0xFFFF_FFFF, attributes: 0xC09B), flat, flat, flat, flat)
        storage.pointer.pointee.cr0 = UInt64(CR0.pe | CR0.et)
        storage.pointer.pointee.rip = UInt64(loopAddress)
        let start = MonotonicClock.nanoseconds()
        repeat { cpu.run(100_000) } while MonotonicClock.nanoseconds() - start < timedNanoseconds
        return Double(cpu.instructionCount) / (Double(MonotonicClock.nanoseconds() - start) / 1e9)
    }

    final class DiscardingPorts: PortIO {
        func portRead(_ port: UInt16, size: Int) -> UInt32 { 0xFFFF_FFFF }
        func portWrite(_ port: UInt16, size: Int, value: UInt32) {}
    }
}

/// Host time for rates and time shares (CLOCK_MONOTONIC).
public enum MonotonicClock {
    public static func nanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}
