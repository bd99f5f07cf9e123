import Diffusion
import Foundation
import Models
import Testing
import TestSupport

/// Tests/Fixtures/models/gmm_eps.json, made by `python3 tools/make_gmm_goldens.py`
/// (numpy.linalg.solve and scipy.stats.multivariate_normal; versions inside the file).
struct GMMGoldens: Decodable {
    struct Evaluation: Decodable {
        var alphaBar: Double
        var x: [[Double]]
        var eps: [[Double]]
        var logDensity: [Double]
        var componentWeights: [[Double]]
    }

    struct Case: Decodable {
        var name: String
        var sampleShape: [Int]
        var weights: [Double]
        var means: [[Double]]
        var covariances: [[[Double]]]
        var mixtureMean: [Double]
        var mixtureCovariance: [[Double]]
        var evaluations: [Evaluation]

        func mixture() throws -> GaussianMixture {
            let components = weights.indices.map {
                GaussianMixture.Component(weight: weights[$0], mean: means[$0], covariance: covariances[$0].flatMap { $0 })
            }
            return try GaussianMixture(components: components, sampleShape: sampleShape)
        }
    }

    struct Fit: Decodable {
        var sampleShape: [Int]
        var regularization: Double
        var samples: [[Double]]
        var labels: [Int]
        var weights: [Double]
        var means: [[Double]]
        var covariances: [[[Double]]]
    }

    var numpy: String
    var scipy: String
    var cases: [Case]
    var fit: Fit

    static func load() throws -> GMMGoldens {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(GMMGoldens.self, from: Data(contentsOf: Fixtures.url("models/gmm_eps.json")))
    }

    static func golden(_ name: String) throws -> Case {
        try #require(try load().cases.first { $0.name == name }, "no golden case \(name)")
    }
}

@Suite("Gaussian mixture oracle")
struct GaussianMixtureTests {
    static let caseNames = ["d3k3", "d5k2", "d4k1", "d3k3_separated"]

    @Test("E[ε | x_t], log p_ᾱ(x_t) and component weights match numpy/scipy", arguments: caseNames)
    func posteriorMatchesGolden(name: String) throws {
        let golden = try GMMGoldens.golden(name)
        let mixture = try golden.mixture()
        for evaluation in golden.evaluations {
            let batch = evaluation.x.count
            let posterior = try mixture.posterior(evaluation.x.flatMap { $0 }, batch: batch, alphaBar: evaluation.alphaBar)
            // Eigendecomposition vs LU solve, both backward stable: the worst seen is ~3e-13
            // relative (condition numbers up to 5e4 in the separated case).
            let eps = closeness(posterior.noise, evaluation.eps.flatMap { $0 }, rtol: 1e-11, atol: 1e-12)
            #expect(eps.passes, "\(name) ᾱ=\(evaluation.alphaBar) ε: \(eps)")
            let logp = closeness(posterior.logDensity, evaluation.logDensity, rtol: 1e-11, atol: 1e-10)
            #expect(logp.passes, "\(name) ᾱ=\(evaluation.alphaBar) log p: \(logp)")
            let weights = closeness(posterior.componentWeights, evaluation.componentWeights.flatMap { $0 },
                                    rtol: 1e-9, atol: 1e-12)
            #expect(weights.passes, "\(name) ᾱ=\(evaluation.alphaBar) weights: \(weights)")
            // The other entry points agree with `posterior`.
            let eps64 = try mixture.posteriorNoise(evaluation.x.flatMap { $0 }, batch: batch, alphaBar: evaluation.alphaBar)
            #expect(eps64 == posterior.noise)
            let logDensity = try mixture.logDensity(evaluation.x.flatMap { $0 }, batch: batch, alphaBar: evaluation.alphaBar)
            #expect(closeness(logDensity, posterior.logDensity, rtol: 1e-14, atol: 1e-12).passes)
        }
    }

    @Test("Exact mixture mean and covariance", arguments: caseNames)
    func moments(name: String) throws {
        let golden = try GMMGoldens.golden(name)
        let mixture = try golden.mixture()
        let mean = closeness(mixture.mean, golden.mixtureMean, rtol: 1e-13, atol: 1e-13)
        #expect(mean.passes, "\(mean)")
        let cov = closeness(mixture.covariance, golden.mixtureCovariance.flatMap { $0 }, rtol: 1e-12, atol: 1e-13)
        #expect(cov.passes, "\(cov)")
    }

    @Test("The denoiser predicts E[ε | x_t] at ᾱ[j] and rejects bad input")
    func denoiser() throws {
        let golden = try GMMGoldens.golden("d5k2")
        let mixture = try golden.mixture()
        let alphas = [0.99, 0.7, 0.3, 0.01]
        let denoiser = try GaussianMixtureDenoiser(mixture: mixture, alphasCumprod: alphas)
        #expect(denoiser.sampleShape == [1, 5])
        #expect(denoiser.predictionType == .epsilon)
        #expect(!denoiser.learnsVariance)
        let x: [Float] = (0..<15).map { Float($0) * 0.25 - 1.5 }
        for j in alphas.indices {
            let predicted = try denoiser.predict(x, batch: 3, timestep: Double(j))
            let exact = try mixture.posteriorNoise(x.map(Double.init), batch: 3, alphaBar: alphas[j])
            #expect(predicted == exact.map { Float($0) })
        }
        #expect(throws: GaussianMixtureError.timestepOutOfRange(4, count: 4)) {
            try denoiser.predict(x, batch: 3, timestep: 4)
        }
        #expect(throws: GaussianMixtureError.inputSize(batch: 2, dimension: 5, count: 15)) {
            try denoiser.predict(x, batch: 2, timestep: 0)
        }
        var diverged = x
        diverged[7] = .nan
        let error = #expect(throws: GaussianMixtureError.self) { try denoiser.predict(diverged, batch: 3, timestep: 0) }
        if case .nonFiniteInput(7, _)? = error {} else { Issue.record("expected nonFiniteInput at 7, got \(String(describing: error))") }
        #expect(throws: GaussianMixtureError.invalidAlphaBar(0)) {
            try GaussianMixtureDenoiser(mixture: mixture, alphasCumprod: [0.5, 0])
        }
        #expect(throws: GaussianMixtureError.invalidAlphaBar(1.5)) {
            try mixture.posteriorNoise([Double](repeating: 0, count: 5), batch: 1, alphaBar: 1.5)
        }
    }

    @Test("Invalid mixtures are rejected with the component named")
    func validation() throws {
        let identity: [Double] = [1, 0, 0, 1]
        func make(_ components: [GaussianMixture.Component], shape: [Int] = [2]) throws -> GaussianMixture {
            try GaussianMixture(components: components, sampleShape: shape)
        }
        #expect(throws: GaussianMixtureError.noComponents) { try make([]) }
        #expect(throws: GaussianMixtureError.invalidSampleShape([0, 2])) {
            try make([.init(weight: 1, mean: [0, 0], covariance: identity)], shape: [0, 2])
        }
        #expect(throws: GaussianMixtureError.meanSize(component: 1, expected: 2, actual: 3)) {
            try make([.init(weight: 0.5, mean: [0, 0], covariance: identity),
                      .init(weight: 0.5, mean: [0, 0, 0], covariance: identity)])
        }
        #expect(throws: GaussianMixtureError.invalidWeight(component: 0, -0.5)) {
            try make([.init(weight: -0.5, mean: [0, 0], covariance: identity)])
        }
        #expect(throws: GaussianMixtureError.weightsDoNotSumToOne(0.9)) {
            try make([.init(weight: 0.9, mean: [0, 0], covariance: identity)])
        }
        #expect(throws: GaussianMixtureError.notSymmetric(component: 0, row: 0, column: 1, 0.5, 0.4)) {
            try make([.init(weight: 1, mean: [0, 0], covariance: [1, 0.5, 0.4, 1])])
        }
        #expect(throws: GaussianMixtureError.notPositiveDefinite(component: 0, smallestEigenvalue: -1)) {
            try make([.init(weight: 1, mean: [0, 0], covariance: [0, 1, 1, 0])])
        }
        #expect(throws: GaussianMixtureError.nonFinite(component: 0)) {
            try make([.init(weight: 1, mean: [.nan, 0], covariance: identity)])
        }
        // Weights within 1e-6 of summing to one are normalised.
        let mixture = try make([.init(weight: 0.3, mean: [0, 0], covariance: identity),
                                .init(weight: 0.7 + 5e-7, mean: [1, 1], covariance: identity)])
        #expect(abs(mixture.components.map(\.weight).reduce(0, +) - 1) < 1e-15)
    }

    /// Two well-separated components in D = 3: component choice shows as which side a sample
    /// falls on; moments are checked against the exact mixture moments.
    @Test("Exact sampling: component frequencies and moments within 5 standard errors")
    func samplingMoments() throws {
        let covA: [Double] = [1.0, 0.3, 0.0, 0.3, 0.5, -0.1, 0.0, -0.1, 0.2]
        let covB: [Double] = [0.4, 0.0, 0.1, 0.0, 0.9, 0.2, 0.1, 0.2, 0.6]
        let mixture = try GaussianMixture(components: [
            .init(weight: 0.3, mean: [-10, 1, 2], covariance: covA),
            .init(weight: 0.7, mean: [10, -1, 0], covariance: covB),
        ], sampleShape: [3])
        let n = 20_000
        let samples = mixture.samples(count: n, seed: 42)
        #expect(samples.count == n * 3)
        let x = samples.map(Double.init)

        // Component frequencies: binomial standard error.
        let countA = Double((0..<n).filter { x[$0 * 3] < 0 }.count)
        let seA = (0.3 * 0.7 / Double(n)).squareRoot()
        #expect(abs(countA / Double(n) - 0.3) < 5 * seA, "fraction in component A: \(countA / Double(n))")

        // Within component B (the larger), mean and covariance of a Gaussian.
        let rowsB = (0..<n).filter { x[$0 * 3] > 0 }
        let nB = Double(rowsB.count)
        var meanB = [0.0, 0, 0]
        for r in rowsB { for i in 0..<3 { meanB[i] += x[r * 3 + i] / nB } }
        for i in 0..<3 {
            let se = (covB[i * 3 + i] / nB).squareRoot()
            #expect(abs(meanB[i] - mixture.components[1].mean[i]) < 5 * se, "mean B[\(i)] = \(meanB[i])")
        }
        for i in 0..<3 {
            for j in 0..<3 {
                var s = 0.0
                for r in rowsB { s += (x[r * 3 + i] - meanB[i]) * (x[r * 3 + j] - meanB[j]) }
                let estimate = s / (nB - 1)
                // Var of a Gaussian sample covariance entry: (Σii Σjj + Σij²) / n.
                let se = ((covB[i * 3 + i] * covB[j * 3 + j] + covB[i * 3 + j] * covB[i * 3 + j]) / nB).squareRoot()
                #expect(abs(estimate - covB[i * 3 + j]) < 5 * se, "cov B[\(i),\(j)] = \(estimate)")
            }
        }

        // Whole-mixture mean against the exact mixture mean.
        var mean = [0.0, 0, 0]
        for r in 0..<n { for i in 0..<3 { mean[i] += x[r * 3 + i] / Double(n) } }
        let cov = mixture.covariance
        for i in 0..<3 {
            let se = (cov[i * 3 + i] / Double(n)).squareRoot()
            #expect(abs(mean[i] - mixture.mean[i]) < 5 * se, "mixture mean[\(i)] = \(mean[i]) vs \(mixture.mean[i])")
        }
    }

    @Test("Exact samples use the symmetric square root, whatever basis a repeated eigenvalue gets")
    func samplingUsesTheSymmetricSquareRoot() throws {
        // Σ = I + u uᵀ has the eigenvalue 1 three times; Σ^{1/2} = I + (√(1+|u|²) − 1)/|u|² · u uᵀ.
        let u: [Double] = [1, 2, 0, -1], mean: [Double] = [0.5, -1, 2, 0]
        let uu = u.reduce(0) { $0 + $1 * $1 }
        let covariance: [Double] = (0..<16).map { k -> Double in
            let (i, j) = (k / 4, k % 4)
            return (i == j ? 1 : 0) + u[i] * u[j]
        }
        let mixture = try GaussianMixture(components: [.init(weight: 1, mean: mean, covariance: covariance)],
                                          sampleShape: [4])
        let samples = mixture.samples(count: 5, seed: 99)
        let c = ((1 + uu).squareRoot() - 1) / uu
        for i in 0..<5 {
            var source = RandomKind.philox.makeSource(seed: 99 + UInt64(i))
            var draws = [Float](repeating: 0, count: 5)
            draws.withUnsafeMutableBufferPointer { source.fillStandardNormal($0) }
            let z = draws.dropFirst().map(Double.init)
            let uz: Double = zip(u, z).reduce(0) { $0 + $1.0 * $1.1 }
            for j in 0..<4 {
                let expected = mean[j] + z[j] + c * u[j] * uz
                #expect(abs(Double(samples[i * 4 + j]) - expected) < 1e-5, "sample \(i)[\(j)]: \(samples[i * 4 + j]) vs \(expected)")
            }
        }
    }

    @Test("A sample depends only on its own stream, not on the batch")
    func samplingStreams() throws {
        let mixture = try GMMGoldens.golden("d3k3").mixture()
        let batch = mixture.samples(count: 7, seed: 1234)
        let prefix = mixture.samples(count: 3, seed: 1234)
        #expect(Array(batch[0..<9]) == prefix)
        for i in 0..<7 {
            var source = RandomKind.philox.makeSource(seed: 1234 + UInt64(i))
            let single = mixture.sample(using: &source)
            #expect(single.map { Float($0) } == Array(batch[(i * 3)..<(i * 3 + 3)]))
        }
    }

    @Test("Log-density at ᾱ = 1 integrates the data density: a 1-D mixture sums to 1")
    func logDensityNormalised() throws {
        let mixture = try GaussianMixture(components: [
            .init(weight: 0.25, mean: [-2], covariance: [0.09]),
            .init(weight: 0.75, mean: [1.5], covariance: [0.64]),
        ], sampleShape: [1])
        let h = 0.001
        let grid = stride(from: -8.0, through: 8.0, by: h).map { $0 }
        let logp = try mixture.logDensity(grid, batch: grid.count)
        let integral = logp.reduce(0) { $0 + exp($1) * h }
        #expect(abs(integral - 1) < 1e-9, "∫p = \(integral)")
    }
}
