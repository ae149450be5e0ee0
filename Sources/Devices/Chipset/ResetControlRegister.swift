/// The PIIX3 reset control register at port CF9h. Bit 2 (RCPU) going
/// from 0 to 1 resets the system; bit 1 (SRST) picks a hard reset of the
/// whole system over a soft one (INIT); PIIX4 added bit 3 for a full reset
/// including power. Writing 06h or 0Eh, what Linux's `reboot=pci` and
/// SeaBIOS do, therefore resets. The machine resets everything either way
/// and learns which kind through `onResetRequest`.
///
/// CF9h sits inside the PCI configuration address window: register this
/// device after the `PCIBus`, so byte accesses to CF9h land here while
/// 32-bit accesses at CF8h still reach the PCI address register.
public final class ResetControlRegister: PortDevice {
    public enum Kind: Sendable { case soft, hard }

    private var value: UInt8 = 0
    public var onResetRequest: ((Kind) -> Void)?

    public init() {}

    public func reset() { value = 0 }

    public func register(on bus: IOBus) {
        bus.register(self, ports: [0xCF9])
    }

    public func portRead(_ port: UInt16, size: Int) -> UInt32 { UInt32(value) }

    public func portWrite(_ port: UInt16, size: Int, value newValue: UInt32) {
        let v = UInt8(truncatingIfNeeded: newValue) & 0x0E
        value = v & 0x0A
        // RCPU clears itself with the reset, so every write with it set is a 0→1 transition.
        if v & 0x04 != 0 {
            onResetRequest?(v & 0x0A != 0 ? .hard : .soft)
        }
    }
}
