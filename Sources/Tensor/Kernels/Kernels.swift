import CBLAS
import Foundation

/// CPU kernels for a diffusers `UNet2DModel` forward pass, on Float32 activations in the
/// channel-major layout **CNHW** (`[C][B][H][W]` contiguous).
///
/// Why CNHW: a convolution or linear layer is then one GEMM `W[OC × K] · X[K × (B·H·W)]` that
/// writes its output directly in CNHW, and channel concatenation is appending contiguous blocks.
///
/// Conventions shared by every kernel:
/// - No heap allocation in the hot path: callers pass output buffers, and kernels that need
///   temporary memory take a reusable `scratch` array that grows when needed and is kept
///   (verified with a counting `malloc`: zero per call in this code; multi-threaded OpenBLAS
///   0.3.21 itself makes about one small `malloc` per `sgemm` call).
/// - 3×3 stride-1 convolutions use Winograd: F(4×4, 3×3) (`Kernels+Winograd4x4.swift`) for
///   weights prepared once (`PreparedConv2d`) up to 128 → 128 channels, F(2×2, 3×3)
///   (`Kernels+Winograd.swift`) above that and for weights transformed per call; other
///   convolutions use im2col + one GEMM.
/// - Convolution and linear layers multiply weights packed at load by skipstep's own AVX2 + FMA
///   GEMM (`Kernels+PackedGEMM.swift`); the other GEMMs (attention, linear algebra) and all of
///   them on CPUs without AVX2 go through OpenBLAS with its own threads. The other kernels and the
///   packed GEMM split large work into one chunk per core, run by a small pool of persistent
///   threads (`KernelThreadPool`), and stay on the calling thread for small work; BLAS is never
///   called from inside those chunks (no nested thread pools).
/// - Pointers must not alias unless a kernel's documentation says so.
public enum Kernels {
    /// Asymmetric zero padding of a convolution's input (rows added above and below, columns
    /// added left and right). diffusers' `Downsample2D` with `padding=0` pads (0, 1, 0, 1).
    public struct Padding: Sendable, Hashable {
        public var top: Int
        public var left: Int
        public var bottom: Int
        public var right: Int

        public init(top: Int, left: Int, bottom: Int, right: Int) {
            precondition(top >= 0 && left >= 0 && bottom >= 0 && right >= 0, "negative padding")
            self.top = top; self.left = left; self.bottom = bottom; self.right = right
        }

        /// The same padding on all four sides (PyTorch's `padding=p`).
        public static func uniform(_ p: Int) -> Padding { Padding(top: p, left: p, bottom: p, right: p) }
    }

    /// Output size of a convolution along one axis: `(size + padBefore + padAfter − kernel) / stride + 1`.
    @inlinable
    public static func convOutputSize(_ size: Int, kernel: Int, stride: Int, padBefore: Int, padAfter: Int) -> Int {
        (size + padBefore + padAfter - kernel) / stride + 1
    }

    // MARK: - Elementwise

    /// SiLU in place: `x ← x·sigmoid(x)` (PyTorch `F.silu`).
    public static func silu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        struct Job: RangeBody {
            let x: UnsafeMutablePointer<Float>
            func callAsFunction(_ range: Range<Int>) {
                Kernels.siluRange(x + range.lowerBound, x + range.lowerBound, count: range.count)
            }
        }
        parallelChunks(count: count, minimumPerChunk: 1 << 15, alignment: 16, Job(x: x))
    }

    /// `x ← (x + y)·scale` (residual connections with diffusers' `output_scale_factor`).
    public static func add(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count: Int, scale: Float = 1) {
        struct Job: RangeBody {
            let x: UnsafeMutablePointer<Float>, y: UnsafePointer<Float>, scale: Float
            func callAsFunction(_ range: Range<Int>) {
                let xs = x + range.lowerBound, ys = y + range.lowerBound
                if scale == 1 {
                    for i in 0..<range.count { xs[i] += ys[i] }
                } else {
                    for i in 0..<range.count { xs[i] = (xs[i] + ys[i]) * scale }
                }
            }
        }
        parallelChunks(count: count, minimumPerChunk: 1 << 18, alignment: 16, Job(x: x, y: y, scale: scale))
    }

    /// `x ← x·scale` in place.
    public static func scale(_ x: UnsafeMutablePointer<Float>, count: Int, by scale: Float) {
        struct Job: RangeBody {
            let x: UnsafeMutablePointer<Float>, scale: Float
            func callAsFunction(_ range: Range<Int>) {
                let xs = x + range.lowerBound
                for i in 0..<range.count { xs[i] *= scale }
            }
        }
        parallelChunks(count: count, minimumPerChunk: 1 << 18, alignment: 16, Job(x: x, scale: scale))
    }

    /// Adds a per-(channel, batch item) value, the time embedding in CNHW:
    /// `x[c][b][hw] += e[b][c]` with `e` row-major `[B, C]`.
    public static func addChannelBias(_ x: UnsafeMutablePointer<Float>, channels: Int, batch: Int, spatial: Int,
                                      perBatch e: UnsafePointer<Float>) {
        let rows = channels * batch
        struct Job: RangeBody {
            let x: UnsafeMutablePointer<Float>, e: UnsafePointer<Float>, channels: Int, batch: Int, spatial: Int
            func callAsFunction(_ range: Range<Int>) {
                for row in range {
                    let c = row / batch, b = row - c * batch
                    let value = e[b * channels + c]
                    let p = x + row * spatial
                    for i in 0..<spatial { p[i] += value }
                }
            }
        }
        parallelChunks(count: rows, minimumPerChunk: max(1, (1 << 18) / max(spatial, 1)),
                       Job(x: x, e: e, channels: channels, batch: batch, spatial: spatial))
    }

    /// Adds `bias[c]` to every element of channel `c` of a `[C][N]` array.
    public static func addBias(_ x: UnsafeMutablePointer<Float>, channels: Int, count n: Int, bias: UnsafePointer<Float>) {
        struct Job: RangeBody {
            let x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, n: Int
            func callAsFunction(_ range: Range<Int>) {
                for c in range {
                    let value = bias[c], p = x + c * n
                    for i in 0..<n { p[i] += value }
                }
            }
        }
        parallelChunks(count: channels, minimumPerChunk: max(1, (1 << 18) / max(n, 1)), Job(x: x, bias: bias, n: n))
    }

    // MARK: - Resampling

    /// Nearest-neighbour 2× upsampling, CNHW `[C][B][H][W]` → `[C][B][2H][2W]`
    /// (PyTorch `F.interpolate(scale_factor=2.0, mode="nearest")`).
    public static func upsampleNearest2x(input: UnsafePointer<Float>, channels: Int, batch: Int, height: Int, width: Int,
                                         output: UnsafeMutablePointer<Float>) {
        let planes = channels * batch
        let plane = height * width
        struct Job: RangeBody {
            let input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, height: Int, width: Int
            func callAsFunction(_ range: Range<Int>) {
                let plane = height * width
                for p in range {
                    let src = input + p * plane
                    let dst = output + p * plane * 4
                    for h in 0..<height {
                        let s = src + h * width
                        let d0 = dst + (2 * h) * (2 * width)
                        for w in 0..<width {
                            let v = s[w]
                            d0[2 * w] = v
                            d0[2 * w + 1] = v
                        }
                        (d0 + 2 * width).update(from: d0, count: 2 * width)
                    }
                }
            }
        }
        parallelChunks(count: planes, minimumPerChunk: max(1, (1 << 17) / max(plane, 1)),
                       Job(input: input, output: output, height: height, width: width))
    }

    /// 2×2 average pooling with stride 2 (PyTorch `F.avg_pool2d(kernel_size=2, stride=2)`):
    /// `[C][B][H][W]` → `[C][B][H/2][W/2]` (odd trailing rows/columns are dropped, as in PyTorch).
    public static func avgPool2x(input: UnsafePointer<Float>, channels: Int, batch: Int, height: Int, width: Int,
                                 output: UnsafeMutablePointer<Float>) {
        let planes = channels * batch
        let oh = height / 2, ow = width / 2
        let plane = height * width, outPlane = oh * ow
        struct Job: RangeBody {
            let input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, width: Int, plane: Int
            let oh: Int, ow: Int, outPlane: Int
            func callAsFunction(_ range: Range<Int>) {
                for p in range {
                    let src = input + p * plane
                    let dst = output + p * outPlane
                    for h in 0..<oh {
                        let r0 = src + (2 * h) * width, r1 = r0 + width
                        let d = dst + h * ow
                        for w in 0..<ow {
                            d[w] = ((r0[2 * w] + r0[2 * w + 1]) + (r1[2 * w] + r1[2 * w + 1])) * 0.25
                        }
                    }
                }
            }
        }
        parallelChunks(count: planes, minimumPerChunk: max(1, (1 << 17) / max(plane, 1)),
                       Job(input: input, output: output, width: width, plane: plane, oh: oh, ow: ow, outPlane: outPlane))
    }

    // MARK: - Layout

    /// NCHW (PyTorch's layout) → CNHW: `output[c][b][s] = input[b][c][s]`.
    public static func nchwToCNHW(_ input: UnsafePointer<Float>, channels: Int, batch: Int, spatial: Int,
                                  output: UnsafeMutablePointer<Float>) {
        for b in 0..<batch {
            for c in 0..<channels {
                (output + (c * batch + b) * spatial).update(from: input + (b * channels + c) * spatial, count: spatial)
            }
        }
    }

    /// CNHW → NCHW: `output[b][c][s] = input[c][b][s]`.
    public static func cnhwToNCHW(_ input: UnsafePointer<Float>, channels: Int, batch: Int, spatial: Int,
                                  output: UnsafeMutablePointer<Float>) {
        for b in 0..<batch {
            for c in 0..<channels {
                (output + (b * channels + c) * spatial).update(from: input + (c * batch + b) * spatial, count: spatial)
            }
        }
    }
}

// MARK: - Threading and BLAS helpers

extension Kernels {
    /// Chunks used for the non-BLAS kernels: `configureThreads(_:)`'s count when it was called
    /// before the first parallel kernel, else one per core (2 on the project's machines). Fixed
    /// once the kernels' thread pool has started.
    public static var threadCount: Int { KernelThreadPool.shared.workerCount + 1 }

    /// Sets the number of threads the non-BLAS kernels use (1 keeps them on the calling thread).
    /// Takes effect only before the first parallel kernel runs (the pool starts once); returns
    /// whether it did. The CLI calls it with `SKIPSTEP_KERNEL_THREADS` at start-up.
    @discardableResult
    public static func configureThreads(_ count: Int) -> Bool {
        precondition(count >= 1, "thread count must be positive")
        return KernelThreadPool.requestWorkers(count - 1)
    }

    /// Runs `body` over `0..<count`, split into one contiguous chunk per core when every chunk
    /// gets at least `minimumPerChunk` items, else in one call on the calling thread. Chunk
    /// boundaries are multiples of `alignment` (except the end).
    @inline(__always)
    static func parallelChunks<Body: RangeBody>(count: Int, minimumPerChunk: Int, alignment: Int = 1, _ body: Body) {
        let chunks = min(KernelThreadPool.shared.workerCount + 1, count / max(minimumPerChunk, 1))
        if chunks <= 1 {
            if count > 0 { body(0..<count) }
            return
        }
        KernelThreadPool.shared.run(chunks: chunks,
                                    ChunkedRange(body: body, count: count, chunks: chunks, alignment: max(alignment, 1)))
    }

    @inline(__always)
    static func blasInt(_ value: Int) -> Int32 {
        guard let v = Int32(exactly: value) else { preconditionFailure("dimension \(value) exceeds BLAS's 32-bit int") }
        return v
    }

    /// Row-major `C ← α·op(A)·op(B) + β·C` in Float32 (BLAS `sgemm`).
    @inline(__always)
    static func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                      a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                      beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    blasInt(m), blasInt(n), blasInt(k), alpha, a, blasInt(max(lda, 1)), b, blasInt(max(ldb, 1)),
                    beta, c, blasInt(max(ldc, 1)))
    }

    /// Makes `scratch` hold at least `count` floats (grows only; never shrinks).
    @inline(__always)
    static func reserve(_ scratch: inout [Float], _ count: Int) {
        if scratch.count < count {
            scratch = [Float](repeating: 0, count: count)
        }
    }
}


// MARK: - GELU

extension Kernels {
    /// GELU's two forms (PyTorch `F.gelu(approximate=…)`).
    public enum GELUApproximation: Sendable {
        /// `x·½·(1 + erf(x/√2))` (`approximate="none"`).
        case none
        /// `½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))` (`approximate="tanh"`).
        case tanh
    }

    /// `output[i] = gelu(input[i])`; `output` may equal `input`.
    public static func gelu(_ input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, count: Int,
                            approximation: GELUApproximation) {
        struct Job: RangeBody {
            let input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, tanh: Bool
            func callAsFunction(_ range: Range<Int>) {
                for i in range { output[i] = tanh ? Kernels.geluTanh(input[i]) : Kernels.geluErf(input[i]) }
            }
        }
        parallelChunks(count: count, minimumPerChunk: 1 << 14, alignment: 16,
                       Job(input: input, output: output, tanh: approximation == .tanh))
    }

    /// `output[i] = hidden[i]·gelu(gate[i])` (diffusers' `GEGLU`); `output` may equal `hidden`.
    public static func geglu(hidden: UnsafePointer<Float>, gate: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                             count: Int, approximation: GELUApproximation) {
        struct Job: RangeBody {
            let hidden: UnsafePointer<Float>, gate: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, tanh: Bool
            func callAsFunction(_ range: Range<Int>) {
                for i in range {
                    output[i] = hidden[i] * (tanh ? Kernels.geluTanh(gate[i]) : Kernels.geluErf(gate[i]))
                }
            }
        }
        parallelChunks(count: count, minimumPerChunk: 1 << 14, alignment: 16,
                       Job(hidden: hidden, gate: gate, output: output, tanh: approximation == .tanh))
    }

    @inline(__always)
    static func geluErf(_ x: Float) -> Float { x * 0.5 * (1 + erf(x * Float(0.5).squareRoot())) }

    @inline(__always)
    static func geluTanh(_ x: Float) -> Float {
        let k = Float((2 / Double.pi).squareRoot())
        return 0.5 * x * (1 + Foundation.tanh(k * (x + 0.044715 * x * x * x)))
    }
}
