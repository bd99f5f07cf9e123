import Diffusion
import Foundation
import Media
import Metrics

/// Scores a cell's samples.
///
/// Feature-space metrics (`SweepSpec.metrics`, computed by the spec's `MetricSuite`) use the
/// feature network's features and logits against the reference. When the model has an exact
/// distribution (the Gaussian-mixture oracle), exact metrics are added that need no network:
/// - `oracle_frechet`: Fréchet distance in pixel space between the samples' mean/covariance and
///   the distribution's exact mean/covariance;
/// - `log_density`: the mean log-density of the samples under the true distribution;
/// and, next to each, the same statistic for as many exact samples (`…_exact`: the finite-sample
/// floor), drawn with seeds `seed + 2⁴⁰ + i` so they share no stream with the sweep's samples.
/// The feature metrics of those exact samples are reported as `fid_exact`, `is_mean_exact`.
public final class SweepEvaluator: @unchecked Sendable {
    public let spec: SweepSpec
    let suite: MetricSuite
    let network: (any FeatureNetwork)?
    let reference: FeatureSet?
    let sampleShape: [Int]
    let exact: (any ExactDistribution)?
    private var exactCache: [Int: [String: Double]] = [:]

    public static let exactSeedOffset: UInt64 = 1 << 40

    /// - Parameters:
    ///   - network, reference: needed when `spec.metrics` is not empty (`Scoring.reference` makes
    ///     the reference's features with the same network).
    public init(spec: SweepSpec, model: LoadedModel, network: (any FeatureNetwork)?, reference: FeatureSet?) throws {
        self.spec = spec
        suite = try spec.metricSuite()
        exact = model.exact
        sampleShape = model.denoiser.sampleShape
        guard !suite.metrics.isEmpty else {
            self.network = nil
            self.reference = nil
            return
        }
        guard let network, let reference else {
            throw SweepError.invalidSpec("--metrics \(spec.metrics.joined(separator: ",")) need a feature network and a reference")
        }
        if let required = network.requiredShape, required != model.denoiser.sampleShape {
            throw SweepError.invalidSpec("the feature network takes \(Scoring.format(required)) images, the model makes "
                                         + "\(Scoring.format(model.denoiser.sampleShape)); choose another --network, or --metrics '' "
                                         + "for exact metrics only")
        }
        try Self.checkReference(spec, hasFeatures: reference.features != nil)
        if suite.metrics.contains(.is), network.logitDimension == nil {
            throw SweepError.invalidSpec("--metrics is needs the network's logits; these weights have none")
        }
        self.network = network
        self.reference = reference
    }

    /// Refuses metrics that a reference without per-image features (a statistics file) cannot give.
    public static func checkReference(_ spec: SweepSpec, hasFeatures: Bool) throws {
        if !hasFeatures, let key = try spec.metricSuite().metrics.sorted().first(where: \.needsFeatures) {
            throw SweepError.invalidSpec("--metrics \(key.rawValue) needs per-image reference features; \(spec.reference) holds "
                                         + "only statistics (FID)")
        }
    }

    /// The finished samples of `count` samples (N × D, model space), scored. Non-finite samples are
    /// counted (`nonfinite_samples`) and the other metrics are left out when there are any.
    public func evaluate(_ samples: [Float], count: Int) throws -> [String: Double] {
        try evaluateWithIntervals(samples, count: count, resamples: 0).metrics
    }

    /// The bootstrap of every cell's intervals: `BootstrapSettings.defaultResamples` resamples seeded
    /// from the sweep's seed (the same draws for every cell of a count, so cells are compared on
    /// paired resamples).
    public func bootstrapSettings(resamples: Int? = nil) throws -> BootstrapSettings {
        try BootstrapSettings(resamples: resamples ?? BootstrapSettings.defaultResamples, seed: spec.seed ^ 0x6263_6931_7374_7261)
    }

    /// `evaluate`, with 95% bootstrap intervals of the feature metrics (`MetricSuite.intervals`);
    /// `resamples` nil: the default count, 0: no intervals.
    public func evaluateWithIntervals(_ samples: [Float], count: Int, resamples: Int? = nil) throws
        -> (metrics: [String: Double], intervals: [String: [Double]]) {
        let d = sampleShape.reduce(1, *)
        guard count >= 1, samples.count == count * d else {
            throw SweepError.incomplete("\(samples.count) values are not \(count) samples of \(d)")
        }
        let nonFinite = (0..<count).count { i in samples[(i * d)..<((i + 1) * d)].contains { !$0.isFinite } }
        if nonFinite > 0 { return (["nonfinite_samples": Double(nonFinite)], [:]) }
        var intervals: [String: [Double]] = [:]
        var out: [String: Double] = [:]
        if let network, let reference {
            let embedded = try network.embed(samples, shape: sampleShape, name: "samples")
            out = try suite.evaluate(samples: embedded, reference: reference).values
            if resamples != 0 {
                let ci = try suite.intervals(samples: embedded, reference: reference, settings: bootstrapSettings(resamples: resamples),
                                             pointEstimates: out)
                for (key, value) in ci { intervals[String(key.dropLast(3))] = value }
            }
        }
        if let exact {
            try out.merge(exactMetrics(samples, count: count, exact: exact), uniquingKeysWith: { a, _ in a })
            if resamples != 0, count >= 2 {
                intervals["oracle_frechet"] = try oracleFrechetInterval(samples, count: count, exact: exact,
                                                                        settings: bootstrapSettings(resamples: resamples),
                                                                        estimate: out["oracle_frechet"])
            }
            for (key, value) in try exactSampleMetrics(count: count, exact: exact) { out[key] = value }
        }
        return (out, intervals)
    }

    func featureMetrics(_ samples: [Float]) throws -> [String: Double] {
        guard let network, let reference else { return [:] }
        var x = samples
        if spec.quantize == true || network.inputScale != .modelSpace {
            let n = samples.count / max(sampleShape.reduce(1, *), 1)
            let array = NPYImageArray(shape: [n] + sampleShape, values: samples, isUInt8: false)
            x = try Scoring.images(array, source: "samples", shape: sampleShape,
                                   options: Scoring.ImageOptions(quantize: spec.quantize == true, scale: network.inputScale)).values
        }
        let embedded = try network.embed(x, shape: sampleShape, name: "samples")
        return try suite.evaluate(samples: embedded, reference: reference).values
    }

    func exactMetrics(_ samples: [Float], count: Int, exact: any ExactDistribution) throws -> [String: Double] {
        var stats = FeatureStatistics(dimension: exact.dimension, name: "samples")
        try stats.add(samples)
        let moments = try GaussianStatistics(mean: exact.mean, covariance: exact.covariance, name: "oracle")
        let frechet = try Metrics.frechetDistance(stats.gaussian(), moments).value
        var total = 0.0
        let d = exact.dimension
        for start in stride(from: 0, to: count, by: 500) {
            let n = min(500, count - start)
            let x = samples[(start * d)..<((start + n) * d)].map(Double.init)
            total += try exact.logDensity(x, batch: n).reduce(0, +)
        }
        return ["oracle_frechet": frechet, "log_density": total / Double(count)]
    }

    /// The bootstrap interval of `oracle_frechet` (resampling the samples; the oracle's moments are exact).
    func oracleFrechetInterval(_ samples: [Float], count: Int, exact: any ExactDistribution,
                               settings: BootstrapSettings, estimate: Double?) throws -> [Double] {
        let d = exact.dimension
        let moments = try FrechetToFixed(GaussianStatistics(mean: exact.mean, covariance: exact.covariance, name: "oracle"))
        var rng = SplitMix64(seed: settings.seed)
        var values: [Double] = []
        var resampled = [Float](repeating: 0, count: count * d)
        for _ in 0..<settings.resamples {
            for r in 0..<count {
                let i = Int(rng.bounded(UInt64(count)))
                for c in 0..<d { resampled[r * d + c] = samples[i * d + c] }
            }
            var stats = FeatureStatistics(dimension: d, name: "samples")
            try stats.add(resampled)
            values.append(try moments.distance(to: stats.gaussian()))
        }
        return MetricSuite.centredInterval(values, estimate: estimate, level: settings.level)
    }

    /// The same metrics for `count` exact samples, computed once per count.
    func exactSampleMetrics(count: Int, exact: any ExactDistribution) throws -> [String: Double] {
        if let cached = exactCache[count] { return cached }
        let samples = exact.samples(count: count, seed: spec.seed &+ Self.exactSeedOffset, kind: spec.rng)
        var out: [String: Double] = [:]
        for (key, value) in try exactMetrics(samples, count: count, exact: exact) { out[key + "_exact"] = value }
        for (key, value) in try featureMetrics(samples) where key == "fid" || key == "is_mean" { out[key + "_exact"] = value }
        exactCache[count] = out
        return out
    }
}
