/// IBM code page 437, the character set of the VGA's ROM font: what a byte
/// in text-mode memory looks like on screen, as Unicode. The control range
/// shows its graphic symbols (☺, ♥, ►, …) as the font draws them; byte 0
/// is a blank cell and shows as a space.
public enum CodePage437 {
    public static let characters: [Character] = Array(
        " ☺☻♥♦♣♠•◘○◙♂♀♪♫☼►◄↕‼¶§▬↨↑↓→←∟↔▲▼"
        + " !\"#$%&'()*+,-./0123456789:;<=>?"
        + "@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_"
        + "`abcdefghijklmnopqrstuvwxyz{|}~⌂"
        + "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒ"
        + "áíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐"
        + "└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀"
        + "αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u{00A0}")

    /// The character byte `code` shows.
    public static func character(_ code: UInt8) -> Character { characters[Int(code)] }
}
