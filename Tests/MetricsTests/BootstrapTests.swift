import Foundation
import Testing
@testable import Metrics

/// The bootstrap intervals of `MetricSuite.intervals`.
@Suite struct BootstrapTests {
    /// Gaussian features: `count` rows of `dimension` values, mean `shift`, from SplitMix64(seed).
    static func gaussian(_ count: Int, _ dimension: Int, shift: Double, seed: UInt64, name: String) throws -> Features {
        var rng = SplitMix64(seed: seed)
        func uniform() -> Double { (Double(rng.next() >> 11) + 0.5) / 9_007_199_254_740_992 }
        let values = (0..<(count * dimension)).map { _ in
            Float(shift + (-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform()))
        }
        return try Features(values, dimension: dimension, name: name)
    }

    /// numpy.percentile (linear interpolation): np.percentile(np.arange(1, 11), [5, 95]) = [1.45, 9.55],
    /// np.percentile([3, 1, 2, 10], [2.5, 97.5, 50]) = [1.075, 9.475, 2.5].
    @Test func percentilesAreNumpys() {
        let a = MetricSuite.percentileInterval((1...10).map(Double.init), level: 0.9)
        #expect(abs(a[0] - 1.45) < 1e-12 && abs(a[1] - 9.55) < 1e-12)
        let b = MetricSuite.percentileInterval([3, 1, 2, 10], level: 0.95)
        #expect(abs(b[0] - 1.075) < 1e-12 && abs(b[1] - 9.475) < 1e-12)
        let centred = MetricSuite.centredInterval([3, 1, 2, 10], estimate: 2, level: 0.95)
        #expect(abs(centred[0] - 0.575) < 1e-12 && abs(centred[1] - 8.975) < 1e-12)
    }

    /// With every sample drawn once, the kernel and cover shortcuts give the metrics' own values.
    @Test func unitWeightsGiveTheFullSampleMetrics() throws {
        let x = try Self.gaussian(120, 6, shift: 0.3, seed: 1, name: "generated")
        let y = try Self.gaussian(120, 6, shift: 0, seed: 2, name: "reference")
        let ones = [Double](repeating: 1, count: 120)
        let all = Array(0..<120)
        let mmd = try Metrics.polynomialMMD2(x, y, subset: KIDSubset(x: all, y: all))
        #expect(abs(KernelBootstrap(x, y).mmd2(weights: ones) - mmd) < 1e-12 * max(1, abs(mmd)))
        let pr = try Metrics.precisionRecall(real: y, generated: x)
        let (p, r) = CoverBootstrap(real: y, generated: x, k: 3).precisionRecall(weights: ones)
        #expect(p == pr.precision && r == pr.recall)
        // Doubling one sample and dropping another: the KID shortcut against the direct formula.
        var weights = ones
        weights[0] = 2; weights[1] = 0
        let draw = [0, 0] + Array(2..<120)
        let resampled = try Features(MetricSuite.rows(x, draw), dimension: 6)
        // polynomialMMD2 needs distinct indices: compute the same sum directly from the resampled rows.
        let a = resampled.values.map(Double.init), d = 6, n = 120
        func k(_ i: Int, _ j: Int, _ u: [Double], _ v: [Double]) -> Double {
            var dot = 0.0
            for c in 0..<d { dot += u[i * d + c] * v[j * d + c] }
            let t = dot / Double(d) + 1
            return t * t * t
        }
        let b = y.values.map(Double.init)
        var xx = 0.0, yy = 0.0, xy = 0.0
        for i in 0..<n { for j in 0..<n { if i != j { xx += k(i, j, a, a); yy += k(i, j, b, b) }; xy += k(i, j, a, b) } }
        let direct = (xx + yy) / Double(n * (n - 1)) - 2 * xy / Double(n * n)
        #expect(abs(KernelBootstrap(x, y).mmd2(weights: weights) - direct) < 1e-10)
    }

    @Test func frechetToAFixedGaussianIsTheFrechetDistance() throws {
        let a = try FeatureSet(features: Self.gaussian(300, 5, shift: 0.4, seed: 21, name: "a"), logits: nil).statistics
        let b = try FeatureSet(features: Self.gaussian(200, 5, shift: 0, seed: 22, name: "b"), logits: nil).statistics
        let direct = try Metrics.frechetDistance(a, b).value
        #expect(abs(try FrechetToFixed(b).distance(to: a) - direct) < 1e-10 * max(1, direct))
        #expect(abs(try FrechetToFixed(a).distance(to: b) - direct) < 1e-10 * max(1, direct))
    }

    @Test func intervalsAreSeededAndReproducible() throws {
        let x = try FeatureSet(features: Self.gaussian(200, 4, shift: 0.2, seed: 3, name: "generated"), logits: nil)
        let y = try FeatureSet(features: Self.gaussian(300, 4, shift: 0, seed: 4, name: "reference"), logits: nil)
        let suite = try MetricSuite([.fid, .kid, .precision, .recall], kidSubsets: 10, kidSubsetSize: 100)
        let a = try suite.intervals(samples: x, reference: y, settings: BootstrapSettings(resamples: 50, seed: 9))
        let b = try suite.intervals(samples: x, reference: y, settings: BootstrapSettings(resamples: 50, seed: 9))
        let c = try suite.intervals(samples: x, reference: y, settings: BootstrapSettings(resamples: 50, seed: 10))
        #expect(a == b)
        #expect(a != c)
        #expect(Set(a.keys) == ["fid_ci", "kid_ci", "precision_ci", "recall_ci"])
        for (key, interval) in a { #expect(interval[0] <= interval[1], "\(key)") }
    }

    /// Calibration: the bootstrap interval's width matches the spread of FID over independent
    /// generated sets (the same distribution, a fixed reference) within a factor of 1.6.
    @Test func fidIntervalWidthMatchesTheSpreadOverIndependentSamples() throws {
        let y = try FeatureSet(features: Self.gaussian(2000, 4, shift: 0, seed: 100, name: "reference"), logits: nil)
        let suite = try MetricSuite([.fid])
        var fids: [Double] = [], widths: [Double] = []
        for trial in 0..<40 {
            let x = try FeatureSet(features: Self.gaussian(400, 4, shift: 0.25, seed: 1000 + UInt64(trial), name: "generated"), logits: nil)
            let fid = try suite.evaluate(samples: x, reference: y).values["fid"]!
            fids.append(fid)
            if trial < 10 {
                let ci = try suite.intervals(samples: x, reference: y, settings: BootstrapSettings(resamples: 200, seed: UInt64(trial)),
                                             pointEstimates: ["fid": fid])
                #expect(ci["fid_ci"]![0] <= fid && fid <= ci["fid_ci"]![1])
                widths.append(ci["fid_ci"]![1] - ci["fid_ci"]![0])
            }
        }
        let spread = MetricSuite.percentileInterval(fids, level: 0.95)
        let empirical = spread[1] - spread[0], bootstrap = widths.reduce(0, +) / Double(widths.count)
        print("FID over 40 independent sets: 95% width \(empirical); mean bootstrap width \(bootstrap)")
        #expect(bootstrap > empirical / 1.6 && bootstrap < empirical * 1.6)
    }
}
