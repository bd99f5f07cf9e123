/// diffusers `Attention` as `UNet2DModel`'s attention blocks build it on images
/// (`AttnDownBlock2D`, `UNetMidBlock2D`, `AttnUpBlock2D`): optional GroupNorm, biased q/k/v/out
/// projections, the residual connection and `rescale_output_factor`, evaluated like
/// `AttnProcessor2_0` (`[C, B, H, W]` read as `B` sequences of `H·W` tokens). Parity:
/// Tests/ModelsTests/UNet2DParityTests.swift (diffusers 0.42.1).
public struct AttentionBlock2D {
    let norm: GroupNorm?
    let attention: MultiHeadAttention
    public let rescale: Float

    /// `headDim` nil: one head of `channels`.
    public init(_ w: inout WeightBinder, _ prefix: String, channels: Int, headDim: Int?, groups: Int?, eps: Double,
                rescale: Double) throws {
        let headDim = headDim ?? channels
        guard headDim > 0, channels % headDim == 0 else {
            throw w.invalidLayer("\(prefix): \(channels) channels are not a multiple of attention_head_dim \(headDim)")
        }
        norm = try groups.map { try GroupNorm(&w, prefix + ".group_norm", channels: channels, groups: $0, eps: eps) }
        attention = try MultiHeadAttention(&w, prefix, queryDim: channels, heads: channels / headDim, headDim: headDim,
                                           qkvBias: true, outBias: true)
        self.rescale = Float(rescale)
    }

    /// guided-diffusion's `unet.py` `AttentionBlock`: `prefix.norm` (GroupNorm, 32 groups, eps
    /// 1e-5), the packed `prefix.qkv` in `order`, attention over the H·W tokens, `prefix.proj_out`
    /// and the residual. Parity: Tests/ModelsTests/ADMParityTests.swift (guided-diffusion @22e0df8).
    public init(guidedDiffusion w: inout WeightBinder, _ prefix: String, channels: Int, heads: Int,
                order: MultiHeadAttention.PackedQKVOrder, groups: Int = 32, eps: Double = 1e-5) throws {
        norm = try GroupNorm(&w, prefix + ".norm", channels: channels, groups: groups, eps: eps)
        attention = try MultiHeadAttention(packed: &w, prefix, channels: channels, heads: heads, order: order)
        rescale = 1
    }

    public func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        let h = norm.map { $0(x) } ?? x
        return Combine.divide(attention(h, residual: x, ctx), by: rescale)
    }
}
