/// Text as runs of normal and subscript characters: a single letter or digit after `_` that
/// follows a single letter (`t_c`, `x_0`, standing alone as a word) is a subscript, as is
/// everything in `_{…}`; other underscores (`is_mean`) stay as they are.
struct PlotText: Equatable {
    struct Run: Equatable {
        var text: String
        var isSubscript: Bool
    }

    var runs: [Run]

    /// The characters as shown, without the markup.
    var plain: String { runs.map(\.text).joined() }

    init(_ text: String) {
        let characters = Array(text)
        var runs: [Run] = []
        func append(_ c: Character, _ sub: Bool) {
            if let last = runs.last, last.isSubscript == sub { runs[runs.count - 1].text.append(c) } else {
                runs.append(Run(text: String(c), isSubscript: sub))
            }
        }
        func isWordCharacter(_ i: Int) -> Bool {
            characters.indices.contains(i) && (characters[i].isLetter || characters[i].isNumber)
        }
        var i = 0
        while i < characters.count {
            let c = characters[i]
            if c == "_", i + 1 < characters.count, characters[i + 1] == "{",
               let close = characters[(i + 2)...].firstIndex(of: "}") {
                for s in characters[(i + 2)..<close] { append(s, true) }
                i = close + 1
                continue
            }
            if c == "_", isWordCharacter(i - 1), !isWordCharacter(i - 2), characters[i - 1].isLetter,
               isWordCharacter(i + 1), !isWordCharacter(i + 2) {
                append(characters[i + 1], true)
                i += 2
                continue
            }
            append(c, false)
            i += 1
        }
        self.runs = runs
    }
}
