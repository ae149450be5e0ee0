/// An event another engine (KVM) had begun to deliver when it handed the
/// guest back: the vector was already taken from the interrupt controller
/// or the exception already raised, so the interpreter must deliver it
/// before the next instruction instead of asking again.
extension CPU {
    /// Delivers an external interrupt whose vector was already acknowledged.
    public func deliverAcknowledgedInterrupt(_ vector: UInt8) {
        state.pointee.halted = false
        deliverExternalInterrupt(vector)
    }

    /// Delivers a hardware exception (with its error code where the vector
    /// has one) that was being raised at EIP.
    public func deliverPendingException(_ vector: UInt8, errorCode: UInt32?) {
        deliverException(CPUFault(vector, errorCode: errorCode), eip: eip)
    }
}
