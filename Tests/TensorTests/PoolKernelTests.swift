import Foundation
import Testing
@testable import Tensor
import TestSupport

// Goldens: Tests/Fixtures/tensor/pool_resize.json, made by tools/make_inception_fixture.py
// (PyTorch 2.13.0+cpu, Float32): F.max_pool2d, F.avg_pool2d (count_include_pad both ways),
// F.adaptive_avg_pool2d(1) and F.interpolate(mode="bilinear", align_corners=False) in NCHW. The
// pooling and resize kernels work plane by plane, so NCHW goes in as is.
// Tolerance: |actual − expected| ≤ 1e-6·|expected| + 1e-7 (the kernels add in PyTorch's order;
// what remains is the last bit of a multiply-add that PyTorch's build may fuse).

private struct PoolCase: Decodable {
    var op: String
    var shape: [Int]
    var params: [String: Param]
    var input: [Float]
    var out_shape: [Int]
    var expected: [Float]

    enum Param: Decodable {
        case int(Int), bool(Bool), ints([Int])
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let b = try? c.decode(Bool.self) { self = .bool(b) } else if let i = try? c.decode(Int.self) { self = .int(i) } else {
                self = .ints(try c.decode([Int].self))
            }
        }
    }

    func int(_ key: String) -> Int { if case .int(let v) = params[key] { v } else { -1 } }
    func bool(_ key: String) -> Bool { if case .bool(let v) = params[key] { v } else { false } }
    func ints(_ key: String) -> [Int] { if case .ints(let v) = params[key] { v } else { [] } }
    var name: String { "\(op) \(shape) \(params.keys.sorted().map { "\($0)=\(params[$0].map { "\($0)" } ?? "")" })" }
}

private struct PoolGoldens: Decodable { var cases: [PoolCase] }

@Suite struct PoolKernelTests {
    fileprivate static let cases: [PoolCase] = (try? Fixtures.json(PoolGoldens.self, "tensor/pool_resize.json").cases) ?? []

    @Test func goldensPresent() { #expect(Self.cases.count == 11) }

    @Test(arguments: 0..<11)
    func matchesPyTorch(index: Int) throws {
        try #require(index < Self.cases.count)
        let c = Self.cases[index]
        let (n, ch, h, w) = (c.shape[0], c.shape[1], c.shape[2], c.shape[3])
        var out = [Float](repeating: .nan, count: c.expected.count)
        out.withUnsafeMutableBufferPointer { o in
            c.input.withUnsafeBufferPointer { x in
                switch c.op {
                case "max_pool2d":
                    Kernels.maxPool2d(input: x.baseAddress!, planes: n * ch, height: h, width: w, kernel: c.int("kernel"),
                                      stride: c.int("stride"), padding: c.int("padding"), output: o.baseAddress!)
                case "avg_pool2d":
                    Kernels.avgPool2d(input: x.baseAddress!, planes: n * ch, height: h, width: w, kernel: c.int("kernel"),
                                      stride: c.int("stride"), padding: c.int("padding"),
                                      countIncludePad: c.bool("count_include_pad"), output: o.baseAddress!)
                case "adaptive_avg_pool2d_1":
                    // NCHW planes are CNHW with the roles of N and C swapped: rows come out [C][N]; transpose.
                    var rows = [Float](repeating: .nan, count: n * ch)
                    rows.withUnsafeMutableBufferPointer {
                        Kernels.globalAveragePool(input: x.baseAddress!, channels: n, batch: ch, spatial: h * w,
                                                  rows: $0.baseAddress!)
                    }
                    for b in 0..<n { for k in 0..<ch { o[b * ch + k] = rows[k * n + b] } }
                case "interpolate_bilinear":
                    let size = c.ints("size")
                    Kernels.resizeBilinear(input: x.baseAddress!, planes: n * ch, height: h, width: w,
                                           outHeight: size[0], outWidth: size[1], output: o.baseAddress!)
                default:
                    Issue.record("unknown op \(c.op)")
                }
            }
        }
        let result = closeness(out, c.expected, rtol: 1e-6, atol: 1e-7)
        #expect(result.passes, "\(c.name): \(result)")
    }

    /// BatchNorm folded into a convolution equals the convolution followed by BatchNorm (Float64 reference).
    @Test func foldedBatchNormEqualsConvThenBatchNorm() {
        let (ic, oc, h, w, k) = (3, 4, 6, 5, 3)
        let x = (0..<(ic * h * w)).map { Float(sin(Double($0) * 0.7)) }
        var weight = (0..<(oc * ic * k * k)).map { Float(cos(Double($0) * 1.3)) * 0.3 }
        let gamma: [Float] = [1.2, 0.7, -0.4, 1.0], beta: [Float] = [0.1, -0.2, 0.3, 0]
        let mean: [Float] = [0.05, -0.1, 0.2, 0.3], variance: [Float] = [0.8, 1.5, 0.3, 2.0]
        let convBias: [Float] = [0.2, 0, -0.1, 0.4]
        // Reference: conv (padding 1) + bias, then (y − mean)/√(var + eps)·γ + β, all in Float64.
        var expected = [Float](repeating: 0, count: oc * h * w)
        for o in 0..<oc { for i in 0..<h { for j in 0..<w {
            var s = Double(convBias[o])
            for c in 0..<ic { for u in 0..<k { for v in 0..<k {
                let y = i + u - 1, z = j + v - 1
                if y >= 0 && y < h && z >= 0 && z < w {
                    s += Double(weight[((o * ic + c) * k + u) * k + v]) * Double(x[(c * h + y) * w + z])
                }
            } } }
            expected[(o * h + i) * w + j] = Float((s - Double(mean[o])) / (Double(variance[o]) + 0.001).squareRoot()
                                                  * Double(gamma[o]) + Double(beta[o]))
        } } }
        let bias = Kernels.foldBatchNorm(weight: &weight, outChannels: oc, bias: convBias, gamma: gamma, beta: beta,
                                         mean: mean, variance: variance, eps: 0.001)
        var out = [Float](repeating: .nan, count: oc * h * w), scratch: [Float] = []
        Kernels.conv2d(input: x, channels: ic, batch: 1, height: h, width: w, weight: weight, outChannels: oc,
                       kernel: k, stride: 1, padding: 1, bias: bias, output: &out, scratch: &scratch)
        let result = closeness(out, expected, rtol: 1e-5, atol: 1e-6)
        #expect(result.passes, "\(result)")
    }

    @Test func reluAndChannelConcat() {
        var x: [Float] = [-1, 0, 2, -0.5, .nan, 3]
        Kernels.relu(&x, count: x.count)
        #expect(Array(x[0..<4]) == [0, 0, 2, 0] && x[4].isNaN && x[5] == 3)
        // CNHW concatenation is block after block: [2 ch][2 batch][1] and [1 ch][2 batch][1].
        let a: [Float] = [1, 2, 3, 4], b: [Float] = [5, 6]
        var out = [Float](repeating: 0, count: 6)
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                Kernels.concatChannels([(pa.baseAddress!, channels: 2), (pb.baseAddress!, channels: 1)], batch: 2,
                                       spatial: 1, output: &out)
            }
        }
        #expect(out == [1, 2, 3, 4, 5, 6])
    }

    /// A window whose only real element is the corner, and a plane of NaN, behave like PyTorch's.
    @Test func maxPoolPaddingAndNaN() {
        let x: [Float] = [-5, -7, -8, -9]  // 2×2, all negative: padding (−∞) never wins
        var y = [Float](repeating: 0, count: 4)
        Kernels.maxPool2d(input: x, planes: 1, height: 2, width: 2, kernel: 3, stride: 1, padding: 1, output: &y)
        #expect(y == [-5, -5, -5, -5])
        let z: [Float] = [1, .nan, 2, 3]
        Kernels.maxPool2d(input: z, planes: 1, height: 2, width: 2, kernel: 3, stride: 1, padding: 1, output: &y)
        #expect(y.allSatisfy { $0.isNaN })
    }
}
