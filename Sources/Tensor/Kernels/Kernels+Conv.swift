/// Convolution and linear layers as GEMMs on CNHW data.
extension Kernels {
    /// Largest im2col block, in floats (16 MiB): a convolution whose column matrix is larger is
    /// computed in blocks of output rows, each one im2col + one GEMM writing its columns of the
    /// output in place. Keeps `scratch` (and peak memory) bounded at batch 16.
    public static let im2colBlockFloats = 1 << 22

    /// 2-D convolution (PyTorch `F.conv2d`, groups = 1, dilation = 1), CNHW in and out, weights in
    /// PyTorch's layout `[OC, IC, KH, KW]`, optional bias `[OC]`.
    ///
    /// 1×1, stride 1, padding 0 is one sgemm on the input. 3×3 stride 1 with at least 1024 output
    /// positions (B·OH·OW) uses Winograd F(2×2, 3×3), transforming the weights on every call
    /// (prefer `PreparedConv2d` for repeated calls). Otherwise the input is unfolded (im2col, rows
    /// ordered `(ic, kh, kw)` to match the weight layout) into `scratch`, grown as needed and kept
    /// between calls, then multiplied by one sgemm per block (`im2colBlockFloats`). Output
    /// spatial size = `(H + 2p − KH)/s + 1`.
    public static func conv2d(input: UnsafePointer<Float>, channels: Int, batch: Int, height: Int, width: Int,
                              weight: UnsafePointer<Float>, outChannels: Int, kernel: Int, stride: Int, padding: Int,
                              bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, scratch: inout [Float]) {
        conv2d(input: input, channels: channels, batch: batch, height: height, width: width,
               weight: weight, outChannels: outChannels, kernelHeight: kernel, kernelWidth: kernel,
               stride: stride, padding: .uniform(padding), bias: bias, output: output, scratch: &scratch)
    }

    /// 2-D convolution with a rectangular kernel and asymmetric zero padding (diffusers'
    /// `Downsample2D(padding=0)` pads right and bottom by one before a stride-2 3×3 conv:
    /// `padding: Padding(top: 0, left: 0, bottom: 1, right: 1)`). Output size per axis:
    /// `(size + padBefore + padAfter − kernel)/stride + 1`.
    public static func conv2d(input: UnsafePointer<Float>, channels: Int, batch: Int, height: Int, width: Int,
                              weight: UnsafePointer<Float>, outChannels: Int, kernelHeight: Int, kernelWidth: Int,
                              stride: Int, padding: Padding,
                              bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, scratch: inout [Float],
                              algorithm: ConvAlgorithm = .automatic) {
        conv2d(input: input, channels: channels, batch: batch, height: height, width: width, weight: weight,
               outChannels: outChannels, kernelHeight: kernelHeight, kernelWidth: kernelWidth, stride: stride,
               padding: padding, bias: bias, output: output, scratch: &scratch, algorithm: algorithm,
               blockFloats: im2colBlockFloats)
    }

    /// How a convolution is computed.
    public enum ConvAlgorithm: Sendable {
        /// Winograd for 3×3 stride-1 convolutions (`winogradTile`), im2col + GEMM otherwise.
        case automatic
        /// Always im2col + GEMM (one GEMM for 1×1 stride 1 without padding).
        case im2col
        /// Winograd F(4×4, 3×3) for 3×3 stride-1 convolutions whatever their size, im2col + GEMM
        /// otherwise.
        case winograd4x4
    }

    /// The Winograd output tile (2 or 4) a 3×3 stride-1 convolution with `weights` (OC·IC·9)
    /// weights uses under `algorithm`, or 0 for im2col. `.automatic` with weights prepared once
    /// takes F(4×4, 3×3) while its weights stay under `winograd4x4WeightLimit`, else F(2×2, 3×3).
    /// Transformed on every call it takes F(2×2, 3×3), whose weight transform is cheaper.
    static func winogradTile(_ algorithm: ConvAlgorithm, kernelHeight: Int, kernelWidth: Int, stride: Int, weights: Int,
                             prepared: Bool) -> Int {
        guard kernelHeight == 3 && kernelWidth == 3 && stride == 1 else { return 0 }
        switch algorithm {
        case .im2col: return 0
        case .winograd4x4: return 4
        case .automatic: return prepared && weights / 9 * 36 <= winograd4x4WeightLimit ? 4 : 2
        }
    }

    /// Winograd-transformed 3×3 weights for output tile `tile` (2 or 4): `U[ξ][oc][ic]`.
    static func winogradTransformWeights(_ weight: UnsafePointer<Float>, tile: Int, outChannels: Int, inChannels: Int,
                                         into u: UnsafeMutablePointer<Float>) {
        if tile == 4 {
            winograd4x4TransformWeights(weight, outChannels: outChannels, inChannels: inChannels, into: u)
        } else {
            winogradTransformWeights(weight, outChannels: outChannels, inChannels: inChannels, into: u)
        }
    }

    static func conv2d(input: UnsafePointer<Float>, channels: Int, batch: Int, height: Int, width: Int,
                       weight: UnsafePointer<Float>, outChannels: Int, kernelHeight: Int, kernelWidth: Int,
                       stride: Int, padding: Padding,
                       bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, scratch: inout [Float],
                       algorithm: ConvAlgorithm = .automatic, blockFloats: Int, packedWeights: Bool = false) {
        precondition(channels > 0 && batch > 0 && height > 0 && width > 0 && outChannels > 0, "empty convolution")
        precondition(kernelHeight > 0 && kernelWidth > 0 && stride > 0, "bad kernel or stride")
        let oh = convOutputSize(height, kernel: kernelHeight, stride: stride, padBefore: padding.top, padAfter: padding.bottom)
        let ow = convOutputSize(width, kernel: kernelWidth, stride: stride, padBefore: padding.left, padAfter: padding.right)
        precondition(oh > 0 && ow > 0, "convolution output would be empty")
        let n = batch * oh * ow
        let k = channels * kernelHeight * kernelWidth

        // Winograd pays for its per-call weight transform (16·OC·IC floats) from about 1024
        // output positions on (measured: 128→128 at 32×32 batch 1 is 1.3× faster than im2col,
        // 256→256 at 16×16 batch 1 is 1.15× slower); `PreparedConv2d` transforms once instead.
        let tile = winogradTile(algorithm, kernelHeight: kernelHeight, kernelWidth: kernelWidth, stride: stride,
                                weights: k * outChannels, prepared: false)
        if tile != 0 && (n >= 1024 || algorithm == .winograd4x4) {
            let g = WinogradGeometry(channels: channels, outChannels: outChannels, batch: batch, height: height, width: width,
                                     padTop: padding.top, padLeft: padding.left, outHeight: oh, outWidth: ow, tile: tile)
            let uCount = g.matrices * outChannels * channels
            let packedCount = winogradPackedFloats(outChannels: outChannels, inChannels: channels, matrices: g.matrices)
            reserve(&scratch, uCount + packedCount + winogradWorkspaceFloats(g, blockFloats: blockFloats))
            scratch.withUnsafeMutableBufferPointer { buffer in
                let u = buffer.baseAddress!, packed = u + uCount
                winogradTransformWeights(weight, tile: tile, outChannels: outChannels, inChannels: channels, into: u)
                winogradPackWeights(u, outChannels: outChannels, inChannels: channels, matrices: g.matrices, into: packed)
                winogradConv3x3(input: input, geometry: g, u: packed, bias: bias, output: output,
                                workspace: packed + packedCount, blockFloats: blockFloats)
            }
            return
        }

        // Bias first, then every GEMM accumulates into it (β = 1 also spares BLAS its β pass).
        let beta: Float
        if let bias {
            fillRows(output, rows: outChannels, count: n, values: bias)
            beta = 1
        } else {
            beta = 0
        }

        // `weight` times the `k × columns` matrix at `b` into the output's columns from `first`.
        func multiply(_ b: UnsafePointer<Float>, columns: Int, first: Int) {
            if packedWeights {
                packedGEMM(rows: outChannels, depth: k, packed: weight, b: b, ldb: columns, n: columns, c: output + first,
                           ldc: n, accumulate: beta != 0)
            } else {
                sgemm(m: outChannels, n: columns, k: k, a: weight, lda: k, b: b, ldb: columns, beta: beta,
                      c: output + first, ldc: n)
            }
        }
        if kernelHeight == 1 && kernelWidth == 1 && stride == 1 && padding == .uniform(0) {
            multiply(input, columns: n, first: 0)
            return
        }

        let geometry = Im2col(channels: channels, batch: batch, height: height, width: width,
                              kernelHeight: kernelHeight, kernelWidth: kernelWidth, stride: stride,
                              padTop: padding.top, padLeft: padding.left, outHeight: oh, outWidth: ow)
        // Blocks of whole output rows (across batch items): row r = b·OH + oh, columns r·OW ..< (r+1)·OW.
        let totalRows = batch * oh
        let rowsPerBlock = max(1, min(totalRows, blockFloats / max(k * ow, 1)))
        reserve(&scratch, k * rowsPerBlock * ow)
        scratch.withUnsafeMutableBufferPointer { buffer in
            let col = buffer.baseAddress!
            var r0 = 0
            while r0 < totalRows {
                let r1 = min(totalRows, r0 + rowsPerBlock)
                let nc = (r1 - r0) * ow
                geometry.unfold(input: input, rows: r0..<r1, into: col)
                multiply(col, columns: nc, first: r0 * ow)
                r0 = r1
            }
        }
    }

    /// A linear layer on channel-major data: `y[OC, N] = W[OC, IC]·x[IC, N] + b` (PyTorch
    /// `F.linear` on `xᵀ`; `N = B·H·W` tokens), or `y += W·x + b` when `accumulate`.
    public static func linear(input: UnsafePointer<Float>, inFeatures: Int, tokens: Int, weight: UnsafePointer<Float>,
                              outFeatures: Int, bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>,
                              accumulate: Bool = false) {
        let beta = linearBias(outFeatures: outFeatures, tokens: tokens, bias: bias, output: output, accumulate: accumulate)
        sgemm(m: outFeatures, n: tokens, k: inFeatures, a: weight, lda: inFeatures, b: input, ldb: tokens,
              beta: beta, c: output, ldc: tokens)
    }

    /// `linear` with the weight packed by `packWeights`.
    static func linear(input: UnsafePointer<Float>, inFeatures: Int, tokens: Int, packedWeight: UnsafePointer<Float>,
                       outFeatures: Int, bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>,
                       accumulate: Bool = false) {
        let beta = linearBias(outFeatures: outFeatures, tokens: tokens, bias: bias, output: output, accumulate: accumulate)
        packedGEMM(rows: outFeatures, depth: inFeatures, packed: packedWeight, b: input, ldb: tokens, n: tokens, c: output,
                   ldc: tokens, accumulate: beta != 0)
    }

    /// Puts the bias into (or adds it to) a linear layer's output before the GEMM; returns the
    /// GEMM's β (1: accumulate into the output).
    private static func linearBias(outFeatures: Int, tokens: Int, bias: UnsafePointer<Float>?,
                                   output: UnsafeMutablePointer<Float>, accumulate: Bool) -> Float {
        if accumulate {
            if let bias { addBias(output, channels: outFeatures, count: tokens, bias: bias) }
            return 1
        } else if let bias {
            fillRows(output, rows: outFeatures, count: tokens, values: bias)
            return 1
        }
        return 0
    }

    /// `x[r][i] = values[r]` for a `[rows][count]` array.
    static func fillRows(_ x: UnsafeMutablePointer<Float>, rows: Int, count: Int, values: UnsafePointer<Float>) {
        struct Job: RangeBody {
            let x: UnsafeMutablePointer<Float>, count: Int, values: UnsafePointer<Float>
            func callAsFunction(_ range: Range<Int>) {
                for r in range { (x + r * count).update(repeating: values[r], count: count) }
            }
        }
        parallelChunks(count: rows, minimumPerChunk: max(1, (1 << 18) / max(count, 1)), Job(x: x, count: count, values: values))
    }

    /// The unfolding of a convolution's input into its column matrix (im2col) for CNHW data:
    /// `col[(ic·KH + kh)·KW + kw][j] = x[ic][b][oh·s − padTop + kh][ow·s − padLeft + kw]` (0 outside),
    /// for the output positions `j = (b·OH + oh)·OW + ow` of a block of output rows.
    struct Im2col {
        var channels, batch, height, width, kernelHeight, kernelWidth, stride, padTop, padLeft, outHeight, outWidth: Int

        func unfold(input: UnsafePointer<Float>, rows: Range<Int>, into col: UnsafeMutablePointer<Float>) {
            let k = channels * kernelHeight * kernelWidth
            let rowLength = rows.count * outWidth
            // Parallel over the K rows of the column matrix; each row is a strided copy of one input plane.
            struct Job: RangeBody {
                let geometry: Im2col, input: UnsafePointer<Float>, rows: Range<Int>
                let col: UnsafeMutablePointer<Float>, rowLength: Int
                func callAsFunction(_ kRange: Range<Int>) {
                    for kk in kRange { geometry.fillRow(kk, input: input, rows: rows, into: col + kk * rowLength) }
                }
            }
            parallelChunks(count: k, minimumPerChunk: max(1, (1 << 16) / max(rowLength, 1)),
                           Job(geometry: self, input: input, rows: rows, col: col, rowLength: rowLength))
        }

        @inline(__always)
        func fillRow(_ kk: Int, input: UnsafePointer<Float>, rows: Range<Int>, into dst: UnsafeMutablePointer<Float>) {
            let taps = kernelHeight * kernelWidth
            let ic = kk / taps
            let tap = kk - ic * taps
            let kh = tap / kernelWidth, kw = tap - kh * kernelWidth
            let plane = height * width
            let ow = outWidth, s = stride
            // Output columns whose input column lies inside the image: iw = ow·s − padLeft + kw ∈ [0, W).
            let shift = kw - padLeft
            let owLo = shift >= 0 ? 0 : min(ow, (-shift + s - 1) / s)
            let owHi = max(owLo, min(ow, (width - 1 - shift) >= 0 ? (width - 1 - shift) / s + 1 : 0))
            var d = dst
            for r in rows {
                let b = r / outHeight, oy = r - b * outHeight
                let ih = oy * s - padTop + kh
                if ih < 0 || ih >= height {
                    d.update(repeating: 0, count: ow)
                } else {
                    let src = input + (ic * batch + b) * plane + ih * width + shift
                    if owLo > 0 { d.update(repeating: 0, count: owLo) }
                    if s == 1 {
                        (d + owLo).update(from: src + owLo, count: owHi - owLo)
                    } else {
                        for x in owLo..<owHi { d[x] = src[x * s] }
                    }
                    if owHi < ow { (d + owHi).update(repeating: 0, count: ow - owHi) }
                }
                d += ow
            }
        }
    }
}
