import Foundation
import Media
import Models
import Testing
import TestSupport

/// The CLIP tokenizer against transformers 5.23 `CLIPTokenizer(padding="max_length",
/// max_length=77, truncation=True)` (tools/make_clip_goldens.py), in both folder layouts, and its
/// errors for missing or damaged files.
@Suite struct CLIPTokenizerTests {
    struct Goldens: Decodable {
        struct Case: Decodable {
            var text: String
            var vocab_layout: [Int]
            var tokenizer_json_layout: [Int]
            var vocab_layout_dropped: String?
            var tokenizer_json_layout_dropped: String?
        }
        var cases: [Case]
    }

    static let goldens: Goldens = {
        do { return try Fixtures.json(Goldens.self, "clip/tokenizer_goldens.json") } catch { fatalError("\(error)") }
    }()

    /// A temporary folder holding `files` (name → source URL).
    static func folder(_ files: [String: URL]) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skipstep-clip-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, source) in files { try FileManager.default.copyItem(at: source, to: directory.appendingPathComponent(name)) }
        return directory
    }

    /// The published layout: vocab.json + merges.txt + special_tokens_map.json + tokenizer_config.json.
    static func vocabLayout() throws -> URL {
        try folder(["vocab.json": Fixtures.url("clip/vocab.json"), "merges.txt": Fixtures.url("clip/merges.txt"),
                    "special_tokens_map.json": Fixtures.url("clip/vocab_layout/special_tokens_map.json"),
                    "tokenizer_config.json": Fixtures.url("clip/vocab_layout/tokenizer_config.json")])
    }

    /// What transformers 5.23 saves: tokenizer.json (stored gzip-compressed) + tokenizer_config.json.
    static func tokenizerJSONLayout() throws -> URL {
        let directory = try folder(["tokenizer_config.json": Fixtures.url("clip/tokenizer_json_layout/tokenizer_config.json")])
        try Gzip.read(contentsOf: Fixtures.url("clip/tokenizer_json_layout/tokenizer.json.gz"))
            .write(to: directory.appendingPathComponent("tokenizer.json"))
        return directory
    }

    static func message(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch {
            return error.localizedDescription
        }
    }

    @Test func vocabLayoutMatchesTransformers() throws {
        let tokenizer = try CLIPTokenizer(directory: Self.vocabLayout())
        #expect(tokenizer.vocabularySize == 49408)
        #expect(tokenizer.maxLength == 77 && tokenizer.padID == 0 && tokenizer.bosID == 49406 && tokenizer.eosID == 49407)
        #expect(Self.goldens.cases.count >= 40)
        for c in Self.goldens.cases {
            let tokens = tokenizer.encode(c.text)
            #expect(tokens.ids == c.vocab_layout, "\(c.text.debugDescription)")
            #expect(tokens.droppedText == c.vocab_layout_dropped, "\(c.text.debugDescription)")
        }
    }

    @Test func tokenizerJSONLayoutMatchesTransformers() throws {
        let tokenizer = try CLIPTokenizer(directory: Self.tokenizerJSONLayout())
        #expect(tokenizer.maxLength == 77 && tokenizer.padID == 0 && tokenizer.bosID == 49406 && tokenizer.eosID == 49407)
        for c in Self.goldens.cases {
            let tokens = tokenizer.encode(c.text)
            #expect(tokens.ids == c.tokenizer_json_layout, "\(c.text.debugDescription)")
            #expect(tokens.droppedText == c.tokenizer_json_layout_dropped, "\(c.text.debugDescription)")
        }
    }

    /// The goldens hold what the issue asks to see: six pads for `! !! !!!`, EOS at 76 on a long
    /// prompt, a literal `<|endoftext|>` kept as the EOS id.
    @Test func goldensCoverTheQuirks() throws {
        func ids(_ text: String) -> [Int]? { Self.goldens.cases.first { $0.text == text }?.vocab_layout }
        #expect(ids("! !! !!!")?.prefix(8) == [49406, 0, 0, 0, 0, 0, 0, 49407])
        #expect(ids("<|endoftext|>")?.prefix(3) == [49406, 49407, 49407])
        let long = try #require(Self.goldens.cases.first { $0.text.split(separator: " ").count == 200 })
        #expect(long.vocab_layout.count == 77 && long.vocab_layout[76] == 49407)
        #expect(long.vocab_layout_dropped?.isEmpty == false)
    }

    /// Without special_tokens_map.json the published config's pad `<|endoftext|>` applies, so the
    /// map is what makes `"!"` the pad (as in transformers).
    @Test func specialTokensMapOverridesTheConfig() throws {
        let directory = try Self.folder(["vocab.json": Fixtures.url("clip/vocab.json"), "merges.txt": Fixtures.url("clip/merges.txt"),
                                         "tokenizer_config.json": Fixtures.url("clip/vocab_layout/tokenizer_config.json")])
        let tokenizer = try CLIPTokenizer(directory: directory)
        #expect(tokenizer.padID == 49407)
        #expect(tokenizer.encode("a cat!").ids.prefix(6) == [49406, 320, 2368, 256, 49407, 49407])
    }

    struct RandomGoldens: Decodable {
        struct Case: Decodable { var text: String; var ids: [Int] }
        var cases: [Case]
    }

    /// 1000 seeded random strings (every kind of character, specials, `!`, random code points of
    /// every plane): the ids transformers gives, padded back to 77.
    @Test func randomStringsMatchTransformers() throws {
        let tokenizer = try CLIPTokenizer(directory: Self.vocabLayout())
        let goldens = try Fixtures.json(RandomGoldens.self, "clip/tokenizer_random_goldens.json")
        #expect(goldens.cases.count == 1000)
        var mismatches = 0
        for c in goldens.cases {
            let expected = c.ids + [Int](repeating: tokenizer.padID, count: max(0, 77 - c.ids.count))
            let ids = tokenizer.encode(c.text).ids
            if ids != expected {
                mismatches += 1
                if mismatches <= 5 { Issue.record("\(c.text.unicodeScalars.map { String($0.value, radix: 16) }): \(ids) ≠ \(expected)") }
            }
        }
        #expect(mismatches == 0)
    }

    struct VariantGoldens: Decodable {
        struct Variant: Decodable {
            struct Case: Decodable { var text: String; var ids: [Int] }
            var base: String
            var pad_token_id: Int
            var cases: [Case]
        }
        var variants: [String: Variant]
    }

    /// Which file names the special tokens, as 5.23 decides it: special_tokens_map.json beside
    /// tokenizer.json applies; a config with `added_tokens_decoder` makes 5.23 skip the map;
    /// CLIPTokenizer's defaults when no file names them; unnormalized specials.
    @Test func specialTokenFilesAreReadAsTransformersReadsThem() throws {
        let goldens = try Fixtures.json(VariantGoldens.self, "clip/variant_goldens.json")
        #expect(goldens.variants.count == 4)
        for (name, variant) in goldens.variants {
            let directory = variant.base == "vocab" ? try Self.folder(["vocab.json": Fixtures.url("clip/vocab.json"),
                                                                       "merges.txt": Fixtures.url("clip/merges.txt")])
                                                    : try Self.tokenizerJSONLayout()
            let files = try FileManager.default.contentsOfDirectory(atPath: Fixtures.url("clip/variants/\(name)").path)
            for file in files {
                let target = directory.appendingPathComponent(file)
                try? FileManager.default.removeItem(at: target)
                try FileManager.default.copyItem(at: Fixtures.url("clip/variants/\(name)/\(file)"), to: target)
            }
            let tokenizer = try CLIPTokenizer(directory: directory)
            #expect(tokenizer.padID == variant.pad_token_id, "\(name)")
            for c in variant.cases { #expect(tokenizer.encode(c.text).ids == c.ids, "\(name): \(c.text)") }
        }
    }

    @Test func missingAndDamagedFilesAreNamed() throws {
        let empty = try Self.folder([:])
        #expect(Self.message { _ = try CLIPTokenizer(directory: empty) }?.contains("vocab.json does not exist") == true)
        let noMerges = try Self.folder(["vocab.json": Fixtures.url("clip/vocab.json")])
        #expect(Self.message { _ = try CLIPTokenizer(directory: noMerges) }?.contains("merges.txt does not exist") == true)
        let nowhere = empty.appendingPathComponent("absent")
        #expect(Self.message { _ = try CLIPTokenizer(directory: nowhere) }?.contains("absent does not exist") == true)

        let damagedVocab = try Self.vocabLayout()
        try Data("{\"a\": 0, ".utf8).write(to: damagedVocab.appendingPathComponent("vocab.json"))
        let vocabMessage = Self.message { _ = try CLIPTokenizer(directory: damagedVocab) }
        #expect(vocabMessage?.contains("vocab.json: not valid JSON") == true, "\(vocabMessage ?? "")")

        let badID = try Self.vocabLayout()
        try Data("{\"a\": \"zero\"}".utf8).write(to: badID.appendingPathComponent("vocab.json"))
        #expect(Self.message { _ = try CLIPTokenizer(directory: badID) }?.contains("\"a\" has id \"zero\"") == true)

        let badMerge = try Self.vocabLayout()
        try Data("#version: 0.2\ni n\nt h e x\n".utf8).write(to: badMerge.appendingPathComponent("merges.txt"))
        #expect(Self.message { _ = try CLIPTokenizer(directory: badMerge) }?.contains("merges.txt: line 3") == true)

        let unknownMerge = try Self.vocabLayout()
        try Data("#version: 0.2\ni n\nqqqq zzzz\n".utf8).write(to: unknownMerge.appendingPathComponent("merges.txt"))
        #expect(Self.message { _ = try CLIPTokenizer(directory: unknownMerge) }?.contains("merge 2 needs \"qqqq\"") == true)

        let badConfig = try Self.vocabLayout()
        try Data("[1, 2]".utf8).write(to: badConfig.appendingPathComponent("tokenizer_config.json"))
        #expect(Self.message { _ = try CLIPTokenizer(directory: badConfig) }?.contains("tokenizer_config.json: expected a JSON object") == true)

        let badLength = try Self.vocabLayout()
        try Data("{\"model_max_length\": 1e30}".utf8).write(to: badLength.appendingPathComponent("tokenizer_config.json"))
        #expect(Self.message { _ = try CLIPTokenizer(directory: badLength) }?.contains("model_max_length") == true)

        let badPad = try Self.vocabLayout()
        try Data("{\"pad_token\": \"<|notthere|>\"}".utf8).write(to: badPad.appendingPathComponent("special_tokens_map.json"))
        #expect(Self.message { _ = try CLIPTokenizer(directory: badPad) }?.contains("<|notthere|>") == true)

        let badJSON = try Self.tokenizerJSONLayout()
        try Data("{\"model\": {\"type\": \"WordPiece\"}}".utf8).write(to: badJSON.appendingPathComponent("tokenizer.json"))
        #expect(Self.message { _ = try CLIPTokenizer(directory: badJSON) }?.contains("tokenizer.json: model.type is \"WordPiece\"") == true)

        let truncated = try Self.tokenizerJSONLayout()
        let url = truncated.appendingPathComponent("tokenizer.json")
        let bytes = try Data(contentsOf: url)
        try bytes.prefix(bytes.count / 2).write(to: url)
        #expect(Self.message { _ = try CLIPTokenizer(directory: truncated) }?.contains("tokenizer.json: not valid JSON") == true)
    }

    /// Any input text gives exactly `maxLength` ids, BOS first, EOS present, no crash.
    @Test func arbitraryTextNeverTraps() throws {
        let tokenizer = try CLIPTokenizer(directory: Self.vocabLayout())
        var generator = SystemRandomNumberGenerator()
        let alphabet: [Unicode.Scalar] = Array("aZ !'s<|>\t\n3é\u{301}ΣİẞﬁＡ東👩\u{200D}💻\u{85}\u{FEFF}".unicodeScalars)
        for _ in 0..<300 {
            var view = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0..<120, using: &generator) {
                view.append(Bool.random(using: &generator)
                    ? alphabet.randomElement(using: &generator)!
                    : Unicode.Scalar(UInt32.random(in: 0...0x10FFFF, using: &generator)) ?? "x")
            }
            let tokens = tokenizer.encode(String(view))
            #expect(tokens.ids.count == 77 && tokens.ids.first == 49406 && tokens.ids.contains(49407))
        }
        // One 40 000-character word (BPE is O(n log n) in a word's length, as tokenizers' heap).
        let start = Date()
        let long = tokenizer.encode(String(repeating: "?.,;", count: 10_000))
        #expect(long.ids.count == 77 && long.ids[76] == 49407 && (long.droppedText?.count ?? 0) > 30_000)
        #expect(Date().timeIntervalSince(start) < 30)
    }
}
