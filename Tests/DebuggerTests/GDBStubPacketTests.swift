import XCTest
import CPU
import Machine
@testable import Debugger

/// Packets handled one by one against a machine that is not running:
/// replies for bad input, the register layout against the target
/// description, and linear addresses through hand-built page tables.
final class GDBStubPacketTests: XCTestCase {
    var t: DebugTestMachine!

    override func setUpWithError() throws { t = try DebugTestMachine() }

    func reply(_ packet: String) -> String {
        String(decoding: t.stub.handle(Array(packet.utf8)) ?? [], as: UTF8.self)
    }

    func testMalformedPacketsGetErrorRepliesNotCrashes() {
        for bad in ["m", "mzz,4", "m0", "m0,", "M0,2:zz", "M0,4:00", "p", "pzz", "p99", "P0=12", "P99=00000000",
                    "G0", "Z0", "Z0,zz,1", "Z2,0,0", "Z3,0,9", "Z4,0,0", "qXfer:features:read:other.xml:0,10", "qRcmd,zzz", "c1g"] {
            XCTAssertTrue(reply(bad).hasPrefix("E"), "\(bad) -> \(reply(bad))")
        }
        // Unknown packets get the empty reply the protocol prescribes.
        XCTAssertEqual(reply("vMustReplyEmpty"), "")
        XCTAssertEqual(reply("Z5,1000,4"), "")
        XCTAssertEqual(reply("!"), "")
    }

    func testRegisterFileMatchesTheTargetDescription() {
        let xml = reply("qXfer:features:read:target.xml:0,ffff")
        XCTAssertTrue(xml.hasPrefix("l<?xml"))
        XCTAssertTrue(xml.contains("<feature name=\"org.gnu.gdb.i386.core\">"))
        // The g packet is as long as the description's bit sizes add up to.
        let bits = xml.components(separatedBy: "bitsize=\"").dropFirst().compactMap { Int($0.prefix { $0.isNumber }) }
        XCTAssertEqual(bits.count, 37)
        XCTAssertEqual(reply("g").count, bits.reduce(0, +) / 4)
        // Reads in pieces end with 'l'.
        XCTAssertTrue(reply("qXfer:features:read:target.xml:0,10").hasPrefix("m"))
    }

    func testRegisterWritesReachTheInterpreter() {
        XCTAssertEqual(reply("P0=78563412"), "OK")
        XCTAssertEqual(t.machine.cpu.reg32(0), 0x1234_5678)
        XCTAssertEqual(reply("p0"), "78563412")
        // EIP is register 8; the reset value F000:FFF0 reads back.
        XCTAssertEqual(reply("p8"), "f0ff0000")
        XCTAssertEqual(reply("pa"), "00f00000")
        // A real-mode segment write sets the base to selector × 16.
        XCTAssertEqual(reply("Pc=00100000"), "OK") // DS (gdb register 12) = 1000h
        XCTAssertEqual(t.machine.cpu.segment(.ds).pointee.base, 0x10000)
        // Reserved EFLAGS bits keep their fixed values.
        XCTAssertEqual(reply("P9=ffffffff"), "OK")
        XCTAssertEqual(t.machine.cpu.state.pointee.eflags, 0x003F_7FD7)
    }

    /// gdb's `G` writes back every register it read. For a 64-bit guest
    /// (one KVM runs) the i386 view holds the low halves: written back
    /// unchanged they keep the upper halves (a kernel's RSP and RIP at
    /// FFFFFFFF8…); a new value is zero-extended, as a 32-bit MOV does.
    func testGPacketKeepsTheUpperHalvesOfUnchangedRegisters() {
        let s = t.machine.cpu.state
        s.pointee.gpr.4 = 0xFFFF_FFFF_8100_0FF0
        s.pointee.gpr.3 = 0x0000_0001_0000_0002
        s.pointee.rip = 0xFFFF_FFFF_8100_1234
        let all = reply("g")
        XCTAssertEqual(reply("G" + all), "OK")
        XCTAssertEqual(s.pointee.gpr.4, 0xFFFF_FFFF_8100_0FF0)
        XCTAssertEqual(s.pointee.gpr.3, 0x0000_0001_0000_0002)
        XCTAssertEqual(s.pointee.rip, 0xFFFF_FFFF_8100_1234)
        XCTAssertEqual(reply("P3=05000000"), "OK")
        XCTAssertEqual(s.pointee.gpr.3, 5)
    }

    /// 32-bit paging built by hand (SDM vol. 3, 4.3): linear 0x00400000 →
    /// PDE 1 → page table → frame 0x20000. Unmapped linear addresses answer
    /// E14; memory writes land in the frame.
    func testLinearAddressesGoThroughPaging() {
        let m = t.machine.memory
        m.write(0x10000 + 4, size: 4, value: 0x11000 | 3) // PDE 1: page table at 0x11000
        m.write(0x11000, size: 4, value: 0x20000 | 3)     // PTE 0: frame 0x20000
        m.write(0x20000, size: 4, value: 0xDDCC_BBAA)
        let s = t.machine.cpu.state
        s.pointee.cr3 = 0x10000
        s.pointee.cr0 |= UInt64(CR0.pe | CR0.pg)
        XCTAssertEqual(reply("m400000,4"), "aabbccdd")
        XCTAssertEqual(reply("m0,4"), "E14")
        XCTAssertEqual(reply("m400ffe,4"), "E14") // crosses into the unmapped next page
        XCTAssertEqual(reply("M400004,2:1122"), "OK")
        XCTAssertEqual(m.read(0x20004, size: 2), 0x2211)
        XCTAssertEqual(reply("M0,1:00"), "E14")
        // The debugger's look does not set the Accessed bits.
        XCTAssertEqual(m.read(0x10004, size: 4) & 0x20, 0)
        // The monitor's page walk shows both levels.
        let walk = t.monitor.execute("info pg 400123")
        XCTAssertEqual(walk.last, "  -> physical 00020123", walk.joined(separator: "\n"))
        XCTAssertTrue(walk.contains { $0.contains("PDE at 00010004") })
        XCTAssertEqual(t.monitor.execute("info pg 800000").last, "  -> not mapped")
    }

    func testBreakpointPacketsAddAndRemoveGDBBreakpoints() {
        XCTAssertEqual(reply("Z0,fffffff0,1"), "OK")
        XCTAssertEqual(reply("Z1,fffffff0,1"), "OK")
        XCTAssertEqual(t.session.breakpoints.code.count, 1)
        XCTAssertTrue(t.machine.cpu.debugHooksActive)
        XCTAssertEqual(reply("z0,fffffff0,1"), "OK")
        XCTAssertTrue(t.session.breakpoints.isEmpty)
        XCTAssertFalse(t.machine.cpu.debugHooksActive)
    }

    func testStepFromTheResetVectorTakesTheFarJump() {
        XCTAssertEqual(reply("s"), "S05")
        XCTAssertEqual(t.machine.cpu.segment(.cs).pointee.selector, 0xF000)
        XCTAssertEqual(t.machine.cpu.segment(.cs).pointee.base, 0xF0000)
        XCTAssertEqual(t.machine.cpu.eip, 0xE05B)
        XCTAssertEqual(t.machine.cpu.instructionCount, 1)
    }
}
