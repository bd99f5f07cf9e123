import Diffusion
import Foundation

/// An OpenAI guided-diffusion (ADM) model's `adm_config.json`, written by tools/convert_adm.py:
/// the flags of guided-diffusion's `create_model_and_diffusion` (script_util.py, spelled as its
/// README's MODEL_FLAGS, defaults from `model_and_diffusion_defaults()`), with `channel_mult`
/// resolved by image size as `create_model` does, the class count, `clip_denoised` (the sampling
/// scripts' default, true) and the source checkpoint's sha256.
public struct ADMConfig: Codable, Sendable, Equatable {
    /// `image_size`: the height and width of the samples.
    public var imageSize = 64
    /// `num_channels`: the base channel count.
    public var numChannels = 128
    /// `num_res_blocks`: residual blocks per resolution.
    public var numResBlocks = 2
    /// Empty: resolved from `imageSize` (`resolvedChannelMult`).
    public var channelMult: [Double] = []
    /// Image resolutions with attention ("16,8"), as the flag; downsample factors are imageSize / r.
    public var attentionResolutions = "16,8"
    /// `num_heads`: attention heads (when `num_head_channels` is −1).
    public var numHeads = 4
    /// `num_head_channels`: channels per head, −1 to use `num_heads`.
    public var numHeadChannels = -1
    /// `num_heads_upsample`: heads in the upsampling path, −1 for `num_heads`.
    public var numHeadsUpsample = -1
    /// `learn_sigma`: the output has variance channels (learned_range).
    public var learnSigma = false
    /// `class_cond`: the model takes class labels.
    public var classCond = false
    /// guided-diffusion's NUM_CLASSES (1000); the test configs use 10.
    public var numClasses: Int?
    /// `use_scale_shift_norm`: the timestep embedding scales and shifts the normalised activations.
    public var useScaleShiftNorm = true
    /// `resblock_updown`: residual blocks do the up- and downsampling.
    public var resblockUpdown = false
    /// `use_new_attention_order`: split qkv before heads (QKVAttention) rather than after (legacy).
    public var useNewAttentionOrder = false
    /// Recorded only: skipstep computes in Float32 (the files hold the fp32 master weights).
    public var useFp16 = false
    /// `dropout`: recorded only (sampling uses none).
    public var dropout = 0.0
    /// `diffusion_steps`: the training steps T.
    public var diffusionSteps = 1000
    /// `noise_schedule`: `linear` or `cosine`.
    public var noiseSchedule = "linear"
    /// `sigma_small`: fixed_small rather than fixed_large variance (without learn_sigma).
    public var sigmaSmall = false
    /// `predict_xstart`: the network predicts x₀ rather than ε.
    public var predictXstart = false
    /// `rescale_timesteps`: timesteps are scaled to 0…1000 before the embedding.
    public var rescaleTimesteps = false
    /// `timestep_respacing`: the respacing the checkpoint was published with (recorded).
    public var timestepRespacing = ""
    /// `clip_denoised`: clip x̂₀ to [−1, 1], the sampling scripts' default.
    public var clipDenoised = true
    /// `source_sha256`: the SHA-256 of the converted .pt checkpoint.
    public var sourceSha256: String?

    enum CodingKeys: String, CodingKey {
        case imageSize = "image_size", numChannels = "num_channels", numResBlocks = "num_res_blocks"
        case channelMult = "channel_mult", attentionResolutions = "attention_resolutions", numHeads = "num_heads"
        case numHeadChannels = "num_head_channels", numHeadsUpsample = "num_heads_upsample"
        case learnSigma = "learn_sigma", classCond = "class_cond", numClasses = "num_classes"
        case useScaleShiftNorm = "use_scale_shift_norm", resblockUpdown = "resblock_updown"
        case useNewAttentionOrder = "use_new_attention_order", useFp16 = "use_fp16", dropout
        case diffusionSteps = "diffusion_steps", noiseSchedule = "noise_schedule", sigmaSmall = "sigma_small"
        case predictXstart = "predict_xstart", rescaleTimesteps = "rescale_timesteps"
        case timestepRespacing = "timestep_respacing", clipDenoised = "clip_denoised", sourceSha256 = "source_sha256"
    }

    /// guided-diffusion's defaults (`model_and_diffusion_defaults()`).
    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
            try c.decodeIfPresent(T.self, forKey: key) ?? fallback
        }
        let d = ADMConfig()
        imageSize = try value(.imageSize, d.imageSize)
        numChannels = try value(.numChannels, d.numChannels)
        numResBlocks = try value(.numResBlocks, d.numResBlocks)
        channelMult = try value(.channelMult, d.channelMult)
        attentionResolutions = try value(.attentionResolutions, d.attentionResolutions)
        numHeads = try value(.numHeads, d.numHeads)
        numHeadChannels = try value(.numHeadChannels, d.numHeadChannels)
        numHeadsUpsample = try value(.numHeadsUpsample, d.numHeadsUpsample)
        learnSigma = try value(.learnSigma, d.learnSigma)
        classCond = try value(.classCond, d.classCond)
        numClasses = try c.decodeIfPresent(Int.self, forKey: .numClasses)
        useScaleShiftNorm = try value(.useScaleShiftNorm, d.useScaleShiftNorm)
        resblockUpdown = try value(.resblockUpdown, d.resblockUpdown)
        useNewAttentionOrder = try value(.useNewAttentionOrder, d.useNewAttentionOrder)
        useFp16 = try value(.useFp16, d.useFp16)
        dropout = try value(.dropout, d.dropout)
        diffusionSteps = try value(.diffusionSteps, d.diffusionSteps)
        noiseSchedule = try value(.noiseSchedule, d.noiseSchedule)
        sigmaSmall = try value(.sigmaSmall, d.sigmaSmall)
        predictXstart = try value(.predictXstart, d.predictXstart)
        rescaleTimesteps = try value(.rescaleTimesteps, d.rescaleTimesteps)
        timestepRespacing = try value(.timestepRespacing, d.timestepRespacing)
        clipDenoised = try value(.clipDenoised, d.clipDenoised)
        sourceSha256 = try c.decodeIfPresent(String.self, forKey: .sourceSha256)
    }

    /// `create_model`'s channel_mult: the config's, else the default for 64, 128, 256 or 512 px.
    public func resolvedChannelMult(path: String) throws -> [Double] {
        if !channelMult.isEmpty { return channelMult }
        switch imageSize {
        case 64: return [1, 2, 3, 4]
        case 128: return [1, 1, 2, 3, 4]
        case 256: return [1, 1, 2, 2, 4, 4]
        case 512: return [0.5, 1, 1, 2, 2, 4, 4]
        default:
            throw UNetLoadError.invalidConfig(path: path, reason: "image_size \(imageSize) has no default channel_mult "
                                              + "(64, 128, 256 or 512); give channel_mult")
        }
    }

    /// `create_model`'s attention_ds: image_size // r for each resolution r of the flag.
    public func attentionDownsampleFactors(path: String) throws -> Set<Int> {
        var factors = Set<Int>()
        for part in attentionResolutions.split(separator: ",", omittingEmptySubsequences: false) {
            guard let r = Int(part.trimmingCharacters(in: .whitespaces)), r > 0 else {
                throw UNetLoadError.invalidConfig(path: path, reason: "attention_resolutions '\(attentionResolutions)' "
                                                  + "must list positive resolutions separated by commas, e.g. 32,16,8")
            }
            factors.insert(imageSize / r)
        }
        return factors
    }

    /// The class count of a class-conditional model (1000 unless `num_classes` says otherwise); nil otherwise.
    public var classCount: Int? { classCond ? (numClasses ?? 1000) : nil }

    /// The network's output channels: 6 with `learn_sigma`, else 3.
    public var outChannels: Int { learnSigma ? 6 : 3 }

    /// Checks the flags skipstep honours; names the key otherwise.
    public func validate(path: String) throws {
        func invalid(_ reason: String) -> UNetLoadError { .invalidConfig(path: path, reason: reason) }
        guard imageSize > 0, numChannels > 0, numResBlocks >= 0 else {
            throw invalid("image_size, num_channels must be positive and num_res_blocks ≥ 0")
        }
        let mult = try resolvedChannelMult(path: path)
        guard mult.allSatisfy({ $0 > 0 && Int($0 * Double(numChannels)) > 0 }) else {
            throw invalid("channel_mult \(mult) must be positive")
        }
        let factor = 1 << (mult.count - 1)
        guard imageSize % factor == 0 else {
            throw invalid("image_size \(imageSize) is not divisible by \(factor) (\(mult.count) levels)")
        }
        guard numHeadChannels == -1 || numHeadChannels > 0 else {
            throw invalid("num_head_channels \(numHeadChannels) must be −1 or positive")
        }
        guard numHeadChannels != -1 || numHeads > 0 else { throw invalid("num_heads \(numHeads) must be positive") }
        guard numHeadsUpsample == -1 || numHeadsUpsample > 0 else {
            throw invalid("num_heads_upsample \(numHeadsUpsample) must be −1 or positive")
        }
        if let n = numClasses, n < 1 { throw invalid("num_classes \(n) must be positive") }
        guard !predictXstart else {
            throw UNetLoadError.unsupportedOption(path: path, key: "predict_xstart", value: "true", supported: "false")
        }
        guard !rescaleTimesteps else {
            throw UNetLoadError.unsupportedOption(path: path, key: "rescale_timesteps", value: "true", supported: "false")
        }
        guard diffusionSteps >= 2 else { throw invalid("diffusion_steps \(diffusionSteps) must be at least 2") }
        _ = try schedule(path: path)
        _ = try attentionDownsampleFactors(path: path)
    }

    /// guided-diffusion's `get_named_beta_schedule(noise_schedule, diffusion_steps)`.
    public func schedule(path: String) throws -> NoiseSchedule {
        switch noiseSchedule {
        case "linear": return try NoiseSchedule(.guidedLinear, trainSteps: diffusionSteps)
        case "cosine": return try NoiseSchedule(.squaredCosCapV2, trainSteps: diffusionSteps)
        default:
            throw UNetLoadError.unsupportedOption(path: path, key: "noise_schedule", value: noiseSchedule,
                                                  supported: "linear, cosine")
        }
    }

    /// The sampler defaults of guided-diffusion's scripts: the variance its flags select
    /// (learned range with learn_sigma, else fixed_small with sigma_small, else fixed_large) and
    /// x̂₀ clipped to [−1, 1] when `clip_denoised`.
    public var samplerOptions: SamplerOptions {
        SamplerOptions(varianceType: learnSigma ? .learnedRange : (sigmaSmall ? .fixedSmall : .fixedLarge),
                       clipSampleRange: clipDenoised ? 1 : nil)
    }
}
