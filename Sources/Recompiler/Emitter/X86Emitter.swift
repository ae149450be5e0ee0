/// A small x86-64 assembler: the host instructions the recompiler emits,
/// one method per instruction form, named for what it does
/// (`movLoad(size:_:base:_:)`, `alu(_:size:_:_:)`, `jump(if:)`), so the
/// translator reads as the code it produces and no byte patterns are
/// scattered outside this file.
///
/// It writes into a fixed scratch buffer (a block is assembled there, then
/// copied into executable memory as a whole), never allocates, and knows
/// only the encodings the translator needs: 8/16/32/64-bit loads and
/// stores at [base + disp], register ALU forms, LEA, LAHF/SAHF, calls
/// through a register and rel32 jumps with forward labels.
struct X86Emitter {
    /// Host general registers in encoding order.
    enum Register: UInt8 {
        case rax = 0, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15
        var low: UInt8 { rawValue & 7 }
        var extended: Bool { rawValue >= 8 }
    }

    /// The eight ALU operations of opcodes 00–3F, in their /digit order
    /// (the same numbering guest and host share).
    enum ALUOperation: UInt8 {
        case add = 0, or, adc, sbb, and, sub, xor, cmp
    }

    /// Condition codes in Jcc/SETcc order (guest and host share them too).
    struct Condition: Equatable {
        let code: UInt8
        static let above = Condition(code: 7)
        static let belowOrEqual = Condition(code: 6)
        static let less = Condition(code: 0xC)
        static let carry = Condition(code: 2)
        static let zero = Condition(code: 4)
        static let notZero = Condition(code: 5)
    }

    /// A rel32 field to patch once its target is known.
    struct Label { let fieldOffset: Int }

    let buffer: UnsafeMutablePointer<UInt8>
    let capacity: Int
    private(set) var count = 0

    init(buffer: UnsafeMutablePointer<UInt8>, capacity: Int) {
        self.buffer = buffer
        self.capacity = capacity
    }

    // MARK: - Bytes

    private mutating func byte(_ b: UInt8) {
        precondition(count < capacity, "translation scratch buffer overflow")
        buffer[count] = b
        count += 1
    }

    private mutating func int32(_ v: Int32) {
        let u = UInt32(bitPattern: v)
        for k in 0..<4 { byte(UInt8(truncatingIfNeeded: u >> (8 * UInt32(k)))) }
    }

    /// REX prefix: W for 64-bit operands, R/B for the extended registers;
    /// `forceForBytes` for byte operations on SPL/BPL/SIL/DIL.
    private mutating func rex(w: Bool, reg: UInt8 = 0, base: UInt8 = 0, forceForBytes: Bool = false) {
        let r: UInt8 = (w ? 8 : 0) | (reg >= 8 ? 4 : 0) | (base >= 8 ? 1 : 0)
        if r != 0 || forceForBytes { byte(0x40 | r) }
    }

    /// ModRM (+SIB, +displacement) for [base + disp].
    private mutating func memoryOperand(reg: UInt8, base: Register, _ disp: Int32) {
        let mod: UInt8 = disp == 0 && base.low != 5 ? 0 : (Int32(Int8(truncatingIfNeeded: disp)) == disp ? 1 : 2)
        byte(mod << 6 | (reg & 7) << 3 | base.low)
        if base.low == 4 { byte(0x24) } // SIB: no index, base RSP/R12
        if mod == 1 { byte(UInt8(truncatingIfNeeded: disp)) } else if mod == 2 { int32(disp) }
    }

    /// ModRM + SIB for [base + index·2^scale + disp].
    private mutating func indexedOperand(reg: UInt8, base: Register, index: Register, scale: UInt8, _ disp: Int32 = 0) {
        precondition(index != .rsp, "RSP cannot be an index")
        // RBP/R13 as a base always need a displacement.
        let mod: UInt8 = disp == 0 && base.low != 5 ? 0 : (Int32(Int8(truncatingIfNeeded: disp)) == disp ? 1 : 2)
        byte(mod << 6 | (reg & 7) << 3 | 4)
        byte(scale << 6 | index.low << 3 | base.low)
        if mod == 1 { byte(UInt8(truncatingIfNeeded: disp)) } else if mod == 2 { int32(disp) }
    }

    private mutating func rex(w: Bool, reg: UInt8, index: UInt8, base: UInt8) {
        let r: UInt8 = (w ? 8 : 0) | (reg >= 8 ? 4 : 0) | (index >= 8 ? 2 : 0) | (base >= 8 ? 1 : 0)
        if r != 0 { byte(0x40 | r) }
    }

    private mutating func registerOperand(reg: UInt8, rm: Register) {
        byte(0xC0 | (reg & 7) << 3 | rm.low)
    }

    /// Byte registers 4–7 without REX mean AH…BH: the translator keeps to
    /// AL, CL, DL, and R8B–R15B, which always come with a REX.
    private func checkByteRegister(_ r: Register) {
        precondition(r.rawValue < 3 || r.rawValue >= 8, "byte operations use AL, CL, DL or R8B-R15B")
    }

    // MARK: - Loads and stores

    /// Loads `size` bytes (1, 2, 4, 8) from [base + disp] into `dst`,
    /// zero-extended to 64 bits.
    mutating func movLoad(size: Int, _ dst: Register, base: Register, _ disp: Int32) {
        switch size {
        case 1, 2:
            rex(w: false, reg: dst.rawValue, base: base.rawValue)
            byte(0x0F); byte(size == 1 ? 0xB6 : 0xB7)
        case 4:
            rex(w: false, reg: dst.rawValue, base: base.rawValue); byte(0x8B)
        default:
            rex(w: true, reg: dst.rawValue, base: base.rawValue); byte(0x8B)
        }
        memoryOperand(reg: dst.rawValue, base: base, disp)
    }

    /// Loads `size` bytes (1, 2, 4, 8) from [base + index·2^scale + disp]
    /// into `dst`, zero-extended.
    mutating func movLoadIndexed(size: Int, _ dst: Register, base: Register, index: Register, scale: UInt8, _ disp: Int32 = 0) {
        rex(w: size == 8, reg: dst.rawValue, index: index.rawValue, base: base.rawValue)
        switch size {
        case 1, 2: byte(0x0F); byte(size == 1 ? 0xB6 : 0xB7)
        default: byte(0x8B)
        }
        indexedOperand(reg: dst.rawValue, base: base, index: index, scale: scale, disp)
    }

    /// Stores the low `size` bytes (1, 2, 4) of `src` at [base + index].
    mutating func movStoreIndexed(size: Int, base: Register, index: Register, _ src: Register) {
        if size == 1 { checkByteRegister(src) }
        if size == 2 { byte(0x66) }
        rex(w: false, reg: src.rawValue, index: index.rawValue, base: base.rawValue)
        byte(size == 1 ? 0x88 : 0x89)
        indexedOperand(reg: src.rawValue, base: base, index: index, scale: 0)
    }

    /// Stores the low `size` bytes (1, 2, 4, 8) of `src` at [base + disp].
    mutating func movStore(size: Int, base: Register, _ disp: Int32, _ src: Register) {
        switch size {
        case 1:
            checkByteRegister(src)
            rex(w: false, reg: src.rawValue, base: base.rawValue); byte(0x88)
        case 2:
            byte(0x66); rex(w: false, reg: src.rawValue, base: base.rawValue); byte(0x89)
        case 4:
            rex(w: false, reg: src.rawValue, base: base.rawValue); byte(0x89)
        default:
            rex(w: true, reg: src.rawValue, base: base.rawValue); byte(0x89)
        }
        memoryOperand(reg: src.rawValue, base: base, disp)
    }

    /// dst ← imm, zero-extended to 64 bits.
    mutating func movImm32(_ dst: Register, _ imm: UInt32) {
        rex(w: false, base: dst.rawValue)
        byte(0xB8 | dst.low)
        int32(Int32(bitPattern: imm))
    }

    mutating func movImm64(_ dst: Register, _ imm: UInt64) {
        rex(w: true, base: dst.rawValue)
        byte(0xB8 | dst.low)
        int32(Int32(bitPattern: UInt32(truncatingIfNeeded: imm)))
        int32(Int32(bitPattern: UInt32(truncatingIfNeeded: imm >> 32)))
    }

    /// dst ← src (32-bit: the upper half of dst becomes zero).
    mutating func movReg32(_ dst: Register, _ src: Register) {
        rex(w: false, reg: src.rawValue, base: dst.rawValue)
        byte(0x89); registerOperand(reg: src.rawValue, rm: dst)
    }

    mutating func movReg64(_ dst: Register, _ src: Register) {
        rex(w: true, reg: src.rawValue, base: dst.rawValue)
        byte(0x89); registerOperand(reg: src.rawValue, rm: dst)
    }

    /// The low `size` bytes (1, 2) of `dst` ← those of `src`, the rest of
    /// `dst` kept: MOV r/m8 or r/m16 between registers, with a REX (so
    /// byte registers 4–7 are SPL…DIL).
    mutating func movPartial(size: Int, _ dst: Register, _ src: Register) {
        precondition(size == 1 || size == 2, "a partial move is of 1 or 2 bytes")
        if size == 2 { byte(0x66) }
        byte(0x40 | (src.rawValue >= 8 ? 4 : 0) | (dst.rawValue >= 8 ? 1 : 0))
        byte(size == 1 ? 0x88 : 0x89); registerOperand(reg: src.rawValue, rm: dst)
    }

    /// Byte 1 of `dst` (AH, CH or DH) ← the low byte of `src` (AL, CL or
    /// DL), the rest of `dst` kept; no REX, or those would be SPL…DIL.
    mutating func movIntoSecondByte(_ dst: Register, from src: Register) {
        precondition(dst.rawValue < 3 && src.rawValue < 3, "AH, CH, DH are reached only without REX")
        byte(0x88); byte(0xC0 | src.rawValue << 3 | (dst.rawValue + 4))
    }

    /// dst ← the low `size` bytes (1, 2) of dst, zero-extended (MOVZX,
    /// with a REX so byte registers 4–7 are SPL…DIL).
    mutating func zeroExtend(size: Int, _ dst: Register) {
        precondition(size == 1 || size == 2, "MOVZX is from 1 or 2 bytes")
        byte(0x40 | (dst.rawValue >= 8 ? 5 : 0))
        byte(0x0F); byte(size == 1 ? 0xB6 : 0xB7); registerOperand(reg: dst.rawValue, rm: dst)
    }

    /// dst ← byte 1 of dst (AH, CH or DH), zero-extended; no REX.
    mutating func zeroExtendSecondByte(_ dst: Register) {
        precondition(dst.rawValue < 3, "AH, CH, DH are reached only without REX")
        byte(0x0F); byte(0xB6); byte(0xC0 | dst.rawValue << 3 | (dst.rawValue + 4))
    }

    /// dst ← the low `size` bytes (1, 2) of dst, sign-extended to 32 bits.
    mutating func signExtend(size: Int, _ dst: Register) {
        if size == 1 { checkByteRegister(dst) }
        rex(w: false, reg: dst.rawValue, base: dst.rawValue)
        byte(0x0F); byte(size == 1 ? 0xBE : 0xBF); registerOperand(reg: dst.rawValue, rm: dst)
    }

    /// dst ← low 16 bits of dst, zero-extended (16-bit address wrap).
    mutating func zeroExtend16(_ dst: Register) { zeroExtend16(dst, from: dst) }

    /// dst ← low 16 bits of src, zero-extended.
    mutating func zeroExtend16(_ dst: Register, from src: Register) {
        rex(w: false, reg: dst.rawValue, base: src.rawValue)
        byte(0x0F); byte(0xB7); registerOperand(reg: dst.rawValue, rm: src)
    }

    /// dst ← base + index·2^scale + disp, 32-bit (no flags).
    mutating func lea32(_ dst: Register, base: Register?, index: Register?, scale: UInt8, _ disp: Int32) {
        precondition(index != .rsp, "RSP cannot be an index")
        let baseCode = base?.rawValue ?? 0, indexCode = index?.rawValue ?? 0
        let r: UInt8 = (dst.extended ? 4 : 0) | (indexCode >= 8 ? 2 : 0) | (baseCode >= 8 ? 1 : 0)
        if r != 0 { byte(0x40 | r) }
        byte(0x8D)
        let sibIndex = index.map { $0.low } ?? 4 // 4: no index
        if let base {
            let mod: UInt8 = disp == 0 && base.low != 5 ? 0 : (Int32(Int8(truncatingIfNeeded: disp)) == disp ? 1 : 2)
            byte(mod << 6 | dst.low << 3 | 4)
            byte(scale << 6 | sibIndex << 3 | base.low)
            if mod == 1 { byte(UInt8(truncatingIfNeeded: disp)) } else if mod == 2 { int32(disp) }
        } else {
            // No base: mod 00, SIB base 101 means disp32.
            byte(dst.low << 3 | 4)
            byte(scale << 6 | sibIndex << 3 | 5)
            int32(disp)
        }
    }

    // MARK: - Arithmetic (sets the host flags exactly as the guest's)

    private mutating func operandSizePrefix(_ size: Int) {
        if size == 2 { byte(0x66) }
    }

    /// dst ← dst op src at `size` bytes (1, 2, 4).
    mutating func alu(_ op: ALUOperation, size: Int, _ dst: Register, _ src: Register) {
        if size == 1 { checkByteRegister(dst); checkByteRegister(src) }
        operandSizePrefix(size)
        rex(w: false, reg: src.rawValue, base: dst.rawValue)
        byte(op.rawValue << 3 | (size == 1 ? 0 : 1))
        registerOperand(reg: src.rawValue, rm: dst)
    }

    /// dst ← dst op imm at `size` bytes.
    mutating func alu(_ op: ALUOperation, size: Int, _ dst: Register, immediate imm: UInt32) {
        operandSizePrefix(size)
        rex(w: false, base: dst.rawValue)
        switch size {
        case 1:
            checkByteRegister(dst)
            byte(0x80); registerOperand(reg: op.rawValue, rm: dst); byte(UInt8(truncatingIfNeeded: imm))
        case 2:
            byte(0x81); registerOperand(reg: op.rawValue, rm: dst)
            byte(UInt8(truncatingIfNeeded: imm)); byte(UInt8(truncatingIfNeeded: imm >> 8))
        default:
            byte(0x81); registerOperand(reg: op.rawValue, rm: dst); int32(Int32(bitPattern: imm))
        }
    }

    /// dst ← dst op [base + disp], 32 or 64 bits (`size` 4, 8).
    mutating func alu(_ op: ALUOperation, size: Int, _ dst: Register, base: Register, _ disp: Int32) {
        rex(w: size == 8, reg: dst.rawValue, base: base.rawValue)
        byte(op.rawValue << 3 | 3)
        memoryOperand(reg: dst.rawValue, base: base, disp)
    }

    /// dst ← dst op [base + index + disp], 32 or 64 bits (`size` 4, 8).
    mutating func alu(_ op: ALUOperation, size: Int, _ dst: Register, base: Register, index: Register, _ disp: Int32) {
        rex(w: size == 8, reg: dst.rawValue, index: index.rawValue, base: base.rawValue)
        byte(op.rawValue << 3 | 3)
        indexedOperand(reg: dst.rawValue, base: base, index: index, scale: 0, disp)
    }

    /// 64-bit dst ← dst op src.
    mutating func alu64(_ op: ALUOperation, _ dst: Register, _ src: Register) {
        rex(w: true, reg: src.rawValue, base: dst.rawValue)
        byte(op.rawValue << 3 | 1)
        registerOperand(reg: src.rawValue, rm: dst)
    }

    /// 64-bit dst ← dst op imm (sign-extended from 32 bits). Returns where
    /// the immediate is, for `patchInt32`.
    @discardableResult
    mutating func alu64(_ op: ALUOperation, _ dst: Register, immediate imm: Int32) -> Int {
        rex(w: true, base: dst.rawValue)
        byte(0x81); registerOperand(reg: op.rawValue, rm: dst)
        let at = count
        int32(imm)
        return at
    }

    /// The shifts and rotates of group 2, in their /digit order.
    enum ShiftOperation: UInt8 {
        case rol = 0, ror, rcl, rcr, shl, shr, sar = 7
    }

    /// dst ← dst shifted by `count` at `size` bytes (1, 2, 4); the host
    /// masks the count to 5 bits and leaves the flags alone for 0, as the
    /// guest does.
    mutating func shift(_ op: ShiftOperation, size: Int, _ dst: Register, count: UInt8) {
        if size == 1 { checkByteRegister(dst) }
        operandSizePrefix(size)
        rex(w: false, base: dst.rawValue)
        byte(size == 1 ? 0xC0 : 0xC1); registerOperand(reg: op.rawValue, rm: dst); byte(count)
    }

    /// dst ← dst shifted by CL.
    mutating func shiftByCL(_ op: ShiftOperation, size: Int, _ dst: Register) {
        if size == 1 { checkByteRegister(dst) }
        operandSizePrefix(size)
        rex(w: false, base: dst.rawValue)
        byte(size == 1 ? 0xD2 : 0xD3); registerOperand(reg: op.rawValue, rm: dst)
    }

    /// 64-bit [base + disp] ← [base + disp] op imm (sign-extended from 32
    /// bits). Returns where the immediate lies, for `patchInt32`.
    @discardableResult
    mutating func alu64(_ op: ALUOperation, base: Register, _ disp: Int32, immediate imm: Int32) -> Int {
        rex(w: true, base: base.rawValue)
        byte(0x81); memoryOperand(reg: op.rawValue, base: base, disp)
        let at = count
        int32(imm)
        return at
    }

    /// Rewrites the 32-bit field at `offset` (an immediate emitted before
    /// its value was known).
    mutating func patchInt32(at offset: Int, _ value: Int32) {
        let u = UInt32(bitPattern: value)
        for k in 0..<4 { buffer[offset + k] = UInt8(truncatingIfNeeded: u >> (8 * UInt32(k))) }
    }

    /// dst ← an address in this code (RIP-relative, so it holds wherever
    /// the code is installed), bound later with `bind(_:toAddressOf:)`.
    mutating func leaRIPRelative(_ dst: Register) -> Label {
        rex(w: true, reg: dst.rawValue)
        byte(0x8D); byte(dst.low << 3 | 5)
        let label = Label(fieldOffset: count)
        int32(0)
        return label
    }

    /// Makes a `leaRIPRelative` yield the address of `target`.
    mutating func bind(_ label: Label, toAddressOf target: Int) {
        patchInt32(at: label.fieldOffset, Int32(target - (label.fieldOffset + 4)))
    }

    /// Logical shift of the 32-bit `dst` right by `count` (ZF from the result).
    mutating func shiftRight32(_ dst: Register, by count: UInt8) {
        rex(w: false, base: dst.rawValue)
        byte(0xC1); registerOperand(reg: 5, rm: dst); byte(count)
    }

    /// Shift of the 64-bit `dst` left by `count`.
    mutating func shiftLeft64(_ dst: Register, by count: UInt8) {
        rex(w: true, base: dst.rawValue)
        byte(0xC1); registerOperand(reg: 4, rm: dst); byte(count)
    }

    /// Flags of a & b at `size` bytes (1, 2, 4, 8).
    mutating func test(size: Int, _ a: Register, _ b: Register) {
        if size == 1 { checkByteRegister(a); checkByteRegister(b) }
        operandSizePrefix(size)
        rex(w: size == 8, reg: b.rawValue, base: a.rawValue)
        byte(size == 1 ? 0x84 : 0x85)
        registerOperand(reg: b.rawValue, rm: a)
    }

    /// dst ← dst · src, truncated to `size` bytes (2, 4): CF = OF = the
    /// product did not fit.
    mutating func signedMultiply(size: Int, _ dst: Register, _ src: Register) {
        operandSizePrefix(size)
        rex(w: false, reg: dst.rawValue, base: src.rawValue)
        byte(0x0F); byte(0xAF); registerOperand(reg: dst.rawValue, rm: src)
    }

    /// NOT (no flags) or NEG of `dst` at `size` bytes.
    mutating func complement(negate: Bool, size: Int, _ dst: Register) {
        if size == 1 { checkByteRegister(dst) }
        operandSizePrefix(size)
        rex(w: false, base: dst.rawValue)
        byte(size == 1 ? 0xF6 : 0xF7); registerOperand(reg: negate ? 3 : 2, rm: dst)
    }

    /// The low byte of `dst` ← 1 if the guest condition `code` holds, else 0.
    mutating func setByte(ifGuestCondition code: UInt8, _ dst: Register) {
        checkByteRegister(dst)
        rex(w: false, base: dst.rawValue)
        byte(0x0F); byte(0x90 | code & 0xF); registerOperand(reg: 0, rm: dst)
    }

    /// dst ← src if the guest condition `code` holds, at `size` bytes (2, 4).
    mutating func moveIf(guestCondition code: UInt8, size: Int, _ dst: Register, _ src: Register) {
        operandSizePrefix(size)
        rex(w: false, reg: dst.rawValue, base: src.rawValue)
        byte(0x0F); byte(0x40 | code & 0xF); registerOperand(reg: dst.rawValue, rm: src)
    }

    /// Flags of r & imm at `size` bytes.
    mutating func test(size: Int, _ r: Register, immediate imm: UInt32) {
        operandSizePrefix(size)
        rex(w: false, base: r.rawValue)
        switch size {
        case 1:
            checkByteRegister(r)
            byte(0xF6); registerOperand(reg: 0, rm: r); byte(UInt8(truncatingIfNeeded: imm))
        case 2:
            byte(0xF7); registerOperand(reg: 0, rm: r)
            byte(UInt8(truncatingIfNeeded: imm)); byte(UInt8(truncatingIfNeeded: imm >> 8))
        default:
            byte(0xF7); registerOperand(reg: 0, rm: r); int32(Int32(bitPattern: imm))
        }
    }

    /// INC (or DEC) of `dst` at `size` bytes: CF unchanged.
    mutating func incrementOrDecrement(decrement: Bool, size: Int, _ dst: Register) {
        if size == 1 { checkByteRegister(dst) }
        operandSizePrefix(size)
        rex(w: false, base: dst.rawValue)
        byte(size == 1 ? 0xFE : 0xFF)
        registerOperand(reg: decrement ? 1 : 0, rm: dst)
    }

    /// 64-bit dst ← the low `size` bytes (1, 2, 4) of src, sign-extended.
    mutating func signExtend64(size: Int, _ dst: Register, _ src: Register) {
        if size == 1 { checkByteRegister(src) }
        rex(w: true, reg: dst.rawValue, base: src.rawValue)
        switch size {
        case 1: byte(0x0F); byte(0xBE)
        case 2: byte(0x0F); byte(0xBF)
        default: byte(0x63)
        }
        registerOperand(reg: dst.rawValue, rm: src)
    }

    /// 64-bit dst ← dst · src, truncated to 64 bits (which holds every
    /// product of two 32-bit values).
    mutating func multiply64(_ dst: Register, _ src: Register) {
        rex(w: true, reg: dst.rawValue, base: src.rawValue)
        byte(0x0F); byte(0xAF); registerOperand(reg: dst.rawValue, rm: src)
    }

    /// RDX:RAX ÷ src (64-bit DIV or IDIV): quotient to RAX, remainder to
    /// RDX. The host raises #DE on a zero divisor or an overflowing
    /// quotient, so the caller rules both out first.
    mutating func divide64(signed: Bool, by src: Register) {
        rex(w: true, base: src.rawValue)
        byte(0xF7); registerOperand(reg: signed ? 7 : 6, rm: src)
    }

    /// CWD (`size` 2) or CDQ (4): DX or EDX ← the sign of AX or EAX (no flags).
    mutating func signExtendAccumulator(size: Int) {
        if size == 2 { byte(0x66) }
        byte(0x99)
    }

    /// CQO: RDX ← the sign of RAX, for a signed 64-bit division.
    mutating func signExtendRAXIntoRDX() { byte(0x48); byte(0x99) }

    /// 64-bit NEG.
    mutating func negate64(_ dst: Register) {
        rex(w: true, base: dst.rawValue)
        byte(0xF7); registerOperand(reg: 3, rm: dst)
    }

    /// Logical shift of the 64-bit `dst` right by `count` (ZF from the result).
    mutating func shiftRight64(_ dst: Register, by count: UInt8) {
        rex(w: true, base: dst.rawValue)
        byte(0xC1); registerOperand(reg: 5, rm: dst); byte(count)
    }

    /// 32-bit SHLD (`left`) or SHRD of `dst`, filled from `src`, by
    /// `count` (nil: by CL).
    mutating func doubleShift32(left: Bool, _ dst: Register, _ src: Register, count: UInt8?) {
        rex(w: false, reg: src.rawValue, base: dst.rawValue)
        byte(0x0F); byte((left ? 0xA4 : 0xAC) | (count == nil ? 1 : 0))
        registerOperand(reg: src.rawValue, rm: dst)
        if let count { byte(count) }
    }

    /// BSF (or BSR, `reverse`) of the 32-bit `src` into `dst`; the caller
    /// rules out a zero source.
    mutating func bitScan32(reverse: Bool, _ dst: Register, _ src: Register) {
        rex(w: false, reg: dst.rawValue, base: src.rawValue)
        byte(0x0F); byte(reverse ? 0xBD : 0xBC); registerOperand(reg: dst.rawValue, rm: src)
    }

    /// BSWAP of the 32-bit `dst` (no flags).
    mutating func byteSwap32(_ dst: Register) {
        rex(w: false, base: dst.rawValue)
        byte(0x0F); byte(0xC8 | dst.low)
    }

    /// CF ← bit `bit` of the dword at [base + disp].
    mutating func bitTest(base: Register, _ disp: Int32, bit: UInt8) {
        rex(w: false, base: base.rawValue)
        byte(0x0F); byte(0xBA); memoryOperand(reg: 4, base: base, disp); byte(bit)
    }

    /// CF ← bit `bit` of the 64-bit `r`.
    mutating func bitTest64(_ r: Register, bit: UInt8) {
        rex(w: true, base: r.rawValue)
        byte(0x0F); byte(0xBA); registerOperand(reg: 4, rm: r); byte(bit)
    }

    /// CF ← bit (`index` mod 64) of the 64-bit `r`.
    mutating func bitTest64(_ r: Register, bitIn index: Register) {
        rex(w: true, reg: index.rawValue, base: r.rawValue)
        byte(0x0F); byte(0xA3); registerOperand(reg: index.rawValue, rm: r)
    }

    // MARK: - Host flags and stack

    /// CLC, STC, CMC on the host's CF.
    mutating func clearCarry() { byte(0xF8) }
    mutating func setCarry() { byte(0xF9) }
    mutating func complementCarry() { byte(0xF5) }

    /// LAHF: AH ← SF, ZF, AF, PF, CF (the low byte of RFLAGS).
    mutating func loadFlagsIntoAH() { byte(0x9F) }

    /// SAHF: SF, ZF, AF, PF, CF ← AH (OF and the rest untouched).
    mutating func storeAHIntoFlags() { byte(0x9E) }

    /// ADD AL, imm8.
    mutating func addToAL(_ imm: UInt8) { byte(0x04); byte(imm) }

    mutating func push(_ r: Register) {
        rex(w: false, base: r.rawValue)
        byte(0x50 | r.low)
    }

    mutating func pop(_ r: Register) {
        rex(w: false, base: r.rawValue)
        byte(0x58 | r.low)
    }

    // MARK: - Control flow

    /// Calls the function at `address` (through RAX, which it clobbers).
    mutating func call(_ address: UnsafeRawPointer) {
        movImm64(.rax, UInt64(UInt(bitPattern: address)))
        byte(0xFF); registerOperand(reg: 2, rm: .rax)
    }

    mutating func ret() { byte(0xC3) }

    /// Jumps to the address in `r`.
    mutating func jump(toAddressIn r: Register) {
        rex(w: false, base: r.rawValue)
        byte(0xFF); registerOperand(reg: 4, rm: r)
    }

    /// A conditional rel32 jump whose target is bound later.
    mutating func jump(if condition: Condition) -> Label {
        byte(0x0F); byte(0x80 | condition.code)
        let label = Label(fieldOffset: count)
        int32(0)
        return label
    }

    /// Guest condition `code` (Jcc's low nibble) as a host condition: the
    /// encodings are the same.
    mutating func jump(ifGuestCondition code: UInt8) -> Label {
        jump(if: Condition(code: code & 0xF))
    }

    /// Bytes that are not code (read by the dispatcher, jumped over), little-endian.
    mutating func data(_ value: UInt64, bytes: Int) {
        for k in 0..<bytes { byte(UInt8(truncatingIfNeeded: value >> (8 * UInt64(k)))) }
    }

    mutating func jump() -> Label {
        byte(0xE9)
        let label = Label(fieldOffset: count)
        int32(0)
        return label
    }

    /// A conditional rel32 jump back to `target`, an offset already emitted.
    mutating func jump(if condition: Condition, to target: Int) {
        byte(0x0F); byte(0x80 | condition.code)
        int32(Int32(target - (count + 4)))
    }

    mutating func jump(to target: Int) {
        byte(0xE9)
        int32(Int32(target - (count + 4)))
    }

    /// Makes `label`'s jump land at the current position.
    mutating func bind(_ label: Label) {
        let displacement = Int32(count - (label.fieldOffset + 4))
        let u = UInt32(bitPattern: displacement)
        for k in 0..<4 { buffer[label.fieldOffset + k] = UInt8(truncatingIfNeeded: u >> (8 * UInt32(k))) }
    }
}
