import Foundation
import Files
import Tensor

/// The decoding half of diffusers `AutoencoderKL` (models/autoencoders/autoencoder_kl.py
/// `decode`, vae.py `Decoder`), Float32 on the CPU: `post_quant_conv` (1×1, when
/// `use_post_quant_conv`) → `conv_in` → mid block (resnet, one-head attention over all channels
/// with its GroupNorm, resnet) → one `UpDecoderBlock2D` per level (`layers_per_block + 1` resnets,
/// nearest ×2 + conv except the last) → GroupNorm, SiLU, `conv_out`. Every norm has eps 1e-6; the
/// resnets take no time embedding. A `vae/` folder's `encoder.*` and `quant_conv.*` weights are
/// ignored; the pre-0.15 attention names `query`, `key`, `value`, `proj_attn` are read as
/// `to_q`, `to_k`, `to_v`, `to_out.0` (diffusers renames them at load, modeling_utils.py
/// `_fix_state_dict_keys_on_load`). Parity: Tests/ModelsTests/AutoencoderKLDecoderTests.swift
/// (diffusers 0.42.1, tools/make_sd_fixtures.py).
public final class AutoencoderKLDecoder: @unchecked Sendable {
    public let config: AutoencoderKLConfig
    public let parameterCount: Int

    private let postQuantConv: Conv2d?
    private let convIn: Conv2d
    private let midFirst: ResnetBlock2D, midAttention: AttentionBlock2D?, midSecond: ResnetBlock2D
    private let upBlocks: [(resnets: [ResnetBlock2D], upsample: Upsample2D?)]
    private let normOut: GroupNorm, convOut: Conv2d
    private let lock = NSLock()
    private let pool = BufferPool()
    private lazy var context = ForwardContext(pool: pool)

    /// Weight-name prefixes of the encoding half, which the decoder does not read.
    public static let ignoredPrefixes = ["encoder.", "quant_conv."]

    /// Loads a diffusers `vae/` folder: `config.json` and `diffusion_pytorch_model[.variant].safetensors`.
    public convenience init(directory: URL, variant: String?) throws {
        let (config, weights, configPath) = try ComponentFolder.read(
            AutoencoderKLConfig.self, in: directory, weightsBase: "diffusion_pytorch_model", variant: variant, className: "AutoencoderKL")
        try self.init(config: config, weights: weights, configPath: configPath)
    }

    /// Builds the decoder from a config and the autoencoder's weights (strict keys but for the
    /// encoder's, `ignoredPrefixes`).
    public convenience init(config: AutoencoderKLConfig, weights: SafeTensorsFile) throws {
        try self.init(config: config, weights: weights, configPath: weights.path)
    }

    init(config c: AutoencoderKLConfig, weights file: SafeTensorsFile, configPath: String) throws {
        try c.validate(path: configPath)
        config = c
        let source = WeightsIgnoring(base: file, prefixes: Self.ignoredPrefixes)
        var w = WeightBinder(source, aliases: WeightAlias.diffusersLegacyAttention, mapError: UNetLoadError.init(binding:))
        let channels = c.blockOutChannels, n = channels.count, groups = c.normNumGroups, eps = 1e-6
        func resnet(_ prefix: String, in i: Int, out o: Int) throws -> ResnetBlock2D {
            try ResnetBlock2D(&w, prefix, in: i, out: o, timeChannels: nil, groups: groups, eps: eps, scaleShift: false)
        }
        postQuantConv = c.usePostQuantConv
            ? try Conv2d(&w, "post_quant_conv", in: c.latentChannels, out: c.latentChannels, kernel: 1) : nil
        let last = channels[n - 1]
        convIn = try Conv2d(&w, "decoder.conv_in", in: c.latentChannels, out: last, kernel: 3, padding: 1)
        midFirst = try resnet("decoder.mid_block.resnets.0", in: last, out: last)
        midAttention = c.midBlockAddAttention
            ? try AttentionBlock2D(&w, "decoder.mid_block.attentions.0", channels: last, headDim: nil, groups: groups,
                                   eps: eps, rescale: 1)
            : nil
        midSecond = try resnet("decoder.mid_block.resnets.1", in: last, out: last)
        var ups: [(resnets: [ResnetBlock2D], upsample: Upsample2D?)] = []
        var output = last
        for i in 0..<n {
            let previous = output
            output = channels[n - 1 - i]
            let p = "decoder.up_blocks.\(i)"
            let resnets = try (0...c.layersPerBlock).map {
                try resnet("\(p).resnets.\($0)", in: $0 == 0 ? previous : output, out: output)
            }
            ups.append((resnets, i < n - 1 ? try Upsample2D(&w, "\(p).upsamplers.0", channels: output) : nil))
        }
        upBlocks = ups
        normOut = try GroupNorm(&w, "decoder.conv_norm_out", channels: channels[0], groups: groups, eps: eps)
        convOut = try Conv2d(&w, "decoder.conv_out", in: channels[0], out: c.outChannels, kernel: 3, padding: 1)
        try w.finish()
        parameterCount = w.used.reduce(0) { $0 + ((try? file.info($1).elementCount) ?? 0) }
    }

    /// diffusers' `vae_scale_factor`: the image is this many times the latent on each side.
    public var scaleFactor: Int { config.scaleFactor }

    /// FLOPs of the last `decode` (see `ForwardContext.flops`).
    public var lastForwardFLOPs: Int {
        lock.lock()
        defer { lock.unlock() }
        return context.flops
    }

    /// `vae.decode(latents).sample`: `latents` is `batch × latent_channels × height × width` (NCHW),
    /// already divided by `scaling_factor`; returns the image `batch × out_channels ×
    /// (height·scaleFactor) × (width·scaleFactor)`, nominally in [−1, 1] (not clamped).
    public func decode(_ latents: [Float], batch: Int, height: Int, width: Int) throws -> [Float] {
        let c = config
        guard batch >= 1, height >= 1, width >= 1,
              let expected = CheckedSize.product([batch, c.latentChannels, height, width]), latents.count == expected,
              CheckedSize.product([batch, c.blockOutChannels.max() ?? 1, height * scaleFactor, width * scaleFactor]) != nil
        else {
            throw UNetLoadError.inputShape(expected: "latents \(batch)×\(c.latentChannels)×\(height)×\(width)",
                                           actual: "\(latents.count) values")
        }
        lock.lock()
        defer { lock.unlock() }
        let ctx = context
        ctx.begin(batch: batch)
        var h = Tensor(pool, nchw: latents, batch: batch, channels: c.latentChannels, height: height, width: width)
        if let postQuantConv { h = postQuantConv(h, ctx) }
        h = convIn(h, ctx)
        h = midFirst(h, timeEmbedding: nil, ctx)
        if let midAttention { h = midAttention(h, ctx) }
        h = midSecond(h, timeEmbedding: nil, ctx)
        for block in upBlocks {
            for resnet in block.resnets { h = resnet(h, timeEmbedding: nil, ctx) }
            if let upsample = block.upsample { h = upsample(h, ctx) }
        }
        return convOut(normOut(h, silu: true, inPlace: true), ctx).nchw()
    }
}
