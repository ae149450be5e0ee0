import CKVM
import CPU
import Glibc
@testable import HWAccel
import MMU
import XCTest

/// The KVM back end against the host's KVM itself: device checks, the
/// self-test guest, and state that must come back from the vCPU exactly
/// as it went in (KVM is the independent side of the round trip).
final class KVMBackendTests: XCTestCase {
    func openKVM() throws -> KVMSystem {
        guard access(KVMSystem.defaultDevice, F_OK) == 0 else { throw XCTSkip("no /dev/kvm on this host: the KVM back end cannot be tested here") }
        do { return try KVMSystem() } catch { throw XCTSkip("/dev/kvm is not usable here: \(error)") }
    }

    func testMissingDeviceSaysHowToFix() {
        XCTAssertThrowsError(try KVMSystem(device: "/nonexistent/kvm")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("does not exist") && text.contains("modprobe"), text)
        }
    }

    func testDeviceThatIsNotKVM() {
        XCTAssertThrowsError(try KVMSystem(device: "/dev/null")) { error in
            XCTAssertTrue("\(error)".contains("not a KVM device"), "\(error)")
        }
    }

    func testPermissionMessageNamesTheGroup() {
        let text = KVMUnavailable.cannotOpen("/dev/kvm", error: EACCES).description
        XCTAssertTrue(text.contains("permission denied") && text.contains("kvm"), text)
    }

    func testLongModeSelfTestPasses() throws {
        let kvm = try openKVM()
        let result = KVMSelfTest.run(.longMode, system: kvm, interpreterRate: KVMSelfTest.measureInterpreter())
        XCTAssertNil(result.failure, result.summary)
        XCTAssertGreaterThan(result.kvmRate, 0)
        XCTAssertGreaterThan(result.interpreterRate, 0)
        print(result.summary)
    }

    func testEveryKindEitherPassesOrNamesTheCheck() throws {
        let kvm = try openKVM()
        let interpreterRate = KVMSelfTest.measureInterpreter()
        for kind in PagingKind.allCases {
            let result = KVMSelfTest.run(kind, system: kvm, interpreterRate: interpreterRate)
            print(result.summary)
            if let failure = result.failure { XCTAssertFalse(failure.isEmpty) }
        }
    }

    /// Registers, segment caches, control registers, x87 stack (rotated by
    /// TOP), tags, debug registers, the interrupt shadow and MSRs survive a
    /// trip through the vCPU.
    func testStateRoundTripThroughTheVCPU() throws {
        let kvm = try openKVM()
        let vm = try KVMVirtualMachine(system: kvm)
        let memory = mmap(nil, KVMSelfTest.memorySize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)!
        defer { munmap(memory, KVMSelfTest.memorySize) }
        try vm.setRegions([GuestMemoryRegion(guestPhysical: 0, size: KVMSelfTest.memorySize, host: memory, readOnly: false)])
        let identity = CPUIDTable(x86_64Baseline: true)
        XCTAssertEqual(vm.vcpu.setCPUID(identity.leaves.map { leaf in
            let r = identity.query(leaf)
            var e = kvm_cpuid_entry2()
            e.function = leaf; e.eax = r.eax; e.ebx = r.ebx; e.ecx = r.ecx; e.edx = r.edx
            return e
        }), 0)
        var state = KVMSelfTest.prepare(.longMode, memory)
        state.gpr = (1, 2, 3, 4, 0x8000, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)
        state.eflags = 0x202 | EFLAGS.cf
        state.interruptShadow = true
        state.segments.4 = SegmentDescriptorCache(selector: 0x10, base: 0x1234_5000, limit: 0xFFFF_FFFF, attributes: 0xC093)
        state.cr2 = 0xDEAD_B000
        state.dr.0 = 0x4000; state.dr.7 = 0x401
        state.msr.sysenterCS = 0x08; state.msr.sysenterEIP = 0xC010_0000; state.msr.pat = 0x0007_0406_0007_0406
        // x87: TOP = 6, ST(0) = R6 = 1.0, ST(1) = R7 = 2.0, the rest empty.
        withUnsafeMutableBytes(of: &state.fpu.area) { a in
            a.storeBytes(of: UInt16(6 << 11), toByteOffset: 2, as: UInt16.self)
            a.storeBytes(of: UInt64(1) << 63, toByteOffset: 32 + 16 * 6, as: UInt64.self)
            a.storeBytes(of: UInt16(0x3FFF), toByteOffset: 40 + 16 * 6, as: UInt16.self)
            a.storeBytes(of: UInt64(1) << 63, toByteOffset: 32 + 16 * 7, as: UInt64.self)
            a.storeBytes(of: UInt16(0x4000), toByteOffset: 40 + 16 * 7, as: UInt16.self)
            a.storeBytes(of: UInt64(0x1122_3344_5566_7788), toByteOffset: 160 + 16 * 3, as: UInt64.self)
            a.storeBytes(of: UInt32(0x1F80 | 0x6000), toByteOffset: 24, as: UInt32.self)   // MXCSR, round toward zero
        }
        state.fpu.tags = 0x0FFF

        try KVMStateTransfer.load(state, tsc: 5_000_000, into: vm.vcpu)
        var back = CPUState()
        let (tsc, pending) = try KVMStateTransfer.store(from: vm.vcpu, into: &back)
        XCTAssertNil(pending)
        XCTAssertGreaterThanOrEqual(tsc, 5_000_000, "the TSC keeps counting from the value loaded")
        XCTAssertTrue(withUnsafeBytes(of: state.gpr) { a in withUnsafeBytes(of: back.gpr) { b in a.elementsEqual(b) } })
        XCTAssertEqual(back.rip, state.rip)
        XCTAssertEqual(back.eflags, state.eflags)
        XCTAssertEqual(back.segments.1, state.segments.1)
        XCTAssertEqual(back.segments.4, SegmentDescriptorCache(selector: 0x10, base: 0x1234_5000, limit: 0xFFFF_FFFF, attributes: 0xC093 | 1),
                       "FS with its hidden base; a loaded segment is accessed")
        XCTAssertEqual(back.gdtr, state.gdtr)
        XCTAssertEqual(back.idtr, state.idtr)
        XCTAssertEqual([back.cr0, back.cr2, back.cr3, back.cr4, back.efer], [state.cr0, state.cr2, state.cr3, state.cr4, state.efer])
        XCTAssertEqual(back.dr.0, 0x4000)
        XCTAssertEqual(back.dr.7 & 0xFF, 0x01)
        XCTAssertTrue(back.interruptShadow)
        XCTAssertEqual(back.msr.sysenterCS, 0x08)
        XCTAssertEqual(back.msr.sysenterEIP, 0xC010_0000)
        XCTAssertEqual(back.fpu.tags, 0x0FFF)
        let differing = withUnsafeBytes(of: state.fpu.area) { a in withUnsafeBytes(of: back.fpu.area) { b in (0..<512).filter { a[$0] != b[$0] } } }
        XCTAssertEqual(differing, [],
                      "FXSAVE image, x87 registers rotated by TOP and back")
    }

    /// A debugger's look at a guest that stays in KVM: what it changed after
    /// the state was read goes back to the vCPU, and only that. The
    /// exception KVM was delivering and the interrupt shadow are still
    /// there afterwards (a whole reload would drop them), and the registers
    /// it did not touch keep their values.
    func testWriteBackAfterALookChangesOnlyWhatTheDebuggerChanged() throws {
        let kvm = try openKVM()
        let vm = try KVMVirtualMachine(system: kvm)
        let memory = mmap(nil, KVMSelfTest.memorySize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)!
        defer { munmap(memory, KVMSelfTest.memorySize) }
        try vm.setRegions([GuestMemoryRegion(guestPhysical: 0, size: KVMSelfTest.memorySize, host: memory, readOnly: false)])
        var state = KVMSelfTest.prepare(.longMode, memory)
        state.gpr = (1, 2, 3, 4, 0x8000, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)
        state.eflags = 0x202
        state.interruptShadow = true
        try KVMStateTransfer.load(state, tsc: 0, into: vm.vcpu)
        // KVM is in the middle of delivering #GP(18h) when the debugger looks.
        var events = kvm_vcpu_events()
        XCTAssertEqual(vm.vcpu.control(NOVABOX_KVM_GET_VCPU_EVENTS, &events), 0)
        events.exception.injected = 1
        events.exception.nr = 13
        events.exception.has_error_code = 1
        events.exception.error_code = 0x18
        XCTAssertEqual(vm.vcpu.control(NOVABOX_KVM_SET_VCPU_EVENTS, &events), 0)
        var read = CPUState()
        XCTAssertEqual(try KVMStateTransfer.store(from: vm.vcpu, into: &read).pending, .exception(13, errorCode: 0x18))

        // The debugger writes RBX, CR2 and a byte of XMM1.
        var changed = read
        changed.gpr.3 = 0x1234_5678
        changed.cr2 = 0xCAFE_0000
        withUnsafeMutableBytes(of: &changed.fpu.area) { $0[160 + 16] = 0x5A }
        try KVMStateTransfer.writeBack(changed, changedFrom: read, into: vm.vcpu)

        var back = CPUState()
        XCTAssertEqual(try KVMStateTransfer.store(from: vm.vcpu, into: &back).pending, .exception(13, errorCode: 0x18),
                       "the exception is still being delivered")
        XCTAssertTrue(back.interruptShadow, "the interrupt shadow is kept")
        XCTAssertTrue(withUnsafeBytes(of: changed.gpr) { a in withUnsafeBytes(of: back.gpr) { b in a.elementsEqual(b) } }, "RBX written, the rest as read")
        XCTAssertEqual(back.rip, read.rip)
        XCTAssertEqual(back.eflags, read.eflags)
        XCTAssertEqual(back.cr2, 0xCAFE_0000)
        XCTAssertEqual([back.cr0, back.cr3, back.cr4, back.efer], [read.cr0, read.cr3, read.cr4, read.efer])
        XCTAssertEqual(back.segments.1, read.segments.1)
        XCTAssertTrue(withUnsafeBytes(of: changed.fpu.area) { a in withUnsafeBytes(of: back.fpu.area) { b in a.prefix(464).elementsEqual(b.prefix(464)) } },
                      "XMM1's byte written, the rest of the FXSAVE image as read")
    }

    /// The dirty log of a writable slot, as KVM keeps it: a guest store
    /// reports its page, pages only read or executed are not reported, a
    /// collection clears the log, and a slot taken away hands its log over
    /// first.
    /// An IN that exits to us is finished by KVM only at the next KVM_RUN:
    /// read back before that, AL would lack the port's byte and RIP would
    /// still point at the IN. `completePendingIO` runs no further: the HLT
    /// after the IN is not executed.
    func testStateReadAfterAnINExitHasTheInstructionFinished() throws {
        let kvm = try openKVM()
        let vm = try KVMVirtualMachine(system: kvm)
        let memory = mmap(nil, KVMSelfTest.memorySize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)!
        defer { munmap(memory, KVMSelfTest.memorySize) }
        var state = KVMSelfTest.prepare(.longMode, memory)
        state.gpr.0 = 0
        // At the code address: mov dx, 0x1234; in al, dx; hlt.
        let code: [UInt8] = [0x66, 0xBA, 0x34, 0x12, 0xEC, 0xF4]
        for (k, b) in code.enumerated() { memory.storeBytes(of: b, toByteOffset: KVMSelfTest.codeAddress + k, as: UInt8.self) }
        try vm.setRegions([GuestMemoryRegion(guestPhysical: 0, size: KVMSelfTest.memorySize, host: memory, readOnly: false)])
        try KVMStateTransfer.load(state, tsc: 0, into: vm.vcpu)
        guard case .portIO(let port, 1, false, 1, let data) = vm.vcpu.enter() else { return XCTFail("the guest should exit at its IN") }
        XCTAssertEqual(port, 0x1234)
        data.storeBytes(of: UInt8(0x5A), as: UInt8.self)
        XCTAssertTrue(vm.vcpu.completePendingIO())
        var back = CPUState()
        _ = try KVMStateTransfer.store(from: vm.vcpu, into: &back)
        XCTAssertEqual(back.gpr.0 & 0xFF, 0x5A, "AL holds the port's byte")
        XCTAssertEqual(back.rip, UInt64(KVMSelfTest.codeAddress + 5), "RIP is past the IN, at the HLT")
        XCTAssertTrue(vm.vcpu.completePendingIO(), "nothing is left to finish")
    }

    func testWrittenPagesAreCollectedFromKVMsDirtyLog() throws {
        let kvm = try openKVM()
        let vm = try KVMVirtualMachine(system: kvm, logsWrites: true)
        let memory = mmap(nil, KVMSelfTest.memorySize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)!
        defer { munmap(memory, KVMSelfTest.memorySize) }
        let state = KVMSelfTest.prepare(.longMode, memory)
        // At the code address: mov dword [0x3000], 0x12345678; hlt.
        let code: [UInt8] = [0xC7, 0x04, 0x25, 0x00, 0x30, 0x00, 0x00, 0x78, 0x56, 0x34, 0x12, 0xF4]
        for (k, b) in code.enumerated() { memory.storeBytes(of: b, toByteOffset: KVMSelfTest.codeAddress + k, as: UInt8.self) }
        try vm.setRegions([GuestMemoryRegion(guestPhysical: 0, size: KVMSelfTest.memorySize, host: memory, readOnly: false)])
        try KVMStateTransfer.load(state, tsc: 0, into: vm.vcpu)
        guard case .halt = vm.vcpu.enter() else { return XCTFail("the guest should store and halt") }
        XCTAssertEqual(memory.load(fromByteOffset: 0x3000, as: UInt32.self), 0x1234_5678)

        var written: Set<Int> = []
        try vm.collectWrittenPages { written.insert($0 - memory) }
        XCTAssertTrue(written.contains(0x3000), "the stored-to page: \(written.sorted())")
        XCTAssertFalse(written.contains(KVMSelfTest.codeAddress), "the code page was only executed")
        XCTAssertFalse(written.contains(KVMSelfTest.handlerAddress), "a page nobody touched")
        var again: Set<Int> = []
        try vm.collectWrittenPages { again.insert($0 - memory) }
        XCTAssertEqual(again, [], "KVM cleared the log when it handed it over")

        // Run the store again, then take the slot away: its log comes first.
        var rerun = state
        rerun.rip = UInt64(KVMSelfTest.codeAddress)
        try KVMStateTransfer.load(rerun, tsc: 0, into: vm.vcpu)
        guard case .halt = vm.vcpu.enter() else { return XCTFail("the guest should store and halt again") }
        var handedOver: Set<Int> = []
        vm.onWrittenPage = { handedOver.insert($0 - memory) }
        try vm.setRegions([])
        XCTAssertTrue(handedOver.contains(0x3000), "\(handedOver.sorted())")
    }
}

/// Memory slots from the PC memory map: RAM read-write, ROM read-only,
/// the VGA window (MMIO) and holes left out so that accesses exit.
final class GuestMemoryRegionTests: XCTestCase {
    final class Window: MMIOHandler {
        func mmioRead(offset: UInt32, size: Int) -> UInt32 { 0 }
        func mmioWrite(offset: UInt32, size: Int, value: UInt32) {}
    }

    func testSlotsFollowThePCMemoryMap() throws {
        let memory = try PhysicalMemory(ramSize: 2 << 20)
        let window = Window()
        memory.mapMMIO(at: 0xA0000, size: 0x20000, handler: window)
        let rom = memory.addROM([UInt8](repeating: 0x90, count: 0x10000))
        memory.mapROM(at: 0xF0000, size: 0x10000, romOffset: rom)
        memory.mapROM(at: 0xFFFF_0000, size: 0x10000, romOffset: rom)
        memory.unmap(at: 0xC0000, size: 0x30000)
        let regions = GuestMemoryRegion.regions(of: memory)
        XCTAssertEqual(regions.map { [$0.guestPhysical, UInt64($0.size), $0.readOnly ? 1 : 0] },
                       [[0, 0xA0000, 0], [0xF0000, 0x10000, 1], [0x10_0000, 0x10_0000, 0], [0xFFFF_0000, 0x10000, 1]])
        XCTAssertEqual(regions[0].host, UnsafeMutableRawPointer(memory.ram), "the interpreter's RAM itself, not a copy")
        XCTAssertEqual(regions[1].host, regions[3].host, "both ROM views are the same host pages")
        let generation = memory.mapGeneration
        memory.mapShadow(at: 0xF0000, size: 0x10000, readRAM: true, writeRAM: false, romOffset: rom)
        XCTAssertNotEqual(memory.mapGeneration, generation, "a PAM change is seen")
        XCTAssertEqual(GuestMemoryRegion.regions(of: memory)[1].host, UnsafeMutableRawPointer(memory.ram + 0xF0000), "shadow RAM, read-only")
    }
}
