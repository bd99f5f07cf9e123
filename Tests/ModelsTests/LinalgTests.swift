import Foundation
import Tensor
import Testing
import TestSupport

@Suite("Float64 BLAS/LAPACK wrappers")
struct LinalgTests {
    /// A fixed pseudo-random matrix (values in [−1, 1)).
    static func matrix(_ rows: Int, _ cols: Int, seed: UInt64) -> [Double] {
        var state = seed
        return (0..<(rows * cols)).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53) * 2 - 1
        }
    }

    /// op(A)·op(B) written plainly.
    static func naiveProduct(_ a: [Double], transA: Bool, _ b: [Double], transB: Bool, m: Int, n: Int, k: Int) -> [Double] {
        (0..<(m * n)).map { index in
            let i = index / n, j = index % n
            var s = 0.0
            for p in 0..<k { s += (transA ? a[p * m + i] : a[i * k + p]) * (transB ? b[j * k + p] : b[p * n + j]) }
            return s
        }
    }

    @Test("gemm matches the plain triple loop for every transpose combination",
          arguments: [(false, false), (true, false), (false, true), (true, true)])
    func gemm(transposes: (Bool, Bool)) {
        let (tA, tB) = transposes
        let m = 5, n = 3, k = 4
        let a = Self.matrix(m, k, seed: 1), b = Self.matrix(k, n, seed: 2)
        let product = Linalg.matmul(a, tA ? .transpose : .none, b, tB ? .transpose : .none, m: m, n: n, k: k)
        let expected = Self.naiveProduct(a, transA: tA, b, transB: tB, m: m, n: n, k: k)
        #expect(closeness(product, expected, rtol: 1e-14, atol: 1e-15).passes)

        // α, β and accumulation into C.
        var c = [Double](repeating: 1, count: m * n)
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    Linalg.gemm(tA ? .transpose : .none, tB ? .transpose : .none, m: m, n: n, k: k,
                                alpha: 2, a: a, b: b, beta: 0.5, c: c)
                }
            }
        }
        #expect(closeness(c, expected.map { 2 * $0 + 0.5 }, rtol: 1e-14, atol: 1e-15).passes)
    }

    @Test("gram is AᵀA, symmetric in both triangles")
    func gram() {
        let rows = 7, cols = 4
        let a = Self.matrix(rows, cols, seed: 3)
        var c = [Double](repeating: 0, count: cols * cols)
        a.withUnsafeBufferPointer { a in
            c.withUnsafeMutableBufferPointer { Linalg.gram(a, rows: rows, cols: cols, alpha: 0.25, into: $0) }
        }
        let expected = Self.naiveProduct(a, transA: true, a, transB: false, m: cols, n: cols, k: rows).map { 0.25 * $0 }
        #expect(closeness(c, expected, rtol: 1e-14, atol: 1e-15).passes)
    }

    @Test("symmetricEigen: ascending eigenvalues, orthonormal U, A = UΛUᵀ")
    func eigen() throws {
        let n = 6
        let b = Self.matrix(n, n, seed: 4)
        let a = Self.naiveProduct(b, transA: false, b, transB: true, m: n, n: n, k: n)  // B Bᵀ
        let eigen = try Linalg.symmetricEigen(a, n: n)
        #expect(eigen.values == eigen.values.sorted())
        let u = eigen.vectors
        let utu = Self.naiveProduct(u, transA: true, u, transB: false, m: n, n: n, k: n)
        let identity = (0..<(n * n)).map { $0 / n == $0 % n ? 1.0 : 0.0 }
        #expect(closeness(utu, identity, rtol: 0, atol: 1e-13).passes)
        var scaled = u
        for i in 0..<n { for j in 0..<n { scaled[i * n + j] *= eigen.values[j] } }
        let rebuilt = Self.naiveProduct(scaled, transA: false, u, transB: true, m: n, n: n, k: n)
        #expect(closeness(rebuilt, a, rtol: 1e-13, atol: 1e-13).passes)
        // Known spectrum: diag(3, 1, 2) → 1, 2, 3 with unit-vector eigenvectors.
        let diagonal = try Linalg.symmetricEigen([3, 0, 0, 0, 1, 0, 0, 0, 2], n: 3)
        #expect(diagonal.values == [1, 2, 3])
        #expect(diagonal.vectors.map(abs) == [0, 0, 1, 1, 0, 0, 0, 1, 0])
        #expect(throws: LinalgError.nonFinite(operation: "dsyevd", n: 2)) {
            try Linalg.symmetricEigen([1, .nan, .nan, 1], n: 2)
        }
    }
}
