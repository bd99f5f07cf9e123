import Foundation
import Tensor

/// diffusers resnet.py `ResnetBlock2D` (pre-norm, SiLU, dropout inactive at inference), with
/// `time_embedding_norm` "default" (add the projected embedding) or "scale_shift"
/// (norm2(h)·(1 + scale) + shift), optional 1×1 shortcut, `up`/`down` resampling (nearest ×2 /
/// 2×2 average pool) and `output_scale_factor`.
struct ResnetBlock {
    enum Resample { case none, up, down }
    let norm1: GroupNorm, conv1: Conv2D, timeProjection: RowLinear, norm2: GroupNorm, conv2: Conv2D
    let shortcut: Conv2D?
    let scaleShift: Bool, outputScale: Float, resample: Resample

    init(_ w: inout WeightReader, _ prefix: String, in inChannels: Int, out outChannels: Int, config c: UNet2DConfig,
         timeChannels: Int, outputScale: Double = 1, resample: Resample = .none) throws {
        let groups = c.normNumGroups ?? 32
        scaleShift = c.resnetTimeScaleShift == "scale_shift"
        norm1 = try GroupNorm(&w, prefix + ".norm1", channels: inChannels, groups: groups, eps: c.normEps)
        conv1 = try Conv2D(&w, prefix + ".conv1", in: inChannels, out: outChannels, kernel: 3, padding: 1)
        timeProjection = try RowLinear(&w, prefix + ".time_emb_proj", in: timeChannels,
                                       out: scaleShift ? 2 * outChannels : outChannels)
        norm2 = try GroupNorm(&w, prefix + ".norm2", channels: outChannels, groups: groups, eps: c.normEps)
        conv2 = try Conv2D(&w, prefix + ".conv2", in: outChannels, out: outChannels, kernel: 3, padding: 1)
        shortcut = inChannels == outChannels ? nil
            : try Conv2D(&w, prefix + ".conv_shortcut", in: inChannels, out: outChannels, kernel: 1, padding: 0)
        self.outputScale = Float(outputScale)
        self.resample = resample
    }

    func callAsFunction(_ x: Activation, _ ctx: ForwardContext) -> Activation {
        var h = norm1(x, silu: true)
        var input = x
        switch resample {
        case .none: break
        case .up: h = upsample(h); input = upsample(x)
        case .down: h = averagePool(h); input = averagePool(x)
        }
        let h1 = conv1(h, ctx)
        let t = timeProjection(ctx.timeEmbedding, rows: ctx.batch)
        let c = h1.channels, b = h1.batch, hw = h1.spatial
        if scaleShift {
            _ = norm2(h1, silu: false, inPlace: true)
            // h·(1 + scale[b, c]) + shift[b, c], then SiLU.
            for ch in 0..<c {
                for n in 0..<b {
                    let scale = 1 + t[n * 2 * c + ch], shift = t[n * 2 * c + c + ch]
                    let row = h1.data + (ch * b + n) * hw
                    for i in 0..<hw { row[i] = row[i] * scale + shift }
                }
            }
            Kernels.silu(h1.data, count: h1.count)
        } else {
            t.withUnsafeBufferPointer {
                Kernels.addChannelBias(h1.data, channels: c, batch: b, spatial: hw, perBatch: $0.baseAddress!)
            }
            _ = norm2(h1, silu: true, inPlace: true)
        }
        let h2 = conv2(h1, ctx)
        let residual = shortcut.map { $0(input, ctx) } ?? input
        Kernels.add(h2.data, residual.data, count: h2.count, scale: 1 / outputScale)
        return h2
    }
}

/// diffusers attention_processor.py `Attention` as UNet2DModel builds it (residual connection,
/// optional GroupNorm, biased q/k/v/out projections, `rescale_output_factor`), evaluated like
/// `AttnProcessor2_0`: softmax(q·kᵀ/√d)·v per head. q, k and v come from one fused GEMM.
struct AttentionBlock {
    let norm: GroupNorm?
    let qkvWeight: [Float], qkvBias: [Float], outWeight: [Float], outBias: [Float]
    let channels: Int, heads: Int, rescale: Float

    init(_ w: inout WeightReader, _ prefix: String, channels: Int, headDim: Int?, groups: Int?, eps: Double,
         rescale: Double) throws {
        let headDim = headDim ?? channels
        guard headDim > 0, channels % headDim == 0 else {
            throw UNetLoadError.invalidConfig(path: w.file.path,
                                              reason: "\(prefix): \(channels) channels are not a multiple of attention_head_dim \(headDim)")
        }
        norm = try groups.map { try GroupNorm(&w, prefix + ".group_norm", channels: channels, groups: $0, eps: eps) }
        var weight: [Float] = [], bias: [Float] = []
        for name in ["to_q", "to_k", "to_v"] {
            weight += try w.take("\(prefix).\(name).weight", [channels, channels])
            bias += try w.take("\(prefix).\(name).bias", [channels])
        }
        qkvWeight = weight
        qkvBias = bias
        outWeight = try w.take(prefix + ".to_out.0.weight", [channels, channels])
        outBias = try w.take(prefix + ".to_out.0.bias", [channels])
        self.channels = channels
        heads = channels / headDim
        self.rescale = Float(rescale)
    }

    func callAsFunction(_ x: Activation, _ ctx: ForwardContext) -> Activation {
        let h = norm.map { $0(x, silu: false) } ?? x
        let tokens = x.batch * x.spatial
        let qkv = x.like(channels: 3 * channels)
        Kernels.linear(input: h.data, inFeatures: channels, tokens: tokens, weight: qkvWeight, outFeatures: 3 * channels,
                       bias: qkvBias, output: qkv.data)
        let attended = x.like()
        let n = channels * tokens
        // q/k/v and output projections, then q·kᵀ and (softmax)·v for every batch item.
        ctx.flops += 2 * 4 * channels * channels * tokens + 2 * 2 * x.batch * x.spatial * x.spatial * channels
        Kernels.attention(q: qkv.data, k: qkv.data + n, v: qkv.data + 2 * n, channels: channels, batch: x.batch,
                          tokens: x.spatial, heads: heads, scale: 1 / Float(channels / heads).squareRoot(),
                          output: attended.data, scratch: &ctx.attentionScratch)
        let y = x.like()
        y.data.update(from: x.data, count: n)
        Kernels.linear(input: attended.data, inFeatures: channels, tokens: tokens, weight: outWeight,
                       outFeatures: channels, bias: outBias, output: y.data, accumulate: true)
        if rescale != 1 { for i in 0..<n { y.data[i] /= rescale } }
        return y
    }
}

/// diffusers downsampling.py `Downsample2D` with a 3×3 stride-2 conv; `padding` 0 means
/// F.pad(0, 1, 0, 1) first (right and bottom), as diffusers does.
struct Downsample {
    let conv: Conv2D

    init(_ w: inout WeightReader, _ prefix: String, channels: Int, padding: Int) throws {
        let pad = padding == 0 ? Kernels.Padding(top: 0, left: 0, bottom: 1, right: 1) : .uniform(padding)
        conv = try Conv2D(&w, prefix + ".conv", in: channels, out: channels, kernel: 3, stride: 2, padding: pad)
    }

    func callAsFunction(_ x: Activation, _ ctx: ForwardContext) -> Activation { conv(x, ctx) }
}

/// diffusers upsampling.py `Upsample2D`: nearest ×2, then a 3×3 conv.
struct Upsample {
    let conv: Conv2D

    init(_ w: inout WeightReader, _ prefix: String, channels: Int) throws {
        conv = try Conv2D(&w, prefix + ".conv", in: channels, out: channels, kernel: 3, padding: 1)
    }

    func callAsFunction(_ x: Activation, _ ctx: ForwardContext) -> Activation { conv(upsample(x), ctx) }
}

func upsample(_ x: Activation) -> Activation {
    let y = x.like(height: 2 * x.height, width: 2 * x.width)
    Kernels.upsampleNearest2x(input: x.data, channels: x.channels, batch: x.batch, height: x.height, width: x.width,
                              output: y.data)
    return y
}

func averagePool(_ x: Activation) -> Activation {
    let y = x.like(height: x.height / 2, width: x.width / 2)
    Kernels.avgPool2x(input: x.data, channels: x.channels, batch: x.batch, height: x.height, width: x.width,
                      output: y.data)
    return y
}

/// Channel concatenation [a; b]: in the channel-major layout, two contiguous copies.
func concatenate(_ a: Activation, _ b: Activation) -> Activation {
    let y = a.like(channels: a.channels + b.channels)
    y.data.update(from: a.data, count: a.count)
    (y.data + a.count).update(from: b.data, count: b.count)
    return y
}
