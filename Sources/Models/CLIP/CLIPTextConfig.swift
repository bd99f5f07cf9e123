import Files
import Foundation
import Tensor

/// transformers' `CLIPTextConfig` (models/clip/configuration_clip.py), the keys of a
/// `text_encoder/config.json` that shape the network, with transformers' defaults.
public struct CLIPTextConfig: Decodable, Sendable, Equatable {
    public var vocabSize = 49408
    public var hiddenSize = 512
    public var intermediateSize = 2048
    public var numHiddenLayers = 12
    public var numAttentionHeads = 8
    public var maxPositionEmbeddings = 77
    public var hiddenAct = "quick_gelu"
    public var layerNormEps = 1e-5
    public var architectures: [String]?

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case maxPositionEmbeddings = "max_position_embeddings", hiddenAct = "hidden_act", layerNormEps = "layer_norm_eps"
        case architectures
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
            try c.configValue(T.self, forKey: key) ?? fallback
        }
        vocabSize = try value(.vocabSize, vocabSize)
        hiddenSize = try value(.hiddenSize, hiddenSize)
        intermediateSize = try value(.intermediateSize, intermediateSize)
        numHiddenLayers = try value(.numHiddenLayers, numHiddenLayers)
        numAttentionHeads = try value(.numAttentionHeads, numAttentionHeads)
        maxPositionEmbeddings = try value(.maxPositionEmbeddings, maxPositionEmbeddings)
        hiddenAct = try value(.hiddenAct, hiddenAct)
        layerNormEps = try value(.layerNormEps, layerNormEps)
        architectures = try c.configValue([String].self, forKey: .architectures)
    }

    /// Reads `config.json`; errors name the file and the key.
    public static func load(_ url: URL) throws -> CLIPTextConfig {
        try ConfigFile.decode(CLIPTextConfig.self, at: url, what: "CLIPTextConfig")
    }

    /// The feed-forward activation (`ACT2FN[hidden_act]`): `gelu` (exact erf, Stable Diffusion 2),
    /// `gelu_new` / `gelu_pytorch_tanh` (tanh form). `quick_gelu` (OpenAI's CLIP, Stable Diffusion
    /// 1.x) is not implemented yet and is refused by name.
    public func activation(path: String) throws -> Activation {
        switch hiddenAct {
        case "gelu": .gelu(.none)
        case "gelu_new", "gelu_pytorch_tanh": .gelu(.tanh)
        default:
            throw UNetLoadError.unsupportedOption(path: path, key: "hidden_act", value: hiddenAct,
                                                  supported: "gelu, gelu_new, gelu_pytorch_tanh")
        }
    }

    /// Refuses sizes that cannot build a model or whose products overflow, and architectures
    /// other than `CLIPTextModel`; errors name `path` and the key.
    public func validate(path: String) throws {
        func invalid(_ key: CodingKeys, _ value: Any, _ expected: String) -> UNetLoadError {
            .invalidValue(path: path, key: key.rawValue, value: "\(value)", expected: expected)
        }
        let limit = 1 << 20
        for (key, size) in [(CodingKeys.vocabSize, vocabSize), (.hiddenSize, hiddenSize),
                            (.intermediateSize, intermediateSize), (.numAttentionHeads, numAttentionHeads),
                            (.maxPositionEmbeddings, maxPositionEmbeddings)] where !(1...limit).contains(size) {
            throw invalid(key, size, "an integer in 1...\(limit)")
        }
        guard (0...1024).contains(numHiddenLayers) else { throw invalid(.numHiddenLayers, numHiddenLayers, "an integer in 0...1024") }
        guard hiddenSize % numAttentionHeads == 0 else {
            throw invalid(.numAttentionHeads, numAttentionHeads, "a divisor of hidden_size \(hiddenSize)")
        }
        guard layerNormEps.isFinite, layerNormEps > 0 else { throw invalid(.layerNormEps, layerNormEps, "a finite number > 0") }
        guard CheckedSize.product([vocabSize, hiddenSize]) != nil, CheckedSize.product([intermediateSize, hiddenSize]) != nil else {
            throw invalid(.vocabSize, vocabSize, "sizes whose weight tables fit in memory")
        }
        if let architectures, let other = architectures.first(where: { $0 != "CLIPTextModel" }) {
            throw UNetLoadError.unsupportedOption(path: path, key: "architectures", value: other, supported: "CLIPTextModel")
        }
        _ = try activation(path: path)
    }
}
