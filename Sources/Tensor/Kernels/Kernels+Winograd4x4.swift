import CKernels

/// 3×3 stride-1 convolution by Winograd's minimal filtering F(4×4, 3×3) (Lavin & Gray, "Fast
/// Algorithms for Convolutional Neural Networks", CVPR 2016; interpolation points 0, ±1, ±2, ∞,
/// the matrices oneDNN and NNPACK use), on CNHW data.
///
/// `Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A` for each 4×4 output tile `Y`, 6×6 input tile `d` and 3×3
/// filter `g`, with
///
///     Bᵀ = | 4  0 −5  0  1  0 |   G = |  1/4     0     0  |   Aᵀ = | 1  1  1  1  1  0 |
///          | 0 −4 −4  1  1  0 |       | −1/6  −1/6  −1/6  |        | 0  1 −1  2 −2  0 |
///          | 0  4 −4 −1  1  0 |       | −1/6   1/6  −1/6  |        | 0  1  1  4  4  0 |
///          | 0 −2 −1  2  1  0 |       | 1/24  1/12   1/6  |        | 0  1 −1  8 −8  1 |
///          | 0  2 −1 −2  1  0 |       | 1/24 −1/12   1/6  |
///          | 0  4  0 −5  0  1 |       |   0     0     1   |
///
/// 36 products per 4×4 tile: 4× fewer multiplications than the direct convolution, where
/// F(2×2, 3×3) (`Kernels+Winograd.swift`) saves 2.25×; the transformed weights are 36/9 of the
/// 3×3 weights' size (F(2×2, 3×3): 16/9), so `PreparedConv2d` uses it only for convolutions with
/// few weights (`winograd4x4WeightLimit`). The driver, the 36 products and the weight packing are
/// F(2×2, 3×3)'s (`winogradConv3x3` with `WinogradGeometry.tile` 4). The transforms' larger
/// coefficients cost some accuracy: against a Float64 direct convolution the result stays within
/// 1e-5 relative (KernelTests `winograd4x4MatchesFloat64`), beside PyTorch's goldens.
extension Kernels {
    /// `36·OC·IC` floats at most for `PreparedConv2d` to choose F(4×4, 3×3) (2.25 MiB: up to
    /// 128 → 128 channels); larger convolutions keep F(2×2, 3×3)'s smaller weights.
    public static let winograd4x4WeightLimit = 36 * 128 * 128

    /// F(4×4, 3×3)-transformed 3×3 weights: `U[ξ][oc][ic] = (G g Gᵀ)[a][c]` for `ξ = 6a + c`,
    /// computed in Float64 and rounded once.
    static func winograd4x4TransformWeights(_ weight: UnsafePointer<Float>, outChannels: Int, inChannels: Int,
                                            into u: UnsafeMutablePointer<Float>) {
        let plane = outChannels * inChannels
        let gm: [(Double, Double, Double)] = [
            (1.0 / 4, 0, 0), (-1.0 / 6, -1.0 / 6, -1.0 / 6), (-1.0 / 6, 1.0 / 6, -1.0 / 6),
            (1.0 / 24, 1.0 / 12, 1.0 / 6), (1.0 / 24, -1.0 / 12, 1.0 / 6), (0, 0, 1),
        ]
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 18) { h in
            for pair in 0..<plane {
                let g = weight + pair * 9
                // h = G g (6 × 3).
                for a in 0..<6 {
                    for j in 0..<3 {
                        h[3 * a + j] = gm[a].0 * Double(g[j]) + gm[a].1 * Double(g[3 + j]) + gm[a].2 * Double(g[6 + j])
                    }
                }
                // U = h Gᵀ (6 × 6).
                for a in 0..<6 {
                    for c in 0..<6 {
                        let value = h[3 * a] * gm[c].0 + h[3 * a + 1] * gm[c].1 + h[3 * a + 2] * gm[c].2
                        u[(6 * a + c) * plane + pair] = Float(value)
                    }
                }
            }
        }
    }

    /// `V[ξ][ic][t] = (Bᵀ d B)[a][c]` for the tiles of `tileRows` (tile row r = b·tilesY + ty; t
    /// counts tiles from the block's first). Parallel over input channels.
    ///
    /// Per tile row: first `Bᵀ d` on whole image rows (contiguous, vectorised), written into six
    /// zero-padded rows; then `· B` along each row, 8 tiles at a time, where a tile's columns
    /// 0…5 are the four lanes-mod-4 phases of a 32-float load and two phases of a second load 4
    /// floats on. Rows of tiles are written in whole vectors as in `winogradInputTransform` (the
    /// last one running over into the following tile rows' places, within the channel's row of V).
    /// `avx2`: the AVX2 + FMA version in Sources/CKernels/winograd.c (the same arithmetic).
    static func winograd4x4InputTransform(input: UnsafePointer<Float>, geometry g: WinogradGeometry,
                                          tileRows: Range<Int>, v: UnsafeMutablePointer<Float>, ldv: Int,
                                          xiStride: Int, avx2: Bool = hasAVX2FMA) {
        // Padded row: columns p = 0 ..< 4·tilesX + 2 (image column p − padLeft), plus the slack
        // the second load of the last vector reads (up to 4·vectorTiles + 4).
        let rowLength = 4 * g.vectorTiles + 8
        struct Job: RangeBody {
            let input: UnsafePointer<Float>, g: WinogradGeometry, tileRows: Range<Int>
            let v: UnsafeMutablePointer<Float>, ldv: Int, xiStride: Int, rowLength: Int, avx2: Bool
            func callAsFunction(_ channelRange: Range<Int>) {
                let (width, padLeft, tilesX, vectorTiles) = (g.width, g.padLeft, g.tilesX, g.vectorTiles)
                Kernels.forEachInputTileRow(g, channels: channelRange, tileRows: tileRows, input: input, rowCount: 6,
                                            rowLength: rowLength) { ic, rows, t0, imageRow in
                    let d0 = imageRow(0), d1 = imageRow(1), d2 = imageRow(2)
                    let d3 = imageRow(3), d4 = imageRow(4), d5 = imageRow(5)
                    let base = v + ic * ldv + t0
                    let vectorEnd = min(vectorTiles, (ldv - t0) / 8 * 8)
                    if avx2 {
                        skipstep_winograd4x4_input_row_avx2(d0, d1, d2, d3, d4, d5, width, padLeft, rows, rowLength,
                                                            base, xiStride, vectorEnd, tilesX)
                        return
                    }
                    let c0 = rows + padLeft, c1 = c0 + rowLength, c2 = c1 + rowLength
                    let c3 = c2 + rowLength, c4 = c3 + rowLength, c5 = c4 + rowLength
                    for x in 0..<width {
                        let x1 = d1[x], x2 = d2[x], x3 = d3[x], x4 = d4[x]
                        c0[x] = 4 * d0[x] - 5 * x2 + x4
                        c1[x] = x3 + x4 - 4 * (x1 + x2)
                        c2[x] = 4 * (x1 - x2) + x4 - x3
                        c3[x] = 2 * (x3 - x1) + x4 - x2
                        c4[x] = 2 * (x1 - x3) + x4 - x2
                        c5[x] = 4 * x1 - 5 * x3 + d5[x]
                    }
                    for a in 0..<6 {
                        let row = UnsafePointer(rows + a * rowLength)
                        let o0 = base + (6 * a) * xiStride, o1 = o0 + xiStride, o2 = o1 + xiStride
                        let o3 = o2 + xiStride, o4 = o3 + xiStride, o5 = o4 + xiStride
                        var tx = 0
                        while tx < vectorEnd {
                            let p = Kernels.load32(row + 4 * tx), q = Kernels.load32(row + 4 * tx + 4)
                            let pe = p.evenHalf, po = p.oddHalf
                            let x0 = pe.evenHalf, x1 = po.evenHalf, x2 = pe.oddHalf, x3 = po.oddHalf
                            let x4 = q.evenHalf.evenHalf, x5 = q.oddHalf.evenHalf
                            Kernels.store8(4 * x0 - 5 * x2 + x4, o0 + tx)
                            Kernels.store8(x3 + x4 - 4 * (x1 + x2), o1 + tx)
                            Kernels.store8(4 * (x1 - x2) + x4 - x3, o2 + tx)
                            Kernels.store8(2 * (x3 - x1) + x4 - x2, o3 + tx)
                            Kernels.store8(2 * (x1 - x3) + x4 - x2, o4 + tx)
                            Kernels.store8(4 * x1 - 5 * x3 + x5, o5 + tx)
                            tx += 8
                        }
                        while tx < tilesX {
                            let p = row + 4 * tx
                            let x1 = p[1], x2 = p[2], x3 = p[3], x4 = p[4]
                            o0[tx] = 4 * p[0] - 5 * x2 + x4
                            o1[tx] = x3 + x4 - 4 * (x1 + x2)
                            o2[tx] = 4 * (x1 - x2) + x4 - x3
                            o3[tx] = 2 * (x3 - x1) + x4 - x2
                            o4[tx] = 2 * (x1 - x3) + x4 - x2
                            o5[tx] = 4 * x1 - 5 * x3 + p[5]
                            tx += 1
                        }
                    }
                }
            }
        }
        let job = Job(input: input, g: g, tileRows: tileRows, v: v, ldv: ldv, xiStride: xiStride, rowLength: rowLength,
                      avx2: avx2)
        parallelChunks(count: g.channels, minimumPerChunk: max(1, (1 << 12) / max(ldv, 1)), job)
    }

    /// `Y = Aᵀ M A` per tile and output channel, plus bias, written to CNHW `output` (rows and
    /// columns beyond the output's size are dropped). Parallel over output channels; 8 tiles at a
    /// time, the four columns of each output row interleaved into one 32-float store, through a
    /// buffer of whole vectors where the output width is not `4·vectorTiles` (reading M past the
    /// row's last tile, into the next row or the matrix padding, as `winogradOutputTransform`).
    /// `avx2`: the AVX2 + FMA version in Sources/CKernels/winograd.c (the same arithmetic).
    static func winograd4x4OutputTransform(m: UnsafePointer<Float>, ldm: Int, xiStride: Int,
                                           geometry g: WinogradGeometry, tileRows: Range<Int>,
                                           bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>,
                                           avx2: Bool = hasAVX2FMA) {
        struct Job: RangeBody {
            let m: UnsafePointer<Float>, xiStride: Int, g: WinogradGeometry, tileRows: Range<Int>
            let bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, ldm: Int, avx2: Bool
            func callAsFunction(_ channelRange: Range<Int>) {
                let (oh, ow, vectorTiles) = (g.outHeight, g.outWidth, g.vectorTiles)
                let direct = ow == 4 * vectorTiles
                withUnsafeTemporaryAllocation(of: Float.self, capacity: direct ? 0 : 16 * vectorTiles) { buffer in
                    withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 24) { s in
                        for oc in channelRange {
                            let bv = SIMD8<Float>(repeating: bias?[oc] ?? 0)
                            var t0 = 0
                            for r in tileRows {
                                let b = r / g.tilesY, ty = r - b * g.tilesY
                                let plane = output + (oc * g.batch + b) * oh * ow
                                let rowsHere = min(4, oh - 4 * ty)
                                let base = m + oc * ldm + t0
                                @inline(__always) func destination(_ i: Int) -> UnsafeMutablePointer<Float> {
                                    direct ? plane + (4 * ty + i) * ow : buffer.baseAddress! + i * 4 * vectorTiles
                                }
                                var x = avx2 ? vectorTiles : 0
                                if avx2 {
                                    skipstep_winograd4x4_output_row_avx2(base, xiStride, vectorTiles, bias?[oc] ?? 0,
                                                                         destination(0), direct ? ow : 4 * vectorTiles,
                                                                         rowsHere)
                                }
                                while x < vectorTiles {
                                    // Aᵀ down each column c of M: row i of Aᵀ M at s[6i + c].
                                    for c in 0..<6 {
                                        @inline(__always) func mv(_ a: Int) -> SIMD8<Float> {
                                            UnsafeRawPointer(base + (6 * a + c) * xiStride + x).loadUnaligned(as: SIMD8<Float>.self)
                                        }
                                        let m1 = mv(1), m2 = mv(2), m3 = mv(3), m4 = mv(4)
                                        let a12 = m1 + m2, d12 = m1 - m2, a34 = m3 + m4, d34 = m3 - m4
                                        s[c] = mv(0) + a12 + a34
                                        s[6 + c] = d12 + 2 * d34
                                        s[12 + c] = a12 + 4 * a34
                                        s[18 + c] = d12 + 8 * d34 + mv(5)
                                    }
                                    // · A along each row i: the output row's four columns per tile.
                                    for i in 0..<rowsHere {
                                        let q1 = s[6 * i + 1], q2 = s[6 * i + 2], q3 = s[6 * i + 3], q4 = s[6 * i + 4]
                                        let a12 = q1 + q2, d12 = q1 - q2, a34 = q3 + q4, d34 = q3 - q4
                                        let y = Kernels.interleave4(s[6 * i] + a12 + a34 + bv, d12 + 2 * d34 + bv,
                                                                    a12 + 4 * a34 + bv, d12 + 8 * d34 + s[6 * i + 5] + bv)
                                        UnsafeMutableRawPointer(destination(i) + 4 * x).storeBytes(of: y, as: SIMD32<Float>.self)
                                    }
                                    x += 8
                                }
                                if !direct {
                                    for i in 0..<rowsHere {
                                        (plane + (4 * ty + i) * ow).update(from: destination(i), count: ow)
                                    }
                                }
                                t0 += g.tilesX
                            }
                        }
                    }
                }
            }
        }
        let job = Job(m: m, xiStride: xiStride, g: g, tileRows: tileRows, bias: bias, output: output, ldm: ldm, avx2: avx2)
        parallelChunks(count: g.outChannels, minimumPerChunk: max(1, (1 << 12) / max(ldm, 1)), job)
    }

    @inline(__always)
    static func load32(_ p: UnsafePointer<Float>) -> SIMD32<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD32<Float>.self)
    }

    /// `a0 b0 c0 d0 a1 b1 c1 d1 …`: four vectors of one column each, as consecutive 4-float groups.
    @inline(__always)
    static func interleave4(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>, _ d: SIMD8<Float>) -> SIMD32<Float> {
        var ac = SIMD16<Float>(), bd = SIMD16<Float>(), out = SIMD32<Float>()
        ac.evenHalf = a
        ac.oddHalf = c
        bd.evenHalf = b
        bd.oddHalf = d
        out.evenHalf = ac
        out.oddHalf = bd
        return out
    }
}
