import Foundation

/// diffusers `AutoencoderKL`'s `config.json` (models/autoencoders/autoencoder_kl.py `__init__`,
/// 0.42 defaults for missing keys; older SD configs omit `scaling_factor`, which then is 0.18215).
/// Only the decoder's keys matter to skipstep; the encoder's are read for completeness.
public struct AutoencoderKLConfig: Decodable, Sendable, Equatable {
    public var inChannels = 3
    public var outChannels = 3
    public var downBlockTypes = ["DownEncoderBlock2D"]
    public var upBlockTypes = ["UpDecoderBlock2D"]
    public var blockOutChannels = [64]
    public var layersPerBlock = 1
    public var actFn = "silu"
    public var latentChannels = 4
    public var normNumGroups = 32
    public var sampleSize: Int?
    /// Latents are divided by this before decoding (the pipeline does it: `latents / scaling_factor`).
    public var scalingFactor = 0.18215
    /// SD 3 / Flux style shift (`latents / scaling_factor + shift_factor`); `StableDiffusionPipeline` ignores it.
    public var shiftFactor: Double?
    public var latentsMean: [Double]?
    public var latentsStd: [Double]?
    public var usePostQuantConv = true
    public var useQuantConv = true
    public var midBlockAddAttention = true
    public var className: String?

    enum CodingKeys: String, CodingKey {
        case inChannels = "in_channels", outChannels = "out_channels", downBlockTypes = "down_block_types"
        case upBlockTypes = "up_block_types", blockOutChannels = "block_out_channels", layersPerBlock = "layers_per_block"
        case actFn = "act_fn", latentChannels = "latent_channels", normNumGroups = "norm_num_groups"
        case sampleSize = "sample_size", scalingFactor = "scaling_factor", shiftFactor = "shift_factor"
        case latentsMean = "latents_mean", latentsStd = "latents_std", usePostQuantConv = "use_post_quant_conv"
        case useQuantConv = "use_quant_conv", midBlockAddAttention = "mid_block_add_attention", className = "_class_name"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
            try c.configValue(T.self, forKey: key) ?? fallback
        }
        inChannels = try value(.inChannels, inChannels)
        outChannels = try value(.outChannels, outChannels)
        downBlockTypes = try value(.downBlockTypes, downBlockTypes)
        upBlockTypes = try value(.upBlockTypes, upBlockTypes)
        blockOutChannels = try value(.blockOutChannels, blockOutChannels)
        layersPerBlock = try value(.layersPerBlock, layersPerBlock)
        actFn = try value(.actFn, actFn)
        latentChannels = try value(.latentChannels, latentChannels)
        normNumGroups = try value(.normNumGroups, normNumGroups)
        // diffusers accepts an int or a pair here; only the decoder's factor matters to skipstep.
        sampleSize = try? c.decodeIfPresent(Int.self, forKey: .sampleSize)
        scalingFactor = try value(.scalingFactor, scalingFactor)
        shiftFactor = try c.configValue(Double.self, forKey: .shiftFactor)
        latentsMean = try c.configValue([Double].self, forKey: .latentsMean)
        latentsStd = try c.configValue([Double].self, forKey: .latentsStd)
        usePostQuantConv = try value(.usePostQuantConv, usePostQuantConv)
        useQuantConv = try value(.useQuantConv, useQuantConv)
        midBlockAddAttention = try value(.midBlockAddAttention, midBlockAddAttention)
        className = try c.configValue(String.self, forKey: .className)
    }

    /// The decoder's upsampling factor, diffusers' `vae_scale_factor` = 2^(len(block_out_channels) − 1).
    public var scaleFactor: Int { 1 << (blockOutChannels.count - 1) }

    public static let maxChannels = 65_536
    public static let maxLevels = 12
    public static let maxLayersPerBlock = 64

    /// Refuses, by name, what the decoder does not implement, and values out of range.
    public func validate(path: String) throws {
        func refuse(_ key: String, _ value: String, _ supported: String) -> UNetLoadError {
            .unsupportedOption(path: path, key: key, value: value, supported: supported)
        }
        func invalid(_ key: CodingKeys, _ value: Any, _ expected: String) -> UNetLoadError {
            .invalidValue(path: path, key: key.rawValue, value: "\(value)", expected: expected)
        }
        if let className, className != "AutoencoderKL" { throw refuse("_class_name", className, "AutoencoderKL") }
        guard actFn == "silu" || actFn == "swish" else { throw refuse("act_fn", actFn, "silu") }
        for type in upBlockTypes where type != "UpDecoderBlock2D" { throw refuse("up_block_types", type, "UpDecoderBlock2D") }
        let n = blockOutChannels.count
        guard (1...Self.maxLevels).contains(n), upBlockTypes.count == n else {
            throw UNetLoadError.invalidConfig(path: path, reason: "block_out_channels (\(n)) and up_block_types "
                + "(\(upBlockTypes.count)) must have the same length, 1...\(Self.maxLevels)")
        }
        let channelRange = 1...Self.maxChannels
        for (key, value) in [(CodingKeys.inChannels, inChannels), (.outChannels, outChannels), (.latentChannels, latentChannels)]
        where !channelRange.contains(value) {
            throw invalid(key, value, "an integer in 1...\(Self.maxChannels)")
        }
        guard blockOutChannels.allSatisfy(channelRange.contains) else {
            throw invalid(.blockOutChannels, blockOutChannels, "integers in 1...\(Self.maxChannels)")
        }
        guard (1...Self.maxLayersPerBlock).contains(layersPerBlock) else {
            throw invalid(.layersPerBlock, layersPerBlock, "an integer in 1...\(Self.maxLayersPerBlock)")
        }
        guard channelRange.contains(normNumGroups), blockOutChannels.allSatisfy({ $0 % normNumGroups == 0 }) else {
            throw invalid(.normNumGroups, normNumGroups, "a positive integer that divides every block's channels \(blockOutChannels)")
        }
        guard scalingFactor.isFinite, scalingFactor > 0 else {
            throw invalid(.scalingFactor, scalingFactor, "a finite number > 0 (0.18215 for SD 1.x/2.x)")
        }
    }
}
