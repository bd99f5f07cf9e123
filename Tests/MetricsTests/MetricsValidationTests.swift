import Foundation
import Testing
@testable import Metrics
import TestSupport

/// Statistics and arguments that used to give a wrong number (negative FID from a non-PSD sigma,
/// a silently used non-symmetric sigma) or crash (10¹² KID subsets): each is now a clear error.
@Suite("Metric input validation")
struct MetricsValidationTests {
    private struct Golden: Decodable { var mean_a: [Double]; var cov_a: [Double] }

    /// The statistics of the pytorch-fid fixture (metrics/npz/golden.json).
    static func fixtureStatistics() throws -> GaussianStatistics {
        let golden = try Fixtures.json(Golden.self, "metrics/npz/golden.json")
        return try GaussianStatistics(mean: golden.mean_a, covariance: golden.cov_a, name: "reference")
    }

    @Test("a non-symmetric sigma is refused")
    func nonSymmetric() throws {
        let good = try Self.fixtureStatistics()
        var sigma = good.covariance
        sigma[1] += 0.5  // (0, 1) no longer equals (1, 0)
        let error = #expect(throws: MetricsError.self) {
            try GaussianStatistics(mean: good.mean, covariance: sigma, name: "reference")
        }
        #expect(error?.localizedDescription.contains("not symmetric") == true, "\(String(describing: error))")
        #expect(throws: MetricsError.self) { try GaussianStatistics(mean: [0], covariance: [-1]) }
    }

    @Test("a sigma that is not positive semi-definite is refused instead of giving a negative FID")
    func notPSD() throws {
        let good = try Self.fixtureStatistics()
        let d = good.dimension
        // Symmetric, positive diagonal, but eigenvalues 1 ± 3: a perfectly plausible-looking file.
        var sigma = [Double](repeating: 0, count: d * d)
        for i in 0..<d { sigma[i * d + i] = 1 }
        sigma[1] = 3; sigma[d] = 3
        let bad = try GaussianStatistics(mean: good.mean, covariance: sigma, name: "bad reference")
        for (a, b) in [(bad, good), (good, bad)] {
            let error = #expect(throws: MetricsError.self) { try Metrics.frechetDistance(a, b) }
            #expect(error?.localizedDescription.contains("positive semi-definite") == true, "\(String(describing: error))")
        }
        // Rounding-level negative eigenvalues (a rank-deficient np.cov) still pass.
        var nearlySingular = [Double](repeating: 0, count: d * d)
        for i in 0..<d { for j in 0..<d { nearlySingular[i * d + j] = 1 } }
        nearlySingular[0] -= 1e-12
        let singular = try GaussianStatistics(mean: good.mean, covariance: nearlySingular, name: "rank one")
        #expect(try Metrics.frechetDistance(good, singular).value.isFinite)
    }

    @Test("absurd KID subset counts and sizes are errors, not allocation crashes")
    func kidLimits() throws {
        let x = try Features((0..<40).map { Float($0 % 7) }, dimension: 2, name: "x")
        for (count, size) in [(1_000_000_000_000, 5), (0, 5), (-1, 5), (2, 1), (2, 21), (2, Int.max)] {
            let error = #expect(throws: MetricsError.self) {
                try Metrics.kernelDistance(x, x, subsetCount: count, subsetSize: size)
            }
            #expect(error?.localizedDescription.contains("KID") == true)
            #expect(throws: MetricsError.self) {
                try Metrics.kidSubsets(count: count, size: size, xCount: 20, yCount: 20, seed: 1)
            }
        }
        #expect(try Metrics.kernelDistance(x, x, subsetCount: 3, subsetSize: 5).subsetValues.count == 3)
        // Explicit subsets too large for their kernel matrices.
        let wide = try Features([Float](repeating: 0, count: 20_000), dimension: 1, name: "wide")
        let huge = KIDSubset(x: Array(0..<20_000), y: Array(0..<20_000))
        #expect(throws: MetricsError.self) { try Metrics.kernelDistance(wide, wide, subsets: [huge]) }
        #expect(throws: MetricsError.self) { try Metrics.kernelDistance(wide, wide, subsetCount: 1, subsetSize: 20_000) }
    }

    @Test("NaN and infinity never reach a metric")
    func nonFinite() throws {
        #expect(throws: MetricsError.self) { try Features([0, .nan], dimension: 2) }
        #expect(throws: MetricsError.self) { try Features([.infinity, 0], dimension: 2) }
        #expect(throws: MetricsError.self) { try GaussianStatistics(mean: [.nan], covariance: [1]) }
        #expect(throws: MetricsError.self) { try GaussianStatistics(mean: [0], covariance: [.infinity]) }
        // A feature dimension whose covariance could not be allocated.
        #expect(throws: MetricsError.self) { try Features([Float](repeating: 0, count: 1 << 20), dimension: 1 << 20) }
    }
}

/// The bootstrap's n × n route to the Fréchet distance (fewer samples than dimensions) equals the
/// d × d route through the statistics, which the pytorch-fid goldens check.
@Suite struct FrechetLowRankTests {
    @Test(arguments: [(3, 16), (7, 40), (15, 15)])
    func lowRankRouteEqualsTheFullOne(n: Int, d: Int) throws {
        var rng = SplitMix64(seed: UInt64(n * 1000 + d))
        func uniform() -> Double { Double(rng.next() >> 11) / Double(1 << 53) - 0.5 }
        let reference = try Features((0..<(4 * d * d)).map { _ in Float(uniform()) }, dimension: d, name: "reference")
        let rows = (0..<(n * d)).map { _ in Float(uniform() + 0.1) }
        let fixed = try FrechetToFixed(FeatureSet(features: reference, logits: nil).statistics)
        let full = try fixed.distance(to: FeatureSet(features: Features(rows, dimension: d, name: "x"), logits: nil).statistics)
        let lowRank = try fixed.distance(toRows: rows, count: n)
        // The d × d route takes √ of the d − n + 1 eigenvalues that are zero in exact arithmetic and
        // ±ε·‖M‖ in Float64, each adding up to √(ε·‖M‖) ≈ 1e-8: that is its error, not the n × n route's.
        let rounding = Double(d) * (1e-15 * max(1, abs(full))).squareRoot()
        #expect(abs(lowRank - full) <= rounding, "n \(n), d \(d): \(lowRank) vs \(full)")
    }
}
