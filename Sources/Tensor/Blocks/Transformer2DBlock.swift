/// diffusers `models/attention.py` `BasicTransformerBlock` as Stable Diffusion's UNets build it
/// (`norm_type="layer_norm"`, `activation_fn="geglu"`, `attention_bias=False`, not
/// `only_cross_attention`, not `double_self_attention`): on tokens `h` (`[dim, B, …]`),
/// `h += attn1(LN1(h))` (self-attention, no q/k/v bias), `h += attn2(LN2(h), context)`
/// (cross-attention over the text states), `h += ff(LN3(h))` with `ff` = GEGLU(dim → 4·dim) then
/// Linear(4·dim → dim). LayerNorm eps 1e-5. Keys under the prefix: `norm1`, `attn1.{to_q, to_k,
/// to_v, to_out.0}`, `norm2`, `attn2.…`, `norm3`, `ff.net.0.proj`, `ff.net.2`. Parity:
/// Tests/ModelsTests/UNet2DConditionParityTests.swift (diffusers 0.42.1).
public struct BasicTransformerBlock {
    let norm1: LayerNorm, attn1: MultiHeadAttention
    let norm2: LayerNorm, attn2: MultiHeadAttention
    let norm3: LayerNorm, feedForwardIn: GEGLU, feedForwardOut: Linear

    public init(_ w: inout WeightBinder, _ prefix: String, dim: Int, heads: Int, headDim: Int, contextDim: Int,
                upcast: Bool) throws {
        let p = prefix + "."
        norm1 = try LayerNorm(&w, p + "norm1", features: dim, eps: 1e-5)
        attn1 = try MultiHeadAttention(&w, p + "attn1", queryDim: dim, heads: heads, headDim: headDim, qkvBias: false,
                                       outBias: true, upcast: upcast)
        norm2 = try LayerNorm(&w, p + "norm2", features: dim, eps: 1e-5)
        attn2 = try MultiHeadAttention(&w, p + "attn2", queryDim: dim, contextDim: contextDim, heads: heads,
                                       headDim: headDim, qkvBias: false, outBias: true, upcast: upcast)
        norm3 = try LayerNorm(&w, p + "norm3", features: dim, eps: 1e-5)
        feedForwardIn = try GEGLU(&w, p + "ff.net.0", in: dim, out: 4 * dim)
        feedForwardOut = try Linear(&w, p + "ff.net.2", in: 4 * dim, out: dim)
    }

    /// `h` `[dim, B, H, W]` (the tokens of each batch item), `context` `[contextDim, B, 1, S]`.
    public func callAsFunction(_ h: Tensor, context: Tensor, _ ctx: ForwardContext) -> Tensor {
        var x = attn1(norm1(h), residual: h, ctx)
        x = attn2(norm2(x), context: context, residual: x, ctx)
        let hidden = feedForwardIn(norm3(x), ctx)
        feedForwardOut.run(hidden, into: x.data, accumulate: true, ctx)  // x += ff(LN3(x))
        return x
    }
}

/// diffusers `models/transformers/transformer_2d.py` `Transformer2DModel` on continuous image
/// input, as `CrossAttnDownBlock2D`, `UNetMidBlock2DCrossAttn` and `CrossAttnUpBlock2D` build it:
/// GroupNorm (eps 1e-6, hard-coded there) → `proj_in` → `layers` `BasicTransformerBlock`s over the
/// H·W tokens → `proj_out` → + the input. `proj_in`/`proj_out` are `Linear` layers when
/// `use_linear_projection`, else 1×1 convolutions (weights `[out, in, 1, 1]`); on the engine's
/// channel-major layout both are the same GEMM over the `[C][B·H·W]` matrix, so the NCHW ↔
/// (N, HW, C) permutes diffusers does around them cost nothing here. Parity:
/// Tests/ModelsTests/UNet2DConditionParityTests.swift (diffusers 0.42.1).
public struct Transformer2DBlock {
    let norm: GroupNorm
    let projIn: Linear, projOut: Linear
    let blocks: [BasicTransformerBlock]
    public let channels: Int
    public let heads: Int

    /// Reads `prefix.norm`, `prefix.proj_in`, `prefix.transformer_blocks.{0..<layers}`,
    /// `prefix.proj_out`; `channels` must divide into `heads` heads (diffusers' head dim is
    /// `channels // heads`).
    public init(_ w: inout WeightBinder, _ prefix: String, channels: Int, heads: Int, layers: Int, contextDim: Int,
                groups: Int, linearProjection: Bool, upcast: Bool) throws {
        guard heads > 0, channels % heads == 0 else {
            throw w.invalidLayer("\(prefix): \(channels) channels are not divisible into \(heads) attention heads")
        }
        guard layers >= 1 else { throw w.invalidLayer("\(prefix): \(layers) transformer layers") }
        let p = prefix + "."
        norm = try GroupNorm(&w, p + "norm", channels: channels, groups: groups, eps: 1e-6)
        func projection(_ name: String) throws -> Linear {
            if linearProjection { return try Linear(&w, p + name, in: channels, out: channels) }
            return Linear(weight: try w.take(p + name + ".weight", [channels, channels, 1, 1]),
                          bias: try w.take(p + name + ".bias", [channels]), inFeatures: channels, outFeatures: channels)
        }
        projIn = try projection("proj_in")
        blocks = try (0..<layers).map {
            try BasicTransformerBlock(&w, p + "transformer_blocks.\($0)", dim: channels, heads: heads,
                                      headDim: channels / heads, contextDim: contextDim, upcast: upcast)
        }
        projOut = try projection("proj_out")
        self.channels = channels
        self.heads = heads
    }

    /// `x` `[C, B, H, W]`, `context` `[contextDim, B, 1, S]`; returns `x + proj_out(blocks(proj_in(norm(x))))`.
    public func callAsFunction(_ x: Tensor, context: Tensor, _ ctx: ForwardContext) -> Tensor {
        var h = projIn(norm(x), ctx)
        for block in blocks { h = block(h, context: context, ctx) }
        let y = x.copy()
        projOut.run(h, into: y.data, accumulate: true, ctx)
        return y
    }
}
