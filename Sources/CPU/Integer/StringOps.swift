/// The string instructions MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS with
/// their REP/REPE/REPNE prefixes (SDM vol. 2, "REP/REPE/REPZ/REPNE/REPNZ").
///
/// The element size comes from the opcode's w bit (even opcode: byte),
/// else the operand size. The address size picks SI/DI/CX or ESI/EDI/ECX.
/// The source is DS:(E)SI unless a segment override names another
/// segment; the destination is always ES:(E)DI.
///
/// A repeated instruction runs at most `stringIterationsPerStep`
/// iterations per `step` (one when single-stepping with TF, as the
/// processor traps after each iteration), and stops early when an
/// interrupt is pending and IF is set. It then leaves EIP at the
/// instruction itself, so the next step — or the interrupt handler's IRET
/// — resumes it. Registers are updated after every iteration, so a fault
/// part-way leaves (E)SI, (E)DI and (E)CX exactly at the faulting element,
/// as the SDM requires for restart.
///
/// REP MOVS and REP STOS with DF = 0 take a fast path over plain RAM:
/// runs that stay inside one page of source and destination, pass the
/// segment checks as a whole and touch no page holding translated code
/// are copied or filled with host memory operations. Anything else (MMIO,
/// ROM, watched pages, page or segment edges, faults, a debugger watching
/// data accesses) goes element by element through the ordinary accesses.
extension CPU {
    /// Iterations of a REP string instruction per `step`: enough to make
    /// the per-step overhead negligible, few enough that devices and the
    /// run loop see time pass during a long copy.
    static let stringIterationsPerStep: UInt32 = 4096

    func executeString(_ i: Instruction) throws(CPUFault) {
        let size = i.opcode & 1 == 0 ? 1 : Int(i.operandSize)
        if i.op == .ins || i.op == .outs { try checkIOPermission(reg16(2), size: size) }
        guard i.repeatPrefix != .none else {
            try stringIteration(i, size: size)
            return
        }
        let a32 = i.addressSize == 4
        var count = a32 ? reg32(1) : UInt32(reg16(1))
        if count == 0 { return }
        let comparing = i.op == .cmps || i.op == .scas
        var budget = state.pointee.eflags & EFLAGS.tf != 0 ? 1 : CPU.stringIterationsPerStep
        while true {
            let run = comparing ? 0 : fastStringRun(i, size: size, count: min(count, budget))
            if run > 0 {
                count -= run
                budget -= run
            } else {
                try stringIteration(i, size: size)
                count -= 1
                budget -= 1
            }
            if a32 { setReg32(1, count) } else { setReg16(1, UInt16(count)) }
            if count == 0 { return }
            if comparing {
                // REPE stops on a difference (ZF = 0), REPNE on a match.
                let zf = state.pointee.eflags & EFLAGS.zf != 0
                if zf != (i.repeatPrefix == .repe) { return }
            }
            if budget == 0 || (interruptRequested && state.pointee.eflags & EFLAGS.if != 0) {
                eip = currentEIP
                return
            }
        }
    }

    /// One element of a string instruction, registers updated.
    private func stringIteration(_ i: Instruction, size: Int) throws(CPUFault) {
        let a32 = i.addressSize == 4
        let delta = state.pointee.eflags & EFLAGS.df != 0 ? 0 &- UInt32(size) : UInt32(size)
        let source = i.hasSegmentOverride ? i.segment : .ds
        switch i.op {
        case .movs:
            let v = try read(source, stringIndex(6, a32), size: size)
            try write(.es, stringIndex(7, a32), size: size, value: v)
            advanceStringIndex(6, by: delta, a32)
            advanceStringIndex(7, by: delta, a32)
        case .cmps:
            // Flags of [source] − ES:[(E)DI].
            let a = try read(source, stringIndex(6, a32), size: size)
            let b = try read(.es, stringIndex(7, a32), size: size)
            setSubFlags(a, b, size)
            advanceStringIndex(6, by: delta, a32)
            advanceStringIndex(7, by: delta, a32)
        case .stos:
            try write(.es, stringIndex(7, a32), size: size, value: register(0, size: size))
            advanceStringIndex(7, by: delta, a32)
        case .lods:
            setRegister(0, size: size, try read(source, stringIndex(6, a32), size: size))
            advanceStringIndex(6, by: delta, a32)
        case .scas:
            // Flags of accumulator − ES:[(E)DI].
            let a = register(0, size: size)
            let b = try read(.es, stringIndex(7, a32), size: size)
            setSubFlags(a, b, size)
            advanceStringIndex(7, by: delta, a32)
        case .ins:
            // Check the destination before reading the port: a port read
            // can have side effects (a FIFO) and must not be lost to a fault.
            let offset = stringIndex(7, a32)
            try probeWrite(.es, offset, size: size)
            try write(.es, offset, size: size, value: io.portRead(reg16(2), size: size))
            advanceStringIndex(7, by: delta, a32)
        case .outs:
            let v = try read(source, stringIndex(6, a32), size: size)
            io.portWrite(reg16(2), size: size, value: v)
            advanceStringIndex(6, by: delta, a32)
        default:
            throw .invalidOpcode
        }
    }

    @inline(__always)
    private func stringIndex(_ r: UInt8, _ a32: Bool) -> UInt32 {
        a32 ? reg32(r) : UInt32(reg16(r))
    }

    @inline(__always)
    private func advanceStringIndex(_ r: UInt8, by delta: UInt32, _ a32: Bool) {
        if a32 { setReg32(r, reg32(r) &+ delta) } else { setReg16(r, reg16(r) &+ UInt16(truncatingIfNeeded: delta)) }
    }

    // MARK: - Fast path

    /// REP MOVS/STOS, DF = 0: does up to `limit` elements with host memory
    /// operations when they can be done exactly so, updating (E)SI/(E)DI
    /// (not the count). Returns how many elements it did; 0 means "take the
    /// element-by-element path".
    private func fastStringRun(_ i: Instruction, size: Int, count limit: UInt32) -> UInt32 {
        guard i.op == .movs || i.op == .stos, state.pointee.eflags & EFLAGS.df == 0, !dataWatchActive else { return 0 }
        let a32 = i.addressSize == 4
        let width = UInt32(size)
        let di = stringIndex(7, a32)
        var n = min(limit, elementsBeforeEdge(.es, di, width: width, a32))
        let source = i.hasSegmentOverride ? i.segment : .ds
        let si = stringIndex(6, a32)
        if i.op == .movs { n = min(n, elementsBeforeEdge(source, si, width: width, a32)) }
        guard n >= 2 else { return 0 }
        let bytes = Int(n) * size

        guard let destinationLinear = try? linearAddress(.es, di, size: bytes, write: true),
              let destinationPhysical = try? physicalAddress(destinationLinear, dataAccess(write: true)),
              !memory.isWatched(destinationPhysical),
              let destination = memory.hostPointer(forWriting: destinationPhysical)
        else { return 0 }

        if i.op == .stos {
            fill(destination, with: register(0, size: size), count: Int(n), size: size)
        } else {
            guard let sourceLinear = try? linearAddress(source, si, size: bytes, write: false),
                  let sourcePhysical = try? physicalAddress(sourceLinear, dataAccess(write: false)),
                  let from = memory.hostPointer(forReading: sourcePhysical)
            else { return 0 }
            copyForward(destination, from, count: Int(n), size: size)
            advanceStringIndex(6, by: n * width, a32)
        }
        advanceStringIndex(7, by: n * width, a32)
        return n
    }

    /// Whole elements from `offset` before the end of its page (linear)
    /// or the wrap of a 16-bit index, whichever comes first.
    @inline(__always)
    private func elementsBeforeEdge(_ seg: SegmentRegister, _ offset: UInt32, width: UInt32, _ a32: Bool) -> UInt32 {
        let linear = UInt32(truncatingIfNeeded: segment(seg).pointee.base) &+ offset
        var room = 4096 - (linear & 0xFFF)
        if !a32 { room = min(room, 0x1_0000 - offset) }
        return room / width
    }

    /// The forward element-by-element copy MOVS performs. When the
    /// destination starts inside the source run, elements written early
    /// are read again later (the classic pattern-fill idiom), so only
    /// non-overlapping runs or a destination below the source may use a
    /// block move.
    private func copyForward(_ destination: UnsafeMutablePointer<UInt8>, _ source: UnsafeMutablePointer<UInt8>, count: Int, size: Int) {
        let bytes = count * size
        if destination <= source || destination >= source + bytes {
            UnsafeMutableRawPointer(destination).copyMemory(from: source, byteCount: bytes)
            return
        }
        let d = UnsafeMutableRawPointer(destination), s = UnsafeRawPointer(source)
        for k in stride(from: 0, to: bytes, by: size) {
            switch size {
            case 1: d.storeBytes(of: s.load(fromByteOffset: k, as: UInt8.self), toByteOffset: k, as: UInt8.self)
            case 2: d.storeBytes(of: s.loadUnaligned(fromByteOffset: k, as: UInt16.self), toByteOffset: k, as: UInt16.self)
            default: d.storeBytes(of: s.loadUnaligned(fromByteOffset: k, as: UInt32.self), toByteOffset: k, as: UInt32.self)
            }
        }
    }

    private func fill(_ destination: UnsafeMutablePointer<UInt8>, with value: UInt32, count: Int, size: Int) {
        let d = UnsafeMutableRawPointer(destination)
        switch size {
        case 1:
            destination.update(repeating: UInt8(truncatingIfNeeded: value), count: count)
        case 2:
            for k in 0..<count { d.storeBytes(of: UInt16(truncatingIfNeeded: value), toByteOffset: 2 * k, as: UInt16.self) }
        default:
            for k in 0..<count { d.storeBytes(of: value, toByteOffset: 4 * k, as: UInt32.self) }
        }
    }
}
