import Foundation
import Testing
@testable import Metrics
import TestSupport

// Goldens: Tests/Fixtures/metrics/*.json, made by tools/make_metric_goldens.py (Python 3.11.7,
// numpy 2.4.6, scipy 1.17.1; pytorch-fid's calculate_frechet_distance and torch-fidelity's KID/IS
// formulas re-implemented verbatim there). Inputs are Float32 values; references are Float64.
//
// Tolerances (relative, stated per test):
//   FID            ≤ 1e-4 vs scipy.linalg.sqrtm (pytorch-fid), and vs the numpy eigh route
//                  ≤ 1e-11 (full rank) / ≤ 1e-7 (rank-deficient, see the test)
//   KID mean/std   ≤ 1e-12 (same estimator, Float64 both sides; only summation order differs)
//   precision/recall exactly equal (the script asserts every distance is ≥ 1e-9 from its radius)
//   IS             ≤ 1e-9
//   statistics     |a − e| ≤ 1e-12·|e| + 1e-12·max|e|

private struct StatsFixture: Decodable { var dimension: Int; var x: [Float]; var batches: [Int]; var mean: [Double]; var cov: [Double] }
private struct FIDFixture: Decodable { var dimension: Int; var x: [Float]; var y: [Float]; var fid_scipy: Double; var fid_eig: Double }
private struct KIDFixture: Decodable {
    struct Subset: Decodable { var x: [Int]; var y: [Int] }
    var dimension: Int; var x: [Float]; var y: [Float]; var subsets: [Subset]
    var mmd2: [Double]; var mean: Double; var std: Double
}
private struct PRFixture: Decodable {
    var dimension: Int; var k: Int; var real: [Float]; var generated: [Float]
    var precision: Double; var recall: Double; var real_radii_sq: [Double]; var generated_radii_sq: [Double]
}
private struct ISFixture: Decodable { var classes: Int; var splits: Int; var logits: [Float]; var scores: [Double]; var mean: Double; var std: Double }

private func rel(_ a: Double, _ e: Double) -> Double { abs(a - e) / abs(e) }

@Suite("Feature statistics")
struct FeatureStatisticsTests {
    @Test("streaming mean/covariance over uneven batches equals np.cov")
    func streaming() throws {
        let f = try Fixtures.json(StatsFixture.self, "metrics/stats.json")
        let d = f.dimension
        var stats = FeatureStatistics(dimension: d, name: "stats")
        var row = 0
        for b in f.batches {
            try stats.add(Array(f.x[(row * d)..<((row + b) * d)]))
            row += b
        }
        #expect(stats.count == f.x.count / d)
        let meanScale = f.mean.map(abs).max()!, covScale = f.cov.map(abs).max()!
        let m = closeness(stats.mean, f.mean, rtol: 1e-12, atol: 1e-12 * meanScale)
        #expect(m.passes, "mean: \(m)")
        let c = closeness(try stats.covariance(), f.cov, rtol: 1e-12, atol: 1e-12 * covScale)
        #expect(c.passes, "covariance: \(c)")
        #expect(!stats.isCovarianceSingular)
        // One batch gives the same answer.
        var whole = FeatureStatistics(dimension: d)
        try whole.add(f.x)
        #expect(closeness(try whole.covariance(), f.cov, rtol: 1e-12, atol: 1e-12 * covScale).passes)
    }

    @Test("large offset: centred batches keep the covariance accurate")
    func offset() throws {
        // x = 1e6 + small values; the naive Σxxᵀ − n·x̄x̄ᵀ would lose everything in Float64.
        let base: [Float] = [1, -1, 2, 0.5, -0.25, 3, 0, 1.5]  // 4 × 2
        let shifted = base.map { $0 + 1_000_000 }
        var a = FeatureStatistics(dimension: 2), b = FeatureStatistics(dimension: 2)
        try a.add(base)
        try b.add(Array(shifted[0..<2]))
        try b.add(Array(shifted[2..<8]))
        // Merging shifts the mean by δ·n_b/n, rounded to ulp(1e6) ≈ 1.2e-10, hence 1e-9 (the naive
        // Σxxᵀ − n·x̄x̄ᵀ would be off by O(1) here).
        let r = closeness(try b.covariance(), try a.covariance(), rtol: 1e-9, atol: 1e-9)
        #expect(r.passes, "\(r)")
    }

    @Test("errors: dimension mismatch, NaN, too few samples")
    func errors() throws {
        var s = FeatureStatistics(dimension: 3, name: "generated")
        #expect(throws: MetricsError.badShape(set: "generated", valueCount: 4, dimension: 3)) { try s.add([1, 2, 3, 4]) }
        #expect(throws: MetricsError.dimensionMismatch(expected: 3, actual: 2, what: "generated: batch \"b\"")) {
            try s.add(Features([1, 2], dimension: 2, name: "b"))
        }
        do {
            try s.add([1, 2, 3, 4, 5, .nan])
            Issue.record("NaN accepted")
        } catch let e as MetricsError {
            guard case let .nonFinite(set, row, column, _) = e else { Issue.record("wrong error \(e)"); return }
            #expect(set == "generated" && row == 1 && column == 2)
            #expect(e.localizedDescription.contains("feature 1, component 2"), "\(e.localizedDescription)")
        }
        #expect(s.count == 0)
        try s.add([1, 2, 3])
        #expect(throws: MetricsError.self) { try s.covariance() }
    }
}

@Suite("Fréchet distance")
struct FrechetTests {
    @Test("matches pytorch-fid (scipy sqrtm)", arguments: ["fid", "fid_rank_deficient"])
    func golden(_ name: String) throws {
        let f = try Fixtures.json(FIDFixture.self, "metrics/\(name).json")
        let x = try Features(f.x, dimension: f.dimension, name: "x")
        let y = try Features(f.y, dimension: f.dimension, name: "y")
        let r = try Metrics.frechetDistance(x, y)
        #expect(rel(r.value, f.fid_scipy) <= 1e-4, "FID \(r.value) vs scipy \(f.fid_scipy)")
        let singular = x.count <= f.dimension
        // Rank-deficient: √ of the rounding-level (~1e-16·‖M‖) eigenvalues of the null space adds
        // ~1e-8 each, differently in LAPACK and numpy, so agreement there is ~1e-8, not 1e-12.
        #expect(rel(r.value, f.fid_eig) <= (singular ? 1e-7 : 1e-11), "FID \(r.value) vs numpy eigh \(f.fid_eig)")
        #expect(r.warnings.count == (singular ? 2 : 0), "\(r.warnings)")
        if singular {
            #expect(r.warnings.first == .singularCovariance(set: "x", count: x.count, dimension: f.dimension))
            #expect(r.warnings[0].description.contains("singular"))
        }
    }

    @Test("identical statistics give 0; mismatched dimensions throw")
    func identities() throws {
        let f = try Fixtures.json(FIDFixture.self, "metrics/fid.json")
        let x = try Features(f.x, dimension: f.dimension, name: "x")
        #expect(abs(try Metrics.frechetDistance(x, x).value) < 1e-9)
        let z = try Features(Array(f.x[0..<30]), dimension: 3, name: "z")
        #expect(throws: MetricsError.self) { try Metrics.frechetDistance(x, z) }
        let a = try GaussianStatistics(mean: [0, 0], covariance: [1, 0, 0, 1])
        let b = try GaussianStatistics(mean: [0], covariance: [1])
        #expect(throws: MetricsError.self) { try Metrics.frechetDistance(a, b) }
    }
}

@Suite("KID")
struct KIDTests {
    @Test("fixed subsets match torch-fidelity's estimator")
    func golden() throws {
        let f = try Fixtures.json(KIDFixture.self, "metrics/kid.json")
        let x = try Features(f.x, dimension: f.dimension, name: "x")
        let y = try Features(f.y, dimension: f.dimension, name: "y")
        let r = try Metrics.kernelDistance(x, y, subsets: f.subsets.map { KIDSubset(x: $0.x, y: $0.y) })
        for (a, e) in zip(r.subsetValues, f.mmd2) { #expect(rel(a, e) <= 1e-12, "\(a) vs \(e)") }
        #expect(rel(r.mean, f.mean) <= 1e-12, "mean \(r.mean) vs \(f.mean)")
        #expect(rel(r.std, f.std) <= 1e-10, "std \(r.std) vs \(f.std)")
    }

    @Test("seeded subsets: deterministic, distinct, in range; bad arguments throw")
    func seeded() throws {
        let f = try Fixtures.json(KIDFixture.self, "metrics/kid.json")
        let x = try Features(f.x, dimension: f.dimension, name: "x")
        let y = try Features(f.y, dimension: f.dimension, name: "y")
        let s1 = try Metrics.kidSubsets(count: 4, size: 20, xCount: 50, yCount: 60, seed: 7)
        let s2 = try Metrics.kidSubsets(count: 4, size: 20, xCount: 50, yCount: 60, seed: 7)
        #expect(s1 == s2)
        for s in s1 {
            #expect(Set(s.x).count == 20 && s.x.allSatisfy { (0..<50).contains($0) })
            #expect(Set(s.y).count == 20 && s.y.allSatisfy { (0..<60).contains($0) })
        }
        let a = try Metrics.kernelDistance(x, y, subsetCount: 4, subsetSize: 20, seed: 7)
        let b = try Metrics.kernelDistance(x, y, subsets: s1)
        #expect(a.mean == b.mean && a.std == b.std)
        #expect(throws: MetricsError.self) { try Metrics.kernelDistance(x, y, subsetCount: 2, subsetSize: 51) }
        #expect(throws: MetricsError.self) { try Metrics.kernelDistance(x, y, subsets: [KIDSubset(x: [0, 0], y: [1, 2])]) }
        #expect(throws: MetricsError.self) { try Metrics.kernelDistance(x, y, subsets: [KIDSubset(x: [0, 50], y: [1, 2])]) }
        let z = try Features([Float](repeating: 0, count: 40), dimension: 4, name: "z")
        #expect(throws: MetricsError.self) { try Metrics.kernelDistance(x, z, subsets: [KIDSubset(x: [0, 1], y: [1, 2])]) }
    }
}

@Suite("Precision and recall")
struct PrecisionRecallTests {
    @Test("equal to the authors' algorithm, for several block sizes", arguments: [(1024, 4096), (7, 5), (1, 70)])
    func golden(_ blocks: (Int, Int)) throws {
        let f = try Fixtures.json(PRFixture.self, "metrics/precision_recall.json")
        let real = try Features(f.real, dimension: f.dimension, name: "real")
        let gen = try Features(f.generated, dimension: f.dimension, name: "generated")
        let r = try Metrics.precisionRecall(real: real, generated: gen, k: f.k,
                                            blockRows: blocks.0, blockColumns: blocks.1)
        #expect(r.precision == f.precision)
        #expect(r.recall == f.recall)
        let radii = Metrics.kthNeighbourSquaredDistances(real, k: f.k, blockRows: blocks.0, blockColumns: blocks.1)
        #expect(closeness(radii, f.real_radii_sq, rtol: 1e-12, atol: 1e-12).passes)
    }

    @Test("too few samples and mismatched dimensions throw")
    func errors() throws {
        let a = try Features([0, 0, 1, 1, 2, 2], dimension: 2, name: "real")
        let b = try Features([0, 0, 1, 1, 2, 2, 3, 3], dimension: 2, name: "generated")
        #expect(throws: MetricsError.notEnoughSamples(set: "real", count: 3, needed: 4, purpose: "a k = 3 nearest-neighbour radius")) {
            try Metrics.precisionRecall(real: a, generated: b)
        }
        let c = try Features([0, 0, 1, 1, 2, 2], dimension: 3, name: "c")
        #expect(throws: MetricsError.self) { try Metrics.precisionRecall(real: b, generated: c, k: 1) }
    }
}

@Suite("Inception Score")
struct InceptionScoreTests {
    @Test("matches torch-fidelity's formula (no shuffle)")
    func golden() throws {
        let f = try Fixtures.json(ISFixture.self, "metrics/inception_score.json")
        let logits = try Features(f.logits, dimension: f.classes, name: "logits")
        let r = try Metrics.inceptionScore(logits: logits, splits: f.splits)
        for (a, e) in zip(r.splitScores, f.scores) { #expect(rel(a, e) <= 1e-9, "\(a) vs \(e)") }
        #expect(rel(r.mean, f.mean) <= 1e-9)
        #expect(rel(r.std, f.std) <= 1e-9)
        #expect(throws: MetricsError.self) { try Metrics.inceptionScore(logits: logits, splits: 101) }
        #expect(throws: MetricsError.self) { try Metrics.inceptionScore(logits: logits, splits: 0) }
    }
}
