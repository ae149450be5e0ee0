/// Compares our decoder and disassembler with objdump's reading of the same
/// cases and tallies the outcome: agreement, a listed expected disagreement
/// (`ObjdumpDialect`), or a failure with the bytes and both readings.
import Foundation
@testable import CPU

struct ObjdumpComparison {
    var compared = 0
    /// Both decode; lengths agree.
    var bothValid = 0
    /// … and the normalized texts agree.
    var textAgreed = 0
    var bothInvalid = 0
    /// Too long for 15 bytes: objdump has no matching notion, not compared.
    var tooLong = 0
    /// Listed disagreements: how many, and the first case seen, for the log.
    var expected: [String: (count: Int, example: String)] = [:]
    var failures: [String] = []

    mutating func compare(_ cases: [[UInt8]], default32: Bool, objdump: [ObjdumpLine?]) {
        for (n, bytes) in cases.enumerated() {
            compared += 1
            let c = CaseBytes(bytes, default32: default32)
            let ours = bytes.withUnsafeBufferPointer {
                Decoder.decode($0.baseAddress!, count: $0.count, default32: default32)
            }
            let hex = bytes.map { String(format: "%02x", $0) }.joined(separator: " ")
            guard let theirs = objdump[n] else {
                failures.append("[\(hex)] objdump printed no instruction at the slot start")
                continue
            }
            if ours.op == .tooLong || ours.op == .incomplete {
                tooLong += 1
                continue
            }
            let address = UInt32(n * ObjdumpReference.slotSize)
            let ourText = Disassembler.text(ours, address: address)
            let theirMnemonic = ObjdumpDialect.split(theirs.text).mnemonic
            switch (ours.op != .invalid, !theirs.isBad) {
            case (false, false):
                bothInvalid += 1
            case (false, true):
                if let why = ObjdumpDialect.whyInvalidOnP6(c) {
                    note(why, "[\(hex)] ours: \(ourText), objdump: \(theirs.text)")
                } else {
                    failures.append("[\(hex)] we say #UD, objdump: \(theirs.text) (\(theirs.length) bytes)")
                }
            case (true, false):
                if let why = ObjdumpDialect.whyValidOnP6(c, ours: ours) {
                    note(why, "[\(hex)] ours: \(ourText), objdump: \(theirs.text)")
                } else {
                    failures.append("[\(hex)] objdump says (bad), we: \(ourText) (\(ours.length) bytes)")
                }
            case (true, true):
                if Int(ours.length) != theirs.length {
                    if let why = ObjdumpDialect.whyLengthDiffers(c, ours: ours, objdumpMnemonic: theirMnemonic) {
                        note(why, "[\(hex)] ours: \(ourText), objdump: \(theirs.text)")
                    } else {
                        failures.append("[\(hex)] length \(ours.length) (\(ourText)), objdump \(theirs.length) (\(theirs.text))")
                    }
                    continue
                }
                bothValid += 1
                let mine = ObjdumpDialect.canonical(ours: ourText)
                let reference = ObjdumpDialect.canonical(objdump: theirs.text, c, ours: ours)
                if mine == reference {
                    textAgreed += 1
                } else if let why = ObjdumpDialect.whyTextDiffers(c, objdumpMnemonic: theirMnemonic) {
                    note(why, "[\(hex)] ours: \(ourText), objdump: \(theirs.text)")
                } else {
                    failures.append("[\(hex)] text: ours \"\(mine)\", objdump \"\(reference)\" (raw \"\(theirs.text)\")")
                }
            }
        }
    }

    mutating func note(_ why: String, _ example: String) {
        let seen = expected[why]
        expected[why] = ((seen?.count ?? 0) + 1, seen?.example ?? example)
    }

    var summary: String {
        let rate = bothValid == 0 ? 0 : Double(textAgreed) * 100 / Double(bothValid)
        var lines = ["\(compared) cases: \(bothValid) decoded by both with equal length, "
                     + "\(textAgreed) with equal text (\(String(format: "%.2f", rate))%), "
                     + "\(bothInvalid) invalid for both, \(tooLong) too long, \(failures.count) unexplained"]
        for (why, seen) in expected.sorted(by: { $0.key < $1.key }) {
            lines.append("  expected: \(why): \(seen.count), e.g. \(seen.example)")
        }
        return lines.joined(separator: "\n")
    }
}

/// SplitMix64: a small seeded generator so every run tests the same bytes.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func nextByte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func bool() -> Bool { next() & 1 != 0 }
}
