/// Element-wise activations, PyTorch's definitions: `F.silu`, `F.relu`, `F.gelu` in both forms
/// (`approximate="none"`: erf; `"tanh"`), and diffusers `models/activations.py` `GEGLU`
/// (`hidden, gate = proj(x).chunk(2, dim=-1); hidden·gelu(gate)`), the feed-forward of Stable
/// Diffusion's transformer blocks. CLIP's `quick_gelu` is not here (no model needs it yet).
/// Parity: Tests/TensorTests/LayerTests.swift against torch 2.13 (tools/make_layer_goldens.py).
public enum Activation: Sendable, Equatable {
    case silu
    case relu
    case gelu(Kernels.GELUApproximation)

    /// Applies the activation to `x` in place and returns it.
    @discardableResult
    public func callAsFunction(inPlace x: Tensor) -> Tensor {
        switch self {
        case .silu: Kernels.silu(x.data, count: x.count)
        case .relu: Kernels.relu(x.data, count: x.count)
        case .gelu(let approximation): Kernels.gelu(x.data, output: x.data, count: x.count, approximation: approximation)
        }
        return x
    }

    /// The activation of `x` into a new tensor.
    public func callAsFunction(_ x: Tensor) -> Tensor { self(inPlace: x.copy()) }
}

/// diffusers `GEGLU(dim_in, dim_out)`: `proj = Linear(dim_in, 2·dim_out)`, then the first half of
/// the projection's features times GELU of the second half. In the channel-major layout the two
/// halves are the two contiguous blocks of the projection's output.
public struct GEGLU {
    public let proj: Linear
    public let approximation: Kernels.GELUApproximation

    public init(proj: Linear, approximation: Kernels.GELUApproximation = .none) {
        precondition(proj.outFeatures % 2 == 0, "GEGLU's projection must have an even number of outputs")
        self.proj = proj
        self.approximation = approximation
    }

    /// Reads `prefix.proj.weight` `[2·out, in]` and `prefix.proj.bias`.
    public init(_ w: inout WeightBinder, _ prefix: String, in inFeatures: Int, out outFeatures: Int,
                approximation: Kernels.GELUApproximation = .none) throws {
        self.init(proj: try Linear(&w, prefix + ".proj", in: inFeatures, out: 2 * outFeatures), approximation: approximation)
    }

    public var outFeatures: Int { proj.outFeatures / 2 }

    /// `[in, B, H, W]` → `[out, B, H, W]`.
    public func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        let projected = proj(x, ctx)
        let y = x.like(channels: outFeatures)
        let n = outFeatures * x.columns
        Kernels.geglu(hidden: projected.data, gate: projected.data + n, output: y.data, count: n,
                      approximation: approximation)
        return y
    }
}
