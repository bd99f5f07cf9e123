/// Residual connections and concatenation (PyTorch `x + y`, `(x + y)/s` as diffusers'
/// `output_scale_factor` and `rescale_output_factor` divide, and `torch.cat([a, b], dim=1)` of
/// the UNets' skip connections). In the channel-major layout concatenation along channels is two
/// contiguous copies. Parity: Tests/ModelsTests/UNet2DParityTests.swift, Tests/TensorTests.
public enum Combine {
    /// `x ← (x + y)/divisor` in place (`x` is returned).
    @discardableResult
    public static func residualAdd(_ x: Tensor, _ y: Tensor, dividingBy divisor: Float = 1) -> Tensor {
        precondition(x.shape == y.shape, "residual shapes \(x.shape) and \(y.shape) differ")
        Kernels.add(x.data, y.data, count: x.count, scale: 1 / divisor)
        return x
    }

    /// `x ← x/divisor` in place (`x` is returned).
    @discardableResult
    public static func divide(_ x: Tensor, by divisor: Float) -> Tensor {
        if divisor != 1 { Kernels.scale(x.data, count: x.count, by: 1 / divisor) }
        return x
    }

    /// `[a; b]` along channels, new.
    public static func concatenate(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.batch == b.batch && a.height == b.height && a.width == b.width, "concatenated shapes differ")
        let y = a.like(channels: a.channels + b.channels)
        y.data.update(from: a.data, count: a.count)
        (y.data + a.count).update(from: b.data, count: b.count)
        return y
    }
}
