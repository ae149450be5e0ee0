// PLACEHOLDER — being written by the system helper; replaced wholesale.
extension CPU {
    func executeSystem(_ i: Instruction) throws(CPUFault) { throw .invalidOpcode }
    func executeMoveSystemRegister(_ i: Instruction) throws(CPUFault) { throw .invalidOpcode }
}
