import Foundation

/// diffusers `models/embeddings.py` `get_timestep_embedding` (`Timesteps(num_channels,
/// flip_sin_to_cos, downscale_freq_shift, scale)`), which guided-diffusion's `nn.py`
/// `timestep_embedding` equals with `flipSinToCos: true, downscaleFreqShift: 0`: for
/// `half = dim/2` frequencies `f_i = exp(−ln(maxPeriod)·i/(half − shift))`, the rows
/// `[sin(t·f), cos(t·f)]` (cos first when flipped), zero-padded when `dim` is odd. Computed in
/// Float32 in diffusers' order. Output `[dim, B, 1, 1]` (one column per timestep). Parity:
/// Tests/TensorTests/LayerTests.swift (torch 2.13 re-expression in tools/make_layer_goldens.py)
/// and Tests/ModelsTests/UNet2DParityTests.swift (diffusers 0.42.1).
public struct SinusoidalTimestepEmbedding: Sendable {
    public let dim: Int
    public let flipSinToCos: Bool
    public let downscaleFreqShift: Float
    public let scale: Float
    public let maxPeriod: Float
    let frequencies: [Float]

    public init(dim: Int, flipSinToCos: Bool, downscaleFreqShift: Double, scale: Double = 1, maxPeriod: Double = 10000) {
        precondition(dim >= 2, "a timestep embedding needs at least 2 dimensions")
        self.dim = dim
        self.flipSinToCos = flipSinToCos
        self.downscaleFreqShift = Float(downscaleFreqShift)
        self.scale = Float(scale)
        self.maxPeriod = Float(maxPeriod)
        let half = dim / 2, shift = Float(downscaleFreqShift)
        let base = Float(-log(maxPeriod))
        frequencies = (0..<half).map { exp(base * Float($0) / (Float(half) - shift)) }
    }

    /// The embeddings of `timesteps` (one per batch item), `[dim, B, 1, 1]`.
    public func callAsFunction(_ timesteps: [Double], pool: BufferPool) -> Tensor {
        let batch = timesteps.count, half = dim / 2
        let y = Tensor(pool, channels: dim, batch: batch)
        let out = y.data
        for (b, t) in timesteps.enumerated() {
            for i in 0..<half {
                var angle = Float(t) * frequencies[i]
                if scale != 1 { angle *= scale }
                let (first, second) = flipSinToCos ? (cos(angle), sin(angle)) : (sin(angle), cos(angle))
                out[i * batch + b] = first
                out[(half + i) * batch + b] = second
            }
            if dim % 2 == 1 { out[(dim - 1) * batch + b] = 0 }
        }
        return y
    }
}

/// PyTorch `torch.nn.Embedding` (a lookup table, weight `[count, dim]`): diffusers' class and
/// learned time embeddings, CLIP's token and position embeddings. Output for `batch` sequences
/// of `ids.count / batch` tokens: `[dim, B, 1, T]`. Parity: Tests/TensorTests/LayerTests.swift.
public struct Embedding {
    public let count: Int
    public let dim: Int
    let table: [Float]

    public init(table: [Float], count: Int, dim: Int) {
        precondition(table.count == count * dim, "table must be [\(count), \(dim)]")
        self.table = table
        self.count = count
        self.dim = dim
    }

    /// Reads `prefix.weight` `[count, dim]`.
    public init(_ w: inout WeightBinder, _ prefix: String, count: Int, dim: Int) throws {
        self.init(table: try w.take(prefix + ".weight", [count, dim]), count: count, dim: dim)
    }

    /// The rows of `ids` (row-major `[B, T]`, each in `0..<count`), or nil when an id is out of range.
    public func callAsFunction(_ ids: [Int], batch: Int, pool: BufferPool) -> Tensor? {
        guard batch > 0, ids.count % batch == 0, ids.allSatisfy({ $0 >= 0 && $0 < count }) else { return nil }
        let n = ids.count
        let y = Tensor(pool, features: dim, batch: batch, tokens: n / batch)
        let out = y.data
        for (column, id) in ids.enumerated() {
            for d in 0..<dim { out[d * n + column] = table[id * dim + d] }
        }
        return y
    }
}
