import Testing
@testable import Tensor

/// `Kernels.packedGEMM` (the AVX2 kernel of Sources/CKernels/gemm.c, or OpenBLAS without AVX2)
/// against the product computed in Float64 from the same Float32 inputs. Shapes cover every edge
/// of the kernel: rows not a multiple of its 6-row panels, columns not a multiple of its 16-column
/// blocks, depth past one 256-row chunk, strided B and C, and accumulation into C.
@Suite("Packed-weight GEMM against a Float64 product")
struct PackedGEMMTests {
    struct Shape: CustomStringConvertible {
        var rows, depth, columns: Int
        var ldbExtra = 0, ldcExtra = 0, accumulate = false
        var description: String { "\(rows)×\(depth)·\(depth)×\(columns) ldb+\(ldbExtra) ldc+\(ldcExtra) acc \(accumulate)" }
    }

    static let shapes: [Shape] = [
        Shape(rows: 1, depth: 1, columns: 1),
        Shape(rows: 6, depth: 8, columns: 16),
        Shape(rows: 7, depth: 3, columns: 17),
        Shape(rows: 13, depth: 257, columns: 33, ldbExtra: 5, ldcExtra: 3),
        Shape(rows: 64, depth: 600, columns: 200, accumulate: true),
        Shape(rows: 5, depth: 513, columns: 15, ldbExtra: 1, ldcExtra: 2, accumulate: true),
        Shape(rows: 128, depth: 64, columns: 4096),
    ]

    @Test(arguments: shapes)
    func matchesTheFloat64Product(_ s: Shape) {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15 &+ UInt64(s.rows * 1_000_003 + s.depth * 1009 + s.columns)
        func next() -> Float {  // SplitMix64 → uniform in [−1, 1)
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            return Float(Double(z >> 11) / Double(1 << 53) * 2 - 1)
        }
        let ldb = s.columns + s.ldbExtra, ldc = s.columns + s.ldcExtra
        let a = (0..<(s.rows * s.depth)).map { _ in next() }
        let b = (0..<(s.depth * ldb)).map { _ in next() }
        let c0 = (0..<(s.rows * ldc)).map { _ in next() }
        var packed = [Float](repeating: .nan, count: Kernels.packedFloats(rows: s.rows, columns: s.depth))
        Kernels.packWeights(a, lda: s.depth, rows: s.rows, columns: s.depth, into: &packed)
        var c = c0
        Kernels.packedGEMM(rows: s.rows, depth: s.depth, packed: packed, b: b, ldb: ldb, n: s.columns, c: &c, ldc: ldc,
                           accumulate: s.accumulate)
        var worst = 0.0
        for i in 0..<s.rows {
            for j in 0..<ldc {
                let got = Double(c[i * ldc + j])
                guard j < s.columns else {
                    #expect(got == Double(c0[i * ldc + j]), "\(s): C[\(i)][\(j)] past the columns was written")
                    continue
                }
                var sum = s.accumulate ? Double(c0[i * ldc + j]) : 0, magnitude = abs(sum)
                for k in 0..<s.depth {
                    let term = Double(a[i * s.depth + k]) * Double(b[k * ldb + j])
                    sum += term
                    magnitude += abs(term)
                }
                // Float32 accumulation of `depth` terms: error ≤ depth·ε·Σ|terms| (in practice far less).
                worst = max(worst, abs(got - sum) / (magnitude * Double(Float.ulpOfOne)))
            }
        }
        #expect(worst <= Double(s.depth + 1), "\(s): worst error \(worst) ε·Σ|terms|")
    }
}
