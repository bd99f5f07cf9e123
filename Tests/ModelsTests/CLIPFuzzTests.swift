import Foundation
import Models
import Testing
import TestSupport

/// Seeded mutation fuzzing (Tests/TestSupport/Fuzz.swift) of the CLIP tokenizer's files and the
/// text encoder's config: every case loads or is refused with an error naming the file, and a
/// tokenizer that loads encodes any text to exactly `maxLength` ids; no trap.
@Suite struct CLIPFuzzTests {
    /// A small CLIP tokenizer folder: the byte symbols (ids 0..<512), the first 88 merges and
    /// their tokens (512..<600), the two specials, SD 2's special-token files.
    static func smallTokenizerFiles() throws -> [String: Data] {
        let vocabulary = try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.url("clip/vocab.json"))) as? [String: Int] ?? [:]
        let small = vocabulary.filter { $0.value < 600 || $0.value >= 49406 }
        let merges = try String(contentsOf: Fixtures.url("clip/merges.txt"), encoding: .utf8)
            .split(separator: "\n").prefix(89).joined(separator: "\n") + "\n"
        return [
            "vocab.json": try JSONSerialization.data(withJSONObject: small, options: [.sortedKeys]),
            "merges.txt": Data(merges.utf8),
            "special_tokens_map.json": try Data(contentsOf: Fixtures.url("clip/vocab_layout/special_tokens_map.json")),
            "tokenizer_config.json": try Data(contentsOf: Fixtures.url("clip/vocab_layout/tokenizer_config.json")),
        ]
    }

    static let texts = ["a photograph of an astronaut riding a horse!", "", "<|endoftext|> ΟΔΟΣ café 東京 👩‍💻 it's",
                        String(repeating: "cat ", count: 90)]

    @Test(arguments: ["vocab.json", "merges.txt", "special_tokens_map.json", "tokenizer_config.json"])
    func tokenizerFiles(_ target: String) throws {
        let files = try Self.smallTokenizerFiles()
        let directory = try fastTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        for (name, data) in files { try data.write(to: directory.appendingPathComponent(name)) }
        let url = directory.appendingPathComponent(target)
        let seed = try #require(files[target])
        let result = fuzz("clip-\(target)", seeds: [(target, seed)], count: FuzzMutator.iterations(target == "vocab.json" ? 300 : 600),
                          mutate: { rng, data in
            rng.below(2) == 0 ? Data(rng.mutateText(String(decoding: data, as: UTF8.self)).utf8) : rng.mutate(data)
        }, body: { data in
            try data.write(to: url)
            let tokenizer = try CLIPTokenizer(directory: directory)
            for text in Self.texts {
                let ids = tokenizer.encode(text).ids
                #expect(ids.count == tokenizer.maxLength)
            }
        }, check: { error, _ in
            #expect(namedErrorProblem(error, url.path) == nil)
        })
        #expect(result.parsed > 0 && result.refused > 0, "\(result)")
    }

    /// The text encoder's config.json: loads and runs (output finite or an error), or is refused by name.
    @Test func textEncoderConfig() throws {
        let directory = try fastTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.copyItem(at: Fixtures.url("clip/text_encoder/model.safetensors"),
                                         to: directory.appendingPathComponent("model.safetensors"))
        let url = directory.appendingPathComponent("config.json")
        let seed = try Data(contentsOf: Fixtures.url("clip/text_encoder/config.json"))
        let result = fuzz("clip-text-config", seeds: [("config", seed)], count: FuzzMutator.iterations(200), mutate: { rng, data in
            Data(rng.mutateText(String(decoding: data, as: UTF8.self)).utf8)
        }, body: { data in
            try data.write(to: url)
            let model = try CLIPTextModel(directory: directory, variant: nil)
            let output = try model.encode([[49406, 320, 2368, 49407], [49406, 0, 0, 49407]])
            #expect(output.count == 2 * 4 * model.config.hiddenSize)
        }, check: { error, _ in
            #expect(namedErrorProblem(error, directory.path) == nil)
        })
        #expect(result.parsed > 0 && result.refused > 0, "\(result)")
    }
}
