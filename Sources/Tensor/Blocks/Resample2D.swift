/// diffusers `models/downsampling.py` `Downsample2D` with a 3×3 stride-2 conv (`padding` 0 means
/// `F.pad(x, (0, 1, 0, 1))` first, right and bottom, as diffusers does) and
/// `models/upsampling.py` `Upsample2D` (nearest ×2, then a 3×3 conv); guided-diffusion's
/// `Downsample` / `Upsample` with `use_conv=True` are the same with padding 1 (its `Downsample`
/// names the conv `op`). Parity:
/// Tests/ModelsTests/UNet2DParityTests.swift (diffusers 0.42.1).
public struct Downsample2D {
    let conv: Conv2d

    /// Reads `prefix.conv` (or `prefix.convName`).
    public init(_ w: inout WeightBinder, _ prefix: String, channels: Int, padding: Int, convName: String = "conv") throws {
        let pad = padding == 0 ? Kernels.Padding(top: 0, left: 0, bottom: 1, right: 1) : .uniform(padding)
        conv = try Conv2d(&w, prefix + "." + convName, in: channels, out: channels, kernel: (3, 3), stride: 2, padding: pad)
    }

    public func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor { conv(x, ctx) }
}

public struct Upsample2D {
    let conv: Conv2d

    /// Reads `prefix.conv`.
    public init(_ w: inout WeightBinder, _ prefix: String, channels: Int) throws {
        conv = try Conv2d(&w, prefix + ".conv", in: channels, out: channels, kernel: 3, padding: 1)
    }

    public func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        conv(Resampling.upsampleNearest2x(x), ctx)
    }

    /// With diffusers' `output_size`: nearest resizing to `height × width` instead of ×2
    /// (`Resampling.upsampleNearest`), then the conv.
    public func callAsFunction(_ x: Tensor, height: Int, width: Int, _ ctx: ForwardContext) -> Tensor {
        conv(Resampling.upsampleNearest(x, height: height, width: width), ctx)
    }
}
