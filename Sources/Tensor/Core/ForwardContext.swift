/// Per-forward-pass state shared by the layers of one model: the buffer pool, the kernels'
/// reusable scratch memory and a FLOP counter. One context belongs to one model and is used
/// under that model's lock.
public final class ForwardContext: @unchecked Sendable {
    public let pool: BufferPool
    /// im2col / Winograd workspace shared by every convolution (grown as needed, kept).
    public var scratch: [Float] = []
    /// Attention score blocks (grown as needed, kept).
    public var attentionScratch: [Float] = []
    /// The batch size of the pass in progress.
    public private(set) var batch = 0
    /// Floating-point operations of the GEMM-shaped work (2 per multiply-add: convolutions,
    /// projections, attention products), counted as the forward pass runs.
    public var flops = 0

    public init(pool: BufferPool) { self.pool = pool }

    /// Starts a forward pass of `batch` samples; idle buffers of another batch size are freed first.
    public func begin(batch: Int) {
        if self.batch != batch { pool.drain() }
        self.batch = batch
        flops = 0
    }
}
