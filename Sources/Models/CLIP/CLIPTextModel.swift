import Files
import Foundation
import Tensor

/// transformers 5.23 `CLIPTextModel` (models/clip/modeling_clip.py), inference only, Float32 on
/// the CPU: token + position embeddings, `num_hidden_layers` pre-norm encoder layers
/// (x + self_attn(layer_norm1(x)) with a causal mask and no padding mask, then
/// x + fc2(act(fc1(layer_norm2(x))))), `final_layer_norm`. `encode` returns `last_hidden_state`,
/// what diffusers' StableDiffusionPipeline conditions the UNet on (Stable Diffusion 2's text
/// encoder is OpenCLIP ViT-H/14's first 23 layers). Parity: Tests/ModelsTests/CLIPTextModelTests.swift
/// against tools/make_clip_goldens.py.
///
/// Weights: 5.23 saves a fresh model with unprefixed keys (`embeddings.token_embedding.weight`,
/// `encoder.layers.0.self_attn.q_proj.weight`, …), published folders carry `text_model.` in front
/// (5.23's conversion_mapping.py `PrefixChange`); both load, as one or the other for the whole
/// file. `[text_model.]embeddings.position_ids` (older saves) is ignored; any other key the
/// config does not use, a missing key or a misshaped one is an error naming the key.
public final class CLIPTextModel: @unchecked Sendable {
    public let config: CLIPTextConfig
    public let parameterCount: Int
    /// The key prefix the weight file uses (`"text_model."` or `""`).
    public let keyPrefix: String

    private let tokenEmbedding: Embedding
    private let positionEmbedding: Embedding
    private let layers: [EncoderLayer]
    private let finalLayerNorm: LayerNorm
    private let activation: Activation
    private let lock = NSLock()
    private let pool = BufferPool()
    private lazy var context = ForwardContext(pool: pool)

    struct EncoderLayer {
        var layerNorm1: LayerNorm
        var selfAttention: MultiHeadAttention
        var layerNorm2: LayerNorm
        var fc1: Linear
        var fc2: Linear
    }

    /// Keys published checkpoints carry that no layer reads.
    static let ignoredKeys = ["embeddings.position_ids", "text_model.embeddings.position_ids"]

    /// A `text_encoder/` folder: `config.json` and `model.safetensors` (`model.VARIANT.safetensors`
    /// with a variant such as `fp16`).
    public convenience init(directory: URL, variant: String? = nil) throws {
        let configURL = directory.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: configURL.path) else {
            throw UNetLoadError.missingFile(path: configURL.path, hint: "a text_encoder folder holds config.json and model.safetensors")
        }
        let config = try CLIPTextConfig.load(configURL)
        try config.validate(path: configURL.path)
        // transformers names pickle weights `pytorch_model[.variant].bin` (not `model.bin`).
        let safetensors = directory.appendingPathComponent(DiffusersWeightFile.name(base: "model", variant: variant))
        let pickle = directory.appendingPathComponent(variant.map { "pytorch_model.\($0).bin" } ?? "pytorch_model.bin")
        if !FileManager.default.fileExists(atPath: safetensors.path), FileManager.default.fileExists(atPath: pickle.path) {
            throw UNetLoadError.pickleWeights(path: pickle.path, className: "CLIPTextModel")
        }
        let weights = try DiffusersWeightFile.locate(in: directory, base: "model", variant: variant, className: "CLIPTextModel")
        try self.init(config: config, weights: try SafeTensorsFile(contentsOf: weights))
    }

    /// Builds the model from a config and its weights, strictly.
    public init(config c: CLIPTextConfig, weights file: SafeTensorsFile) throws {
        try c.validate(path: file.path)
        config = c
        activation = try c.activation(path: file.path)
        let source = WeightsIgnoring(base: file, names: Set(Self.ignoredKeys))
        let prefix = source.weightNames.contains { $0.hasPrefix("text_model.") } ? "text_model." : ""
        keyPrefix = prefix
        var w = WeightBinder(source, mapError: UNetLoadError.init(binding:))
        let d = c.hiddenSize, heads = c.numAttentionHeads, eps = c.layerNormEps
        tokenEmbedding = try Embedding(&w, prefix + "embeddings.token_embedding", count: c.vocabSize, dim: d)
        positionEmbedding = try Embedding(&w, prefix + "embeddings.position_embedding", count: c.maxPositionEmbeddings, dim: d)
        layers = try (0..<c.numHiddenLayers).map { i in
            let p = "\(prefix)encoder.layers.\(i)"
            return EncoderLayer(
                layerNorm1: try LayerNorm(&w, p + ".layer_norm1", features: d, eps: eps),
                selfAttention: try MultiHeadAttention(&w, p + ".self_attn", queryDim: d, heads: heads, headDim: d / heads,
                                                      qkvBias: true, outBias: true, names: .clip, causal: true),
                layerNorm2: try LayerNorm(&w, p + ".layer_norm2", features: d, eps: eps),
                fc1: try Linear(&w, p + ".mlp.fc1", in: d, out: c.intermediateSize),
                fc2: try Linear(&w, p + ".mlp.fc2", in: c.intermediateSize, out: d))
        }
        finalLayerNorm = try LayerNorm(&w, prefix + "final_layer_norm", features: d, eps: eps)
        try w.finish()
        parameterCount = w.used.reduce(0) { $0 + ((try? file.info($1).elementCount) ?? 0) }
    }

    /// FLOPs of the last forward pass (see `ForwardContext.flops`).
    public var lastForwardFLOPs: Int {
        lock.lock()
        defer { lock.unlock() }
        return context.flops
    }

    /// `model(input_ids).last_hidden_state` for `ids` (one row a sequence, all of one length
    /// T ≤ `max_position_embeddings`, positions 0..<T): batch × T × hidden, row-major.
    public func encode(_ ids: [[Int]]) throws -> [Float] {
        let batch = ids.count, tokens = ids.first?.count ?? 0
        guard batch >= 1, tokens >= 1, tokens <= config.maxPositionEmbeddings, ids.allSatisfy({ $0.count == tokens }) else {
            throw CLIPTextInputError(expected: "1 or more rows of 1...\(config.maxPositionEmbeddings) token ids, all of one length",
                                     actual: "rows of \(Set(ids.map(\.count)).sorted()) ids")
        }
        let flat = ids.flatMap { $0 }
        if let bad = flat.first(where: { $0 < 0 || $0 >= config.vocabSize }) {
            throw CLIPTextInputError(expected: "token ids in 0..<\(config.vocabSize)", actual: "id \(bad)")
        }
        lock.lock()
        defer { lock.unlock() }
        let ctx = context
        ctx.begin(batch: batch)
        // Both lookups are in range (checked above), so neither returns nil.
        guard var x = tokenEmbedding(flat, batch: batch, pool: pool),
              let positions = positionEmbedding(Array(repeating: Array(0..<tokens), count: batch).flatMap { $0 },
                                                batch: batch, pool: pool) else {
            throw CLIPTextInputError(expected: "token ids in 0..<\(config.vocabSize)", actual: "an id out of range")
        }
        for i in 0..<x.count { x.data[i] += positions.data[i] }
        for layer in layers {
            x = layer.selfAttention(layer.layerNorm1(x), residual: x, ctx)
            let hidden = activation(inPlace: layer.fc1(layer.layerNorm2(x), ctx))
            let sum = x.copy()
            layer.fc2.run(hidden, into: sum.data, accumulate: true, ctx)
            x = sum
        }
        return finalLayerNorm(x).sequence()
    }
}

/// Token ids the text encoder cannot take.
public struct CLIPTextInputError: Error, LocalizedError, Equatable {
    public var expected: String
    public var actual: String
    public var errorDescription: String? { "the CLIP text encoder expects \(expected), got \(actual)" }
}
