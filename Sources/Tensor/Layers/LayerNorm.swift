/// PyTorch `torch.nn.LayerNorm(features, eps, elementwise_affine)` over the feature axis: for
/// every position (column of the `[D][N]` matrix) `y = (x − mean)/√(var + eps)·γ + β`, with the
/// biased variance (as diffusers' `BasicTransformerBlock` norms, CLIP's `layer_norm1/2` and
/// `final_layer_norm` use it). Kernel: `Kernels.layerNorm`. Parity: Tests/TensorTests/LayerTests.swift
/// against torch 2.13 (tools/make_layer_goldens.py).
public struct LayerNorm {
    public let features: Int
    public let eps: Float
    let gamma: [Float]?, beta: [Float]?

    public init(features: Int, gamma: [Float]?, beta: [Float]?, eps: Float) {
        precondition((gamma?.count ?? features) == features && (beta?.count ?? features) == features, "bad LayerNorm shape")
        self.features = features
        self.gamma = gamma
        self.beta = beta
        self.eps = eps
    }

    /// Reads `prefix.weight` and `prefix.bias` `[features]` when `affine`.
    public init(_ w: inout WeightBinder, _ prefix: String, features: Int, eps: Double = 1e-5, affine: Bool = true) throws {
        self.init(features: features, gamma: affine ? try w.take(prefix + ".weight", [features]) : nil,
                  beta: affine ? try w.take(prefix + ".bias", [features]) : nil, eps: Float(eps))
    }

    /// The normalised tensor, new.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.channels == features, "expected \(features) features, got \(x.channels)")
        let y = x.like()
        withOptionalPointer(gamma) { g in
            withOptionalPointer(beta) { b in
                Kernels.layerNorm(input: x.data, features: features, columns: x.columns, eps: eps, gamma: g, beta: b,
                                  output: y.data)
            }
        }
        return y
    }
}
