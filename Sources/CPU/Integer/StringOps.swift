// PLACEHOLDER — being written by the integer-instructions helper; replaced wholesale.
extension CPU {
    func executeString(_ i: Instruction) throws(CPUFault) { throw .invalidOpcode }
}
