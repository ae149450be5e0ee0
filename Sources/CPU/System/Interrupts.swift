// PLACEHOLDER — being written by the system helper; replaced wholesale.
extension CPU {
    /// Delivers an exception through the IDT/IVT (double fault, triple fault).
    func deliverException(_ fault: CPUFault, eip: UInt32) { onTripleFault?() }
    /// Delivers an external (PIC) interrupt.
    func deliverExternalInterrupt(_ vector: UInt8) {}
}
