/// Multi-head scaled-dot-product attention with its projections: diffusers
/// `models/attention_processor.py` `Attention` evaluated like `AttnProcessor2_0`
/// (`to_q`, `to_k`, `to_v`, `to_out.0`; self-attention, or cross-attention over a context of
/// another length and width, `cross_attention_dim`), and CLIP's `CLIPAttention` (`q_proj` …
/// `out_proj`, causal). Scores are computed in query chunks (`Kernels.attention`) so any
/// sequence fits in memory. Parity: Tests/TensorTests/LayerTests.swift against torch 2.13
/// `F.scaled_dot_product_attention` (tools/make_layer_goldens.py) and, through
/// `AttentionBlock2D`, Tests/ModelsTests/UNet2DParityTests.swift (diffusers 0.42.1).
public struct MultiHeadAttention {
    /// The weight names of the four projections under the layer's prefix.
    public struct ProjectionNames: Sendable {
        public var query: String, key: String, value: String, out: String
        public init(query: String, key: String, value: String, out: String) {
            self.query = query; self.key = key; self.value = value; self.out = out
        }
        /// diffusers' `Attention`.
        public static let diffusers = ProjectionNames(query: "to_q", key: "to_k", value: "to_v", out: "to_out.0")
        /// transformers' `CLIPAttention`.
        public static let clip = ProjectionNames(query: "q_proj", key: "k_proj", value: "v_proj", out: "out_proj")
    }

    public let queryDim: Int
    /// The context's width (`cross_attention_dim`); `queryDim` for self-attention.
    public let contextDim: Int
    public let heads: Int
    public let headDim: Int
    public let causal: Bool
    /// diffusers' `upcast_attention` / `upcast_softmax`: compute scores and softmax in Float32
    /// when the model runs in a reduced precision. The engine computes attention in Float32
    /// always, so the flag is kept for the configuration's sake and changes no number.
    public let upcast: Bool
    public let scale: Float
    /// Self-attention: q, k and v stacked into one projection (one GEMM).
    let qkv: Linear?
    /// Cross-attention: q on the input, k and v stacked on the context.
    let q: Linear?, kv: Linear?
    let out: Linear
    /// Scores held at once (`Kernels.attention`'s query chunking); tests lower it to force chunks.
    var scoreBlockFloats = Kernels.attentionBlockFloats

    public var innerDim: Int { heads * headDim }
    public var isSelfAttention: Bool { qkv != nil }

    /// Reads `prefix.{to_q, to_k, to_v}.weight` (`[heads·headDim, queryDim]`, k and v
    /// `[heads·headDim, contextDim]`), their biases when `qkvBias`, and `prefix.to_out.0.weight`
    /// `[queryDim, heads·headDim]` (+ bias when `outBias`). `contextDim` nil: self-attention.
    /// `scale` defaults to `headDim^-½`.
    public init(_ w: inout WeightBinder, _ prefix: String, queryDim: Int, contextDim: Int? = nil, heads: Int,
                headDim: Int, qkvBias: Bool = false, outBias: Bool = true, names: ProjectionNames = .diffusers,
                causal: Bool = false, upcast: Bool = false, scale: Float? = nil) throws {
        guard heads > 0, headDim > 0 else { throw w.invalidLayer("\(prefix): \(heads) heads of \(headDim) channels") }
        let inner = heads * headDim, context = contextDim ?? queryDim
        let (query, key, value) = ("\(prefix).\(names.query)", "\(prefix).\(names.key)", "\(prefix).\(names.value)")
        if contextDim == nil {
            qkv = try Linear(&w, stacking: [query, key, value], in: queryDim, out: inner, bias: qkvBias)
            q = nil
            kv = nil
        } else {
            qkv = nil
            q = try Linear(&w, query, in: queryDim, out: inner, bias: qkvBias)
            kv = try Linear(&w, stacking: [key, value], in: context, out: inner, bias: qkvBias)
        }
        out = try Linear(&w, "\(prefix).\(names.out)", in: inner, out: queryDim, bias: outBias)
        self.queryDim = queryDim
        self.contextDim = context
        self.heads = heads
        self.headDim = headDim
        self.causal = causal
        self.upcast = upcast
        self.scale = scale ?? 1 / Float(headDim).squareRoot()
    }

    /// How a packed projection (one `[3·H·d, C]` weight producing q, k and v) orders its rows.
    public enum PackedQKVOrder: String, Sendable, Codable, CaseIterable {
        /// q | k | v first, then heads: row = {q,k,v}·H·d + h·d + c (guided-diffusion's
        /// `QKVAttention`, `use_new_attention_order`; this layer's own stacking).
        case qkvFirst = "qkv_first"
        /// Heads first: row = h·3d + {q,k,v}·d + c (guided-diffusion's `QKVAttentionLegacy`, its default).
        case headsFirst = "heads_first"
    }

    /// Self-attention whose q, k and v come from one packed projection, as guided-diffusion's
    /// `AttentionBlock` builds it: `prefix.{qkv}.weight` `[3C, C, 1]` (a Conv1d with kernel 1,
    /// i.e. a linear layer over channels) and `prefix.{out}.weight` `[C, C, 1]`, both biased,
    /// `heads` heads of C/heads channels. The rows are reordered once at load into q | k | v.
    /// Scale `d^-½` (guided-diffusion scales q and k by `d^-¼` each).
    public init(packed w: inout WeightBinder, _ prefix: String, channels: Int, heads: Int, order: PackedQKVOrder,
                qkvName: String = "qkv", outName: String = "proj_out") throws {
        guard heads > 0, channels % heads == 0 else {
            throw w.invalidLayer("\(prefix): \(channels) channels are not divisible into \(heads) heads")
        }
        let d = channels / heads
        var weight = try w.take("\(prefix).\(qkvName).weight", [3 * channels, channels, 1])
        var bias = try w.take("\(prefix).\(qkvName).bias", [3 * channels])
        if order == .headsFirst {
            let (packedWeight, packedBias) = (weight, bias)
            for h in 0..<heads {
                for part in 0..<3 {
                    for c in 0..<d {
                        let from = h * 3 * d + part * d + c, to = part * channels + h * d + c
                        bias[to] = packedBias[from]
                        for i in 0..<channels { weight[to * channels + i] = packedWeight[from * channels + i] }
                    }
                }
            }
        }
        qkv = Linear(weight: weight, bias: bias, inFeatures: channels, outFeatures: 3 * channels)
        q = nil
        kv = nil
        out = Linear(weight: try w.take("\(prefix).\(outName).weight", [channels, channels, 1]),
                     bias: try w.take("\(prefix).\(outName).bias", [channels]), inFeatures: channels,
                     outFeatures: channels)
        queryDim = channels
        contextDim = channels
        self.heads = heads
        headDim = d
        causal = false
        upcast = false
        scale = 1 / Float(d).squareRoot()
    }

    /// Attention of `x` (`[queryDim, B, …]`, its positions the queries) over `context`
    /// (`[contextDim, B, …]`, cross-attention layers only; nil: `x` itself), projected back to `[queryDim, B, …]`; with
    /// `residual`, returns `residual + out` (the add folded into the output GEMM).
    public func callAsFunction(_ x: Tensor, context: Tensor? = nil, residual: Tensor? = nil,
                               _ ctx: ForwardContext) -> Tensor {
        precondition(x.channels == queryDim, "expected \(queryDim) query features, got \(x.channels)")
        let inner = innerDim
        let attended = x.like(channels: inner)
        let keyTokens: Int
        if let qkv {
            precondition(context == nil, "a self-attention layer takes no context")
            let projected = qkv(x, ctx)
            let n = inner * x.columns
            keyTokens = x.spatial
            Kernels.attention(q: projected.data, k: projected.data + n, v: projected.data + 2 * n, channels: inner,
                              batch: x.batch, queryTokens: x.spatial, keyTokens: keyTokens, heads: heads, scale: scale,
                              causal: causal, output: attended.data, scratch: &ctx.attentionScratch,
                              blockFloats: scoreBlockFloats)
        } else {
            let source = context ?? x
            precondition(source.batch == x.batch, "context batch \(source.batch) ≠ query batch \(x.batch)")
            precondition(source.channels == contextDim, "expected \(contextDim) context features, got \(source.channels)")
            let queries = q!(x, ctx)
            let keysValues = kv!(source, ctx)
            keyTokens = source.spatial
            Kernels.attention(q: queries.data, k: keysValues.data, v: keysValues.data + inner * source.columns,
                              channels: inner, batch: x.batch, queryTokens: x.spatial, keyTokens: keyTokens,
                              heads: heads, scale: scale, causal: causal, output: attended.data,
                              scratch: &ctx.attentionScratch, blockFloats: scoreBlockFloats)
        }
        ctx.flops += 2 * 2 * x.batch * x.spatial * keyTokens * inner
        let y: Tensor
        if let residual {
            y = residual.copy()
            out.run(attended, into: y.data, accumulate: true, ctx)
        } else {
            y = out(attended, ctx)
        }
        return y
    }
}
