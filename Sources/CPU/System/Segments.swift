// PLACEHOLDER — being written by the system helper; replaced wholesale.
extension CPU {
    /// Loads a segment register by the rules of the current mode (real,
    /// protected with checks, V86): MOV Sreg, POP Sreg, LDS…, far transfers.
    public func loadSegment(_ seg: SegmentRegister, _ selector: UInt16) throws(CPUFault) {
        let s = segment(seg)
        s.pointee.selector = selector
        s.pointee.base = UInt64(selector) << 4
        if seg == .ss { state.pointee.interruptShadow = true }
    }
    /// IOPL / TSS I/O-permission-bitmap check for IN/OUT/INS/OUTS.
    public func checkIOPermission(_ port: UInt16, size: Int) throws(CPUFault) {}
}
