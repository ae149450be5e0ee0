/// The EFLAGS bits each integer instruction leaves undefined, from the
/// "Flags Affected" section of its page in the Intel SDM vol. 2 (quoted).
/// The differential test masks exactly these and compares every other
/// flag, so an instruction whose flags are all defined is held to the host
/// bit for bit. Instructions not listed here define every flag they touch.
enum UndefinedFlags {
    typealias F = EFLAGSBits

    /// AND, OR, XOR, TEST: "The OF and CF flags are cleared; the SF, ZF,
    /// and PF flags are set according to the result. The state of the AF
    /// flag is undefined."
    static let logic = F.af

    /// MUL, IMUL (one-, two- and three-operand forms): "The SF, ZF, AF, and
    /// PF flags are undefined."
    static let multiply = F.sf | F.zf | F.af | F.pf

    /// DIV, IDIV: "The CF, OF, SF, ZF, AF, and PF flags are undefined."
    static let divide = F.status

    /// AAA, AAS: "The OF, SF, ZF, and PF flags are undefined."
    static let asciiAdjust = F.of | F.sf | F.zf | F.pf

    /// AAM, AAD: "The OF, AF, and CF flags are undefined."
    static let asciiMultiplyDivide = F.of | F.af | F.cf

    /// DAA, DAS: "The OF flag is undefined."
    static let decimalAdjust = F.of

    /// BT, BTS, BTR, BTC: "The ZF flag is unaffected. The OF, SF, AF, and
    /// PF flags are undefined."
    static let bitTest = F.of | F.sf | F.af | F.pf

    /// BSF, BSR: "The CF, OF, SF, AF, and PF flags are undefined." (ZF is
    /// defined; the destination is undefined when the source is 0, which the
    /// generator marks separately.)
    static let bitScan = F.cf | F.of | F.sf | F.af | F.pf

    /// SAL/SAR/SHL/SHR with `count` already masked to 5 bits, on an operand
    /// of `width` bits: "If the count is 0, the flags are not affected. …
    /// The OF flag is affected only on 1-bit shifts … otherwise, it is
    /// undefined. … For a non-zero count, the AF flag is undefined. … The CF
    /// flag is undefined for SHL and SHR instructions where the count is
    /// greater than or equal to the size (in bits) of the destination."
    static func shift(count: UInt32, width: UInt32, isSAR: Bool) -> UInt32 {
        if count == 0 { return 0 }
        var u = F.af
        if count != 1 { u |= F.of }
        if !isSAR && count >= width { u |= F.cf }
        return u
    }

    /// ROL/ROR/RCL/RCR with `count` masked to 5 bits: "The OF flag is
    /// defined only for the 1-bit rotates; it is undefined in all other
    /// cases (except RCL and RCR instructions only: a zero-bit rotate does
    /// nothing, that is affects no flags)." ROL/ROR with a zero count also
    /// leave CF and OF alone (the operation section tests COUNT AND
    /// COUNTMASK ≠ 0 before writing either).
    static func rotate(count: UInt32) -> UInt32 {
        count == 0 || count == 1 ? 0 : F.of
    }

    /// SHLD/SHRD with `count` masked to 5 bits on `width`-bit operands: "If
    /// the count operand is 0, the flags are not affected. … For a 1-bit
    /// shift, the OF flag is set if a sign change occurred; otherwise, it is
    /// cleared. For shifts greater than 1 bit, the OF flag is undefined. If
    /// a shift occurs, the AF flag is undefined. … If the count is greater
    /// than the operand size, the flags are undefined" (and so is the
    /// destination, which the generator marks).
    static func doubleShift(count: UInt32, width: UInt32) -> UInt32 {
        if count == 0 { return 0 }
        if count > width { return F.status }
        return count == 1 ? F.af : F.af | F.of
    }
}
