import Foundation
import Tensor

// The layers of pytorch-fid's FID Inception network (pytorch_fid/inception.py 0.3.0 on
// torchvision/models/inception.py 0.28.0), inference only, on CNHW activations. A block's output
// is allocated once at its concatenated size and every branch's last convolution (or pooling)
// writes straight into its channel slice, so `torch.cat(outputs, 1)` costs nothing.

/// torchvision `BasicConv2d`: `Conv2d(bias=False)` → `BatchNorm2d(eps=0.001)` → ReLU, the
/// BatchNorm folded into the convolution at load (`Conv2d(foldingBatchNorm:)`), so a call is one
/// convolution with bias, then ReLU.
struct BasicConv2d {
    static let batchNormEps = 0.001
    let conv: Conv2d
    var outChannels: Int { conv.outChannels }

    /// Reads `prefix.conv.weight` `[out, in, kh, kw]` and `prefix.bn.{weight, bias, running_mean,
    /// running_var}` `[out]`. `padding` is PyTorch's `(padH, padW)`.
    init(_ w: inout WeightBinder, _ prefix: String, in inChannels: Int, out outChannels: Int,
         kernel: (Int, Int), stride: Int = 1, padding: (Int, Int) = (0, 0)) throws {
        conv = try Conv2d(foldingBatchNorm: &w, conv: prefix + ".conv", batchNorm: prefix + ".bn", in: inChannels,
                          out: outChannels, kernel: kernel, stride: stride,
                          padding: Kernels.Padding(top: padding.0, left: padding.1, bottom: padding.0, right: padding.1),
                          eps: Self.batchNormEps)
    }

    init(_ w: inout WeightBinder, _ prefix: String, in inChannels: Int, out outChannels: Int,
         kernel: Int, stride: Int = 1, padding: Int = 0) throws {
        try self.init(&w, prefix, in: inChannels, out: outChannels, kernel: (kernel, kernel), stride: stride,
                      padding: (padding, padding))
    }

    /// Writes the layer's output, `[OC][B][OH][OW]`, at `output` (e.g. a channel slice).
    func run(_ x: Tensor, into output: UnsafeMutablePointer<Float>, _ ctx: ForwardContext) {
        conv.run(x, into: output, ctx)
        let (oh, ow) = conv.outputSize(height: x.height, width: x.width)
        Kernels.relu(output, count: conv.outChannels * x.batch * oh * ow)
    }

    func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        Activation.relu(inPlace: conv(x, ctx))
    }
}

/// One stage of the network after the stem: a mixed block.
protocol InceptionBlock {
    var outChannels: Int { get }
    func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor
}

/// 3×3 pooling with stride 1 and padding 1 of a whole activation (the pool branches of the A, C
/// and E blocks): average without the padded zeros (`count_include_pad=False`, pytorch-fid's
/// TensorFlow patch) or max (`FIDInceptionE_2`).
func poolSame3x3(_ x: Tensor, max: Bool) -> Tensor {
    max ? Resampling.maxPool2d(x, kernel: 3, stride: 1, padding: 1)
        : Resampling.avgPool2d(x, kernel: 3, stride: 1, padding: 1, countIncludePad: false)
}

/// pytorch-fid `FIDInceptionA` (Mixed_5b/5c/5d): 1×1 | 1×1 → 5×5 | 1×1 → 3×3 → 3×3 |
/// avg-pool 3×3 (count_include_pad=False) → 1×1; 64 + 64 + 96 + `poolFeatures` channels.
struct InceptionA: InceptionBlock {
    let branch1x1, branch5x5_1, branch5x5_2, branch3x3dbl_1, branch3x3dbl_2, branch3x3dbl_3, branchPool: BasicConv2d
    var outChannels: Int { 224 + branchPool.outChannels }

    init(_ w: inout WeightBinder, _ p: String, in c: Int, poolFeatures: Int) throws {
        branch1x1 = try BasicConv2d(&w, p + ".branch1x1", in: c, out: 64, kernel: 1)
        branch5x5_1 = try BasicConv2d(&w, p + ".branch5x5_1", in: c, out: 48, kernel: 1)
        branch5x5_2 = try BasicConv2d(&w, p + ".branch5x5_2", in: 48, out: 64, kernel: 5, padding: 2)
        branch3x3dbl_1 = try BasicConv2d(&w, p + ".branch3x3dbl_1", in: c, out: 64, kernel: 1)
        branch3x3dbl_2 = try BasicConv2d(&w, p + ".branch3x3dbl_2", in: 64, out: 96, kernel: 3, padding: 1)
        branch3x3dbl_3 = try BasicConv2d(&w, p + ".branch3x3dbl_3", in: 96, out: 96, kernel: 3, padding: 1)
        branchPool = try BasicConv2d(&w, p + ".branch_pool", in: c, out: poolFeatures, kernel: 1)
    }

    func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        let y = x.like(channels: outChannels)
        branch1x1.run(x, into: y.channelSlice(0), ctx)
        branch5x5_2.run(branch5x5_1(x, ctx), into: y.channelSlice(64), ctx)
        branch3x3dbl_3.run(branch3x3dbl_2(branch3x3dbl_1(x, ctx), ctx), into: y.channelSlice(128), ctx)
        branchPool.run(poolSame3x3(x, max: false), into: y.channelSlice(224), ctx)
        return y
    }
}

/// torchvision `InceptionB` (Mixed_6a, unpatched): 3×3 stride 2 | 1×1 → 3×3 → 3×3 stride 2 |
/// max-pool 3×3 stride 2; 384 + 96 + `in` channels.
struct InceptionB: InceptionBlock {
    let branch3x3, branch3x3dbl_1, branch3x3dbl_2, branch3x3dbl_3: BasicConv2d
    let inChannels: Int
    var outChannels: Int { 480 + inChannels }

    init(_ w: inout WeightBinder, _ p: String, in c: Int) throws {
        branch3x3 = try BasicConv2d(&w, p + ".branch3x3", in: c, out: 384, kernel: 3, stride: 2)
        branch3x3dbl_1 = try BasicConv2d(&w, p + ".branch3x3dbl_1", in: c, out: 64, kernel: 1)
        branch3x3dbl_2 = try BasicConv2d(&w, p + ".branch3x3dbl_2", in: 64, out: 96, kernel: 3, padding: 1)
        branch3x3dbl_3 = try BasicConv2d(&w, p + ".branch3x3dbl_3", in: 96, out: 96, kernel: 3, stride: 2)
        inChannels = c
    }

    func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        let y = x.like(channels: outChannels, height: (x.height - 3) / 2 + 1, width: (x.width - 3) / 2 + 1)
        branch3x3.run(x, into: y.channelSlice(0), ctx)
        branch3x3dbl_3.run(branch3x3dbl_2(branch3x3dbl_1(x, ctx), ctx), into: y.channelSlice(384), ctx)
        Resampling.maxPool2d(x, kernel: 3, stride: 2, into: y.channelSlice(480))
        return y
    }
}

/// pytorch-fid `FIDInceptionC` (Mixed_6b…6e): 1×1 | 1×1 → 1×7 → 7×1 | 1×1 → 7×1 → 1×7 → 7×1 →
/// 1×7 | avg-pool 3×3 (count_include_pad=False) → 1×1; 4 × 192 channels.
struct InceptionC: InceptionBlock {
    let branch1x1: BasicConv2d
    let branch7x7: [BasicConv2d]
    let branch7x7dbl: [BasicConv2d]
    let branchPool: BasicConv2d
    var outChannels: Int { 768 }

    init(_ w: inout WeightBinder, _ p: String, in c: Int, channels7x7 c7: Int) throws {
        branch1x1 = try BasicConv2d(&w, p + ".branch1x1", in: c, out: 192, kernel: 1)
        branch7x7 = [
            try BasicConv2d(&w, p + ".branch7x7_1", in: c, out: c7, kernel: 1),
            try BasicConv2d(&w, p + ".branch7x7_2", in: c7, out: c7, kernel: (1, 7), padding: (0, 3)),
            try BasicConv2d(&w, p + ".branch7x7_3", in: c7, out: 192, kernel: (7, 1), padding: (3, 0)),
        ]
        branch7x7dbl = [
            try BasicConv2d(&w, p + ".branch7x7dbl_1", in: c, out: c7, kernel: 1),
            try BasicConv2d(&w, p + ".branch7x7dbl_2", in: c7, out: c7, kernel: (7, 1), padding: (3, 0)),
            try BasicConv2d(&w, p + ".branch7x7dbl_3", in: c7, out: c7, kernel: (1, 7), padding: (0, 3)),
            try BasicConv2d(&w, p + ".branch7x7dbl_4", in: c7, out: c7, kernel: (7, 1), padding: (3, 0)),
            try BasicConv2d(&w, p + ".branch7x7dbl_5", in: c7, out: 192, kernel: (1, 7), padding: (0, 3)),
        ]
        branchPool = try BasicConv2d(&w, p + ".branch_pool", in: c, out: 192, kernel: 1)
    }

    func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        let y = x.like(channels: outChannels)
        branch1x1.run(x, into: y.channelSlice(0), ctx)
        for (offset, chain) in [(192, branch7x7), (384, branch7x7dbl)] {
            var t = x
            for layer in chain.dropLast() { t = layer(t, ctx) }
            chain[chain.count - 1].run(t, into: y.channelSlice(offset), ctx)
        }
        branchPool.run(poolSame3x3(x, max: false), into: y.channelSlice(576), ctx)
        return y
    }
}

/// torchvision `InceptionD` (Mixed_7a, unpatched): 1×1 → 3×3 stride 2 | 1×1 → 1×7 → 7×1 → 3×3
/// stride 2 | max-pool 3×3 stride 2; 320 + 192 + `in` channels.
struct InceptionD: InceptionBlock {
    let branch3x3_1, branch3x3_2, branch7x7x3_1, branch7x7x3_2, branch7x7x3_3, branch7x7x3_4: BasicConv2d
    let inChannels: Int
    var outChannels: Int { 512 + inChannels }

    init(_ w: inout WeightBinder, _ p: String, in c: Int) throws {
        branch3x3_1 = try BasicConv2d(&w, p + ".branch3x3_1", in: c, out: 192, kernel: 1)
        branch3x3_2 = try BasicConv2d(&w, p + ".branch3x3_2", in: 192, out: 320, kernel: 3, stride: 2)
        branch7x7x3_1 = try BasicConv2d(&w, p + ".branch7x7x3_1", in: c, out: 192, kernel: 1)
        branch7x7x3_2 = try BasicConv2d(&w, p + ".branch7x7x3_2", in: 192, out: 192, kernel: (1, 7), padding: (0, 3))
        branch7x7x3_3 = try BasicConv2d(&w, p + ".branch7x7x3_3", in: 192, out: 192, kernel: (7, 1), padding: (3, 0))
        branch7x7x3_4 = try BasicConv2d(&w, p + ".branch7x7x3_4", in: 192, out: 192, kernel: 3, stride: 2)
        inChannels = c
    }

    func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        let y = x.like(channels: outChannels, height: (x.height - 3) / 2 + 1, width: (x.width - 3) / 2 + 1)
        branch3x3_2.run(branch3x3_1(x, ctx), into: y.channelSlice(0), ctx)
        let t = branch7x7x3_3(branch7x7x3_2(branch7x7x3_1(x, ctx), ctx), ctx)
        branch7x7x3_4.run(t, into: y.channelSlice(320), ctx)
        Resampling.maxPool2d(x, kernel: 3, stride: 2, into: y.channelSlice(512))
        return y
    }
}

/// pytorch-fid `FIDInceptionE_1` (Mixed_7b, `maxPool: false`: avg-pool with count_include_pad=False)
/// and `FIDInceptionE_2` (Mixed_7c, `maxPool: true`: max-pool, pytorch-fid's port of the TensorFlow
/// graph): 1×1 | 1×1 → (1×3, 3×1) | 1×1 → 3×3 → (1×3, 3×1) | pool 3×3 → 1×1;
/// 320 + 2·384 + 2·384 + 192 = 2048 channels.
struct InceptionE: InceptionBlock {
    let branch1x1, branch3x3_1, branch3x3_2a, branch3x3_2b: BasicConv2d
    let branch3x3dbl_1, branch3x3dbl_2, branch3x3dbl_3a, branch3x3dbl_3b, branchPool: BasicConv2d
    let maxPool: Bool
    var outChannels: Int { 2048 }

    init(_ w: inout WeightBinder, _ p: String, in c: Int, maxPool: Bool) throws {
        branch1x1 = try BasicConv2d(&w, p + ".branch1x1", in: c, out: 320, kernel: 1)
        branch3x3_1 = try BasicConv2d(&w, p + ".branch3x3_1", in: c, out: 384, kernel: 1)
        branch3x3_2a = try BasicConv2d(&w, p + ".branch3x3_2a", in: 384, out: 384, kernel: (1, 3), padding: (0, 1))
        branch3x3_2b = try BasicConv2d(&w, p + ".branch3x3_2b", in: 384, out: 384, kernel: (3, 1), padding: (1, 0))
        branch3x3dbl_1 = try BasicConv2d(&w, p + ".branch3x3dbl_1", in: c, out: 448, kernel: 1)
        branch3x3dbl_2 = try BasicConv2d(&w, p + ".branch3x3dbl_2", in: 448, out: 384, kernel: 3, padding: 1)
        branch3x3dbl_3a = try BasicConv2d(&w, p + ".branch3x3dbl_3a", in: 384, out: 384, kernel: (1, 3), padding: (0, 1))
        branch3x3dbl_3b = try BasicConv2d(&w, p + ".branch3x3dbl_3b", in: 384, out: 384, kernel: (3, 1), padding: (1, 0))
        branchPool = try BasicConv2d(&w, p + ".branch_pool", in: c, out: 192, kernel: 1)
        self.maxPool = maxPool
    }

    func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        let y = x.like(channels: outChannels)
        branch1x1.run(x, into: y.channelSlice(0), ctx)
        let t = branch3x3_1(x, ctx)
        branch3x3_2a.run(t, into: y.channelSlice(320), ctx)
        branch3x3_2b.run(t, into: y.channelSlice(704), ctx)
        let u = branch3x3dbl_2(branch3x3dbl_1(x, ctx), ctx)
        branch3x3dbl_3a.run(u, into: y.channelSlice(1088), ctx)
        branch3x3dbl_3b.run(u, into: y.channelSlice(1472), ctx)
        branchPool.run(poolSame3x3(x, max: maxPool), into: y.channelSlice(1856), ctx)
        return y
    }
}
