import CPU
import Devices
import MMU

/// The PC's chipset and ISA devices, wired as QEMU's "pc" machine wires
/// them (so SeaBIOS finds what it expects):
///
///   PCI 00:00.0  i440FX host bridge (PAM shadowing of C0000–FFFFF)
///   PCI 00:01.0  PIIX3 ISA bridge (PIRQ routing)
///   PCI 00:01.1  PIIX3 IDE (compatibility mode: 1F0h/3F6h IRQ 14, 170h/376h IRQ 15)
///   PCI 00:02.0  VGA with Bochs VBE (1234:1111), its ROM in the ROM BAR
///   ISA          PIC pair, PIT + port 61h, RTC/CMOS, 8042, COM1, port 92h,
///                CF9h reset, POST port 80h, debug console, fw_cfg
///   IRQs         0 PIT, 1 keyboard, 4 COM1, 8 RTC, 12 mouse, 13 FPU error,
///                14/15 IDE channels
public final class Motherboard: InterruptAcknowledge {
    public let pic = ProgrammableInterruptController()
    public let pit: ProgrammableIntervalTimer
    public let portB: SystemControlPortB
    public let rtc: RealTimeClock
    public let ps2: PS2Controller
    public let portA = SystemControlPortA()
    public let resetControl = ResetControlRegister()
    public let uart: UART16550
    public let post = POSTCodePort()
    public let debugConsole = DebugConsole()
    public let firmwareConfig: FirmwareConfig
    public let pci = PCIBus()
    public let hostBridge: I440FXHostBridge
    public let isaBridge: PIIX3ISABridge
    /// Drives are attached by the machine from its configuration.
    public let ide: PIIX3IDEController
    public let vga: VGA
    public let vgaPCI: VGAPCIFunction
    private let timed: [TimedDevice]

    /// The earliest time any timer device needs attention.
    public private(set) var nextDeadline: UInt64 = 0
    public var onResetRequest: (() -> Void)?
    private let memory: PhysicalMemory
    private let ramSize: Int
    /// The CMOS boot order SeaBIOS falls back on without a `bootorder` file.
    public var bootOrder: [RealTimeClock.BootDevice] = [.cdrom, .hardDisk] {
        didSet { rtc.configure(ramBelow4G: UInt64(ramSize), bootOrder: bootOrder, checkFloppySignature: false) }
    }

    init(memory: PhysicalMemory, ioBus: IOBus, clock: MachineClock, bios: [UInt8], vgaBIOS: [UInt8], ramSize: Int, clockBase: Int64?) {
        self.memory = memory
        self.ramSize = ramSize
        pit = ProgrammableIntervalTimer(clock: clock, irq0: InterruptLine(pic, 0))
        portB = SystemControlPortB(pit: pit, clock: clock)
        rtc = RealTimeClock(clock: clock, irq: InterruptLine(pic, 8), startTime: clockBase)
        ps2 = PS2Controller(keyboardIRQ: InterruptLine(pic, 1), mouseIRQ: InterruptLine(pic, 12))
        uart = UART16550(base: 0x3F8, irq: InterruptLine(pic, 4), clock: clock)
        firmwareConfig = FirmwareConfig(memory: memory, ramSize: UInt64(ramSize))

        // The BIOS image sits at the top of the 4 GiB space; its last
        // 128 KiB also answer below 1 MiB while PAM routes reads to ROM.
        let biosOffset = memory.addROM(bios)
        memory.mapROM(at: UInt32(truncatingIfNeeded: 0x1_0000_0000 - UInt64(bios.count)), size: UInt32(bios.count), romOffset: biosOffset)
        hostBridge = I440FXHostBridge(memory: memory, romSource: I440FXHostBridge.biosWindow(arenaOffset: biosOffset, imageSize: bios.count))
        isaBridge = PIIX3ISABridge(interrupts: pic)
        ide = PIIX3IDEController(memory: memory, interrupts: pic)
        vga = VGA(memory: memory, clock: clock)
        vgaPCI = VGAPCIFunction(vga: vga, memory: memory, vgaBIOS: vgaBIOS)
        timed = [pit, rtc, uart]

        pci.attach(hostBridge, slot: 0)
        pci.attach(isaBridge, slot: 1)
        pci.attach(ide, slot: 1, function: 1)
        pci.attach(vgaPCI, slot: 2)

        pic.register(on: ioBus); pit.register(on: ioBus); portB.register(on: ioBus)
        rtc.register(on: ioBus); ps2.register(on: ioBus); portA.register(on: ioBus)
        uart.register(on: ioBus); post.register(on: ioBus); debugConsole.register(on: ioBus)
        firmwareConfig.register(on: ioBus); vga.register(on: ioBus); ide.register(on: ioBus)
        ioBus.register(pci, ports: 0xCF8...0xCFF)
        resetControl.register(on: ioBus)   // after the PCI bus: byte writes to CF9 are the reset register

        rtc.configure(ramBelow4G: UInt64(ramSize), bootOrder: bootOrder, checkFloppySignature: false)
        firmwareConfig.addFile("etc/e820", FirmwareConfig.e820Table([
            .init(address: 0, length: UInt64(ramSize), type: .ram),
        ]))

        let a20 = { [unowned self] (_: Bool) in
            self.memory.a20Mask = (self.ps2.a20Enabled || self.portA.a20Enabled) ? 0xFFFF_FFFF : ~UInt32(1 << 20)
        }
        ps2.onA20Change = a20
        portA.onA20Change = a20
        ps2.onResetRequest = { [unowned self] in self.onResetRequest?() }
        portA.onResetRequest = { [unowned self] in self.onResetRequest?() }
        resetControl.onResetRequest = { [unowned self] _ in self.onResetRequest?() }
        for device in timed {
            device.onReschedule = { [unowned self] deadline in self.nextDeadline = min(self.nextDeadline, deadline) }
        }
        a20(true)
    }

    // MARK: - Interrupts

    /// The PIC's INTR output.
    public var interruptPending: Bool { pic.hasPendingInterrupt }

    public func acknowledgeInterrupt() -> UInt8 { pic.acknowledge() }

    /// Raises or lowers IRQ13 (the x87 FERR# line in PC wiring).
    public func fpuError(_ asserted: Bool) { pic.setIRQ(13, asserted) }

    // MARK: - Time

    /// Runs every timer device up to `now`; returns the next deadline.
    public func advanceTimers(to now: UInt64) -> UInt64 {
        var next = UInt64.max
        nextDeadline = .max
        for device in timed { next = min(next, device.advance(to: now)) }
        nextDeadline = min(nextDeadline, next)
        return nextDeadline
    }

    // MARK: - Reset

    /// The chipset's power-on state; RAM keeps its contents.
    public func reset() {
        pic.reset(); pit.reset(); rtc.reset(); ps2.reset(); portA.reset(); resetControl.reset()
        uart.reset(); firmwareConfig.reset(); hostBridge.reset(); isaBridge.reset(); ide.reset()
        memory.a20Mask = (ps2.a20Enabled || portA.a20Enabled) ? 0xFFFF_FFFF : ~UInt32(1 << 20)
        nextDeadline = 0
    }
}
