import CKVM
import CPU
import Glibc

/// Moving the processor between `CPUState` and the vCPU: general
/// registers (`kvm_regs`), control and segment registers with their
/// hidden caches (`kvm_sregs`), x87/SSE (`kvm_xsave`: its first 512 bytes
/// are the FXSAVE image; `kvm_fpu` loses MXCSR on some hosts), debug
/// registers, the interrupt shadow and half-delivered events
/// (`kvm_vcpu_events`), and the MSRs the interpreter keeps, the TSC among
/// them. MSRs that only a 64-bit guest uses (STAR, LSTAR, KERNEL_GS_BASE)
/// have no place in `CPUState`: they stay in the vCPU, which lives as long
/// as the machine.
///
/// Both directions go field by field through the kernel's structures, so
/// the layout is the compiler's, not ours.
enum KVMStateTransfer {
    /// Why the vCPU did not take a state: which ioctl failed, or what KVM
    /// silently changed (a host that cannot run a mode may drop CR0.PG).


    // MARK: - Segments

    static func segment(_ c: SegmentDescriptorCache, usableWhenNotPresent: Bool = false) -> kvm_segment {
        var s = kvm_segment()
        s.base = c.base
        s.limit = c.limit
        s.selector = c.selector
        // A loaded code or data segment has its accessed bit set (the
        // processor sets it on the load); VM entry insists on it.
        s.type = c.type | (c.isCodeOrData && c.present ? 1 : 0)
        s.s = c.isCodeOrData ? 1 : 0
        s.dpl = c.dpl
        s.present = c.present ? 1 : 0
        s.avl = UInt8((c.attributes >> 12) & 1)
        s.l = c.isLongMode ? 1 : 0
        s.db = c.is32Bit ? 1 : 0
        s.g = c.granularity ? 1 : 0
        s.unusable = c.present || usableWhenNotPresent ? 0 : 1
        return s
    }

    static func cache(_ s: kvm_segment) -> SegmentDescriptorCache {
        let present: UInt16 = s.present != 0 && s.unusable == 0 ? 1 : 0
        let attributes = UInt16(s.type & 0xF) | UInt16(s.s & 1) << 4 | UInt16(s.dpl & 3) << 5 | present << 7
            | UInt16(s.avl & 1) << 12 | UInt16(s.l & 1) << 13 | UInt16(s.db & 1) << 14 | UInt16(s.g & 1) << 15
        return SegmentDescriptorCache(selector: s.selector, base: s.base, limit: s.limit, attributes: attributes)
    }

    // MARK: - To the vCPU

    /// Loads the whole state; `tsc` is the time-stamp counter the guest
    /// reads at this instant.
    static func load(_ s: CPUState, tsc: UInt64, into vcpu: KVMVirtualCPU) throws(KVMRefusal) {
        try setRegisters(s, vcpu)
        try setSystemRegisters(s, vcpu)
        try setFloatingPoint(s, vcpu)

        var debug = kvm_debugregs()
        debug.db = (s.dr.0, s.dr.1, s.dr.2, s.dr.3)
        debug.dr6 = s.dr.6; debug.dr7 = s.dr.7
        try check(vcpu.control(NOVABOX_KVM_SET_DEBUGREGS, &debug), "KVM_SET_DEBUGREGS")

        var events = kvm_vcpu_events()
        if s.interruptShadow {
            // STI blocking needs IF = 1 at VM entry; otherwise it came from MOV SS.
            events.interrupt.shadow = UInt8(s.eflags & EFLAGS.if != 0 ? KVM_X86_SHADOW_INT_STI : KVM_X86_SHADOW_INT_MOV_SS)
        }
        events.flags = UInt32(KVM_VCPUEVENT_VALID_SHADOW)
        try check(vcpu.control(NOVABOX_KVM_SET_VCPU_EVENTS, &events), "KVM_SET_VCPU_EVENTS")

        var msrs = msrEntries(s, tsc: tsc)
        let written = vcpu.transferMSRs(NOVABOX_KVM_SET_MSRS, &msrs)
        guard written == msrs.count else {
            throw KVMRefusal( "KVM_SET_MSRS stopped at MSR \(hex(UInt64(msrs[max(0, min(written, msrs.count - 1))].index)))")
        }
    }

    /// General registers, RIP and RFLAGS.
    static func setRegisters(_ s: CPUState, _ vcpu: KVMVirtualCPU) throws(KVMRefusal) {
        var regs = kvm_regs()
        regs.rax = s.gpr.0; regs.rcx = s.gpr.1; regs.rdx = s.gpr.2; regs.rbx = s.gpr.3
        regs.rsp = s.gpr.4; regs.rbp = s.gpr.5; regs.rsi = s.gpr.6; regs.rdi = s.gpr.7
        regs.r8 = s.gpr.8; regs.r9 = s.gpr.9; regs.r10 = s.gpr.10; regs.r11 = s.gpr.11
        regs.r12 = s.gpr.12; regs.r13 = s.gpr.13; regs.r14 = s.gpr.14; regs.r15 = s.gpr.15
        regs.rip = s.rip
        regs.rflags = UInt64(s.eflags)
        try check(vcpu.control(NOVABOX_KVM_SET_REGS, &regs), "KVM_SET_REGS")
    }

    /// Segment registers with their hidden caches, descriptor tables,
    /// control registers, EFER, the APIC base.
    static func setSystemRegisters(_ s: CPUState, _ vcpu: KVMVirtualCPU) throws(KVMRefusal) {
        var sregs = kvm_sregs()
        sregs.es = segment(s.segments.0); sregs.cs = segment(s.segments.1); sregs.ss = segment(s.segments.2)
        sregs.ds = segment(s.segments.3); sregs.fs = segment(s.segments.4); sregs.gs = segment(s.segments.5)
        sregs.ldt = segment(s.ldtr)
        // TR is always "usable" to VM entry; a guest that never loaded one
        // runs with the reset value (a busy 32-bit TSS at 0).
        sregs.tr = segment(s.tr, usableWhenNotPresent: true)
        sregs.tr.type = s.tr.type | 2
        sregs.tr.present = 1
        sregs.gdt.base = s.gdtr.base; sregs.gdt.limit = s.gdtr.limit
        sregs.idt.base = s.idtr.base; sregs.idt.limit = s.idtr.limit
        sregs.cr0 = s.cr0; sregs.cr2 = s.cr2; sregs.cr3 = s.cr3; sregs.cr4 = s.cr4
        sregs.efer = s.efer
        sregs.apic_base = s.msr.apicBase
        try check(vcpu.control(NOVABOX_KVM_SET_SREGS, &sregs), "KVM_SET_SREGS")
        // Some hosts accept the call but cannot run the mode and drop bits
        // (a software-only KVM drops CR0.PG of 32-bit paging): read back.
        var back = kvm_sregs()
        try check(vcpu.control(NOVABOX_KVM_GET_SREGS, &back), "KVM_GET_SREGS")
        for (name, want, got) in [("CR0", s.cr0, back.cr0), ("CR4", s.cr4, back.cr4), ("EFER", s.efer, back.efer)] where want != got {
            throw KVMRefusal( "KVM_SET_SREGS changed \(name) from \(hex(want)) to \(hex(got))")
        }
    }

    /// x87 and SSE.
    static func setFloatingPoint(_ s: CPUState, _ vcpu: KVMVirtualCPU) throws(KVMRefusal) {
        let image = UnsafeMutableRawBufferPointer.allocate(byteCount: MemoryLayout<kvm_xsave>.size, alignment: 64)
        defer { image.deallocate() }
        image.initializeMemory(as: UInt8.self, repeating: 0)
        storeFPU(s.fpu, into: image)
        try check(ioctl(vcpu.fd, NOVABOX_KVM_SET_XSAVE, image.baseAddress!) == 0 ? 0 : errno, "KVM_SET_XSAVE")
    }

    // MARK: - Back from the vCPU

    /// An event KVM was delivering when it stopped; the interpreter must
    /// finish it before the next instruction.
    enum PendingEvent: Equatable {
        case interrupt(UInt8)
        case exception(UInt8, errorCode: UInt32?)
    }

    /// Reads the whole state back; returns the TSC the guest saw and any
    /// half-delivered event.
    static func store(from vcpu: KVMVirtualCPU, into s: inout CPUState) throws(KVMRefusal) -> (tsc: UInt64, pending: PendingEvent?) {
        var regs = kvm_regs()
        try check(vcpu.control(NOVABOX_KVM_GET_REGS, &regs), "KVM_GET_REGS")
        s.gpr = (regs.rax, regs.rcx, regs.rdx, regs.rbx, regs.rsp, regs.rbp, regs.rsi, regs.rdi,
                 regs.r8, regs.r9, regs.r10, regs.r11, regs.r12, regs.r13, regs.r14, regs.r15)
        s.rip = regs.rip
        s.eflags = UInt32(truncatingIfNeeded: regs.rflags) | 2

        var sregs = kvm_sregs()
        try check(vcpu.control(NOVABOX_KVM_GET_SREGS, &sregs), "KVM_GET_SREGS")
        s.segments = (cache(sregs.es), cache(sregs.cs), cache(sregs.ss), cache(sregs.ds), cache(sregs.fs), cache(sregs.gs))
        s.ldtr = cache(sregs.ldt)
        s.tr = cache(sregs.tr)
        s.gdtr = DescriptorTableRegister(base: sregs.gdt.base, limit: sregs.gdt.limit)
        s.idtr = DescriptorTableRegister(base: sregs.idt.base, limit: sregs.idt.limit)
        s.cr0 = sregs.cr0; s.cr2 = sregs.cr2; s.cr3 = sregs.cr3; s.cr4 = sregs.cr4
        s.efer = sregs.efer
        s.msr.apicBase = sregs.apic_base
        // CPL is SS.DPL in protected mode (what VMX keeps), 0 in real mode.
        s.cpl = s.cr0 & 1 != 0 ? s.segments.2.dpl : 0
        s.halted = false

        let image = UnsafeMutableRawBufferPointer.allocate(byteCount: MemoryLayout<kvm_xsave>.size, alignment: 64)
        defer { image.deallocate() }
        try check(ioctl(vcpu.fd, NOVABOX_KVM_GET_XSAVE, image.baseAddress!) == 0 ? 0 : errno, "KVM_GET_XSAVE")
        loadFPU(from: UnsafeRawBufferPointer(image), into: &s.fpu)

        var debug = kvm_debugregs()
        try check(vcpu.control(NOVABOX_KVM_GET_DEBUGREGS, &debug), "KVM_GET_DEBUGREGS")
        s.dr.0 = debug.db.0; s.dr.1 = debug.db.1; s.dr.2 = debug.db.2; s.dr.3 = debug.db.3
        s.dr.6 = debug.dr6; s.dr.7 = debug.dr7

        var events = kvm_vcpu_events()
        try check(vcpu.control(NOVABOX_KVM_GET_VCPU_EVENTS, &events), "KVM_GET_VCPU_EVENTS")
        s.interruptShadow = events.interrupt.shadow != 0
        var pending: PendingEvent?
        if events.exception.injected != 0 || events.exception.pending != 0 {
            pending = .exception(events.exception.nr, errorCode: events.exception.has_error_code != 0 ? events.exception.error_code : nil)
        } else if events.interrupt.injected != 0 && events.interrupt.soft == 0 {
            pending = .interrupt(events.interrupt.nr)
        }

        var msrs = msrEntries(s, tsc: 0)
        guard vcpu.transferMSRs(NOVABOX_KVM_GET_MSRS, &msrs) == msrs.count else {
            throw KVMRefusal( "KVM_GET_MSRS failed")
        }
        var tsc: UInt64 = 0
        for e in msrs {
            switch e.index {
            case MSR.timeStampCounter: tsc = e.data
            case MSR.sysenterCS: s.msr.sysenterCS = e.data
            case MSR.sysenterESP: s.msr.sysenterESP = e.data
            case MSR.sysenterEIP: s.msr.sysenterEIP = e.data
            case MSR.pageAttributeTable: s.msr.pat = e.data
            case MSR.mtrrDefaultType: s.msr.mtrrDefType = e.data
            case MSR.mtrrPhysicalBase0..<MSR.mtrrPhysicalBase0 + 16:
                withUnsafeMutableBytes(of: &s.msr.mtrrVariable) {
                    $0.storeBytes(of: e.data, toByteOffset: Int(e.index - MSR.mtrrPhysicalBase0) * 8, as: UInt64.self)
                }
            default:
                if let k = fixedRangeMTRRs.firstIndex(of: e.index) {
                    withUnsafeMutableBytes(of: &s.msr.mtrrFixed) { $0.storeBytes(of: e.data, toByteOffset: k * 8, as: UInt64.self) }
                }
            }
        }
        return (tsc, pending)
    }

    // MARK: - After a debugger's look

    /// Writes to the vCPU the parts of `s` a debugger changed since `store`
    /// read them (`read`): general registers, system registers, x87/SSE —
    /// what a debugger can write. Nothing else is touched (a whole `load`
    /// would drop an event KVM was delivering), and the vCPU's events (an
    /// interrupt or exception being delivered, the interrupt shadow, NMI
    /// state) are put back as they were read, since KVM_SET_REGS discards
    /// an exception KVM has queued but not begun to deliver: the guest
    /// cannot tell it was looked at.
    static func writeBack(_ s: CPUState, changedFrom read: CPUState, into vcpu: KVMVirtualCPU) throws(KVMRefusal) {
        let registers = !sameBytes(s.gpr, read.gpr) || s.rip != read.rip || s.eflags != read.eflags
        let system = !sameSystemRegisters(s, read)
        let floatingPoint = !sameBytes(s.fpu.area, read.fpu.area) || s.fpu.tags != read.fpu.tags
        guard registers || system || floatingPoint else { return }
        var events = kvm_vcpu_events()
        try check(vcpu.control(NOVABOX_KVM_GET_VCPU_EVENTS, &events), "KVM_GET_VCPU_EVENTS")
        if registers { try setRegisters(s, vcpu) }
        if system { try setSystemRegisters(s, vcpu) }
        if floatingPoint { try setFloatingPoint(s, vcpu) }
        try check(vcpu.control(NOVABOX_KVM_SET_VCPU_EVENTS, &events), "KVM_SET_VCPU_EVENTS")
    }

    /// Whether two values of a padding-free type (tuples of integers) hold the same bytes.
    private static func sameBytes<T>(_ a: T, _ b: T) -> Bool {
        withUnsafeBytes(of: a) { x in withUnsafeBytes(of: b) { y in x.elementsEqual(y) } }
    }

    /// What KVM_SET_SREGS writes, compared.
    private static func sameSystemRegisters(_ a: CPUState, _ b: CPUState) -> Bool {
        a.segments.0 == b.segments.0 && a.segments.1 == b.segments.1 && a.segments.2 == b.segments.2
            && a.segments.3 == b.segments.3 && a.segments.4 == b.segments.4 && a.segments.5 == b.segments.5
            && a.ldtr == b.ldtr && a.tr == b.tr && a.gdtr == b.gdtr && a.idtr == b.idtr
            && a.cr0 == b.cr0 && a.cr2 == b.cr2 && a.cr3 == b.cr3 && a.cr4 == b.cr4 && a.efer == b.efer
            && a.msr.apicBase == b.msr.apicBase
    }

    // MARK: - MSRs

    /// The fixed-range MTRRs in `ModelSpecificRegisters.mtrrFixed` order.
    static let fixedRangeMTRRs: [UInt32] = [MSR.mtrrFixed64K, MSR.mtrrFixed16K80000, MSR.mtrrFixed16KA0000]
        + (0..<8).map { MSR.mtrrFixed4KC0000 + $0 }

    /// The MSRs `CPUState` holds that KVM also implements, with their values.
    static func msrEntries(_ s: CPUState, tsc: UInt64) -> [kvm_msr_entry] {
        func entry(_ index: UInt32, _ data: UInt64) -> kvm_msr_entry {
            var e = kvm_msr_entry()
            e.index = index; e.data = data
            return e
        }
        var list = [entry(MSR.timeStampCounter, tsc),
                    entry(MSR.sysenterCS, s.msr.sysenterCS), entry(MSR.sysenterESP, s.msr.sysenterESP),
                    entry(MSR.sysenterEIP, s.msr.sysenterEIP), entry(MSR.pageAttributeTable, s.msr.pat),
                    entry(MSR.mtrrDefaultType, s.msr.mtrrDefType)]
        withUnsafeBytes(of: s.msr.mtrrVariable) { v in
            for k in 0..<16 { list.append(entry(MSR.mtrrPhysicalBase0 + UInt32(k), v.load(fromByteOffset: k * 8, as: UInt64.self))) }
        }
        withUnsafeBytes(of: s.msr.mtrrFixed) { v in
            for (k, index) in fixedRangeMTRRs.enumerated() { list.append(entry(index, v.load(fromByteOffset: k * 8, as: UInt64.self))) }
        }
        return list
    }

    // MARK: - x87 and SSE

    /// XSAVE header: XSTATE_BV, which components the image holds.
    static let xstateHeader = 512
    static let x87Component: UInt64 = 1, sseComponent: UInt64 = 2

    /// `CPUState` keeps physical register Ri in slot i; the FXSAVE image
    /// keeps ST(i) = R[(TOP + i) mod 8] in slot i, and the abridged tag
    /// word (a bit per physical register: not empty) at byte 4.
    static func storeFPU(_ f: FPUState, into image: UnsafeMutableRawBufferPointer) {
        withUnsafeBytes(of: f.area) { area in
            image.baseAddress!.copyMemory(from: area.baseAddress!, byteCount: 512)
            let top = Int(area.load(fromByteOffset: 2, as: UInt16.self) >> 11) & 7
            for i in 0..<8 {
                (image.baseAddress! + 32 + 16 * i).copyMemory(from: area.baseAddress! + 32 + 16 * ((top + i) & 7), byteCount: 16)
            }
        }
        var abridged: UInt8 = 0
        for r in 0..<8 where (f.tags >> UInt16(2 * r)) & 3 != 3 { abridged |= 1 << UInt8(r) }
        image[4] = abridged
        image[5] = 0
        image.storeBytes(of: x87Component | sseComponent, toByteOffset: xstateHeader, as: UInt64.self)
    }

    static func loadFPU(from image: UnsafeRawBufferPointer, into f: inout FPUState) {
        let present = image.load(fromByteOffset: xstateHeader, as: UInt64.self)
        var tags: UInt16 = 0
        withUnsafeMutableBytes(of: &f.area) { area in
            // Bytes 464-511 belong to software (the host kernel keeps its
            // XSAVE markers there); the guest's own copy stays.
            area.baseAddress!.copyMemory(from: image.baseAddress!, byteCount: 464)
            if present & x87Component == 0 {
                // x87 in its initial configuration (FNINIT state): not written out.
                area.storeBytes(of: UInt16(0x37F), toByteOffset: 0, as: UInt16.self)
                for offset in stride(from: 2, to: 24, by: 2) { area.storeBytes(of: UInt16(0), toByteOffset: offset, as: UInt16.self) }
                (area.baseAddress! + 32).initializeMemory(as: UInt8.self, repeating: 0, count: 128)
            }
            if present & sseComponent == 0 { (area.baseAddress! + 160).initializeMemory(as: UInt8.self, repeating: 0, count: 256) }
            let abridged = area[4]
            area[4] = 0
            let top = Int(area.load(fromByteOffset: 2, as: UInt16.self) >> 11) & 7
            var registers = [UInt8](repeating: 0, count: 128)
            registers.withUnsafeMutableBytes { $0.baseAddress!.copyMemory(from: area.baseAddress! + 32, byteCount: 128) }
            for i in 0..<8 {
                let physical = (top + i) & 7
                registers.withUnsafeBytes { (area.baseAddress! + 32 + 16 * physical).copyMemory(from: $0.baseAddress! + 16 * i, byteCount: 16) }
            }
            // The full tag word from the abridged one: empty, or what the value is.
            for r in 0..<8 {
                let tag: UInt16
                if abridged & (1 << UInt8(r)) == 0 {
                    tag = 3
                } else {
                    let mantissa = area.load(fromByteOffset: 32 + 16 * r, as: UInt64.self)
                    let exponent = area.load(fromByteOffset: 40 + 16 * r, as: UInt16.self) & 0x7FFF
                    if exponent == 0 { tag = mantissa == 0 ? 1 : 2 }
                    else if exponent == 0x7FFF || mantissa >> 63 == 0 { tag = 2 }
                    else { tag = 0 }
                }
                tags |= tag << UInt16(2 * r)
            }
        }
        f.tags = tags
    }

    // MARK: - Helpers

    static func check(_ error: Int32, _ call: String) throws(KVMRefusal) {
        guard error == 0 else { throw KVMRefusal( "\(call) failed: \(String(cString: strerror(error)))") }
    }

    static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
}
