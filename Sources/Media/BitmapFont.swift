import Foundation

/// A built-in 5×7 bitmap font for printable ASCII (32…126) in a 6×8 cell (one blank column on the
/// right, one row below the baseline for the descenders of g, j, p, q, y), for rasterized plots and
/// labelled grids. The glyph shapes follow the common 5×7 LCD-controller font, with the descender
/// letters and "~" redrawn for the eighth row.
///
/// Text outside ASCII is first decomposed (NFD) and combining marks dropped, so "é" draws as "e"
/// and "ᾱ" as "a". Greek letters draw as a Latin look-alike, else a transliteration ("α" → "a",
/// "γ" → "y", "ε" → "e", "η" → "n", "θ" → "0", "μ" → "u", "π" → "p", "σ" → "s", capitals
/// likewise); sub- and superscript digits as plain digits ("t₀" → "t0"); dashes and the minus sign
/// as "-", "×" as "x", "·" as ".", "…" as "...", "≤"/"≥" as "<="/">=", "±" as "+-", "≈" as "~",
/// curly quotes as straight ones. Control characters are dropped; any other character draws as a
/// hollow box.
enum BitmapFont {
    static let cellWidth = 6
    static let cellHeight = 8

    /// Per glyph, five column bytes in hex (left to right; bit 0 is the top row), ASCII 32…126.
    private static let hex = [
        "0000000000 00005F0000 0007000700 147F147F14 242A7F2A12 2313086462 3649552250 0005030000",  // space ! " # $ % & '
        "001C224100 0041221C00 082A1C2A08 08083E0808 0050300000 0808080808 0060600000 2010080402",  // ( ) * + , - . /
        "3E5149453E 00427F4000 4261514946 2141454B31 1814127F10 2745454539 3C4A494930 0171090503",  // 0 1 2 3 4 5 6 7
        "3649494936 064949291E 0036360000 0056360000 0814224100 1414141414 0041221408 0201510906",  // 8 9 : ; < = > ?
        "324979413E 7E1111117E 7F49494936 3E41414122 7F4141221C 7F49494941 7F09090101 3E41415132",  // @ A B C D E F G
        "7F0808087F 00417F4100 2040413F01 7F08142241 7F40404040 7F0204027F 7F0408107F 3E4141413E",  // H I J K L M N O
        "7F09090906 3E4151215E 7F09192946 4649494931 01017F0101 3F4040403F 1F2040201F 7F2018207F",  // P Q R S T U V W
        "6314081463 0304780403 6151494543 007F414100 0204081020 0041417F00 0402010204 4040404040",  // X Y Z [ \ ] ^ _
        "0001020400 2054545478 7F48444438 3844444420 384444487F 3854545418 087E090102 18A4A4A47C",  // ` a b c d e f g
        "7F08040478 00447D4000 4080847D00 007F102844 00417F4000 7C04180478 7C08040478 3844444438",  // h i j k l m n o
        "FC24242418 18242424FC 7C08040408 4854545420 043F444020 3C4040207C 1C2040201C 3C4030403C",  // p q r s t u v w
        "4428102844 1CA0A0A07C 4464544C44 0008364100 00007F0000 0041360800 0804081008",  // x y z { | } ~
    ]

    /// 95 × 5 column bytes, then the fallback box.
    private static let columns: [UInt8] = {
        var bytes: [UInt8] = []
        for row in hex {
            for glyph in row.split(separator: " ") {
                var index = glyph.startIndex
                while index < glyph.endIndex {
                    let next = glyph.index(index, offsetBy: 2)
                    bytes.append(UInt8(glyph[index..<next], radix: 16)!)  // the literal table above
                    index = next
                }
            }
        }
        precondition(bytes.count == 95 * 5, "BitmapFont: the glyph table has \(bytes.count) bytes, not 475")
        return bytes + [0x7F, 0x41, 0x41, 0x41, 0x7F]
    }()

    /// The index of the fallback box among the glyphs.
    static let box = 95

    private static let substitutions: [Unicode.Scalar: String] = {
        var table: [Unicode.Scalar: String] = [
            "\u{2212}": "-", "\u{2010}": "-", "\u{2011}": "-", "\u{2012}": "-", "\u{2013}": "-", "\u{2014}": "-",
            "×": "x", "·": ".", "•": "*", "…": "...", "≤": "<=", "≥": ">=", "±": "+-", "≈": "~", "µ": "u",
            "\u{2018}": "'", "\u{2019}": "'", "\u{201C}": "\"", "\u{201D}": "\"", "\u{00A0}": " ",
            "¹": "1", "²": "2", "³": "3",
        ]
        let greek = Array("αβγδεζηθικλμνξοπρςστυφχψω".unicodeScalars)
        let latin = Array("abydezn0iklmuvxoprsstufxyw")
        for (letter, substitute) in zip(greek, latin) {
            table[letter] = String(substitute)
            if letter != "ς", let capital = Unicode.Scalar(letter.value - 0x20) {
                table[capital] = substitute.uppercased()
            }
        }
        for digit in 0..<10 {
            table[Unicode.Scalar(0x2080 + UInt32(digit))!] = String(digit)  // subscripts ₀…₉
            if digit == 0 || digit >= 4 { table[Unicode.Scalar(0x2070 + UInt32(digit))!] = String(digit) }
        }
        return table
    }()

    /// The glyph indices (0…94 for ASCII 32…126, `box` for anything else) that draw `text`.
    static func glyphs(_ text: String) -> [Int] {
        var result: [Int] = []
        for scalar in text.decomposedStringWithCanonicalMapping.unicodeScalars {
            let value = Int(scalar.value)
            if (32...126).contains(value) {
                result.append(value - 32)
            } else if let substitute = substitutions[scalar] {
                result += substitute.unicodeScalars.map { Int($0.value) - 32 }
            } else if value < 32 || (0x7F...0x9F).contains(value) || (0x300...0x36F).contains(value) {
                continue  // control characters and combining marks
            } else {
                result.append(box)
            }
        }
        return result
    }

    /// Whether the pixel at `column` (0…5) and `row` (0…7) of glyph `glyph` is ink.
    static func isInk(_ glyph: Int, column: Int, row: Int) -> Bool {
        column < 5 && columns[glyph * 5 + column] >> row & 1 == 1
    }

    /// The width in pixels of `text` drawn at `scale`, without the trailing blank column.
    static func width(_ text: String, scale: Int) -> Int {
        max(0, glyphs(text).count * cellWidth - 1) * scale
    }
}
