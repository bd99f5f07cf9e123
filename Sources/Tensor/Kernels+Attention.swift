/// Multi-head softmax attention on channel-major data.
extension Kernels {
    /// Largest block of attention score matrices held in `scratch` at once, in floats (16 MiB).
    public static let attentionBlockFloats = 1 << 22

    /// Multi-head softmax attention (PyTorch `F.scaled_dot_product_attention` with an explicit
    /// `scale`, no mask, no dropout) on channel-major `q`, `k`, `v` of shape `[C][B][T]`
    /// (`C = heads·headDim`, `T` tokens per batch item):
    /// `out[h·d + i, b, t] = Σ_s softmax_s(scale · Σ_j q[h·d+j, b, t]·k[h·d+j, b, s]) · v[h·d+i, b, s]`.
    ///
    /// Per (batch item, head): scores `S = scale·QᵀK` (`T × T`, one sgemm reading `Q` and `K` in
    /// place with leading dimension `B·T`), a row softmax, then `out = V·Sᵀ` (one sgemm writing the
    /// output in place). Score matrices for as many (b, h) pairs as fit `attentionBlockFloats` are
    /// kept in `scratch` so that the softmax runs over all of them at once, split over the cores.
    public static func attention(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, channels: Int,
                                 batch: Int, tokens: Int, heads: Int, scale: Float, output: UnsafeMutablePointer<Float>,
                                 scratch: inout [Float]) {
        attention(q: q, k: k, v: v, channels: channels, batch: batch, tokens: tokens, heads: heads, scale: scale,
                  output: output, scratch: &scratch, blockFloats: attentionBlockFloats)
    }

    static func attention(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, channels: Int,
                          batch: Int, tokens: Int, heads: Int, scale: Float, output: UnsafeMutablePointer<Float>,
                          scratch: inout [Float], blockFloats: Int) {
        precondition(heads > 0 && channels % heads == 0, "\(channels) channels are not divisible into \(heads) heads")
        let d = channels / heads
        let t = tokens
        let ld = batch * t
        let units = batch * heads
        let perUnit = t * t
        let unitsPerBlock = max(1, min(units, blockFloats / max(perUnit, 1)))
        reserve(&scratch, unitsPerBlock * perUnit)
        scratch.withUnsafeMutableBufferPointer { buffer in
            let scores = buffer.baseAddress!
            var u0 = 0
            while u0 < units {
                let u1 = min(units, u0 + unitsPerBlock)
                for u in u0..<u1 {
                    let b = u / heads, h = u - b * heads
                    let offset = h * d * ld + b * t
                    sgemm(transA: true, m: t, n: t, k: d, alpha: scale, a: q + offset, lda: ld, b: k + offset, ldb: ld,
                          beta: 0, c: scores + (u - u0) * perUnit, ldc: t)
                }
                let rows = (u1 - u0) * t
                parallelChunks(count: rows, minimumPerChunk: max(1, (1 << 14) / max(t, 1)),
                               SoftmaxRows(scores: scores, length: t))
                for u in u0..<u1 {
                    let b = u / heads, h = u - b * heads
                    let offset = h * d * ld + b * t
                    sgemm(transB: true, m: d, n: t, k: t, a: v + offset, lda: ld, b: scores + (u - u0) * perUnit, ldb: t,
                          beta: 0, c: output + offset, ldc: ld)
                }
                u0 = u1
            }
        }
    }

    /// Row softmax over `range` of a `[rows][length]` array.
    struct SoftmaxRows: RangeBody {
        let scores: UnsafeMutablePointer<Float>, length: Int
        func callAsFunction(_ range: Range<Int>) {
            for r in range { Kernels.softmaxRow(scores + r * length, count: length) }
        }
    }
}
