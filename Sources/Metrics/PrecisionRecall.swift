import Foundation
import Tensor

/// Improved precision and recall (Kynkäänniemi et al. 2019).
public struct PrecisionRecall: Sendable, Equatable {
    /// Fraction of generated samples inside the real manifold estimate.
    public var precision: Double
    /// Fraction of real samples inside the generated manifold estimate.
    public var recall: Double
}

extension Metrics {
    /// Precision and recall of Kynkäänniemi et al. 2019 ("Improved precision and recall metric for
    /// assessing generative models", NVlabs `ManifoldEstimator`): each sample's radius is the
    /// distance to its k-th nearest neighbour within its own set (itself excluded); precision is
    /// the fraction of generated samples with `‖g − r‖ ≤ radius(r)` for some real `r`, recall the
    /// same with the roles swapped.
    ///
    /// Squared distances `‖a‖² + ‖b‖² − 2aᵀb` (clamped at 0) come from Float64 `dgemm` in blocks of
    /// `blockRows × blockColumns`, so memory stays at one such block plus the inputs.
    public static func precisionRecall(
        real: Features, generated: Features, k: Int = 3, blockRows: Int = 1024, blockColumns: Int = 4096
    ) throws -> PrecisionRecall {
        try real.requireDimension(generated, "precision/recall: \(generated.name) vs \(real.name)")
        guard k >= 1 else { throw MetricsError.invalidArgument("precision/recall: k must be positive, got \(k)") }
        guard blockRows >= 1, blockColumns >= 1 else {
            throw MetricsError.invalidArgument("precision/recall: block sizes must be positive")
        }
        for set in [real, generated] where set.count <= k {
            throw MetricsError.notEnoughSamples(set: set.name, count: set.count, needed: k + 1,
                                                purpose: "a k = \(k) nearest-neighbour radius")
        }
        let realRadii = kthNeighbourSquaredDistances(real, k: k, blockRows: blockRows, blockColumns: blockColumns)
        let genRadii = kthNeighbourSquaredDistances(generated, k: k, blockRows: blockRows, blockColumns: blockColumns)
        let precision = coveredFraction(generated, by: real, radii: realRadii, blockRows: blockRows, blockColumns: blockColumns)
        let recall = coveredFraction(real, by: generated, radii: genRadii, blockRows: blockRows, blockColumns: blockColumns)
        return PrecisionRecall(precision: precision, recall: recall)
    }

    /// Squared distance from each row of `a` to its k-th nearest other row.
    static func kthNeighbourSquaredDistances(_ a: Features, k: Int, blockRows: Int, blockColumns: Int) -> [Double] {
        var best = [Double](repeating: .infinity, count: a.count * k)  // per row, ascending
        squaredDistanceBlocks(a, a, blockRows: blockRows, blockColumns: blockColumns) { r0, nr, c0, nc, dist in
            for i in 0..<nr {
                let row = r0 + i, base = row * k
                for j in 0..<nc where c0 + j != row {
                    var v = dist[i * nc + j]
                    if v >= best[base + k - 1] { continue }
                    for s in 0..<k where v < best[base + s] {  // insertion into the sorted k smallest
                        swap(&v, &best[base + s])
                    }
                }
            }
        }
        return (0..<a.count).map { best[$0 * k + k - 1] }
    }

    /// Fraction of rows of `q` within `radii[j]` (squared) of some row `j` of `r`.
    static func coveredFraction(_ q: Features, by r: Features, radii: [Double], blockRows: Int, blockColumns: Int) -> Double {
        var inside = [Bool](repeating: false, count: q.count)
        squaredDistanceBlocks(q, r, blockRows: blockRows, blockColumns: blockColumns) { r0, nr, c0, nc, dist in
            for i in 0..<nr where !inside[r0 + i] {
                for j in 0..<nc where dist[i * nc + j] <= radii[c0 + j] {
                    inside[r0 + i] = true
                    break
                }
            }
        }
        return Double(inside.lazy.filter { $0 }.count) / Double(q.count)
    }

    /// Calls `body(rowStart, rows, columnStart, columns, D)` for each block of the squared distance
    /// matrix between rows of `a` and rows of `b`, `D` row-major `rows × columns`.
    static func squaredDistanceBlocks(
        _ a: Features, _ b: Features, blockRows: Int, blockColumns: Int,
        _ body: (Int, Int, Int, Int, UnsafeBufferPointer<Double>) -> Void
    ) {
        let d = a.dimension
        func norms(_ x: Features) -> [Double] {
            (0..<x.count).map { r in
                var s = 0.0
                for c in 0..<d { let v = Double(x.values[r * d + c]); s += v * v }
                return s
            }
        }
        let na = norms(a), nb = norms(b)
        var buffer = [Double](repeating: 0, count: min(blockRows, a.count) * min(blockColumns, b.count))
        var r0 = 0
        while r0 < a.count {
            let nr = min(blockRows, a.count - r0)
            let xa = a.rowsAsDouble(r0, nr)
            var c0 = 0
            while c0 < b.count {
                let nc = min(blockColumns, b.count - c0)
                let xb = b.rowsAsDouble(c0, nc)
                buffer.withUnsafeMutableBufferPointer { out in
                    let block = UnsafeMutableBufferPointer(rebasing: out[0..<(nr * nc)])
                    xa.withUnsafeBufferPointer { pa in
                        xb.withUnsafeBufferPointer { pb in
                            Linalg.gemm(.none, .transpose, m: nr, n: nc, k: d, alpha: -2, a: pa, b: pb, c: block)
                        }
                    }
                    for i in 0..<nr {
                        for j in 0..<nc {
                            block[i * nc + j] = max(0, block[i * nc + j] + na[r0 + i] + nb[c0 + j])
                        }
                    }
                    body(r0, nr, c0, nc, UnsafeBufferPointer(block))
                }
                c0 += nc
            }
            r0 += nr
        }
    }
}
