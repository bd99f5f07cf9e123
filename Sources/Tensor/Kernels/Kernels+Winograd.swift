/// 3×3 stride-1 convolution by Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray, "Fast
/// Algorithms for Convolutional Neural Networks", CVPR 2016, §4.1), on CNHW data.
///
/// `Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A` for each 2×2 output tile `Y`, 4×4 input tile `d` and 3×3 filter
/// `g`, with
///
///     Bᵀ = | 1  0 −1  0 |     G = | 1    0    0  |     Aᵀ = | 1  1  1  0 |
///          | 0  1  1  0 |         | 1/2  1/2  1/2 |          | 0  1 −1 −1 |
///          | 0 −1  1  0 |         | 1/2 −1/2  1/2 |
///          | 0  1  0 −1 |         | 0    0    1  |
///
/// Summed over input channels, the element-wise products become 16 independent GEMMs
/// `M[ξ] (OC × T) = U[ξ] (OC × IC) · V[ξ] (IC × T)` over the `T` tiles, 2.25× fewer
/// multiplications than the direct convolution. The transforms use only 0, ±1 and ±½, so the
/// result is as accurate as the direct method in Float32 (tested against PyTorch to 1e−5).
extension Kernels {
    /// Winograd-transformed 3×3 weights: `U[ξ][oc][ic]` for `ξ = 4a + c`, `U[ξ] = (G g Gᵀ)[a][c]`.
    /// Pairs (oc, ic) go in runs of 64 through a small buffer so that each of the 16 output
    /// matrices is written in contiguous runs.
    static func winogradTransformWeights(_ weight: UnsafePointer<Float>, outChannels: Int, inChannels: Int,
                                         into u: UnsafeMutablePointer<Float>) {
        let plane = outChannels * inChannels
        let run = 64
        let runs = (plane + run - 1) / run
        struct Job: RangeBody {
            let weight: UnsafePointer<Float>, u: UnsafeMutablePointer<Float>, plane: Int, run: Int
            func callAsFunction(_ runRange: Range<Int>) {
                withUnsafeTemporaryAllocation(of: Float.self, capacity: 16 * run) { buffer in
                    let t = buffer.baseAddress!
                    for r in runRange {
                        let first = r * run, count = min(run, plane - first)
                        for j in 0..<count {
                            let g = weight + (first + j) * 9
                            // Gg (4 × 3): rows g0, (g0+g1+g2)/2, (g0−g1+g2)/2, g2 of g's rows g0, g1, g2.
                            let h00 = g[0], h01 = g[1], h02 = g[2]
                            let h10 = (g[0] + g[3] + g[6]) * 0.5, h11 = (g[1] + g[4] + g[7]) * 0.5
                            let h12 = (g[2] + g[5] + g[8]) * 0.5
                            let h20 = (g[0] - g[3] + g[6]) * 0.5, h21 = (g[1] - g[4] + g[7]) * 0.5
                            let h22 = (g[2] - g[5] + g[8]) * 0.5
                            let h30 = g[6], h31 = g[7], h32 = g[8]
                            // (Gg)Gᵀ: row a is [h0, (h0+h1+h2)/2, (h0−h1+h2)/2, h2] for row a of Gg.
                            @inline(__always) func put(_ a: Int, _ x0: Float, _ x1: Float, _ x2: Float) {
                                t[(4 * a) * run + j] = x0
                                t[(4 * a + 1) * run + j] = (x0 + x1 + x2) * 0.5
                                t[(4 * a + 2) * run + j] = (x0 - x1 + x2) * 0.5
                                t[(4 * a + 3) * run + j] = x2
                            }
                            put(0, h00, h01, h02)
                            put(1, h10, h11, h12)
                            put(2, h20, h21, h22)
                            put(3, h30, h31, h32)
                        }
                        for xi in 0..<16 {
                            (u + xi * plane + first).update(from: t + xi * run, count: count)
                        }
                    }
                }
            }
        }
        parallelChunks(count: runs, minimumPerChunk: 128, Job(weight: weight, u: u, plane: plane, run: run))
    }

    /// The geometry of one Winograd convolution call, by F(2×2, 3×3) (`tile` 2, this file) or
    /// F(4×4, 3×3) (`tile` 4, `Kernels+Winograd4x4.swift`).
    struct WinogradGeometry {
        var channels, outChannels, batch, height, width, padTop, padLeft, outHeight, outWidth: Int
        /// Output tile side: 2 or 4.
        var tile = 2
        var tilesY: Int { (outHeight + tile - 1) / tile }
        var tilesX: Int { (outWidth + tile - 1) / tile }
        /// Transformed matrices per convolution: one per element of a (tile + 2)² input tile.
        var matrices: Int { (tile + 2) * (tile + 2) }
        /// `tilesX` rounded up to whole 8-tile vectors, as the transforms write a row of tiles.
        var vectorTiles: Int { (tilesX + 7) / 8 * 8 }
    }

    /// Largest Winograd workspace (V and M, (16 or 36)·(IC + OC) floats per tile), in floats (16 MiB):
    /// tiles are processed in blocks of tile rows that fit.
    public static let winogradBlockFloats = 1 << 22

    /// Floats of workspace `winogradConv3x3` needs (V and M for one block of tiles).
    static func winogradWorkspaceFloats(_ g: WinogradGeometry, blockFloats: Int) -> Int {
        let tiles = winogradTilesPerBlock(g, blockFloats: blockFloats)
        return g.matrices * (winogradMatrixStride(g.channels, tiles) + winogradMatrixStride(g.outChannels, tiles))
    }

    static func winogradTilesPerBlock(_ g: WinogradGeometry, blockFloats: Int) -> Int {
        let perTileRow = g.matrices * (g.channels + g.outChannels) * g.tilesX
        return max(1, min(g.batch * g.tilesY, blockFloats / max(perTileRow, 1))) * g.tilesX
    }

    /// Distance between the matrices of V or M: padded by 32 floats so that the 16 (or 36) streams the
    /// transforms read or write do not all fall into the same cache sets (the unpadded stride is
    /// often a power of two).
    @inline(__always)
    static func winogradMatrixStride(_ rows: Int, _ tiles: Int) -> Int { rows * tiles + 32 }

    /// Floats of the `matrices` (16 or 36) packed matrices `winogradPackWeights` writes.
    static func winogradPackedFloats(outChannels: Int, inChannels: Int, matrices: Int = 16) -> Int {
        matrices * packedFloats(rows: outChannels, columns: inChannels)
    }

    /// Packs the matrices `U[ξ]` (`winogradTransformWeights`, `winograd4x4TransformWeights`) for
    /// `packedGEMM`, back to back.
    static func winogradPackWeights(_ u: UnsafePointer<Float>, outChannels: Int, inChannels: Int, matrices: Int = 16,
                                    into packed: UnsafeMutablePointer<Float>) {
        let stride = packedFloats(rows: outChannels, columns: inChannels)
        for xi in 0..<matrices {
            packWeights(u + xi * outChannels * inChannels, lda: inChannels, rows: outChannels, columns: inChannels,
                        into: packed + xi * stride)
        }
    }

    /// The products `M[ξ] = U[ξ]·V[ξ]` (16 or 36) of one block of tiles, as one parallel loop over
    /// (ξ, 16-tile column block) pairs on the kernel threads (OpenBLAS's threads, one GEMM per
    /// ξ, without AVX2).
    static func winogradProducts(geometry g: WinogradGeometry, u: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                 vStride: Int, tiles: Int, m: UnsafeMutablePointer<Float>, mStride: Int) {
        let uStride = packedFloats(rows: g.outChannels, columns: g.channels)
        guard packedGEMMAvailable else {
            for xi in 0..<g.matrices {
                packedGEMM(rows: g.outChannels, depth: g.channels, packed: u + xi * uStride, b: v + xi * vStride,
                           ldb: tiles, n: tiles, c: m + xi * mStride, ldc: tiles)
            }
            return
        }
        struct Job: RangeBody {
            let g: WinogradGeometry, u: UnsafePointer<Float>, uStride: Int, v: UnsafePointer<Float>, vStride: Int
            let tiles: Int, blocks: Int, m: UnsafeMutablePointer<Float>, mStride: Int
            func callAsFunction(_ range: Range<Int>) {
                var i = range.lowerBound
                while i < range.upperBound {
                    // Items i = ξ·blocks + block; one kernel call per ξ in the range.
                    let xi = i / blocks, first = i % blocks
                    let last = min(blocks, first + (range.upperBound - i))
                    Kernels.packedGEMMColumns(rows: g.outChannels, depth: g.channels, packed: u + xi * uStride,
                                              b: v + xi * vStride, ldb: tiles,
                                              columns: (first * 16)..<min(tiles, last * 16),
                                              c: m + xi * mStride, ldc: tiles, accumulate: false)
                    i += last - first
                }
            }
        }
        let blocks = (tiles + 15) / 16
        parallelChunks(count: g.matrices * blocks, minimumPerChunk: 1,
                       Job(g: g, u: u, uStride: uStride, v: v, vStride: vStride, tiles: tiles, blocks: blocks, m: m,
                           mStride: mStride))
    }

    /// Convolution by F(2×2, 3×3) or F(4×4, 3×3) (`g.tile`) with pre-transformed, packed weights `u`
    /// (`winogradTransformWeights` or `winograd4x4TransformWeights`, then `winogradPackWeights`), in
    /// blocks of tile rows; `workspace` holds `winogradWorkspaceFloats` floats.
    static func winogradConv3x3(input: UnsafePointer<Float>, geometry g: WinogradGeometry, u: UnsafePointer<Float>,
                                bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>,
                                workspace: UnsafeMutablePointer<Float>, blockFloats: Int) {
        let tileRows = g.batch * g.tilesY
        let maxTiles = winogradTilesPerBlock(g, blockFloats: blockFloats)
        let rowsPerBlock = maxTiles / g.tilesX
        let v = workspace
        let m = v + g.matrices * winogradMatrixStride(g.channels, maxTiles)
        var r0 = 0
        while r0 < tileRows {
            let r1 = min(tileRows, r0 + rowsPerBlock)
            let tiles = (r1 - r0) * g.tilesX
            let vStride = winogradMatrixStride(g.channels, tiles), mStride = winogradMatrixStride(g.outChannels, tiles)
            if g.tile == 4 {
                winograd4x4InputTransform(input: input, geometry: g, tileRows: r0..<r1, v: v, ldv: tiles, xiStride: vStride)
            } else {
                winogradInputTransform(input: input, geometry: g, tileRows: r0..<r1, v: v, ldv: tiles, xiStride: vStride)
            }
            winogradProducts(geometry: g, u: u, v: v, vStride: vStride, tiles: tiles, m: m, mStride: mStride)
            if g.tile == 4 {
                winograd4x4OutputTransform(m: m, ldm: tiles, xiStride: mStride, geometry: g, tileRows: r0..<r1,
                                           bias: bias, output: output)
            } else {
                winogradOutputTransform(m: m, ldm: tiles, xiStride: mStride, geometry: g, tileRows: r0..<r1, bias: bias,
                                        output: output)
            }
            r0 = r1
        }
    }

    /// `V[ξ][ic][t] = (Bᵀ d B)[a][c]` for the tiles of `tileRows` (tile row r = b·tilesY + ty; t
    /// counts tiles from the block's first). Parallel over input channels.
    ///
    /// Per tile row: first `Bᵀ d` on whole image rows (contiguous, vectorised), written into four
    /// zero-padded rows; then `· B` along each row, 8 tiles at a time, where a tile's columns
    /// 0…3 are the even and odd lanes of two 16-float loads 2 floats apart. A row of tiles is
    /// written in whole vectors, the last one running over into the following tile rows' places
    /// (which those rows then overwrite), as long as it stays within this channel's row of V;
    /// where it would not (near the block's end, which another thread's channel follows), the
    /// row ends in single tiles. The same arithmetic either way: bit-identical.
    static func winogradInputTransform(input: UnsafePointer<Float>, geometry g: WinogradGeometry, tileRows: Range<Int>,
                                       v: UnsafeMutablePointer<Float>, ldv: Int, xiStride: Int) {
        // Padded row: columns p = 0 ..< 2·tilesX + 2 (image column p − padLeft), plus vector slack.
        let rowLength = 2 * g.vectorTiles + 16
        struct Job: RangeBody {
            let input: UnsafePointer<Float>, g: WinogradGeometry, tileRows: Range<Int>
            let v: UnsafeMutablePointer<Float>, ldv: Int, xiStride: Int, rowLength: Int
            func callAsFunction(_ channelRange: Range<Int>) {
                let (width, padLeft, tilesX, vectorTiles) = (g.width, g.padLeft, g.tilesX, g.vectorTiles)
                Kernels.forEachInputTileRow(g, channels: channelRange, tileRows: tileRows, input: input, rowCount: 4,
                                            rowLength: rowLength) { ic, rows, t0, imageRow in
                    let d0 = imageRow(0), d1 = imageRow(1), d2 = imageRow(2), d3 = imageRow(3)
                    let c0 = rows + padLeft, c1 = c0 + rowLength, c2 = c1 + rowLength, c3 = c2 + rowLength
                    for x in 0..<width {
                        c0[x] = d0[x] - d2[x]
                        c1[x] = d1[x] + d2[x]
                        c2[x] = d2[x] - d1[x]
                        c3[x] = d1[x] - d3[x]
                    }
                    let base = v + ic * ldv + t0
                    let vectorEnd = min(vectorTiles, (ldv - t0) / 8 * 8)
                    for a in 0..<4 {
                        let row = UnsafePointer(rows + a * rowLength)
                        let o0 = base + (4 * a) * xiStride, o1 = o0 + xiStride, o2 = o1 + xiStride, o3 = o2 + xiStride
                        var tx = 0
                        while tx < vectorEnd {
                            let p = Kernels.load16(row + 2 * tx), q = Kernels.load16(row + 2 * tx + 2)
                            let e0 = p.evenHalf, e1 = p.oddHalf, e2 = q.evenHalf, e3 = q.oddHalf
                            Kernels.store8(e0 - e2, o0 + tx)
                            Kernels.store8(e1 + e2, o1 + tx)
                            Kernels.store8(e2 - e1, o2 + tx)
                            Kernels.store8(e1 - e3, o3 + tx)
                            tx += 8
                        }
                        while tx < tilesX {
                            let p = row + 2 * tx
                            o0[tx] = p[0] - p[2]; o1[tx] = p[1] + p[2]; o2[tx] = p[2] - p[1]; o3[tx] = p[1] - p[3]
                            tx += 1
                        }
                    }
                }
            }
        }
        let job = Job(input: input, g: g, tileRows: tileRows, v: v, ldv: ldv, xiStride: xiStride, rowLength: rowLength)
        parallelChunks(count: g.channels, minimumPerChunk: max(1, (1 << 12) / max(ldv, 1)), job)
    }

    /// The frame both input transforms share, for one chunk of channels: `rowCount` scratch rows
    /// of `rowLength` floats, zero outside columns padLeft ..< padLeft + width (the transforms
    /// write only those), then for each channel and tile row `body(ic, rows, t0, imageRow)`: `t0`
    /// is the tile row's first tile in the block, `imageRow(i)` input row i of the tile row (a
    /// zero row beyond the image's edges).
    @inline(__always)
    static func forEachInputTileRow(_ g: WinogradGeometry, channels: Range<Int>, tileRows: Range<Int>,
                                    input: UnsafePointer<Float>, rowCount: Int, rowLength: Int,
                                    _ body: (_ ic: Int, _ rows: UnsafeMutablePointer<Float>, _ t0: Int,
                                             _ imageRow: (Int) -> UnsafePointer<Float>) -> Void) {
        let (width, padLeft) = (g.width, g.padLeft)
        let padRight = max(0, rowLength - padLeft - width)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: rowCount * rowLength + width) { buffer in
            let rows = buffer.baseAddress!
            (rows + rowCount * rowLength).update(repeating: 0, count: width)
            let zeros = UnsafePointer(rows + rowCount * rowLength)
            for i in 0..<rowCount {
                (rows + i * rowLength).update(repeating: 0, count: padLeft)
                (rows + i * rowLength + padLeft + width).update(repeating: 0, count: padRight)
            }
            for ic in channels {
                var t0 = 0
                for r in tileRows {
                    let b = r / g.tilesY, ty = r - b * g.tilesY
                    let plane = input + (ic * g.batch + b) * g.height * width
                    body(ic, rows, t0) { i in
                        let y = g.tile * ty - g.padTop + i
                        return y >= 0 && y < g.height ? plane + y * width : zeros
                    }
                    t0 += g.tilesX
                }
            }
        }
    }

    @inline(__always)
    static func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
    }

    @inline(__always)
    static func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    /// `Y = Aᵀ M A` per tile and output channel, plus bias, written to CNHW `output` (rows and
    /// columns beyond an odd output size are dropped). Parallel over output channels; 8 tiles at a
    /// time, the two columns of each output row interleaved into one 16-float store. A row of tiles
    /// that does not fill whole vectors (its width not a multiple of 16) goes through a buffer of
    /// whole vectors first (reading M past the row's last tile, into the next row or the matrix
    /// padding); the arithmetic is the same for every tile.
    static func winogradOutputTransform(m: UnsafePointer<Float>, ldm: Int, xiStride: Int, geometry g: WinogradGeometry,
                                        tileRows: Range<Int>, bias: UnsafePointer<Float>?,
                                        output: UnsafeMutablePointer<Float>) {
        let vectorTiles = g.vectorTiles
        struct Job: RangeBody {
            let m: UnsafePointer<Float>, xiStride: Int, g: WinogradGeometry, tileRows: Range<Int>
            let bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>
            let vectorTiles: Int, ldm: Int
            func callAsFunction(_ channelRange: Range<Int>) {
                let (oh, ow) = (g.outHeight, g.outWidth)
                let direct = ow == 2 * vectorTiles
                withUnsafeTemporaryAllocation(of: Float.self, capacity: direct ? 0 : 4 * vectorTiles) { buffer in
                    for oc in channelRange {
                        let bv = SIMD8<Float>(repeating: bias?[oc] ?? 0)
                        var t0 = 0
                        for r in tileRows {
                            let b = r / g.tilesY, ty = r - b * g.tilesY
                            let plane = output + (oc * g.batch + b) * oh * ow
                            let base = m + oc * ldm + t0
                            let y0 = plane + (2 * ty) * ow
                            let hasSecondRow = 2 * ty + 1 < oh
                            let y1 = plane + (2 * ty + 1) * ow
                            let top = direct ? y0 : buffer.baseAddress!, bottom = direct ? y1 : top + 2 * vectorTiles
                            var x = 0
                            while x < vectorTiles {
                                @inline(__always) func mv(_ xi: Int) -> SIMD8<Float> {
                                    UnsafeRawPointer(base + xi * xiStride + x).loadUnaligned(as: SIMD8<Float>.self)
                                }
                                let m4 = mv(4), m5 = mv(5), m6 = mv(6), m7 = mv(7), m8 = mv(8), m9 = mv(9), m10 = mv(10), m11 = mv(11)
                                let s00 = mv(0) + m4 + m8, s01 = mv(1) + m5 + m9, s02 = mv(2) + m6 + m10, s03 = mv(3) + m7 + m11
                                var even = SIMD16<Float>()
                                even.evenHalf = s00 + s01 + s02 + bv
                                even.oddHalf = s01 - s02 - s03 + bv
                                UnsafeMutableRawPointer(top + 2 * x).storeBytes(of: even, as: SIMD16<Float>.self)
                                if hasSecondRow {
                                    let s10 = m4 - m8 - mv(12), s11 = m5 - m9 - mv(13), s12 = m6 - m10 - mv(14), s13 = m7 - m11 - mv(15)
                                    var odd = SIMD16<Float>()
                                    odd.evenHalf = s10 + s11 + s12 + bv
                                    odd.oddHalf = s11 - s12 - s13 + bv
                                    UnsafeMutableRawPointer(bottom + 2 * x).storeBytes(of: odd, as: SIMD16<Float>.self)
                                }
                                x += 8
                            }
                            if !direct {
                                y0.update(from: top, count: ow)
                                if hasSecondRow { y1.update(from: bottom, count: ow) }
                            }
                            t0 += g.tilesX
                        }
                    }
                }
            }
        }
        let job = Job(m: m, xiStride: xiStride, g: g, tileRows: tileRows, bias: bias, output: output,
                      vectorTiles: vectorTiles, ldm: ldm)
        parallelChunks(count: g.outChannels, minimumPerChunk: max(1, (1 << 12) / max(ldm, 1)), job)
    }
}
