/// Convolution weights prepared once (at model load) for repeated calls.
extension Kernels {
    /// A 2-D convolution's weights in the form its algorithm consumes, made once so that calls
    /// do no weight work: Winograd-transformed for 3×3 stride-1 convolutions under `.automatic`
    /// (F(4×4, 3×3), 36/9 of the 3×3 weights' size, up to `winograd4x4WeightLimit`; F(2×2, 3×3),
    /// 16/9, above it), else PyTorch's `[OC, IC, KH, KW]` layout as given; either packed for
    /// `Kernels.packedGEMM`.
    public struct PreparedConv2d: Sendable {
        public let outChannels: Int
        public let inChannels: Int
        public let kernelHeight: Int
        public let kernelWidth: Int
        public let stride: Int
        public let padding: Padding
        /// The Winograd output tile calls use: 2 for F(2×2, 3×3), 4 for F(4×4, 3×3), 0 for none
        /// (im2col + GEMM, or one GEMM for 1×1).
        public let winogradTile: Int
        /// Whether calls use a Winograd algorithm.
        public var usesWinograd: Bool { winogradTile != 0 }
        /// Winograd `U[16 or 36][OC][IC]`, or the weights `[OC][IC·KH·KW]` (PyTorch's layout),
        /// packed for `Kernels.packedGEMM`.
        let values: [Float]
        /// With F(4×4, 3×3) under `.automatic`, the F(2×2, 3×3) weights too, for maps so small
        /// that 4×4 tiles leave the GEMM's 16-column blocks mostly empty (`usesSmallTiles`).
        let smallTileValues: [Float]?

        /// Prepares `weight` (PyTorch layout `[outChannels, inChannels, kernel, kernel]`, copied).
        public init(weight: UnsafePointer<Float>, outChannels: Int, inChannels: Int, kernel: Int, stride: Int = 1,
                    padding: Padding, algorithm: ConvAlgorithm = .automatic) {
            self.init(weight: weight, outChannels: outChannels, inChannels: inChannels, kernelHeight: kernel,
                      kernelWidth: kernel, stride: stride, padding: padding, algorithm: algorithm)
        }

        public init(weight: UnsafePointer<Float>, outChannels: Int, inChannels: Int, kernelHeight: Int, kernelWidth: Int,
                    stride: Int, padding: Padding, algorithm: ConvAlgorithm = .automatic) {
            precondition(outChannels > 0 && inChannels > 0 && kernelHeight > 0 && kernelWidth > 0 && stride > 0,
                         "bad convolution shape")
            self.outChannels = outChannels
            self.inChannels = inChannels
            self.kernelHeight = kernelHeight
            self.kernelWidth = kernelWidth
            self.stride = stride
            self.padding = padding
            let tile = Kernels.winogradTile(algorithm, kernelHeight: kernelHeight, kernelWidth: kernelWidth,
                                            stride: stride, weights: outChannels * inChannels * 9, prepared: true)
            winogradTile = tile
            if tile != 0 {
                values = Kernels.winogradPackedWeights(weight, tile: tile, outChannels: outChannels, inChannels: inChannels)
                smallTileValues = tile == 4 && algorithm == .automatic
                    ? Kernels.winogradPackedWeights(weight, tile: 2, outChannels: outChannels, inChannels: inChannels)
                    : nil
            } else {
                smallTileValues = nil
                let depth = inChannels * kernelHeight * kernelWidth
                let packedCount = Kernels.packedFloats(rows: outChannels, columns: depth)
                values = [Float](unsafeUninitializedCapacity: packedCount) { buffer, count in
                    Kernels.packWeights(weight, lda: depth, rows: outChannels, columns: depth, into: buffer.baseAddress!)
                    count = packedCount
                }
            }
        }

        /// Whether a call on a `batch × outHeight × outWidth` output takes F(2×2, 3×3) instead of
        /// F(4×4, 3×3): when its GEMMs, in 16-tile column blocks, do less work (16 matrices ×
        /// blocks of 2×2 tiles against 36 × blocks of 4×4 tiles; at batch 1, maps up to 8×8).
        func usesSmallTiles(batch: Int, outHeight: Int, outWidth: Int) -> Bool {
            guard smallTileValues != nil else { return false }
            func blocks(_ tile: Int) -> Int {
                (batch * ((outHeight + tile - 1) / tile) * ((outWidth + tile - 1) / tile) + 15) / 16
            }
            return 16 * blocks(2) < 36 * blocks(4)
        }

        /// Output height and width for an input of `height × width`.
        public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
            (Kernels.convOutputSize(height, kernel: kernelHeight, stride: stride, padBefore: padding.top, padAfter: padding.bottom),
             Kernels.convOutputSize(width, kernel: kernelWidth, stride: stride, padBefore: padding.left, padAfter: padding.right))
        }
    }

    /// 2-D convolution with prepared weights, CNHW in and out (input `[IC][B][H][W]`, output
    /// `[OC][B][OH][OW]`, `outputSize(height:width:)`), optional bias `[OC]`. `scratch` is grown as
    /// needed and kept between calls (it may be shared by all layers of a model).
    public static func conv2d(input: UnsafePointer<Float>, batch: Int, height: Int, width: Int, prepared: PreparedConv2d,
                              bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, scratch: inout [Float]) {
        conv2d(input: input, batch: batch, height: height, width: width, prepared: prepared, bias: bias, output: output,
               scratch: &scratch, blockFloats: winogradBlockFloats)
    }

    static func conv2d(input: UnsafePointer<Float>, batch: Int, height: Int, width: Int, prepared p: PreparedConv2d,
                       bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, scratch: inout [Float],
                       blockFloats: Int) {
        let (oh, ow) = p.outputSize(height: height, width: width)
        let smallTiles = p.usesSmallTiles(batch: batch, outHeight: oh, outWidth: ow)
        (smallTiles ? p.smallTileValues! : p.values).withUnsafeBufferPointer { values in
            let weights = values.baseAddress!
            if p.usesWinograd {
                precondition(batch > 0 && oh > 0 && ow > 0, "convolution output would be empty")
                let g = WinogradGeometry(channels: p.inChannels, outChannels: p.outChannels, batch: batch, height: height,
                                         width: width, padTop: p.padding.top, padLeft: p.padding.left,
                                         outHeight: oh, outWidth: ow, tile: smallTiles ? 2 : p.winogradTile)
                reserve(&scratch, winogradWorkspaceFloats(g, blockFloats: blockFloats))
                scratch.withUnsafeMutableBufferPointer { buffer in
                    winogradConv3x3(input: input, geometry: g, u: weights, bias: bias, output: output,
                                    workspace: buffer.baseAddress!, blockFloats: blockFloats)
                }
            } else {
                conv2d(input: input, channels: p.inChannels, batch: batch, height: height, width: width, weight: weights,
                       outChannels: p.outChannels, kernelHeight: p.kernelHeight, kernelWidth: p.kernelWidth,
                       stride: p.stride, padding: p.padding, bias: bias, output: output, scratch: &scratch,
                       algorithm: .im2col, blockFloats: blockFloats, packedWeights: true)
            }
        }
    }

    /// 3×3 weights (`[OC][IC][3][3]`) Winograd-transformed for output tile `tile` (2 or 4) and
    /// packed for `packedGEMM`: `(tile + 2)²` matrices back to back. Transformed 48 output
    /// channels at a time (whole 6-row panels), so loading holds one block's transform, not all of
    /// `U` beside its packed copy (105 MB for one 1280 → 1280 convolution of Stable Diffusion).
    static func winogradPackedWeights(_ weight: UnsafePointer<Float>, tile: Int, outChannels: Int,
                                      inChannels: Int) -> [Float] {
        let matrices = (tile + 2) * (tile + 2)
        let stride = packedFloats(rows: outChannels, columns: inChannels)
        let blockRows = 48
        let packedCount = matrices * stride
        return [Float](unsafeUninitializedCapacity: packedCount) { packed, count in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: matrices * min(blockRows, outChannels) * inChannels) { u in
                var r0 = 0
                while r0 < outChannels {
                    let rows = min(blockRows, outChannels - r0)
                    winogradTransformWeights(weight + r0 * inChannels * 9, tile: tile, outChannels: rows,
                                             inChannels: inChannels, into: u.baseAddress!)
                    for xi in 0..<matrices {
                        packWeights(u.baseAddress! + xi * rows * inChannels, lda: inChannels, rows: rows,
                                    columns: inChannels, into: packed.baseAddress! + xi * stride + r0 * inChannels)
                    }
                    r0 += rows
                }
            }
            count = packedCount
        }
    }
}
