import Testing
@testable import Tensor

/// The AVX2 + FMA kernels (Sources/CKernels) against the portable Swift ones they replace at run
/// time: same formulas, so equal up to rounding (fused multiply-adds, summation order), on sizes
/// with and without vector tails. Runs only where the CPU has AVX2 and FMA.
@Suite("AVX2 kernels against the portable ones", .enabled(if: Kernels.hasAVX2FMA))
struct DispatchTests {
    private func data(_ count: Int, seed: UInt64, scale: Float = 4) -> [Float] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<count).map { _ in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return (Float(state >> 40) / Float(1 << 23) - 1) * scale
        }
    }

    private func expectClose(_ a: [Float], _ b: [Float], _ what: String) {
        let scale = b.map { abs($0) }.max() ?? 1
        let worst = zip(a, b).map { abs($0 - $1) - 2e-6 * abs($1) }.max() ?? 0
        #expect(worst <= 1e-6 * scale, "\(what): worst excess \(worst)")
    }

    @Test(arguments: [1, 7, 8, 13, 64, 101])
    func siluAndSoftmax(count: Int) {
        let x = data(count, seed: UInt64(count))
        var fast = [Float](repeating: .nan, count: count), portable = fast
        Kernels.siluRange(x, &fast, count: count)
        Kernels.siluRangePortable(x, &portable, count: count)
        expectClose(fast, portable, "silu \(count)")
        var a = x, b = x
        Kernels.softmaxRow(&a, count: count)
        Kernels.softmaxRowPortable(&b, count: count)
        expectClose(a, b, "softmax \(count)")
        #expect(abs(a.reduce(0, +) - 1) < 1e-5)
    }

    @Test(arguments: [(1, 9), (3, 49), (2, 64), (4, 13)])
    func groupNormSlices(channels: Int, spatial: Int) {
        let batch = 2
        let x = data(channels * batch * spatial, seed: UInt64(spatial), scale: 3)
        let gamma = data(channels, seed: 5, scale: 1).map { $0 + 1 }, beta = data(channels, seed: 6, scale: 0.5)
        for silu in [false, true] {
            var fast = [Float](repeating: .nan, count: x.count), portable = fast
            for b in 0..<batch {
                Kernels.groupNormSlice(input: x, output: &fast, firstChannel: 0, channelCount: channels, batchItem: b,
                                       batch: batch, spatial: spatial, eps: 1e-5, gamma: gamma, beta: beta, silu: silu)
                Kernels.groupNormSlicePortable(input: x, output: &portable, firstChannel: 0, channelCount: channels,
                                               batchItem: b, batch: batch, spatial: spatial, eps: 1e-5, gamma: gamma,
                                               beta: beta, silu: silu)
            }
            expectClose(fast, portable, "group norm \(channels)×\(spatial) silu \(silu)")
        }
    }
}
