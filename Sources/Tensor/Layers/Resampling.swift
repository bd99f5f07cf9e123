/// Spatial resampling and pooling on `[C, B, H, W]` tensors, PyTorch's definitions:
/// `F.interpolate(scale_factor=2, mode="nearest")` (diffusers `Upsample2D`, `upsample_2d`;
/// guided-diffusion `Upsample`), `F.avg_pool2d` (diffusers `Downsample2D(use_conv=False)` and
/// resnets' `down=True`, guided-diffusion `Downsample(use_conv=False)`; torchvision Inception's
/// pool branches with `count_include_pad`), `F.max_pool2d`, `F.adaptive_avg_pool2d(·, 1)` and
/// `F.interpolate(mode="bilinear", align_corners=False)` (pytorch-fid's resize). Kernels in
/// Kernels.swift and Kernels+Pool.swift. Parity: Tests/TensorTests/KernelTests.swift,
/// PoolKernelTests.swift (torch 2.13), FIDInceptionTests.swift.
public enum Resampling {
    /// Nearest-neighbour ×2 upsampling into a new tensor.
    public static func upsampleNearest2x(_ x: Tensor) -> Tensor {
        let y = x.like(height: 2 * x.height, width: 2 * x.width)
        Kernels.upsampleNearest2x(input: x.data, channels: x.channels, batch: x.batch, height: x.height, width: x.width,
                                  output: y.data)
        return y
    }

    /// `F.interpolate(x, size=(height, width), mode="nearest")` into a new tensor (diffusers'
    /// `Upsample2D` with `output_size`, forwarded when a latent side is not divisible by the
    /// UNet's total upsampling): output index i reads input `min(⌊i·(in/out)⌋, in − 1)`, the scale
    /// computed in Float32 as PyTorch's `nearest_idx` does (exactly `i/2` when out = 2·in).
    public static func upsampleNearest(_ x: Tensor, height: Int, width: Int) -> Tensor {
        if height == 2 * x.height && width == 2 * x.width { return upsampleNearest2x(x) }
        let y = x.like(height: height, width: width)
        func sources(_ outSize: Int, _ inSize: Int) -> [Int] {
            let scale = Float(inSize) / Float(outSize)
            return (0..<outSize).map { outSize == 2 * inSize ? $0 >> 1 : min(Int((Float($0) * scale).rounded(.down)), inSize - 1) }
        }
        let rows = sources(height, x.height), columns = sources(width, x.width)
        let planes = x.channels * x.batch, inPlane = x.spatial, outPlane = height * width
        // A copy (memory bound), only for sizes off the ×2 grid: one pass on the calling thread.
        for plane in 0..<planes {
            let src = x.data + plane * inPlane, dst = y.data + plane * outPlane
            for (i, row) in rows.enumerated() {
                let from = src + row * x.width, to = dst + i * width
                for (j, column) in columns.enumerated() { to[j] = from[column] }
            }
        }
        return y
    }

    /// 2×2 average pooling with stride 2 (odd trailing rows and columns dropped, as PyTorch does).
    public static func averagePool2x(_ x: Tensor) -> Tensor {
        let y = x.like(height: x.height / 2, width: x.width / 2)
        Kernels.avgPool2x(input: x.data, channels: x.channels, batch: x.batch, height: x.height, width: x.width,
                          output: y.data)
        return y
    }

    /// Output size of a `kernel`/`stride`/`padding` pooling window along an axis (floor mode).
    public static func pooledSize(_ size: Int, kernel: Int, stride: Int, padding: Int) -> Int {
        Kernels.convOutputSize(size, kernel: kernel, stride: stride, padBefore: padding, padAfter: padding)
    }

    /// `F.max_pool2d(x, kernel, stride, padding)` into a new tensor.
    public static func maxPool2d(_ x: Tensor, kernel: Int, stride: Int, padding: Int = 0) -> Tensor {
        let y = x.like(height: pooledSize(x.height, kernel: kernel, stride: stride, padding: padding),
                       width: pooledSize(x.width, kernel: kernel, stride: stride, padding: padding))
        maxPool2d(x, kernel: kernel, stride: stride, padding: padding, into: y.data)
        return y
    }

    /// `F.max_pool2d` written at `output` (e.g. a channel slice of a concatenation).
    public static func maxPool2d(_ x: Tensor, kernel: Int, stride: Int, padding: Int = 0,
                                 into output: UnsafeMutablePointer<Float>) {
        Kernels.maxPool2d(input: x.data, planes: x.channels * x.batch, height: x.height, width: x.width,
                          kernel: kernel, stride: stride, padding: padding, output: output)
    }

    /// `F.avg_pool2d(x, kernel, stride, padding, count_include_pad=countIncludePad)` into a new tensor.
    public static func avgPool2d(_ x: Tensor, kernel: Int, stride: Int, padding: Int = 0,
                                 countIncludePad: Bool = true) -> Tensor {
        let y = x.like(height: pooledSize(x.height, kernel: kernel, stride: stride, padding: padding),
                       width: pooledSize(x.width, kernel: kernel, stride: stride, padding: padding))
        Kernels.avgPool2d(input: x.data, planes: x.channels * x.batch, height: x.height, width: x.width,
                          kernel: kernel, stride: stride, padding: padding, countIncludePad: countIncludePad,
                          output: y.data)
        return y
    }

    /// Global average pooling (`F.adaptive_avg_pool2d(x, 1)`): `[C, B, H, W]` → `[C, B, 1, 1]`.
    public static func globalAveragePool(_ x: Tensor) -> Tensor {
        let y = x.like(height: 1, width: 1)
        // Every (channel, batch item) plane's mean at the plane's index: [C][B].
        Kernels.globalAveragePool(input: x.data, channels: x.channels * x.batch, batch: 1, spatial: x.spatial,
                                  rows: y.data)
        return y
    }

    /// Bilinear resizing to `height × width` (`align_corners=False`, no antialias).
    public static func resizeBilinear(_ x: Tensor, height: Int, width: Int) -> Tensor {
        let y = x.like(height: height, width: width)
        Kernels.resizeBilinear(input: x.data, planes: x.channels * x.batch, height: x.height, width: x.width,
                               outHeight: height, outWidth: width, output: y.data)
        return y
    }
}
