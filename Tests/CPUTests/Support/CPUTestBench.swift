import XCTest
@testable import CPU
@testable import MMU

/// Ports for tests: records writes, answers reads from a table.
final class RecordingPorts: PortIO {
    var reads: [UInt16: UInt32] = [:]
    var writes: [(port: UInt16, size: Int, value: UInt32)] = []
    func portRead(_ port: UInt16, size: Int) -> UInt32 { reads[port] ?? (size == 4 ? 0xFFFF_FFFF : (1 << (8 * size)) - 1) }
    func portWrite(_ port: UInt16, size: Int, value: UInt32) { writes.append((port, size, value)) }
}

/// A CPU on 2 MiB of RAM, for instruction-level tests. Code is placed at
/// `codeBase` and run in real mode, or in flat 32-bit protected mode
/// (set up directly in the segment caches, the way a test wants it, not by
/// running a mode switch).
final class CPUTestBench {
    let storage = CPUStateStorage()
    let memory: PhysicalMemory
    let ports = RecordingPorts()
    let cpu: CPU
    var exceptions: [(vector: UInt8, eip: UInt32)] = []

    init(ramSize: Int = 2 << 20) {
        memory = try! PhysicalMemory(ramSize: ramSize)
        cpu = CPU(state: storage.pointer, memory: memory, io: ports)
        cpu.onException = { [unowned self] f, eip in self.exceptions.append((f.vector, eip)) }
    }

    var state: UnsafeMutablePointer<CPUState> { storage.pointer }

    /// Real mode, CS = DS = ES = SS = `segment`, IP = `ip`, SP = 0xFFF0.
    func realMode(code: [UInt8], segment: UInt16 = 0x1000, ip: UInt16 = 0x100) {
        cpu.reset()
        for s in SegmentRegister.allCases {
            cpu.segment(s).pointee = SegmentDescriptorCache(selector: segment, base: UInt64(segment) << 4, limit: 0xFFFF,
                                                            attributes: s == .cs ? 0x9B : 0x93)
        }
        state.pointee.rip = UInt64(ip)
        cpu.setReg16(4, 0xFFF0)
        memory.copyIn(UInt32(segment) << 4 + UInt32(ip), code)
    }

    /// Flat 32-bit protected mode at CPL `cpl` (no paging), EIP = `eip`,
    /// ESP = 0x1F_0000.
    func flat32(code: [UInt8], eip: UInt32 = 0x10_0000, cpl: UInt8 = 0) {
        cpu.reset()
        state.pointee.cr0 |= 1
        let dpl = UInt16(cpl) << 5
        for s in SegmentRegister.allCases {
            let code = s == .cs
            cpu.segment(s).pointee = SegmentDescriptorCache(
                selector: (code ? 0x08 : 0x10) | UInt16(cpl), base: 0, limit: 0xFFFF_FFFF,
                attributes: (code ? 0x9B : 0x93) | dpl | 0xC000)
        }
        state.pointee.cpl = cpl
        state.pointee.rip = UInt64(eip)
        cpu.setReg32(4, 0x1F_0000)
        memory.copyIn(eip, code)
    }

    /// Runs until EIP reaches `end` or `limit` instructions pass.
    func run(until end: UInt32, limit: Int = 10_000) {
        var n = 0
        while cpu.eip != end && n < limit { cpu.step(); n += 1 }
    }
}
