import Foundation
import Media
import Tensor

/// diffusers models/unets/unet_2d.py `UNet2DModel`, inference only, in Float32 on the CPU.
/// Activations stay channel-major ([C][B][H][W]) from `conv_in` to `conv_out`, so every conv and
/// projection is one GEMM writing its output in place and skip concatenation is two copies.
public final class UNet2DModel: @unchecked Sendable {
    public let config: UNet2DConfig
    public let parameterCount: Int

    private let convIn: Conv2D
    private let timeLinear1: RowLinear, timeLinear2: RowLinear
    private let downBlocks: [DownBlock]
    private let midBlock: MidBlock?
    private let upBlocks: [UpBlock]
    private let normOut: GroupNorm, convOut: Conv2D
    private let lock = NSLock()
    private let pool = BufferPool()
    private lazy var context = ForwardContext(pool: pool)

    struct DownBlock { var resnets: [ResnetBlock]; var attentions: [AttentionBlock]; var downsample: Downsample?; var resnetDown: ResnetBlock? }
    struct MidBlock { var first: ResnetBlock; var attention: AttentionBlock?; var second: ResnetBlock }
    struct UpBlock { var resnets: [ResnetBlock]; var attentions: [AttentionBlock]; var upsample: Upsample?; var resnetUp: ResnetBlock? }

    /// Builds the model from a config and its weights; every key is checked (DESIGN.md §5).
    public init(config c: UNet2DConfig, weights file: SafeTensorsFile) throws {
        try c.validate(path: file.path)
        config = c
        var w = WeightReader(file: file)
        let channels = c.blockOutChannels, c0 = channels[0], groups = c.normNumGroups ?? 32
        let timeChannels = c.timeEmbeddingDim ?? c0 * 4
        convIn = try Conv2D(&w, "conv_in", in: c.inChannels, out: c0, kernel: 3, padding: 1)
        timeLinear1 = try RowLinear(&w, "time_embedding.linear_1", in: c0, out: timeChannels)
        timeLinear2 = try RowLinear(&w, "time_embedding.linear_2", in: timeChannels, out: timeChannels)

        var downs: [DownBlock] = []
        var output = c0
        for (i, type) in c.downBlockTypes.enumerated() {
            let input = output
            output = channels[i]
            let last = i == channels.count - 1, p = "down_blocks.\(i)"
            var block = DownBlock(resnets: [], attentions: [], downsample: nil, resnetDown: nil)
            for j in 0..<c.layersPerBlock {
                block.resnets.append(try ResnetBlock(&w, "\(p).resnets.\(j)", in: j == 0 ? input : output, out: output,
                                                     config: c, timeChannels: timeChannels))
                if type == "AttnDownBlock2D" {
                    block.attentions.append(try AttentionBlock(&w, "\(p).attentions.\(j)", channels: output,
                                                               headDim: c.attentionHeadDim, groups: groups,
                                                               eps: c.normEps, rescale: 1))
                }
            }
            if !last {
                // DownBlock2D always downsamples with a conv; AttnDownBlock2D follows downsample_type.
                if type == "AttnDownBlock2D" && c.downsampleType == "resnet" {
                    block.resnetDown = try ResnetBlock(&w, "\(p).downsamplers.0", in: output, out: output, config: c,
                                                       timeChannels: timeChannels, resample: .down)
                } else {
                    block.downsample = try Downsample(&w, "\(p).downsamplers.0", channels: output,
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
                first: try ResnetBlock(&w, "mid_block.resnets.0", in: last, out: last, config: c,
                                       timeChannels: timeChannels, outputScale: c.midBlockScaleFactor),
                attention: c.addAttention
                    ? try AttentionBlock(&w, "mid_block.attentions.0", channels: last, headDim: c.attentionHeadDim,
                                         groups: attentionGroups, eps: c.normEps, rescale: c.midBlockScaleFactor)
                    : nil,
                second: try ResnetBlock(&w, "mid_block.resnets.1", in: last, out: last, config: c,
                                        timeChannels: timeChannels, outputScale: c.midBlockScaleFactor))
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
                block.resnets.append(try ResnetBlock(&w, "\(p).resnets.\(j)", in: resnetIn + skip, out: output,
                                                     config: c, timeChannels: timeChannels))
                if type == "AttnUpBlock2D" {
                    block.attentions.append(try AttentionBlock(&w, "\(p).attentions.\(j)", channels: output,
                                                               headDim: c.attentionHeadDim, groups: groups,
                                                               eps: c.normEps, rescale: 1))
                }
            }
            if !last {
                if type == "AttnUpBlock2D" && c.upsampleType == "resnet" {
                    block.resnetUp = try ResnetBlock(&w, "\(p).upsamplers.0", in: output, out: output, config: c,
                                                     timeChannels: timeChannels, resample: .up)
                } else {
                    block.upsample = try Upsample(&w, "\(p).upsamplers.0", channels: output)
                }
            }
            ups.append(block)
        }
        upBlocks = ups
        normOut = try GroupNorm(&w, "conv_norm_out", channels: c0, groups: groups, eps: c.normEps)
        convOut = try Conv2D(&w, "conv_out", in: c0, out: c.outChannels, kernel: 3, padding: 1)
        try w.finish()
        parameterCount = w.used.reduce(0) { $0 + ((try? file.info($1).elementCount) ?? 0) }
    }

    /// FLOPs of the last forward pass (see `ForwardContext.flops`).
    public var lastForwardFLOPs: Int {
        lock.lock()
        defer { lock.unlock() }
        return context.flops
    }

    /// diffusers embeddings.py `get_timestep_embedding` in float32: [B, C0] rows of
    /// sin/cos(t·exp(−ln(10000)·i/(half − freq_shift))), cos first when `flip_sin_to_cos`.
    func timestepEmbedding(_ timesteps: [Double]) -> [Float] {
        let dim = config.blockOutChannels[0], half = dim / 2
        let shift = Float(config.freqShift)
        let frequencies = (0..<half).map { exp(Float(-log(10000.0)) * Float($0) / (Float(half) - shift)) }
        var rows = [Float](repeating: 0, count: timesteps.count * dim)
        for (b, t) in timesteps.enumerated() {
            for i in 0..<half {
                let angle = Float(t) * frequencies[i]
                let (first, second) = config.flipSinToCos ? (cos(angle), sin(angle)) : (sin(angle), cos(angle))
                rows[b * dim + i] = first
                rows[b * dim + half + i] = second
            }
        }
        return rows
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
        ctx.timeEmbedding = silu(timeLinear2(silu(timeLinear1(timestepEmbedding(timesteps), rows: batch)), rows: batch))

        let input = Activation(pool, channels: c.inChannels, batch: batch, height: height, width: width)
        x.withUnsafeBufferPointer {
            Kernels.nchwToCNHW($0.baseAddress!, channels: c.inChannels, batch: batch, spatial: height * width,
                               output: input.data)
        }
        if c.centerInputSample { for i in 0..<input.count { input.data[i] = 2 * input.data[i] - 1 } }

        var h = convIn(input, ctx)
        var skips = [h]
        for block in downBlocks {
            for (j, resnet) in block.resnets.enumerated() {
                h = resnet(h, ctx)
                if j < block.attentions.count { h = block.attentions[j](h, ctx) }
                skips.append(h)
            }
            if let down = block.downsample { h = down(h, ctx); skips.append(h) }
            if let down = block.resnetDown { h = down(h, ctx); skips.append(h) }
        }
        if let mid = midBlock {
            h = mid.first(h, ctx)
            if let attention = mid.attention { h = attention(h, ctx) }
            h = mid.second(h, ctx)
        }
        for block in upBlocks {
            for (j, resnet) in block.resnets.enumerated() {
                h = resnet(concatenate(h, skips.removeLast()), ctx)
                if j < block.attentions.count { h = block.attentions[j](h, ctx) }
            }
            if let up = block.upsample { h = up(h, ctx) }
            if let up = block.resnetUp { h = up(h, ctx) }
        }
        h = convOut(normOut(h, silu: true, inPlace: true), ctx)
        var result = [Float](repeating: 0, count: h.count)
        result.withUnsafeMutableBufferPointer {
            Kernels.cnhwToNCHW(h.data, channels: h.channels, batch: batch, spatial: h.spatial, output: $0.baseAddress!)
        }
        return result
    }
}
