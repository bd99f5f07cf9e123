import Foundation
import Models
import Testing
import TestSupport

/// The CLIP text encoder against transformers 5.23 `CLIPTextModel.last_hidden_state`
/// (tools/make_clip_goldens.py: the tiny SD 2 test config, float16-rounded random weights), its
/// two key layouts and its strict loading.
@Suite struct CLIPTextModelTests {
    struct Goldens: Decodable {
        struct Batch: Decodable {
            var ids: [[Int]]
            var shape: [Int]
            var last_hidden_state: [Double]
        }
        var batches: [Batch]
    }

    static func goldens() throws -> Goldens { try Fixtures.json(Goldens.self, "clip/text_encoder_goldens.json") }

    /// A copy of the fixture folder whose weights went through `edit` (name → (dtype, shape, bytes)),
    /// saved as `weightName`.
    static func folder(weightName: String = "model.safetensors",
                       _ edit: (inout [String: (SafeTensorsDType, [Int], Data)]) throws -> Void = { _ in }) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skipstep-clip-text-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Fixtures.url("clip/text_encoder/config.json"),
                                         to: directory.appendingPathComponent("config.json"))
        let file = try SafeTensorsFile(contentsOf: Fixtures.url("clip/text_encoder/model.safetensors"))
        var tensors: [String: (SafeTensorsDType, [Int], Data)] = [:]
        for name in file.tensorNames {
            let info = try file.info(name)
            tensors[name] = (info.dtype, info.shape, try file.rawBytes(name))
        }
        try edit(&tensors)
        var writer = SafeTensorsWriter()
        for (name, tensor) in tensors.sorted(by: { $0.key < $1.key }) {
            try writer.addRaw(name, dtype: tensor.0, shape: tensor.1, bytes: tensor.2)
        }
        try writer.write(to: directory.appendingPathComponent(weightName))
        return directory
    }

    /// Published folders: every key under `text_model.`, plus `text_model.embeddings.position_ids` (int64 [1, 77]).
    static func prefixed(_ tensors: inout [String: (SafeTensorsDType, [Int], Data)]) {
        tensors = Dictionary(uniqueKeysWithValues: tensors.map { ("text_model." + $0.key, $0.value) })
        var positions = Data()
        for i in 0..<77 { withUnsafeBytes(of: Int64(i).littleEndian) { positions.append(contentsOf: $0) } }
        tensors["text_model.embeddings.position_ids"] = (.i64, [1, 77], positions)
    }

    static func message(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch {
            return error.localizedDescription
        }
    }

    func checkParity(_ model: CLIPTextModel) throws {
        let goldens = try Self.goldens()
        #expect(goldens.batches.count >= 3 && goldens.batches.allSatisfy { $0.ids.count == 2 })
        for batch in goldens.batches {
            let output = try model.encode(batch.ids)
            #expect(batch.shape == [batch.ids.count, batch.ids[0].count, model.config.hiddenSize])
            #expect(output.count == batch.last_hidden_state.count)
            let error = relativeL2(output, batch.last_hidden_state)
            #expect(error <= 1e-5, "relative L2 \(error) on \(batch.ids[0].count) tokens")
        }
    }

    /// 5.23's own save (unprefixed keys, float16).
    @Test func unprefixedKeysMatchTransformers() throws {
        let model = try CLIPTextModel(directory: Fixtures.url("clip/text_encoder"), variant: nil)
        #expect(model.keyPrefix == "")
        #expect(model.config.hiddenSize == 32 && model.config.numHiddenLayers == 5 && model.config.vocabSize == 49408)
        try checkParity(model)
    }

    /// The published layout (`text_model.` + position_ids), as the fp16 variant.
    @Test func prefixedKeysAndVariantMatchTransformers() throws {
        let directory = try Self.folder(weightName: "model.fp16.safetensors", Self.prefixed)
        let model = try CLIPTextModel(directory: directory, variant: "fp16")
        #expect(model.keyPrefix == "text_model.")
        try checkParity(model)
        let message = Self.message { _ = try CLIPTextModel(directory: directory, variant: nil) }
        #expect(message?.contains("model.fp16.safetensors") == true, "\(message ?? "")")
    }

    /// Without its last layers the output changes: the goldens test every layer.
    @Test func everyLayerMatters() throws {
        let directory = try Self.folder { tensors in
            tensors = tensors.filter { !$0.key.hasPrefix("encoder.layers.4.") }
        }
        try rewriteConfig(directory) { $0["num_hidden_layers"] = 4 }
        let model = try CLIPTextModel(directory: directory, variant: nil)
        let batch = try #require(try Self.goldens().batches.first)
        #expect(relativeL2(try model.encode(batch.ids), batch.last_hidden_state) > 1e-2)
    }

    @Test func strayMissingAndMisshapedKeysAreErrors() throws {
        let stray = try Self.folder { $0["text_projection.weight"] = (.f32, [1], Data(count: 4)) }
        #expect(Self.message { _ = try CLIPTextModel(directory: stray, variant: nil) }?
            .contains("'text_projection.weight'") == true)

        let mixed = try Self.folder { tensors in
            Self.prefixed(&tensors)
            tensors["final_layer_norm.bias"] = tensors["text_model.final_layer_norm.bias"]
        }
        #expect(Self.message { _ = try CLIPTextModel(directory: mixed, variant: nil) }?
            .contains("'final_layer_norm.bias'") == true)

        let missing = try Self.folder { $0["encoder.layers.2.mlp.fc1.bias"] = nil }
        let missingMessage = Self.message { _ = try CLIPTextModel(directory: missing, variant: nil) }
        #expect(missingMessage?.contains("weight 'encoder.layers.2.mlp.fc1.bias' [37] is missing") == true, "\(missingMessage ?? "")")

        let missingPrefixed = try Self.folder { tensors in
            Self.prefixed(&tensors)
            tensors["text_model.encoder.layers.0.self_attn.q_proj.weight"] = nil
        }
        #expect(Self.message { _ = try CLIPTextModel(directory: missingPrefixed, variant: nil) }?
            .contains("'text_model.encoder.layers.0.self_attn.q_proj.weight' [32, 32] is missing") == true)

        let misshaped = try Self.folder { $0["encoder.layers.1.layer_norm2.weight"] = (.f16, [16], Data(count: 32)) }
        let shapeMessage = Self.message { _ = try CLIPTextModel(directory: misshaped, variant: nil) }
        #expect(shapeMessage?.contains("'encoder.layers.1.layer_norm2.weight' has shape [16], the config needs [32]") == true,
                "\(shapeMessage ?? "")")
    }

    @Test func missingFilesAndBadConfigsAreNamed() throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("skipstep-clip-empty-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        #expect(Self.message { _ = try CLIPTextModel(directory: empty, variant: nil) }?.contains("config.json does not exist") == true)

        let noWeights = try Self.folder()
        try FileManager.default.removeItem(at: noWeights.appendingPathComponent("model.safetensors"))
        #expect(Self.message { _ = try CLIPTextModel(directory: noWeights, variant: nil) }?.contains("model.safetensors does not exist") == true)

        let pickle = try Self.folder()
        try FileManager.default.moveItem(at: pickle.appendingPathComponent("model.safetensors"),
                                         to: pickle.appendingPathComponent("pytorch_model.bin"))
        let pickleMessage = Self.message { _ = try CLIPTextModel(directory: pickle, variant: nil) }
        #expect(pickleMessage?.contains("from transformers import CLIPTextModel") == true, "\(pickleMessage ?? "")")

        let quickGELU = try Self.folder()
        try rewriteConfig(quickGELU) { $0["hidden_act"] = "quick_gelu" }
        #expect(Self.message { _ = try CLIPTextModel(directory: quickGELU, variant: nil) }?.contains("hidden_act = quick_gelu is not supported") == true)

        let heads = try Self.folder()
        try rewriteConfig(heads) { $0["num_attention_heads"] = 5 }
        #expect(Self.message { _ = try CLIPTextModel(directory: heads, variant: nil) }?.contains("num_attention_heads = 5 is invalid") == true)

        let typed = try Self.folder()
        try rewriteConfig(typed) { $0["hidden_size"] = "32" }
        #expect(Self.message { _ = try CLIPTextModel(directory: typed, variant: nil) }?.contains("hidden_size") == true)
    }

    @Test func badTokenBatchesAreErrors() throws {
        let model = try CLIPTextModel(directory: Fixtures.url("clip/text_encoder"), variant: nil)
        #expect(Self.message { _ = try model.encode([]) } != nil)
        #expect(Self.message { _ = try model.encode([[1, 2], [3]]) } != nil)
        #expect(Self.message { _ = try model.encode([[1, 49408]]) }?.contains("id 49408") == true)
        #expect(Self.message { _ = try model.encode([[Int]](repeating: [Int](repeating: 1, count: 78), count: 1)) } != nil)
    }

    static var realDirectory: URL? {
        ProcessInfo.processInfo.environment["SKIPSTEP_SD_REAL_DIR"].map { URL(fileURLWithPath: $0) }
    }

    /// Stable Diffusion 2.1's text encoder at its real shape (340 M random parameters, published
    /// key layout), written by `tools/make_clip_goldens.py --real DIR`: ≤ 1e-4 relative L2.
    @Test(.enabled(if: realDirectory != nil, "set SKIPSTEP_SD_REAL_DIR (tools/make_clip_goldens.py --real DIR)"))
    func realShapeMatchesTransformers() throws {
        let directory = try #require(Self.realDirectory)
        let loadStart = Date()
        let model = try CLIPTextModel(directory: directory.appendingPathComponent("text_encoder"), variant: nil)
        let loadSeconds = Date().timeIntervalSince(loadStart)
        #expect(model.keyPrefix == "text_model." && model.parameterCount == 340_387_840)
        #expect(model.config.numHiddenLayers == 23 && model.config.hiddenSize == 1024)
        let goldens = try JSONDecoder().decode(Goldens.self, from: Data(contentsOf: directory.appendingPathComponent("clip_text_encoder_goldens.json")))
        let tokenizer = try CLIPTokenizer(directory: directory.appendingPathComponent("clip_tokenizer"))
        #expect(tokenizer.encode("a photograph of an astronaut riding a horse").ids == goldens.batches[0].ids[0])
        for batch in goldens.batches {
            let start = Date()
            let output = try model.encode(batch.ids)
            let seconds = Date().timeIntervalSince(start)
            let error = relativeL2(output, batch.last_hidden_state)
            #expect(error <= 1e-4, "relative L2 \(error)")
            print("CLIP text encoder, real shape: load \(String(format: "%.1f", loadSeconds)) s, batch \(batch.ids.count) × 77 in "
                  + "\(String(format: "%.2f", seconds)) s (\(String(format: "%.1f", Double(model.lastForwardFLOPs) / seconds / 1e9)) GFLOP/s), relative L2 \(error)")
        }
    }

    func rewriteConfig(_ directory: URL, _ edit: (inout [String: Any]) -> Void) throws {
        let url = directory.appendingPathComponent("config.json")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any] ?? [:]
        edit(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: url)
    }
}
