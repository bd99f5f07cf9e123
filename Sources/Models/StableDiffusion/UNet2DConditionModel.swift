import Foundation
import Files
import Tensor

/// diffusers models/unets/unet_2d_condition.py `UNet2DConditionModel` as Stable Diffusion 1.x /
/// 2.x configure it, inference only, Float32 on the CPU: `CrossAttnDownBlock2D` / `DownBlock2D`,
/// `UNetMidBlock2DCrossAttn`, `CrossAttnUpBlock2D` / `UpBlock2D`, wired from the Tensor module's
/// `ResnetBlock2D`, `Transformer2DBlock`, `Downsample2D` and `Upsample2D`. Activations stay
/// channel-major (`[C, B, H, W]`) from `conv_in` to `conv_out`; the text states are
/// `[cross_attention_dim, B, 1, S]`. A latent side not divisible by 2^(levels − 1) is handled as
/// diffusers does: every up block but the last resizes to its skip connection's size
/// (`upsample_size`). Parity: Tests/ModelsTests/UNet2DConditionParityTests.swift (diffusers 0.42.1,
/// tools/make_sd_fixtures.py).
public final class UNet2DConditionModel: @unchecked Sendable {
    public let config: UNet2DConditionConfig
    public let parameterCount: Int

    private let convIn: Conv2d
    private let timeProjection: SinusoidalTimestepEmbedding
    private let timeLinear1: Linear, timeLinear2: Linear
    private let downBlocks: [DownBlock]
    private let mid: MidBlock
    private let upBlocks: [UpBlock]
    private let normOut: GroupNorm, convOut: Conv2d
    private let lock = NSLock()
    private let pool = BufferPool()
    private lazy var context = ForwardContext(pool: pool)

    struct DownBlock { var resnets: [ResnetBlock2D]; var attentions: [Transformer2DBlock]; var downsample: Downsample2D? }
    struct MidBlock { var first: ResnetBlock2D; var attention: Transformer2DBlock; var second: ResnetBlock2D }
    struct UpBlock { var resnets: [ResnetBlock2D]; var attentions: [Transformer2DBlock]; var upsample: Upsample2D? }

    /// Loads a diffusers `unet/` folder: `config.json` and `diffusion_pytorch_model[.variant].safetensors`.
    public convenience init(directory: URL, variant: String?) throws {
        let (config, weights, configPath) = try ComponentFolder.read(
            UNet2DConditionConfig.self, in: directory, weightsBase: "diffusion_pytorch_model", variant: variant, className: "UNet2DConditionModel")
        try self.init(config: config, weights: weights, configPath: configPath)
    }

    /// Builds the model from a config and its weights; every key is checked: missing, unused and
    /// misshaped keys are errors naming the key.
    public convenience init(config: UNet2DConditionConfig, weights: SafeTensorsFile) throws {
        try self.init(config: config, weights: weights, configPath: weights.path)
    }

    init(config c: UNet2DConditionConfig, weights file: SafeTensorsFile, configPath: String) throws {
        try c.validate(path: configPath)
        config = c
        var w = WeightBinder(modelFile: file)
        let channels = c.blockOutChannels, c0 = channels[0], n = channels.count
        let groups = c.normNumGroups ?? 32, timeChannels = c.timeEmbeddingDim ?? 4 * c0
        func resnet(_ prefix: String, in i: Int, out o: Int) throws -> ResnetBlock2D {
            try ResnetBlock2D(&w, prefix, in: i, out: o, timeChannels: timeChannels, groups: groups, eps: c.normEps,
                              scaleShift: false)
        }
        func transformer(_ prefix: String, channels: Int, block: Int, layers: Int) throws -> Transformer2DBlock {
            try Transformer2DBlock(&w, prefix, channels: channels, heads: c.heads(block), layers: layers,
                                   contextDim: c.crossDim(block), groups: groups, linearProjection: c.useLinearProjection,
                                   upcast: c.upcastAttention)
        }
        convIn = try Conv2d(&w, "conv_in", in: c.inChannels, out: c0, kernel: c.convInKernel, padding: (c.convInKernel - 1) / 2)
        timeProjection = SinusoidalTimestepEmbedding(dim: c0, flipSinToCos: c.flipSinToCos, downscaleFreqShift: c.freqShift)
        timeLinear1 = try Linear(&w, "time_embedding.linear_1", in: c0, out: timeChannels)
        timeLinear2 = try Linear(&w, "time_embedding.linear_2", in: timeChannels, out: timeChannels)

        var downs: [DownBlock] = []
        var output = c0
        for (i, type) in c.downBlockTypes.enumerated() {
            let input = output
            output = channels[i]
            let p = "down_blocks.\(i)"
            var block = DownBlock(resnets: [], attentions: [], downsample: nil)
            for j in 0..<c.layers(i) {
                block.resnets.append(try resnet("\(p).resnets.\(j)", in: j == 0 ? input : output, out: output))
                if type == "CrossAttnDownBlock2D" {
                    block.attentions.append(try transformer("\(p).attentions.\(j)", channels: output, block: i,
                                                            layers: c.transformerLayers(i)))
                }
            }
            if i < n - 1 {
                block.downsample = try Downsample2D(&w, "\(p).downsamplers.0", channels: output, padding: c.downsamplePadding)
            }
            downs.append(block)
        }
        downBlocks = downs

        let last = channels[n - 1]
        mid = MidBlock(first: try resnet("mid_block.resnets.0", in: last, out: last),
                       attention: try transformer("mid_block.attentions.0", channels: last, block: n - 1,
                                                  layers: c.transformerLayers(n - 1)),
                       second: try resnet("mid_block.resnets.1", in: last, out: last))

        // Up block i mirrors down block n − 1 − i (diffusers reverses every per-block list).
        var ups: [UpBlock] = []
        output = channels[n - 1]
        for (i, type) in c.upBlockTypes.enumerated() {
            let mirrored = n - 1 - i
            let previous = output
            output = channels[mirrored]
            let input = channels[max(mirrored - 1, 0)]
            let p = "up_blocks.\(i)"
            var block = UpBlock(resnets: [], attentions: [], upsample: nil)
            let count = c.layers(mirrored) + 1
            for j in 0..<count {
                let skip = j == count - 1 ? input : output
                block.resnets.append(try resnet("\(p).resnets.\(j)", in: (j == 0 ? previous : output) + skip, out: output))
                if type == "CrossAttnUpBlock2D" {
                    block.attentions.append(try transformer("\(p).attentions.\(j)", channels: output, block: mirrored,
                                                            layers: c.transformerLayers(mirrored)))
                }
            }
            if i < n - 1 { block.upsample = try Upsample2D(&w, "\(p).upsamplers.0", channels: output) }
            ups.append(block)
        }
        upBlocks = ups
        normOut = try GroupNorm(&w, "conv_norm_out", channels: c0, groups: groups, eps: c.normEps)
        convOut = try Conv2d(&w, "conv_out", in: c0, out: c.outChannels, kernel: c.convOutKernel,
                             padding: (c.convOutKernel - 1) / 2)
        try w.finish()
        parameterCount = w.used.reduce(0) { $0 + ((try? file.info($1).elementCount) ?? 0) }
    }

    /// FLOPs of the last forward pass (see `ForwardContext.flops`).
    public var lastForwardFLOPs: Int {
        lock.lock()
        defer { lock.unlock() }
        return context.flops
    }

    /// `unet(sample, timesteps, encoder_hidden_states).sample`: `x` is `batch × in_channels × H × W`
    /// (NCHW), one timestep per batch item, `encoderHiddenStates` `batch × sequenceLength ×
    /// cross_attention_dim` (row-major); returns `batch × out_channels × H × W`.
    public func callAsFunction(_ x: [Float], batch: Int, height: Int, width: Int, timesteps: [Double],
                               encoderHiddenStates: [Float], sequenceLength: Int) throws -> [Float] {
        let c = config, contextDim = c.crossDim(0)
        guard batch >= 1, height >= 1, width >= 1, timesteps.count == batch,
              let expected = CheckedSize.product([batch, c.inChannels, height, width]), x.count == expected else {
            throw UNetLoadError.inputShape(expected: "\(batch)×\(c.inChannels)×\(height)×\(width) with \(batch) timesteps",
                                           actual: "\(x.count) values, \(timesteps.count) timesteps")
        }
        guard sequenceLength >= 1, let contextCount = CheckedSize.product([batch, sequenceLength, contextDim]),
              encoderHiddenStates.count == contextCount else {
            throw UNetLoadError.inputShape(expected: "encoder hidden states \(batch)×\(sequenceLength)×\(contextDim)",
                                           actual: "\(encoderHiddenStates.count) values")
        }
        guard timesteps.allSatisfy(\.isFinite) else {
            throw UNetLoadError.inputShape(expected: "finite timesteps", actual: "\(timesteps)")
        }
        lock.lock()
        defer { lock.unlock() }
        let ctx = context
        ctx.begin(batch: batch)
        let timeEmbedding = Activation.silu(inPlace: timeLinear2(Activation.silu(inPlace: timeLinear1(
            timeProjection(timesteps, pool: pool), ctx)), ctx))
        let text = Tensor(pool, sequence: encoderHiddenStates, batch: batch, tokens: sequenceLength, features: contextDim)
        let input = Tensor(pool, nchw: x, batch: batch, channels: c.inChannels, height: height, width: width)
        if c.centerInputSample { for i in 0..<input.count { input.data[i] = 2 * input.data[i] - 1 } }

        var h = convIn(input, ctx)
        var skips = [h]
        for block in downBlocks {
            for (j, resnet) in block.resnets.enumerated() {
                h = resnet(h, timeEmbedding: timeEmbedding, ctx)
                if j < block.attentions.count { h = block.attentions[j](h, context: text, ctx) }
                skips.append(h)
            }
            if let down = block.downsample { h = down(h, ctx); skips.append(h) }
        }
        h = mid.first(h, timeEmbedding: timeEmbedding, ctx)
        h = mid.attention(h, context: text, ctx)
        h = mid.second(h, timeEmbedding: timeEmbedding, ctx)
        for block in upBlocks {
            for (j, resnet) in block.resnets.enumerated() {
                h = resnet(Combine.concatenate(h, skips.removeLast()), timeEmbedding: timeEmbedding, ctx)
                if j < block.attentions.count { h = block.attentions[j](h, context: text, ctx) }
            }
            if let up = block.upsample, let next = skips.last {
                // diffusers forwards upsample_size (the next skip's size) only when a side is off
                // the ×2 grid; where it is on the grid both give ×2.
                h = up(h, height: next.height, width: next.width, ctx)
            }
        }
        return convOut(normOut(h, silu: true, inPlace: true), ctx).nchw()
    }
}
