/// The feature-space metrics `eval` and `sweep` compute.
public enum MetricKey: String, Sendable, CaseIterable, Codable, Comparable {
    case fid, `is`, kid, precision, recall

    /// Whether the metric needs per-image features on both sides (not just Gaussian statistics).
    public var needsFeatures: Bool { self == .kid || self == .precision || self == .recall }

    public static func < (a: MetricKey, b: MetricKey) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// Parses a comma-separated list ("fid,is"; "" for none).
    public static func list(parsing text: String) throws -> [MetricKey] {
        try text.split(separator: ",").map { item in
            let name = item.trimmingCharacters(in: .whitespaces).lowercased()
            guard let key = MetricKey(rawValue: name) else {
                throw MetricsError.invalidArgument("unknown metric '\(name)' (expected \(allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return key
        }
    }
}

/// Which metrics to compute and how, in one place: the defaults of `eval` and `sweep` are these.
/// Results are keyed `fid`, `is_mean`, `is_std`, `kid_mean`, `kid_std`, `precision`, `recall`.
public struct MetricSuite: Sendable, Equatable {
    public var metrics: Set<MetricKey>
    /// KID: the number of random subsets and their size (capped at the smaller set), as clean-fid.
    public var kidSubsets: Int
    public var kidSubsetSize: Int

    public static let defaultKIDSubsets = 100
    public static let defaultKIDSubsetSize = 1000
    /// KID draws subsets × size indices per side: keep that below this many.
    static let maxKIDDraws = 1 << 31

    public init(_ metrics: some Sequence<MetricKey>, kidSubsets: Int = defaultKIDSubsets,
                kidSubsetSize: Int = defaultKIDSubsetSize) throws {
        self.metrics = Set(metrics)
        self.kidSubsets = kidSubsets
        self.kidSubsetSize = kidSubsetSize
        guard kidSubsets >= 1, kidSubsetSize >= 2 else {
            throw MetricsError.invalidArgument("KID needs at least 1 subset of at least 2 samples, got \(kidSubsets) of \(kidSubsetSize)")
        }
        let (draws, overflow) = kidSubsets.multipliedReportingOverflow(by: kidSubsetSize)
        guard !overflow, draws <= Self.maxKIDDraws else {
            throw MetricsError.invalidArgument("KID with \(kidSubsets) subsets of \(kidSubsetSize) samples is too large "
                                               + "(at most \(Self.maxKIDDraws) draws)")
        }
    }

    /// The requested metrics that cannot be computed from these sides, and why.
    public func unavailable(samples: FeatureSet, reference: FeatureSet) -> [(MetricKey, String)] {
        metrics.sorted().compactMap { key in
            if key.needsFeatures && (samples.features == nil || reference.features == nil) {
                return (key, "needs per-image features on both sides, not .npz statistics")
            }
            if key == .is && samples.logits == nil {
                return (key, "needs the network's logits of the samples")
            }
            return nil
        }
    }

    /// Computes every available requested metric; `warnings` are the Fréchet distance's.
    public func evaluate(samples x: FeatureSet, reference y: FeatureSet) throws -> (values: [String: Double], warnings: [MetricWarning]) {
        guard x.statistics.dimension == y.statistics.dimension else {
            throw MetricsError.dimensionMismatch(expected: y.statistics.dimension, actual: x.statistics.dimension,
                                                 what: "samples against the reference (statistics from another network?)")
        }
        var out: [String: Double] = [:]
        var warnings: [MetricWarning] = []
        if metrics.contains(.fid) {
            let fid = try Metrics.frechetDistance(x.statistics, y.statistics)
            out["fid"] = fid.value
            warnings = fid.warnings
        }
        if metrics.contains(.is), let logits = x.logits {
            let score = try Metrics.inceptionScore(logits: logits)
            out["is_mean"] = score.mean
            out["is_std"] = score.std
        }
        if let xf = x.features, let yf = y.features {
            if metrics.contains(.kid) {
                let kid = try Metrics.kernelDistance(xf, yf, subsetCount: kidSubsets,
                                                     subsetSize: min(kidSubsetSize, xf.count, yf.count))
                out["kid_mean"] = kid.mean
                out["kid_std"] = kid.std
            }
            if metrics.contains(.precision) || metrics.contains(.recall) {
                let pr = try Metrics.precisionRecall(real: yf, generated: xf)
                if metrics.contains(.precision) { out["precision"] = pr.precision }
                if metrics.contains(.recall) { out["recall"] = pr.recall }
            }
        }
        return (out, warnings)
    }
}
