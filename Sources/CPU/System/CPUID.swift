/// What CPUID reports: a Pentium II (Deschutes, family 6 model 5 stepping
/// 2) with exactly the features this interpreter implements — or, when the
/// machine will hand a long-mode guest to KVM, the same processor with the
/// 64-bit extensions on top. One table serves every engine: the
/// interpreter answers CPUID from it and the KVM back end loads it with
/// KVM_SET_CPUID2, so the guest reads the same identity before and after
/// a switch.
///
/// Leaf 1 EDX — FPU, DE, PSE, TSC, MSR, PAE, MCE, CX8, SEP, MTRR, PGE, MCA,
/// CMOV, PAT, FXSR. Left out on purpose: VME (virtual-8086 mode works, its
/// CR4 extensions do not), APIC (no local APIC), PSE-36 (physical addresses
/// are 32 bits), MMX and SSE. DE is claimed for CR4.DE's DR4/DR5 rule; the
/// breakpoint registers are stored but do not trigger.
///
/// With `longMode`, the extended leaves up to 0x8000_0008 exist and claim
/// LM and SYSCALL, and EFER exists: enough for a guest to switch to long
/// mode, where the machine hands it to KVM (the interpreter carries it to
/// that switch: EFER.LME, PAE, PG). `x86_64Baseline` adds what 64-bit
/// operating systems require besides — MMX, SSE and SSE2 in leaf 1, NX —
/// which only KVM executes: the machine offers it only when KVM takes
/// every paged state, so no guest meets them in the interpreter.
///
/// The highest basic leaf is 2, and, as on the P6, a leaf above it (the
/// extended range 0x8000_0000 included, when there are no extended leaves)
/// answers like the highest basic leaf: software that reads 0x8000_0000
/// sees a value below 0x8000_0001 and concludes there are no extended
/// leaves.
public struct CPUIDTable: Equatable, Sendable {
    /// Family 6, model 5, stepping 2: also EDX after RESET.
    public static let signature: UInt32 = 0x0652
    public static let maximumLeaf: UInt32 = 2
    /// Leaf 1 EDX.
    public static let features: UInt32 =
        1 << 0 | 1 << 2 | 1 << 3 | 1 << 4 | 1 << 5 | 1 << 6 | 1 << 7 | 1 << 8
        | 1 << 11 | 1 << 12 | 1 << 13 | 1 << 14 | 1 << 15 | 1 << 16 | 1 << 24
    /// Leaf 1 EDX additions of the x86-64 baseline: MMX, SSE, SSE2.
    public static let baselineFeatures: UInt32 = 1 << 23 | 1 << 25 | 1 << 26
    /// Leaf 0x8000_0001 EDX: SYSCALL (11), LM (29); NX (20) with the baseline.
    public static let extendedFeatures: UInt32 = 1 << 11 | 1 << 29
    public static let noExecute: UInt32 = 1 << 20
    public static let maximumExtendedLeaf: UInt32 = 0x8000_0008
    /// Microcode revision CPUID leaf 1 deposits in IA32_BIOS_SIGN_ID[63:32]
    /// (no update loaded).
    public static let microcodeRevision: UInt32 = 0

    /// Whether long mode is advertised (and EFER exists).
    public var longMode: Bool
    /// Whether the rest of the x86-64 baseline (SSE, SSE2, MMX, NX) is too.
    public var x86_64Baseline: Bool

    public init(longMode: Bool = false, x86_64Baseline: Bool = false) {
        self.longMode = longMode || x86_64Baseline
        self.x86_64Baseline = x86_64Baseline
    }

    /// The leaves that exist, in order (what KVM_SET_CPUID2 is given).
    public var leaves: [UInt32] {
        Array(0...CPUIDTable.maximumLeaf) + (longMode ? Array(0x8000_0000...CPUIDTable.maximumExtendedLeaf) : [])
    }

    /// EAX, EBX, ECX, EDX for `leaf`.
    public func query(_ leaf: UInt32) -> (eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32) {
        switch leaf {
        case 0:
            // "GenuineIntel" in EBX, EDX, ECX.
            return (CPUIDTable.maximumLeaf, 0x756E_6547, 0x6C65_746E, 0x4965_6E69)
        case 1:
            return (CPUIDTable.signature, 0, 0, CPUIDTable.features | (x86_64Baseline ? CPUIDTable.baselineFeatures : 0))
        case 0x8000_0000 where longMode:
            return (CPUIDTable.maximumExtendedLeaf, 0, 0, 0)
        case 0x8000_0001 where longMode:
            return (0, 0, 0, CPUIDTable.extendedFeatures | (x86_64Baseline ? CPUIDTable.noExecute : 0))
        case 0x8000_0008 where longMode:
            // 36 physical address bits (as the P6's PAE), 48 linear.
            return (0x3024, 0, 0, 0)
        case 0x8000_0002...CPUIDTable.maximumExtendedLeaf where longMode:
            // No brand string, no extended cache descriptors.
            return (0, 0, 0, 0)
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
        let r = cpuid.query(leaf)
        if leaf == 1 { state.pointee.msr.biosSignID = UInt64(CPUIDTable.microcodeRevision) << 32 }
        setReg32(0, r.eax)
        setReg32(3, r.ebx)
        setReg32(1, r.ecx)
        setReg32(2, r.edx)
    }
}
