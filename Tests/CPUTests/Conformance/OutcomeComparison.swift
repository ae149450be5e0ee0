import CPU

/// Compares the interpreter's outcome of a case with the host CPU's, leaving
/// out what the case marks undefined, and describes every difference in
/// words a person can check against the SDM.
enum OutcomeComparison {
    static let registerNames = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"]
    static let selectorNames = ["es", "cs", "ss", "ds", "fs", "gs"]

    /// EFLAGS bits compared: all architectural ones but RF, which the
    /// processor sets in the image it pushes for a fault (the host reports
    /// that image) and which says nothing about the instruction.
    static let comparedFlags: UInt32 = 0x003F_7FD7 & ~EFLAGSBits.rf

    /// Vectors that push an error code (SDM vol. 3, table 6-1).
    static let vectorsWithErrorCode: Set<UInt8> = [8, 10, 11, 12, 13, 14, 17]

    static func hex(_ v: UInt32, _ digits: Int = 8) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, digits - s.count)) + s
    }

    static func describe(_ f: DifferentialFault?) -> String {
        guard let f else { return "no exception" }
        let name = f.vector == 0xFF ? "no end (step limit)" : CPUFault(f.vector).name
        return "\(name) at \(hex(f.eip))" + (vectorsWithErrorCode.contains(f.vector) ? " error \(hex(f.errorCode, 4))" : "")
    }

    static func differences(_ c: DifferentialCase, host: DifferentialOutcome, interpreter: DifferentialOutcome) -> [String] {
        var out: [String] = []
        let u = c.undefined
        switch (host.fault, interpreter.fault) {
        case (nil, nil): break
        case let (h?, i?):
            if h.vector != i.vector || (!u.faultEIP && h.eip != i.eip)
                || (vectorsWithErrorCode.contains(h.vector) && h.errorCode != i.errorCode) {
                out.append("exception: host \(describe(h)), interpreter \(describe(i))")
            }
        default:
            out.append("exception: host \(describe(host.fault)), interpreter \(describe(interpreter.fault))")
        }
        for r in 0..<8 where (host.registers[r] ^ interpreter.registers[r]) & ~u.registers[r] != 0 {
            out.append("\(registerNames[r]): host \(hex(host.registers[r])), interpreter \(hex(interpreter.registers[r]))")
        }
        let flagMask = comparedFlags & ~u.flags
        if (host.eflags ^ interpreter.eflags) & flagMask != 0 {
            out.append("eflags: host \(hex(host.eflags & flagMask)), interpreter \(hex(interpreter.eflags & flagMask))"
                       + " (differ in \(flagNames((host.eflags ^ interpreter.eflags) & flagMask)))")
        }
        for s in 0..<6 where host.selectors[s] != interpreter.selectors[s] {
            out.append("\(selectorNames[s]): host \(hex(UInt32(host.selectors[s]), 4)), interpreter \(hex(UInt32(interpreter.selectors[s]), 4))")
        }
        out += fpuDifferences(c, host.fpu, interpreter.fpu)
        out += memoryDifferences(c, host.memoryChanges, interpreter.memoryChanges)
        return out
    }

    static func flagNames(_ bits: UInt32) -> String {
        let names: [(UInt32, String)] = [(EFLAGSBits.cf, "CF"), (EFLAGSBits.pf, "PF"), (EFLAGSBits.af, "AF"), (EFLAGSBits.zf, "ZF"),
                                         (EFLAGSBits.sf, "SF"), (EFLAGSBits.tf, "TF"), (EFLAGSBits.if, "IF"), (EFLAGSBits.df, "DF"),
                                         (EFLAGSBits.of, "OF"), (EFLAGSBits.iopl, "IOPL"), (EFLAGSBits.nt, "NT"), (EFLAGSBits.ac, "AC"),
                                         (EFLAGSBits.vif, "VIF"), (EFLAGSBits.vip, "VIP"), (EFLAGSBits.id, "ID")]
        return names.filter { bits & $0.0 != 0 }.map(\.1).joined(separator: " ")
    }

    static func fpuDifferences(_ c: DifferentialCase, _ h: [UInt8], _ i: [UInt8]) -> [String] {
        var out: [String] = []
        let word = FXSaveImage.word
        if word(h, 0) != word(i, 0) { out.append("fcw: host \(hex(UInt32(word(h, 0)), 4)), interpreter \(hex(UInt32(word(i, 0)), 4))") }
        let swMask = ~c.undefined.fpuStatus
        if (word(h, 2) ^ word(i, 2)) & swMask != 0 {
            out.append("fsw: host \(hex(UInt32(word(h, 2) & swMask), 4)), interpreter \(hex(UInt32(word(i, 2) & swMask), 4))")
        }
        if h[4] != i[4] { out.append("abridged ftw: host \(hex(UInt32(h[4]), 2)), interpreter \(hex(UInt32(i[4]), 2))") }
        if !c.undefined.fpuPointers {
            for k in FXSaveImage.pointerBytes where h[k] != i[k] {
                out.append("fpu pointers (FOP/FIP/FDP, bytes 6–23): host \(h[6..<24].map { hex(UInt32($0), 2) }.joined()), "
                           + "interpreter \(i[6..<24].map { hex(UInt32($0), 2) }.joined())")
                break
            }
        }
        // Empty registers keep stale contents that only FXSAVE shows; the
        // SDM gives them no meaning, so only non-empty ones are compared.
        let top = Int(word(h, 2) >> 11) & 7
        for st in 0..<8 where h[4] & (1 << UInt8((top + st) & 7)) != 0 && c.undefined.fpuRegisters & (1 << UInt8(st)) == 0 {
            let at = 32 + 16 * st
            let hs = Array(h[at..<at + 10]), isl = Array(i[at..<at + 10])
            if hs != isl && !withinULPs(hs, isl, c.undefined.fpuULPs) {
                out.append("st(\(st)): host \(float80(hs)), interpreter \(float80(isl))")
            }
        }
        return out
    }

    /// Raw 80-bit value as sign/exponent:significand.
    static func float80(_ b: [UInt8]) -> String {
        let se = UInt32(b[8]) | UInt32(b[9]) << 8
        let sig = (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[$1]) << (8 * UInt64($1)) }
        return hex(se, 4) + ":" + hex(UInt32(sig >> 32)) + hex(UInt32(truncatingIfNeeded: sig))
    }

    /// Whether two finite values of the same sign are at most `n` units in
    /// the last place apart (counted across one exponent step).
    static func withinULPs(_ a: [UInt8], _ b: [UInt8], _ n: UInt64) -> Bool {
        guard n > 0 else { return false }
        func parts(_ x: [UInt8]) -> (UInt16, UInt64) {
            (UInt16(x[8]) | UInt16(x[9]) << 8, (0..<8).reduce(UInt64(0)) { $0 | UInt64(x[$1]) << (8 * UInt64($1)) })
        }
        let (ea, sa) = parts(a), (eb, sb) = parts(b)
        guard ea & 0x8000 == eb & 0x8000, ea & 0x7FFF != 0x7FFF, eb & 0x7FFF != 0x7FFF else { return false }
        if ea == eb { return (sa > sb ? sa - sb : sb - sa) <= n }
        let (lo, hi) = ea & 0x7FFF < eb & 0x7FFF ? ((ea, sa), (eb, sb)) : ((eb, sb), (ea, sa))
        guard hi.0 & 0x7FFF == lo.0 & 0x7FFF + 1, hi.1 >= 0x8000_0000_0000_0000 else { return false }
        let below = UInt64.max - lo.1, above = hi.1 - 0x8000_0000_0000_0000
        return below <= n && above <= n && below + above + 1 <= n
    }

    static func memoryDifferences(_ c: DifferentialCase, _ h: [UInt32], _ i: [UInt32]) -> [String] {
        func defined(_ w: UInt32) -> Bool { !c.undefined.memory.contains { $0.contains(Int(w >> 8)) } }
        let hd = h.filter(defined), id = i.filter(defined)
        guard hd != id else { return [] }
        var hostAt: [Int: UInt8] = [:], interpreterAt: [Int: UInt8] = [:]
        for w in hd { hostAt[Int(w >> 8)] = UInt8(w & 0xFF) }
        for w in id { interpreterAt[Int(w >> 8)] = UInt8(w & 0xFF) }
        let offsets = Set(hostAt.keys).union(interpreterAt.keys).filter { hostAt[$0] != interpreterAt[$0] }.sorted()
        let initial = DifferentialLayout.initialData(seed: c.dataSeed, patches: c.patches)
        let shown = offsets.prefix(8).map { o -> String in
            let f = { (v: UInt8?) in hex(UInt32(v ?? initial[o]), 2) }
            return "\(hex(DifferentialLayout.dataBase + UInt32(o))): host \(f(hostAt[o])) interpreter \(f(interpreterAt[o]))"
        }
        return ["memory differs at \(offsets.count) bytes (initial \(offsets.prefix(8).map { hex(UInt32(initial[$0]), 2) }.joined(separator: " "))): "
                + shown.joined(separator: "; ")]
    }
}
