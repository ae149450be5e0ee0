import GuestPrograms

/// The data of the host-CPU differential test: one test case (code, initial
/// registers, memory and x87 state, and which parts of the result the SDM
/// leaves undefined) and one outcome (final state or fault), in the same
/// form for the host CPU and for the interpreter.
///
/// Both sides lay memory out the same way (`DifferentialLayout`): a code page
/// and a data region below 64 KiB, so 16-bit addressing reaches them, in a
/// flat 32-bit CPL-3 environment. The data region is filled from a seed
/// (`DifferentialLayout.fill`, the same xorshift32 the C harness uses) and
/// then patched, so a case is small on the wire.

enum DifferentialLayout {
    static let codeBase: UInt32 = 0x6000
    static let codePageSize = 0x1000
    static let dataBase: UInt32 = 0x2000
    static let dataSize = 0x2000
    /// Bytes of the FXSAVE image exchanged: header and ST0–ST7.
    static let fpuImageSize = 160

    /// The data region's initial content before patches: xorshift32
    /// (Marsaglia 2003), one little-endian word per 4 bytes.
    static func fill(seed: UInt32, into p: UnsafeMutableRawPointer) {
        var x = seed == 0 ? 0x9E37_79B9 : seed
        let words = p.assumingMemoryBound(to: UInt32.self)
        var i = 0
        while i < dataSize / 4 {
            x ^= x << 13; x ^= x >> 17; x ^= x << 5
            words[i] = x.littleEndian
            i += 1
        }
    }

    static func initialData(seed: UInt32, patches: [MemoryPatch]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: dataSize)
        bytes.withUnsafeMutableBytes { fill(seed: seed, into: $0.baseAddress!) }
        for p in patches { bytes.replaceSubrange(p.offset..<p.offset + p.bytes.count, with: p.bytes) }
        return bytes
    }
}

/// Bytes written over the seeded data region, at an offset into it.
struct MemoryPatch {
    var offset: Int
    var bytes: [UInt8]
}

/// The parts of an outcome the SDM leaves undefined for this case.
struct UndefinedParts {
    /// EFLAGS bits.
    var flags: UInt32 = 0
    /// Per general register (encoding order), the bits that are undefined.
    var registers: [UInt32] = Array(repeating: 0, count: 8)
    /// Offsets in the data region whose final content is undefined.
    var memory: [Range<Int>] = []
    /// x87 status-word bits left undefined (condition codes; PE for the
    /// transcendentals).
    var fpuStatus: UInt16 = 0
    /// Transcendental results: the SDM promises an error below 1 ulp, not
    /// the exact rounding, so ST registers may differ by this many ulps.
    var fpuULPs: UInt64 = 0
    /// ST(i) registers (bit i, after the case) whose value is undefined.
    var fpuRegisters: UInt8 = 0
    /// The x87 last-instruction/operand pointers and opcode in the FXSAVE
    /// image (see `FXSaveImage.pointerBytes`).
    var fpuPointers = true
    /// The faulting EIP (the kernel rewrites it for some traps).
    var faultEIP = false
}

struct DifferentialCase {
    /// The row of the per-instruction table this case counts in.
    var form: String
    var code: [UInt8]
    /// EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI.
    var registers: [UInt32]
    /// Only user-settable bits; IF and bit 1 are added on both sides.
    var eflags: UInt32
    var dataSeed: UInt32
    var patches: [MemoryPatch] = []
    /// FXSAVE image, first `fpuImageSize` bytes (ST order, abridged tags).
    var fpu: [UInt8] = FXSaveImage.initialized
    var undefined = UndefinedParts()
}

struct DifferentialFault: Equatable {
    var vector: UInt8
    var errorCode: UInt32
    var eip: UInt32
}

struct DifferentialOutcome {
    var fault: DifferentialFault?
    var registers: [UInt32]
    var eflags: UInt32
    /// ES, CS, SS, DS, FS, GS.
    var selectors: [UInt16]
    var fpu: [UInt8]
    /// Bytes of the data region that differ from the initial content:
    /// `offset << 8 | new value`, ascending.
    var memoryChanges: [UInt32]
}

/// The decoder tests' SplitMix64 (ObjdumpComparison.swift) as a standard
/// generator, for `Int.random(in:using:)` and `shuffle(using:)`.
extension SplitMix64: RandomNumberGenerator {}
