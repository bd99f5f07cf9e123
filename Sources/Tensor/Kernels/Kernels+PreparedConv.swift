/// Convolution weights prepared once (at model load) for repeated calls.
extension Kernels {
    /// A 2-D convolution's weights in the form its algorithm consumes, made once so that calls
    /// do no weight work: Winograd-transformed (16/9 of the 3×3 weights' size) for 3×3 stride-1
    /// convolutions under `.automatic`, else PyTorch's `[OC, IC, KH, KW]` layout as given; either
    /// packed for `Kernels.packedGEMM`.
    public struct PreparedConv2d: Sendable {
        public let outChannels: Int
        public let inChannels: Int
        public let kernelHeight: Int
        public let kernelWidth: Int
        public let stride: Int
        public let padding: Padding
        /// Whether calls use Winograd F(2×2, 3×3) (else im2col + GEMM, or one GEMM for 1×1).
        public let usesWinograd: Bool
        /// Winograd `U[16][OC][IC]`, or the weights `[OC][IC·KH·KW]` (PyTorch's layout), packed for `Kernels.packedGEMM`.
        let values: [Float]

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
            usesWinograd = algorithm == .automatic && kernelHeight == 3 && kernelWidth == 3 && stride == 1
            if usesWinograd {
                let u = [Float](unsafeUninitializedCapacity: 16 * outChannels * inChannels) { buffer, count in
                    Kernels.winogradTransformWeights(weight, outChannels: outChannels, inChannels: inChannels,
                                                     into: buffer.baseAddress!)
                    count = 16 * outChannels * inChannels
                }
                let packedCount = Kernels.winogradPackedFloats(outChannels: outChannels, inChannels: inChannels)
                values = [Float](unsafeUninitializedCapacity: packedCount) { buffer, count in
                    Kernels.winogradPackWeights(u, outChannels: outChannels, inChannels: inChannels, into: buffer.baseAddress!)
                    count = packedCount
                }
            } else {
                let depth = inChannels * kernelHeight * kernelWidth
                let packedCount = Kernels.packedFloats(rows: outChannels, columns: depth)
                values = [Float](unsafeUninitializedCapacity: packedCount) { buffer, count in
                    Kernels.packWeights(weight, lda: depth, rows: outChannels, columns: depth, into: buffer.baseAddress!)
                    count = packedCount
                }
            }
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
        p.values.withUnsafeBufferPointer { values in
            let weights = values.baseAddress!
            if p.usesWinograd {
                let (oh, ow) = p.outputSize(height: height, width: width)
                precondition(batch > 0 && oh > 0 && ow > 0, "convolution output would be empty")
                let g = WinogradGeometry(channels: p.inChannels, outChannels: p.outChannels, batch: batch, height: height,
                                         width: width, padTop: p.padding.top, padLeft: p.padding.left,
                                         outHeight: oh, outWidth: ow)
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
}
