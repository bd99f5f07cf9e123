import Foundation

/// The ids of one prompt, padded or truncated to the tokenizer's length.
public struct CLIPTokens: Sendable, Equatable {
    public var ids: [Int]
    /// The text truncation removed, decoded as diffusers' StableDiffusionPipeline warns with it
    /// (`tokenizer.batch_decode(untruncated_ids[:, max_length - 1 : -1])`); nil when nothing was removed.
    public var droppedText: String?

    public init(ids: [Int], droppedText: String? = nil) {
        self.ids = ids
        self.droppedText = droppedText
    }
}

/// Why a tokenizer folder could not be read; every case names the file.
public enum CLIPTokenizerError: Error, LocalizedError, Equatable {
    case missingFile(path: String, hint: String)
    case unreadable(path: String, reason: String)
    case invalidFile(path: String, reason: String)

    public var errorDescription: String? {
        switch self {
        case let .missingFile(path, hint): "\(path) does not exist; \(hint)"
        case let .unreadable(path, reason): "cannot read \(path): \(reason)"
        case let .invalidFile(path, reason): "\(path): \(reason)"
        }
    }
}

/// transformers 5.23 `CLIPTokenizer` (models/clip/tokenization_clip.py, backed by Hugging Face
/// tokenizers) called as diffusers calls it: `tokenizer(prompt, padding="max_length",
/// max_length=tokenizer.model_max_length, truncation=True)`. In order:
///
/// 1. Added tokens (`<|startoftext|>`, `<|endoftext|>`, the pad token, …) are split out first:
///    those with `normalized: false` on the raw text, then the others on the normalized text
///    (tokenizers' `AddedVocabulary`, leftmost-longest). Stable Diffusion 2's pad token `"!"` is
///    such a token, so every `!` in a prompt becomes id 0 (diffusers issue 4153).
/// 2. The rest is normalized: NFC (`nfc`), every run of white space (Unicode White_Space) → one space,
///    lowercase (each character's full lowercase mapping, no context: Σ → σ).
/// 3. CLIP's split: `<|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`,
///    the white space between matches dropped; then the `ByteLevel` pre-tokenizer's GPT-2 regex,
///    which only cuts a `<|startoftext|>` / `<|endoftext|>` piece that was not an added token.
/// 4. Each word's UTF-8 bytes go through CLIP's byte→unicode map and BPE with `</w>`
///    (`BytePairEncoding`).
/// 5. `[BOS] + ids + [EOS]`, the ids cut to `maxLength − 2` (EOS kept last), padded with the pad
///    id to `maxLength`.
///
/// No ftfy or HTML unescape (open_clip has both; transformers does not). Parity:
/// Tests/ModelsTests/CLIPTokenizerTests.swift against tools/make_clip_goldens.py, both layouts.
public struct CLIPTokenizer: Sendable {
    /// `model_max_length` (77 for every CLIP).
    public let maxLength: Int
    public let bosID: Int
    public let eosID: Int
    public let padID: Int
    /// Pad on the left (`padding_side: "left"`) instead of the right.
    public let padsLeft: Bool
    let bpe: BytePairEncoding
    /// Added tokens matched on the raw text, and on the normalized text.
    let rawAddedTokens: [AddedToken]
    let normalizedAddedTokens: [AddedToken]
    /// Id → text of the added tokens (for decoding).
    let addedTokenTexts: [Int: String]

    struct AddedToken: Sendable {
        var content: [Unicode.Scalar]
        var id: Int
    }

    /// A tokenizer folder (diffusers' `tokenizer/`): `tokenizer.json` (+ `tokenizer_config.json`),
    /// as transformers 5 saves it, or `vocab.json` + `merges.txt` (+ `special_tokens_map.json`,
    /// `tokenizer_config.json`), as published checkpoints ship it. `tokenizer.json` is read when
    /// present, as transformers does. Special tokens come from `tokenizer_config.json`, then
    /// `special_tokens_map.json` when the config has no `added_tokens_decoder` (the map wins, as
    /// in 5.23: Stable Diffusion 2's config names pad `<|endoftext|>`, its map `"!"`), with
    /// CLIPTokenizer's defaults for the ones neither names. Added tokens: tokenizer.json's
    /// `added_tokens`, the config's `added_tokens_decoder`, then the special tokens.
    public init(directory: URL) throws {
        let manager = FileManager.default
        let json = directory.appendingPathComponent("tokenizer.json")
        let vocabURL = directory.appendingPathComponent("vocab.json")
        let mergesURL = directory.appendingPathComponent("merges.txt")
        let configURL = directory.appendingPathComponent("tokenizer_config.json")
        let mapURL = directory.appendingPathComponent("special_tokens_map.json")
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CLIPTokenizerError.missingFile(path: directory.path, hint: "expected a tokenizer folder")
        }
        let config = manager.fileExists(atPath: configURL.path) ? try Self.object(configURL) : [:]
        let hasJSON = manager.fileExists(atPath: json.path)
        // transformers 5.23 `from_pretrained`: special_tokens_map.json is read (and overrides the
        // config) only when the config has no `added_tokens_decoder`.
        var specials = SpecialTokens()
        try specials.read(config, path: configURL.path)
        let decoder = config["added_tokens_decoder"]
        if decoder == nil, manager.fileExists(atPath: mapURL.path) { try specials.read(try Self.object(mapURL), path: mapURL.path) }

        let vocabulary: [String: Int]
        let merges: [(String, String)]
        var added: [SpecialToken] = []
        if hasJSON {
            let root = try Self.object(json)
            guard let model = root["model"] as? [String: Any] else {
                throw CLIPTokenizerError.invalidFile(path: json.path, reason: "no \"model\" object")
            }
            guard model["type"] as? String == "BPE" else {
                throw CLIPTokenizerError.invalidFile(path: json.path, reason: "model.type is \(Self.quote(model["type"])), expected \"BPE\" (a CLIP tokenizer)")
            }
            let suffix = model["end_of_word_suffix"] as? String
            guard suffix == BytePairEncoding.endOfWord else {
                throw CLIPTokenizerError.invalidFile(path: json.path, reason: "model.end_of_word_suffix is \(Self.quote(suffix)), expected \"</w>\" (a CLIP tokenizer)")
            }
            vocabulary = try Self.vocabulary(model["vocab"], path: json.path, key: "model.vocab")
            merges = try Self.merges(json: model["merges"], path: json.path)
            guard let list = (root["added_tokens"] ?? []) as? [[String: Any]] else {
                throw CLIPTokenizerError.invalidFile(path: json.path, reason: "added_tokens is not a list of objects")
            }
            for entry in list {
                guard var token = try SpecialToken(entry, path: json.path, key: "added_tokens"),
                      let id = entry["id"].flatMap(Self.integer), id >= 0 else {
                    throw CLIPTokenizerError.invalidFile(path: json.path, reason: "an added token lacks its content or id: \(Self.quote(entry))")
                }
                token.id = id
                added.append(token)
            }
        } else {
            guard manager.fileExists(atPath: vocabURL.path) else {
                throw CLIPTokenizerError.missingFile(path: vocabURL.path, hint: "a CLIP tokenizer folder holds tokenizer.json, or vocab.json and merges.txt")
            }
            guard manager.fileExists(atPath: mergesURL.path) else {
                throw CLIPTokenizerError.missingFile(path: mergesURL.path, hint: "vocab.json needs its merges.txt beside it")
            }
            vocabulary = try Self.vocabulary(try Self.object(vocabURL), path: vocabURL.path, key: "the top level")
            merges = try Self.merges(text: Self.read(mergesURL), path: mergesURL.path)
        }
        if let decoder {
            guard let entries = decoder as? [String: Any] else {
                throw CLIPTokenizerError.invalidFile(path: configURL.path, reason: "added_tokens_decoder is not an object of id → added token")
            }
            for (key, value) in entries {
                guard let id = Int(key), id >= 0,
                      var token = try SpecialToken(value, path: configURL.path, key: "added_tokens_decoder[\(key)]"),
                      value is [String: Any] else {
                    throw CLIPTokenizerError.invalidFile(path: configURL.path, reason: "added_tokens_decoder[\(key)] is not an added token")
                }
                token.id = id
                if !added.contains(where: { $0.content == token.content }) { added.append(token) }
            }
        }
        // CLIPTokenizer adds its special tokens (CLIP's defaults where no file names them); an
        // added token of the same text keeps its own flags and id.
        let vocabularyPath = hasJSON ? json.path : vocabURL.path
        for token in [specials.bos, specials.eos, specials.unk, specials.pad]
        where !added.contains(where: { $0.content == token.content }) {
            guard let id = vocabulary[token.content] else {
                throw CLIPTokenizerError.invalidFile(path: token.source ?? vocabularyPath,
                                                     reason: "\(token.key) \"\(token.content)\" is neither an added token nor in the vocabulary of \(vocabularyPath)")
            }
            var withID = token
            withID.id = id
            added.append(withID)
        }
        let source = vocabularyPath
        do {
            bpe = try BytePairEncoding(vocabulary: vocabulary, merges: merges, unknownToken: specials.unk.content)
        } catch let problem as BytePairEncoding.Problem {
            switch problem {
            case let .mergeOutOfVocabulary(index, token):
                throw CLIPTokenizerError.invalidFile(path: hasJSON ? json.path : mergesURL.path,
                                                     reason: "merge \(index + 1) needs \"\(token)\", which the vocabulary (\(vocabularyPath)) lacks")
            case let .idOutOfRange(token, id):
                throw CLIPTokenizerError.invalidFile(path: source, reason: "\"\(token)\" has id \(id), expected 0...\(Int32.max)")
            }
        }
        func id(of token: SpecialToken) -> Int { added.first { $0.content == token.content }?.id ?? -1 }
        bosID = id(of: specials.bos)
        eosID = id(of: specials.eos)
        padID = id(of: specials.pad)
        maxLength = specials.maxLength ?? 77
        padsLeft = specials.padsLeft
        // Longest first: a leftmost-longest match then only needs the first hit at a position.
        let sorted = added.filter { !$0.content.isEmpty }.sorted { $0.content.unicodeScalars.count > $1.content.unicodeScalars.count }
        rawAddedTokens = sorted.filter { !$0.normalized }.map { AddedToken(content: Array($0.content.unicodeScalars), id: $0.id) }
        normalizedAddedTokens = sorted.filter(\.normalized).map {
            AddedToken(content: Self.normalize(Array($0.content.unicodeScalars)), id: $0.id)
        }
        var texts: [Int: String] = [:]
        for token in added { texts[token.id] = token.content }
        addedTokenTexts = texts
    }

    /// The number of token ids (49 408 for CLIP).
    public var vocabularySize: Int { bpe.vocabulary.count }

    /// The prompt's ids: `[BOS] + tokens + [EOS]`, cut to `maxLength` (EOS kept) and padded.
    public func encode(_ text: String) -> CLIPTokens {
        let body = tokenize(text)
        let room = max(0, maxLength - 2)
        let ids = [bosID] + body.prefix(room) + [eosID]
        let dropped = body.count > room ? decode(Array(body[room...])) : nil
        let padding = [Int](repeating: padID, count: maxLength - ids.count)
        return CLIPTokens(ids: padsLeft ? padding + ids : ids + padding, droppedText: dropped)
    }

    /// The ids of `text` without BOS, EOS, truncation or padding.
    public func tokenize(_ text: String) -> [Int] {
        var ids: [Int] = []
        for segment in Self.split(Array(text.unicodeScalars), on: rawAddedTokens) {
            switch segment {
            case .token(let id): ids.append(id)
            case .text(let raw):
                for inner in Self.split(Self.normalize(raw), on: normalizedAddedTokens) {
                    switch inner {
                    case .token(let id): ids.append(id)
                    case .text(let normalized):
                        for piece in Self.preTokenize(normalized) {
                            for word in Self.byteLevelSplit(piece) {
                                var text = String.UnicodeScalarView()
                                text.append(contentsOf: word)
                                ids += bpe.encode(word: String(text))
                            }
                        }
                    }
                }
            }
        }
        return ids
    }

    /// transformers' `decode` for this tokenizer: the tokens' texts joined, bytes restored,
    /// `</w>` read as a space, the result stripped of white space (special tokens kept).
    public func decode(_ ids: [Int]) -> String {
        let tokens = ids.compactMap { addedTokenTexts[$0] ?? bpe.tokens[$0] }
        return ByteLevel.decode(tokens).replacingOccurrences(of: BytePairEncoding.endOfWord, with: " ")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    // MARK: - Normalization and splitting

    /// NFC, white-space runs → one space, lowercase (tokenizers' `NFC`, `Replace(\s+, " ")`, `Lowercase`).
    static func normalize(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        let composed = nfc(scalars)
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(composed.count)
        var inSpace = false
        for scalar in composed {
            if scalar.properties.isWhitespace {
                if !inSpace { out.append(" ") }
                inSpace = true
                continue
            }
            inSpace = false
            out.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
        }
        return out
    }

    /// NFC, by the standard library's normalizer (`String._nfcCodeUnits`, what String comparison
    /// uses). Not Foundation's `precomposedStringWithCanonicalMapping`: on Linux (Swift 6.3) it
    /// composes an astral character by the low 16 bits of its code point (U+11F04 U+0345 comes
    /// back as U+1F84, U+E03D2 U+0301 as U+03D3), which transformers' NFC does not.
    static func nfc(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        if scalars.allSatisfy(\.isASCII) { return scalars }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return Array(String(decoding: String(view)._nfcCodeUnits, as: UTF8.self).unicodeScalars)
    }

    enum Segment { case text([Unicode.Scalar]), token(Int) }

    /// Splits at the added tokens, leftmost-longest (`tokens` sorted longest first).
    static func split(_ text: [Unicode.Scalar], on tokens: [AddedToken]) -> [Segment] {
        guard !tokens.isEmpty else { return text.isEmpty ? [] : [.text(text)] }
        var segments: [Segment] = []
        var start = 0, i = 0
        while i < text.count {
            if let token = tokens.first(where: { matches($0.content, in: text, at: i) }) {
                if start < i { segments.append(.text(Array(text[start..<i]))) }
                segments.append(.token(token.id))
                i += token.content.count
                start = i
            } else {
                i += 1
            }
        }
        if start < text.count { segments.append(.text(Array(text[start...]))) }
        return segments
    }

    private static func matches(_ token: [Unicode.Scalar], in text: [Unicode.Scalar], at i: Int) -> Bool {
        guard i + token.count <= text.count else { return false }
        for (k, scalar) in token.enumerated() where text[i + k] != scalar { return false }
        return true
    }

    /// The regex's literal alternatives, in its order.
    private static let contractions: [[Unicode.Scalar]] = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"].map { Array($0.unicodeScalars) }
    private static let fixedWords: [[Unicode.Scalar]] = ["<|startoftext|>", "<|endoftext|>"].map { Array($0.unicodeScalars) }
        + contractions

    /// CLIP's pre-tokenizer regex, matched left to right with the alternatives in order; what
    /// no alternative matches (white space) is dropped.
    static func preTokenize(_ text: [Unicode.Scalar]) -> [ArraySlice<Unicode.Scalar>] {
        var pieces: [ArraySlice<Unicode.Scalar>] = []
        var i = 0
        while i < text.count {
            if let word = fixedWords.first(where: { matches($0, in: text, at: i) }) {
                pieces.append(text[i..<(i + word.count)])
                i += word.count
                continue
            }
            let scalar = text[i]
            if isLetter(scalar) {
                var j = i + 1
                while j < text.count, isLetter(text[j]) { j += 1 }
                pieces.append(text[i..<j])
                i = j
            } else if isNumber(scalar) {
                pieces.append(text[i...i])
                i += 1
            } else if !scalar.properties.isWhitespace {
                var j = i + 1
                while j < text.count, !isLetter(text[j]), !isNumber(text[j]), !text[j].properties.isWhitespace { j += 1 }
                pieces.append(text[i..<j])
                i = j
            } else {
                i += 1
            }
        }
        return pieces
    }

    /// The GPT-2 regex the `ByteLevel` pre-tokenizer (`use_regex: true`) applies to each piece:
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`. Pieces of CLIP's
    /// split hold no white space and pass whole, except `<|startoftext|>` and `<|endoftext|>`
    /// (when not added tokens), which it cuts into `<|`, the letters and `|>`.
    static func byteLevelSplit(_ piece: ArraySlice<Unicode.Scalar>) -> [ArraySlice<Unicode.Scalar>] {
        let text = Array(piece)
        var words: [ArraySlice<Unicode.Scalar>] = []
        var k = 0
        while k < text.count {
            if let word = contractions.first(where: { matches($0, in: text, at: k) }) {
                words.append(text[k..<(k + word.count)])
                k += word.count
                continue
            }
            let start = k
            let sameKind: (Unicode.Scalar) -> Bool
            if isLetter(text[k]) {
                sameKind = isLetter
            } else if isNumber(text[k]) {
                sameKind = isNumber
            } else if text[k].properties.isWhitespace {
                sameKind = { $0.properties.isWhitespace }
            } else {
                sameKind = { !isLetter($0) && !isNumber($0) && !$0.properties.isWhitespace }
            }
            k += 1
            while k < text.count, sameKind(text[k]) { k += 1 }
            words.append(text[start..<k])
        }
        return words
    }

    /// The Unicode version of tokenizers 0.23's regex tables (its Oniguruma; measured: Unicode 16.0
    /// letters are `\p{L}`, 17.0 ones are not). Characters assigned later are treated as
    /// unassigned by its regex, as transformers 5.23 treats them: neither letters nor numbers
    /// (its lowercasing, Rust's `char::to_lowercase`, knows them, as Swift's tables do).
    static let unicodeVersion = (major: 16, minor: 0)

    static func isKnown(_ s: Unicode.Scalar) -> Bool {
        guard let age = s.properties.age else { return false }
        return (age.major, age.minor) <= unicodeVersion
    }

    /// `\p{L}`.
    static func isLetter(_ s: Unicode.Scalar) -> Bool {
        guard isKnown(s) else { return false }
        return switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: true
        default: false
        }
    }

    /// `\p{N}`.
    static func isNumber(_ s: Unicode.Scalar) -> Bool {
        guard isKnown(s) else { return false }
        return switch s.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: true
        default: false
        }
    }

    // MARK: - Reading the files

    struct SpecialToken {
        var content: String
        var normalized: Bool
        var id = -1
        /// The file and key that named it (nil: CLIPTokenizer's default).
        var source: String?
        var key = "special token"

        init(content: String, normalized: Bool, key: String) {
            self.content = content
            self.normalized = normalized
            self.key = key
        }

        /// A token written as a string (`normalized` false, as transformers adds special tokens)
        /// or as an `AddedToken` object; nil for JSON null.
        init?(_ value: Any?, path: String, key: String) throws {
            if value == nil || value is NSNull { return nil }
            source = path
            self.key = key
            if let text = value as? String {
                content = text
                normalized = false
                return
            }
            guard let object = value as? [String: Any], let text = object["content"] as? String else {
                throw CLIPTokenizerError.invalidFile(path: path, reason: "\(key) is \(CLIPTokenizer.quote(value)), expected a string or an object with \"content\"")
            }
            for flag in ["lstrip", "rstrip", "single_word"] where (object[flag] as? Bool) == true {
                throw CLIPTokenizerError.invalidFile(path: path, reason: "\(key) \"\(text)\" sets \(flag), which skipstep's CLIP tokenizer does not support")
            }
            content = text
            normalized = object["normalized"] as? Bool ?? false
        }
    }

    struct SpecialTokens {
        /// CLIPTokenizer's defaults: `<|startoftext|>`, `<|endoftext|>` for the others, not normalized.
        var bos = SpecialToken(content: "<|startoftext|>", normalized: false, key: "bos_token")
        var eos = SpecialToken(content: "<|endoftext|>", normalized: false, key: "eos_token")
        var unk = SpecialToken(content: "<|endoftext|>", normalized: false, key: "unk_token")
        var pad = SpecialToken(content: "<|endoftext|>", normalized: false, key: "pad_token")
        var maxLength: Int?
        var padsLeft = false

        mutating func read(_ object: [String: Any], path: String) throws {
            if let token = try SpecialToken(object["bos_token"], path: path, key: "bos_token") { bos = token }
            if let token = try SpecialToken(object["eos_token"], path: path, key: "eos_token") { eos = token }
            if let token = try SpecialToken(object["unk_token"], path: path, key: "unk_token") { unk = token }
            if let token = try SpecialToken(object["pad_token"], path: path, key: "pad_token") { pad = token }
            if let value = object["model_max_length"] {
                guard let number = CLIPTokenizer.integer(value), number >= 2, number <= 1_000_000 else {
                    throw CLIPTokenizerError.invalidFile(path: path, reason: "model_max_length is \(CLIPTokenizer.quote(value)), expected an integer in 2...1000000 (77 for CLIP)")
                }
                maxLength = number
            }
            if let value = object["padding_side"] {
                switch value as? String {
                case "right": padsLeft = false
                case "left": padsLeft = true
                default: throw CLIPTokenizerError.invalidFile(path: path, reason: "padding_side is \(CLIPTokenizer.quote(value)), expected \"right\" or \"left\"")
                }
            }
            if let value = object["truncation_side"], value as? String != "right" {
                throw CLIPTokenizerError.invalidFile(path: path, reason: "truncation_side is \(CLIPTokenizer.quote(value)); only \"right\" is supported (diffusers keeps the prompt's start)")
            }
        }
    }

    static func read(_ url: URL) throws -> Data {
        do {
            return try Data(contentsOf: url)
        } catch {
            throw CLIPTokenizerError.unreadable(path: url.path, reason: (error as NSError).localizedFailureReason ?? error.localizedDescription)
        }
    }

    static func object(_ url: URL) throws -> [String: Any] {
        let data = try read(url)
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            let detail = (error as NSError).userInfo["NSDebugDescription"] as? String ?? "\(error)"
            throw CLIPTokenizerError.invalidFile(path: url.path, reason: "not valid JSON (\(detail))")
        }
        guard let object = parsed as? [String: Any] else {
            throw CLIPTokenizerError.invalidFile(path: url.path, reason: "expected a JSON object")
        }
        return object
    }

    static func vocabulary(_ value: Any?, path: String, key: String) throws -> [String: Int] {
        guard let object = value as? [String: Any], !object.isEmpty else {
            throw CLIPTokenizerError.invalidFile(path: path, reason: "\(key) is not a non-empty object of token → id")
        }
        var vocabulary: [String: Int] = [:]
        vocabulary.reserveCapacity(object.count)
        for (token, id) in object {
            guard let number = integer(id), number >= 0, number <= Int(Int32.max) else {
                throw CLIPTokenizerError.invalidFile(path: path, reason: "\(key): \"\(token)\" has id \(quote(id)), expected an integer ≥ 0")
            }
            vocabulary[token] = number
        }
        return vocabulary
    }

    /// merges.txt: an optional `#version` line, then one `left right` pair a line.
    static func merges(text data: Data, path: String) throws -> [(String, String)] {
        guard let text = String(data: data, encoding: .utf8) else {
            throw CLIPTokenizerError.invalidFile(path: path, reason: "not UTF-8 text")
        }
        var merges: [(String, String)] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.hasSuffix("\r") ? line.dropLast() : line
            if trimmed.isEmpty || (number == 0 && trimmed.hasPrefix("#version")) { continue }
            let parts = trimmed.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw CLIPTokenizerError.invalidFile(path: path, reason: "line \(number + 1) is \"\(trimmed.prefix(40))\", expected two symbols separated by one space")
            }
            merges.append((String(parts[0]), String(parts[1])))
        }
        return merges
    }

    /// tokenizer.json's `model.merges`: `["l", "r"]` pairs (tokenizers ≥ 0.20) or `"l r"` strings.
    static func merges(json value: Any?, path: String) throws -> [(String, String)] {
        guard let list = value as? [Any] else {
            throw CLIPTokenizerError.invalidFile(path: path, reason: "model.merges is not a list")
        }
        return try list.enumerated().map { index, entry in
            if let pair = entry as? [String], pair.count == 2 { return (pair[0], pair[1]) }
            if let text = entry as? String {
                let parts = text.split(separator: " ", omittingEmptySubsequences: false)
                if parts.count == 2 { return (String(parts[0]), String(parts[1])) }
            }
            throw CLIPTokenizerError.invalidFile(path: path, reason: "model.merges[\(index)] is \(quote(entry)), expected a pair of symbols")
        }
    }

    /// A JSON integer (a whole number written as a fraction too, as JSON allows), nil otherwise.
    static func integer(_ value: Any) -> Int? {
        if let number = value as? Int { return number }
        if let number = value as? Double, number == number.rounded(), abs(number) < 1e15 { return Int(number) }
        return nil
    }

    static func quote(_ value: Any?) -> String {
        guard let value, !(value is NSNull) else { return "null" }
        if let text = value as? String { return "\"\(text)\"" }
        let text = "\(value)"
        return text.count > 60 ? String(text.prefix(57)) + "..." : text
    }
}
