import Devices
import Machine

/// The monitor's `info pic|pit|rtc|uart|ide|vga`: each device's registers
/// as the device holds them now, printed from the read-only snapshots the
/// devices offer. Never through their ports: reading a PIC, a UART or an
/// IDE status register through the ports has side effects (poll
/// acknowledge, cleared interrupts) that a debugger must not cause.
struct DeviceViews {
    let board: Motherboard

    static func bits(_ v: UInt8) -> String {
        String((0..<8).reversed().map { v & (1 << $0) != 0 ? "1" : "0" })
    }

    func pic() -> [String] {
        let pic = board.pic
        return [("master", pic.masterSnapshot, 0), ("slave", pic.slaveSnapshot, 8)].flatMap { name, c, firstIRQ in
            var modes: [String] = []
            if !c.initialized { modes.append("being initialized") }
            if c.autoEOI { modes.append("auto-EOI") }
            if c.specialMaskMode { modes.append("special mask") }
            if c.specialFullyNested { modes.append("special fully nested") }
            if c.lowestPriority != 7 { modes.append("rotated: lowest priority IR\(c.lowestPriority)") }
            return [
                "\(name) PIC (IRQ \(firstIRQ)-\(firstIRQ + 7)): vectors \(hex(c.vectorBase, 2))h-\(hex(c.vectorBase | 7, 2))h\(modes.isEmpty ? "" : ", " + modes.joined(separator: ", "))",
                "  irr=\(DeviceViews.bits(c.irr)) isr=\(DeviceViews.bits(c.isr)) imr=\(DeviceViews.bits(c.imr)) elcr=\(DeviceViews.bits(c.levelTriggered))",
            ]
        }
    }

    static let pitModeNames = ["interrupt on terminal count", "hardware one-shot", "rate generator",
                               "square wave", "software strobe", "hardware strobe"]

    func pit() -> [String] {
        (0..<3).compactMap { k in
            guard let c = board.pit.counterSnapshot(k) else { return nil }
            guard c.loaded else { return "counter \(k): not programmed (mode \(c.mode))" }
            let access = ["", "LSB", "MSB", "LSB then MSB"][Int(c.access & 3)]
            let modulus = c.reload == 0 ? (c.bcd ? 10_000 : 65_536) : Int(c.reload)
            let hz = Double(ProgrammableIntervalTimer.frequency) / Double(modulus)
            return "counter \(k): mode \(c.mode) (\(DeviceViews.pitModeNames[Int(c.mode)])), \(access)\(c.bcd ? ", BCD" : ""), reload \(hex(c.reload, 4))h (\(String(format1: hz)) Hz), count \(hex(c.count, 4))h, gate \(c.gate ? 1 : 0), out \(c.output ? 1 : 0)"
        }
    }

    func rtc() -> [String] {
        let r = board.rtc.snapshot
        let b = r.registerB
        let format = "\(b & 0x04 != 0 ? "binary" : "BCD"), \(b & 0x02 != 0 ? "24-hour" : "12-hour")"
        let enabled = [(0x40, "periodic"), (0x20, "alarm"), (0x10, "update")].filter { Int(b) & $0.0 != 0 }.map(\.1)
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return [
            "time \(r.year)-\(two(r.month))-\(two(r.day)) \(two(r.hour)):\(two(r.minute)):\(two(r.second))\(r.running ? "" : " (stopped)")",
            "a=\(hex(r.registerA, 2)) b=\(hex(r.registerB, 2)) c=\(hex(r.registerC, 2)) (\(format); interrupts: \(enabled.isEmpty ? "none" : enabled.joined(separator: " ")))",
            "index \(hex(r.index, 2))h\(r.nmiMasked ? ", NMI masked" : "")",
        ]
    }

    func uart() -> [String] {
        let u = board.uart.snapshot
        let lcr = u.lcr
        let parity = lcr & 0x08 == 0 ? "N" : ["O", "E", "M", "S"][Int(lcr >> 4) & 3]
        let frame = "\(5 + Int(lcr & 3))\(parity)\(lcr & 0x04 != 0 ? (lcr & 3 == 0 ? "1.5" : "2") : "1")"
        return [
            "COM1 at \(hex(board.uart.base, 4))h: \(u.baud) baud (divisor \(u.divisor)), \(frame)\(lcr & 0x80 != 0 ? ", DLAB set" : "")\(lcr & 0x40 != 0 ? ", break" : "")",
            "  ier=\(hex(u.ier, 2)) iir=\(hex(u.iir, 2)) lcr=\(hex(u.lcr, 2)) mcr=\(hex(u.mcr, 2)) lsr=\(hex(u.lsr, 2)) msr=\(hex(u.msr, 2)) scr=\(hex(u.scratch, 2))",
            "  FIFO \(u.fifoEnabled ? "on, trigger \(u.rxTriggerLevel)" : "off"), \(u.rxCount) byte(s) received and unread",
        ]
    }

    func ide() -> [String] {
        var lines: [String] = []
        for (k, channel) in board.ide.channels.enumerated() {
            let bm = channel.busMasterRegisters
            lines.append("\(k == 0 ? "primary" : "secondary") channel \(hex(channel.commandBase, 4))h/\(hex(channel.controlPort, 4))h: selected \(channel.selectedDevicePosition == .master ? "master" : "slave"); bus master cmd=\(hex(bm.command, 2)) status=\(hex(bm.status, 2)) prd=\(hex(bm.tablePointer, 8))")
            for position in IDEPosition.allCases {
                guard let d = channel.device(at: position) else {
                    lines.append("  \(position == .master ? "master" : "slave"): none"); continue
                }
                let s = d.snapshot
                lines.append("  \(position == .master ? "master" : "slave"): \(s.packetDevice ? "ATAPI" : "ATA") status=\(hex(s.status, 2)) error=\(hex(s.error, 2)) count=\(hex(s.sectorCount, 2)) lba=\(hex(s.lbaHigh, 2))\(hex(s.lbaMid, 2))\(hex(s.lbaLow, 2)) device=\(hex(s.device, 2)) control=\(hex(s.control, 2)) phase \(s.phase)\(s.dataRemaining > 0 ? " (\(s.dataRemaining) bytes left)" : "")\(s.interruptPending ? ", interrupt pending" : "")")
            }
        }
        return lines
    }

    func vga() -> [String] {
        let v = board.vga.snapshot
        let mode: String
        switch board.vga.mode {
        case .text(let columns, let rows, let w, let h): mode = "text \(columns)x\(rows), \(w)x\(h) cells"
        case .planar16(let w, let h): mode = "16-colour planar \(w)x\(h)"
        case .indexed256(let w, let h): mode = "256-colour \(w)x\(h)"
        case .vbe(let w, let h, let bpp): mode = "VBE \(w)x\(h)x\(bpp)"
        }
        func regs(_ r: [UInt8]) -> String { r.map { hex($0, 2) }.joined(separator: " ") }
        return [
            "mode: \(mode); misc output \(hex(v.miscOutput, 2)) (\(v.miscOutput & 1 != 0 ? "colour 3Dxh" : "mono 3Bxh")); start \(hex(v.startAddress, 4))h, cursor \(hex(v.cursorLocation, 4))h",
            "  sequencer: \(regs(v.sequencer))",
            "  graphics:  \(regs(v.graphics))",
            "  attribute: \(regs(v.attribute))",
            "  crtc:      \(regs(v.crtc))",
            "  vbe: \(v.vbeEnabled ? "enabled" : "disabled") \(v.vbeWidth)x\(v.vbeHeight)x\(v.vbeDepth) bank \(v.vbeBank) virtual width \(v.vbeVirtualWidth) offset \(v.vbeXOffset),\(v.vbeYOffset)",
        ]
    }
}

extension String {
    /// A rate with one decimal, without Foundation's formatting.
    init(format1 value: Double) {
        let tenths = Int((value * 10).rounded())
        self = "\(tenths / 10).\(tenths % 10)"
    }
}
