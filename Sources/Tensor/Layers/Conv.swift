/// Convolutions: PyTorch `torch.nn.Conv2d` / `torch.nn.Conv1d` (`F.conv2d` / `F.conv1d`, zero
/// padding, dilation 1), as diffusers (`models/resnet.py`, `downsampling.py`, `upsampling.py`)
/// and guided-diffusion (`nn.py` `conv_nd(dims, …)`) build them: any kernel size, stride,
/// symmetric or asymmetric padding (diffusers' `Downsample2D(padding=0)` pads right/bottom by 1)
/// and `groups`. Parity: Tests/ModelsTests/UNet2DParityTests.swift (diffusers 0.42.1),
/// FIDInceptionTests.swift (torchvision 0.28 / pytorch-fid 0.3.0), Tests/TensorTests.
///
/// Weights are prepared once at load (`Kernels.PreparedConv2d`: Winograd-transformed for 3×3
/// stride 1, else kept for im2col + GEMM; 1×1 stride 1 is one GEMM), so a call does no weight
/// work. Grouped convolutions are one prepared convolution per group on the group's channel
/// block, which is contiguous in the channel-major layout.
public struct Conv2d {
    public let inChannels: Int
    public let outChannels: Int
    public let groups: Int
    public let kernelHeight: Int
    public let kernelWidth: Int
    let prepared: [Kernels.PreparedConv2d]
    let bias: [Float]?

    /// From PyTorch-layout weights `[outChannels, inChannels/groups, kernelHeight, kernelWidth]`
    /// and an optional bias `[outChannels]`.
    public init(weight: [Float], bias: [Float]?, inChannels: Int, outChannels: Int,
                kernelHeight: Int, kernelWidth: Int, stride: Int = 1, padding: Kernels.Padding, groups: Int = 1) {
        precondition(groups > 0 && inChannels % groups == 0 && outChannels % groups == 0,
                     "\(inChannels) → \(outChannels) channels are not divisible into \(groups) groups")
        let perGroup = outChannels / groups * (inChannels / groups) * kernelHeight * kernelWidth
        precondition(weight.count == groups * perGroup && (bias?.count ?? outChannels) == outChannels, "weight shape")
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.groups = groups
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.bias = bias
        prepared = weight.withUnsafeBufferPointer { w in
            (0..<groups).map { g in
                Kernels.PreparedConv2d(weight: w.baseAddress! + g * perGroup, outChannels: outChannels / groups,
                                       inChannels: inChannels / groups, kernelHeight: kernelHeight,
                                       kernelWidth: kernelWidth, stride: stride, padding: padding)
            }
        }
    }

    /// Reads `prefix.weight` `[out, in/groups, kh, kw]` and, when `bias`, `prefix.bias` `[out]`.
    public init(_ w: inout WeightBinder, _ prefix: String, in inChannels: Int, out outChannels: Int,
                kernel: (height: Int, width: Int), stride: Int = 1, padding: Kernels.Padding, groups: Int = 1,
                bias: Bool = true) throws {
        guard groups > 0, inChannels % groups == 0, outChannels % groups == 0 else {
            throw w.invalidLayer("\(prefix): \(inChannels) → \(outChannels) channels are not divisible into \(groups) groups")
        }
        let weight = try w.take(prefix + ".weight", [outChannels, inChannels / groups, kernel.height, kernel.width])
        let b = bias ? try w.take(prefix + ".bias", [outChannels]) : nil
        self.init(weight: weight, bias: b, inChannels: inChannels, outChannels: outChannels,
                  kernelHeight: kernel.height, kernelWidth: kernel.width, stride: stride, padding: padding, groups: groups)
    }

    /// A square kernel with the same padding on every side (PyTorch's `padding=p`).
    public init(_ w: inout WeightBinder, _ prefix: String, in inChannels: Int, out outChannels: Int,
                kernel: Int, stride: Int = 1, padding: Int = 0, groups: Int = 1, bias: Bool = true) throws {
        try self.init(&w, prefix, in: inChannels, out: outChannels, kernel: (kernel, kernel), stride: stride,
                      padding: .uniform(padding), groups: groups, bias: bias)
    }

    /// Output height and width for an input of `height × width`.
    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        prepared[0].outputSize(height: height, width: width)
    }

    /// The convolution of `x` (`[in, B, H, W]`) into a new `[out, B, OH, OW]` tensor.
    public func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        let (oh, ow) = outputSize(height: x.height, width: x.width)
        let y = x.like(channels: outChannels, height: oh, width: ow)
        run(x, into: y.data, ctx)
        return y
    }

    /// Writes the output `[out][B][OH][OW]` at `output` (e.g. a channel slice of a concatenation).
    public func run(_ x: Tensor, into output: UnsafeMutablePointer<Float>, _ ctx: ForwardContext) {
        precondition(x.channels == inChannels, "expected \(inChannels) channels, got \(x.channels)")
        let (oh, ow) = outputSize(height: x.height, width: x.width)
        let inBlock = inChannels / groups * x.columns, outPerGroup = outChannels / groups
        let outBlock = outPerGroup * x.batch * oh * ow
        ctx.flops += 2 * outChannels * (inChannels / groups) * kernelHeight * kernelWidth * oh * ow * x.batch
        withOptionalPointer(bias) { b in
            for (g, p) in prepared.enumerated() {
                Kernels.conv2d(input: x.data + g * inBlock, batch: x.batch, height: x.height, width: x.width,
                               prepared: p, bias: b.map { $0 + g * outPerGroup }, output: output + g * outBlock,
                               scratch: &ctx.scratch)
            }
        }
    }
}

extension Conv2d {
    /// A convolution followed by an inference-mode `torch.nn.BatchNorm2d` (running statistics),
    /// folded into one convolution with bias at load (`Kernels.foldBatchNorm`, Float64): reads
    /// `convPrefix.weight` (and `.bias` when `convBias`) and `bnPrefix.{weight, bias,
    /// running_mean, running_var}`. torchvision's `BasicConv2d` is this and a ReLU.
    public init(foldingBatchNorm w: inout WeightBinder, conv convPrefix: String, batchNorm bnPrefix: String,
                in inChannels: Int, out outChannels: Int, kernel: (height: Int, width: Int), stride: Int = 1,
                padding: Kernels.Padding, convBias: Bool = false, eps: Double) throws {
        var weight = try w.take(convPrefix + ".weight", [outChannels, inChannels, kernel.height, kernel.width])
        let own = convBias ? try w.take(convPrefix + ".bias", [outChannels]) : nil
        let gamma = try w.take(bnPrefix + ".weight", [outChannels])
        let beta = try w.take(bnPrefix + ".bias", [outChannels])
        let mean = try w.take(bnPrefix + ".running_mean", [outChannels])
        let variance = try w.take(bnPrefix + ".running_var", [outChannels])
        guard variance.allSatisfy({ $0 >= 0 }) else { throw w.invalidLayer("\(bnPrefix).running_var has negative values") }
        let bias = Kernels.foldBatchNorm(weight: &weight, outChannels: outChannels, bias: own, gamma: gamma, beta: beta,
                                         mean: mean, variance: variance, eps: eps)
        self.init(weight: weight, bias: bias, inChannels: inChannels, outChannels: outChannels,
                  kernelHeight: kernel.height, kernelWidth: kernel.width, stride: stride, padding: padding)
    }
}

/// PyTorch `torch.nn.Conv1d` on sequences `[C, B, 1, L]` (guided-diffusion's `conv_nd(1, …)`,
/// e.g. its attention's `qkv` and `proj_out` with kernel 1, which is one GEMM — a linear layer
/// over channels). Weights `[out, in/groups, kernel]`; computed as a 2-D convolution with a
/// `1 × kernel` window.
public struct Conv1d {
    let conv: Conv2d
    public var inChannels: Int { conv.inChannels }
    public var outChannels: Int { conv.outChannels }

    /// Reads `prefix.weight` `[out, in/groups, kernel]` and, when `bias`, `prefix.bias` `[out]`.
    public init(_ w: inout WeightBinder, _ prefix: String, in inChannels: Int, out outChannels: Int,
                kernel: Int = 1, stride: Int = 1, padding: Int = 0, groups: Int = 1, bias: Bool = true) throws {
        guard groups > 0, inChannels % groups == 0, outChannels % groups == 0 else {
            throw w.invalidLayer("\(prefix): \(inChannels) → \(outChannels) channels are not divisible into \(groups) groups")
        }
        let weight = try w.take(prefix + ".weight", [outChannels, inChannels / groups, kernel])
        let b = bias ? try w.take(prefix + ".bias", [outChannels]) : nil
        conv = Conv2d(weight: weight, bias: b, inChannels: inChannels, outChannels: outChannels, kernelHeight: 1,
                      kernelWidth: kernel, stride: stride,
                      padding: Kernels.Padding(top: 0, left: padding, bottom: 0, right: padding), groups: groups)
    }

    /// `[in, B, 1, L]` → `[out, B, 1, L']` (a `[C, B, H, W]` input is read as `L = H·W`).
    public func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        let sequence = x.height == 1 ? x : x.reshaped(height: 1, width: x.spatial)
        return conv(sequence, ctx)
    }
}

/// Calls `body` with the array's base address, or nil for no array.
@inline(__always)
func withOptionalPointer<R>(_ array: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let array else { return body(nil) }
    return array.withUnsafeBufferPointer { body($0.baseAddress) }
}
