/// The whole architectural state of one x86 processor.
///
/// It lives at one stable address for the life of the machine (see
/// `CPUStateStorage`), so generated code can address fields at fixed
/// offsets (`MemoryLayout<CPUState>.offset(of:)`) and the KVM back end can
/// copy it to and from `kvm_regs`/`kvm_sregs`/`kvm_fpu` on a hand-over.
/// Registers are 64 bits wide so that the same layout carries a long-mode
/// guest to KVM; the P6 interpreter uses their low halves.
public struct CPUState {
    /// RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8–R15 (encoding order).
    public var gpr: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                     UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
        = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    public var rip: UInt64 = 0
    /// Architectural EFLAGS, always materialized (bit 1 reads as 1).
    public var eflags: UInt32 = 2

    /// ES, CS, SS, DS, FS, GS with their hidden descriptor caches.
    public var segments: (SegmentDescriptorCache, SegmentDescriptorCache, SegmentDescriptorCache,
                          SegmentDescriptorCache, SegmentDescriptorCache, SegmentDescriptorCache)
        = (.init(), .init(), .init(), .init(), .init(), .init())
    public var ldtr = SegmentDescriptorCache(attributes: 0x82)
    public var tr = SegmentDescriptorCache(attributes: 0x8B)
    public var gdtr = DescriptorTableRegister()
    public var idtr = DescriptorTableRegister()

    public var cr0: UInt64 = 0x6000_0010
    public var cr2: UInt64 = 0
    public var cr3: UInt64 = 0
    public var cr4: UInt64 = 0
    public var efer: UInt64 = 0
    public var dr: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
        = (0, 0, 0, 0, 0xFFFF_0FF0, 0x400, 0xFFFF_0FF0, 0x400)

    /// Current privilege level, kept by segment loads (CS.RPL in protected
    /// mode; 0 in real mode).
    public var cpl: UInt8 = 0
    /// Interrupts are held off for one instruction after STI / MOV SS / POP SS.
    public var interruptShadow: Bool = false
    /// HLT executed, waiting for an interrupt.
    public var halted: Bool = false

    public var msr = ModelSpecificRegisters()
    public var fpu = FPUState()

    public init() {}
}

/// The MSRs a BIOS and Linux touch on a P6.
public struct ModelSpecificRegisters {
    /// TSC = host-derived cycle count + this offset (WRMSR 0x10 sets it).
    public var tscOffset: Int64 = 0
    public var sysenterCS: UInt64 = 0
    public var sysenterESP: UInt64 = 0
    public var sysenterEIP: UInt64 = 0
    public var apicBase: UInt64 = 0xFEE0_0900
    public var pat: UInt64 = 0x0007_0406_0007_0406
    public var mtrrDefType: UInt64 = 0
    /// MTRRfix64K_00000, 16K_80000, 16K_A0000, 4K_C0000 … 4K_F8000.
    public var mtrrFixed: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
        = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    /// PHYSBASE0, PHYSMASK0, … PHYSBASE7, PHYSMASK7.
    public var mtrrVariable: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                              UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
        = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    public var miscEnable: UInt64 = 1
    public var platformID: UInt64 = 0
    public var biosSignID: UInt64 = 0
    public init() {}
}

/// x87 (and FXSAVE) state.
///
/// The 512-byte `area` has the FXSAVE layout (FCW at 0, FSW at 2, FOP at 6,
/// FIP/FCS at 8/12, FDP/FDS at 16/20, MXCSR at 24, registers at 32 + 16·i)
/// with one difference: slot i holds the *physical* register Ri, not ST(i),
/// so a push does not move eight registers. FXSAVE/FSAVE and the KVM
/// transfer rotate by TOP. The full two-bit tag word is kept in `tags`.
public struct FPUState {
    public var area: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                      UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                      UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                      UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                      UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                      UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                      UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                      UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
        = (0x37F, 0, 0, 0x1F80 | 0xFFFF << 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
           0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
           0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
           0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    /// Two bits per physical register: 0 valid, 1 zero, 2 special, 3 empty.
    public var tags: UInt16 = 0xFFFF
    public init() {}
}

/// Owns the one `CPUState` of a machine at a fixed host address.
public final class CPUStateStorage {
    public let pointer: UnsafeMutablePointer<CPUState>
    public init() {
        pointer = .allocate(capacity: 1)
        pointer.initialize(to: CPUState())
    }
    deinit { pointer.deinitialize(count: 1); pointer.deallocate() }
}
