// PLACEHOLDER — being written by the decoder helper; replaced wholesale.
public enum Decoder {
    public static func decode(_ bytes: UnsafePointer<UInt8>, count: Int, default32: Bool) -> Instruction { Instruction() }
}
