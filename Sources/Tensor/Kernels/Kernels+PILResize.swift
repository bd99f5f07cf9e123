/// Pillow's resampling of a 32-bit float image (mode 'F'), the resize clean-fid's "clean" mode is
/// defined with (cleanfid/resize.py `make_resizer("PIL", False, "bicubic", (299, 299))`: each
/// channel as float32 through `Image.resize(size, resample=BICUBIC)`).
///
/// Ported from Pillow's src/libImaging/Resample.c (`precompute_coeffs`, `bicubic_filter`,
/// `ImagingResampleHorizontal_32bpc`, `ImagingResampleVertical_32bpc`, `ImagingResampleInner`),
/// with the same arithmetic: coefficients in Double, normalised per output pixel; each pass sums
/// `Double(pixel) · k` in Double in source order and stores the sum rounded to Float; the
/// horizontal pass runs first over only the rows the vertical pass reads; an axis whose size does
/// not change is not resampled. The box is the whole image (`Image.resize` without `box`).
extension Kernels {
    /// Pillow's bicubic kernel (a = −0.5, support 2).
    @inlinable
    static func pilBicubic(_ x: Double) -> Double {
        let a = -0.5
        let x = x < 0 ? -x : x
        if x < 1 { return ((a + 2.0) * x - (a + 3.0)) * x * x + 1 }
        if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0
    }

    /// `precompute_coeffs` for the box [0, inSize): per output index its first source index, tap
    /// count and the `ksize` normalised weights.
    static func pilCoefficients(inSize: Int, outSize: Int) -> (ksize: Int, bounds: [Int], weights: [Double]) {
        let support0 = 2.0  // BICUBIC's support
        let scale = Double(Float(inSize) - Float(0)) / Double(outSize)
        let filterScale = max(scale, 1.0)
        let support = support0 * filterScale
        let ksize = Int(support.rounded(.up)) * 2 + 1
        var bounds = [Int](repeating: 0, count: 2 * outSize)
        var weights = [Double](repeating: 0, count: outSize * ksize)
        for xx in 0..<outSize {
            let center = 0.0 + (Double(xx) + 0.5) * scale
            var ww = 0.0
            let ss = 1.0 / filterScale
            // C's (int) cast truncates toward zero.
            var xmin = Int(center - support + 0.5)
            if xmin < 0 { xmin = 0 }
            var xmax = Int(center + support + 0.5)
            if xmax > inSize { xmax = inSize }
            xmax -= xmin
            for x in 0..<max(xmax, 0) {
                let w = pilBicubic((Double(x + xmin) - center + 0.5) * ss)
                weights[xx * ksize + x] = w
                ww += w
            }
            if ww != 0 {
                for x in 0..<max(xmax, 0) { weights[xx * ksize + x] /= ww }
            }
            bounds[2 * xx] = xmin
            bounds[2 * xx + 1] = xmax
        }
        return (ksize, bounds, weights)
    }

    /// Resizes `planes` float planes `height × width` → `outHeight × outWidth` exactly as Pillow's
    /// `Image.fromarray(plane, mode="F").resize((outWidth, outHeight), Image.BICUBIC)` does
    /// (no clipping: clean-fid clips afterwards). Equal sizes copy the planes.
    public static func resizeBicubicPIL(input: UnsafePointer<Float>, planes: Int, height: Int, width: Int,
                                        outHeight: Int, outWidth: Int, output: UnsafeMutablePointer<Float>) {
        precondition(planes >= 0 && height > 0 && width > 0 && outHeight > 0 && outWidth > 0, "empty resize")
        let needHorizontal = outWidth != width
        let needVertical = outHeight != height
        let vertical = pilCoefficients(inSize: height, outSize: outHeight)
        let horizontal = pilCoefficients(inSize: width, outSize: outWidth)
        // Rows of the source the vertical pass reads (all rows when it does not run).
        let firstRow = needVertical ? vertical.bounds[0] : 0
        let lastRow = needVertical ? vertical.bounds[2 * outHeight - 2] + vertical.bounds[2 * outHeight - 1] : height
        let rows = lastRow - firstRow
        let midWidth = needHorizontal ? outWidth : width

        struct Job: RangeBody {
            let input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>
            let height: Int, width: Int, outHeight: Int, outWidth: Int
            let needHorizontal: Bool, needVertical: Bool, firstRow: Int, rows: Int, midWidth: Int
            let horizontal: (ksize: Int, bounds: [Int], weights: [Double])
            let vertical: (ksize: Int, bounds: [Int], weights: [Double])
            func callAsFunction(_ range: Range<Int>) {
                withUnsafeTemporaryAllocation(of: Float.self, capacity: max(rows * midWidth, 1)) { temporary in
                    let mid = temporary.baseAddress!
                    for p in range {
                        let src = input + p * height * width, dst = output + p * outHeight * outWidth
                        // Horizontal pass: source rows firstRow..<firstRow+rows → mid (rows × midWidth).
                        if needHorizontal {
                            horizontal.weights.withUnsafeBufferPointer { kk in
                                for yy in 0..<rows {
                                    let row = src + (yy + firstRow) * width
                                    for xx in 0..<outWidth {
                                        let xmin = horizontal.bounds[2 * xx], xmax = horizontal.bounds[2 * xx + 1]
                                        let k = kk.baseAddress! + xx * horizontal.ksize
                                        var ss = 0.0
                                        for x in 0..<xmax { ss += Double(row[x + xmin]) * k[x] }
                                        mid[yy * outWidth + xx] = Float(ss)
                                    }
                                }
                            }
                        } else {
                            mid.update(from: src + firstRow * width, count: rows * width)
                        }
                        // Vertical pass: mid → dst, bounds shifted by firstRow.
                        if needVertical {
                            vertical.weights.withUnsafeBufferPointer { kk in
                                for yy in 0..<outHeight {
                                    let ymin = vertical.bounds[2 * yy] - firstRow, ymax = vertical.bounds[2 * yy + 1]
                                    let k = kk.baseAddress! + yy * vertical.ksize
                                    for xx in 0..<midWidth {
                                        var ss = 0.0
                                        for y in 0..<ymax { ss += Double(mid[(y + ymin) * midWidth + xx]) * k[y] }
                                        dst[yy * outWidth + xx] = Float(ss)
                                    }
                                }
                            }
                        } else {
                            dst.update(from: mid, count: outHeight * outWidth)
                        }
                    }
                }
            }
        }
        parallelChunks(count: planes, minimumPerChunk: 1,
                       Job(input: input, output: output, height: height, width: width,
                           outHeight: outHeight, outWidth: outWidth, needHorizontal: needHorizontal,
                           needVertical: needVertical, firstRow: firstRow, rows: rows, midWidth: midWidth,
                           horizontal: horizontal, vertical: vertical))
    }

    /// `resizeBicubicPIL` on arrays: `input` holds `planes` planes of `height × width`.
    public static func resizeBicubicPIL(_ input: [Float], planes: Int, height: Int, width: Int,
                                        outHeight: Int, outWidth: Int) -> [Float] {
        precondition(input.count == planes * height * width, "resizeBicubicPIL: \(input.count) values for \(planes)×\(height)×\(width)")
        var output = [Float](repeating: 0, count: planes * outHeight * outWidth)
        input.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { destination in
                resizeBicubicPIL(input: source.baseAddress!, planes: planes, height: height, width: width,
                                 outHeight: outHeight, outWidth: outWidth, output: destination.baseAddress!)
            }
        }
        return output
    }
}
