import GuestPrograms

/// Builds one `DifferentialCase`: random initial registers and flags, and an
/// x86 encoder just big enough for the generators — prefixes, opcode, ModRM
/// with SIB and displacement, immediates.
///
/// The point of the encoder is the memory operand: it picks a random
/// addressing form (32-bit with or without SIB, or 16-bit after 67h) and then
/// solves for the base/index register values or the displacement so that the
/// effective address lands inside the data region, wrapping around 2^32 or
/// 2^16 where the random parts make it. A register whose value the case has
/// already fixed (`pin`) is used as it is and the others are solved around it.
struct CaseBuilder {
    typealias L = DifferentialLayout

    var rng: SplitMix64
    var registers: [UInt32]
    /// Bit r set: register r has a value the case depends on.
    private(set) var pinned: UInt8 = 0
    var eflags: UInt32
    let seed: UInt32
    var patches: [MemoryPatch] = []
    var fpu = FXSaveImage.initialized
    var undefined = UndefinedParts()
    private(set) var code: [UInt8] = []

    // The instruction being encoded.
    private var prefixes: [UInt8] = []
    private var body: [UInt8] = []

    static let eax: UInt8 = 0, ecx: UInt8 = 1, edx: UInt8 = 2, ebx: UInt8 = 3
    static let esp: UInt8 = 4, ebp: UInt8 = 5, esi: UInt8 = 6, edi: UInt8 = 7

    /// The user-settable status and control flags the cases start with.
    static let userFlags: UInt32 = EFLAGSBits.cf | EFLAGSBits.pf | EFLAGSBits.af | EFLAGSBits.zf
        | EFLAGSBits.sf | EFLAGSBits.df | EFLAGSBits.of

    init(rng: inout SplitMix64) {
        var r = SplitMix64(seed: rng.next())
        registers = (0..<8).map { _ in CaseBuilder.interestingWord(&r) }
        eflags = UInt32(truncatingIfNeeded: r.next()) & CaseBuilder.userFlags
        seed = UInt32(truncatingIfNeeded: r.next()) | 1
        // The stack always points into the data region, with room both
        // ways; now and then misaligned.
        let misalign: UInt32 = r.chance(0.1) ? UInt32(r.next() % 4) : 0
        registers[4] = L.dataBase + 0x800 + UInt32(r.next() % 0x1000) & ~3 + misalign
        self.rng = r
        pinned = 1 << 4
    }

    /// Values that exercise edge cases more often than uniform ones would.
    static func interestingWord(_ r: inout SplitMix64) -> UInt32 {
        let v = UInt32(truncatingIfNeeded: r.next())
        switch r.next() % 16 {
        case 0: return 0
        case 1: return 0xFFFF_FFFF
        case 2: return 0x8000_0000 ^ (v & 1)
        case 3: return 0x7FFF_FFFF ^ (v & 1)
        case 4: return v & 0xFF
        case 5: return v & 0xFFFF
        case 6: return 0xFFFF_FF00 | v & 0xFF
        case 7: return [0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x1, 0xFFFF_8000][Int(v % 8)]
        default: return v
        }
    }

    mutating func word() -> UInt32 { CaseBuilder.interestingWord(&rng) }
    mutating func below(_ n: Int) -> Int { Int.random(in: 0..<n, using: &rng) }
    mutating func chance(_ p: Double) -> Bool { rng.chance(p) }

    mutating func pin(_ r: UInt8, _ value: UInt32) {
        registers[Int(r)] = value
        pinned |= 1 << r
    }
    mutating func pin16(_ r: UInt8, _ value: UInt16) {
        pin(r, registers[Int(r)] & 0xFFFF_0000 | UInt32(value))
    }
    func isPinned(_ r: UInt8) -> Bool { pinned & (1 << r) != 0 }

    // MARK: - Memory

    /// Writes `bytes` at linear address `address` in the data region.
    mutating func patch(at address: UInt32, _ bytes: [UInt8]) {
        let offset = Int(address) - Int(L.dataBase)
        precondition(offset >= 0 && offset + bytes.count <= L.dataSize, "patch outside the data region")
        patches.append(MemoryPatch(offset: offset, bytes: bytes))
    }
    mutating func patch(at address: UInt32, value: UInt64, size: Int) {
        patch(at: address, (0..<size).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) })
    }

    /// A random address for an access spanning `span` bytes around it.
    mutating func dataAddress(span: Range<Int>, align: UInt32 = 1) -> UInt32 {
        let lo = Int(L.dataBase) - span.lowerBound
        let hi = Int(L.dataBase) + L.dataSize - span.upperBound
        precondition(lo <= hi, "access larger than the data region")
        var a = UInt32(Int.random(in: lo...hi, using: &rng))
        a &= ~(align - 1)
        if Int(a) < lo { a += align }
        return a
    }

    // MARK: - Encoding

    mutating func prefix(_ p: UInt8) { prefixes.append(p) }
    mutating func bytes(_ b: UInt8...) { body.append(contentsOf: b) }
    mutating func bytes(_ b: [UInt8]) { body.append(contentsOf: b) }
    mutating func immediate(_ v: UInt32, size: Int) {
        for k in 0..<size { body.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(k)))) }
    }
    /// 66h when `size` is 2 (the code segment is 32-bit).
    mutating func operandSize(_ size: Int) { if size == 2 { prefixes.append(0x66) } }

    /// Ends the instruction: prefixes (shuffled: their order does not
    /// matter to the processor) and body go to the code.
    mutating func end() {
        prefixes.shuffle(using: &rng)
        code += prefixes
        code += body
        prefixes.removeAll(keepingCapacity: true)
        body.removeAll(keepingCapacity: true)
    }

    /// Appends raw, already encoded instructions.
    mutating func emitRaw(_ b: [UInt8]) { end(); code += b }

    mutating func modrmRegister(reg: UInt8, rm: UInt8) {
        body.append(0xC0 | (reg & 7) << 3 | (rm & 7))
    }

    /// Encodes a memory operand for an access of `span` bytes relative to
    /// the effective address (its size by default) and returns that address.
    /// With `address16` the 67h prefix and a 16-bit form are used. A segment
    /// override that changes nothing (the flat ES/CS/SS/DS) is added now and
    /// then; `segmentFaults` also allows FS/GS (null: #GP) and, for writes,
    /// CS (read-only: #GP).
    @discardableResult
    mutating func modrmMemory(reg: UInt8, span: Range<Int>, address16: Bool? = nil, align: UInt32 = 1,
                              write: Bool = false, segmentFaults: Bool = true) -> UInt32 {
        let a16 = address16 ?? chance(0.15)
        let target = dataAddress(span: span, align: align)
        if a16 { prefixes.append(0x67); encode16(reg: reg, target: target) } else { encode32(reg: reg, target: target, align: align) }
        if chance(0.12) {
            var choices: [UInt8] = [0x26, 0x36, 0x3E] // ES, SS, DS
            if !write { choices.append(0x2E) }
            if segmentFaults && chance(0.25) { choices += write ? [0x2E, 0x64, 0x65] : [0x64, 0x65] }
            prefixes.append(choices[below(choices.count)])
        }
        return target
    }

    private mutating func encode32(reg: UInt8, target: UInt32, align: UInt32) {
        for _ in 0..<32 {
            if let bytes = try32(reg: reg, target: target) { body += bytes; return }
        }
        // Every register in reach is pinned: absolute disp32.
        body += [0x05 | (reg & 7) << 3] + le32(target)
    }

    private func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * UInt32($0))) } }

    /// One attempt at a 32-bit addressing form for `target`; nil if the
    /// registers it picked cannot reach it.
    private mutating func try32(reg: UInt8, target: UInt32) -> [UInt8]? {
        let useSIB = chance(0.5)
        var base: UInt8? = UInt8(below(8))
        var index: UInt8? = nil
        var scale: UInt32 = 0
        let mod = UInt8(below(3))
        if useSIB {
            let i = UInt8(below(8))
            index = i == 4 ? nil : i
            scale = UInt32(below(4))
            if base == 5 && mod == 0 { base = nil } // [index*s + disp32]
        } else {
            if base == 4 { base = 5 } // rm=4 means SIB
            if base == 5 && mod == 0 { base = nil } // [disp32]
        }
        if !useSIB && base == nil { return [0x05 | (reg & 7) << 3] + le32(target) }
        let dispSize = base == nil ? 4 : [0, 1, 4][Int(mod)]
        guard let (b, x, disp) = solve(target: target, base: base, index: index, scale: scale,
                                       dispSize: dispSize, width: 32) else { return nil }
        var out: [UInt8]
        let modBits: UInt8 = base == nil ? 0 : mod
        if useSIB {
            out = [modBits << 6 | (reg & 7) << 3 | 4, UInt8(scale) << 6 | (index ?? 4) << 3 | (base ?? 5)]
        } else {
            out = [modBits << 6 | (reg & 7) << 3 | base!]
        }
        if dispSize == 1 { out.append(UInt8(truncatingIfNeeded: disp)) }
        if dispSize == 4 { out += le32(disp) }
        if let base { registers[Int(base)] = b; pinned |= 1 << base }
        if let index { registers[Int(index)] = x; pinned |= 1 << index }
        return out
    }

    /// 16-bit forms: rm 0–7 = BX+SI, BX+DI, BP+SI, BP+DI, SI, DI, BP (or
    /// disp16 with mod 0), BX.
    private mutating func encode16(reg: UInt8, target: UInt32) {
        let bases: [UInt8?] = [3, 3, 5, 5, nil, nil, 5, 3]
        let indexes: [UInt8?] = [6, 7, 6, 7, 6, 7, nil, nil]
        for _ in 0..<32 {
            let rm = UInt8(below(8))
            var mod = UInt8(below(3))
            if rm == 6 && mod == 0 {
                if chance(0.5) { mod = 1 } else {
                    body += [(reg & 7) << 3 | 6, UInt8(target & 0xFF), UInt8(target >> 8 & 0xFF)]
                    return
                }
            }
            let dispSize = [0, 1, 2][Int(mod)]
            guard let (b, x, disp) = solve(target: target, base: bases[Int(rm)], index: indexes[Int(rm)], scale: 0,
                                           dispSize: dispSize, width: 16) else { continue }
            body.append(mod << 6 | (reg & 7) << 3 | rm)
            if dispSize >= 1 { body.append(UInt8(truncatingIfNeeded: disp)) }
            if dispSize == 2 { body.append(UInt8(truncatingIfNeeded: disp >> 8)) }
            if let base = bases[Int(rm)] { registers[Int(base)] = registers[Int(base)] & 0xFFFF_0000 | b & 0xFFFF; pinned |= 1 << base }
            if let index = indexes[Int(rm)] { registers[Int(index)] = registers[Int(index)] & 0xFFFF_0000 | x & 0xFFFF; pinned |= 1 << index }
            return
        }
        body += [(reg & 7) << 3 | 6, UInt8(target & 0xFF), UInt8(target >> 8 & 0xFF)]
    }

    /// Finds base, index and displacement values (mod 2^width) with
    /// base + index << scale + disp = target, keeping pinned registers'
    /// values. A 1-byte displacement is sign-extended, as the CPU does.
    private mutating func solve(target: UInt32, base: UInt8?, index: UInt8?, scale: UInt32,
                                dispSize: Int, width: Int) -> (UInt32, UInt32, UInt32)? {
        let mask: UInt32 = width == 16 ? 0xFFFF : 0xFFFF_FFFF
        let baseFree = base.map { !isPinned($0) } ?? false
        let indexFree = index.map { !isPinned($0) } ?? false
        var b = base.map { registers[Int($0)] } ?? 0
        var x = index.map { registers[Int($0)] } ?? 0
        func sum(_ b: UInt32, _ x: UInt32) -> UInt32 {
            (base == nil ? 0 : b) &+ (index == nil ? 0 : x << scale)
        }
        let wide = dispSize == 4 || (dispSize == 2 && width == 16)
        if wide {
            if baseFree { b = word() }
            if indexFree { x = base == index ? b : word() }
            return (b, x, (target &- sum(b, x)) & mask)
        }
        var disp: UInt32 = 0
        if dispSize == 1 { disp = UInt32(bitPattern: Int32(Int8(truncatingIfNeeded: rng.next()))) }
        if base != nil && base == index {
            guard baseFree else { return nil }
            let need = (target &- disp) & mask
            if scale == 0 {
                guard need & 1 == 0 else { return nil }
                let v = need >> 1 | (chance(0.5) ? (mask >> 1) &+ 1 : 0)
                return (v, v, disp)
            }
            // 1 + 2^s is odd, so it has an inverse mod 2^32 (Newton's iteration).
            let c = 1 + (UInt32(1) << scale)
            var inverse = c
            for _ in 0..<5 { inverse = inverse &* (2 &- c &* inverse) }
            let v = need &* inverse
            return (v, v, disp)
        }
        if baseFree {
            if indexFree { x = word() }
            b = (target &- disp &- (index == nil ? 0 : x << scale)) & mask
            return (b | (registers[Int(base!)] & ~mask), x, disp)
        }
        if indexFree {
            let need = (target &- disp &- (base == nil ? 0 : b)) & mask
            guard need & ((1 << scale) - 1) == 0 else { return nil }
            let high = scale == 0 ? 0 : UInt32(truncatingIfNeeded: rng.next()) << (32 - scale)
            return (b, need >> scale | (width == 32 ? high : 0) | (registers[Int(index!)] & ~mask), disp)
        }
        return (target &- sum(b, x) &- disp) & mask == 0 ? (b, x, disp) : nil
    }

    // MARK: - Finishing

    func finish(form: String) -> DifferentialCase {
        precondition(prefixes.isEmpty && body.isEmpty, "an instruction was not ended")
        return DifferentialCase(form: form, code: code, registers: registers, eflags: eflags, dataSeed: seed,
                                patches: patches, fpu: fpu, undefined: undefined)
    }
}

/// EFLAGS bits by name, for the generators and the tables (the SDM's names).
enum EFLAGSBits {
    static let cf: UInt32 = 1, pf: UInt32 = 4, af: UInt32 = 0x10, zf: UInt32 = 0x40, sf: UInt32 = 0x80
    static let tf: UInt32 = 0x100, `if`: UInt32 = 0x200, df: UInt32 = 0x400, of: UInt32 = 0x800
    static let iopl: UInt32 = 0x3000, nt: UInt32 = 0x4000, rf: UInt32 = 0x1_0000, vm: UInt32 = 0x2_0000
    static let ac: UInt32 = 0x4_0000, vif: UInt32 = 0x8_0000, vip: UInt32 = 0x10_0000, id: UInt32 = 0x20_0000
    static let status: UInt32 = cf | pf | af | zf | sf | of
}

extension SplitMix64 {
    mutating func chance(_ p: Double) -> Bool { Double(next() >> 11) * 0x1p-53 < p }
}
