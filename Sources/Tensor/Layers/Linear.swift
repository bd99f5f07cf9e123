/// PyTorch `torch.nn.Linear` (`F.linear`: `y = x·Wᵀ + b`, weight `[out, in]`) over the feature
/// axis of a channel-major tensor: `y[out][N] = W·x[in][N] + b` for the `N = B·H·W` columns, one
/// GEMM. Used by diffusers' time embedding (`TimestepEmbedding.linear_1/2`), resnets'
/// `time_emb_proj`, attention projections (`to_q` …) and feed-forward layers, CLIP's MLPs and
/// classifiers' heads. Parity: Tests/ModelsTests/UNet2DParityTests.swift,
/// FashionClassifierTests.swift, Tests/TensorTests/LayerTests.swift (torch 2.13).
public struct Linear {
    public let inFeatures: Int
    public let outFeatures: Int
    let weight: [Float]
    let bias: [Float]?

    public init(weight: [Float], bias: [Float]?, inFeatures: Int, outFeatures: Int) {
        precondition(weight.count == inFeatures * outFeatures && (bias?.count ?? outFeatures) == outFeatures,
                     "weight must be [\(outFeatures), \(inFeatures)]")
        self.weight = weight
        self.bias = bias
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
    }

    /// Reads `prefix.weight` `[out, in]` and, when `bias`, `prefix.bias` `[out]`.
    public init(_ w: inout WeightBinder, _ prefix: String, in inFeatures: Int, out outFeatures: Int,
                bias: Bool = true) throws {
        let weight = try w.take(prefix + ".weight", [outFeatures, inFeatures])
        let b = bias ? try w.take(prefix + ".bias", [outFeatures]) : nil
        self.init(weight: weight, bias: b, inFeatures: inFeatures, outFeatures: outFeatures)
    }

    /// Several linear layers on the same input as one: weights stacked along the output axis
    /// (e.g. attention's q, k and v projections, one GEMM instead of three).
    public init(stacking layers: [Linear]) {
        precondition(!layers.isEmpty && layers.allSatisfy { $0.inFeatures == layers[0].inFeatures }, "stacked layers must share the input")
        let anyBias = layers.contains { $0.bias != nil }
        self.init(weight: layers.flatMap(\.weight),
                  bias: anyBias ? layers.flatMap { $0.bias ?? [Float](repeating: 0, count: $0.outFeatures) } : nil,
                  inFeatures: layers[0].inFeatures, outFeatures: layers.reduce(0) { $0 + $1.outFeatures })
    }

    /// `[in, B, H, W]` → `[out, B, H, W]`.
    public func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        let y = x.like(channels: outFeatures)
        run(x, into: y.data, accumulate: false, ctx)
        return y
    }

    /// Writes `W·x + b` at `output` (`[out][N]`), or adds it there when `accumulate` (a residual
    /// connection for free: the GEMM's β = 1).
    public func run(_ x: Tensor, into output: UnsafeMutablePointer<Float>, accumulate: Bool, _ ctx: ForwardContext) {
        precondition(x.channels == inFeatures, "expected \(inFeatures) features, got \(x.channels)")
        ctx.flops += 2 * inFeatures * outFeatures * x.columns
        weight.withUnsafeBufferPointer { w in
            withOptionalPointer(bias) { b in
                Kernels.linear(input: x.data, inFeatures: inFeatures, tokens: x.columns, weight: w.baseAddress!,
                               outFeatures: outFeatures, bias: b, output: output, accumulate: accumulate)
            }
        }
    }
}
