import Foundation

/// The host processor as a reference: builds `Tests/hostcpu/harness.c` with
/// the system's gcc as a static 32-bit program and runs batches of
/// `DifferentialCase`s through it (see the C file for what it does per
/// case). The wire format is the C structs `case_in`/`case_out`,
/// little-endian and packed by hand here.
///
/// Batches go through files, not pipes, so neither side can block on the
/// other's buffer.
final class HostCPUHarness {
    enum Failure: Error, CustomStringConvertible {
        case cannotBuild(String)
        case failed(String)
        var description: String {
            switch self {
            case .cannotBuild(let s): return "cannot build the host-CPU harness: \(s)"
            case .failed(let s): return "host-CPU harness failed: \(s)"
            }
        }
    }

    static let caseMagic: UInt32 = 0x4553_4143
    static let doneMagic: UInt32 = 0x454E_4F44
    static let headerMagic: UInt32 = 0x4843_5055
    static let version: UInt32 = 1
    static let caseHeaderSize = 4 + 32 + 4 + 4 + 4 + FXSaveImage.size
    static let outcomeSize = 4 * 5 + 32 + 4 + 12 + FXSaveImage.size + 4

    let directory: URL
    let executable: URL
    /// ES, CS, SS, DS, FS, GS of the harness process as it starts.
    private(set) var startSelectors: [UInt16] = []

    /// The package root, from this file's place in it.
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
    }

    /// Compiles the harness into a fresh temporary directory.
    init() throws {
        let source = HostCPUHarness.packageRoot.appendingPathComponent("Tests/hostcpu/harness.c")
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("novabox-hostcpu-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        executable = directory.appendingPathComponent("harness")
        // -fno-stack-protector: the canary lives at %gs:0x14 and this
        // program has no TLS. -fcf-protection=none keeps ENDBR out.
        let arguments = ["-m32", "-nostdlib", "-static", "-ffreestanding", "-fno-pic", "-O1",
                         "-fno-stack-protector", "-fcf-protection=none", "-fno-asynchronous-unwind-tables",
                         source.path, "-o", executable.path]
        let (status, output) = HostCPUHarness.runTool("/usr/bin/env", ["gcc"] + arguments)
        guard status == 0 else { throw Failure.cannotBuild("gcc exited with \(status): \(output)") }
        // A smoke run: the header alone proves the maps and handlers work.
        let header = try run(input: Data())
        guard header.count >= 32 else { throw Failure.cannotBuild("harness produced no header") }
        try parseHeader(header)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    private static func runTool(_ path: String, _ arguments: [String]) -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        do { try p.run() } catch { return (-1, "\(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    private func run(input: Data) throws -> Data {
        let inURL = directory.appendingPathComponent("in.bin")
        let outURL = directory.appendingPathComponent("out.bin")
        let errURL = directory.appendingPathComponent("err.txt")
        try input.write(to: inURL)
        try Data().write(to: outURL)
        try Data().write(to: errURL)
        let p = Process()
        p.executableURL = executable
        p.standardInput = try FileHandle(forReadingFrom: inURL)
        p.standardOutput = try FileHandle(forWritingTo: outURL)
        p.standardError = try FileHandle(forWritingTo: errURL)
        try p.run()
        p.waitUntilExit()
        guard p.terminationReason == .exit, p.terminationStatus == 0 else {
            let err = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
            throw Failure.failed("status \(p.terminationStatus) (\(p.terminationReason == .uncaughtSignal ? "signal" : "exit")): \(err)")
        }
        return try Data(contentsOf: outURL)
    }

    private func parseHeader(_ d: Data) throws {
        let w = { (i: Int) -> UInt32 in d.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i, as: UInt32.self) } }
        guard w(0) == HostCPUHarness.headerMagic, w(4) == HostCPUHarness.version,
              w(8) == DifferentialLayout.codeBase, w(12) == DifferentialLayout.dataBase,
              w(16) == UInt32(DifferentialLayout.dataSize) else {
            throw Failure.cannotBuild("harness header does not match this test's layout")
        }
        startSelectors = (0..<6).map { k in d.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 20 + 2 * k, as: UInt16.self) } }
    }

    /// Runs a batch in one harness process.
    func run(_ cases: [DifferentialCase]) throws -> [DifferentialOutcome] {
        var input = [UInt8]()
        input.reserveCapacity(cases.count * (HostCPUHarness.caseHeaderSize + 32))
        func put32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { input.append(contentsOf: $0) } }
        func put16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { input.append(contentsOf: $0) } }
        for c in cases {
            var patchBytes = 0
            for p in c.patches { patchBytes += 4 + p.bytes.count }
            put32(HostCPUHarness.caseMagic)
            for r in c.registers { put32(r) }
            put32(c.eflags | 0x202)
            put32(c.dataSeed)
            put16(UInt16(c.code.count))
            put16(UInt16(patchBytes))
            input.append(contentsOf: c.fpu)
            input.append(contentsOf: c.code)
            for p in c.patches {
                put16(UInt16(p.offset)); put16(UInt16(p.bytes.count))
                input.append(contentsOf: p.bytes)
            }
        }
        let output = try run(input: Data(input))
        return try output.withUnsafeBytes { raw throws -> [DifferentialOutcome] in
            var at = 32
            var outcomes: [DifferentialOutcome] = []
            outcomes.reserveCapacity(cases.count)
            func u32() -> UInt32 { defer { at += 4 }; return raw.loadUnaligned(fromByteOffset: at, as: UInt32.self) }
            func u16() -> UInt16 { defer { at += 2 }; return raw.loadUnaligned(fromByteOffset: at, as: UInt16.self) }
            for _ in cases {
                guard at + HostCPUHarness.outcomeSize <= raw.count, u32() == HostCPUHarness.doneMagic else {
                    throw Failure.failed("short or corrupt output after \(outcomes.count) cases")
                }
                let signal = u32(), trap = u32(), err = u32(), eip = u32()
                let registers = (0..<8).map { _ in u32() }
                let eflags = u32()
                let selectors = (0..<6).map { _ in u16() }
                let fpu = Array(raw[at..<at + FXSaveImage.size])
                at += FXSaveImage.size
                let count = Int(u32())
                guard at + 4 * count <= raw.count else { throw Failure.failed("truncated memory changes") }
                let changes = (0..<count).map { _ in u32() }
                outcomes.append(DifferentialOutcome(
                    fault: signal == 0 ? nil : DifferentialFault(vector: UInt8(truncatingIfNeeded: trap), errorCode: err, eip: eip),
                    registers: registers, eflags: eflags, selectors: selectors, fpu: fpu, memoryChanges: changes))
            }
            return outcomes
        }
    }
}
