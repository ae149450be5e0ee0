/// x87 control: the control and status words, the environment (FLDENV/
/// FNSTENV, 14 or 28 bytes), the whole state (FRSTOR/FNSAVE, 94 or 108
/// bytes; FXRSTOR/FXSAVE, 512 bytes), FNINIT/FNCLEX, tag and stack-pointer
/// management (FFREE, FFREEP, FDECSTP, FINCSTP), FNOP and the 8087/287
/// leftovers FNENI/FNDISI/FNSETPM, which a P6 executes as no-ops
/// (SDM vol. 1, 8.1.10, 10.5; vol. 2 per instruction).
///
/// Image layouts (SDM vol. 1, figures 8-9 to 8-12; vol. 2, FXSAVE table):
/// real-address and virtual-8086 mode store the instruction and data
/// pointers as linear addresses split around FOP; protected mode stores
/// offset and selector. Reserved upper halves of the 32-bit layouts are
/// written as 1s, as Intel processors store them. The tag word in these
/// images is per physical register; the register area is in ST(i) order,
/// so it is rotated by TOP against the physical slots of `CPUState`.
/// Loading an image keeps only "empty or not" from its tags and
/// recomputes the rest from the register contents, as the P6 does.
extension CPU {
    /// FCW bits that exist: masks 0–5, PC 8–9, RC 10–11, IC 12; bit 6
    /// reads as 1 on the 387 and later.
    static func effectiveControlWord(_ raw: UInt16) -> UInt16 { raw & 0x1F3F | 0x0040 }

    func executeX87Environment(_ i: Instruction) throws(CPUFault) {
        switch i.op {
        case .fninit: initializeFPU()
        case .fnclex:
            fpuStatusWord &= ~(X87Status.exceptions | X87Status.stackFault)
            updateErrorSummary()
        case .fldcw:
            fpuControlWord = CPU.effectiveControlWord(UInt16(try read(i.operands.0, i)))
            updateErrorSummary()
        case .fnstcw: try write(i.operands.0, i, UInt32(fpuControlWord))
        case .fnstsw: try write(i.operands.0, i, UInt32(fpuStatusWord))
        case .fnstenv:
            guard let m = x87MemoryOperand(i) else { throw .invalidOpcode }
            try writeBytes(i.segment, memoryOffset(m, i), environmentImage(thirtyTwoBit: m.size == 28))
            fpuControlWord |= X87Status.exceptions // FNSTENV then masks every exception
            updateErrorSummary()
        case .fldenv:
            guard let m = x87MemoryOperand(i) else { throw .invalidOpcode }
            let image = try readBytes(i.segment, memoryOffset(m, i), count: m.size == 28 ? 28 : 14)
            let tags = loadEnvironment(image)
            applyLoadedTags(tags)
        case .fnsave:
            guard let m = x87MemoryOperand(i) else { throw .invalidOpcode }
            var image = environmentImage(thirtyTwoBit: m.size == 108)
            for k in 0..<8 { appendRegister(st(k), to: &image) }
            try writeBytes(i.segment, memoryOffset(m, i), image)
            initializeFPU()
        case .frstor:
            guard let m = x87MemoryOperand(i) else { throw .invalidOpcode }
            let environmentSize = m.size == 108 ? 28 : 14
            let image = try readBytes(i.segment, memoryOffset(m, i), count: environmentSize + 80)
            let tags = loadEnvironment(image)
            for k in 0..<8 {
                let base = environmentSize + 10 * k
                storeFPURegister(physical: physicalRegister(k),
                                 ExtendedReal(significand: image.load64(base), signExponent: image.load16(base + 8)))
            }
            applyLoadedTags(tags)
        case .fxsave: try fxsave(i)
        case .fxrstor: try fxrstor(i)
        case .ffree: setTag(physical: physicalRegister(x87StackRegister(i, fallback: 0)), 3)
        case .ffreep:
            // FFREE ST(i), then an ordinary pop: ST(0) is freed as well.
            setTag(physical: physicalRegister(x87StackRegister(i, fallback: 0)), 3)
            fpuPop()
        case .fdecstp:
            fpuTop -= 1
            setConditionCodes(0, mask: X87Status.c1)
        case .fincstp:
            fpuTop += 1
            setConditionCodes(0, mask: X87Status.c1)
        case .fnop, .fneni, .fndisi, .fnsetpm:
            break
        default:
            throw .invalidOpcode
        }
    }

    /// FNINIT (also the end of FNSAVE): FCW 037Fh, FSW 0, all empty, the
    /// last-instruction pointers cleared; registers and MXCSR kept.
    func initializeFPU() {
        fpuControlWord = 0x037F
        fpuStatusWord = 0
        state.pointee.fpu.tags = 0xFFFF
        fpuOpcode = 0
        fpuInstructionOffset = 0
        fpuInstructionSelector = 0
        fpuDataOffset = 0
        fpuDataSelector = 0
        updateErrorSummary()
    }

    /// Non-empty registers take the tag their contents call for.
    private func applyLoadedTags(_ tags: UInt16) {
        for p in 0..<8 {
            setTag(physical: p, tags >> UInt16(2 * p) & 3 == 3 ? 3 : fpuRegister(physical: p).tag)
        }
        updateErrorSummary()
    }

    // MARK: - Environment images

    /// Real-address and virtual-8086 mode use the real-mode layouts.
    private var realModeEnvironment: Bool { !protectedMode || virtual8086 }

    private func environmentImage(thirtyTwoBit: Bool) -> [UInt8] {
        var image: [UInt8] = []
        image.reserveCapacity(thirtyTwoBit ? 108 : 94)
        let tags = state.pointee.fpu.tags
        let fop = fpuOpcode
        if realModeEnvironment {
            let ip = UInt32(fpuInstructionSelector) << 4 &+ fpuInstructionOffset
            let dp = UInt32(fpuDataSelector) << 4 &+ fpuDataOffset
            if thirtyTwoBit {
                for word in [fpuControlWord, fpuStatusWord, tags] { image.append32(0xFFFF_0000 | UInt32(word)) }
                image.append32(0xFFFF_0000 | ip & 0xFFFF)
                image.append32((ip >> 16) << 12 | UInt32(fop))
                image.append32(0xFFFF_0000 | dp & 0xFFFF)
                image.append32((dp >> 16) << 12)
            } else {
                for word in [fpuControlWord, fpuStatusWord, tags] { image.append16(word) }
                image.append16(UInt16(truncatingIfNeeded: ip))
                image.append16(UInt16(truncatingIfNeeded: (ip >> 16) << 12) | fop)
                image.append16(UInt16(truncatingIfNeeded: dp))
                image.append16(UInt16(truncatingIfNeeded: (dp >> 16) << 12))
            }
        } else if thirtyTwoBit {
            for word in [fpuControlWord, fpuStatusWord, tags] { image.append32(0xFFFF_0000 | UInt32(word)) }
            image.append32(fpuInstructionOffset)
            image.append32(UInt32(fop) << 16 | UInt32(fpuInstructionSelector))
            image.append32(fpuDataOffset)
            image.append32(0xFFFF_0000 | UInt32(fpuDataSelector))
        } else {
            for word in [fpuControlWord, fpuStatusWord, tags, UInt16(truncatingIfNeeded: fpuInstructionOffset),
                         fpuInstructionSelector, UInt16(truncatingIfNeeded: fpuDataOffset), fpuDataSelector] {
                image.append16(word)
            }
        }
        return image
    }

    /// Loads FCW, FSW and the pointers from an environment image (14 or
    /// 28 bytes at its start) and returns its tag word.
    private func loadEnvironment(_ image: [UInt8]) -> UInt16 {
        let wide = image.count == 28 || image.count == 108
        let field = { (k: Int) -> UInt32 in wide ? image.load32(4 * k) : UInt32(image.load16(2 * k)) }
        fpuControlWord = CPU.effectiveControlWord(UInt16(truncatingIfNeeded: field(0)))
        fpuStatusWord = UInt16(truncatingIfNeeded: field(1))
        let tags = UInt16(truncatingIfNeeded: field(2))
        if realModeEnvironment {
            // The linear address's upper bits (19…16, or 31…16) sit from bit 12 up.
            let highBits: UInt32 = wide ? 0xFFFF : 0xF
            fpuInstructionOffset = field(3) & 0xFFFF | (field(4) >> 12 & highBits) << 16
            fpuOpcode = UInt16(truncatingIfNeeded: field(4)) & 0x7FF
            fpuDataOffset = field(5) & 0xFFFF | (field(6) >> 12 & highBits) << 16
            fpuInstructionSelector = 0
            fpuDataSelector = 0
        } else {
            fpuInstructionOffset = field(3)
            fpuInstructionSelector = UInt16(truncatingIfNeeded: field(4))
            if wide { fpuOpcode = UInt16(truncatingIfNeeded: field(4) >> 16) & 0x7FF }
            fpuDataOffset = field(5)
            fpuDataSelector = UInt16(truncatingIfNeeded: field(6))
        }
        return tags
    }

    private func appendRegister(_ v: ExtendedReal, to image: inout [UInt8]) {
        image.append32(UInt32(truncatingIfNeeded: v.significand))
        image.append32(UInt32(truncatingIfNeeded: v.significand >> 32))
        image.append16(v.signExponent)
    }

    // MARK: - FXSAVE / FXRSTOR

    /// The 16-byte-aligned 512-byte operand (#GP(0) otherwise).
    private func fxsaveOperand(_ i: Instruction) throws(CPUFault) -> UInt32 {
        guard let m = x87MemoryOperand(i) else { throw .invalidOpcode }
        let offset = memoryOffset(m, i)
        if (UInt32(truncatingIfNeeded: segment(i.segment).pointee.base) &+ offset) & 15 != 0 {
            throw .generalProtection(0)
        }
        return offset
    }

    /// Bytes 0–287 of the FXSAVE image: x87 state with the abridged tag
    /// byte (bit p = physical register p is not empty), MXCSR, the
    /// registers in ST(i) order, XMM0–7. Bytes 288–511 are left alone.
    private func fxsave(_ i: Instruction) throws(CPUFault) {
        let offset = try fxsaveOperand(i)
        var image = [UInt8](repeating: 0, count: 288)
        var abridged: UInt8 = 0
        for p in 0..<8 where tag(physical: p) != 3 { abridged |= 1 << UInt8(p) }
        image.store16(fpuControlWord, at: 0)
        image.store16(fpuStatusWord, at: 2)
        image[4] = abridged
        image.store16(fpuOpcode, at: 6)
        image.store32(fpuInstructionOffset, at: 8)
        image.store16(fpuInstructionSelector, at: 12)
        image.store32(fpuDataOffset, at: 16)
        image.store16(fpuDataSelector, at: 20)
        for k in 24..<32 { image[k] = fpuArea.load(fromByteOffset: k, as: UInt8.self) }
        for k in 0..<8 {
            let v = st(k)
            image.store32(UInt32(truncatingIfNeeded: v.significand), at: 32 + 16 * k)
            image.store32(UInt32(truncatingIfNeeded: v.significand >> 32), at: 36 + 16 * k)
            image.store16(v.signExponent, at: 40 + 16 * k)
        }
        for k in 160..<288 { image[k] = fpuArea.load(fromByteOffset: k, as: UInt8.self) }
        try writeBytes(i.segment, offset, image)
    }

    private func fxrstor(_ i: Instruction) throws(CPUFault) {
        let offset = try fxsaveOperand(i)
        let image = try readBytes(i.segment, offset, count: 288)
        // MXCSR bits outside MXCSR_MASK (0 meaning the default FFBFh) fault.
        let maskField = fpuArea.load(fromByteOffset: 28, as: UInt32.self)
        let mxcsr = image.load32(24)
        if mxcsr & ~(maskField == 0 ? 0xFFBF : maskField) != 0 { throw .generalProtection(0) }
        fpuControlWord = CPU.effectiveControlWord(image.load16(0))
        fpuStatusWord = image.load16(2)
        fpuOpcode = image.load16(6)
        fpuInstructionOffset = image.load32(8)
        fpuInstructionSelector = image.load16(12)
        fpuDataOffset = image.load32(16)
        fpuDataSelector = image.load16(20)
        fpuArea.storeBytes(of: mxcsr, toByteOffset: 24, as: UInt32.self)
        for k in 0..<8 {
            storeFPURegister(physical: physicalRegister(k),
                             ExtendedReal(significand: image.load64(32 + 16 * k), signExponent: image.load16(40 + 16 * k)))
        }
        for k in 160..<288 { fpuArea.storeBytes(of: image[k], toByteOffset: k, as: UInt8.self) }
        var tags: UInt16 = 0
        for p in 0..<8 where image[4] & 1 << UInt8(p) == 0 { tags |= 3 << UInt16(2 * p) }
        applyLoadedTags(tags)
    }
}

/// Little-endian fields of state images.
private extension Array where Element == UInt8 {
    mutating func append16(_ v: UInt16) { append(UInt8(truncatingIfNeeded: v)); append(UInt8(truncatingIfNeeded: v >> 8)) }
    mutating func append32(_ v: UInt32) { append16(UInt16(truncatingIfNeeded: v)); append16(UInt16(truncatingIfNeeded: v >> 16)) }
    mutating func store16(_ v: UInt16, at k: Int) { self[k] = UInt8(truncatingIfNeeded: v); self[k + 1] = UInt8(truncatingIfNeeded: v >> 8) }
    mutating func store32(_ v: UInt32, at k: Int) {
        store16(UInt16(truncatingIfNeeded: v), at: k)
        store16(UInt16(truncatingIfNeeded: v >> 16), at: k + 2)
    }
    func load16(_ k: Int) -> UInt16 { UInt16(self[k]) | UInt16(self[k + 1]) << 8 }
    func load32(_ k: Int) -> UInt32 { UInt32(load16(k)) | UInt32(load16(k + 2)) << 16 }
    func load64(_ k: Int) -> UInt64 { UInt64(load32(k)) | UInt64(load32(k + 4)) << 32 }
}
