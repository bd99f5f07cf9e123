import Foundation

/// diffusers `UNet2DModel`'s `config.json`, with diffusers 0.42's defaults for every missing key
/// (models/unets/unet_2d.py `UNet2DModel.__init__`). Keys skipstep cannot honour are refused by
/// name in `validate()`.
public struct UNet2DConfig: Decodable, Sendable, Equatable {
    /// `sample_size`: height and width (one number means both).
    public var sampleSize: [Int]?
    /// `in_channels`.
    public var inChannels = 3
    /// `out_channels`: twice `in_channels` with a learned variance.
    public var outChannels = 3
    /// `center_input_sample`: map inputs from [0, 1] to [−1, 1] first.
    public var centerInputSample = false
    /// `time_embedding_type`: positional (sinusoidal) or fourier.
    public var timeEmbeddingType = "positional"
    /// `time_embedding_dim`: default 4 × the first block's channels.
    public var timeEmbeddingDim: Int?
    /// `freq_shift` of the sinusoidal embedding.
    public var freqShift = 0.0
    /// `flip_sin_to_cos`: cosines first.
    public var flipSinToCos = true
    /// `down_block_types`.
    public var downBlockTypes = ["DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"]
    /// `mid_block_type`, nil for none.
    public var midBlockType: String? = "UNetMidBlock2D"
    /// `up_block_types`.
    public var upBlockTypes = ["AttnUpBlock2D", "AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"]
    /// `block_out_channels`, one per resolution.
    public var blockOutChannels = [224, 448, 672, 896]
    /// `layers_per_block`: ResNet blocks per down block (one more per up block).
    public var layersPerBlock = 2
    /// `mid_block_scale_factor`: the mid block's output scale.
    public var midBlockScaleFactor = 1.0
    /// `downsample_padding` of strided convolutions.
    public var downsamplePadding = 1
    /// `downsample_type`: conv or resnet.
    public var downsampleType = "conv"
    /// `upsample_type`: conv or resnet.
    public var upsampleType = "conv"
    /// `act_fn`: the activation.
    public var actFn = "silu"
    /// nil means "one head per block" (diffusers passes the block's channel count).
    public var attentionHeadDim: Int? = 8
    /// `norm_num_groups` of GroupNorm.
    public var normNumGroups: Int? = 32
    /// `attn_norm_num_groups`: GroupNorm groups in attention, default `norm_num_groups`.
    public var attnNormNumGroups: Int?
    /// `norm_eps`.
    public var normEps = 1e-5
    /// `resnet_time_scale_shift`: default (add) or scale_shift.
    public var resnetTimeScaleShift = "default"
    /// `add_attention`: attention in the mid block.
    public var addAttention = true
    /// `class_embed_type`: nil, or `identity`/`timestep` for class conditioning.
    public var classEmbedType: String?
    /// `num_class_embeds`: classes of a class-conditional model.
    public var numClassEmbeds: Int?
    /// `_class_name`: UNet2DModel.
    public var className: String?

    enum CodingKeys: String, CodingKey {
        case sampleSize = "sample_size", inChannels = "in_channels", outChannels = "out_channels"
        case centerInputSample = "center_input_sample", timeEmbeddingType = "time_embedding_type"
        case timeEmbeddingDim = "time_embedding_dim", freqShift = "freq_shift", flipSinToCos = "flip_sin_to_cos"
        case downBlockTypes = "down_block_types", midBlockType = "mid_block_type", upBlockTypes = "up_block_types"
        case blockOutChannels = "block_out_channels", layersPerBlock = "layers_per_block"
        case midBlockScaleFactor = "mid_block_scale_factor", downsamplePadding = "downsample_padding"
        case downsampleType = "downsample_type", upsampleType = "upsample_type", actFn = "act_fn"
        case attentionHeadDim = "attention_head_dim", normNumGroups = "norm_num_groups"
        case attnNormNumGroups = "attn_norm_num_groups", normEps = "norm_eps"
        case resnetTimeScaleShift = "resnet_time_scale_shift", addAttention = "add_attention"
        case classEmbedType = "class_embed_type", numClassEmbeds = "num_class_embeds", className = "_class_name"
    }

    /// diffusers' defaults.
    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
            try c.configValue(T.self, forKey: key) ?? fallback
        }
        /// A key that may be absent (diffusers' default) or explicitly null (None).
        func optional<T: Decodable>(_ key: CodingKeys, _ fallback: T?) throws -> T? {
            guard c.contains(key) else { return fallback }
            return try c.configValue(T.self, forKey: key)
        }
        // diffusers accepts an int (square) or a [height, width] pair.
        if c.contains(.sampleSize), try !c.decodeNil(forKey: .sampleSize) {
            if let size = try? c.decode(Int.self, forKey: .sampleSize) {
                sampleSize = [size, size]
            } else if let pair = try? c.decode([Int].self, forKey: .sampleSize), pair.count == 2 {
                sampleSize = pair
            } else {
                throw ConfigValueError(key: CodingKeys.sampleSize.rawValue, expected: "an integer or [height, width]",
                                       found: (try? c.decode(JSONValue.self, forKey: .sampleSize))?.description ?? "?")
            }
        }
        inChannels = try value(.inChannels, inChannels)
        outChannels = try value(.outChannels, outChannels)
        centerInputSample = try value(.centerInputSample, centerInputSample)
        timeEmbeddingType = try value(.timeEmbeddingType, timeEmbeddingType)
        timeEmbeddingDim = try optional(.timeEmbeddingDim, nil)
        freqShift = try value(.freqShift, freqShift)
        flipSinToCos = try value(.flipSinToCos, flipSinToCos)
        downBlockTypes = try value(.downBlockTypes, downBlockTypes)
        midBlockType = try optional(.midBlockType, midBlockType)
        upBlockTypes = try value(.upBlockTypes, upBlockTypes)
        blockOutChannels = try value(.blockOutChannels, blockOutChannels)
        layersPerBlock = try value(.layersPerBlock, layersPerBlock)
        midBlockScaleFactor = try value(.midBlockScaleFactor, midBlockScaleFactor)
        downsamplePadding = try value(.downsamplePadding, downsamplePadding)
        downsampleType = try value(.downsampleType, downsampleType)
        upsampleType = try value(.upsampleType, upsampleType)
        actFn = try value(.actFn, actFn)
        attentionHeadDim = try optional(.attentionHeadDim, attentionHeadDim)
        normNumGroups = try optional(.normNumGroups, normNumGroups)
        attnNormNumGroups = try optional(.attnNormNumGroups, nil)
        normEps = try value(.normEps, normEps)
        resnetTimeScaleShift = try value(.resnetTimeScaleShift, resnetTimeScaleShift)
        addAttention = try value(.addAttention, addAttention)
        classEmbedType = try optional(.classEmbedType, nil)
        numClassEmbeds = try optional(.numClassEmbeds, nil)
        className = try c.configValue(String.self, forKey: .className)
    }

    /// Limits on sizes read from a config, far above any real UNet2DModel (the largest diffusers
    /// checkpoints use 256×256 samples and 896 channels) and low enough that every size product
    /// fits in `Int` and a refused config fails here, not in an allocation.
    public static let maxSampleSize = 16_384
    /// The most channels a block may declare (a guard against absurd configs).
    public static let maxChannels = 65_536
    /// The most layers per block a config may declare.
    public static let maxLayersPerBlock = 64
    /// 2^(levels − 1) divides the sample size; more levels than this is not a real model.
    public static let maxLevels = 12

    /// Refuses, by name, every option this engine does not implement.
    public func validate(path: String) throws {
        func refuse(_ key: String, _ value: String, _ supported: String) -> UNetLoadError {
            .unsupportedOption(path: path, key: key, value: value, supported: supported)
        }
        if let className, className != "UNet2DModel" {
            throw refuse("_class_name", className, "UNet2DModel")
        }
        guard timeEmbeddingType == "positional" else {
            throw refuse("time_embedding_type", timeEmbeddingType, "positional")
        }
        guard actFn == "silu" || actFn == "swish" else { throw refuse("act_fn", actFn, "silu") }
        if classEmbedType != nil || numClassEmbeds != nil {
            throw refuse("class_embed_type", classEmbedType ?? "num_class_embeds=\(numClassEmbeds ?? 0)", "none")
        }
        guard ["default", "scale_shift"].contains(resnetTimeScaleShift) else {
            throw refuse("resnet_time_scale_shift", resnetTimeScaleShift, "default, scale_shift")
        }
        for type in downBlockTypes where !["DownBlock2D", "AttnDownBlock2D"].contains(type) {
            throw refuse("down_block_types", type, "DownBlock2D, AttnDownBlock2D")
        }
        for type in upBlockTypes where !["UpBlock2D", "AttnUpBlock2D"].contains(type) {
            throw refuse("up_block_types", type, "UpBlock2D, AttnUpBlock2D")
        }
        if let midBlockType, midBlockType != "UNetMidBlock2D" {
            throw refuse("mid_block_type", midBlockType, "UNetMidBlock2D or null")
        }
        guard ["conv", "resnet"].contains(downsampleType) else { throw refuse("downsample_type", downsampleType, "conv, resnet") }
        guard ["conv", "resnet"].contains(upsampleType) else { throw refuse("upsample_type", upsampleType, "conv, resnet") }
        guard normNumGroups != nil else { throw refuse("norm_num_groups", "null", "an integer") }
        guard !blockOutChannels.isEmpty, blockOutChannels.count == downBlockTypes.count,
              downBlockTypes.count == upBlockTypes.count else {
            throw UNetLoadError.invalidConfig(path: path, reason:
                "block_out_channels, down_block_types and up_block_types must have the same non-zero length")
        }
        try validateValues(path: path)
    }

    /// Ranges of the numeric keys: each violation names the key, its value and what is expected.
    func validateValues(path: String) throws {
        func invalid(_ key: CodingKeys, _ value: Any, _ expected: String) -> UNetLoadError {
            .invalidValue(path: path, key: key.rawValue, value: "\(value)", expected: expected)
        }
        let channelRange = 1...Self.maxChannels
        for (key, value) in [(CodingKeys.inChannels, inChannels), (.outChannels, outChannels)]
        where !channelRange.contains(value) {
            throw invalid(key, value, "an integer in 1...\(Self.maxChannels)")
        }
        guard blockOutChannels.count <= Self.maxLevels, blockOutChannels.allSatisfy(channelRange.contains) else {
            throw invalid(.blockOutChannels, blockOutChannels,
                          "at most \(Self.maxLevels) integers in 1...\(Self.maxChannels)")
        }
        guard (1...Self.maxLayersPerBlock).contains(layersPerBlock) else {
            throw invalid(.layersPerBlock, layersPerBlock, "an integer in 1...\(Self.maxLayersPerBlock)")
        }
        if let timeEmbeddingDim, !(1...(4 * Self.maxChannels)).contains(timeEmbeddingDim) {
            throw invalid(.timeEmbeddingDim, timeEmbeddingDim, "null or an integer in 1...\(4 * Self.maxChannels)")
        }
        if let attentionHeadDim, !channelRange.contains(attentionHeadDim) {
            throw invalid(.attentionHeadDim, attentionHeadDim, "null or an integer in 1...\(Self.maxChannels)")
        }
        for (key, groups) in [(CodingKeys.normNumGroups, normNumGroups), (.attnNormNumGroups, attnNormNumGroups)] {
            if let groups, !channelRange.contains(groups) {
                throw invalid(key, groups, "a positive integer that divides every block's channels")
            }
        }
        // The kernels add eps in Float32: it must stay positive and finite there.
        guard Float(normEps) > 0, Float(normEps).isFinite else {
            throw invalid(.normEps, normEps, "a number > 0 that Float32 can hold, e.g. 1e-5 (GroupNorm divides by √(variance + eps))")
        }
        // get_timestep_embedding divides by (half − freq_shift): zero gives NaN, negative gives
        // frequencies growing past 10000×.
        let half = blockOutChannels[0] / 2
        guard freqShift.isFinite, half == 0 || Float(half) - Float(freqShift) > 0 else {
            throw invalid(.freqShift, freqShift, "a number below half the first block's channels (\(half)), usually 0 or 1")
        }
        guard midBlockScaleFactor.isFinite else { throw invalid(.midBlockScaleFactor, midBlockScaleFactor, "a finite number") }
        guard (0...1).contains(downsamplePadding) else {
            throw invalid(.downsamplePadding, downsamplePadding, "0 or 1 (others change the feature map sizes)")
        }
        if let sampleSize {
            let factor = 1 << (blockOutChannels.count - 1)
            guard sampleSize.allSatisfy({ (1...Self.maxSampleSize).contains($0) && $0 % factor == 0 }) else {
                throw invalid(.sampleSize, sampleSize, "sizes in 1...\(Self.maxSampleSize) divisible by \(factor) "
                              + "(2^(levels − 1) for \(blockOutChannels.count) levels)")
            }
        }
    }
}

/// Why a model folder could not be loaded.
public enum UNetLoadError: Error, LocalizedError, Equatable {
    case missingFile(path: String, hint: String)
    /// PyTorch pickle weights of a diffusers/transformers class (named for the conversion command).
    case pickleWeights(path: String, className: String = "UNet2DModel")
    case invalidConfig(path: String, reason: String)
    /// A key holds a value of the wrong type or out of range.
    case invalidValue(path: String, key: String, value: String, expected: String)
    case unreadable(path: String, reason: String)
    case unsupportedOption(path: String, key: String, value: String, supported: String)
    case missingWeight(path: String, key: String, shape: [Int])
    case unusedWeights(path: String, keys: [String])
    case shapeMismatch(path: String, key: String, expected: [Int], actual: [Int])
    case nonFiniteWeight(path: String, key: String)
    case inputShape(expected: String, actual: String)

    public var errorDescription: String? {
        switch self {
        case let .missingFile(path, hint): "\(path) does not exist; \(hint)"
        case let .pickleWeights(path, className):
            "\(path) holds PyTorch pickle weights (.bin), which skipstep does not read. Convert the folder once with: "
                + "python -c \"from \(className.hasPrefix("CLIP") ? "transformers" : "diffusers") import \(className) as M; "
                + "d='\(URL(fileURLWithPath: path).deletingLastPathComponent().path)'; "
                + "M.from_pretrained(d).save_pretrained(d, safe_serialization=True)\""
        case let .invalidConfig(path, reason): "\(path): \(reason)"
        case let .invalidValue(path, key, value, expected): "\(path): \(key) = \(value) is invalid; expected \(expected)"
        case let .unreadable(path, reason): "cannot read \(path): \(reason)"
        case let .unsupportedOption(path, key, value, supported):
            "\(path): \(key) = \(value) is not supported (supported: \(supported))"
        case let .missingWeight(path, key, shape): "\(path): weight '\(key)' \(shape) is missing"
        case let .unusedWeights(path, keys):
            "\(path): \(keys.count) weight(s) the config does not use, e.g. '\(keys.prefix(3).joined(separator: "', '"))'"
        case let .shapeMismatch(path, key, expected, actual):
            "\(path): weight '\(key)' has shape \(actual), the config needs \(expected)"
        case let .nonFiniteWeight(path, key): "\(path): weight '\(key)' contains NaN or infinity"
        case let .inputShape(expected, actual): "the UNet expects input \(expected), got \(actual)"
        }
    }
}
