// PLACEHOLDER — being written by the x87 helper; replaced wholesale.
extension CPU {
    func executeX87(_ i: Instruction) throws(CPUFault) { throw .invalidOpcode }
}
