import Foundation
import Files
import Tensor

/// diffusers models/unets/unet_2d.py `UNet2DModel`, inference only, in Float32 on the CPU: the
/// config's wiring of the Tensor module's layers and blocks (`ResnetBlock2D`,
/// `AttentionBlock2D`, `Downsample2D`, `Upsample2D`, …). Activations stay channel-major
/// (`Tensor`, [C][B][H][W]) from `conv_in` to `conv_out`.
public final class UNet2DModel: @unchecked Sendable {
    /// The configuration the network was built from.
    public let config: UNet2DConfig
    /// The number of weights.
    public let parameterCount: Int

    private let convIn: Conv2d
    private let timeProjection: SinusoidalTimestepEmbedding
    private let timeLinear1: Linear, timeLinear2: Linear
    private let downBlocks: [DownBlock]
    private let midBlock: MidBlock?
    private let upBlocks: [UpBlock]
    private let normOut: GroupNorm, convOut: Conv2d
    private let lock = NSLock()
    private let pool = BufferPool()
    private lazy var context = ForwardContext(pool: pool)

    struct DownBlock { var resnets: [ResnetBlock2D]; var attentions: [AttentionBlock2D]; var downsample: Downsample2D?; var resnetDown: ResnetBlock2D? }
    struct MidBlock { var first: ResnetBlock2D; var attention: AttentionBlock2D?; var second: ResnetBlock2D }
    struct UpBlock { var resnets: [ResnetBlock2D]; var attentions: [AttentionBlock2D]; var upsample: Upsample2D?; var resnetUp: ResnetBlock2D? }

    /// Builds the model from a config and its weights; every key is checked: missing, unused and misshaped keys are errors naming the key.
    public init(config c: UNet2DConfig, weights file: SafeTensorsFile) throws {
        try c.validate(path: file.path)
        config = c
        var w = WeightBinder(modelFile: file, aliases: WeightAlias.diffusersLegacyAttention)
        let channels = c.blockOutChannels, c0 = channels[0], groups = c.normNumGroups ?? 32
        let timeChannels = c.timeEmbeddingDim ?? c0 * 4
        // ResnetBlock2D's settings from the config (diffusers passes the same to every resnet).
        func resnet(_ prefix: String, in i: Int, out o: Int, outputScale: Double = 1,
                    resample: ResnetBlock2D.Resample = .none) throws -> ResnetBlock2D {
            try ResnetBlock2D(&w, prefix, in: i, out: o, timeChannels: timeChannels, groups: groups, eps: c.normEps,
                              scaleShift: c.resnetTimeScaleShift == "scale_shift", outputScale: outputScale,
                              resample: resample)
        }
        convIn = try Conv2d(&w, "conv_in", in: c.inChannels, out: c0, kernel: 3, padding: 1)
        timeProjection = SinusoidalTimestepEmbedding(dim: c0, flipSinToCos: c.flipSinToCos,
                                                     downscaleFreqShift: c.freqShift)
        timeLinear1 = try Linear(&w, "time_embedding.linear_1", in: c0, out: timeChannels)
        timeLinear2 = try Linear(&w, "time_embedding.linear_2", in: timeChannels, out: timeChannels)

        var downs: [DownBlock] = []
        var output = c0
        for (i, type) in c.downBlockTypes.enumerated() {
            let input = output
            output = channels[i]
            let last = i == channels.count - 1, p = "down_blocks.\(i)"
            var block = DownBlock(resnets: [], attentions: [], downsample: nil, resnetDown: nil)
            for j in 0..<c.layersPerBlock {
                block.resnets.append(try resnet("\(p).resnets.\(j)", in: j == 0 ? input : output, out: output))
                if type == "AttnDownBlock2D" {
                    block.attentions.append(try AttentionBlock2D(&w, "\(p).attentions.\(j)", channels: output,
                                                               headDim: c.attentionHeadDim, groups: groups,
                                                               eps: c.normEps, rescale: 1))
                }
            }
            if !last {
                // DownBlock2D always downsamples with a conv; AttnDownBlock2D follows downsample_type.
                if type == "AttnDownBlock2D" && c.downsampleType == "resnet" {
                    block.resnetDown = try resnet("\(p).downsamplers.0", in: output, out: output, resample: .down)
                } else {
                    block.downsample = try Downsample2D(&w, "\(p).downsamplers.0", channels: output,
                                                      padding: c.downsamplePadding)
                }
            }
            downs.append(block)
        }
        downBlocks = downs

        if c.midBlockType != nil {
            let last = channels[channels.count - 1]
            // UNetMidBlock2D: attention GroupNorm only with "default" time scale-shift unless attn_norm_num_groups.
            let attentionGroups = c.attnNormNumGroups ?? (c.resnetTimeScaleShift == "default" ? groups : nil)
            midBlock = MidBlock(
                first: try resnet("mid_block.resnets.0", in: last, out: last, outputScale: c.midBlockScaleFactor),
                attention: c.addAttention
                    ? try AttentionBlock2D(&w, "mid_block.attentions.0", channels: last, headDim: c.attentionHeadDim,
                                         groups: attentionGroups, eps: c.normEps, rescale: c.midBlockScaleFactor)
                    : nil,
                second: try resnet("mid_block.resnets.1", in: last, out: last, outputScale: c.midBlockScaleFactor))
        } else {
            midBlock = nil
        }

        var ups: [UpBlock] = []
        let reversed = Array(channels.reversed())
        output = reversed[0]
        for (i, type) in c.upBlockTypes.enumerated() {
            let previous = output
            output = reversed[i]
            let input = reversed[min(i + 1, channels.count - 1)]
            let last = i == channels.count - 1, p = "up_blocks.\(i)"
            var block = UpBlock(resnets: [], attentions: [], upsample: nil, resnetUp: nil)
            for j in 0...c.layersPerBlock {
                let skip = j == c.layersPerBlock ? input : output
                let resnetIn = j == 0 ? previous : output
                block.resnets.append(try resnet("\(p).resnets.\(j)", in: resnetIn + skip, out: output))
                if type == "AttnUpBlock2D" {
                    block.attentions.append(try AttentionBlock2D(&w, "\(p).attentions.\(j)", channels: output,
                                                               headDim: c.attentionHeadDim, groups: groups,
                                                               eps: c.normEps, rescale: 1))
                }
            }
            if !last {
                if type == "AttnUpBlock2D" && c.upsampleType == "resnet" {
                    block.resnetUp = try resnet("\(p).upsamplers.0", in: output, out: output, resample: .up)
                } else {
                    block.upsample = try Upsample2D(&w, "\(p).upsamplers.0", channels: output)
                }
            }
            ups.append(block)
        }
        upBlocks = ups
        normOut = try GroupNorm(&w, "conv_norm_out", channels: c0, groups: groups, eps: c.normEps)
        convOut = try Conv2d(&w, "conv_out", in: c0, out: c.outChannels, kernel: 3, padding: 1)
        try w.finish()
        parameterCount = w.used.reduce(0) { $0 + ((try? file.info($1).elementCount) ?? 0) }
    }

    /// FLOPs of the last forward pass (see `ForwardContext.flops`).
    public var lastForwardFLOPs: Int {
        lock.lock()
        defer { lock.unlock() }
        return context.flops
    }

    /// `model(sample, timesteps).sample`: `x` is `batch × in_channels × H × W` (NCHW), one
    /// timestep per batch item; returns `batch × out_channels × H × W`.
    public func callAsFunction(_ x: [Float], batch: Int, height: Int, width: Int, timesteps: [Double]) throws -> [Float] {
        let c = config
        guard batch >= 1, height >= 1, width >= 1, timesteps.count == batch,
              let expected = CheckedSize.product([batch, c.inChannels, height, width]), x.count == expected else {
            throw UNetLoadError.inputShape(expected: "\(batch)×\(c.inChannels)×\(height)×\(width) with \(batch) timesteps",
                                           actual: "\(x.count) values, \(timesteps.count) timesteps")
        }
        let factor = 1 << (c.blockOutChannels.count - 1)
        guard height % factor == 0, width % factor == 0 else {
            throw UNetLoadError.inputShape(expected: "H and W divisible by \(factor)", actual: "\(height)×\(width)")
        }
        lock.lock()
        defer { lock.unlock() }
        let ctx = context
        ctx.begin(batch: batch)
        let timeEmbedding = Activation.silu(inPlace: timeLinear2(Activation.silu(inPlace: timeLinear1(
            timeProjection(timesteps, pool: pool), ctx)), ctx))

        let input = Tensor(pool, nchw: x, batch: batch, channels: c.inChannels, height: height, width: width)
        if c.centerInputSample { for i in 0..<input.count { input.data[i] = 2 * input.data[i] - 1 } }

        var h = convIn(input, ctx)
        var skips = [h]
        for block in downBlocks {
            for (j, resnet) in block.resnets.enumerated() {
                h = resnet(h, timeEmbedding: timeEmbedding, ctx)
                if j < block.attentions.count { h = block.attentions[j](h, ctx) }
                skips.append(h)
            }
            if let down = block.downsample { h = down(h, ctx); skips.append(h) }
            if let down = block.resnetDown { h = down(h, timeEmbedding: timeEmbedding, ctx); skips.append(h) }
        }
        if let mid = midBlock {
            h = mid.first(h, timeEmbedding: timeEmbedding, ctx)
            if let attention = mid.attention { h = attention(h, ctx) }
            h = mid.second(h, timeEmbedding: timeEmbedding, ctx)
        }
        for block in upBlocks {
            for (j, resnet) in block.resnets.enumerated() {
                h = resnet(Combine.concatenate(h, skips.removeLast()), timeEmbedding: timeEmbedding, ctx)
                if j < block.attentions.count { h = block.attentions[j](h, ctx) }
            }
            if let up = block.upsample { h = up(h, ctx) }
            if let up = block.resnetUp { h = up(h, timeEmbedding: timeEmbedding, ctx) }
        }
        return convOut(normOut(h, silu: true, inPlace: true), ctx).nchw()
    }
}
