import Console
import CPU

/// The monitor's command language, shared by `-monitor` (stdio or a
/// socket) and gdb's `monitor …` (qRcmd). One line in, lines of text out.
///
/// Addresses are hex (with or without 0x): `F000:FFF0` is a real-mode
/// CS:IP, a bare number a linear address, `phys ADDR` a physical one.
/// Counts and vectors are decimal unless written with 0x.
public final class Monitor {
    let session: DebugSession
    let inspector: Inspector
    let devices: DeviceViews

    public init(session: DebugSession) {
        self.session = session
        inspector = Inspector(view: session.view)
        devices = DeviceViews(board: session.machine.board)
    }

    public static let help = [
        "commands (addresses hex; CS:IP = real mode; phys ADDR = physical; else linear):",
        "  step [N] | s [N]          run N instructions (default 1) and show the next",
        "  next | n                  step over a CALL, INT n or REP string instruction",
        "  continue | c              run until a breakpoint, an event or stop",
        "  stop                      pause the machine",
        "  break CS:IP | ADDR | phys ADDR [if COND]   code breakpoint; COND: REG OP VALUE [&& ...],",
        "                            OP == != < <= > >=, e.g. break 7c00 if eax==0x1234 && cl>5",
        "  break pe|pg|pae|lme|cr|hlt|triple   on CR0.PE / CR0.PG / CR4.PAE / EFER.LME,LMA change,",
        "                            any CR write, HLT, triple fault",
        "  break exception N | int N | io PORT[-PORT]",
        "  break handover            on a hand-over of the guest to or from KVM, after the switch",
        "  watch [r|w|a] [phys] ADDR [LEN]     stop after a read (r), a write that changes (w, default)",
        "                            or any access (a) of LEN (1-4096) bytes; rwatch/awatch = watch r/a",
        "  delete ID                 remove a breakpoint, watchpoint or event",
        "  info breakpoints|events   list them",
        "  info registers            registers with hidden segment caches, CRs, DRs",
        "  info x87 | info msr [INDEX]         x87 stack and control/status/tag words; MSRs as RDMSR reads them",
        "  info gdt|ldt|idt|tss      decoded descriptor tables",
        "  info pg LINEAR            the page walk for a linear address",
        "  info mem                  mapped linear ranges of the current page tables",
        "  info pic|pit|rtc|uart|ide|vga       device state",
        "  info history              recent exceptions and (with history on) instructions",
        "  info switches             the engine running the guest and every switch to or from KVM",
        "  history on|off            record the last instructions executed",
        "  x/Nb|w|d [phys] ADDR      dump N bytes, words or dwords; x/Ns: N NUL-terminated strings",
        "  screendump FILE           write the screen as the VGA shows it now to a PNG file",
        "  disas [ADDR [N [16|32]]]  disassemble N instructions (default: at CS:EIP, 10) in the current or the given code size",
        "  help | ?                  this list (Tab completes commands on a terminal)",
        "  quit                      end the run",
    ]

    static let unknown = "unknown or malformed command; type help"
    static let infoUsage = "info registers|x87|msr [INDEX]|breakpoints|events|gdt|ldt|idt|tss|pg LINEAR|mem|pic|pit|rtc|uart|ide|vga|history|switches"

    /// Runs one command. `runControl` is false from gdb: gdb owns stepping
    /// and continuing there, and would lose track if the monitor did it.
    public func execute(_ line: String, runControl: Bool = true) -> [String] {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let verb = words.first else { return [] }
        let args = Array(words.dropFirst())
        switch verb {
        case "help", "h", "?": return Monitor.help
        case "step", "s", "stepi", "si":
            guard runControl else { return ["use gdb's stepi here"] }
            guard session.paused else { return ["the machine is running; stop it first"] }
            let n = args.first.flatMap(Monitor.count) ?? (args.isEmpty ? 1 : nil)
            guard let n, n > 0 else { return ["step [N]: N is a positive count"] }
            let reason = session.step(n)
            return (reason == .step ? [] : [describe(reason)]) + inspector.disassemble(at: nil, count: 1)
        case "next", "n", "nexti", "ni":
            guard args.isEmpty else { return ["next (no arguments): steps over a call, INT or REP string instruction"] }
            guard session.paused else { return ["the machine is running; stop it first"] }
            if session.nextKind() == .step || !runControl {
                // gdb waits for the command's reply with the target stopped,
                // so from gdb a `next` over a call runs to its end here.
                let reason = session.next(synchronous: true)
                var lines = (reason == .step ? [] : [describe(reason)]) + inspector.disassemble(at: nil, count: 1)
                if !runControl { lines.append("(gdb: maint flush register-cache, then gdb shows the new registers)") }
                return lines
            }
            session.next(synchronous: false)
            return []
        case "continue", "c", "cont":
            guard runControl else { return ["use gdb's continue here"] }
            session.resume()
            return []
        case "stop":
            guard runControl else { return ["gdb stops the machine with Ctrl-C"] }
            session.pause(.interrupted)
            return []
        case "break", "b": return addBreak(args)
        case "watch": return addWatch(args)
        case "rwatch": return addWatch(["r"] + args)
        case "awatch": return addWatch(["a"] + args)
        case "delete", "d":
            guard args.count == 1, let id = Int(args[0]) else { return ["delete ID"] }
            return session.remove(id: id) ? ["deleted \(id)"] : ["no breakpoint \(id)"]
        case "info", "i": return info(args)
        case "history":
            guard args.count == 1, args[0] == "on" || args[0] == "off" else { return ["history on|off"] }
            session.history.recordInstructions(args[0] == "on")
            return ["instruction history \(args[0])"]
        case "disas", "disassemble", "u":
            // A third word, 16 or 32, picks the code size: for code the CPU
            // is not in yet (a real-mode loader's 32-bit target).
            var rest = args
            var default32: Bool?
            if rest.count == 3 {
                guard rest[2] == "16" || rest[2] == "32" else { return ["disas [ADDR [N [16|32]]]: the code size is 16 or 32"] }
                default32 = rest[2] == "32"
                rest.removeLast()
            }
            var address: UInt32?
            var count = 10
            if rest.count >= 1 {
                guard let a = Monitor.hex32(rest[0]) else { return ["disas [ADDR [N [16|32]]]: ADDR is a hex linear address"] }
                address = a
            }
            if rest.count >= 2 {
                guard let n = Monitor.count(rest[1]), n > 0, n <= 1000 else { return ["disas [ADDR [N [16|32]]]: N is 1 to 1000"] }
                count = n
            }
            guard rest.count <= 2 else { return ["disas [ADDR [N [16|32]]]"] }
            return inspector.disassemble(at: address, count: count, default32: default32)
        case "screendump":
            guard args.count == 1 else { return ["screendump FILE"] }
            do {
                try Screenshot.write(session.machine.board.vga.scanout, to: args[0])
            } catch {
                return [error.message]
            }
            return ["screen written to \(args[0])"]
        case "quit", "q":
            guard runControl else { return ["use gdb's kill to end the run"] }
            session.quit()
            return ["quitting"]
        default:
            if verb.hasPrefix("x/") || verb == "x" { return examine(verb, args) }
            return [Monitor.unknown]
        }
    }

    private func info(_ args: [String]) -> [String] {
        guard let what = args.first else { return [Monitor.infoUsage] }
        switch what {
        case "registers", "r", "reg": return inspector.registers()
        case "gdt": return inspector.gdt()
        case "ldt": return inspector.ldt()
        case "idt": return inspector.idt()
        case "tss": return inspector.tss()
        case "x87", "fpu", "float":
            return inspector.x87()
        case "msr":
            guard args.count <= 2 else { return ["info msr [INDEX] (hex)"] }
            if args.count == 2 {
                guard let i = Monitor.hex32(args[1]) else { return ["info msr [INDEX] (hex)"] }
                return inspector.msrs(i)
            }
            return inspector.msrs()
        case "mem", "tlb": return inspector.mappedRanges()
        case "switches", "engine":
            let machine = session.machine
            return ["engine: \(machine.status.engine.rawValue)"] + machine.engineSwitches.map(\.description)
                + [machine.engineSummary ?? "no engine switches"]
        case "pic": return devices.pic()
        case "pit": return devices.pit()
        case "rtc", "cmos": return devices.rtc()
        case "uart", "serial": return devices.uart()
        case "ide": return devices.ide()
        case "vga": return devices.vga()
        case "pg", "page":
            guard args.count == 2, let a = Monitor.hex32(args[1]) else { return ["info pg LINEAR (hex)"] }
            return inspector.pageWalk(a)
        case "breakpoints", "b", "break", "watchpoints", "events":
            var lines: [String] = []
            for c in session.breakpoints.code {
                lines.append("\(c.id): break \(Monitor.describe(c.location))\(c.condition.map { " if \($0)" } ?? "")\(c.owner == .gdb ? " (gdb)" : "")")
            }
            for w in session.breakpoints.watchpoints {
                let text = Monitor.describe(kind: w.watch.kind, physical: w.watch.physical, address: w.watch.address, length: w.watch.length)
                lines.append("\(w.watch.id): \(text)\(w.owner == .gdb ? " (gdb)" : "")")
            }
            for e in session.events { lines.append("\(e.id): break \(e.event)") }
            return lines.isEmpty ? ["no breakpoints, watchpoints or events"] : lines
        case "history":
            var lines = session.history.recentExceptions.map {
                "\($0.name) (vector \($0.vector))\($0.errorCode.map { " error \(hex($0, 4))" } ?? "") at \(hex($0.cs, 4)):\(hex($0.eip, 8)) icount \($0.instructionCount)"
            }
            if lines.isEmpty { lines.append("no exceptions recorded") }
            if session.history.recordsInstructions {
                lines += session.history.recentInstructions.map { "\(hex($0.cs, 4)):\(hex($0.eip, 8))  \($0.text)" }
            } else {
                lines.append("(instruction history is off: history on)")
            }
            return lines
        default:
            return [Monitor.infoUsage]
        }
    }

    private func addBreak(_ args: [String]) -> [String] {
        let usage = ["break CS:IP | ADDR | phys ADDR [if COND] | pe | pg | pae | lme | cr | hlt | triple | handover | exception N | int N | io PORT[-PORT]"]
        guard let first = args.first else { return usage }
        var event: DebugEvent?
        switch (first, args.count) {
        case ("pe", 1): event = .protectedMode
        case ("pg", 1): event = .paging
        case ("pae", 1): event = .physicalAddressExtension
        case ("lme", 1), ("lma", 1): event = .longMode
        case ("cr", 1): event = .controlRegister
        case ("hlt", 1): event = .halt
        case ("triple", 1): event = .tripleFault
        case ("handover", 1), ("switch", 1): event = .engineSwitch
        case ("exception", 2), ("exc", 2):
            guard let v = Monitor.count(args[1]), v < 32 else { return ["break exception N: N is a vector 0-31"] }
            event = .exception(UInt8(v))
        case ("int", 2):
            guard let v = Monitor.count(args[1]), v < 256 else { return ["break int N: N is a vector 0-255"] }
            event = .interrupt(UInt8(v))
        case ("io", 2):
            let ends = args[1].split(separator: "-").map(String.init)
            guard (1...2).contains(ends.count), let lo = Monitor.hex32(ends[0]), let hi = Monitor.hex32(ends.last!),
                  lo <= hi, hi <= 0xFFFF else { return ["break io PORT[-PORT]: hex ports 0-FFFF, low to high"] }
            event = .port(UInt16(lo)...UInt16(hi))
        default: break
        }
        if let event {
            let id = session.addEvent(event)
            return ["\(id): break \(event)"] + (event.seenUnderKVM ? [] : keptByKVMNote)
        }
        // `break LOCATION if REG OP VALUE [&& …]`
        var where_ = args
        var condition: BreakCondition?
        if let k = args.firstIndex(of: "if") {
            where_ = Array(args[..<k])
            guard let c = BreakCondition(args[(k + 1)...].joined(separator: " ")) else {
                return ["break ... if REG OP VALUE [&& ...]: OP is == != < <= > >=, REG eax…al, eip, eflags, cs…gs, cr0…cr4; VALUE decimal or 0x hex"]
            }
            condition = c
        }
        guard let location = Monitor.location(where_) else { return usage }
        let id = session.breakpoints.addCode(location, owner: .monitor, condition: condition)
        session.updateHooks()
        var reply = ["\(id): break \(Monitor.describe(location))\(condition.map { " if \($0)" } ?? "")"]
        if case .linear(let a) = location, session.view.physical(ofLinear: a) == nil {
            reply.append("note: \(hex(a, 8)) is not mapped now; the breakpoint waits until it is")
        }
        return reply + keptByKVMNote
    }

    /// Said when something only our engines see is set while KVM runs a
    /// 64-bit guest: KVM keeps it, as nothing else here runs long mode.
    private var keptByKVMNote: [String] {
        let status = session.machine.status
        guard status.engine == .kvm, status.cpuMode == .long else { return [] }
        return ["note: KVM runs this 64-bit guest and reports no such stop; it takes effect once the guest leaves long mode"]
    }

    private func addWatch(_ args: [String]) -> [String] {
        let usage = ["watch [r|w|a] [phys] ADDR [LEN]  (r read, w write, a access; address a is 0xa)"]
        var rest = args[...]
        var kind = WatchKind.write
        if let word = rest.first, let k = Monitor.watchKinds[word] { kind = k; rest = rest.dropFirst() }
        let physical = rest.first == "phys"
        if physical { rest = rest.dropFirst() }
        guard let a = rest.first.flatMap(Monitor.hex32) else { return usage }
        var length = 4
        if rest.count == 2 {
            guard let n = Monitor.count(rest[rest.startIndex + 1]), (1...4096).contains(n) else { return ["watch: LEN is 1 to 4096"] }
            length = n
        } else if rest.count > 2 { return usage }
        let id = session.breakpoints.addWatch(kind, physical: physical, address: a, length: length, owner: .monitor, view: session.view)
        session.updateHooks()
        return ["\(id): " + Monitor.describe(kind: kind, physical: physical, address: a, length: length)] + keptByKVMNote
    }

    static let watchKinds: [String: WatchKind] = ["r": .read, "read": .read, "w": .write, "write": .write, "a": .access, "access": .access]

    static func describe(kind: WatchKind, physical: Bool, address: UInt32, length: Int) -> String {
        let verb = kind == .write ? "watch" : kind == .read ? "watch read" : "watch access"
        return "\(verb) \(physical ? "phys " : "")\(hex(address, 8)) length \(length)"
    }

    private func examine(_ verb: String, _ args: [String]) -> [String] {
        let usage = ["x/Nb|w|d|s [phys] ADDR  (e.g. x/16b 7c00, x/4d phys fee00000, x/2s 600)"]
        let format = verb.dropFirst(verb.hasPrefix("x/") ? 2 : 1)
        let digits = format.prefix { $0.isNumber }
        let unitLetter = format.dropFirst(digits.count)
        guard unitLetter.count <= 1 else { return usage }
        var rest = args[...]
        let physical = rest.first == "phys"
        if physical { rest = rest.dropFirst() }
        guard rest.count == 1, let a = Monitor.hex32(rest[rest.startIndex]) else { return usage }
        let unit: Int
        switch unitLetter.first {
        case nil, "b": unit = 1
        case "w", "h": unit = 2
        case "d": unit = 4
        case "s":
            guard let count = digits.isEmpty ? 1 : Int(digits), (1...64).contains(count) else { return ["x/Ns: N is 1 to 64 strings"] }
            return inspector.strings(a, count: count, physical: physical)
        default: return usage
        }
        guard let count = digits.isEmpty ? 16 / unit : Int(digits), count > 0, count * unit <= 65536 else { return ["x: N is 1 to 65536 bytes' worth"] }
        return inspector.dump(a, count: count, unit: unit, physical: physical)
    }

    // MARK: - Completion

    static let verbs = ["help", "step", "next", "continue", "stop", "break", "watch", "rwatch", "awatch", "delete",
                        "info", "history", "x/", "disas", "screendump", "quit"]
    static let infoTopics = ["registers", "x87", "msr", "breakpoints", "events", "gdt", "ldt", "idt", "tss", "pg", "mem",
                             "pic", "pit", "rtc", "uart", "ide", "vga", "history", "switches"]

    /// The words that may follow `words` (the line so far, without the
    /// word being typed), for tab completion.
    static func candidates(after words: [String]) -> [String] {
        guard let verb = words.first else { return verbs }
        switch verb {
        case "info", "i": return words.count == 1 ? infoTopics : []
        case "history": return words.count == 1 ? ["on", "off"] : []
        case "break", "b":
            if words.count == 1 { return ["pe", "pg", "pae", "lme", "cr", "hlt", "triple", "handover", "exception", "int", "io", "phys"] }
            if let k = words.firstIndex(of: "if") { return words.count == k + 1 || words.last == "&&" ? BreakCondition.registerNames : ["&&"] }
            return words.count == 2 && words[1] == "phys" ? [] : ["if"]
        case "watch": return words.count == 1 ? ["r", "w", "a", "phys"] : words.count == 2 && words[1] != "phys" && watchKinds[words[1]] != nil ? ["phys"] : []
        case "rwatch", "awatch": return words.count == 1 ? ["phys"] : []
        default: return []
        }
    }

    /// Tab completion of `line`: the completed line when exactly one
    /// candidate (or a longer common prefix) fits the word being typed,
    /// and the candidates that fit.
    public static func complete(_ line: String) -> (line: String, candidates: [String]) {
        let endsWord = line.last.map { $0 == " " || $0 == "\t" } ?? true
        var words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        let partial = endsWord ? "" : (words.popLast() ?? "")
        let fits = candidates(after: words).filter { $0.hasPrefix(partial) }
        guard let first = fits.first else { return (line, []) }
        var common = first
        for f in fits.dropFirst() { while !f.hasPrefix(common) { common.removeLast() } }
        let head = String(line.dropLast(partial.count))
        let done = fits.count == 1 && !common.hasSuffix("/")
        return (head + common + (done ? " " : ""), fits)
    }

    // MARK: - Words

    /// Hex with or without 0x, at most 32 bits.
    static func hex32(_ s: String) -> UInt32? {
        let digits = s.hasPrefix("0x") || s.hasPrefix("0X") ? String(s.dropFirst(2)) : s
        guard !digits.isEmpty, digits.count <= 8 else { return nil }
        return UInt32(digits, radix: 16)
    }

    /// Decimal, or hex with 0x.
    static func count(_ s: String) -> Int? {
        if s.hasPrefix("0x") { return Int(s.dropFirst(2), radix: 16) }
        guard s.count <= 9 else { return nil }
        return Int(s)
    }

    static func location(_ args: [String]) -> CodeLocation? {
        if args.count == 2, args[0] == "phys", let a = hex32(args[1]) { return .physical(a) }
        guard args.count == 1 else { return nil }
        let parts = args[0].split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 2 {
            guard let seg = hex32(String(parts[0])), seg <= 0xFFFF, let off = hex32(String(parts[1])), off <= 0xFFFF else { return nil }
            return .realMode(segment: UInt16(seg), offset: UInt16(off))
        }
        return hex32(args[0]).map { .linear($0) }
    }

    static func describe(_ l: CodeLocation) -> String {
        switch l {
        case .linear(let a): return "linear \(hex(a, 8))"
        case .physical(let a): return "phys \(hex(a, 8))"
        case .realMode(let s, let o): return "\(hex(s, 4)):\(hex(o, 4))"
        }
    }

    /// One line for a stop.
    public func describe(_ reason: StopReason) -> String {
        switch reason {
        case .breakpoint(let id): return "stopped: breakpoint \(id)"
        case .watchpoint(let id, let kind, let a):
            return "stopped: watchpoint \(id) (\(hex(a, 8)) \(kind == .write ? "changed" : kind == .read ? "read" : "accessed"))"
        case .event(let id, let d): return "stopped: event \(id): \(d)"
        case .step: return "stopped: step"
        case .interrupted: return "stopped"
        }
    }
}
