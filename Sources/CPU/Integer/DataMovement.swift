// PLACEHOLDER — being written by the integer-instructions helper; replaced wholesale.
extension CPU {
    func executeDataMovement(_ i: Instruction) throws(CPUFault) { throw .invalidOpcode }
}
