import Foundation
import Testing
@testable import Tensor
import TestSupport

// Goldens: Tests/Fixtures/tensor/*.json, made by tools/make_kernel_goldens.py (PyTorch 2.13.0+cpu,
// evaluated in Float64 on Float32 inputs and rounded to Float32). Inputs and outputs there are in
// PyTorch's layouts; `toCNHW`/`fromCNHW` below convert with a naive index map, independent of the
// kernels' own transposes.
//
// Tolerance for Float32 kernels against the correctly rounded reference:
//   |actual − expected| ≤ 1e-5·|expected| + 1e-6·max|expected|
// (relative 1e-5, plus an absolute floor of 1e-6 of the output's scale for elements that are
// near zero because of cancellation).

private let rtol = 1e-5
private let atolScale = 1e-6

private func check(_ actual: [Float], _ expected: [Float], _ name: String,
                   sourceLocation: SourceLocation = #_sourceLocation) {
    let scale = Double(expected.map { abs($0) }.max() ?? 0)
    let result = closeness(actual, expected, rtol: rtol, atol: atolScale * max(scale, 1e-30))
    #expect(result.passes, "\(name): \(result)", sourceLocation: sourceLocation)
}

// F(4×4, 3×3) Winograd rounds more than the direct method: its transforms scale a tile's terms
// by up to 8·8 (Aᵀ) and 5·5 (Bᵀ) before they cancel, so a Float32 result is off by a few 1e-6
// of the output's scale where F(2×2, 3×3) and im2col are off by a few 1e-7 (Lavin & Gray 2016;
// Barabasz et al., "Error Analysis and Improving the Accuracy of Winograd Convolution for
// Deep Neural Networks", ACM TOMS 2020). Its criterion: relative L2 ≤ 1e-5 over the output, a
// tenth of the UNet forward tolerance (1e-4) it feeds into.
private let winograd4x4RelativeL2 = 1e-5

private func checkWinograd4x4(_ actual: [Float], _ expected: [Float], _ name: String,
                              sourceLocation: SourceLocation = #_sourceLocation) {
    let error = relativeL2(actual, expected)
    #expect(error <= winograd4x4RelativeL2, "\(name): relative L2 \(error)", sourceLocation: sourceLocation)
}

/// NCHW → CNHW by index: out[c][b][s] = in[b][c][s].
private func toCNHW(_ x: [Float], batch: Int, channels: Int, spatial: Int) -> [Float] {
    var out = [Float](repeating: .nan, count: x.count)
    for b in 0..<batch { for c in 0..<channels { for s in 0..<spatial {
        out[(c * batch + b) * spatial + s] = x[(b * channels + c) * spatial + s]
    } } }
    return out
}

/// CNHW → NCHW by index.
private func fromCNHW(_ x: [Float], batch: Int, channels: Int, spatial: Int) -> [Float] {
    var out = [Float](repeating: .nan, count: x.count)
    for b in 0..<batch { for c in 0..<channels { for s in 0..<spatial {
        out[(b * channels + c) * spatial + s] = x[(c * batch + b) * spatial + s]
    } } }
    return out
}

/// Calls `body` with a pointer to `values`' storage, or nil when there are none.
private func withOptionalPointer<R>(_ values: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let values else { return body(nil) }
    return values.withUnsafeBufferPointer { body($0.baseAddress) }
}

/// Deterministic test data in [−1, 1).
private func pseudoRandom(_ count: Int, seed: UInt64) -> [Float] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0..<count).map { _ in
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return Float(state >> 40) / Float(1 << 23) - 1
    }
}

private struct Padding4: Decodable { var top, left, bottom, right: Int }

private struct ConvCase: Decodable {
    var name: String
    var batch, in_channels, out_channels, height, width, kernel, stride, out_height, out_width: Int
    var padding: Padding4
    var input, weight, expected: [Float]
    var bias: [Float]?
}

private struct GroupNormCase: Decodable {
    var name: String
    var batch, channels, height, width, groups: Int
    var eps: Float
    var silu: Bool
    var input, gamma, beta, expected: [Float]
}

private struct LinearCase: Decodable {
    var name: String
    var batch, tokens, in_features, out_features: Int
    var input, weight, expected: [Float]
    var bias: [Float]?
}

private struct AttentionCase: Decodable {
    var name: String
    var batch, tokens, channels, heads: Int
    var scale: Float
    var q, k, v, expected: [Float]
}

private struct ResampleCase: Decodable {
    var name, op: String
    var batch, channels, height, width: Int
    var input, expected: [Float]
}

private struct Golden<Case: Decodable>: Decodable {
    var torch: String
    var cases: [Case]
}

private func load<Case: Decodable>(_ file: String, as _: Case.Type) throws -> [Case] {
    try Fixtures.json(Golden<Case>.self, "tensor/\(file)").cases
}

@Suite("CNHW kernels against PyTorch")
struct KernelGoldenTests {
    /// Runs one conv golden case through `Kernels.conv2d` and returns the output in NCHW.
    private func runConv(_ c: ConvCase, algorithm: Kernels.ConvAlgorithm, blockFloats: Int = Kernels.im2colBlockFloats,
                         scratch: inout [Float]) -> [Float] {
        let x = toCNHW(c.input, batch: c.batch, channels: c.in_channels, spatial: c.height * c.width)
        let outSpatial = c.out_height * c.out_width
        var y = [Float](repeating: .nan, count: c.out_channels * c.batch * outSpatial)
        let padding = Kernels.Padding(top: c.padding.top, left: c.padding.left, bottom: c.padding.bottom, right: c.padding.right)
        withOptionalPointer(c.bias) { bias in
            Kernels.conv2d(input: x, channels: c.in_channels, batch: c.batch, height: c.height, width: c.width,
                           weight: c.weight, outChannels: c.out_channels, kernelHeight: c.kernel, kernelWidth: c.kernel,
                           stride: c.stride, padding: padding, bias: bias, output: &y, scratch: &scratch,
                           algorithm: algorithm, blockFloats: blockFloats)
        }
        return fromCNHW(y, batch: c.batch, channels: c.out_channels, spatial: outSpatial)
    }

    @Test func conv2dMatchesTorch() throws {
        let cases = try load("conv2d.json", as: ConvCase.self)
        #expect(cases.count >= 8)
        var scratch: [Float] = []
        for c in cases {
            #expect(Kernels.convOutputSize(c.height, kernel: c.kernel, stride: c.stride,
                                           padBefore: c.padding.top, padAfter: c.padding.bottom) == c.out_height)
            // Automatic (Winograd F(2×2, 3×3) for 3×3 stride 1), im2col and F(4×4, 3×3), each in
            // one block and in the smallest blocks (one output row or tile row per GEMM).
            for algorithm in [Kernels.ConvAlgorithm.automatic, .im2col, .winograd4x4] {
                for blockFloats in [Kernels.im2colBlockFloats, 1] {
                    let y = runConv(c, algorithm: algorithm, blockFloats: blockFloats, scratch: &scratch)
                    let name = "\(c.name) (\(algorithm), block \(blockFloats))"
                    if algorithm == .winograd4x4 && c.kernel == 3 && c.stride == 1 {
                        checkWinograd4x4(y, c.expected, name)
                    } else {
                        check(y, c.expected, name)
                    }
                }
            }
        }
    }

    @Test func preparedConvolutionsMatchTorch() throws {
        // PreparedConv2d under each algorithm (automatic prepares these small 3×3 stride-1 ones
        // for F(4×4, 3×3)), and the tile each takes.
        var scratch: [Float] = []
        for c in try load("conv2d.json", as: ConvCase.self) {
            let padding = Kernels.Padding(top: c.padding.top, left: c.padding.left, bottom: c.padding.bottom,
                                          right: c.padding.right)
            let winogradShape = c.kernel == 3 && c.stride == 1
            for (algorithm, tile) in [(Kernels.ConvAlgorithm.automatic, winogradShape ? 4 : 0), (.im2col, 0),
                                      (.winograd4x4, winogradShape ? 4 : 0)] {
                let prepared = Kernels.PreparedConv2d(weight: c.weight, outChannels: c.out_channels,
                                                      inChannels: c.in_channels, kernel: c.kernel, stride: c.stride,
                                                      padding: padding, algorithm: algorithm)
                #expect(prepared.winogradTile == tile, "\(c.name) (\(algorithm))")
                let x = toCNHW(c.input, batch: c.batch, channels: c.in_channels, spatial: c.height * c.width)
                var y = [Float](repeating: .nan, count: c.out_channels * c.batch * c.out_height * c.out_width)
                for blockFloats in [Kernels.winogradBlockFloats, 1] {
                    withOptionalPointer(c.bias) { bias in
                        Kernels.conv2d(input: x, batch: c.batch, height: c.height, width: c.width, prepared: prepared,
                                       bias: bias, output: &y, scratch: &scratch, blockFloats: blockFloats)
                    }
                    let result = fromCNHW(y, batch: c.batch, channels: c.out_channels, spatial: c.out_height * c.out_width)
                    let name = "\(c.name) (prepared, \(algorithm), block \(blockFloats))"
                    if prepared.winogradTile == 4 {
                        checkWinograd4x4(result, c.expected, name)
                    } else {
                        check(result, c.expected, name)
                    }
                }
            }
        }
    }

    @Test(arguments: [(64, 48, 13, 17, 2), (32, 32, 28, 28, 1), (128, 128, 8, 8, 3), (3, 5, 9, 40, 2)])
    func winograd4x4MatchesFloat64(inChannels: Int, outChannels: Int, height: Int, width: Int, batch: Int) {
        // Channel counts of the UNets (the PyTorch goldens above have at most 16), against a
        // Float64 direct convolution (`winograd4x4RelativeL2`).
        let x = pseudoRandom(inChannels * batch * height * width, seed: 11)
        let w = pseudoRandom(outChannels * inChannels * 9, seed: 12).map { $0 * 0.1 }
        let bias = pseudoRandom(outChannels, seed: 13)
        var expected = [Float](repeating: 0, count: outChannels * batch * height * width)
        for oc in 0..<outChannels { for b in 0..<batch { for y in 0..<height { for xx in 0..<width {
            var sum = Double(bias[oc])
            for ic in 0..<inChannels { for i in 0..<3 { for j in 0..<3 {
                let (yy, xj) = (y + i - 1, xx + j - 1)
                guard yy >= 0 && yy < height && xj >= 0 && xj < width else { continue }
                sum += Double(x[((ic * batch + b) * height + yy) * width + xj]) * Double(w[((oc * inChannels + ic) * 3 + i) * 3 + j])
            } } }
            expected[((oc * batch + b) * height + y) * width + xx] = Float(sum)
        } } } }
        let prepared = Kernels.PreparedConv2d(weight: w, outChannels: outChannels, inChannels: inChannels, kernel: 3,
                                              padding: .uniform(1), algorithm: .winograd4x4)
        var out = [Float](repeating: .nan, count: expected.count)
        var scratch: [Float] = []
        Kernels.conv2d(input: x, batch: batch, height: height, width: width, prepared: prepared, bias: bias,
                       output: &out, scratch: &scratch)
        checkWinograd4x4(out, expected, "F(4×4, 3×3) \(inChannels)→\(outChannels) \(height)×\(width) batch \(batch)")
    }

    @Test func conv2dSymmetricPaddingEntryPoint() throws {
        // The square-kernel, uniform-padding signature the UNet uses.
        let c = try #require(try load("conv2d.json", as: ConvCase.self).first { $0.name == "3x3_s2_p1" })
        let x = toCNHW(c.input, batch: c.batch, channels: c.in_channels, spatial: c.height * c.width)
        var y = [Float](repeating: .nan, count: c.out_channels * c.batch * c.out_height * c.out_width)
        var scratch: [Float] = []
        Kernels.conv2d(input: x, channels: c.in_channels, batch: c.batch, height: c.height, width: c.width,
                       weight: c.weight, outChannels: c.out_channels, kernel: 3, stride: 2, padding: 1,
                       bias: c.bias, output: &y, scratch: &scratch)
        check(fromCNHW(y, batch: c.batch, channels: c.out_channels, spatial: c.out_height * c.out_width), c.expected, c.name)
        // The scratch is reused, not regrown, on the next call of the same shape.
        let size = scratch.count
        Kernels.conv2d(input: x, channels: c.in_channels, batch: c.batch, height: c.height, width: c.width,
                       weight: c.weight, outChannels: c.out_channels, kernel: 3, stride: 2, padding: 1,
                       bias: c.bias, output: &y, scratch: &scratch)
        #expect(scratch.count == size)
    }

    @Test func groupNormMatchesTorch() throws {
        let cases = try load("group_norm.json", as: GroupNormCase.self)
        #expect(cases.count >= 6)
        for c in cases {
            let spatial = c.height * c.width
            let x = toCNHW(c.input, batch: c.batch, channels: c.channels, spatial: spatial)
            var y = [Float](repeating: .nan, count: x.count)
            Kernels.groupNorm(input: x, channels: c.channels, batch: c.batch, spatial: spatial, groups: c.groups,
                              eps: c.eps, gamma: c.gamma, beta: c.beta, silu: c.silu, output: &y)
            check(fromCNHW(y, batch: c.batch, channels: c.channels, spatial: spatial), c.expected, c.name)
            // In place (output == input).
            var z = x
            z.withUnsafeMutableBufferPointer { p in
                Kernels.groupNorm(input: p.baseAddress!, channels: c.channels, batch: c.batch, spatial: spatial,
                                  groups: c.groups, eps: c.eps, gamma: c.gamma, beta: c.beta, silu: c.silu,
                                  output: p.baseAddress!)
            }
            #expect(z == y, "\(c.name): in-place result differs")
        }
    }

    @Test func linearMatchesTorch() throws {
        let cases = try load("linear.json", as: LinearCase.self)
        for c in cases {
            let n = c.batch * c.tokens
            // Tokens × features (PyTorch) → features × tokens (channel-major).
            let x = toCNHW(c.input, batch: n, channels: c.in_features, spatial: 1)
            var y = [Float](repeating: .nan, count: c.out_features * n)
            func run(accumulate: Bool) {
                withOptionalPointer(c.bias) { bias in
                    Kernels.linear(input: x, inFeatures: c.in_features, tokens: n, weight: c.weight,
                                   outFeatures: c.out_features, bias: bias, output: &y, accumulate: accumulate)
                }
            }
            run(accumulate: false)
            let expected = toCNHW(c.expected, batch: n, channels: c.out_features, spatial: 1)
            check(y, expected, c.name)
            // accumulate: y ← y + W·x + b, starting from a known y.
            let start = pseudoRandom(y.count, seed: 7)
            y = start
            run(accumulate: true)
            check(y, zip(start, expected).map { $0 + $1 }, c.name + " (accumulate)")
        }
    }

    @Test func attentionMatchesTorch() throws {
        let cases = try load("attention.json", as: AttentionCase.self)
        #expect(cases.count >= 4)
        for c in cases {
            // [B, T, C] → [C][B][T].
            let cn = { (x: [Float]) in toCNHW(x, batch: c.batch * c.tokens, channels: c.channels, spatial: 1) }
            let q = cn(c.q), k = cn(c.k), v = cn(c.v)
            let expected = cn(c.expected)
            for blockFloats in [Kernels.attentionBlockFloats, 1] {
                var out = [Float](repeating: .nan, count: q.count)
                var scratch: [Float] = []
                Kernels.attention(q: q, k: k, v: v, channels: c.channels, batch: c.batch, tokens: c.tokens,
                                  heads: c.heads, scale: c.scale, output: &out, scratch: &scratch,
                                  blockFloats: blockFloats)
                check(out, expected, "\(c.name) (block \(blockFloats))")
            }
        }
    }

    @Test func resamplingMatchesTorch() throws {
        let cases = try load("resample.json", as: ResampleCase.self)
        #expect(cases.contains { $0.op == "upsample_nearest_2x" } && cases.contains { $0.op == "avg_pool_2x" })
        for c in cases {
            let x = toCNHW(c.input, batch: c.batch, channels: c.channels, spatial: c.height * c.width)
            switch c.op {
            case "upsample_nearest_2x":
                var y = [Float](repeating: .nan, count: x.count * 4)
                Kernels.upsampleNearest2x(input: x, channels: c.channels, batch: c.batch, height: c.height,
                                          width: c.width, output: &y)
                #expect(fromCNHW(y, batch: c.batch, channels: c.channels, spatial: c.height * c.width * 4) == c.expected,
                        "\(c.name)")
            case "avg_pool_2x":
                let outSpatial = (c.height / 2) * (c.width / 2)
                var y = [Float](repeating: .nan, count: c.channels * c.batch * outSpatial)
                Kernels.avgPool2x(input: x, channels: c.channels, batch: c.batch, height: c.height, width: c.width,
                                  output: &y)
                check(fromCNHW(y, batch: c.batch, channels: c.channels, spatial: outSpatial), c.expected, c.name)
            default:
                Issue.record("unknown op \(c.op) in \(c.name)")
            }
        }
    }
}

@Suite("CNHW elementwise and layout kernels")
struct KernelElementwiseTests {
    @Test(arguments: [1, 2, 3, 7, 9], [2, 4])
    func winogradInputTransformWritesOnlyItsChannelsRow(tilesX: Int, tile: Int) {
        // Rows of fewer than 8 tiles are written in whole vectors that run over into the following
        // tile rows; nothing may land past the channel's row of V, where (with more channels) the
        // next channel's row begins, possibly another thread's. One channel, 4 tile rows: the
        // matrix padding after the row must keep its sentinel. F(2×2, 3×3) and F(4×4, 3×3).
        let (height, width) = (4 * tile, tile * tilesX)
        let g = Kernels.WinogradGeometry(channels: 1, outChannels: 1, batch: 1, height: height, width: width,
                                         padTop: 1, padLeft: 1, outHeight: height, outWidth: width, tile: tile)
        let tiles = g.tilesY * g.tilesX
        let stride = Kernels.winogradMatrixStride(1, tiles)
        let input = pseudoRandom(height * width, seed: 3)
        var v = [Float](repeating: -1234.5, count: g.matrices * stride)
        input.withUnsafeBufferPointer { x in
            v.withUnsafeMutableBufferPointer { out in
                if tile == 4 {
                    Kernels.winograd4x4InputTransform(input: x.baseAddress!, geometry: g, tileRows: 0..<g.tilesY,
                                                      v: out.baseAddress!, ldv: tiles, xiStride: stride)
                } else {
                    Kernels.winogradInputTransform(input: x.baseAddress!, geometry: g, tileRows: 0..<g.tilesY,
                                                   v: out.baseAddress!, ldv: tiles, xiStride: stride)
                }
            }
        }
        for xi in 0..<g.matrices {
            #expect(v[(xi * stride + tiles)..<((xi + 1) * stride)].allSatisfy { $0 == -1234.5 }, "ξ = \(xi): written past the row")
            #expect(v[(xi * stride)..<(xi * stride + tiles)].allSatisfy { $0 != -1234.5 }, "ξ = \(xi): a tile not written")
        }
    }

    @Test(arguments: [(11, 21), (16, 32), (5, 3)])
    func winograd4x4TransformsMatchTheirPortableVersions(height: Int, width: Int) throws {
        // The AVX2 transforms (Sources/CKernels/winograd.c) against the Swift ones, on the same V/M
        // layout, up to the rounding of fused multiply-adds.
        try #require(Kernels.hasAVX2FMA, "this CPU has no AVX2 + FMA")
        let g = Kernels.WinogradGeometry(channels: 3, outChannels: 2, batch: 2, height: height, width: width,
                                         padTop: 1, padLeft: 1, outHeight: height, outWidth: width, tile: 4)
        let tiles = g.batch * g.tilesY * g.tilesX
        let input = pseudoRandom(g.channels * g.batch * height * width, seed: 5)
        var v = [[Float]](repeating: [], count: 2)
        for (k, avx2) in [false, true].enumerated() {
            let stride = Kernels.winogradMatrixStride(g.channels, tiles)
            v[k] = [Float](repeating: 0, count: 36 * stride)
            v[k].withUnsafeMutableBufferPointer { out in
                Kernels.winograd4x4InputTransform(input: input, geometry: g, tileRows: 0..<(g.batch * g.tilesY),
                                                  v: out.baseAddress!, ldv: tiles, xiStride: stride, avx2: avx2)
            }
        }
        check(v[1], v[0], "input transform \(height)×\(width)")
        let stride = Kernels.winogradMatrixStride(g.outChannels, tiles)
        let m = pseudoRandom(36 * stride, seed: 6)
        let bias: [Float] = [0.25, -1.5]
        var y = [[Float]](repeating: [], count: 2)
        for (k, avx2) in [false, true].enumerated() {
            y[k] = [Float](repeating: .nan, count: g.outChannels * g.batch * height * width)
            Kernels.winograd4x4OutputTransform(m: m, ldm: tiles, xiStride: stride, geometry: g,
                                               tileRows: 0..<(g.batch * g.tilesY), bias: bias, output: &y[k], avx2: avx2)
        }
        check(y[1], y[0], "output transform \(height)×\(width)")
    }

    @Test func expMatchesFoundation() {
        // Vectorised Cephes expf against Double exp over the range softmax and SiLU use.
        var worst = 0.0
        var x: Float = -87
        while x <= 87 {
            var v = Kernels.Vec(repeating: 0)
            for i in 0..<Kernels.vecWidth { v[i] = x + Float(i) * 0.0137 }
            let e = Kernels.exp(v)
            for i in 0..<Kernels.vecWidth {
                let exact = Foundation.exp(Double(v[i]))
                worst = max(worst, abs(Double(e[i]) - exact) / exact)
            }
            x += 0.731
        }
        #expect(worst < 4e-7, "worst relative error \(worst)")
        let extremes = Kernels.exp(Kernels.Vec(repeating: -1000))
        #expect(extremes[0] >= 0 && extremes[0] < 1e-37)
    }

    @Test func siluMatchesFormula() {
        for count in [0, 1, 15, 16, 17, 100, 70_000] {
            let x = pseudoRandom(count, seed: UInt64(count + 1)).map { $0 * 20 }
            var y = x
            Kernels.silu(&y, count: count)
            let expected = x.map { Float(Double($0) / (1 + Foundation.exp(-Double($0)))) }
            check(y, expected, "silu \(count)")
        }
    }

    @Test func addAndScale() {
        let n = 70_001
        let x = pseudoRandom(n, seed: 1), y = pseudoRandom(n, seed: 2)
        var a = x
        Kernels.add(&a, y, count: n)
        #expect(a == zip(x, y).map { $0 + $1 })
        a = x
        Kernels.add(&a, y, count: n, scale: 0.5)
        #expect(a == zip(x, y).map { ($0 + $1) * 0.5 })
        a = x
        Kernels.scale(&a, count: n, by: 3)
        #expect(a == x.map { $0 * 3 })
    }

    @Test func addChannelBiasUsesBatchMajorEmbedding() {
        let c = 3, b = 2, s = 5
        let x = pseudoRandom(c * b * s, seed: 3)
        let e = pseudoRandom(b * c, seed: 4)  // [B, C] row-major
        var y = x
        Kernels.addChannelBias(&y, channels: c, batch: b, spatial: s, perBatch: e)
        for ci in 0..<c { for bi in 0..<b { for si in 0..<s {
            let i = (ci * b + bi) * s + si
            #expect(y[i] == x[i] + e[bi * c + ci])
        } } }
    }

    @Test func layoutTransposesRoundTrip() {
        let c = 4, b = 3, s = 6
        let nchw = pseudoRandom(c * b * s, seed: 5)
        var cnhw = [Float](repeating: .nan, count: nchw.count)
        Kernels.nchwToCNHW(nchw, channels: c, batch: b, spatial: s, output: &cnhw)
        #expect(cnhw == toCNHW(nchw, batch: b, channels: c, spatial: s))
        var back = [Float](repeating: .nan, count: nchw.count)
        Kernels.cnhwToNCHW(cnhw, channels: c, batch: b, spatial: s, output: &back)
        #expect(back == nchw)
    }

    @Test func largeGroupNormTakesTheParallelPathCorrectly() {
        // Big enough to be split over the cores; checked against a Float64 reference.
        let c = 64, b = 4, s = 64, g = 8
        let x = pseudoRandom(c * b * s, seed: 6).map { $0 * 3 + 1 }
        let gamma = pseudoRandom(c, seed: 8), beta = pseudoRandom(c, seed: 9)
        var y = [Float](repeating: .nan, count: x.count)
        Kernels.groupNorm(input: x, channels: c, batch: b, spatial: s, groups: g, eps: 1e-6, gamma: gamma, beta: beta,
                          silu: true, output: &y)
        var expected = [Float](repeating: 0, count: x.count)
        let perGroup = c / g
        for bi in 0..<b {
            for gi in 0..<g {
                var values: [Double] = []
                for ci in (gi * perGroup)..<((gi + 1) * perGroup) {
                    for si in 0..<s { values.append(Double(x[(ci * b + bi) * s + si])) }
                }
                let mean = values.reduce(0, +) / Double(values.count)
                let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)
                for ci in (gi * perGroup)..<((gi + 1) * perGroup) {
                    for si in 0..<s {
                        let i = (ci * b + bi) * s + si
                        let n = (Double(x[i]) - mean) / (variance + 1e-6).squareRoot() * Double(gamma[ci]) + Double(beta[ci])
                        expected[i] = Float(n / (1 + Foundation.exp(-n)))
                    }
                }
            }
        }
        check(y, expected, "groupNorm 64×4×64")
    }
}

@Suite("Kernel thread pool")
struct KernelThreadPoolTests {
    @Test func concurrentCallersAndNestedLoopsComplete() {
        // Several threads start parallel loops at once (the pool runs one, the others run inline),
        // and a chunk that starts a loop of its own runs it inline: all results must be right.
        let n = 1 << 16  // silu splits from 2 × 2^15 elements
        let x = pseudoRandom(n, seed: 11).map { $0 * 8 }
        let expected = x.map { Float(Double($0) / (1 + Foundation.exp(-Double($0)))) }
        let results = UnsafeMutablePointer<Float>.allocate(capacity: 4 * n)
        defer { results.deallocate() }
        nonisolated(unsafe) let out = results
        DispatchQueue.concurrentPerform(iterations: 4) { i in
            let p = out + i * n
            x.withUnsafeBufferPointer { p.update(from: $0.baseAddress!, count: n) }
            Kernels.silu(p, count: n)
        }
        for i in 0..<4 {
            check(Array(UnsafeBufferPointer(start: results + i * n, count: n)), expected, "caller \(i)")
        }

        struct Outer: RangeBody {
            let data: UnsafeMutablePointer<Float>, n: Int
            func callAsFunction(_ range: Range<Int>) {
                for c in range { Kernels.silu(data + c * n, count: n) }  // nested loop: runs inline
            }
        }
        let nested = UnsafeMutablePointer<Float>.allocate(capacity: 4 * n)
        defer { nested.deallocate() }
        for c in 0..<4 { x.withUnsafeBufferPointer { (nested + c * n).update(from: $0.baseAddress!, count: n) } }
        Kernels.parallelChunks(count: 4, minimumPerChunk: 1, Outer(data: nested, n: n))
        for c in 0..<4 {
            check(Array(UnsafeBufferPointer(start: nested + c * n, count: n)), expected, "nested \(c)")
        }
    }
}
