/// Model-specific registers of this P6 (Intel SDM vol. 4 "P6 family" MSRs;
/// vol. 3, 11.11 MTRRs, 11.12 PAT, 15.3 machine-check registers), RDMSR,
/// WRMSR, RDTSC and RDPMC.
///
/// Only the MSRs the CPUID features promise exist; any other index, a
/// write to a read-only MSR, or a reserved bit or invalid memory type in a
/// written value is #GP(0), as on the processor.
///
/// The time-stamp counter counts retired instructions (one "cycle" per
/// instruction): monotonic, deterministic and cheap. TSC = instruction
/// count + `msr.tscOffset`; writing MSR 0x10 moves the offset.
///
/// Memory types (MTRRs, PAT) are stored and validated but change nothing:
/// there are no caches to control. The machine-check architecture has no
/// banks (MCG_CAP = 0) and never signals a machine check.
public enum MSR {
    public static let timeStampCounter: UInt32 = 0x10
    public static let platformID: UInt32 = 0x17
    public static let apicBase: UInt32 = 0x1B
    public static let biosSignID: UInt32 = 0x8B
    public static let mtrrCapabilities: UInt32 = 0xFE
    public static let sysenterCS: UInt32 = 0x174
    public static let sysenterESP: UInt32 = 0x175
    public static let sysenterEIP: UInt32 = 0x176
    public static let machineCheckCapabilities: UInt32 = 0x179
    public static let machineCheckStatus: UInt32 = 0x17A
    public static let miscEnable: UInt32 = 0x1A0
    public static let mtrrPhysicalBase0: UInt32 = 0x200
    public static let mtrrFixed64K: UInt32 = 0x250
    public static let mtrrFixed16K80000: UInt32 = 0x258
    public static let mtrrFixed16KA0000: UInt32 = 0x259
    public static let mtrrFixed4KC0000: UInt32 = 0x268
    public static let pageAttributeTable: UInt32 = 0x277
    public static let mtrrDefaultType: UInt32 = 0x2FF
    /// EFER: exists only with the 64-bit identity (`CPUIDTable.longMode`).
    public static let extendedFeatureEnable: UInt32 = 0xC000_0080

    /// MTRRcap: 8 variable ranges (VCNT), fixed ranges (FIX, bit 8) and
    /// write-combining (WC, bit 10) supported.
    static let mtrrCapabilitiesValue: UInt64 = 0x508
    /// Physical-address bits of MTRR bases and masks (MAXPHYADDR 36 on P6).
    static let physicalAddressMask: UInt64 = 0xF_FFFF_F000
}

/// EFER bits (AMD APM vol. 2, 3.1.7).
public enum EFER {
    public static let sce: UInt64 = 1 << 0
    public static let lme: UInt64 = 1 << 8
    /// Long mode active: set by the processor when paging turns on with LME.
    public static let lma: UInt64 = 1 << 10
    public static let nxe: UInt64 = 1 << 11
}

extension CPU {
    /// TSC = the machine's cycle source (its clock: a 1 GHz TSC that agrees
    /// with the PIT and RTC), or retired instructions on a bare CPU, plus
    /// the offset WRMSR sets.
    public var timeStampCounter: UInt64 {
        (cycleSource?() ?? instructionCount) &+ UInt64(bitPattern: state.pointee.msr.tscOffset)
    }

    public func readMSR(_ index: UInt32) throws(CPUFault) -> UInt64 {
        let m = state.pointee.msr
        switch index {
        case MSR.timeStampCounter: return timeStampCounter
        case MSR.platformID: return m.platformID
        case MSR.apicBase: return m.apicBase
        case MSR.biosSignID: return m.biosSignID
        case MSR.mtrrCapabilities: return MSR.mtrrCapabilitiesValue
        case MSR.sysenterCS: return m.sysenterCS
        case MSR.sysenterESP: return m.sysenterESP
        case MSR.sysenterEIP: return m.sysenterEIP
        case MSR.machineCheckCapabilities, MSR.machineCheckStatus: return 0
        case MSR.miscEnable: return m.miscEnable
        case MSR.pageAttributeTable: return m.pat
        case MSR.mtrrDefaultType: return m.mtrrDefType
        case MSR.extendedFeatureEnable where cpuid.longMode: return state.pointee.efer
        case MSR.mtrrPhysicalBase0..<MSR.mtrrPhysicalBase0 + 16:
            return withUnsafeBytes(of: m.mtrrVariable) { $0.load(fromByteOffset: Int(index - MSR.mtrrPhysicalBase0) * 8, as: UInt64.self) }
        default:
            guard let k = CPU.fixedRangeIndex(index) else { throw .generalProtection(0) }
            return withUnsafeBytes(of: m.mtrrFixed) { $0.load(fromByteOffset: k * 8, as: UInt64.self) }
        }
    }

    func writeMSR(_ index: UInt32, _ value: UInt64) throws(CPUFault) {
        let gp = CPUFault.generalProtection(0)
        switch index {
        case MSR.timeStampCounter:
            state.pointee.msr.tscOffset = Int64(bitPattern: value &- (cycleSource?() ?? instructionCount))
        case MSR.apicBase:
            // BSP (bit 8) is read-only; bits 0–7, 9, 10 and above 35 are reserved.
            guard value & ~(MSR.physicalAddressMask | 0x900) == 0 else { throw gp }
            state.pointee.msr.apicBase = value & ~0x100 | state.pointee.msr.apicBase & 0x100
        case MSR.biosSignID:
            // Software writes 0 here, runs CPUID and reads back the microcode
            // revision CPUID deposits.
            state.pointee.msr.biosSignID = value
        case MSR.sysenterCS: state.pointee.msr.sysenterCS = value & 0xFFFF_FFFF
        case MSR.sysenterESP: state.pointee.msr.sysenterESP = value & 0xFFFF_FFFF
        case MSR.sysenterEIP: state.pointee.msr.sysenterEIP = value & 0xFFFF_FFFF
        case MSR.machineCheckStatus:
            guard value == 0 else { throw gp }
        case MSR.miscEnable:
            state.pointee.msr.miscEnable = value
        case MSR.pageAttributeTable:
            for k in 0..<8 {
                let type = (value >> UInt64(8 * k)) & 0xFF
                guard type < 8, type != 2, type != 3 else { throw gp }
            }
            state.pointee.msr.pat = value
        case MSR.mtrrDefaultType:
            guard value & ~0xCFF == 0, CPU.isMemoryType(UInt8(value & 0xFF)) else { throw gp }
            state.pointee.msr.mtrrDefType = value
        case MSR.extendedFeatureEnable where cpuid.longMode:
            // LMA is the processor's to set; LME cannot change under paging.
            let old = state.pointee.efer
            // NXE exists only where NX is advertised (the interpreter's page
            // walk has no execute-disable bit; KVM has it).
            let writable = EFER.sce | EFER.lme | (cpuid.x86_64Baseline ? EFER.nxe : 0)
            guard value & ~(writable | EFER.lma) == 0, !pagingEnabled || (old ^ value) & EFER.lme == 0 else { throw gp }
            let new = value & writable | old & EFER.lma
            state.pointee.efer = new
            controlRegisterWritten(0xE, old, new, changed: old != new)
        case MSR.mtrrPhysicalBase0..<MSR.mtrrPhysicalBase0 + 16:
            let isMask = index & 1 != 0
            // PHYSBASE: type in 7:0, base in 35:12. PHYSMASK: valid bit 11, mask in 35:12.
            let allowed = MSR.physicalAddressMask | (isMask ? 0x800 : 0xFF)
            guard value & ~allowed == 0, isMask || CPU.isMemoryType(UInt8(value & 0xFF)) else { throw gp }
            withUnsafeMutableBytes(of: &state.pointee.msr.mtrrVariable) {
                $0.storeBytes(of: value, toByteOffset: Int(index - MSR.mtrrPhysicalBase0) * 8, as: UInt64.self)
            }
        default:
            guard let k = CPU.fixedRangeIndex(index) else { throw gp }
            for byte in 0..<8 where !CPU.isMemoryType(UInt8(truncatingIfNeeded: value >> UInt64(8 * byte))) { throw gp }
            withUnsafeMutableBytes(of: &state.pointee.msr.mtrrFixed) {
                $0.storeBytes(of: value, toByteOffset: k * 8, as: UInt64.self)
            }
        }
    }

    /// MTRR memory types: UC 0, WC 1, WT 4, WP 5, WB 6.
    static func isMemoryType(_ t: UInt8) -> Bool { t == 0 || t == 1 || (4...6).contains(t) }

    /// The slot of a fixed-range MTRR in `mtrrFixed`: 64K_00000, 16K_80000,
    /// 16K_A0000, 4K_C0000 … 4K_F8000.
    static func fixedRangeIndex(_ index: UInt32) -> Int? {
        switch index {
        case MSR.mtrrFixed64K: return 0
        case MSR.mtrrFixed16K80000: return 1
        case MSR.mtrrFixed16KA0000: return 2
        case MSR.mtrrFixed4KC0000..<MSR.mtrrFixed4KC0000 + 8: return 3 + Int(index - MSR.mtrrFixed4KC0000)
        default: return nil
        }
    }

    // MARK: - Instructions

    /// RDMSR/WRMSR: CPL 0 (V86 mode is CPL 3); ECX names the MSR, EDX:EAX the value.
    func executeReadMSR() throws(CPUFault) {
        try requirePrivilegeZero()
        let v = try readMSR(reg32(1))
        setReg32(0, UInt32(truncatingIfNeeded: v))
        setReg32(2, UInt32(truncatingIfNeeded: v >> 32))
    }

    func executeWriteMSR() throws(CPUFault) {
        try requirePrivilegeZero()
        try writeMSR(reg32(1), UInt64(reg32(2)) << 32 | UInt64(reg32(0)))
    }

    /// RDTSC: CR4.TSD restricts it to CPL 0.
    func executeReadTimeStampCounter() throws(CPUFault) {
        if state.pointee.cr4 & UInt64(CR4.tsd) != 0 && protectedMode && cpl != 0 { throw .generalProtection(0) }
        let t = timeStampCounter
        setReg32(0, UInt32(truncatingIfNeeded: t))
        setReg32(2, UInt32(truncatingIfNeeded: t >> 32))
    }

    /// RDPMC: the P6 has two counters (ECX = 0, 1), readable outside CPL 0
    /// only with CR4.PCE. No performance events are modelled (the event
    /// select MSRs do not exist here), so both counters read 0.
    func executeReadPerformanceCounter() throws(CPUFault) {
        if state.pointee.cr4 & UInt64(CR4.pce) == 0 && protectedMode && cpl != 0 { throw .generalProtection(0) }
        guard reg32(1) < 2 else { throw .generalProtection(0) }
        setReg32(0, 0)
        setReg32(2, 0)
    }
}
