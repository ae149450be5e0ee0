/// What CPUID reports: a Pentium II (Deschutes, family 6 model 5 stepping
/// 2) with exactly the features this interpreter implements.
///
/// Leaf 1 EDX — FPU, DE, PSE, TSC, MSR, PAE, MCE, CX8, SEP, MTRR, PGE, MCA,
/// CMOV, PAT, FXSR. Left out on purpose: VME (virtual-8086 mode works, its
/// CR4 extensions do not), APIC (no local APIC), PSE-36 (physical addresses
/// are 32 bits), MMX and SSE. DE is claimed for CR4.DE's DR4/DR5 rule; the
/// breakpoint registers are stored but do not trigger.
///
/// The highest basic leaf is 2, and, as on the P6, a leaf above it (the
/// extended range 0x8000_0000 included) answers like the highest basic
/// leaf: software that reads 0x8000_0000 sees a value below 0x8000_0001 and
/// concludes there are no extended leaves.
public enum CPUIDTable {
    /// Family 6, model 5, stepping 2: also EDX after RESET.
    public static let signature: UInt32 = 0x0652
    public static let maximumLeaf: UInt32 = 2
    /// Leaf 1 EDX.
    public static let features: UInt32 =
        1 << 0 | 1 << 2 | 1 << 3 | 1 << 4 | 1 << 5 | 1 << 6 | 1 << 7 | 1 << 8
        | 1 << 11 | 1 << 12 | 1 << 13 | 1 << 14 | 1 << 15 | 1 << 16 | 1 << 24
    /// Microcode revision CPUID leaf 1 deposits in IA32_BIOS_SIGN_ID[63:32]
    /// (no update loaded).
    public static let microcodeRevision: UInt32 = 0

    /// EAX, EBX, ECX, EDX for `leaf`.
    public static func query(_ leaf: UInt32) -> (eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32) {
        switch leaf {
        case 0:
            // "GenuineIntel" in EBX, EDX, ECX.
            return (maximumLeaf, 0x756E_6547, 0x6C65_746E, 0x4965_6E69)
        case 1:
            return (signature, 0, 0, features)
        default:
            // Leaf 2 cache and TLB descriptors, as a Pentium II reports them:
            // AL = 1 (one call), 01h ITLB 4K, 02h ITLB 4M, 03h DTLB 4K,
            // 43h 512K L2, 08h 16K L1 I, 04h DTLB 4M, 0Ch 16K L1 D.
            return (0x0302_0101, 0, 0, 0x0C04_0843)
        }
    }
}

extension CPU {
    /// CPUID: EAX selects the leaf. Leaf 1 also loads the microcode
    /// revision into IA32_BIOS_SIGN_ID, as the P6 does.
    func executeCPUID() {
        let leaf = reg32(0)
        let r = CPUIDTable.query(leaf)
        if leaf == 1 { state.pointee.msr.biosSignID = UInt64(CPUIDTable.microcodeRevision) << 32 }
        setReg32(0, r.eax)
        setReg32(3, r.ebx)
        setReg32(1, r.ecx)
        setReg32(2, r.edx)
    }
}
