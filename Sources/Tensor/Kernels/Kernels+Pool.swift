import Foundation

/// Pooling, bilinear resizing, ReLU and BatchNorm folding for the FID Inception network
/// (pytorch-fid's `InceptionV3`), on planes of CNHW data (`[C][B][H][W]`: every (channel, batch
/// item) pair is one contiguous `H × W` plane, so these kernels work on NCHW data just as well).
///
/// Channel concatenation needs no kernel in CNHW: channel block `c0 ..< c0 + n` of a `[C][B][H][W]`
/// tensor is the contiguous range starting at `c0·B·H·W`, so a branch's last layer writes straight
/// into its slice of the concatenated output (`concatChannels` copies when a caller has separate
/// tensors).
extension Kernels {
    // MARK: - Pooling

    /// 2-D max pooling (PyTorch `F.max_pool2d(kernel_size: k, stride: s, padding: p)`, floor mode,
    /// dilation 1): padded positions never win (they count as −∞). `planes` = C·B; output
    /// `[planes][OH][OW]` with `OH = (H + 2p − k)/s + 1`. Requires `p ≤ k/2` (as PyTorch does), so
    /// every window holds at least one real element.
    public static func maxPool2d(input: UnsafePointer<Float>, planes: Int, height: Int, width: Int,
                                 kernel: Int, stride: Int, padding: Int = 0, output: UnsafeMutablePointer<Float>) {
        let g = PoolGeometry(height: height, width: width, kernel: kernel, stride: stride, padding: padding)
        struct Job: RangeBody {
            let input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, g: PoolGeometry
            func callAsFunction(_ range: Range<Int>) {
                // Per output row: the column-wise maximum of its window's input rows (contiguous,
                // vectorised), then the maximum over each window's columns of that row.
                withUnsafeTemporaryAllocation(of: Float.self, capacity: g.width) { buffer in
                    let t = buffer.baseAddress!
                    for p in range {
                        let src = input + p * g.height * g.width, dst = output + p * g.outHeight * g.outWidth
                        for oy in 0..<g.outHeight {
                            let (y0, y1) = g.rows(oy)
                            t.update(from: src + y0 * g.width, count: g.width)
                            for y in (y0 + 1)..<max(y0 + 1, y1) {
                                let row = src + y * g.width
                                for x in 0..<g.width { t[x] = Kernels.nanMax(t[x], row[x]) }
                            }
                            let d = dst + oy * g.outWidth
                            if g.kernel == 3 && g.stride == 2 && g.padding == 0 {
                                for ox in 0..<g.outWidth {
                                    d[ox] = Kernels.nanMax(Kernels.nanMax(t[2 * ox], t[2 * ox + 1]), t[2 * ox + 2])
                                }
                            } else if g.kernel == 3 && g.stride == 1 && g.padding == 1 && g.width >= 2 {
                                let w = g.width
                                d[0] = Kernels.nanMax(t[0], t[1])
                                for x in 1..<(w - 1) { d[x] = Kernels.nanMax(Kernels.nanMax(t[x - 1], t[x]), t[x + 1]) }
                                d[w - 1] = Kernels.nanMax(t[w - 2], t[w - 1])
                            } else {
                                for ox in 0..<g.outWidth {
                                    let (x0, x1) = g.columns(ox)
                                    var m = t[x0]
                                    for x in (x0 + 1)..<max(x0 + 1, x1) { m = Kernels.nanMax(m, t[x]) }
                                    d[ox] = m
                                }
                            }
                        }
                    }
                }
            }
        }
        parallelChunks(count: planes, minimumPerChunk: max(1, (1 << 15) / max(g.outHeight * g.outWidth * kernel * kernel, 1)),
                       Job(input: input, output: output, g: g))
    }

    /// 2-D average pooling (PyTorch `F.avg_pool2d(kernel_size: k, stride: s, padding: p,
    /// count_include_pad:)`, floor mode): the window's sum divided by `k·k`
    /// when `countIncludePad`, else by the number of real (unpadded) elements it covers —
    /// TensorFlow's convention, which pytorch-fid's FIDInceptionA/C/E_1 patch in. The window is
    /// summed column by column (rows first), not in PyTorch's row-major order: equal up to rounding.
    public static func avgPool2d(input: UnsafePointer<Float>, planes: Int, height: Int, width: Int,
                                 kernel: Int, stride: Int, padding: Int = 0, countIncludePad: Bool,
                                 output: UnsafeMutablePointer<Float>) {
        let g = PoolGeometry(height: height, width: width, kernel: kernel, stride: stride, padding: padding)
        struct Job: RangeBody {
            let input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, g: PoolGeometry
            let countIncludePad: Bool
            func callAsFunction(_ range: Range<Int>) {
                let full = Float(g.kernel * g.kernel)
                // Per output row: the column sums of its window's input rows (contiguous,
                // vectorised), then each window's sum of those, divided by its count.
                withUnsafeTemporaryAllocation(of: Float.self, capacity: g.width) { buffer in
                    let t = buffer.baseAddress!
                    for p in range {
                        let src = input + p * g.height * g.width, dst = output + p * g.outHeight * g.outWidth
                        for oy in 0..<g.outHeight {
                            let (y0, y1) = g.rows(oy)
                            t.update(from: src + y0 * g.width, count: g.width)
                            for y in (y0 + 1)..<max(y0 + 1, y1) {
                                let row = src + y * g.width
                                for x in 0..<g.width { t[x] += row[x] }
                            }
                            let d = dst + oy * g.outWidth
                            if g.kernel == 3 && g.stride == 1 && g.padding == 1 && g.width >= 2 {
                                let w = g.width, rows = y1 - y0
                                let edge = countIncludePad ? full : Float(rows * 2), inner = countIncludePad ? full : Float(rows * 3)
                                d[0] = (t[0] + t[1]) / edge
                                for x in 1..<(w - 1) { d[x] = (t[x - 1] + t[x] + t[x + 1]) / inner }
                                d[w - 1] = (t[w - 2] + t[w - 1]) / edge
                            } else {
                                for ox in 0..<g.outWidth {
                                    let (x0, x1) = g.columns(ox)
                                    var sum = t[x0]
                                    for x in (x0 + 1)..<max(x0 + 1, x1) { sum += t[x] }
                                    d[ox] = sum / (countIncludePad ? full : Float((y1 - y0) * (x1 - x0)))
                                }
                            }
                        }
                    }
                }
            }
        }
        parallelChunks(count: planes, minimumPerChunk: max(1, (1 << 15) / max(g.outHeight * g.outWidth * kernel * kernel, 1)),
                       Job(input: input, output: output, g: g, countIncludePad: countIncludePad))
    }

    /// `max(a, b)` that propagates NaN (PyTorch's max pooling: `val > max || isnan(val)`).
    @inline(__always)
    static func nanMax(_ a: Float, _ b: Float) -> Float {
        b > a || b.isNaN ? b : a
    }

    /// Window geometry shared by the pooling kernels (floor mode; PyTorch's limit `p ≤ k/2`).
    struct PoolGeometry {
        let height, width, kernel, stride, padding, outHeight, outWidth: Int

        init(height: Int, width: Int, kernel: Int, stride: Int, padding: Int) {
            precondition(kernel > 0 && stride > 0 && padding >= 0 && padding <= kernel / 2,
                         "pooling needs kernel > 0, stride > 0 and 0 ≤ padding ≤ kernel/2")
            self.height = height; self.width = width; self.kernel = kernel; self.stride = stride
            self.padding = padding
            outHeight = convOutputSize(height, kernel: kernel, stride: stride, padBefore: padding, padAfter: padding)
            outWidth = convOutputSize(width, kernel: kernel, stride: stride, padBefore: padding, padAfter: padding)
            precondition(outHeight > 0 && outWidth > 0, "pooling output would be empty")
        }

        /// The input rows of output row `oy`, clipped to the image.
        @inline(__always) func rows(_ oy: Int) -> (Int, Int) {
            let start = oy * stride - padding
            return (max(start, 0), min(start + kernel, height))
        }

        @inline(__always) func columns(_ ox: Int) -> (Int, Int) {
            let start = ox * stride - padding
            return (max(start, 0), min(start + kernel, width))
        }
    }

    /// Global average pooling (PyTorch `F.adaptive_avg_pool2d(x, 1)`, which it computes as
    /// `x.mean((-2, -1))`) of CNHW `[C][B][spatial]` into rows: `output[b][c] = mean(x[c][b])`,
    /// summed in Float64.
    public static func globalAveragePool(input: UnsafePointer<Float>, channels: Int, batch: Int, spatial: Int,
                                         rows output: UnsafeMutablePointer<Float>) {
        struct Job: RangeBody {
            let input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, channels: Int, batch: Int, spatial: Int
            func callAsFunction(_ range: Range<Int>) {
                for plane in range {
                    let c = plane / batch, b = plane - c * batch
                    let src = input + plane * spatial
                    var sum = 0.0
                    for i in 0..<spatial { sum += Double(src[i]) }
                    output[b * channels + c] = Float(sum / Double(spatial))
                }
            }
        }
        parallelChunks(count: channels * batch, minimumPerChunk: max(1, (1 << 16) / max(spatial, 1)),
                       Job(input: input, output: output, channels: channels, batch: batch, spatial: spatial))
    }

    // MARK: - Resizing

    /// Bilinear resizing of `planes` planes `height × width` → `outHeight × outWidth` as PyTorch
    /// computes `F.interpolate(x, size=(outHeight, outWidth), mode="bilinear", align_corners=False)`
    /// (antialias off) on the CPU: per axis, `scale = in/out` and source coordinate
    /// `max(scale·(d + ½) − ½, 0)` in Float32, `i0 = ⌊src⌋`, `λ = src − i0`, `i1 = min(i0 + 1, in − 1)`
    /// (an axis of equal sizes is copied); then `out = (x[h0][w0]·(1−λw) + x[h0][w1]·λw)·(1−λh)
    /// + (x[h1][w0]·(1−λw) + x[h1][w1]·λw)·λh` (aten/src/ATen/native/UpSample.h
    /// `area_pixel_compute_source_index`, `guard_index_and_lambda`; cpu/UpSampleKernel.cpp
    /// `HelperInterpLinear`, `Interpolate`). Weights are taken per axis, so downscaling is a plain
    /// two-tap interpolation, without antialiasing, like PyTorch's.
    public static func resizeBilinear(input: UnsafePointer<Float>, planes: Int, height: Int, width: Int,
                                      outHeight: Int, outWidth: Int, output: UnsafeMutablePointer<Float>) {
        precondition(planes >= 0 && height > 0 && width > 0 && outHeight > 0 && outWidth > 0, "empty resize")
        struct Job: RangeBody {
            let input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>
            let height: Int, width: Int, outHeight: Int, outWidth: Int
            func callAsFunction(_ range: Range<Int>) {
                // Tables on the stack: (i0, i1) and (1−λ, λ) for every output column.
                withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * outWidth) { indices in
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * outWidth) { weights in
                        let wi = indices.baseAddress!, ww = weights.baseAddress!
                        for ox in 0..<outWidth {
                            let t = Kernels.bilinearTap(ox, inSize: width, outSize: outWidth)
                            wi[2 * ox] = t.i0; wi[2 * ox + 1] = t.i1
                            ww[2 * ox] = t.w0; ww[2 * ox + 1] = t.w1
                        }
                        for p in range {
                            let src = input + p * height * width, dst = output + p * outHeight * outWidth
                            for oy in 0..<outHeight {
                                let h = Kernels.bilinearTap(oy, inSize: height, outSize: outHeight)
                                let r0 = src + h.i0 * width, r1 = src + h.i1 * width
                                let d = dst + oy * outWidth
                                for ox in 0..<outWidth {
                                    let i0 = wi[2 * ox], i1 = wi[2 * ox + 1], w0 = ww[2 * ox], w1 = ww[2 * ox + 1]
                                    let t0 = r0[i0] * w0 + r0[i1] * w1
                                    let t1 = r1[i0] * w0 + r1[i1] * w1
                                    d[ox] = t0 * h.w0 + t1 * h.w1
                                }
                            }
                        }
                    }
                }
            }
        }
        parallelChunks(count: planes, minimumPerChunk: max(1, (1 << 15) / max(outHeight * outWidth, 1)),
                       Job(input: input, output: output, height: height, width: width,
                           outHeight: outHeight, outWidth: outWidth))
    }

    /// The two source indices and weights of output index `d` along one axis (align_corners=False).
    @inline(__always)
    static func bilinearTap(_ d: Int, inSize: Int, outSize: Int) -> (i0: Int, i1: Int, w0: Float, w1: Float) {
        if inSize == outSize { return (d, d, 1, 0) }
        let scale = Float(inSize) / Float(outSize)
        let src = max(scale * (Float(d) + 0.5) - 0.5, 0)
        let i0 = min(Int(src.rounded(.down)), inSize - 1)
        let lambda = min(max(src - Float(i0), 0), 1)
        return (i0, i0 + (i0 < inSize - 1 ? 1 : 0), 1 - lambda, lambda)
    }

    // MARK: - Elementwise and layout

    /// ReLU in place: `x ← max(x, 0)` (NaN stays NaN, as in PyTorch).
    public static func relu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        struct Job: RangeBody {
            let x: UnsafeMutablePointer<Float>
            func callAsFunction(_ range: Range<Int>) {
                let p = x + range.lowerBound
                for i in 0..<range.count { p[i] = p[i] < 0 ? 0 : p[i] }
            }
        }
        parallelChunks(count: count, minimumPerChunk: 1 << 17, alignment: 16, Job(x: x))
    }

    /// Concatenation along channels (PyTorch `torch.cat(xs, 1)`) of CNHW tensors with the same
    /// batch and spatial size: the inputs' blocks one after the other. `inputs` are
    /// `(pointer, channels)` pairs; the output holds `Σ channels · batch · spatial` floats.
    public static func concatChannels(_ inputs: [(UnsafePointer<Float>, channels: Int)], batch: Int, spatial: Int,
                                      output: UnsafeMutablePointer<Float>) {
        var offset = 0
        for (pointer, channels) in inputs {
            let count = channels * batch * spatial
            (output + offset).update(from: pointer, count: count)
            offset += count
        }
    }

    // MARK: - BatchNorm folding

    /// Folds an inference-mode BatchNorm (PyTorch `nn.BatchNorm2d` in eval mode:
    /// `y = (x − mean)/√(var + eps)·γ + β`) that follows a convolution into the convolution:
    /// `weight[oc] ← weight[oc]·s` and the returned bias `β + (bias − mean)·s` with
    /// `s = γ/√(var + eps)`, computed in Float64 and rounded once. `weight` is `[OC][perOutput]`
    /// (`perOutput = IC·KH·KW`); `bias` is the convolution's own bias, nil for none.
    public static func foldBatchNorm(weight: inout [Float], outChannels: Int, bias: [Float]? = nil,
                                     gamma: [Float], beta: [Float], mean: [Float], variance: [Float],
                                     eps: Double) -> [Float] {
        precondition(outChannels > 0 && weight.count % outChannels == 0, "weight is not [OC][…]")
        precondition(gamma.count == outChannels && beta.count == outChannels && mean.count == outChannels
                     && variance.count == outChannels && (bias?.count ?? outChannels) == outChannels,
                     "BatchNorm parameters must have one value per output channel")
        let perOutput = weight.count / outChannels
        var folded = [Float](repeating: 0, count: outChannels)
        weight.withUnsafeMutableBufferPointer { w in
            for oc in 0..<outChannels {
                let s = Double(gamma[oc]) / (Double(variance[oc]) + eps).squareRoot()
                let row = w.baseAddress! + oc * perOutput
                for i in 0..<perOutput { row[i] = Float(Double(row[i]) * s) }
                folded[oc] = Float(Double(beta[oc]) + (Double(bias?[oc] ?? 0) - Double(mean[oc])) * s)
            }
        }
        return folded
    }
}
