/// PyTorch `torch.nn.GroupNorm` (`F.group_norm`, affine) over the channels of a `[C, B, H, W]`
/// tensor, optionally followed by SiLU fused into the same pass (diffusers' resnets and output
/// head: `nonlinearity(norm(x))`; guided-diffusion's `normalization(ch)` + `SiLU()`, whose
/// `GroupNorm32` computes in float32 as this does). Kernel: `Kernels.groupNorm`. Parity:
/// Tests/ModelsTests/UNet2DParityTests.swift (diffusers 0.42.1), Tests/TensorTests/KernelTests.swift.
public struct GroupNorm {
    public let channels: Int
    public let groups: Int
    public let eps: Float
    let gamma: [Float], beta: [Float]

    public init(gamma: [Float], beta: [Float], groups: Int, eps: Float) {
        precondition(gamma.count == beta.count && groups > 0 && gamma.count % groups == 0, "bad GroupNorm shape")
        self.gamma = gamma
        self.beta = beta
        channels = gamma.count
        self.groups = groups
        self.eps = eps
    }

    /// Reads `prefix.weight` and `prefix.bias` `[channels]`.
    public init(_ w: inout WeightBinder, _ prefix: String, channels: Int, groups: Int, eps: Double) throws {
        guard groups > 0, channels % groups == 0 else {
            throw w.invalidLayer("\(prefix): \(channels) channels are not divisible into \(groups) groups")
        }
        self.init(gamma: try w.take(prefix + ".weight", [channels]), beta: try w.take(prefix + ".bias", [channels]),
                  groups: groups, eps: Float(eps))
    }

    /// GroupNorm (then SiLU when `silu`) into a new tensor, or over `x` itself when `inPlace`.
    public func callAsFunction(_ x: Tensor, silu: Bool = false, inPlace: Bool = false) -> Tensor {
        precondition(x.channels == channels, "expected \(channels) channels, got \(x.channels)")
        let y = inPlace ? x : x.like()
        Kernels.groupNorm(input: x.data, channels: x.channels, batch: x.batch, spatial: x.spatial, groups: groups,
                          eps: eps, gamma: gamma, beta: beta, silu: silu, output: y.data)
        return y
    }
}
