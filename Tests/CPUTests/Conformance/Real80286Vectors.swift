import Foundation

/// The 80286 real-mode single-instruction tests recorded on real hardware
/// (SingleStepTests/80286, see `shared/conformance/80286-real/README.md`):
/// loading the gzip'd JSON files (through `gzip -dc`, since Foundation
/// cannot inflate) and the upstream `metadata.json` with the flags each
/// opcode leaves undefined.
struct Real80286Vector {
    struct State {
        var regs: [String: Int] = [:]
        /// (physical address, byte) pairs.
        var ram: [(address: Int, value: Int)] = []
    }
    /// The exception taken, by vector. (Upstream's `flag_address` is not
    /// used: it is one byte low when SP is odd; the test derives the pushed
    /// FLAGS address from the final SP.)
    struct Exception {
        var number = 0
    }
    var idx = 0
    var name = ""
    /// The instruction with its prefixes, then the HLT that ends the test.
    var bytes: [UInt8] = []
    var initial = State()
    var final = State()
    var exception: Exception?

    static let prefixes: Set<UInt8> = [0x26, 0x2E, 0x36, 0x3E, 0xF0, 0xF1, 0xF2, 0xF3, 0x64, 0x65, 0x66, 0x67]

    /// The prefix bytes before the opcode.
    var prefixBytes: ArraySlice<UInt8> { bytes.prefix { Real80286Vector.prefixes.contains($0) } }
    /// The instruction's bytes without the trailing HLT.
    var instruction: ArraySlice<UInt8> { bytes.dropLast() }
}

/// A reader for exactly the JSON these files hold (an array of test
/// objects; numbers are non-negative integers; keys it does not know are
/// skipped). JSONDecoder takes most of a minute over the 29 MB in a debug
/// build; this takes a fraction of a second.
struct Real80286JSONReader {
    enum Failure: Error, CustomStringConvertible {
        case malformed(Int, String)
        var description: String {
            switch self { case .malformed(let at, let what): return "malformed 80286 test JSON at byte \(at): \(what)" }
        }
    }

    private let p: UnsafePointer<UInt8>
    private let end: Int
    private var at = 0

    init(_ buffer: UnsafeRawBufferPointer) {
        p = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
        end = buffer.count
    }

    /// Parses `count` top-level arrays, one after the other (the output of
    /// one `gzip -dc` over several files).
    static func parse(_ data: Data, count: Int) throws -> [[Real80286Vector]] {
        try data.withUnsafeBytes { raw throws -> [[Real80286Vector]] in
            guard raw.count > 0 else { return [] }
            var reader = Real80286JSONReader(raw)
            var files: [[Real80286Vector]] = []
            for _ in 0..<count {
                var vectors: [Real80286Vector] = []
                try reader.array { r throws in vectors.append(try r.vector()) }
                files.append(vectors)
            }
            return files
        }
    }

    private mutating func space() {
        while at < end, p[at] == 0x20 || p[at] == 0x0A || p[at] == 0x0D || p[at] == 0x09 { at += 1 }
    }

    private mutating func expect(_ c: UInt8) throws {
        space()
        guard at < end, p[at] == c else { throw Failure.malformed(at, "expected \(Character(Unicode.Scalar(c)))") }
        at += 1
    }

    /// Whether the next character is `c` (consumed if so).
    private mutating func take(_ c: UInt8) -> Bool {
        space()
        if at < end && p[at] == c { at += 1; return true }
        return false
    }

    private mutating func string() throws -> String {
        try expect(0x22)
        let start = at
        while at < end && p[at] != 0x22 {
            if p[at] == 0x5C { at += 1 }
            at += 1
        }
        guard at < end else { throw Failure.malformed(start, "unterminated string") }
        let s = String(decoding: UnsafeBufferPointer(start: p + start, count: at - start), as: UTF8.self)
        at += 1
        return s
    }

    private mutating func integer() throws -> Int {
        space()
        var v = 0
        let start = at
        while at < end && p[at] >= 0x30 && p[at] <= 0x39 { v = v * 10 + Int(p[at] - 0x30); at += 1 }
        guard at > start else { throw Failure.malformed(at, "expected a number") }
        return v
    }

    private mutating func array(_ element: (inout Real80286JSONReader) throws -> Void) throws {
        try expect(0x5B)
        if take(0x5D) { return }
        repeat { try element(&self) } while take(0x2C)
        try expect(0x5D)
    }

    private mutating func object(_ member: (inout Real80286JSONReader, String) throws -> Void) throws {
        try expect(0x7B)
        if take(0x7D) { return }
        repeat {
            let key = try string()
            try expect(0x3A)
            try member(&self, key)
        } while take(0x2C)
        try expect(0x7D)
    }

    /// Skips any value (for keys this test does not use).
    private mutating func skip() throws {
        space()
        guard at < end else { throw Failure.malformed(at, "unexpected end") }
        switch p[at] {
        case 0x22: _ = try string()
        case 0x5B: try array { try $0.skip() }
        case 0x7B: try object { r, _ in try r.skip() }
        default: while at < end && p[at] != 0x2C && p[at] != 0x5D && p[at] != 0x7D { at += 1 }
        }
    }

    private mutating func state() throws -> Real80286Vector.State {
        var s = Real80286Vector.State()
        try object { r, key throws in
            switch key {
            case "regs": try r.object { r, name throws in s.regs[name] = try r.integer() }
            case "ram":
                try r.array { r throws in
                    try r.expect(0x5B)
                    let address = try r.integer()
                    try r.expect(0x2C)
                    let value = try r.integer()
                    try r.expect(0x5D)
                    s.ram.append((address, value))
                }
            default: try r.skip()
            }
        }
        return s
    }

    private mutating func vector() throws -> Real80286Vector {
        var v = Real80286Vector()
        try object { r, key throws in
            switch key {
            case "idx": v.idx = try r.integer()
            case "name": v.name = try r.string()
            case "bytes": try r.array { r throws in v.bytes.append(UInt8(truncatingIfNeeded: try r.integer())) }
            case "initial": v.initial = try r.state()
            case "final": v.final = try r.state()
            case "exception":
                var e = Real80286Vector.Exception()
                try r.object { r, key throws in
                    switch key {
                    case "number": e.number = try r.integer()
                    default: try r.skip()
                    }
                }
                v.exception = e
            default: try r.skip()
            }
        }
        return v
    }
}

enum Real80286Suite {
    /// `shared/conformance/80286-real`, beside the package directory.
    static var directory: URL {
        HostCPUHarness.packageRoot.deletingLastPathComponent().appendingPathComponent("shared/conformance/80286-real")
    }

    static func files() -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".json.gz") }.sorted().map { directory.appendingPathComponent($0) }
    }

    enum Failure: Error, CustomStringConvertible {
        case gunzip(String)
        var description: String {
            switch self { case .gunzip(let s): return "gzip -dc failed: \(s)" }
        }
    }

    /// The vectors of each file, in order. One `gzip -dc` for all of them:
    /// a process per file costs more than the parsing.
    static func load(_ files: [URL]) throws -> [[Real80286Vector]] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["gzip", "-dc"] + files.map(\.path)
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw Failure.gunzip(directory.path) }
        return try Real80286JSONReader.parse(data, count: files.count)
    }

    /// FLAGS bits to compare per opcode (and ModRM reg for group files),
    /// from `metadata.json`'s `flags-mask`; all bits where none is given.
    struct FlagMasks {
        private var masks: [String: UInt16] = [:]

        init(metadata: URL) throws {
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: metadata)) as? [String: Any]
            let opcodes = json?["opcodes"] as? [String: Any] ?? [:]
            for (opcode, value) in opcodes {
                guard let entry = value as? [String: Any] else { continue }
                if let mask = entry["flags-mask"] as? Int { masks[opcode] = UInt16(mask) }
                if let groups = entry["reg"] as? [String: Any] {
                    for (reg, g) in groups {
                        if let mask = (g as? [String: Any])?["flags-mask"] as? Int { masks["\(opcode).\(reg)"] = UInt16(mask) }
                    }
                }
            }
        }

        /// The mask for a test file's name ("F6.4" or "01").
        func mask(forFile name: String) -> UInt16 { masks[name] ?? 0xFFFF }
    }
}
