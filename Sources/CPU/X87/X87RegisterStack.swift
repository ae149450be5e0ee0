/// The x87 register stack and its status: TOP, the tag word, ST(i), push
/// and pop, stack overflow and underflow (SDM vol. 1, 8.1.2–8.1.7, 8.5.1.1).
///
/// The registers live in `CPUState.fpu.area` in FXSAVE layout but indexed
/// by *physical* register: R(p) at byte 32 + 16·p, so a push or pop only
/// moves TOP. ST(i) is R((TOP + i) mod 8). The full two-bit tag of each
/// physical register is kept in `CPUState.fpu.tags` and recomputed from the
/// contents whenever a register is written, as the P6 does.
extension CPU {
    // MARK: - The FXSAVE-layout area

    /// The 512-byte area; its fields are at their FXSAVE offsets.
    @inline(__always) var fpuArea: UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(state) + MemoryLayout<CPUState>.offset(of: \CPUState.fpu.area)!
    }

    var fpuControlWord: UInt16 {
        get { fpuArea.load(fromByteOffset: 0, as: UInt16.self) }
        set { fpuArea.storeBytes(of: newValue, toByteOffset: 0, as: UInt16.self) }
    }
    /// The FSW as stored: flags, condition codes, TOP.
    var fpuStatusWord: UInt16 {
        get { fpuArea.load(fromByteOffset: 2, as: UInt16.self) }
        set { fpuArea.storeBytes(of: newValue, toByteOffset: 2, as: UInt16.self) }
    }
    var fpuOpcode: UInt16 {
        get { fpuArea.load(fromByteOffset: 6, as: UInt16.self) }
        set { fpuArea.storeBytes(of: newValue & 0x7FF, toByteOffset: 6, as: UInt16.self) }
    }
    var fpuInstructionOffset: UInt32 {
        get { fpuArea.load(fromByteOffset: 8, as: UInt32.self) }
        set { fpuArea.storeBytes(of: newValue, toByteOffset: 8, as: UInt32.self) }
    }
    var fpuInstructionSelector: UInt16 {
        get { fpuArea.load(fromByteOffset: 12, as: UInt16.self) }
        set { fpuArea.storeBytes(of: newValue, toByteOffset: 12, as: UInt16.self) }
    }
    var fpuDataOffset: UInt32 {
        get { fpuArea.load(fromByteOffset: 16, as: UInt32.self) }
        set { fpuArea.storeBytes(of: newValue, toByteOffset: 16, as: UInt32.self) }
    }
    var fpuDataSelector: UInt16 {
        get { fpuArea.load(fromByteOffset: 20, as: UInt16.self) }
        set { fpuArea.storeBytes(of: newValue, toByteOffset: 20, as: UInt16.self) }
    }

    var fpuControl: X87ControlWord { X87ControlWord(raw: fpuControlWord) }

    // MARK: - TOP and tags

    var fpuTop: Int {
        get { Int(fpuStatusWord >> 11) & 7 }
        set { fpuStatusWord = fpuStatusWord & ~0x3800 | UInt16(newValue & 7) << 11 }
    }

    /// Physical register number of ST(i).
    @inline(__always) func physicalRegister(_ i: Int) -> Int { (fpuTop + i) & 7 }

    func tag(physical p: Int) -> UInt16 { state.pointee.fpu.tags >> UInt16(2 * p) & 3 }
    func setTag(physical p: Int, _ tag: UInt16) {
        let shift = UInt16(2 * p)
        state.pointee.fpu.tags = state.pointee.fpu.tags & ~(3 << shift) | (tag & 3) << shift
    }
    func isEmpty(_ i: Int) -> Bool { tag(physical: physicalRegister(i)) == 3 }

    // MARK: - Registers

    func fpuRegister(physical p: Int) -> ExtendedReal {
        let base = 32 + 16 * (p & 7)
        return ExtendedReal(significand: fpuArea.load(fromByteOffset: base, as: UInt64.self),
                            signExponent: fpuArea.load(fromByteOffset: base + 8, as: UInt16.self))
    }
    /// Writes R(p) without touching its tag (FXRSTOR/FRSTOR images).
    func storeFPURegister(physical p: Int, _ v: ExtendedReal) {
        let base = 32 + 16 * (p & 7)
        fpuArea.storeBytes(of: v.significand, toByteOffset: base, as: UInt64.self)
        fpuArea.storeBytes(of: v.signExponent, toByteOffset: base + 8, as: UInt16.self)
    }

    func st(_ i: Int) -> ExtendedReal { fpuRegister(physical: physicalRegister(i)) }
    /// Writes ST(i) and tags it from its contents (it becomes non-empty).
    func setST(_ i: Int, _ v: ExtendedReal) {
        let p = physicalRegister(i)
        storeFPURegister(physical: p, v)
        setTag(physical: p, v.tag)
    }

    // MARK: - Push and pop

    /// Pushes `v`. The caller has checked `pushWouldOverflow`.
    func fpuPush(_ v: ExtendedReal) {
        fpuTop -= 1
        setST(0, v)
    }
    /// Marks ST(0) empty and increments TOP.
    func fpuPop() {
        setTag(physical: physicalRegister(0), 3)
        fpuTop += 1
    }
    /// A push needs ST(7) (the register below the top) to be empty.
    var pushWouldOverflow: Bool { !isEmpty(7) }

    // MARK: - Condition codes

    /// Sets C0 C1 C2 C3 in `mask` to the bits of `codes`.
    func setConditionCodes(_ codes: UInt16, mask: UInt16) {
        fpuStatusWord = fpuStatusWord & ~mask | codes & mask
    }
    /// C1 after an arithmetic result: set when the significand was rounded up.
    func setRoundedUp(_ up: Bool) {
        setConditionCodes(up ? X87Status.c1 : 0, mask: X87Status.c1)
    }

    // MARK: - Stack faults

    /// Stack overflow on a push (SDM vol. 1, 8.5.1.1): #IS with C1 = 1.
    /// Masked, the real indefinite is pushed; unmasked, nothing changes.
    func fpuStackOverflow() {
        setConditionCodes(X87Status.c1, mask: X87Status.c1)
        if fpuControl.masks(X87Status.invalid) { fpuPush(.indefinite) }
        raiseX87(X87Status.invalid | X87Status.stackFault)
    }

    /// Stack underflow (an empty source or destination): #IS with C1 = 0.
    /// Masked, ST(`destination`) receives the real indefinite and the
    /// instruction's pops happen; unmasked, nothing changes.
    func fpuStackUnderflow(destination: Int?, pops: Int = 0) {
        setConditionCodes(0, mask: X87Status.c1)
        if fpuControl.masks(X87Status.invalid) {
            if let d = destination { setST(d, .indefinite) }
            for _ in 0..<pops { fpuPop() }
        }
        raiseX87(X87Status.invalid | X87Status.stackFault)
    }
}
