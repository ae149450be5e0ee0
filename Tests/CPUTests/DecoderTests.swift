/// The decoder and disassembler against the Intel SDM (field-level checks of
/// what the interpreter relies on) and against GNU objdump (every opcode row
/// and a seeded random sample, in 16- and 32-bit code).
import Foundation
import GuestPrograms
import XCTest
@testable import CPU

final class DecoderTests: XCTestCase {
    func decode(_ bytes: [UInt8], _ default32: Bool = true, count: Int? = nil) -> Instruction {
        bytes.withUnsafeBufferPointer {
            Decoder.decode($0.baseAddress!, count: count ?? $0.count, default32: default32)
        }
    }

    func text(_ bytes: [UInt8], _ default32: Bool = true, at address: UInt32 = 0) -> String {
        Disassembler.text(decode(bytes, default32), address: address)
    }

    // MARK: Fields the interpreter relies on (Intel SDM Vol. 2)

    func testImmediatesAreExtendedToTheOperandSize() {
        let add = decode([0x83, 0xC0, 0xFF])               // ADD r/m32, imm8 sign-extended
        XCTAssertEqual(add.op, .add)
        XCTAssertEqual(add.operands.0, Operand(.register, size: 4, register: 0))
        XCTAssertEqual(add.operands.1, Operand(.immediate, size: 4))
        XCTAssertEqual(add.immediate, 0xFFFF_FFFF)
        let add16 = decode([0x66, 0x83, 0xC0, 0x80])
        XCTAssertEqual(add16.operands.1, Operand(.immediate, size: 2))
        XCTAssertEqual(add16.immediate, 0xFF80)
        let push = decode([0x6A, 0x80], false)             // PUSH imm8 sign-extends in 16-bit code too
        XCTAssertEqual(push.immediate, 0xFF80)
        XCTAssertEqual(push.operands.0.size, 2)
        let mov = decode([0xB4, 0x12])                     // MOV AH, imm8
        XCTAssertEqual(mov.operands.0, Operand(.register, size: 1, register: 4))
        XCTAssertEqual(mov.immediate, 0x12)
        let imul = decode([0x6B, 0xC1, 0xFE])              // IMUL eax, ecx, -2: three operands
        XCTAssertEqual(imul.operands.2, Operand(.immediate, size: 4))
        XCTAssertEqual(imul.immediate, 0xFFFF_FFFE)
        XCTAssertEqual(decode([0xF7, 0xE9]).operands.1.kind, .none)   // IMUL ecx: one operand
    }

    func testSixteenBitAddressing() {
        let load = decode([0x8B, 0x42, 0xFE], false)      // MOV ax, [bp+si-2]
        XCTAssertEqual(load.length, 3)
        XCTAssertEqual(load.base, 5)
        XCTAssertEqual(load.index, 6)
        XCTAssertEqual(load.displacement, 0xFFFF_FFFE)
        XCTAssertEqual(load.segment, .ss)
        XCTAssertFalse(load.hasSegmentOverride)
        let overridden = decode([0x3E, 0x8B, 0x42, 0xFE], false)
        XCTAssertEqual(overridden.segment, .ds)
        XCTAssertTrue(overridden.hasSegmentOverride)
        let absolute = decode([0x8B, 0x1E, 0x34, 0x12], false) // MOV bx, [0x1234]: mod 0 rm 6
        XCTAssertEqual(absolute.base, Instruction.noRegister)
        XCTAssertEqual(absolute.displacement & 0xFFFF, 0x1234)
        XCTAssertEqual(absolute.segment, .ds)
        let bx = decode([0x8B, 0x07], false)              // MOV ax, [bx]
        XCTAssertEqual(bx.base, 3)
        XCTAssertEqual(bx.index, Instruction.noRegister)
        XCTAssertEqual(decode([0x8B, 0x46, 0x00], false).segment, .ss)  // [bp+0]
    }

    func testThirtyTwoBitAddressing() {
        let scaled = decode([0x8B, 0x04, 0x8D, 0x78, 0x56, 0x34, 0x12])  // [ecx*4+0x12345678]
        XCTAssertEqual(scaled.length, 7)
        XCTAssertEqual(scaled.base, Instruction.noRegister)
        XCTAssertEqual(scaled.index, 1)
        XCTAssertEqual(scaled.scale, 2)
        XCTAssertEqual(scaled.displacement, 0x1234_5678)
        XCTAssertEqual(scaled.segment, .ds)
        let stack = decode([0x8B, 0x44, 0x24, 0x08])        // [esp+8]
        XCTAssertEqual(stack.base, 4)
        XCTAssertEqual(stack.index, Instruction.noRegister)
        XCTAssertEqual(stack.segment, .ss)
        let frame = decode([0x8B, 0x45, 0xFC])               // [ebp-4]
        XCTAssertEqual(frame.segment, .ss)
        XCTAssertEqual(frame.displacement, 0xFFFF_FFFC)
        let disp32 = decode([0x8B, 0x05, 0x00, 0x10, 0x00, 0x00])  // [0x1000]
        XCTAssertEqual(disp32.base, Instruction.noRegister)
        XCTAssertEqual(disp32.segment, .ds)
        XCTAssertEqual(decode([0x67, 0x8B, 0x07]).base, 3)  // 67: 16-bit [bx] in 32-bit code
        XCTAssertEqual(decode([0x64, 0x8B, 0x45, 0x00]).segment, .fs)
    }

    func testDefaultSegmentFollowsTheBaseRegister() {
        // 16-bit: [bp+si], [bp+di] and [bp+disp] use SS; [disp16] and the rest DS.
        for rm: UInt8 in 0 ... 7 {
            XCTAssertEqual(decode([0x8B, 0x40 | rm, 0x10], false).segment, [2, 3, 6].contains(rm) ? .ss : .ds, "rm \(rm)")
        }
        XCTAssertEqual(decode([0x8B, 0x06, 0x00, 0x10], false).segment, .ds)
        // 32-bit: an ESP or EBP base uses SS (also through SIB); [disp32] and an index alone DS.
        for base: UInt8 in 0 ... 7 where base != 4 {
            XCTAssertEqual(decode([0x8B, 0x40 | base, 0x10]).segment, base == 5 ? .ss : .ds, "base \(base)")
            XCTAssertEqual(decode([0x8B, 0x44, 0x08 | base, 0x10]).segment, [4, 5].contains(base) ? .ss : .ds)
        }
        XCTAssertEqual(decode([0x8B, 0x44, 0x24, 0x10]).segment, .ss)
        XCTAssertEqual(decode([0x8B, 0x04, 0x2D, 0, 0, 0, 0]).segment, .ds)  // [ebp*1+disp32]: EBP is the index
        XCTAssertEqual(decode([0x8B, 0x05, 0, 0, 0, 0]).segment, .ds)
        XCTAssertEqual(decode([0x26, 0x8B, 0x45, 0x00]).segment, .es)       // an override wins
    }

    func testOffsetsAndFarPointers() {
        let moffs = decode([0xA1, 0x34, 0x12], false)
        XCTAssertEqual(moffs.operands.1, Operand(.absolute, size: 2))
        XCTAssertEqual(moffs.displacement, 0x1234)
        XCTAssertEqual(decode([0x67, 0xA0, 0x78, 0x56, 0x34, 0x12], false).length, 6)
        let far16 = decode([0xEA, 0x5B, 0xE0, 0x00, 0xF0], false)  // JMP F000:E05B, the reset jump
        XCTAssertEqual(far16.op, .jmpFar)
        XCTAssertEqual(far16.operands.0, Operand(.farPointer, size: 4))
        XCTAssertEqual(far16.immediate, 0xE05B)
        XCTAssertEqual(far16.immediate2, 0xF000)
        let far32 = decode([0x9A, 0x78, 0x56, 0x34, 0x12, 0x08, 0x00])
        XCTAssertEqual(far32.op, .callFar)
        XCTAssertEqual(far32.operands.0.size, 6)
        XCTAssertEqual(far32.immediate, 0x1234_5678)
        XCTAssertEqual(far32.immediate2, 8)
        XCTAssertEqual(decode([0xFF, 0x18]).operands.0, Operand(.memory, size: 6))   // CALL m16:32
        XCTAssertEqual(decode([0xC4, 0x00], false).operands.1, Operand(.memory, size: 4))  // LES m16:16
    }

    func testBranches() {
        let jne = decode([0x0F, 0x85, 0x10, 0x00, 0x00, 0x00])
        XCTAssertEqual(jne.op, .jcc)
        XCTAssertEqual(jne.condition, 5)
        XCTAssertEqual(jne.operands.0, Operand(.relative, size: 4))
        XCTAssertEqual(jne.immediate, 0x10)
        let back = decode([0x7E, 0xFE])
        XCTAssertEqual(back.condition, 0xE)
        XCTAssertEqual(back.immediate, 0xFFFF_FFFE)
        XCTAssertEqual(decode([0xE8, 0xFD, 0xFF], false).immediate, 0xFFFF_FFFD)
        XCTAssertEqual(decode([0x0F, 0x9C, 0xC0]).condition, 0xC)                  // SETL al
        XCTAssertEqual(decode([0x0F, 0x47, 0xC1]).condition, 7)                    // CMOVA
        XCTAssertEqual(text([0xEB, 0xFE], at: 0x100), "jmp    0x100")
        XCTAssertEqual(text([0xE9, 0xFD, 0xFF], false, at: 0x10), "jmp    0x10")
        XCTAssertEqual(text([0x66, 0xEB, 0x80], at: 0x10), "jmp    0xff93")          // IP wraps at 16 bits
    }

    func testX87Forms() {
        // FCMOVcc carry their integer condition: B=2 E=4 BE=6 U=10, negated +1.
        let expected: [(UInt8, UInt8, UInt8)] = [(0xDA, 0xC1, 2), (0xDA, 0xC9, 4), (0xDA, 0xD1, 6), (0xDA, 0xD9, 10),
                                                 (0xDB, 0xC1, 3), (0xDB, 0xC9, 5), (0xDB, 0xD1, 7), (0xDB, 0xD9, 11)]
        for (escape, modrm, condition) in expected {
            let i = decode([escape, modrm])
            XCTAssertEqual(i.op, .fcmov)
            XCTAssertEqual(i.condition, condition, "\(escape) \(modrm)")
            XCTAssertEqual(i.operands.0, Operand(.fpuStack, size: 10, register: 0))
            XCTAssertEqual(i.operands.1, Operand(.fpuStack, size: 10, register: 1))
        }
        let faddp = decode([0xDE, 0xC2])                       // FADDP st(2), st
        XCTAssertEqual(faddp.op, .faddp)
        XCTAssertEqual(faddp.operands.0.register, 2)
        XCTAssertEqual(faddp.operands.1.register, 0)
        XCTAssertEqual(decode([0xDC, 0xE1]).op, .fsubr)        // DC E0+i is FSUBR st(i), st
        XCTAssertEqual(decode([0xDC, 0xE9]).op, .fsub)
        XCTAssertEqual(decode([0xD8, 0xE1]).op, .fsub)
        let sizes: [([UInt8], Op, UInt8)] = [
            ([0xD9, 0x00], .fld, 4), ([0xDD, 0x00], .fld, 8), ([0xDB, 0x28], .fld, 10),
            ([0xDF, 0x00], .fild, 2), ([0xDB, 0x00], .fild, 4), ([0xDF, 0x28], .fild, 8),
            ([0xDF, 0x20], .fbld, 10), ([0xDF, 0x30], .fbstp, 10), ([0xDE, 0x00], .fiadd, 2),
            ([0xD9, 0x20], .fldenv, 28), ([0x66, 0xD9, 0x20], .fldenv, 14),
            ([0xDD, 0x30], .fnsave, 108), ([0x66, 0xDD, 0x20], .frstor, 94),
            ([0xD9, 0x38], .fnstcw, 2), ([0xDD, 0x38], .fnstsw, 2),
        ]
        for (bytes, op, size) in sizes {
            let i = decode(bytes)
            XCTAssertEqual(i.op, op, "\(bytes)")
            XCTAssertEqual(i.operands.0, Operand(.memory, size: size), "\(bytes)")
        }
        XCTAssertEqual(decode([0xDF, 0xE0]).operands.0, Operand(.register, size: 2, register: 0))  // FNSTSW ax
        XCTAssertEqual(decode([0xD9, 0xEE]).op, .fldz)
        XCTAssertEqual(decode([0xDB, 0x08]).op, .invalid)     // FISTTP is SSE3
        XCTAssertEqual(text([0xDC, 0xC1]), "fadd   st(1),st")
        XCTAssertEqual(text([0xD8, 0xC0]), "fadd   st,st(0)")
        XCTAssertEqual(text([0xDE, 0xC0]), "faddp  st(0),st")
        XCTAssertEqual(text([0xD9, 0xC8]), "fxch   st(0)")
    }

    func testSystemAndSizedMemoryOperands() {
        XCTAssertEqual(decode([0x0F, 0x01, 0x10]).operands.0, Operand(.memory, size: 6))   // LGDT
        XCTAssertEqual(decode([0x62, 0x00]).operands.1, Operand(.memory, size: 8))          // BOUND m32&32
        XCTAssertEqual(decode([0x66, 0x62, 0x00]).operands.1, Operand(.memory, size: 4))
        XCTAssertEqual(decode([0x0F, 0xC7, 0x08]).operands.0, Operand(.memory, size: 8))    // CMPXCHG8B
        let cr = decode([0x0F, 0x20, 0x00])                    // MOV eax, cr0: mod ignored, no disp
        XCTAssertEqual(cr.length, 3)
        XCTAssertFalse(cr.isMemoryForm)
        XCTAssertEqual(cr.operands.0, Operand(.register, size: 4, register: 0))
        XCTAssertEqual(cr.operands.1, Operand(.control, size: 4, register: 0))
        XCTAssertEqual(decode([0x0F, 0x23, 0xF8]).operands.0, Operand(.debug, size: 4, register: 7))
        XCTAssertEqual(decode([0x8E, 0xD8], false).operands.0, Operand(.segment, size: 2, register: 3))
        XCTAssertEqual(decode([0x8C, 0xC0]).operands.0, Operand(.register, size: 4, register: 0))  // MOV eax, es
        XCTAssertEqual(decode([0x8C, 0x00]).operands.0, Operand(.memory, size: 2))
        XCTAssertEqual(decode([0x0F, 0xA8]).operands.0, Operand(.segment, size: 2, register: 5))   // PUSH gs
        XCTAssertEqual(decode([0x0F, 0x00, 0xC0]).op, .sldt)
    }

    func testImplicitOperandForms() {
        let movs = decode([0xF3, 0xA5])
        XCTAssertEqual(movs.op, .movs)
        XCTAssertEqual(movs.repeatPrefix, .repe)
        XCTAssertEqual(movs.operands.0, Operand(.none, size: 4))
        XCTAssertEqual(decode([0x66, 0xAF]).operands.0, Operand(.none, size: 2))
        let enter = decode([0xC8, 0x10, 0x00, 0x01])
        XCTAssertEqual(enter.operands.0, Operand(.immediate, size: 2))
        XCTAssertEqual(enter.operands.1, Operand(.immediate2, size: 1))
        XCTAssertEqual(enter.immediate, 0x10)
        XCTAssertEqual(enter.immediate2, 1)
        let input = decode([0xE5, 0x60], false)               // IN ax, 0x60
        XCTAssertEqual(input.operands.0, Operand(.register, size: 2, register: 0))
        XCTAssertEqual(input.operands.1, Operand(.immediate, size: 1))
        let output = decode([0xEE])                             // OUT dx, al
        XCTAssertEqual(output.operands.0, Operand(.register, size: 2, register: 2))
        XCTAssertEqual(output.operands.1, Operand(.register, size: 1, register: 0))
        XCTAssertEqual(decode([0xD1, 0xE0]).operands.1, Operand(.constant, size: 1, register: 1))
        XCTAssertEqual(decode([0xD3, 0xE0]).operands.1, Operand(.register, size: 1, register: 1))
        XCTAssertEqual(decode([0x06]).operands.0, Operand(.segment, size: 2, register: 0))
        XCTAssertEqual(decode([0x90]).op, .nop)
        XCTAssertEqual(decode([0xF3, 0x90]).op, .pause)
        XCTAssertEqual(decode([0x0F, 0x1F, 0x44, 0x00, 0x00]).op, .nop)   // the 5-byte NOP
        XCTAssertEqual(decode([0x0F, 0x1F, 0x44, 0x00, 0x00]).length, 5)
        let xchg = decode([0x93])
        XCTAssertEqual(xchg.op, .xchg)
        XCTAssertEqual(xchg.operands.0.register, 3)
        XCTAssertEqual(decode([0xD6]).op, .salc)
        XCTAssertEqual(decode([0xF1]).op, .int1)
        XCTAssertEqual(decode([0x0F, 0x0B]).op, .ud2)
    }

    func testInvalidEncodings() {
        let invalid: [[UInt8]] = [
            [0x0F, 0x10, 0xC0],        // SSE MOVUPS
            [0x0F, 0x6F, 0xC0],        // MMX MOVQ
            [0x0F, 0x0F, 0xC0, 0x9E],  // 3DNow!
            [0xC4, 0xC0],              // LES with a register (a VEX prefix on later CPUs)
            [0x8D, 0xC0],              // LEA with a register
            [0x0F, 0x01, 0xD0],        // LGDT-group register form (XGETBV later)
            [0x0F, 0xB2, 0xC0],        // LSS register
            [0xFF, 0xF8],              // FF /7
            [0xFE, 0x10],              // FE /2
            [0xC6, 0x48, 0x00, 0x00],  // C6 /1
            [0x8F, 0x08],              // 8F /1
            [0x8E, 0xC8],              // MOV cs, ax
            [0x8C, 0xF0],              // segment register 6
            [0x0F, 0x20, 0xC8],        // CR1
            [0x0F, 0xAE, 0xF8],        // SFENCE
            [0x0F, 0xAE, 0x10],        // LDMXCSR
            [0x0F, 0xFF, 0x00],        // UD0
            [0xF0, 0x01, 0xC0],        // LOCK with a register destination
            [0xF0, 0x8B, 0x00],        // LOCK MOV
            [0xF0, 0x0F, 0xA3, 0x00],  // LOCK BT (not a write)
            [0xF0, 0x90],
        ]
        for bytes in invalid {
            XCTAssertEqual(decode(bytes).op, .invalid, "\(bytes.map { String(format: "%02x", $0) })")
        }
        XCTAssertEqual(decode([0xF0, 0x01, 0x00]).op, .add)
        XCTAssertTrue(decode([0xF0, 0x01, 0x00]).lock)
        XCTAssertEqual(decode([0xF0, 0x0F, 0xC7, 0x08]).op, .cmpxchg8b)
        XCTAssertEqual(decode([0xF0, 0x0F, 0xBA, 0x28, 0x01]).op, .bts)
        XCTAssertEqual(decode([0xF0, 0xFE, 0x00]).op, .inc)
    }

    func testTruncatedAndOverlongInstructions() {
        XCTAssertEqual(decode([0x8B], count: 1).op, .incomplete)
        XCTAssertEqual(decode([0x8B, 0x05, 0x00, 0x10], count: 4).op, .incomplete)
        XCTAssertEqual(decode([0x0F], count: 1).op, .incomplete)
        XCTAssertEqual(decode([0x66, 0x66], count: 2).op, .incomplete)
        XCTAssertEqual(decode([0x90], count: 0).op, .incomplete)
        let fifteen = [UInt8](repeating: 0x66, count: 14) + [0x90]
        XCTAssertEqual(decode(fifteen).op, .nop)
        XCTAssertEqual(decode(fifteen).length, 15)
        XCTAssertEqual(decode([UInt8](repeating: 0x66, count: 15) + [0x90]).op, .tooLong)
        let overlong = [UInt8](repeating: 0xF3, count: 13) + [0x8B, 0x05, 1, 2, 3, 4]
        XCTAssertEqual(decode(overlong).op, .tooLong)
        // 14 prefixes and the opcode not yet fetched: a one-byte opcode would still fit.
        XCTAssertEqual(decode([UInt8](repeating: 0x66, count: 14), count: 14).op, .incomplete)
    }

    func testDisassemblerSpelling() {
        XCTAssertEqual(text([0x8B, 0x44, 0x24, 0x08]), "mov    eax,DWORD PTR [esp+0x8]")
        XCTAssertEqual(text([0x26, 0x88, 0x47, 0xFF], false), "mov    BYTE PTR es:[bx-0x1],al")
        XCTAssertEqual(text([0xA1, 0x34, 0x12], false), "mov    ax,ds:0x1234")
        XCTAssertEqual(text([0xF3, 0xA4]), "rep movs BYTE PTR es:[edi],BYTE PTR ds:[esi]")
        XCTAssertEqual(text([0x60]), "pushad")
        XCTAssertEqual(text([0x60], false), "pusha")
        XCTAssertEqual(text([0xEA, 0x5B, 0xE0, 0x00, 0xF0], false), "jmp    0xf000:0xe05b")
        XCTAssertEqual(text([0xF0, 0x0F, 0xB1, 0x0B]), "lock cmpxchg DWORD PTR [ebx],ecx")
        XCTAssertEqual(text([0x0F, 0x01, 0x15, 0x00, 0x10, 0x00, 0x00]), "lgdt   ds:0x1000")
        XCTAssertEqual(text([0xFF]), "(bad)")
        XCTAssertEqual(Disassembler.disassemble([0x66, 0x83, 0xC0, 0xFF], address: 0, default32: true).0,
                       "add    ax,0xffff")
        XCTAssertEqual(Disassembler.disassemble([0x66, 0x83, 0xC0, 0xFF], address: 0, default32: true).1, 4)
    }

    // MARK: Against objdump

    /// ModRM bytes tried for every opcode without prefixes: every register
    /// form (groups and x87 pick by reg and rm), every memory mod/rm
    /// combination, and a memory form for every reg.
    static let allModRMs: [UInt8] = {
        var values = (0xC0...0xFF).map { UInt8($0) }
        for mod in 0 ..< 3 {
            for rm in 0 ..< 8 { values.append(UInt8(mod << 6 | ((rm + 3 * mod) % 8) << 3 | rm)) }
        }
        for reg in 0 ..< 8 { values += [UInt8(reg << 3), UInt8(0x80 | reg << 3 | 4)] }
        return values
    }()
    /// ModRM bytes tried under each prefix.
    static let someModRMs: [UInt8] = [0x00, 0x06, 0x44, 0x8D, 0x3C, 0xC1, 0xD8, 0xF7]
    static let prefixVariants: [[UInt8]] = [[], [0x66], [0x67], [0x66, 0x67], [0x26], [0x2E], [0x36],
                                            [0x3E], [0x64], [0x65], [0xF2], [0xF3], [0xF0]]

    /// Every one-byte and 0F opcode, with ModRM variants and prefix variants;
    /// the bytes after the ModRM are seeded random (SIB, displacement, immediates).
    static func sweepCases(default32: Bool) -> [[UInt8]] {
        var random = SplitMix64(seed: default32 ? 0x32 : 0x16)
        let prefixBytes: Set<UInt8> = [0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x66, 0x67, 0xF0, 0xF2, 0xF3]
        var cases: [[UInt8]] = []
        for prefixes in prefixVariants {
            for opcode in 0 ..< 512 {
                if opcode < 256 && (opcode == 0x0F || prefixBytes.contains(UInt8(opcode))) { continue }
                let opcodeBytes: [UInt8] = opcode < 256 ? [UInt8(opcode)] : [0x0F, UInt8(opcode - 256)]
                let usesModRM = OpcodeTable.entries[opcode].attributes.contains(.modrm)
                let modrms = !usesModRM ? [random.nextByte(), random.nextByte()]
                    : prefixes.isEmpty ? allModRMs : someModRMs
                for modrm in modrms {
                    var bytes = prefixes + opcodeBytes + [modrm]
                    while bytes.count < 15 { bytes.append(random.nextByte()) }
                    cases.append(bytes)
                }
            }
        }
        return cases
    }

    /// Seeded random byte strings, biased towards the interesting parts of
    /// the map: prefixes, the 0F page and the x87 escapes.
    static func randomCases(default32: Bool, count: Int) -> [[UInt8]] {
        var random = SplitMix64(seed: default32 ? 0xDEC0DE32 : 0xDEC0DE16)
        let prefixes: [UInt8] = [0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x66, 0x67, 0xF0, 0xF2, 0xF3]
        return (0 ..< count).map { _ in
            var bytes: [UInt8] = []
            switch random.next() % 8 {
            case 0: for _ in 0 ... random.next() % 3 { bytes.append(prefixes[Int(random.next() % 11)]) }
            case 1, 2: bytes.append(0x0F)
            case 3: bytes.append(0xD8 + random.nextByte() % 8)
            default: break
            }
            while bytes.count < 15 { bytes.append(random.nextByte()) }
            return bytes
        }
    }

    func compareWithObjdump(_ cases: [[UInt8]], default32: Bool, label: String) throws -> ObjdumpComparison {
        guard ObjdumpReference.isAvailable else {
            throw XCTSkip("objdump (GNU binutils) is not installed; the decoder cannot be checked against it")
        }
        let reference = try ObjdumpReference.disassemble(cases, default32: default32)
        var comparison = ObjdumpComparison()
        comparison.compare(cases, default32: default32, objdump: reference)
        print("objdump \(label), \(default32 ? 32 : 16)-bit: \(comparison.summary)")
        for failure in comparison.failures.prefix(40) { print("  " + failure) }
        return comparison
    }

    func testEveryOpcodeAgreesWithObjdump() throws {
        for default32 in [false, true] {
            let comparison = try compareWithObjdump(Self.sweepCases(default32: default32),
                                                    default32: default32, label: "opcode sweep")
            XCTAssertEqual(comparison.failures.count, 0, "unexplained disagreements with objdump (listed above)")
            XCTAssertGreaterThan(comparison.bothValid, 30_000)
        }
    }

    func testRandomBytesAgreeWithObjdump() throws {
        for default32 in [false, true] {
            let comparison = try compareWithObjdump(Self.randomCases(default32: default32, count: 20_000),
                                                    default32: default32, label: "random sample")
            XCTAssertEqual(comparison.failures.count, 0, "unexplained disagreements with objdump (listed above)")
            XCTAssertGreaterThan(comparison.bothValid, 10_000)
        }
    }

    // MARK: Speed (reported, not asserted)

    /// Decodes the SeaBIOS image (real 16/32-bit code and data) instruction by
    /// instruction as 32-bit code, a few million times.
    func testDecodeSpeed() throws {
        let image: [UInt8]
        if let bios = FileManager.default.contents(atPath: "/usr/share/seabios/bios-256k.bin") {
            image = [UInt8](bios.suffix(128 * 1024))
        } else {
            image = Self.randomCases(default32: true, count: 8192).flatMap { $0 }
        }
        let total = 300_000
        var decoded = 0
        var checksum = 0
        let start = DispatchTime.now().uptimeNanoseconds
        image.withUnsafeBufferPointer { buffer in
            let base = buffer.baseAddress!
            var offset = 0
            while decoded < total {
                let i = Decoder.decode(base + offset, count: buffer.count - offset, default32: true)
                checksum &+= Int(i.op.rawValue)
                offset += max(1, Int(i.length))
                if offset >= buffer.count - 16 { offset = 0 }
                decoded += 1
            }
        }
        let elapsed = DispatchTime.now().uptimeNanoseconds - start
        print("decoder: \(String(format: "%.1f", Double(elapsed) / Double(total))) ns/instruction "
              + "over \(total) instructions (this build's optimization level; checksum \(checksum))")
    }
}
