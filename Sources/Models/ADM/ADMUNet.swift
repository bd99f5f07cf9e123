import Diffusion
import Foundation
import Tensor

/// guided-diffusion @22e0df8 `unet.py` `UNetModel` (ADM), inference only, in Float32 on the CPU:
/// the config's wiring of the Tensor module's layers and blocks under guided-diffusion's own key
/// names. Time embedding `[cos, sin]` → `time_embed` (Linear, SiLU, Linear) plus `label_emb(y)`
/// for class-conditional models; `ResBlock`s are `ResnetBlock2D` (`Names.guidedDiffusion`, scale-
/// shift or additive embedding, `resblock_updown` resampling both paths); `AttentionBlock`s are
/// `AttentionBlock2D(guidedDiffusion:)` with the packed qkv in either order; conv resampling is
/// `Downsample2D` (conv `op`) / `Upsample2D`. Decoder blocks concatenate `[h, skip]`.
/// Parity: Tests/ModelsTests/ADMParityTests.swift (tools/make_adm_fixtures.py).
public final class ADMUNet: @unchecked Sendable {
    /// The configuration the network was built from.
    public let config: ADMConfig
    /// The number of weights.
    public let parameterCount: Int
    /// Output channels: 6 with learn_sigma (ε, then the variance value), else 3.
    public var outChannels: Int { config.outChannels }
    /// The number of classes of a class-conditional model, else nil.
    public var classCount: Int? { config.classCount }

    private enum Layer {
        case conv(Conv2d)
        case resnet(ResnetBlock2D)
        case attention(AttentionBlock2D)
        case down(Downsample2D)
        case up(Upsample2D)
    }

    private let timeProjection: SinusoidalTimestepEmbedding
    private let timeLinear1: Linear, timeLinear2: Linear
    private let labelEmbedding: Embedding?
    private let inputBlocks: [[Layer]]
    private let middleBlock: [Layer]
    private let outputBlocks: [[Layer]]
    private let normOut: GroupNorm, convOut: Conv2d
    private let levels: Int
    private let lock = NSLock()
    private let pool = BufferPool()
    private lazy var context = ForwardContext(pool: pool)

    /// Builds the model from its config and weights; binding is strict (missing, unused and
    /// misshaped keys are errors naming the key). The wiring is `ADMLayout`'s.
    public init(config c: ADMConfig, weights source: any WeightSource) throws {
        let path = source.sourceName
        let layout = try ADMLayout(config: c, path: path)
        config = c
        var w = WeightBinder(source, mapError: UNetLoadError.init(binding:))
        let order: MultiHeadAttention.PackedQKVOrder = c.useNewAttentionOrder ? .qkvFirst : .headsFirst
        let timeChannels = layout.timeChannels
        levels = layout.levels

        func bind(_ module: ADMLayout.Module) throws -> Layer {
            switch module {
            case let .conv(prefix, i, o, k): .conv(try Conv2d(&w, prefix, in: i, out: o, kernel: k, padding: k / 2))
            case let .resBlock(prefix, i, o, resample):
                .resnet(try ResnetBlock2D(&w, prefix, in: i, out: o, timeChannels: timeChannels, groups: 32, eps: 1e-5,
                                          scaleShift: layout.scaleShift, resample: resample, names: .guidedDiffusion))
            case let .attention(prefix, channels, heads):
                .attention(try AttentionBlock2D(guidedDiffusion: &w, prefix, channels: channels, heads: heads, order: order))
            case let .downsample(prefix, channels):
                .down(try Downsample2D(&w, prefix, channels: channels, padding: 1, convName: "op"))
            case let .upsample(prefix, channels): .up(try Upsample2D(&w, prefix, channels: channels))
            }
        }

        timeProjection = SinusoidalTimestepEmbedding(dim: layout.modelChannels, flipSinToCos: true, downscaleFreqShift: 0)
        timeLinear1 = try Linear(&w, "time_embed.0", in: layout.modelChannels, out: timeChannels)
        timeLinear2 = try Linear(&w, "time_embed.2", in: timeChannels, out: timeChannels)
        labelEmbedding = try layout.classCount.map { try Embedding(&w, "label_emb", count: $0, dim: timeChannels) }
        inputBlocks = try layout.inputBlocks.map { try $0.map(bind) }
        middleBlock = try layout.middleBlock.map(bind)
        outputBlocks = try layout.outputBlocks.map { try $0.map(bind) }
        normOut = try GroupNorm(&w, "out.0", channels: layout.firstLevelChannels, groups: 32, eps: 1e-5)
        convOut = try Conv2d(&w, "out.2", in: layout.firstLevelChannels, out: layout.outChannels, kernel: 3, padding: 1)
        try w.finish()
        parameterCount = w.used.reduce(0) { $0 + (source.weightShape($1)?.reduce(1, *) ?? 0) }
    }

    /// FLOPs of the last forward pass (see `ForwardContext.flops`).
    public var lastForwardFLOPs: Int {
        lock.lock()
        defer { lock.unlock() }
        return context.flops
    }

    /// `model(x, timesteps, y)`: `x` is `batch × 3 × H × W` (NCHW), one timestep per batch item
    /// (fractional values allowed), `classLabels` one per item for class-conditional models (nil
    /// otherwise); returns `batch × outChannels × H × W`.
    public func callAsFunction(_ x: [Float], batch: Int, height: Int, width: Int, timesteps: [Double],
                               classLabels: [Int]? = nil) throws -> [Float] {
        guard batch >= 1, x.count == batch * 3 * height * width, timesteps.count == batch else {
            throw UNetLoadError.inputShape(expected: "\(batch)×3×\(height)×\(width) with \(batch) timesteps",
                                           actual: "\(x.count) values, \(timesteps.count) timesteps")
        }
        let factor = 1 << (levels - 1)
        guard height % factor == 0, width % factor == 0 else {
            throw UNetLoadError.inputShape(expected: "H and W divisible by \(factor)", actual: "\(height)×\(width)")
        }
        try ClassLabels.check(classLabels, classCount: classCount, samples: batch)
        lock.lock()
        defer { lock.unlock() }
        let ctx = context
        ctx.begin(batch: batch)
        let embedding = timeLinear2(Activation.silu(inPlace: timeLinear1(timeProjection(timesteps, pool: pool), ctx)), ctx)
        if let labelEmbedding, let labels = classLabels, let rows = labelEmbedding(labels, batch: batch, pool: pool) {
            Combine.residualAdd(embedding, rows)
        }
        // ResBlocks' emb_layers start with SiLU.
        let timeEmbedding = Activation.silu(inPlace: embedding)

        func apply(_ layers: [Layer], _ input: Tensor) -> Tensor {
            var h = input
            for layer in layers {
                switch layer {
                case .conv(let conv): h = conv(h, ctx)
                case .resnet(let block): h = block(h, timeEmbedding: timeEmbedding, ctx)
                case .attention(let block): h = block(h, ctx)
                case .down(let down): h = down(h, ctx)
                case .up(let up): h = up(h, ctx)
                }
            }
            return h
        }
        var h = Tensor(pool, nchw: x, batch: batch, channels: 3, height: height, width: width)
        var skips: [Tensor] = []
        for block in inputBlocks {
            h = apply(block, h)
            skips.append(h)
        }
        h = apply(middleBlock, h)
        for block in outputBlocks { h = apply(block, Combine.concatenate(h, skips.removeLast())) }
        return convOut(normOut(h, silu: true, inPlace: true), ctx).nchw()
    }
}

/// An ADM UNet as a `Denoiser`: ε (and with learn_sigma the variance value v) for a batch at one
/// timestep, with one class label per sample for class-conditional models.
public struct ADMDenoiser: Denoiser {
    /// The network.
    public let model: ADMUNet
    /// C × H × W of one sample.
    public let sampleShape: [Int]
    /// ADM models predict ε.
    public var predictionType: PredictionType { .epsilon }
    /// Whether the output carries variance channels (`learn_sigma`).
    public var learnsVariance: Bool { model.config.learnSigma }
    /// The number of classes of a class-conditional model, else nil.
    public var classCount: Int? { model.classCount }

    /// The denoiser of `model`.
    public init(model: ADMUNet) {
        self.model = model
        sampleShape = [3, model.config.imageSize, model.config.imageSize]
    }

    /// The network's output for an unconditional model.
    public func predict(_ x: [Float], batch: Int, timestep: Double) throws -> [Float] {
        try predict(x, batch: batch, timestep: timestep, classLabels: nil)
    }

    /// The network's output, with one class label per sample for a class-conditional model.
    public func predict(_ x: [Float], batch: Int, timestep: Double, classLabels: [Int]?) throws -> [Float] {
        try model(x, batch: batch, height: sampleShape[1], width: sampleShape[2],
                  timesteps: Array(repeating: timestep, count: batch), classLabels: classLabels)
    }
}
