import MMU

/// A bus master's walk through a Physical Region Descriptor table (PIIX3
/// datasheet §2.7.3, SFF-8038i). Each 8-byte descriptor names a memory
/// region: dword 0 its physical address (bit 0 ignored, regions start on
/// even bytes), dword 1 its byte count in bits 15:0 (bit 0 ignored, 0
/// meaning 64 KiB) and End Of Table in bit 31.
///
/// Data moves through `PhysicalMemory`'s bulk copies, so a region in
/// unmapped space reads as all ones and drops writes, and DMA into RAM that
/// holds translated code is reported like a CPU store. A table cannot
/// cross a 64 KiB boundary, so it holds at most 8,192 descriptors: a
/// guest's table without End Of Table ends there, and a walk always ends.
struct PRDWalker {
    static let descriptorSize: UInt32 = 8
    static let descriptorLimit = 8192
    static let endOfTable: UInt32 = 0x8000_0000

    private let memory: PhysicalMemory
    private var nextDescriptor: UInt32
    private var descriptorsRead = 0
    private var regionAddress: UInt32 = 0
    private var regionRemaining = 0
    private var inLastRegion = false
    /// The last region has been used up: the engine has nothing left to move.
    private(set) var isExhausted = false

    /// Starts at the table at `table` (bits 1:0 are ignored: dword aligned).
    init(memory: PhysicalMemory, table: UInt32) {
        self.memory = memory
        nextDescriptor = table & ~3
    }

    /// Moves up to `count` bytes from `source` into the regions; returns how many moved.
    mutating func copyToMemory(from source: UnsafeRawPointer, count: Int) -> Int {
        var done = 0
        while done < count, let n = nextChunk(count - done) {
            memory.copyIn(regionAddress, from: UnsafeRawBufferPointer(start: source + done, count: n))
            advance(n)
            done += n
        }
        return done
    }

    /// Moves up to `count` bytes from the regions into `target`; returns how many moved.
    mutating func copyFromMemory(into target: UnsafeMutableRawPointer, count: Int) -> Int {
        var done = 0
        while done < count, let n = nextChunk(count - done) {
            memory.copyOut(regionAddress, into: UnsafeMutableRawBufferPointer(start: target + done, count: n))
            advance(n)
            done += n
        }
        return done
    }

    /// Bytes the current region can take now (loading the next descriptor if needed), nil at the end.
    private mutating func nextChunk(_ wanted: Int) -> Int? {
        if regionRemaining == 0 {
            guard !isExhausted, !inLastRegion, descriptorsRead < PRDWalker.descriptorLimit else {
                isExhausted = true
                return nil
            }
            let base = memory.read(nextDescriptor, size: 4)
            let control = memory.read(nextDescriptor &+ 4, size: 4)
            nextDescriptor &+= PRDWalker.descriptorSize
            descriptorsRead += 1
            regionAddress = base & ~1
            let count = Int(control & 0xFFFE)
            regionRemaining = count == 0 ? 0x10000 : count
            inLastRegion = control & PRDWalker.endOfTable != 0
        }
        return min(wanted, regionRemaining)
    }

    private mutating func advance(_ n: Int) {
        regionAddress &+= UInt32(n)
        regionRemaining -= n
        if regionRemaining == 0 && (inLastRegion || descriptorsRead == PRDWalker.descriptorLimit) { isExhausted = true }
    }
}
