import Foundation
import Tensor

/// A Fréchet distance and what to be wary of about it.
public struct FrechetDistance: Sendable {
    /// `‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2·tr √(Σ₁Σ₂)`.
    public var value: Double
    /// `tr √(Σ₁Σ₂)` as computed.
    public var traceSqrtProduct: Double
    /// E.g. `.singularCovariance` when either side had `count ≤ dimension`.
    public var warnings: [MetricWarning]
}

extension Metrics {
    /// Fréchet distance between two Gaussians, matching pytorch-fid's
    /// `fid_score.calculate_frechet_distance` (which takes `scipy.linalg.sqrtm(Σ₁·Σ₂)`), computed in
    /// Float64 through symmetric eigendecompositions instead of a general matrix square root:
    ///
    /// `tr √(Σ₁Σ₂) = Σᵢ √max(λᵢ, 0)`, λ the eigenvalues of the symmetric PSD matrix
    /// `√Σ₁·Σ₂·√Σ₁` (similar to Σ₁Σ₂), with `√Σ₁ = U·diag(√max(λ(Σ₁), 0))·Uᵀ`.
    /// Negative eigenvalues from rounding are clamped to 0, so rank-deficient covariances work
    /// without pytorch-fid's `eps·I` retry. Cost: one `dsyevd` with eigenvectors, one without,
    /// and two `dgemm`, all `d × d`.
    public static func frechetDistance(_ a: GaussianStatistics, _ b: GaussianStatistics) throws -> FrechetDistance {
        guard a.dimension == b.dimension else {
            throw MetricsError.dimensionMismatch(expected: a.dimension, actual: b.dimension,
                                                 what: "Fréchet distance: \(b.name) vs \(a.name)")
        }
        let d = a.dimension
        // With Σ₁ = U·diag(λ)·Uᵀ and D = diag(√max(λ, 0)): √Σ₁·Σ₂·√Σ₁ = U·(D·Uᵀ·Σ₂·U·D)·Uᵀ, so the
        // eigenvalues needed are those of M = D·(Uᵀ·Σ₂·U)·D (two dgemm; no eigenvectors for M).
        let e1 = try Linalg.symmetricEigen(symmetrized(a.covariance, d), n: d)
        try checkPositiveSemidefinite(e1.values, a.name)
        // Covariances computed from samples here are PSD by construction; loaded ones are checked.
        if b.count == nil { try checkPositiveSemidefinite(Linalg.symmetricEigenvalues(symmetrized(b.covariance, d), n: d), b.name) }
        let u = e1.vectors
        let s2u = Linalg.matmul(b.covariance, .none, u, .none, m: d, n: d, k: d)
        var m = Linalg.matmul(u, .transpose, s2u, .none, m: d, n: d, k: d)
        let root = e1.values.map { max($0, 0).squareRoot() }
        for i in 0..<d { for j in 0..<d { m[i * d + j] *= root[i] * root[j] } }
        let eigenvalues = try Linalg.symmetricEigenvalues(symmetrized(m, d), n: d)
        var trSqrt = 0.0
        for v in eigenvalues { trSqrt += max(v, 0).squareRoot() }
        var diff2 = 0.0, tr1 = 0.0, tr2 = 0.0
        for i in 0..<d {
            let dm = a.mean[i] - b.mean[i]
            diff2 += dm * dm
            tr1 += a.covariance[i * d + i]
            tr2 += b.covariance[i * d + i]
        }
        return FrechetDistance(value: diff2 + tr1 + tr2 - 2 * trSqrt, traceSqrtProduct: trSqrt,
                               warnings: a.warnings + b.warnings)
    }

    /// Refuses a covariance with an eigenvalue below `−tol·λ_max` (`tol` =
    /// `GaussianStatistics.covarianceTolerance`): not positive semi-definite, so no distribution
    /// has it and the "distance" can come out negative. `eigenvalues` ascending.
    static func checkPositiveSemidefinite(_ eigenvalues: [Double], _ name: String) throws {
        guard let smallest = eigenvalues.first, let largest = eigenvalues.last else { return }
        if smallest < -GaussianStatistics.covarianceTolerance * max(largest, 0) || (largest <= 0 && smallest < 0) {
            throw MetricsError.invalidCovariance(
                set: name, reason: "not positive semi-definite: smallest eigenvalue \(smallest), largest \(largest)")
        }
    }

    /// FID straight from two feature sets (mean and `np.cov` covariance of each).
    public static func frechetDistance(_ x: Features, _ y: Features) throws -> FrechetDistance {
        try x.requireDimension(y, "Fréchet distance: \(y.name) vs \(x.name)")
        var sx = FeatureStatistics(dimension: x.dimension, name: x.name)
        var sy = FeatureStatistics(dimension: y.dimension, name: y.name)
        try sx.add(x)
        try sy.add(y)
        return try frechetDistance(sx.gaussian(), sy.gaussian())
    }

    /// (A + Aᵀ)/2, so rounding asymmetry never reaches LAPACK (which reads one triangle).
    static func symmetrized(_ a: [Double], _ d: Int) -> [Double] {
        var s = a
        for i in 0..<d {
            for j in (i + 1)..<max(d, i + 1) {
                let v = 0.5 * (a[i * d + j] + a[j * d + i])
                s[i * d + j] = v
                s[j * d + i] = v
            }
        }
        return s
    }
}
