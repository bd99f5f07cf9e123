import Foundation
import Testing
@testable import Tensor
import TestSupport

// Goldens: Tests/Fixtures/tensor/layers.json, made by tools/make_layer_goldens.py (torch 2.13.0+cpu,
// evaluated in Float64 on Float32 inputs and rounded to Float32). Inputs and outputs are in
// PyTorch's layouts ([B, T, D] tokens, NCHW / NCL activations); `Tensor(sequence:)` /
// `Tensor(nchw:)` and `.sequence()` / `.nchw()` convert, and `layoutRoundTrips` checks those
// conversions against a naive index map.
//
// Tolerance, as for the kernels (KernelTests.swift): |actual − expected| ≤ 1e-5·|expected| +
// 1e-6·max|expected|.

private func check(_ actual: [Float], _ expected: [Float], _ name: String,
                   sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(name): \(actual.count) values, expected \(expected.count)",
            sourceLocation: sourceLocation)
    let scale = Double(expected.map { abs($0) }.max() ?? 0)
    let result = closeness(actual, expected, rtol: 1e-5, atol: 1e-6 * max(scale, 1e-30))
    #expect(result.passes, "\(name): \(result)", sourceLocation: sourceLocation)
}

struct LayerGoldens: Decodable {
    struct LayerNormCase: Decodable {
        var name: String, batch: Int, tokens: Int, features: Int, eps: Double
        var weight: [Float]?, bias: [Float]?, input: [Float], expected: [Float]
    }
    struct GELUCase: Decodable { var name: String, approximate: String, input: [Float], expected: [Float] }
    struct GEGLUCase: Decodable {
        var name: String, batch: Int, tokens: Int, in_features: Int, out_features: Int
        var weight: [Float], bias: [Float], input: [Float], expected: [Float]
    }
    struct AttentionCase: Decodable {
        var name: String, batch: Int, query_tokens: Int, key_tokens: Int, query_dim: Int, context_dim: Int?
        var heads: Int, head_dim: Int, causal: Bool, upcast: Bool
        var input: [Float], context: [Float]?
        var to_q: [Float], to_k: [Float], to_v: [Float], to_q_bias: [Float]?, to_k_bias: [Float]?, to_v_bias: [Float]?
        var to_out: [Float], to_out_bias: [Float], expected: [Float]
    }
    struct TimestepCase: Decodable {
        var name: String, dim: Int, flip_sin_to_cos: Bool, downscale_freq_shift: Double, scale: Double
        var timesteps: [Float], expected: [Float]
    }
    struct EmbeddingCase: Decodable {
        var name: String, count: Int, dim: Int, table: [Float], batch: Int, ids: [Int], expected: [Float]
    }
    struct ConvCase: Decodable {
        var name: String, dims: Int, batch: Int, in_channels: Int, out_channels: Int, height: Int, width: Int
        var kernel: Int, stride: Int, padding: Int, groups: Int
        var input: [Float], weight: [Float], bias: [Float], expected: [Float]
    }
    struct DecodeCase: Decodable { var name: String, dtype: String, hex: String, expected: [Float] }

    var torch: String
    var layer_norm: [LayerNormCase]
    var gelu: [GELUCase]
    var geglu: [GEGLUCase]
    var attention: [AttentionCase]
    var timestep: [TimestepCase]
    var embedding: [EmbeddingCase]
    var conv: [ConvCase]
    var decode: [DecodeCase]

    static func load() throws -> LayerGoldens { try Fixtures.json(LayerGoldens.self, "tensor/layers.json") }
}

@Suite("Layer library against PyTorch")
struct LayerTests {
    let goldens: LayerGoldens
    let pool = BufferPool()
    init() throws { goldens = try LayerGoldens.load() }

    @Test func layoutRoundTrips() {
        // [B=2, T=3, D=4] row-major: value = 100b + 10t + d.
        let values: [Float] = (0..<24).map { (i: Int) -> Float in
            let b = i / 12, t = i / 4 % 3, d = i % 4
            return Float(100 * b + 10 * t + d)
        }
        let t = Tensor(pool, sequence: values, batch: 2, tokens: 3, features: 4)
        #expect(t.shape == [4, 2, 1, 3])
        let index = (1 * 2 + 1) * 3 + 2  // feature 1, batch item 1, token 2
        #expect(t.data[index] == Float(121))
        #expect(t.sequence() == values)
        let image = Tensor(pool, nchw: values, batch: 2, channels: 3, height: 2, width: 2)
        let cnhw = (2 * 2 + 1) * 4 + 3, nchw = (1 * 3 + 2) * 4 + 3  // channel 2, item 1, position 3
        #expect(image.data[cnhw] == values[nchw])
        #expect(image.nchw() == values)
        // torch.flatten(x, 1): feature c·H·W + s of item b.
        let flat = image.flattened()
        #expect(flat.shape == [12, 2, 1, 1])
        #expect(flat.sequence() == values)
    }

    @Test func layerNormMatchesTorch() {
        #expect(goldens.layer_norm.contains { $0.weight == nil } && goldens.layer_norm.contains { $0.weight != nil })
        for c in goldens.layer_norm {
            let norm = LayerNorm(features: c.features, gamma: c.weight, beta: c.bias, eps: Float(c.eps))
            let x = Tensor(pool, sequence: c.input, batch: c.batch, tokens: c.tokens, features: c.features)
            check(norm(x).sequence(), c.expected, c.name)
        }
    }

    @Test func geluBothFormsMatchTorch() {
        #expect(Set(goldens.gelu.map(\.approximate)) == ["none", "tanh"])
        for c in goldens.gelu {
            let form: Kernels.GELUApproximation = c.approximate == "tanh" ? .tanh : .none
            let x = Tensor(pool, sequence: c.input, batch: 1, tokens: 1, features: c.input.count)
            check(Activation.gelu(form)(x).sequence(), c.expected, "gelu \(c.name)")
            // The other form is measurably different on these inputs (the test can tell them apart).
            let other: Kernels.GELUApproximation = form == .tanh ? .none : .tanh
            let wrong = Activation.gelu(other)(x).sequence()
            #expect(zip(wrong, c.expected).map { abs($0 - $1) }.max()! > 1e-4, "gelu \(c.name) vs \(other)")
        }
    }

    @Test func gegluMatchesTorch() {
        let ctx = ForwardContext(pool: pool)
        for c in goldens.geglu {
            let geglu = GEGLU(proj: Linear(weight: c.weight, bias: c.bias, inFeatures: c.in_features,
                                           outFeatures: 2 * c.out_features))
            let x = Tensor(pool, sequence: c.input, batch: c.batch, tokens: c.tokens, features: c.in_features)
            check(geglu(x, ctx).sequence(), c.expected, "geglu \(c.name)")
        }
    }

    /// The attention layer of a golden case, bound through `WeightBinder` from diffusers' names.
    private func attentionLayer(_ c: LayerGoldens.AttentionCase, upcast: Bool) throws -> MultiHeadAttention {
        let inner = c.heads * c.head_dim, context = c.context_dim ?? c.query_dim
        var tensors: [String: (shape: [Int], values: [Float])] = [
            "attn.to_q.weight": ([inner, c.query_dim], c.to_q), "attn.to_k.weight": ([inner, context], c.to_k),
            "attn.to_v.weight": ([inner, context], c.to_v), "attn.to_out.0.weight": ([c.query_dim, inner], c.to_out),
            "attn.to_out.0.bias": ([c.query_dim], c.to_out_bias),
        ]
        if let q = c.to_q_bias, let k = c.to_k_bias, let v = c.to_v_bias {
            tensors["attn.to_q.bias"] = ([inner], q)
            tensors["attn.to_k.bias"] = ([inner], k)
            tensors["attn.to_v.bias"] = ([inner], v)
        }
        var w = WeightBinder(InMemoryWeights(tensors))
        let layer = try MultiHeadAttention(&w, "attn", queryDim: c.query_dim, contextDim: c.context_dim, heads: c.heads,
                                           headDim: c.head_dim, qkvBias: c.to_q_bias != nil, causal: c.causal,
                                           upcast: upcast)
        try w.finish()
        return layer
    }

    private func run(_ layer: MultiHeadAttention, _ c: LayerGoldens.AttentionCase) -> [Float] {
        let ctx = ForwardContext(pool: pool)
        let x = Tensor(pool, sequence: c.input, batch: c.batch, tokens: c.query_tokens, features: c.query_dim)
        let context = c.context.map {
            Tensor(pool, sequence: $0, batch: c.batch, tokens: c.key_tokens, features: c.context_dim!)
        }
        return layer(x, context: context, ctx).sequence()
    }

    @Test func selfAndCrossAttentionMatchTorch() throws {
        #expect(goldens.attention.contains { $0.context_dim != nil && $0.query_tokens != $0.key_tokens })
        for c in goldens.attention {
            let layer = try attentionLayer(c, upcast: c.upcast)
            #expect(layer.isSelfAttention == (c.context_dim == nil))
            check(run(layer, c), c.expected, c.name)
        }
    }

    @Test func causalMaskIsTopLeftAndMatters() throws {
        let causal = goldens.attention.filter(\.causal)
        #expect(causal.count >= 2 && causal.contains { $0.query_tokens != $0.key_tokens })
        for c in causal {
            var unmasked = c
            unmasked.causal = false
            let out = run(try attentionLayer(unmasked, upcast: false), c)
            // Without the mask the answer differs (so the causal goldens test the mask)…
            #expect(zip(out, c.expected).map { abs($0 - $1) }.max()! > 1e-3, "\(c.name) without the mask")
            // …and with it, it matches.
            check(run(try attentionLayer(c, upcast: false), c), c.expected, c.name)
        }
    }

    @Test func chunkedScoresEqualUnchunked() throws {
        for c in goldens.attention {
            var layer = try attentionLayer(c, upcast: c.upcast)
            let whole = run(layer, c)
            // 1 float: one query row per chunk; 2·Tk: two rows; 5·Tk + 3: uneven last chunk.
            for block in [1, 2 * c.key_tokens, 5 * c.key_tokens + 3] {
                layer.scoreBlockFloats = block
                let chunked = run(layer, c)
                check(chunked, c.expected, "\(c.name) (score block \(block))")
                check(chunked, whole, "\(c.name) chunked vs whole (score block \(block))")
            }
        }
    }

    @Test func upcastFlagIsKeptAndChangesNoNumberAtFloat32() throws {
        let cases = goldens.attention.filter(\.upcast)
        #expect(!cases.isEmpty)
        for c in cases {
            let upcast = try attentionLayer(c, upcast: true), plain = try attentionLayer(c, upcast: false)
            #expect(upcast.upcast && !plain.upcast)
            let a = run(upcast, c), b = run(plain, c)
            check(a, c.expected, "\(c.name) upcast")
            #expect(a == b, "\(c.name): the flag changed numbers")
        }
    }

    @Test func timestepEmbeddingsMatchDiffusersDefinition() {
        #expect(goldens.timestep.contains { $0.dim % 2 == 1 } && goldens.timestep.contains { !$0.flip_sin_to_cos })
        for c in goldens.timestep {
            let embed = SinusoidalTimestepEmbedding(dim: c.dim, flipSinToCos: c.flip_sin_to_cos,
                                                    downscaleFreqShift: c.downscale_freq_shift, scale: c.scale)
            let y = embed(c.timesteps.map(Double.init), pool: pool)
            #expect(y.shape == [c.dim, c.timesteps.count, 1, 1])
            check(y.sequence(), c.expected, "timestep \(c.name)")
        }
    }

    @Test func embeddingLookupMatchesTorch() throws {
        for c in goldens.embedding {
            var w = WeightBinder(InMemoryWeights(["emb.weight": ([c.count, c.dim], c.table)]))
            let table = try Embedding(&w, "emb", count: c.count, dim: c.dim)
            let y = try #require(table(c.ids, batch: c.batch, pool: pool))
            #expect(y.shape == [c.dim, c.batch, 1, c.ids.count / c.batch])
            #expect(y.sequence() == c.expected, "\(c.name)")
            #expect(table([0, c.count], batch: 1, pool: pool) == nil)
            #expect(table([-1], batch: 1, pool: pool) == nil)
        }
    }

    @Test func groupedConvolutionsAndConv1dMatchTorch() throws {
        #expect(goldens.conv.contains { $0.groups > 1 && $0.dims == 2 } && goldens.conv.contains { $0.dims == 1 })
        let ctx = ForwardContext(pool: pool)
        for c in goldens.conv {
            let kh = c.dims == 1 ? 1 : c.kernel
            var shape = [c.out_channels, c.in_channels / c.groups, c.kernel]
            if c.dims == 2 { shape.append(c.kernel) }
            var w = WeightBinder(InMemoryWeights(["conv.weight": (shape, c.weight), "conv.bias": ([c.out_channels], c.bias)]))
            let x = Tensor(pool, nchw: c.input, batch: c.batch, channels: c.in_channels, height: c.height, width: c.width)
            let y: Tensor
            if c.dims == 1 {
                y = try Conv1d(&w, "conv", in: c.in_channels, out: c.out_channels, kernel: c.kernel, stride: c.stride,
                               padding: c.padding, groups: c.groups)(x, ctx)
            } else {
                y = try Conv2d(&w, "conv", in: c.in_channels, out: c.out_channels, kernel: (kh, c.kernel),
                               stride: c.stride, padding: .uniform(c.padding), groups: c.groups)(x, ctx)
            }
            try w.finish()
            check(y.nchw(), c.expected, c.name)
        }
    }

    @Test func halfAndBFloat16StorageDecodesAsTorch() {
        #expect(Set(goldens.decode.map(\.dtype)) == ["f16", "bf16"])
        for c in goldens.decode {
            var bytes = [UInt8]()
            var i = c.hex.startIndex
            while i < c.hex.endIndex {
                let j = c.hex.index(i, offsetBy: 2)
                bytes.append(UInt8(c.hex[i..<j], radix: 16)!)
                i = j
            }
            let dtype = DType(rawValue: c.dtype)!
            let t = bytes.withUnsafeBytes { Tensor(pool, decoding: $0, dtype: dtype, channels: c.expected.count, batch: 1) }
            #expect(t.values == c.expected, "\(c.name)")
        }
    }
}

@Suite("Weight binder")
struct WeightBinderTests {
    private func source() -> InMemoryWeights {
        InMemoryWeights(name: "w.safetensors", [
            "a.weight": ([2, 3], [1, 2, 3, 4, 5, 6]),
            "b.bias": ([2], [0, 1]),
            "blk.query.weight": ([2, 2, 1, 1], [1, 0, 0, 1]),
        ])
    }

    @Test func strictKeysAreNamed() throws {
        var w = WeightBinder(source())
        #expect(try w.take("a.weight", [2, 3]) == [1, 2, 3, 4, 5, 6])
        #expect(throws: WeightBindingError.missing(source: "w.safetensors", key: "c.weight", shape: [1])) {
            try w.take("c.weight", [1])
        }
        #expect(throws: WeightBindingError.shapeMismatch(source: "w.safetensors", key: "b.bias", expected: [3], actual: [2])) {
            try w.take("b.bias", [3])
        }
        #expect(throws: WeightBindingError.unused(source: "w.safetensors", keys: ["b.bias", "blk.query.weight"])) {
            try w.finish()
        }
    }

    @Test func declaredAliasesResolveAndMayReshape() throws {
        var plain = WeightBinder(source())
        #expect(throws: WeightBindingError.self) { try plain.take("blk.to_q.weight", [2, 2]) }
        var w = WeightBinder(source(), aliases: WeightAlias.diffusersLegacyAttention)
        #expect(w.contains("blk.to_q.weight"))
        #expect(try w.take("blk.to_q.weight", [2, 2]) == [1, 0, 0, 1])
        #expect(w.used.contains("blk.query.weight"))
        // A reshape keeps the element count.
        #expect(throws: WeightBindingError.self) { try w.take("blk.to_q.weight", [3]) }
    }

    @Test func nonFiniteValuesAndErrorMappingAreReported() throws {
        struct Wrapped: Error, Equatable { var inner: WeightBindingError }
        var w = WeightBinder(InMemoryWeights(name: "n", ["x": ([1], [.nan])]), mapError: { Wrapped(inner: $0) })
        #expect(throws: Wrapped(inner: .nonFinite(source: "n", key: "x"))) { try w.take("x", [1]) }
    }
}
