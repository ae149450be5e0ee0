import Glibc

/// Reading firmware images (the system BIOS and the VGA option ROM) with
/// errors that tell the user what to do.
enum FirmwareFile {
    static func read(_ path: String, what: String, fix: String) throws(MachineError) -> [UInt8] {
        guard let f = fopen(path, "rb") else {
            throw MachineError("cannot read \(what) \(path): \(String(cString: strerror(errno))); \(fix)")
        }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&chunk, 1, chunk.count, f)
            if n > 0 { bytes.append(contentsOf: chunk[0..<n]) }
            if n < chunk.count {
                if ferror(f) != 0 { throw MachineError("cannot read \(what) \(path): read error; \(fix)") }
                break
            }
            if bytes.count > 16 << 20 { break }
        }
        return bytes
    }

    /// A system BIOS is mapped at the top of 4 GiB: its size must be a
    /// multiple of 64 KiB, from 64 KiB to 16 MiB (SeaBIOS: 128 or 256 KiB).
    static func systemBIOS(_ path: String) throws(MachineError) -> [UInt8] {
        let fix = path == MachineConfiguration.defaultBIOS ? "install the `seabios` package or pass -bios PATH"
                                                            : "pass -bios with a BIOS image (e.g. /usr/share/seabios/bios-256k.bin)"
        let image = try read(path, what: "firmware", fix: fix)
        guard image.count >= 64 << 10, image.count <= 16 << 20, image.count % (64 << 10) == 0 else {
            throw MachineError("firmware \(path) is \(image.count) bytes; a BIOS image must be a multiple of 64 KiB between 64 KiB and 16 MiB (\(fix))")
        }
        return image
    }

    /// A VGA option ROM starts with 55 AA and is at most 128 KiB.
    static func vgaBIOS(_ path: String) throws(MachineError) -> [UInt8] {
        let fix = path == MachineConfiguration.defaultVGABIOS ? "install the `seabios` package or pass -vga-bios PATH"
                                                               : "pass -vga-bios with an option ROM image (e.g. /usr/share/seabios/vgabios-stdvga.bin)"
        let image = try read(path, what: "VGA BIOS", fix: fix)
        guard image.count >= 512, image.count <= 128 << 10, image[0] == 0x55, image[1] == 0xAA else {
            throw MachineError("VGA BIOS \(path) is not an option ROM (\(image.count) bytes, no 55 AA signature); \(fix)")
        }
        return image
    }
}
