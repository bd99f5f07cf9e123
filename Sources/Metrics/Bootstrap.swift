import Foundation
import Tensor

/// How `MetricSuite.intervals` resamples: `resamples` bootstrap draws of the generated samples
/// (with replacement, SplitMix64(`seed`) with Lemire's bounded integers, so a seed fixes the
/// intervals), and the two-sided `level` of the percentile interval.
public struct BootstrapSettings: Sendable, Equatable {
    public var resamples: Int
    public var seed: UInt64
    public var level: Double

    public static let defaultResamples = 100

    public init(resamples: Int = defaultResamples, seed: UInt64, level: Double = 0.95) throws {
        guard (2...100_000).contains(resamples) else {
            throw MetricsError.invalidArgument("bootstrap: resamples must be between 2 and 100000, got \(resamples)")
        }
        guard level > 0, level < 1 else { throw MetricsError.invalidArgument("bootstrap: level must be in (0, 1), got \(level)") }
        self.resamples = resamples
        self.seed = seed
        self.level = level
    }
}

extension MetricSuite {
    /// Percentile bootstrap intervals (Efron 1979) of this suite's metrics, keyed `fid_ci`, `is_ci`,
    /// `kid_ci`, `precision_ci`, `recall_ci` ([low, high]).
    ///
    /// Only the generated side is resampled; the reference (real data) is held fixed. Every cell of a
    /// sweep is scored against the same reference, so the reference's own sampling error moves all
    /// cells together and cancels from their comparison; what separates two cells is the spread of
    /// their generated samples, which this interval measures. (A statistics-file reference could not
    /// be resampled anyway.) All metrics of one draw use the same resampled indices.
    ///
    /// - FID: the Fréchet distance of each resample's mean and covariance to the reference's.
    /// - IS: the Inception Score (same splits) of each resample's logits.
    /// - KID: the unbiased MMD² with the cubic polynomial kernel over the whole resample (not over
    ///   random subsets: the full-set statistic estimates the same MMD² and needs the n × n kernel
    ///   matrix once); pairs of positions drawing the same sample are left out like the diagonal.
    ///   Above `KernelBootstrap.maxSamples` samples (a 512 MiB matrix) KID gets no interval.
    /// - precision / recall: the k-NN radii of both sides stay those of the full samples (a drawn
    ///   duplicate would otherwise shrink a generated radius to 0); a resample's precision is the
    ///   weighted fraction of its samples inside the real manifold, its recall the fraction of real
    ///   samples covered by a generated sample it contains.
    ///
    /// The interval is the percentile interval moved so that the bootstrap median sits on the point
    /// estimate (`pointEstimates`, keyed as `evaluate`'s results): [θ̂ − (m − q_lo), θ̂ + (q_hi − m)].
    /// Resampling with replacement repeats samples, which biases FID and KID upward by about as
    /// much again as their finite-sample bias; the shift removes that artefact and keeps the spread
    /// and skew. The interval describes the estimate at this sample count (its finite-sample bias,
    /// common to every cell of the same count, is not removed). Without a point estimate the
    /// percentile interval itself is returned.
    public func intervals(samples x: FeatureSet, reference y: FeatureSet, settings: BootstrapSettings,
                          pointEstimates: [String: Double] = [:], k: Int = 3) throws -> [String: [Double]] {
        guard let features = x.features, features.count >= 2 else { return [:] }
        let n = features.count
        var rng = SplitMix64(seed: settings.seed)
        let draws: [[Int]] = (0..<settings.resamples).map { _ in (0..<n).map { _ in Int(rng.bounded(UInt64(n))) } }
        func counts(_ draw: [Int]) -> [Double] {
            var w = [Double](repeating: 0, count: n)
            for i in draw { w[i] += 1 }
            return w
        }
        var values: [String: [Double]] = [:]
        if metrics.contains(.fid) {
            let toReference = try FrechetToFixed(y.statistics)
            values["fid_ci"] = try draws.map { draw in
                let resampled = try Features(Self.rows(features, draw), dimension: features.dimension, name: features.name)
                return try toReference.distance(to: FeatureSet(features: resampled, logits: nil).statistics)
            }
        }
        if metrics.contains(.is), let logits = x.logits, logits.count == n {
            values["is_ci"] = try draws.map { draw in
                try Metrics.inceptionScore(logits: Features(Self.rows(logits, draw), dimension: logits.dimension, name: logits.name)).mean
            }
        }
        if let reference = y.features {
            try features.requireDimension(reference, "bootstrap: \(reference.name) vs \(features.name)")
            if metrics.contains(.kid), n <= KernelBootstrap.maxSamples {
                let kernel = KernelBootstrap(features, reference)
                values["kid_ci"] = draws.map { kernel.mmd2(weights: counts($0)) }
            }
            if (metrics.contains(.precision) || metrics.contains(.recall)) && features.count > k && reference.count > k {
                let cover = CoverBootstrap(real: reference, generated: features, k: k)
                let pr = draws.map { cover.precisionRecall(weights: counts($0)) }
                if metrics.contains(.precision) { values["precision_ci"] = pr.map(\.0) }
                if metrics.contains(.recall) { values["recall_ci"] = pr.map(\.1) }
            }
        }
        let estimateKeys = ["fid_ci": "fid", "is_ci": "is_mean", "kid_ci": "kid_mean", "precision_ci": "precision", "recall_ci": "recall"]
        var out: [String: [Double]] = [:]
        for (key, draws) in values {
            out[key] = Self.centredInterval(draws, estimate: estimateKeys[key].flatMap { pointEstimates[$0] }, level: settings.level)
        }
        return out
    }

    /// The percentile interval of `draws` moved so that their median sits on `estimate` (see `intervals`).
    public static func centredInterval(_ draws: [Double], estimate: Double?, level: Double) -> [Double] {
        let interval = percentileInterval(draws, level: level)
        guard let estimate else { return interval }
        let median = percentileInterval(draws, level: 0)[0]
        return [estimate - (median - interval[0]), estimate + (interval[1] - median)]
    }

    /// [low, high]: the (1 − level)/2 and (1 + level)/2 quantiles, linearly interpolated (numpy's default).
    public static func percentileInterval(_ values: [Double], level: Double) -> [Double] {
        let sorted = values.sorted()
        func quantile(_ q: Double) -> Double {
            guard sorted.count > 1 else { return sorted.first ?? .nan }
            let position = q * Double(sorted.count - 1)
            let lo = Int(position.rounded(.down)), hi = min(lo + 1, sorted.count - 1)
            return sorted[lo] + (sorted[hi] - sorted[lo]) * (position - Double(lo))
        }
        return [quantile((1 - level) / 2), quantile((1 + level) / 2)]
    }

    static func rows(_ f: Features, _ indices: [Int]) -> [Float] {
        let d = f.dimension
        var out = [Float](repeating: 0, count: indices.count * d)
        for (r, i) in indices.enumerated() {
            for c in 0..<d { out[r * d + c] = f.values[i * d + c] }
        }
        return out
    }
}

/// The cubic-kernel MMD² of weighted generated samples against a fixed reference:
/// `(wᵀKw − Σ w_p K_pp)/(n(n − 1)) + mean_{i≠j} k(y_i, y_j) − 2·Σ_p w_p·mean_j k(x_p, y_j)/n`.
struct KernelBootstrap {
    /// The n × n kernel matrix is held in Float64: 512 MiB at this many samples; above it KID gets no interval.
    static let maxSamples = 8192
    let n: Int
    let kxx: [Double]
    let rowMeans: [Double]
    let referenceTerm: Double

    init(_ x: Features, _ y: Features) {
        let d = x.dimension, gamma = 1 / Double(d)
        n = x.count
        let a = x.rowsAsDouble(0, x.count)
        var kxx = Linalg.matmul(a, .none, a, .transpose, m: n, n: n, k: d)
        for i in kxx.indices { let t = kxx[i] * gamma + 1; kxx[i] = t * t * t }
        self.kxx = kxx
        var rowSums = [Double](repeating: 0, count: n)
        var yy = 0.0
        let block = 512
        var start = 0
        while start < y.count {
            let rows = min(block, y.count - start)
            let b = y.rowsAsDouble(start, rows)
            let kxy = Linalg.matmul(a, .none, b, .transpose, m: n, n: rows, k: d)
            for p in 0..<n {
                var s = 0.0
                for j in 0..<rows { let t = kxy[p * rows + j] * gamma + 1; s += t * t * t }
                rowSums[p] += s
            }
            var inner = start
            while inner < y.count {
                let cols = min(block, y.count - inner)
                let c = y.rowsAsDouble(inner, cols)
                let kyy = Linalg.matmul(b, .none, c, .transpose, m: rows, n: cols, k: d)
                for i in 0..<rows {
                    for j in 0..<cols where start + i != inner + j {
                        let t = kyy[i * cols + j] * gamma + 1
                        yy += t * t * t
                    }
                }
                inner += cols
            }
            start += rows
        }
        rowMeans = rowSums.map { $0 / Double(y.count) }
        referenceTerm = yy / (Double(y.count) * Double(y.count - 1))
    }

    func mmd2(weights w: [Double]) -> Double {
        var xx = 0.0, xy = 0.0
        for p in 0..<n where w[p] > 0 {
            var s = 0.0
            for q in 0..<n where w[q] > 0 { s += w[q] * kxx[p * n + q] }
            xx += w[p] * (s - kxx[p * n + p])
            xy += w[p] * rowMeans[p]
        }
        let nn = Double(n)
        return xx / (nn * (nn - 1)) + referenceTerm - 2 * xy / nn
    }
}

/// Precision/recall of weighted generated samples with the full samples' k-NN radii: which
/// generated samples lie in the real manifold, and which generated samples cover each real one.
struct CoverBootstrap {
    let n: Int
    let insideReal: [Bool]
    /// Per real sample, a bitset over generated samples (⌈n/64⌉ words) of those whose ball holds it.
    let coveredBy: [UInt64]
    let words: Int
    let realCount: Int

    init(real: Features, generated: Features, k: Int) {
        n = generated.count
        realCount = real.count
        words = (n + 63) / 64
        let realRadii = Metrics.kthNeighbourSquaredDistances(real, k: k, blockRows: 1024, blockColumns: 4096)
        let genRadii = Metrics.kthNeighbourSquaredDistances(generated, k: k, blockRows: 1024, blockColumns: 4096)
        var inside = [Bool](repeating: false, count: n)
        var bits = [UInt64](repeating: 0, count: real.count * words)
        let words = words
        Metrics.squaredDistanceBlocks(generated, real, blockRows: 1024, blockColumns: 4096) { r0, nr, c0, nc, dist in
            for i in 0..<nr {
                let p = r0 + i
                for j in 0..<nc {
                    let dd = dist[i * nc + j]
                    if dd <= realRadii[c0 + j] { inside[p] = true }
                    if dd <= genRadii[p] { bits[(c0 + j) * words + p / 64] |= 1 << UInt64(p % 64) }
                }
            }
        }
        insideReal = inside
        coveredBy = bits
    }

    func precisionRecall(weights w: [Double]) -> (Double, Double) {
        var precision = 0.0
        var mask = [UInt64](repeating: 0, count: words)
        for p in 0..<n where w[p] > 0 {
            if insideReal[p] { precision += w[p] }
            mask[p / 64] |= 1 << UInt64(p % 64)
        }
        var covered = 0
        for j in 0..<realCount {
            for word in 0..<words where coveredBy[j * words + word] & mask[word] != 0 {
                covered += 1
                break
            }
        }
        return (precision / Double(n), Double(covered) / Double(realCount))
    }
}

/// Fréchet distances to one fixed Gaussian (a reference, or the oracle's exact moments), for many
/// others: the fixed side's eigendecomposition Σ_f = U·diag(λ)·Uᵀ is computed once, and each distance
/// needs only the eigenvalues of D·Uᵀ·Σ·U·D (D = diag(√λ)), the same algebra as `Metrics.frechetDistance`.
public struct FrechetToFixed: Sendable {
    public let fixed: GaussianStatistics
    let vectors: [Double]
    let roots: [Double]

    public init(_ fixed: GaussianStatistics) throws {
        let d = fixed.dimension
        var symmetric = fixed.covariance
        for i in 0..<d { for j in 0..<i { let v = (symmetric[i * d + j] + symmetric[j * d + i]) / 2; symmetric[i * d + j] = v; symmetric[j * d + i] = v } }
        let eigen = try Linalg.symmetricEigen(symmetric, n: d)
        try Metrics.checkPositiveSemidefinite(eigen.values, fixed.name)
        self.fixed = fixed
        vectors = eigen.vectors
        roots = eigen.values.map { max($0, 0).squareRoot() }
    }

    public func distance(to other: GaussianStatistics) throws -> Double {
        let d = fixed.dimension
        guard other.dimension == d else {
            throw MetricsError.dimensionMismatch(expected: d, actual: other.dimension, what: "Fréchet distance: \(other.name) vs \(fixed.name)")
        }
        let su = Linalg.matmul(other.covariance, .none, vectors, .none, m: d, n: d, k: d)
        var m = Linalg.matmul(vectors, .transpose, su, .none, m: d, n: d, k: d)
        for i in 0..<d { for j in 0..<d { m[i * d + j] *= roots[i] * roots[j] } }
        for i in 0..<d { for j in 0..<i { let v = (m[i * d + j] + m[j * d + i]) / 2; m[i * d + j] = v; m[j * d + i] = v } }
        let eigenvalues = try Linalg.symmetricEigenvalues(m, n: d)
        var trSqrt = 0.0
        for v in eigenvalues { trSqrt += max(v, 0).squareRoot() }
        var value = 0.0
        for i in 0..<d {
            let dm = other.mean[i] - fixed.mean[i]
            value += dm * dm + other.covariance[i * d + i] + fixed.covariance[i * d + i]
        }
        return value - 2 * trSqrt
    }
}
