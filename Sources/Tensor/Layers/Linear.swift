/// PyTorch `torch.nn.Linear` (`F.linear`: `y = x·Wᵀ + b`, weight `[out, in]`) over the feature
/// axis of a channel-major tensor: `y[out][N] = W·x[in][N] + b` for the `N = B·H·W` columns, one
/// GEMM. Used by diffusers' time embedding (`TimestepEmbedding.linear_1/2`), resnets'
/// `time_emb_proj`, attention projections (`to_q` …) and feed-forward layers, CLIP's MLPs and
/// classifiers' heads. Parity: Tests/ModelsTests/UNet2DParityTests.swift,
/// FashionClassifierTests.swift, Tests/TensorTests/LayerTests.swift (torch 2.13).
public struct Linear {
    public let inFeatures: Int
    public let outFeatures: Int
    /// The weight `[out, in]`, packed for `Kernels.packedGEMM` (the row-major array is not kept).
    let packed: [Float]
    let bias: [Float]?

    public init(weight: [Float], bias: [Float]?, inFeatures: Int, outFeatures: Int) {
        precondition(weight.count == inFeatures * outFeatures && (bias?.count ?? outFeatures) == outFeatures,
                     "weight must be [\(outFeatures), \(inFeatures)]")
        let count = Kernels.packedFloats(rows: outFeatures, columns: inFeatures)
        packed = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            Kernels.packWeights(weight, lda: inFeatures, rows: outFeatures, columns: inFeatures, into: buffer.baseAddress!)
            initialized = count
        }
        self.bias = bias
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
    }

    /// Reads `prefix.weight` `[out, in]` and, when `bias`, `prefix.bias` `[out]`.
    public init(_ w: inout WeightBinder, _ prefix: String, in inFeatures: Int, out outFeatures: Int,
                bias: Bool = true) throws {
        try self.init(&w, stacking: [prefix], in: inFeatures, out: outFeatures, bias: bias)
    }

    /// Several linear layers on the same input read as one: `prefixes[i].weight` (`[out, in]`
    /// each, and `.bias` when `bias`) stacked along the output axis, e.g. attention's q, k and v
    /// projections, one GEMM instead of three.
    public init(_ w: inout WeightBinder, stacking prefixes: [String], in inFeatures: Int, out outFeatures: Int,
                bias: Bool = true) throws {
        var weight: [Float] = [], biases: [Float] = []
        for prefix in prefixes {
            weight += try w.take(prefix + ".weight", [outFeatures, inFeatures])
            if bias { biases += try w.take(prefix + ".bias", [outFeatures]) }
        }
        self.init(weight: weight, bias: bias ? biases : nil, inFeatures: inFeatures,
                  outFeatures: outFeatures * prefixes.count)
    }

    /// `[in, B, H, W]` → `[out, B, H, W]`.
    public func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        let y = x.like(channels: outFeatures)
        run(x, into: y.data, accumulate: false, ctx)
        return y
    }

    /// Writes `W·x + b` at `output` (`[out][N]`), or adds it there when `accumulate` (a residual
    /// connection for free).
    public func run(_ x: Tensor, into output: UnsafeMutablePointer<Float>, accumulate: Bool, _ ctx: ForwardContext) {
        precondition(x.channels == inFeatures, "expected \(inFeatures) features, got \(x.channels)")
        ctx.flops += 2 * inFeatures * outFeatures * x.columns
        packed.withUnsafeBufferPointer { w in
            withOptionalPointer(bias) { b in
                Kernels.linear(input: x.data, inFeatures: inFeatures, tokens: x.columns, packedWeight: w.baseAddress!,
                               outFeatures: outFeatures, bias: b, output: output, accumulate: accumulate)
            }
        }
    }
}
