/// Runs GNU objdump once over a batch of instruction byte strings and reads
/// back, for each one, the length and Intel-syntax text of the first
/// instruction objdump decodes from it.
///
/// Layout: every case sits at the start of its own 32-byte slot, padded with
/// 0x90. A case is at most 15 bytes and objdump never decodes more than 15,
/// so whatever objdump does inside a case ends before byte 30; from there the
/// one-byte NOPs bring it exactly to the next slot. The NOP lines between
/// slots are dropped with grep before Swift reads the output.
import Foundation

struct ObjdumpLine {
    var length: Int
    var text: String
    var isBad: Bool { text.hasPrefix("(bad)") || text.contains("(bad)") }
}

enum ObjdumpReference {
    static let slotSize = 32
    static let executable = "/usr/bin/objdump"

    static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: executable) }

    /// objdump's reading of each case (nil where it printed nothing at the slot start).
    static func disassemble(_ cases: [[UInt8]], default32: Bool) throws -> [ObjdumpLine?] {
        var image = [UInt8](repeating: 0x90, count: cases.count * slotSize)
        for (n, bytes) in cases.enumerated() {
            precondition(bytes.count <= 15)
            image.replaceSubrange(n * slotSize ..< n * slotSize + bytes.count, with: bytes)
        }
        let file = FileManager.default.temporaryDirectory
            .appendingPathComponent("novabox-decoder-\(ProcessInfo.processInfo.processIdentifier)-\(default32 ? 32 : 16).bin")
        try Data(image).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }

        // Drop NOP lines that are not at a slot start (address not a multiple of 0x20).
        let machine = default32 ? "i386" : "i8086"
        let command = "\(executable) -D -z -b binary -m \(machine) -M intel --insn-width=16 '\(file.path)'"
            + " | LC_ALL=C grep -v -E '^ *([0-9a-f]*[1-9a-f]|[0-9a-f]*[13579bdf]0):\t90 +\tnop$'"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return parse([UInt8](output), slots: cases.count)
    }

    /// Lines look like `   1a0:\t66 01 c0      \tadd    eax,eax`.
    static func parse(_ output: [UInt8], slots: Int) -> [ObjdumpLine?] {
        var result = [ObjdumpLine?](repeating: nil, count: slots)
        var lineStart = 0
        while lineStart < output.count {
            var lineEnd = lineStart
            while lineEnd < output.count && output[lineEnd] != 0x0A { lineEnd += 1 }
            defer { lineStart = lineEnd + 1 }
            var cursor = lineStart
            while cursor < lineEnd && output[cursor] == 0x20 { cursor += 1 }
            var address = 0
            var digits = 0
            while cursor < lineEnd, let digit = hexValue(output[cursor]) {
                address = address * 16 + digit
                digits += 1
                cursor += 1
            }
            guard digits > 0, cursor + 1 < lineEnd, output[cursor] == 0x3A, output[cursor + 1] == 0x09,
                  address % slotSize == 0, address / slotSize < slots else { continue }
            cursor += 2
            var length = 0
            while cursor < lineEnd && output[cursor] != 0x09 {
                if hexValue(output[cursor]) != nil { length += 1 }
                cursor += 1
            }
            let text = cursor < lineEnd ? String(decoding: output[(cursor + 1) ..< lineEnd], as: UTF8.self) : ""
            result[address / slotSize] = ObjdumpLine(length: length / 2, text: text)
        }
        return result
    }

    static func hexValue(_ c: UInt8) -> Int? {
        switch c {
        case 0x30...0x39: return Int(c - 0x30)
        case 0x61...0x66: return Int(c - 0x61 + 10)
        default: return nil
        }
    }
}
