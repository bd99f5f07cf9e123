import Diffusion
import Foundation
import Media
import Metrics
import Models

/// Scores a cell's samples.
///
/// Feature-space metrics (`SweepSpec.metrics`) use the Fashion-MNIST classifier's 128-d features
/// and logits against the reference images. When the model is a Gaussian-mixture oracle, exact
/// metrics are added that need no feature network:
/// - `oracle_frechet`: Fréchet distance in pixel space between the samples' mean/covariance and
///   the mixture's exact mean/covariance;
/// - `log_density`: the mean log-density of the samples under the true mixture;
/// and, next to each, the same statistic for as many exact samples (`…_exact`: the finite-sample
/// floor), drawn with seeds `seed + 2⁴⁰ + i` so they share no stream with the sweep's samples.
/// The feature metrics of those exact samples are reported as `fid_exact`, `is_mean_exact`.
public final class SweepEvaluator: @unchecked Sendable {
    public let spec: SweepSpec
    let classifier: FashionClassifier?
    let reference: Features?
    let mixture: GaussianMixture?
    private var exactCache: [Int: [String: Double]] = [:]

    public static let exactSeedOffset: UInt64 = 1 << 40

    /// - Parameters:
    ///   - classifierDirectory: needed when `spec.metrics` is not empty.
    public init(spec: SweepSpec, model: LoadedModel, classifierDirectory: URL?, log: (String) -> Void) throws {
        self.spec = spec
        mixture = (model.denoiser as? GaussianMixtureDenoiser)?.mixture
        guard !spec.metrics.isEmpty else {
            classifier = nil
            reference = nil
            return
        }
        guard let classifierDirectory else {
            throw SweepError.invalidSpec("--metrics \(spec.metrics.joined(separator: ",")) need the Fashion-MNIST classifier")
        }
        let network = try FashionClassifier(directory: classifierDirectory)
        guard model.denoiser.sampleShape == network.inputShape else {
            throw SweepError.invalidSpec("the classifier takes \(network.inputShape) images, the model makes "
                                         + "\(model.denoiser.sampleShape); pass --metrics '' for exact metrics only")
        }
        classifier = network
        let selection = try spec.referenceSelection()
        log("reference features: \(selection)")
        let images = try selection.modelSpaceImages()
        reference = try Self.embed(images, with: network).features
    }

    /// Metrics of `samples` (N × D, model space). Non-finite samples are counted
    /// (`nonfinite_samples`) and the feature metrics are left out when there are any.
    public func evaluate(_ samples: [Float], count: Int) throws -> [String: Double] {
        var out: [String: Double] = [:]
        let nonFinite = (0..<count).count { i in
            let d = samples.count / count
            return samples[(i * d)..<((i + 1) * d)].contains { !$0.isFinite }
        }
        if nonFinite > 0 {
            out["nonfinite_samples"] = Double(nonFinite)
            return out
        }
        try out.merge(featureMetrics(samples), uniquingKeysWith: { a, _ in a })
        if let mixture {
            try out.merge(exactMetrics(samples, count: count, mixture: mixture), uniquingKeysWith: { a, _ in a })
            for (key, value) in try exactSampleMetrics(count: count, mixture: mixture) { out[key] = value }
        }
        return out
    }

    func featureMetrics(_ samples: [Float]) throws -> [String: Double] {
        guard let classifier, let reference else { return [:] }
        let (x, logits) = try Self.embed(samples, with: classifier)
        var out: [String: Double] = [:]
        let wanted = Set(spec.metrics)
        if wanted.contains("fid") { out["fid"] = try Metrics.frechetDistance(x, reference).value }
        if wanted.contains("is") {
            let score = try Metrics.inceptionScore(logits: logits)
            out["is_mean"] = score.mean
            out["is_std"] = score.std
        }
        if wanted.contains("kid") {
            let size = min(1000, x.count, reference.count)
            let kid = try Metrics.kernelDistance(x, reference, subsetCount: 100, subsetSize: size)
            out["kid_mean"] = kid.mean
            out["kid_std"] = kid.std
        }
        if wanted.contains("precision") || wanted.contains("recall") {
            let pr = try Metrics.precisionRecall(real: reference, generated: x)
            if wanted.contains("precision") { out["precision"] = pr.precision }
            if wanted.contains("recall") { out["recall"] = pr.recall }
        }
        return out
    }

    func exactMetrics(_ samples: [Float], count: Int, mixture: GaussianMixture) throws -> [String: Double] {
        var stats = FeatureStatistics(dimension: mixture.dimension, name: "samples")
        try stats.add(samples)
        let exact = try GaussianStatistics(mean: mixture.mean, covariance: mixture.covariance, name: "oracle")
        let frechet = try Metrics.frechetDistance(stats.gaussian(), exact).value
        var total = 0.0
        let d = mixture.dimension
        for start in stride(from: 0, to: count, by: 500) {
            let n = min(500, count - start)
            let x = samples[(start * d)..<((start + n) * d)].map(Double.init)
            total += try mixture.logDensity(x, batch: n).reduce(0, +)
        }
        return ["oracle_frechet": frechet, "log_density": total / Double(count)]
    }

    /// The same metrics for `count` exact samples of the mixture, computed once per count.
    func exactSampleMetrics(count: Int, mixture: GaussianMixture) throws -> [String: Double] {
        if let cached = exactCache[count] { return cached }
        let samples = mixture.samples(count: count, seed: spec.seed &+ Self.exactSeedOffset, kind: spec.rng)
        var out: [String: Double] = [:]
        for (key, value) in try exactMetrics(samples, count: count, mixture: mixture) { out[key + "_exact"] = value }
        for (key, value) in try featureMetrics(samples) where key == "fid" || key == "is_mean" { out[key + "_exact"] = value }
        exactCache[count] = out
        return out
    }

    static func embed(_ images: [Float], with network: FashionClassifier) throws -> (features: Features, logits: Features) {
        let out = try network.embed(images)
        return (try Features(out.features, dimension: network.featureDimension, name: "features"),
                try Features(out.logits, dimension: network.classes.count, name: "logits"))
    }
}
