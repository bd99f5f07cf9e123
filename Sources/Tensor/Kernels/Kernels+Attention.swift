/// Multi-head softmax attention on channel-major data.
extension Kernels {
    /// Largest block of attention scores held in `scratch` at once, in floats (16 MiB).
    public static let attentionBlockFloats = 1 << 22

    /// Multi-head self-attention (PyTorch `F.scaled_dot_product_attention` with an explicit
    /// `scale`, no mask, no dropout) on channel-major `q`, `k`, `v` of shape `[C][B][T]`
    /// (`C = heads·headDim`, `T` tokens per batch item):
    /// `out[h·d + i, b, t] = Σ_s softmax_s(scale · Σ_j q[h·d+j, b, t]·k[h·d+j, b, s]) · v[h·d+i, b, s]`.
    public static func attention(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, channels: Int,
                                 batch: Int, tokens: Int, heads: Int, scale: Float, output: UnsafeMutablePointer<Float>,
                                 scratch: inout [Float]) {
        attention(q: q, k: k, v: v, channels: channels, batch: batch, tokens: tokens, heads: heads, scale: scale,
                  output: output, scratch: &scratch, blockFloats: attentionBlockFloats)
    }

    static func attention(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, channels: Int,
                          batch: Int, tokens: Int, heads: Int, scale: Float, output: UnsafeMutablePointer<Float>,
                          scratch: inout [Float], blockFloats: Int) {
        attention(q: q, k: k, v: v, channels: channels, batch: batch, queryTokens: tokens, keyTokens: tokens,
                  heads: heads, scale: scale, causal: false, output: output, scratch: &scratch, blockFloats: blockFloats)
    }

    /// Multi-head attention of `Tq` queries over `Tk` keys (self- or cross-attention): `q` and
    /// `output` are `[C][B][Tq]`, `k` and `v` `[C][B][Tk]` (`C = heads·headDim`). `causal`: query
    /// `i` sees keys `j ≤ i` only (PyTorch's `is_causal=True`, a lower-triangular mask aligned at
    /// the top left, as CLIP's text encoder masks).
    ///
    /// Per (batch item, head) and chunk of queries: scores `S = scale·Qᵀ·K` (`rows × Tk`, one
    /// sgemm reading `Q` and `K` in place with their leading dimensions `B·Tq`, `B·Tk`), a row
    /// softmax, then `out = V·Sᵀ` (one sgemm writing the output in place). Query chunks are as
    /// long as fit `blockFloats` scores (whole `Tq` when it fits), so memory stays bounded for any
    /// sequence length — a 96×96 latent's 9216² score matrix (340 MB) is computed 455 queries at a
    /// time. As many chunks as fit are scored before one softmax pass over all of them, split
    /// over the cores.
    public static func attention(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, channels: Int,
                                 batch: Int, queryTokens tq: Int, keyTokens tk: Int, heads: Int, scale: Float,
                                 causal: Bool, output: UnsafeMutablePointer<Float>, scratch: inout [Float],
                                 blockFloats: Int = attentionBlockFloats) {
        precondition(heads > 0 && channels % heads == 0, "\(channels) channels are not divisible into \(heads) heads")
        precondition(tq > 0 && tk > 0 && batch > 0, "empty attention")
        let d = channels / heads
        let ldq = batch * tq, ldk = batch * tk
        let chunk = max(1, min(tq, blockFloats / tk))
        let chunksPerUnit = (tq + chunk - 1) / chunk
        let items = batch * heads * chunksPerUnit
        let perItem = chunk * tk
        let itemsPerBlock = max(1, min(items, blockFloats / perItem))
        reserve(&scratch, itemsPerBlock * perItem)
        // Item → (offset of its batch item, head and first query in q/output; of its batch item
        // and head in k/v; its query count).
        @inline(__always) func locate(_ item: Int) -> (qOffset: Int, kOffset: Int, rows: Int) {
            let unit = item / chunksPerUnit, c = item - unit * chunksPerUnit
            let b = unit / heads, h = unit - b * heads
            let t0 = c * chunk
            return (h * d * ldq + b * tq + t0, h * d * ldk + b * tk, min(chunk, tq - t0))
        }
        scratch.withUnsafeMutableBufferPointer { buffer in
            let scores = buffer.baseAddress!
            var i0 = 0
            while i0 < items {
                let i1 = min(items, i0 + itemsPerBlock)
                for item in i0..<i1 {
                    let p = locate(item)
                    sgemm(transA: true, m: p.rows, n: tk, k: d, alpha: scale, a: q + p.qOffset, lda: ldq,
                          b: k + p.kOffset, ldb: ldk, beta: 0, c: scores + (item - i0) * perItem, ldc: tk)
                }
                parallelChunks(count: (i1 - i0) * chunk, minimumPerChunk: max(1, (1 << 14) / tk),
                               SoftmaxRows(scores: scores, length: tk, chunk: chunk, firstItem: i0,
                                           chunksPerUnit: chunksPerUnit, queryTokens: tq, causal: causal))
                for item in i0..<i1 {
                    let p = locate(item)
                    sgemm(transB: true, m: d, n: p.rows, k: tk, a: v + p.kOffset, lda: ldk,
                          b: scores + (item - i0) * perItem, ldb: tk, beta: 0, c: output + p.qOffset, ldc: ldq)
                }
                i0 = i1
            }
        }
    }

    /// Row softmax over `range` of a block of score chunks `[item][chunk][length]`: rows past a
    /// chunk's last query are skipped; with `causal`, row `i` (query `t0 + i`) covers keys
    /// `0 … t0 + i` and the rest are set to zero.
    struct SoftmaxRows: RangeBody {
        let scores: UnsafeMutablePointer<Float>, length: Int, chunk: Int, firstItem: Int
        let chunksPerUnit: Int, queryTokens: Int, causal: Bool
        func callAsFunction(_ range: Range<Int>) {
            for r in range {
                let item = firstItem + r / chunk
                let query = (item % chunksPerUnit) * chunk + r % chunk
                if query >= queryTokens { continue }
                let row = scores + r * length
                let visible = causal ? min(length, query + 1) : length
                Kernels.softmaxRow(row, count: visible)
                if visible < length { (row + visible).update(repeating: 0, count: length - visible) }
            }
        }
    }
}
