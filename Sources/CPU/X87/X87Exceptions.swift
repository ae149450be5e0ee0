/// x87 exception reporting: the flags in the FSW, the error summary
/// (ES/B), and how an unmasked exception reaches software
/// (SDM vol. 1, 8.7; vol. 3, 2.5 CR0.NE/EM/TS/MP, 19.18.6.7; vol. 1 app. D).
///
/// An unmasked exception only sets its flag and ES; nothing is raised at
/// once. The *next waiting* x87 instruction (FWAIT, or any x87
/// instruction except FNINIT, FNCLEX, FNSTCW, FNSTSW, FNSTENV, FNSAVE,
/// FXSAVE, FXRSTOR) then finds ES set and:
/// - CR0.NE = 1 (native mode): raises #MF before executing.
/// - CR0.NE = 0 (MS-DOS compatibility): if IGNNE# is asserted it runs as
///   if nothing were pending; otherwise the processor freezes before the
///   instruction until an interrupt arrives. The P6 asserts FERR# as soon
///   as the faulting instruction completes; the PC routes FERR# to IRQ13,
///   whose handler clears the error (OUT F0h, FNCLEX) and returns to the
///   frozen instruction, which then runs.
/// ES is kept equal to "some exception flag is set whose mask is clear",
/// so FLDCW unmasking a set flag, or FNSTENV masking everything, move it
/// the way the hardware's pending-error logic does. B mirrors ES.
extension CPU {
    static let cr0MP: UInt64 = 1 << 1
    static let cr0EM: UInt64 = 1 << 2
    static let cr0TS: UInt64 = 1 << 3
    static let cr0NE: UInt64 = 1 << 5

    /// Sets exception flags (and SF) in the FSW.
    func raiseX87(_ flags: UInt16) {
        guard flags != 0 else { return }
        fpuStatusWord |= flags & (X87Status.exceptions | X87Status.stackFault)
        updateErrorSummary()
    }

    /// Recomputes ES and B from the flags and masks; drives FERR# in
    /// MS-DOS compatibility mode when ES changes.
    func updateErrorSummary() {
        let old = fpuStatusWord
        let pending = fpuControl.unmasked(old) != 0
        let new = pending ? old | X87Status.errorSummary | X87Status.busy
                          : old & ~(X87Status.errorSummary | X87Status.busy)
        fpuStatusWord = new
        let changed = (old ^ new) & X87Status.errorSummary != 0
        if changed && (state.pointee.cr0 & CPU.cr0NE == 0 || !pending) {
            onFPUError?(pending)
        }
    }

    /// #NM: CR0.EM or CR0.TS for the ESC instructions (and FXSAVE/
    /// FXRSTOR); for WAIT only when both MP and TS are set.
    func checkFPUAvailable(_ op: Op) throws(CPUFault) {
        let cr0 = state.pointee.cr0
        if op == .wait {
            if cr0 & (CPU.cr0MP | CPU.cr0TS) == CPU.cr0MP | CPU.cr0TS { throw .deviceNotAvailable }
        } else if cr0 & (CPU.cr0EM | CPU.cr0TS) != 0 {
            throw .deviceNotAvailable
        }
    }

    /// The check a waiting instruction makes first. Returns false when the
    /// processor froze instead (NE = 0, IGNNE# deasserted): the
    /// instruction is not executed and will be restarted after the
    /// interrupt that FERR# requested.
    func handlePendingX87Exception() throws(CPUFault) -> Bool {
        guard fpuStatusWord & X87Status.errorSummary != 0 else { return true }
        if state.pointee.cr0 & CPU.cr0NE != 0 { throw .floatingPoint }
        if ignoreNumericError { return true }
        state.pointee.rip = UInt64(currentEIP)
        state.pointee.halted = true
        stopRequested = true
        return false
    }
}
