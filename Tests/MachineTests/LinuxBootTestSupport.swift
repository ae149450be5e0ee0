import Foundation
import XCTest
@testable import Machine

/// Kernels and synthetic images for the Linux-boot tests.
enum LinuxBootFixtures {
    /// A real i386 Linux kernel: `NOVABOX_TEST_KERNEL` if set, else the one
    /// the image script builds (scripts on branch `images`).
    static func kernelPath() throws -> String {
        try fixture(env: "NOVABOX_TEST_KERNEL", cached: "tiny-i386.vmlinuz",
                    what: "an i386 Linux kernel (set NOVABOX_TEST_KERNEL or build the test images)")
    }

    static func fixture(env: String, cached: String, what: String) throws -> String {
        if let p = ProcessInfo.processInfo.environment[env], FileManager.default.fileExists(atPath: p) { return p }
        let p = (GuestImages.directory as NSString).appendingPathComponent(cached)
        if FileManager.default.fileExists(atPath: p) { return p }
        throw XCTSkip("no \(what) at $\(env) or \(p)")
    }

    /// A minimal bzImage by the boot protocol's header layout: `sectors`
    /// setup sectors of a recognisable pattern, then `kernelSize` bytes of
    /// protected-mode "code".
    static func bzImage(version: UInt16 = 0x020F, sectors: UInt8 = 4, loadFlags: UInt8 = 0x01,
                        kernelSize: Int = 0x3000, initrdMax: UInt32 = 0x7FFF_FFFF, commandLineSize: UInt32 = 2047,
                        alignment: UInt32 = 0x20_0000, initSize: UInt32 = 0x40_0000) -> [UInt8] {
        let setupSize = (Int(sectors == 0 ? 4 : sectors) + 1) * 512
        var b = (0..<(setupSize + kernelSize)).map { UInt8(truncatingIfNeeded: $0 * 7 + 3) }
        func put16(_ at: Int, _ v: UInt16) { b[at] = UInt8(v & 0xFF); b[at + 1] = UInt8(v >> 8) }
        func put32(_ at: Int, _ v: UInt32) { put16(at, UInt16(v & 0xFFFF)); put16(at + 2, UInt16(v >> 16)) }
        b[0x1F1] = sectors
        put16(0x1FA, 0xFFFF)
        put16(0x1FE, 0xAA55)
        b[0x202...0x205] = Array("HdrS".utf8)[...]
        put16(0x206, version)
        b[0x210] = 0
        b[0x211] = loadFlags
        put32(0x218, 0); put32(0x21C, 0); put16(0x224, 0); put32(0x228, 0)
        put32(0x22C, initrdMax)
        put32(0x230, alignment)
        b[0x234] = 1
        put32(0x238, commandLineSize)
        put32(0x258, 0x100_0000); put32(0x25C, 0)
        put32(0x260, initSize)
        return b
    }
}
