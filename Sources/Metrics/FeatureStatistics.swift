import Foundation
import Tensor

/// Mean and covariance of a feature distribution (what pytorch-fid stores as `mu` and `sigma`).
public struct GaussianStatistics: Sendable {
    public var dimension: Int
    public var mean: [Double]
    /// Row-major `dimension × dimension`, divisor `count − 1` (numpy `np.cov(rowvar=False)`).
    public var covariance: [Double]
    /// Samples the estimate came from; `nil` when unknown (statistics loaded from a file).
    public var count: Int?
    /// Name used in errors and warnings.
    public var name: String

    /// Relative tolerance of the covariance checks: `|Σᵢⱼ − Σⱼᵢ| ≤ tol·√(ΣᵢᵢΣⱼⱼ)` and, in
    /// `Metrics.frechetDistance`, `λ_min(Σ) ≥ −tol·λ_max(Σ)`. Loose enough for a float32-rounded
    /// `np.cov`, tight enough to refuse a matrix that is not a covariance (pytorch-fid then fails
    /// with "Imaginary component" or, worse, returns a wrong distance).
    public static let covarianceTolerance = 1e-4

    /// Checks shapes, finiteness and that the covariance is symmetric with a non-negative diagonal
    /// (positive semi-definiteness needs an eigendecomposition and is checked by
    /// `Metrics.frechetDistance`).
    public init(mean: [Double], covariance: [Double], count: Int? = nil, name: String = "statistics") throws {
        let d = mean.count
        guard d > 0, d.multipliedReportingOverflow(by: d) == (covariance.count, false) else {
            throw MetricsError.badShape(set: name, valueCount: covariance.count, dimension: d)
        }
        for (k, v) in mean.enumerated() where !v.isFinite {
            throw MetricsError.invalidArgument("\(name): mean component \(k) is \(v)")
        }
        for (k, v) in covariance.enumerated() where !v.isFinite {
            throw MetricsError.invalidArgument("\(name): covariance entry (\(k / d), \(k % d)) is \(v)")
        }
        for i in 0..<d where covariance[i * d + i] < 0 {
            throw MetricsError.invalidCovariance(set: name, reason: "diagonal entry (\(i), \(i)) is \(covariance[i * d + i]), "
                                                 + "a variance must be ≥ 0")
        }
        let tolerance = Self.covarianceTolerance
        for i in 0..<d {
            for j in (i + 1)..<max(d, i + 1) {
                let a = covariance[i * d + j], b = covariance[j * d + i]
                let scale = (covariance[i * d + i] * covariance[j * d + j]).squareRoot()
                if abs(a - b) > tolerance * scale + Double.leastNormalMagnitude {
                    throw MetricsError.invalidCovariance(
                        set: name, reason: "not symmetric: entry (\(i), \(j)) is \(a) but (\(j), \(i)) is \(b)")
                }
            }
        }
        self.dimension = d
        self.mean = mean
        self.covariance = covariance
        self.count = count
        self.name = name
    }

    /// `.singularCovariance` when the sample count is known and `count ≤ dimension`.
    public var warnings: [MetricWarning] {
        if let n = count, n <= dimension { return [.singularCovariance(set: name, count: n, dimension: dimension)] }
        return []
    }
}

/// Streaming mean and covariance of Float32 features, accumulated in Float64 batch by batch
/// without keeping the features.
///
/// Each batch contributes its own mean and centred scatter `Σ (x − x̄_b)(x − x̄_b)ᵀ` (one BLAS
/// `dsyrk` through `Linalg.gram`); batches are merged with the pairwise update of Chan, Golub &
/// LeVeque (1979): with `δ = x̄_b − x̄_a`, `n = n_a + n_b`,
/// `x̄ = x̄_a + δ·n_b/n`, `M = M_a + M_b + δδᵀ·n_a·n_b/n`. The covariance is `M/(n − 1)`, as numpy
/// `np.cov(features, rowvar=False)`. Centring per batch avoids the cancellation of the
/// `Σxxᵀ − n·x̄x̄ᵀ` shortcut when the mean is large compared with the spread.
public struct FeatureStatistics: Sendable {
    public let dimension: Int
    public let name: String
    public private(set) var count: Int = 0
    /// Running mean (Float64); zeros before the first sample.
    public private(set) var mean: [Double]
    /// Centred scatter `Σ (x − x̄)(x − x̄)ᵀ`, row-major `dimension × dimension`.
    public private(set) var scatter: [Double]

    public init(dimension: Int, name: String = "features") {
        precondition(dimension > 0, "feature dimension must be positive")
        self.dimension = dimension
        self.name = name
        self.mean = [Double](repeating: 0, count: dimension)
        self.scatter = [Double](repeating: 0, count: dimension * dimension)
    }

    /// Adds a checked batch of features (any number of rows, including none).
    public mutating func add(_ batch: Features) throws {
        guard batch.dimension == dimension else {
            throw MetricsError.dimensionMismatch(expected: dimension, actual: batch.dimension,
                                                 what: "\(name): batch \"\(batch.name)\"")
        }
        let nb = batch.count
        if nb == 0 { return }
        let d = dimension
        var x = batch.rowsAsDouble(0, nb)
        var bmean = [Double](repeating: 0, count: d)
        x.withUnsafeMutableBufferPointer { xp in
            bmean.withUnsafeMutableBufferPointer { mp in
                for r in 0..<nb { for c in 0..<d { mp[c] += xp[r * d + c] } }
                for c in 0..<d { mp[c] /= Double(nb) }
                for r in 0..<nb { for c in 0..<d { xp[r * d + c] -= mp[c] } }
            }
        }
        let na = count, n = na + nb
        var delta = [Double](repeating: 0, count: d)
        for c in 0..<d { delta[c] = bmean[c] - mean[c] }
        // M ← M + Σ_b (x − x̄_b)(x − x̄_b)ᵀ (dsyrk, β = 1) + δδᵀ·n_a·n_b/n (rank-1 dgemm, β = 1).
        x.withUnsafeBufferPointer { xp in
            scatter.withUnsafeMutableBufferPointer { sp in
                Linalg.gram(xp, rows: nb, cols: d, beta: 1, into: sp)
                if na > 0 {
                    delta.withUnsafeBufferPointer { dp in
                        Linalg.gemm(.none, .none, m: d, n: d, k: 1, alpha: Double(na) * Double(nb) / Double(n),
                                    a: dp, b: dp, beta: 1, c: sp)
                    }
                }
            }
        }
        let w = Double(nb) / Double(n)
        for c in 0..<d { mean[c] += delta[c] * w }
        count = n
    }

    /// Convenience: adds row-major Float32 values (checked for shape and finiteness).
    public mutating func add(_ values: [Float]) throws {
        try add(Features(values, dimension: dimension, name: name))
    }

    /// Covariance with divisor `count − 1`; needs at least two samples.
    public func covariance() throws -> [Double] {
        guard count >= 2 else {
            throw MetricsError.notEnoughSamples(set: name, count: count, needed: 2, purpose: "a covariance")
        }
        let s = 1 / Double(count - 1)
        return scatter.map { $0 * s }
    }

    /// True when `count ≤ dimension`: the covariance is then singular.
    public var isCovarianceSingular: Bool { count <= dimension }

    /// Mean and covariance as `GaussianStatistics` (carrying the count, hence the warning).
    public func gaussian() throws -> GaussianStatistics {
        try GaussianStatistics(mean: mean, covariance: covariance(), count: count, name: name)
    }
}
