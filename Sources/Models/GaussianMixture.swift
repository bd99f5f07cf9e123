import Diffusion
import Foundation
import Files
import Tensor

/// A Gaussian mixture `p(x₀) = Σ_k π_k N(x₀; μ_k, Σ_k)` with full covariances: a data distribution
/// whose noised marginals and exact posterior noise `E[ε | x_t]` are known in closed form, so it
/// serves as an oracle denoiser (ARCHITECTURE.md, Samplers, with ε̂ replaced by the exact conditional mean).
///
/// Each `Σ_k` is eigendecomposed once at init, `Σ_k = U_k Λ_k U_kᵀ`; every later evaluation at a
/// noise level ᾱ then costs two GEMMs per component, because the noised covariance
/// `C_k(ᾱ) = ᾱΣ_k + (1−ᾱ)I = U_k (ᾱΛ_k + (1−ᾱ)I) U_kᵀ` shares the eigenvectors.
/// All arithmetic is Float64.
public struct GaussianMixture: Sendable {
    /// One mixture component `π N(μ, Σ)`.
    public struct Component: Sendable, Equatable {
        /// Mixing weight π.
        public var weight: Double
        /// Mean μ, `D` values.
        public var mean: [Double]
        /// Covariance Σ, `D × D` row-major, symmetric positive definite.
        public var covariance: [Double]

        /// A component: weight, mean (D) and covariance (D × D, row-major).
        public init(weight: Double, mean: [Double], covariance: [Double]) {
            self.weight = weight
            self.mean = mean
            self.covariance = covariance
        }
    }

    /// `Σ_k = U Λ Uᵀ` plus what every evaluation reuses.
    struct Spectrum: Sendable {
        /// Λ, ascending.
        var eigenvalues: [Double]
        /// U row-major; column j is the eigenvector of `eigenvalues[j]`.
        var eigenvectors: [Double]
        /// `Uᵀμ`: the mean in the eigenbasis.
        var projectedMean: [Double]
    }

    /// Shape of one sample, e.g. `[1, 28, 28]`; its product is `dimension`.
    public let sampleShape: [Int]
    /// D.
    public let dimension: Int
    /// The components; their weights sum to 1 (normalised at init).
    public let components: [Component]
    let spectra: [Spectrum]

    /// Validates the components and eigendecomposes each covariance.
    ///
    /// Weights must be positive and sum to 1 within 1e-6 (they are normalised when the sum is
    /// off by more than 1e-12, which leaves weights like n_k/n as they are);
    /// covariances must be symmetric (within 1e-9 of their largest entry) and positive definite.
    public init(components: [Component], sampleShape: [Int]) throws {
        guard !components.isEmpty else { throw GaussianMixtureError.noComponents }
        guard !sampleShape.isEmpty, sampleShape.allSatisfy({ $0 > 0 }), let dimension = CheckedSize.product(sampleShape),
              dimension.multipliedReportingOverflow(by: dimension).overflow == false else {
            throw GaussianMixtureError.invalidSampleShape(sampleShape)
        }
        var weightSum = 0.0
        for (k, c) in components.enumerated() {
            guard c.weight.isFinite, c.weight > 0 else { throw GaussianMixtureError.invalidWeight(component: k, c.weight) }
            weightSum += c.weight
            guard c.mean.count == dimension else {
                throw GaussianMixtureError.meanSize(component: k, expected: dimension, actual: c.mean.count)
            }
            guard c.covariance.count == dimension * dimension else {
                throw GaussianMixtureError.covarianceSize(component: k, expected: dimension * dimension,
                                                          actual: c.covariance.count)
            }
            guard c.mean.allSatisfy(\.isFinite), c.covariance.allSatisfy(\.isFinite) else {
                throw GaussianMixtureError.nonFinite(component: k)
            }
            try Self.checkSymmetric(c.covariance, dimension: dimension, component: k)
        }
        guard abs(weightSum - 1) <= 1e-6 else { throw GaussianMixtureError.weightsDoNotSumToOne(weightSum) }

        var spectra: [Spectrum] = []
        for (k, c) in components.enumerated() {
            let eigen: SymmetricEigen
            do {
                eigen = try Linalg.symmetricEigen(c.covariance, n: dimension)
            } catch {
                throw GaussianMixtureError.eigendecompositionFailed(component: k, reason: error.localizedDescription)
            }
            guard let smallest = eigen.values.first, smallest > 0 else {
                throw GaussianMixtureError.notPositiveDefinite(component: k, smallestEigenvalue: eigen.values.first ?? .nan)
            }
            let projected = Linalg.matmul(c.mean, .none, eigen.vectors, .none, m: 1, n: dimension, k: dimension)
            spectra.append(Spectrum(eigenvalues: eigen.values, eigenvectors: eigen.vectors, projectedMean: projected))
        }
        self.sampleShape = sampleShape
        self.dimension = dimension
        let normaliser = abs(weightSum - 1) > 1e-12 ? weightSum : 1
        self.components = components.map {
            Component(weight: $0.weight / normaliser, mean: $0.mean, covariance: $0.covariance)
        }
        self.spectra = spectra
    }

    private static func checkSymmetric(_ a: [Double], dimension n: Int, component: Int) throws {
        let scale = a.reduce(0) { max($0, abs($1)) }
        for i in 0..<n {
            for j in (i + 1)..<n where abs(a[i * n + j] - a[j * n + i]) > 1e-9 * scale {
                throw GaussianMixtureError.notSymmetric(component: component, row: i, column: j,
                                                        a[i * n + j], a[j * n + i])
            }
        }
    }

    /// Number of components K.
    public var componentCount: Int { components.count }

    /// The eigenvalues of each `Σ_k`, ascending.
    public var eigenvalues: [[Double]] { spectra.map(\.eigenvalues) }

    // MARK: - Moments

    /// The mixture mean `Σ_k π_k μ_k`.
    public var mean: [Double] {
        var m = [Double](repeating: 0, count: dimension)
        for c in components {
            for i in 0..<dimension { m[i] += c.weight * c.mean[i] }
        }
        return m
    }

    /// The mixture covariance `Σ_k π_k (Σ_k + μ_k μ_kᵀ) − μ μᵀ` (law of total covariance,
    /// written with centred means for accuracy: `Σ_k π_k (Σ_k + (μ_k − μ)(μ_k − μ)ᵀ)`), row-major `D × D`.
    public var covariance: [Double] {
        let n = dimension, m = mean
        var cov = [Double](repeating: 0, count: n * n)
        for c in components {
            for i in 0..<n {
                let di = c.mean[i] - m[i]
                for j in 0..<n {
                    cov[i * n + j] += c.weight * (c.covariance[i * n + j] + di * (c.mean[j] - m[j]))
                }
            }
        }
        return cov
    }

    // MARK: - Noised marginals and the posterior noise

    /// What `posterior` computes for a batch of noised samples `x_t = √ᾱ x₀ + √(1−ᾱ) ε`.
    public struct Posterior: Sendable {
        /// `E[ε | x_t]`, `batch × D`.
        public var noise: [Double]
        /// `log p_ᾱ(x_t)`, the log-density of the noised mixture `Σ_k π_k N(√ᾱ μ_k, C_k(ᾱ))`, `batch` values.
        public var logDensity: [Double]
        /// Posterior component probabilities `w_k(x_t)`, `batch × K` row-major.
        public var componentWeights: [Double]
    }

    /// The exact posterior at noise level `alphaBar` ∈ [0, 1] for `batch` samples `x` (`batch × D`).
    ///
    /// Given component k, `x_t ~ N(√ᾱ μ_k, C_k)` with `C_k = U_k(ᾱΛ_k + (1−ᾱ)I)U_kᵀ` and
    /// `E[ε | x_t, k] = √(1−ᾱ) C_k⁻¹ (x_t − √ᾱ μ_k)`; the component posterior is
    /// `w_k ∝ π_k N(x_t; √ᾱ μ_k, C_k)` (normalised with log-sum-exp) and
    /// `E[ε | x_t] = Σ_k w_k E[ε | x_t, k]`.
    ///
    /// Per component, over the whole batch (in chunks of rows): `Y_k = (X − √ᾱ μ_k) U_k` (one GEMM)
    /// and the Mahalanobis terms `Σ_j Y_k²/d` with `d = ᾱλ + 1 − ᾱ`; then, once the weights are
    /// known, `(√(1−ᾱ) w_k ∘ Y_k/d) U_kᵀ` (a second GEMM) accumulated into the result, over the rows
    /// where `w_k ≥ 1e-20` (at low noise the posterior is nearly one-hot, so this is ~1/K of them).
    public func posterior(_ x: [Double], batch: Int, alphaBar: Double) throws -> Posterior {
        try evaluate(x, batch: batch, alphaBar: alphaBar, wantNoise: true)
    }

    /// `E[ε | x_t]` for a Float32 batch (computed in Float64, rounded once at the end).
    public func posteriorNoise(_ x: [Float], batch: Int, alphaBar: Double) throws -> [Float] {
        let noise = try evaluate(x.map(Double.init), batch: batch, alphaBar: alphaBar, wantNoise: true).noise
        return noise.map { Float($0) }
    }

    /// `E[ε | x_t]` in Float64.
    public func posteriorNoise(_ x: [Double], batch: Int, alphaBar: Double) throws -> [Double] {
        try evaluate(x, batch: batch, alphaBar: alphaBar, wantNoise: true).noise
    }

    /// `log p(x)` of the mixture (`alphaBar = 1`, the default) or of its noised marginal at
    /// `alphaBar`: `log Σ_k π_k N(x; √ᾱ μ_k, ᾱΣ_k + (1−ᾱ)I)`, for `batch` samples.
    public func logDensity(_ x: [Double], batch: Int, alphaBar: Double = 1) throws -> [Double] {
        try evaluate(x, batch: batch, alphaBar: alphaBar, wantNoise: false).logDensity
    }

    /// Components whose posterior weight is below this are left out of `E[ε | x_t]` (their share
    /// is far below Float64 resolution); at low noise this skips most of the second GEMMs.
    static let negligibleWeight = 1e-20
    /// Rows per chunk are chosen so the per-component projections of a chunk stay near 64 MB.
    static let chunkBudget = 8 << 20

    private func evaluate(_ x: [Double], batch: Int, alphaBar: Double, wantNoise: Bool) throws -> Posterior {
        guard batch >= 0, x.count == batch * dimension else {
            throw GaussianMixtureError.inputSize(batch: batch, dimension: dimension, count: x.count)
        }
        guard alphaBar >= 0, alphaBar <= 1 else { throw GaussianMixtureError.invalidAlphaBar(alphaBar) }
        if let bad = x.firstIndex(where: { !$0.isFinite }) {
            throw GaussianMixtureError.nonFiniteInput(index: bad, value: x[bad])
        }
        let n = dimension, kCount = components.count
        let sqrtA = alphaBar.squareRoot(), sqrtNoise = (1 - alphaBar).squareRoot()
        let logTwoPi = log(2 * Double.pi)

        // Per component: 1/d with d = ᾱλ + 1 − ᾱ (the eigenvalues of C_k), and
        // log π_k − ½(D log 2π + log det C_k).
        var inverses: [[Double]] = []
        var logConstants: [Double] = []
        for (k, spectrum) in spectra.enumerated() {
            let d = spectrum.eigenvalues.map { alphaBar * $0 + (1 - alphaBar) }
            inverses.append(d.map { 1 / $0 })
            logConstants.append(log(components[k].weight) - 0.5 * (Double(n) * logTwoPi + d.reduce(0) { $0 + log($1) }))
        }

        var noise = [Double](repeating: 0, count: wantNoise ? batch * n : 0)
        var logDensity = [Double](repeating: 0, count: batch)
        var weights = [Double](repeating: 0, count: batch * kCount)
        let chunk = max(1, min(batch, Self.chunkBudget / max(1, kCount * n)))
        // projected[k]: Y_k = (X − √ᾱ μ_k) U_k for the chunk's rows.
        var projected = [Double](repeating: 0, count: kCount * chunk * n)
        var gathered = [Double](repeating: 0, count: wantNoise ? chunk * n : 0)
        var product = [Double](repeating: 0, count: wantNoise ? chunk * n : 0)

        for start in stride(from: 0, to: batch, by: chunk) {
            let rows = min(chunk, batch - start)
            // Pass 1: Mahalanobis terms and log π_k N(x_t; √ᾱ μ_k, C_k) for every component.
            for (k, spectrum) in spectra.enumerated() {
                x.withUnsafeBufferPointer { xb in
                    spectrum.eigenvectors.withUnsafeBufferPointer { u in
                        projected.withUnsafeMutableBufferPointer { pb in
                            let y = UnsafeMutableBufferPointer(rebasing: pb[(k * chunk * n)..<((k * chunk + rows) * n)])
                            Linalg.gemm(m: rows, n: n, k: n,
                                        a: UnsafeBufferPointer(rebasing: xb[(start * n)..<((start + rows) * n)]),
                                        b: u, c: y)
                            inverses[k].withUnsafeBufferPointer { inv in
                                spectrum.projectedMean.withUnsafeBufferPointer { pm in
                                    for r in 0..<rows {
                                        var q = 0.0
                                        for j in 0..<n {
                                            let v = y[r * n + j] - sqrtA * pm[j]
                                            y[r * n + j] = v
                                            q += v * v * inv[j]
                                        }
                                        weights[(start + r) * kCount + k] = logConstants[k] - 0.5 * q
                                    }
                                }
                            }
                        }
                    }
                }
            }
            // Log-sum-exp over components: log p_ᾱ(x_t) and the posterior weights w_k.
            for r in start..<(start + rows) {
                let row = (r * kCount)..<((r + 1) * kCount)
                let top = weights[row].max() ?? 0
                var sum = 0.0
                for i in row { sum += exp(weights[i] - top) }
                logDensity[r] = top + log(sum)
                for i in row { weights[i] = exp(weights[i] - logDensity[r]) }
            }
            guard wantNoise else { continue }
            // Pass 2: E[ε | x_t] += (√(1−ᾱ) w_k ∘ Y_k / d) U_kᵀ over the rows where w_k matters.
            for (k, spectrum) in spectra.enumerated() {
                let members = (0..<rows).filter { weights[(start + $0) * kCount + k] >= Self.negligibleWeight }
                if members.isEmpty { continue }
                projected.withUnsafeBufferPointer { pb in
                    gathered.withUnsafeMutableBufferPointer { gb in
                        inverses[k].withUnsafeBufferPointer { inv in
                            for (i, r) in members.enumerated() {
                                let scale = sqrtNoise * weights[(start + r) * kCount + k]
                                let source = (k * chunk + r) * n
                                for j in 0..<n { gb[i * n + j] = pb[source + j] * inv[j] * scale }
                            }
                        }
                    }
                }
                let m = members.count
                gathered.withUnsafeBufferPointer { gb in
                    spectrum.eigenvectors.withUnsafeBufferPointer { u in
                        noise.withUnsafeMutableBufferPointer { eb in
                            product.withUnsafeMutableBufferPointer { prod in
                                let a = UnsafeBufferPointer(rebasing: gb[0..<(m * n)])
                                if m == rows {
                                    // Every row takes part: accumulate straight into the result.
                                    let out = UnsafeMutableBufferPointer(rebasing: eb[(start * n)..<((start + rows) * n)])
                                    Linalg.gemm(.none, .transpose, m: m, n: n, k: n, a: a, b: u, beta: 1, c: out)
                                } else {
                                    Linalg.gemm(.none, .transpose, m: m, n: n, k: n, a: a, b: u, c: prod)
                                    for (i, r) in members.enumerated() {
                                        let target = (start + r) * n
                                        for j in 0..<n { eb[target + j] += prod[i * n + j] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return Posterior(noise: noise, logDensity: logDensity, componentWeights: weights)
    }

    // MARK: - Exact sampling

    /// One exact sample from one stream: a single `fillStandardNormal` call of `D + 1` values;
    /// the first picks the component (`u = Φ(z₀)`, the first k with `u < π_1 + … + π_k`), the rest
    /// are `z` in `x = μ_k + Σ_k^{1/2} z` with the symmetric square root `Σ^{1/2} = U √Λ Uᵀ`. Unlike
    /// `U √Λ`, it does not depend on the basis the eigensolver picks inside a repeated eigenvalue
    /// (fashion-gmm's constant border pixels give every Σ_k the eigenvalue 1e-3 many times over), so
    /// the same seed gives the same samples, to rounding, on every CPU and BLAS kernel.
    public func sample(using source: inout some RandomSource) -> [Double] {
        var draws = [Float](repeating: 0, count: dimension + 1)
        draws.withUnsafeMutableBufferPointer { source.fillStandardNormal($0) }
        return transform(draws: draws, count: 1)
    }

    /// One exact sample per source, computed together (per component, one GEMM over its samples).
    /// Sample `i` is identical to `sample(using: &sources[i])`.
    public func samples(from sources: inout [any RandomSource]) -> [Double] {
        let stride = dimension + 1
        var draws = [Float](repeating: 0, count: sources.count * stride)
        draws.withUnsafeMutableBufferPointer { all in
            for i in sources.indices {
                guard let base = all.baseAddress else { return }
                sources[i].fillStandardNormal(UnsafeMutableBufferPointer(start: base + i * stride, count: stride))
            }
        }
        return transform(draws: draws, count: sources.count)
    }

    /// `count` exact samples as Float32, sample `i` drawn from `kind.makeSource(seed: seed &+ i)`
    /// (each sample owns its stream, ARCHITECTURE.md, Randomness), so a sample does not depend on `count`.
    public func samples(count: Int, seed: UInt64, kind: RandomKind = .philox) -> [Float] {
        var sources = (0..<count).map { kind.makeSource(seed: seed &+ UInt64($0)) }
        return samples(from: &sources).map { Float($0) }
    }

    /// Maps rows of `[z₀, z]` (D + 1 normals each) to samples.
    private func transform(draws: [Float], count: Int) -> [Double] {
        let n = dimension, stride = n + 1
        var cumulative: [Double] = []
        var total = 0.0
        for c in components { total += c.weight; cumulative.append(total) }
        // Group samples by component.
        var members = [[Int]](repeating: [], count: components.count)
        for i in 0..<count {
            let u = 0.5 * erfc(-Double(draws[i * stride]) / 2.0.squareRoot())
            let k = cumulative.firstIndex(where: { u < $0 }) ?? components.count - 1
            members[k].append(i)
        }
        var out = [Double](repeating: 0, count: count * n)
        for (k, rows) in members.enumerated() where !rows.isEmpty {
            let spectrum = spectra[k]
            // X = ((Z U_k) √Λ_k) U_kᵀ + μ_k, i.e. Z Σ_k^{1/2} + μ_k (rows × D).
            var z = [Double](repeating: 0, count: rows.count * n)
            for (r, i) in rows.enumerated() {
                for j in 0..<n { z[r * n + j] = Double(draws[i * stride + 1 + j]) }
            }
            var scaled = Linalg.matmul(z, .none, spectrum.eigenvectors, .none, m: rows.count, n: n, k: n)
            let roots = spectrum.eigenvalues.map { $0.squareRoot() }
            for r in 0..<rows.count { for j in 0..<n { scaled[r * n + j] *= roots[j] } }
            let x = Linalg.matmul(scaled, .none, spectrum.eigenvectors, .transpose, m: rows.count, n: n, k: n)
            let mean = components[k].mean
            for (r, i) in rows.enumerated() {
                for j in 0..<n { out[i * n + j] = x[r * n + j] + mean[j] }
            }
        }
        return out
    }
}

/// The oracle as a network: ε-prediction `E[ε | x_t]` at `ᾱ = alphasCumprod[timestep]`.
public struct GaussianMixtureDenoiser: Denoiser {
    /// The mixture whose noised marginals give the exact ε.
    public let mixture: GaussianMixture
    /// ᾱ[j] for j = 0..<T (Float64, ARCHITECTURE.md, Time and schedules).
    public let alphasCumprod: [Double]

    /// The mixture's sample shape.
    public var sampleShape: [Int] { mixture.sampleShape }
    /// The oracle predicts ε.
    public var predictionType: PredictionType { .epsilon }

    /// `alphasCumprod` must be non-empty with every value in (0, 1].
    public init(mixture: GaussianMixture, alphasCumprod: [Double]) throws {
        guard !alphasCumprod.isEmpty else { throw GaussianMixtureError.emptyAlphaTable }
        for a in alphasCumprod where !(a > 0 && a <= 1) { throw GaussianMixtureError.invalidAlphaBar(a) }
        self.mixture = mixture
        self.alphasCumprod = alphasCumprod
    }

    /// At a model index the table's ᾱ; between two indices, ᾱ of the linearly interpolated
    /// log σ, σ = √((1 − ᾱ)/ᾱ) (k-diffusion `DiscreteSchedule.t_to_sigma`), so fractional-t
    /// samplers see the continuous schedule a discrete-time network is sampled on.
    public func predict(_ x: [Float], batch: Int, timestep: Double) throws -> [Float] {
        guard timestep >= 0, timestep <= Double(alphasCumprod.count - 1) else {
            throw GaussianMixtureError.timestepOutOfRange(timestep, count: alphasCumprod.count)
        }
        let low = Int(timestep.rounded(.down)), w = timestep - Double(low)
        var alphaBar = alphasCumprod[low]
        if w > 0 {
            func logSigma(_ a: Double) -> Double { 0.5 * log((1 - a) / a) }
            let s = exp((1 - w) * logSigma(alphasCumprod[low]) + w * logSigma(alphasCumprod[low + 1]))
            alphaBar = 1 / (1 + s * s)
        }
        return try mixture.posteriorNoise(x, batch: batch, alphaBar: alphaBar)
    }
}

/// Invalid mixtures and invalid inputs to them.
public enum GaussianMixtureError: Error, LocalizedError, Equatable {
    case noComponents
    case invalidSampleShape([Int])
    case invalidWeight(component: Int, Double)
    case weightsDoNotSumToOne(Double)
    case meanSize(component: Int, expected: Int, actual: Int)
    case covarianceSize(component: Int, expected: Int, actual: Int)
    case nonFinite(component: Int)
    case notSymmetric(component: Int, row: Int, column: Int, Double, Double)
    case notPositiveDefinite(component: Int, smallestEigenvalue: Double)
    case eigendecompositionFailed(component: Int, reason: String)
    case inputSize(batch: Int, dimension: Int, count: Int)
    case nonFiniteInput(index: Int, value: Double)
    case invalidAlphaBar(Double)
    case timestepOutOfRange(Double, count: Int)
    case emptyAlphaTable
    case fitting(String)

    public var errorDescription: String? {
        switch self {
        case .noComponents: "a Gaussian mixture needs at least one component"
        case let .invalidSampleShape(shape): "sample shape \(shape) must be non-empty with positive sizes"
        case let .invalidWeight(k, w): "component \(k): weight \(w) is not a positive finite number"
        case let .weightsDoNotSumToOne(sum): "component weights sum to \(sum), not 1"
        case let .meanSize(k, expected, actual): "component \(k): mean has \(actual) values, expected \(expected)"
        case let .covarianceSize(k, expected, actual):
            "component \(k): covariance has \(actual) values, expected \(expected)"
        case let .nonFinite(k): "component \(k): mean or covariance contains NaN or infinity"
        case let .notSymmetric(k, i, j, a, b):
            "component \(k): covariance is not symmetric: [\(i), \(j)] = \(a) but [\(j), \(i)] = \(b)"
        case let .notPositiveDefinite(k, smallest):
            "component \(k): covariance is not positive definite (smallest eigenvalue \(smallest))"
        case let .eigendecompositionFailed(k, reason): "component \(k): eigendecomposition failed: \(reason)"
        case let .inputSize(batch, dimension, count):
            "input has \(count) values, expected batch \(batch) × dimension \(dimension) = \(batch * dimension)"
        case let .nonFiniteInput(index, value):
            "input element \(index) is \(value); the oracle needs finite inputs"
        case let .invalidAlphaBar(a): "ᾱ = \(a) is outside [0, 1] (the oracle's table needs values in (0, 1])"
        case let .timestepOutOfRange(t, count): "timestep \(t) is outside [0, \(count - 1)]"
        case .emptyAlphaTable: "the ᾱ table is empty"
        case let .fitting(reason): "cannot fit the Gaussian mixture: \(reason)"
        }
    }
}

extension GaussianMixture: ExactDistribution {
    /// log p(x) under the clean mixture, per sample.
    public func logDensity(_ x: [Double], batch: Int) throws -> [Double] { try logDensity(x, batch: batch, alphaBar: 1) }
}
