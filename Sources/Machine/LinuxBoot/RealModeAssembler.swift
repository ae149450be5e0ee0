/// A tiny x86 assembler for 16-bit (real-mode) code: just the instruction
/// forms the Linux loader option ROM needs, each emitting the bytes the
/// Intel SDM (vol. 2) gives for it, so the ROM is built from Swift without
/// an assembler on the host at run time.
///
/// In a 16-bit code segment the default operand size is 16 bits; the forms
/// on 32-bit registers carry the operand-size prefix 66h. Memory operands
/// are the one form the loader uses, [BP + disp8] (ModRM mod = 01,
/// r/m = 110), whose default segment is SS.
///
/// Jumps and calls name `Label`s; `finish()` patches their displacements,
/// which are relative to the end of the jumping instruction.
struct RealModeAssembler {
    enum Register16: UInt8 { case ax, cx, dx, bx, sp, bp, si, di }
    enum Register32: UInt8 { case eax, ecx, edx, ebx, esp, ebp, esi, edi }
    /// Segment registers in their ModRM `reg` encoding.
    enum Segment: UInt8 { case es, cs, ss, ds, fs, gs }

    struct Label { fileprivate let id: Int }

    private enum Width { case rel8, rel16 }
    private struct Fixup { let at: Int; let label: Label; let width: Width }

    private(set) var bytes: [UInt8] = []
    private var labelOffsets: [Int?] = []
    private var fixups: [Fixup] = []

    /// Where the next instruction goes, from the start of the emitted code.
    var offset: Int { bytes.count }

    // MARK: Labels

    mutating func newLabel() -> Label {
        labelOffsets.append(nil)
        return Label(id: labelOffsets.count - 1)
    }

    mutating func bind(_ label: Label) {
        precondition(labelOffsets[label.id] == nil, "label bound twice")
        labelOffsets[label.id] = offset
    }

    /// The code with every jump and call target filled in. A label left
    /// unbound or a short jump out of reach is a mistake in the program
    /// being assembled, not in any input, so it stops here.
    func finish() -> [UInt8] {
        var out = bytes
        for f in fixups {
            guard let target = labelOffsets[f.label.id] else { preconditionFailure("unbound label") }
            switch f.width {
            case .rel8:
                let d = target - (f.at + 1)
                precondition((-128...127).contains(d), "short jump out of reach")
                out[f.at] = UInt8(bitPattern: Int8(d))
            case .rel16:
                let d = UInt16(truncatingIfNeeded: target - (f.at + 2))
                out[f.at] = UInt8(d & 0xFF)
                out[f.at + 1] = UInt8(d >> 8)
            }
        }
        return out
    }

    // MARK: Encoding helpers

    private mutating func emit(_ b: UInt8...) { bytes += b }
    private mutating func imm16(_ v: UInt16) { emit(UInt8(v & 0xFF), UInt8(v >> 8)) }
    private mutating func imm32(_ v: UInt32) { for k in 0..<4 { emit(UInt8(truncatingIfNeeded: v >> (8 * k))) } }
    /// ModRM with mod = 11: both operands are registers.
    private mutating func registerForm(reg: UInt8, rm: UInt8) { emit(0xC0 | reg << 3 | rm) }
    /// ModRM for [BP + disp8]: mod = 01, r/m = 110, then the displacement.
    private mutating func bpForm(reg: UInt8, displacement: Int8) {
        emit(0x40 | reg << 3 | 0b110, UInt8(bitPattern: displacement))
    }
    private static let operandSize: UInt8 = 0x66

    // MARK: Flags and interrupts

    /// CLI — FA.
    mutating func cli() { emit(0xFA) }
    /// CLD — FC.
    mutating func cld() { emit(0xFC) }
    /// INT imm8 — CD ib.
    mutating func int(_ vector: UInt8) { emit(0xCD, vector) }

    // MARK: Moves

    /// MOV r16, imm16 — B8+rw iw.
    mutating func mov(_ r: Register16, _ v: UInt16) { emit(0xB8 + r.rawValue); imm16(v) }
    /// MOV r8, imm8 (AL only here) — B0+rb ib.
    mutating func movAL(_ v: UInt8) { emit(0xB0, v) }
    /// MOV r16, r/m16 — 8B /r.
    mutating func mov(_ dst: Register16, _ src: Register16) { emit(0x8B); registerForm(reg: dst.rawValue, rm: src.rawValue) }
    /// MOV r32, r/m32 — 66 8B /r.
    mutating func mov(_ dst: Register32, _ src: Register32) {
        emit(Self.operandSize, 0x8B); registerForm(reg: dst.rawValue, rm: src.rawValue)
    }
    /// MOV Sreg, r/m16 — 8E /r.
    mutating func mov(_ dst: Segment, _ src: Register16) { emit(0x8E); registerForm(reg: dst.rawValue, rm: src.rawValue) }
    /// MOV r/m16, Sreg — 8C /r.
    mutating func mov(_ dst: Register16, _ src: Segment) { emit(0x8C); registerForm(reg: src.rawValue, rm: dst.rawValue) }
    /// MOV r32, [BP + disp8] — 66 8B /r.
    mutating func mov(_ dst: Register32, bp displacement: Int8) {
        emit(Self.operandSize, 0x8B); bpForm(reg: dst.rawValue, displacement: displacement)
    }
    /// MOV [BP + disp8], r32 — 66 89 /r.
    mutating func mov(bp displacement: Int8, _ src: Register32) {
        emit(Self.operandSize, 0x89); bpForm(reg: src.rawValue, displacement: displacement)
    }
    /// MOV DWORD [BP + disp8], imm32 — 66 C7 /0 id.
    mutating func mov(bp displacement: Int8, _ v: UInt32) {
        emit(Self.operandSize, 0xC7); bpForm(reg: 0, displacement: displacement); imm32(v)
    }
    /// MOVZX r32, r/m16 — 66 0F B7 /r.
    mutating func movzx(_ dst: Register32, _ src: Register16) {
        emit(Self.operandSize, 0x0F, 0xB7); registerForm(reg: dst.rawValue, rm: src.rawValue)
    }
    /// BSWAP r32 — 66 0F C8+rd (486 and later).
    mutating func bswap(_ r: Register32) { emit(Self.operandSize, 0x0F, 0xC8 + r.rawValue) }

    // MARK: Arithmetic

    /// ADD r32, r/m32 — 66 03 /r.
    mutating func add(_ dst: Register32, _ src: Register32) {
        emit(Self.operandSize, 0x03); registerForm(reg: dst.rawValue, rm: src.rawValue)
    }
    /// ADD r/m16, imm16 — 81 /0 iw.
    mutating func add(_ dst: Register16, _ v: UInt16) { emit(0x81); registerForm(reg: 0, rm: dst.rawValue); imm16(v) }
    /// SUB r32, r/m32 — 66 2B /r.
    mutating func sub(_ dst: Register32, _ src: Register32) {
        emit(Self.operandSize, 0x2B); registerForm(reg: dst.rawValue, rm: src.rawValue)
    }
    /// SUB r/m16, imm16 — 81 /5 iw.
    mutating func sub(_ dst: Register16, _ v: UInt16) { emit(0x81); registerForm(reg: 5, rm: dst.rawValue); imm16(v) }
    /// XOR r32, r/m32 — 66 33 /r.
    mutating func xor(_ dst: Register32, _ src: Register32) {
        emit(Self.operandSize, 0x33); registerForm(reg: dst.rawValue, rm: src.rawValue)
    }
    /// INC r16 — 40+rw.
    mutating func inc(_ r: Register16) { emit(0x40 + r.rawValue) }
    /// TEST r/m32, r32 — 66 85 /r.
    mutating func test(_ a: Register32, _ b: Register32) {
        emit(Self.operandSize, 0x85); registerForm(reg: b.rawValue, rm: a.rawValue)
    }
    /// TEST EAX, imm32 — 66 A9 id.
    mutating func testEAX(_ v: UInt32) { emit(Self.operandSize, 0xA9); imm32(v) }
    /// TEST AL, imm8 — A8 ib.
    mutating func testAL(_ v: UInt8) { emit(0xA8, v) }
    /// SHL r/m32, imm8 — 66 C1 /4 ib.
    mutating func shl(_ r: Register32, _ count: UInt8) { emit(Self.operandSize, 0xC1); registerForm(reg: 4, rm: r.rawValue); emit(count) }
    /// SHR r/m32, imm8 — 66 C1 /5 ib.
    mutating func shr(_ r: Register32, _ count: UInt8) { emit(Self.operandSize, 0xC1); registerForm(reg: 5, rm: r.rawValue); emit(count) }
    /// ROR r/m32, imm8 — 66 C1 /1 ib.
    mutating func ror(_ r: Register32, _ count: UInt8) { emit(Self.operandSize, 0xC1); registerForm(reg: 1, rm: r.rawValue); emit(count) }

    // MARK: Ports

    /// OUT DX, AX — EF.
    mutating func outDXAX() { emit(0xEF) }
    /// OUT DX, EAX — 66 EF.
    mutating func outDXEAX() { emit(Self.operandSize, 0xEF) }
    /// IN AL, DX — EC.
    mutating func inALDX() { emit(0xEC) }

    // MARK: Stack and control transfer

    /// PUSH r16 — 50+rw.
    mutating func push(_ r: Register16) { emit(0x50 + r.rawValue) }
    /// PUSH imm16 — 68 iw.
    mutating func push(_ v: UInt16) { emit(0x68); imm16(v) }
    /// CALL rel16 — E8 cw.
    mutating func call(_ target: Label) { emit(0xE8); fixups.append(Fixup(at: offset, label: target, width: .rel16)); imm16(0) }
    /// RET (near) — C3.
    mutating func ret() { emit(0xC3) }
    /// RETF — CB.
    mutating func retf() { emit(0xCB) }
    /// JZ rel8 — 74 cb.
    mutating func jz(_ target: Label) { short(0x74, target) }
    /// JNZ rel8 — 75 cb.
    mutating func jnz(_ target: Label) { short(0x75, target) }
    /// LOOP rel8 — E2 cb (counts down CX: the address size is 16 bits).
    mutating func loop(_ target: Label) { short(0xE2, target) }

    private mutating func short(_ opcode: UInt8, _ target: Label) {
        emit(opcode)
        fixups.append(Fixup(at: offset, label: target, width: .rel8))
        emit(0)
    }
}
