// PLACEHOLDER — being written by the integer-instructions helper; replaced wholesale.
extension CPU {
    func executeArithmetic(_ i: Instruction) throws(CPUFault) { throw .invalidOpcode }
}
