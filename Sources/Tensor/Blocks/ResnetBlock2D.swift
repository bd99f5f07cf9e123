/// diffusers `models/resnet.py` `ResnetBlock2D` (pre-norm, SiLU, dropout inactive at inference),
/// with `time_embedding_norm` "default" (add the projected embedding) or "scale_shift"
/// (`norm2(h)·(1 + scale) + shift`, guided-diffusion's `use_scale_shift_norm`), optional 1×1
/// shortcut, `up`/`down` resampling (nearest ×2 / 2×2 average pool) and `output_scale_factor`.
/// guided-diffusion's `unet.py` `ResBlock` is the same block under other names (`Names.guidedDiffusion`).
/// Parity: Tests/ModelsTests/UNet2DParityTests.swift (diffusers 0.42.1), ADMParityTests.swift
/// (guided-diffusion @22e0df8).
public struct ResnetBlock2D {
    public enum Resample: Sendable { case none, up, down }

    /// The weight names of the block's layers under its prefix.
    public struct Names: Sendable {
        public var norm1: String, conv1: String, timeProjection: String, norm2: String, conv2: String, shortcut: String
        public init(norm1: String, conv1: String, timeProjection: String, norm2: String, conv2: String,
                    shortcut: String) {
            self.norm1 = norm1; self.conv1 = conv1; self.timeProjection = timeProjection
            self.norm2 = norm2; self.conv2 = conv2; self.shortcut = shortcut
        }
        /// diffusers' `ResnetBlock2D`.
        public static let diffusers = Names(norm1: "norm1", conv1: "conv1", timeProjection: "time_emb_proj",
                                            norm2: "norm2", conv2: "conv2", shortcut: "conv_shortcut")
        /// guided-diffusion's `ResBlock` (`in_layers` = norm, SiLU, conv; `emb_layers` = SiLU, linear;
        /// `out_layers` = norm, SiLU, dropout, conv; a 1×1 `skip_connection`, as `UNetModel` builds it).
        public static let guidedDiffusion = Names(norm1: "in_layers.0", conv1: "in_layers.2",
                                                  timeProjection: "emb_layers.1", norm2: "out_layers.0",
                                                  conv2: "out_layers.3", shortcut: "skip_connection")
    }

    let norm1: GroupNorm, conv1: Conv2d, timeProjection: Linear?, norm2: GroupNorm, conv2: Conv2d
    let shortcut: Conv2d?
    public let scaleShift: Bool
    public let outputScale: Float
    public let resample: Resample

    /// Reads `prefix.{norm1, conv1, time_emb_proj, norm2, conv2}` and `prefix.conv_shortcut`
    /// when the channel counts differ (or the `names` given). `timeChannels` nil: no time
    /// embedding and no `time_emb_proj` (diffusers' `temb_channels=None`, the VAE's resnets).
    public init(_ w: inout WeightBinder, _ prefix: String, in inChannels: Int, out outChannels: Int,
                timeChannels: Int?, groups: Int, eps: Double, scaleShift: Bool, outputScale: Double = 1,
                resample: Resample = .none, names: Names = .diffusers) throws {
        self.scaleShift = scaleShift
        let p = prefix + "."
        norm1 = try GroupNorm(&w, p + names.norm1, channels: inChannels, groups: groups, eps: eps)
        conv1 = try Conv2d(&w, p + names.conv1, in: inChannels, out: outChannels, kernel: 3, padding: 1)
        timeProjection = try timeChannels.map {
            try Linear(&w, p + names.timeProjection, in: $0, out: scaleShift ? 2 * outChannels : outChannels)
        }
        norm2 = try GroupNorm(&w, p + names.norm2, channels: outChannels, groups: groups, eps: eps)
        conv2 = try Conv2d(&w, p + names.conv2, in: outChannels, out: outChannels, kernel: 3, padding: 1)
        shortcut = inChannels == outChannels ? nil
            : try Conv2d(&w, p + names.shortcut, in: inChannels, out: outChannels, kernel: 1)
        self.outputScale = Float(outputScale)
        self.resample = resample
    }

    /// `x` `[in, B, H, W]`, `timeEmbedding` the SiLU of the model's time embedding `[T, B, 1, 1]`
    /// (nil, and ignored, for a block built without `timeChannels`).
    public func callAsFunction(_ x: Tensor, timeEmbedding: Tensor?, _ ctx: ForwardContext) -> Tensor {
        var h = norm1(x, silu: true)
        var input = x
        switch resample {
        case .none: break
        case .up: h = Resampling.upsampleNearest2x(h); input = Resampling.upsampleNearest2x(x)
        case .down: h = Resampling.averagePool2x(h); input = Resampling.averagePool2x(x)
        }
        let h1 = conv1(h, ctx)
        let c = h1.channels, b = h1.batch, hw = h1.spatial
        guard let timeProjection, let timeEmbedding else {
            _ = norm2(h1, silu: true, inPlace: true)
            let h2 = conv2(h1, ctx)
            return Combine.residualAdd(h2, shortcut.map { $0(input, ctx) } ?? input, dividingBy: outputScale)
        }
        let t = timeProjection(timeEmbedding, ctx)  // [C or 2C][B]
        if scaleShift {
            _ = norm2(h1, inPlace: true)
            // h·(1 + scale[c, b]) + shift[c, b], then SiLU.
            for ch in 0..<c {
                for n in 0..<b {
                    let scale = 1 + t.data[ch * b + n], shift = t.data[(c + ch) * b + n]
                    let row = h1.data + (ch * b + n) * hw
                    for i in 0..<hw { row[i] = row[i] * scale + shift }
                }
            }
            Activation.silu(inPlace: h1)
        } else {
            // One value per (channel, batch item) row of h1: t is [C][B], the rows' order.
            Kernels.addBias(h1.data, channels: c * b, count: hw, bias: t.data)
            _ = norm2(h1, silu: true, inPlace: true)
        }
        let h2 = conv2(h1, ctx)
        return Combine.residualAdd(h2, shortcut.map { $0(input, ctx) } ?? input, dividingBy: outputScale)
    }
}
