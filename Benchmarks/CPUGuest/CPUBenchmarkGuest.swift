import Foundation

/// The CPU-bound benchmark guest as a disk image, and what it must print.
///
/// `cpu-benchmark.asm` (next to this file) is assembled with nasm for a
/// work size, with the packed sample text appended by `incbin`; the same
/// image then boots through SeaBIOS on every engine (`-hda`). Its COM1
/// lines say where each phase begins and ends and carry the phase's
/// checksum; `CPUBenchmarkReference` computes the checksums on the host.
/// Used by `novabox-boot-bench --path cpu` (timing per phase and engine)
/// and by the machine tests (checksums under each engine at a small size).
public struct CPUBenchmarkGuest {
    /// How much work each phase does; the program's instruction count
    /// grows linearly with each field.
    public struct WorkSize: Equatable, Sendable {
        /// Rounds of the integer loop (about 22 instructions each).
        public var integerRounds: Int
        /// Rounds of the copy phase (about 1.7 M instructions each: a
        /// 256 KiB byte loop and a 64 K dword loop; REP STOSD and REP
        /// MOVSD count once).
        public var copyRounds: Int
        /// Times the packed text is decoded and folded.
        public var decompressionRounds: Int
        /// Size of the sample text, a multiple of 4, at most 8 MiB.
        public var unpackedBytes: Int

        public init(integerRounds: Int, copyRounds: Int, decompressionRounds: Int, unpackedBytes: Int) {
            self.integerRounds = integerRounds
            self.copyRounds = copyRounds
            self.decompressionRounds = decompressionRounds
            self.unpackedBytes = unpackedBytes
        }

        /// `scale` 1 gives each phase roughly a third of a second of QEMU
        /// TCG's CPU time on the development machine (some 90 M, 35 M and
        /// 320 M instructions: QEMU runs them at very different rates).
        public static func scaled(_ scale: Int) -> WorkSize {
            WorkSize(integerRounds: scale * 4_000_000, copyRounds: scale * 20,
                     decompressionRounds: scale * 120, unpackedBytes: 256 << 10)
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        /// nasm is not installed: tests skip, the benchmark says what to install.
        public let toolMissing: Bool
    }

    /// The phases in the order the guest runs them: paging off, then on.
    public static let phases = unpagedPhases + unpagedPhases.map { $0 + "-pg" }
    static let unpagedPhases = ["int", "copy", "lz"]

    public static let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("cpu-benchmark.asm").path

    public let work: WorkSize
    public let imagePath: String
    /// Size of the packed text in the image.
    public let packedBytes: Int
    /// What each phase must print, from the host reference.
    public let expectedChecksums: [String: UInt32]

    /// Assembles the image into `directory` (its name says the work size).
    public init(work: WorkSize, directory: String = NSTemporaryDirectory()) throws(Failure) {
        guard work.unpackedBytes > 0, work.unpackedBytes % 4 == 0, work.unpackedBytes <= 8 << 20,
              work.integerRounds > 0, work.copyRounds > 0, work.decompressionRounds > 0,
              work.integerRounds <= Int(UInt32.max) else {
            throw Failure(description: "work size out of range: \(work)", toolMissing: false)
        }
        guard let nasm = CPUBenchmarkGuest.nasm else {
            throw Failure(description: "nasm is not installed (apt-get install nasm)", toolMissing: true)
        }
        self.work = work
        let text = CPUBenchmarkGuest.sampleText(bytes: work.unpackedBytes)
        let packed = LZSS.pack(text)
        packedBytes = packed.count
        let stem = (directory as NSString).appendingPathComponent(
            "novabox-cpu-benchmark-\(work.integerRounds)-\(work.copyRounds)-\(work.decompressionRounds)-\(work.unpackedBytes)-\(getpid())")
        let packedPath = stem + ".lzss"
        imagePath = stem + ".img"
        guard FileManager.default.createFile(atPath: packedPath, contents: Data(packed)) else {
            throw Failure(description: "cannot write \(packedPath)", toolMissing: false)
        }
        defer { unlink(packedPath) }
        let assembler = Process()
        assembler.executableURL = URL(fileURLWithPath: nasm)
        assembler.arguments = ["-f", "bin", "-DINT_ROUNDS=\(work.integerRounds)", "-DCOPY_ROUNDS=\(work.copyRounds)",
                               "-DLZ_ROUNDS=\(work.decompressionRounds)", "-DUNPACKED_SIZE=\(work.unpackedBytes)",
                               "-DPACKED=\"\(packedPath)\"", "-o", imagePath, CPUBenchmarkGuest.source]
        let errors = Pipe()
        assembler.standardError = errors
        do { try assembler.run() } catch { throw Failure(description: "cannot run \(nasm): \(error)", toolMissing: false) }
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        assembler.waitUntilExit()
        guard assembler.terminationStatus == 0 else {
            throw Failure(description: "nasm failed on \(CPUBenchmarkGuest.source): \(message)", toolMissing: false)
        }
        let integer = CPUBenchmarkReference.integerLoop(rounds: work.integerRounds)
        let copy = CPUBenchmarkReference.copies(rounds: work.copyRounds)
        let lz = CPUBenchmarkReference.decompression(of: text, rounds: work.decompressionRounds)
        // Paging maps every address to itself: the same work, the same sums.
        let unpaged = ["int": integer, "copy": copy, "lz": lz]
        expectedChecksums = Dictionary(uniqueKeysWithValues: CPUBenchmarkGuest.phases.map {
            ($0, unpaged[String($0.prefix { $0 != "-" })]!)
        })
    }

    static var nasm: String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/nasm" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Text-like data: words from a small made-up vocabulary, drawn with a
    /// skew towards the first ones, with numbers here and there, so the
    /// packer finds the mix of literals and short matches real text has.
    static func sampleText(bytes: Int) -> [UInt8] {
        var random = CPUBenchmarkReference.XorShift32(state: 0x0BAD_5EED)
        let letters = Array("etaoinshrdlucmfwypvbgkjqxz".utf8)
        let vocabulary: [[UInt8]] = (0..<512).map { _ in
            (0..<(2 + Int(random.next() % 8))).map { _ in letters[Int(min(random.next() % 26, random.next() % 26))] }
        }
        var text: [UInt8] = []
        text.reserveCapacity(bytes + 16)
        var wordsOnLine = 0
        while text.count < bytes {
            if random.next() % 16 == 0 {
                text += Array(String(random.next() % 100_000).utf8)
            } else {
                text += vocabulary[Int(min(random.next() % 512, random.next() % 512))]
            }
            wordsOnLine += 1
            if wordsOnLine == 12 {
                text.append(10)
                wordsOnLine = 0
            } else {
                text.append(32)
            }
        }
        return Array(text.prefix(bytes))
    }

    // MARK: - What the guest prints

    /// One COM1 line of the guest.
    public enum Line: Equatable {
        case begin(phase: String)
        case end(phase: String, checksum: UInt32)
        case done
    }

    public static func parse(_ text: some StringProtocol) -> Line? {
        let words = text.split(separator: " ")
        switch (words.first, words.count) {
        case ("begin", 2): return .begin(phase: String(words[1]))
        case ("end", 3): return UInt32(words[2], radix: 16).map { .end(phase: String(words[1]), checksum: $0) }
        case ("done", 1): return .done
        default: return nil
        }
    }

    /// What is wrong with the checksums a run printed (empty: all right),
    /// one sentence per phase.
    public func mismatches(_ printed: [String: UInt32]) -> [String] {
        CPUBenchmarkGuest.phases.compactMap { phase in
            let want = expectedChecksums[phase]!
            guard let got = printed[phase] else { return "\(phase): no checksum printed" }
            return got == want ? nil : "\(phase): printed \(hex(got)), the host reference is \(hex(want))"
        }
    }

    private func hex(_ v: UInt32) -> String {
        let digits = String(v, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}
