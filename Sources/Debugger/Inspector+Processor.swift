import CPU

/// The processor state that `info registers` leaves out: the x87 unit and
/// the model-specific registers.
///
/// The x87 view reads `CPUState.fpu` directly in its FXSAVE layout (FCW at
/// 0, FSW at 2, FOP at 6, FIP/FCS at 8/12, FDP/FDS at 16/20, the physical
/// registers R0–R7 at 32 + 16·i) and the full two-bit tag word kept beside
/// it, and lists the stack as ST(i) = R((TOP + i) mod 8), as a programmer
/// reading FSTP/FLD sequences thinks of it. MSRs are read through the
/// CPU's own RDMSR, so the view shows exactly what the guest would read.
extension Inspector {
    static let x87TagNames = ["valid", "zero", "special", "empty"]

    public func x87() -> [String] {
        let fpu = cpu.state.pointee.fpu
        return withUnsafeBytes(of: fpu.area) { area in
            let u16 = { (o: Int) in area.load(fromByteOffset: o, as: UInt16.self) }
            let u32 = { (o: Int) in area.load(fromByteOffset: o, as: UInt32.self) }
            let fsw = u16(2)
            let top = Int(fsw >> 11) & 7
            let exceptions = [(0, "IE"), (1, "DE"), (2, "ZE"), (3, "OE"), (4, "UE"), (5, "PE"), (6, "SF"), (7, "ES")]
                .filter { fsw & (1 << $0.0) != 0 }.map(\.1)
            let conditions = [(8, "C0"), (9, "C1"), (10, "C2"), (14, "C3"), (15, "B")].filter { fsw & (1 << $0.0) != 0 }.map(\.1)
            let fcw = u16(0)
            let precision = ["single", "reserved", "double", "extended"][Int(fcw >> 8) & 3]
            let rounding = ["nearest", "down", "up", "toward zero"][Int(fcw >> 10) & 3]
            var lines = [
                "fcw=\(hex(fcw, 4)) (masks \(hex(fcw & 0x3F, 2)), precision \(precision), rounding \(rounding))",
                "fsw=\(hex(fsw, 4)) top=\(top) [\((exceptions + conditions).joined(separator: " "))]",
                "ftw=\(hex(fpu.tags, 4)) fop=\(hex(u16(6), 4)) fip=\(hex(u16(12), 4)):\(hex(u32(8), 8)) fdp=\(hex(u16(20), 4)):\(hex(u32(16), 8))",
            ]
            for i in 0..<8 {
                let p = (top + i) & 7
                let tag = Int(fpu.tags >> UInt16(2 * p)) & 3
                let significand = area.load(fromByteOffset: 32 + 16 * p, as: UInt64.self)
                let signExponent = area.load(fromByteOffset: 40 + 16 * p, as: UInt16.self)
                let raw = "\(hex(signExponent, 4)) \(hex(significand, 16))"
                let value = tag == 3 ? "empty" : "\(ExtendedReal(significand: significand, signExponent: signExponent).float80)"
                lines.append("st\(i)=\(value) (R\(p) \(Inspector.x87TagNames[tag]) \(raw))")
            }
            return lines
        }
    }

    /// The MSRs this P6 has, by the SDM's names (vol. 4, P6 family).
    static let msrNames: [(UInt32, String)] = {
        var names: [(UInt32, String)] = [
            (MSR.timeStampCounter, "IA32_TIME_STAMP_COUNTER"), (MSR.platformID, "IA32_PLATFORM_ID"),
            (MSR.apicBase, "IA32_APIC_BASE"), (MSR.biosSignID, "IA32_BIOS_SIGN_ID"), (MSR.mtrrCapabilities, "IA32_MTRRCAP"),
            (MSR.sysenterCS, "IA32_SYSENTER_CS"), (MSR.sysenterESP, "IA32_SYSENTER_ESP"), (MSR.sysenterEIP, "IA32_SYSENTER_EIP"),
            (MSR.machineCheckCapabilities, "IA32_MCG_CAP"), (MSR.machineCheckStatus, "IA32_MCG_STATUS"),
            (MSR.miscEnable, "IA32_MISC_ENABLE"),
        ]
        for k in 0..<8 {
            names.append((MSR.mtrrPhysicalBase0 + UInt32(2 * k), "IA32_MTRR_PHYSBASE\(k)"))
            names.append((MSR.mtrrPhysicalBase0 + UInt32(2 * k + 1), "IA32_MTRR_PHYSMASK\(k)"))
        }
        names.append((MSR.mtrrFixed64K, "IA32_MTRR_FIX64K_00000"))
        names.append((MSR.mtrrFixed16K80000, "IA32_MTRR_FIX16K_80000"))
        names.append((MSR.mtrrFixed16KA0000, "IA32_MTRR_FIX16K_A0000"))
        for k in 0..<8 {
            names.append((MSR.mtrrFixed4KC0000 + UInt32(k), "IA32_MTRR_FIX4K_\(hex(0xC0000 + k * 0x8000, 5).uppercased())"))
        }
        names.append((MSR.pageAttributeTable, "IA32_PAT"))
        names.append((MSR.mtrrDefaultType, "IA32_MTRR_DEF_TYPE"))
        return names
    }()

    /// One MSR, or all of them, as RDMSR would read them now.
    public func msrs(_ index: UInt32? = nil) -> [String] {
        let wanted = index.map { i in [(i, Inspector.msrNames.first { $0.0 == i }?.1 ?? "")] } ?? Inspector.msrNames
        return wanted.map { i, name in
            do {
                let v = try cpu.readMSR(i)
                return "msr \(hex(i, 8)) \(name.isEmpty ? "" : name + " ")= \(hex(v, 16)) (edx=\(hex(v >> 32, 8)) eax=\(hex(v & 0xFFFF_FFFF, 8)))"
            } catch {
                return "msr \(hex(i, 8)): not implemented on this CPU (RDMSR raises #GP)"
            }
        }
    }
}
