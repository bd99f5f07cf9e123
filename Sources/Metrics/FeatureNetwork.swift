/// A network whose features FID, KID and precision/recall compare and whose logits give the
/// Inception Score (the Fashion-MNIST classifier, pytorch-fid's FID Inception; both in Models).
public protocol FeatureNetwork: Sendable {
    /// What the features are, for reports: "the Fashion-MNIST classifier's 128-d features and logits".
    var featureDescription: String { get }
    /// The image shape (C, H, W) the network needs, or nil for any 1- or 3-channel size.
    var requiredShape: [Int]? { get }
    var featureDimension: Int { get }
    /// Logits per image, nil when the network has none (then no Inception Score).
    var logitDimension: Int? { get }
    /// Images per call (the unit of progress).
    var chunk: Int { get }
    /// The scale `features(of:)` takes images in (`modelSpace` unless the network says otherwise).
    var inputScale: ImageScale { get }
    /// Features and logits of `batch` images `x` of shape `shape` (C, H, W), in `inputScale`.
    func features(of x: [Float], batch: Int, shape: [Int]) throws -> (features: [Float], logits: [Float]?)
}

/// How image values are handed to a feature network.
public enum ImageScale: Sendable, Equatable {
    /// skipstep's model space: pixel p ↦ p / 127.5 − 1 ∈ [−1, 1].
    case modelSpace
    /// Pixel values 0…255 as Float (uint8 images exactly; clean-fid's input).
    case pixels
}

extension FeatureNetwork {
    public var inputScale: ImageScale { .modelSpace }
}

/// Features of a set of images, or only their Gaussian statistics (a pytorch-fid `.npz`).
public struct FeatureSet: Sendable {
    public var features: Features?
    public var logits: Features?
    public var statistics: GaussianStatistics
    /// Images behind the features (nil for statistics read from a file).
    public var count: Int?

    public init(features: Features, logits: Features?) throws {
        var statistics = FeatureStatistics(dimension: features.dimension, name: features.name)
        try statistics.add(features)
        self.features = features
        self.logits = logits
        self.statistics = try statistics.gaussian()
        count = features.count
    }

    public init(statistics: GaussianStatistics) {
        self.statistics = statistics
        count = nil
    }
}

extension FeatureNetwork {
    /// Embeds `images` (N × C×H×W floats in `inputScale`, `shape` = C, H, W) `chunk` images at a time;
    /// `progress(done, total)` after each chunk.
    public func embed(_ images: [Float], shape: [Int], name: String,
                      progress: (Int, Int) -> Void = { _, _ in }) throws -> FeatureSet {
        let d = shape.reduce(1, *)
        guard d > 0, images.count % d == 0 else {
            throw MetricsError.invalidArgument("\(name): \(images.count) values are not a whole number of \(shape) images")
        }
        let n = images.count / d
        if let bad = images.firstIndex(where: { !$0.isFinite }) {
            throw MetricsError.invalidArgument("\(name): image \(bad / d) holds \(images[bad]) (NaN or infinite pixels cannot be scored)")
        }
        var features: [Float] = [], logits: [Float] = []
        features.reserveCapacity(n * featureDimension)
        for start in stride(from: 0, to: n, by: chunk) {
            let count = min(chunk, n - start)
            let out = try self.features(of: Array(images[(start * d)..<((start + count) * d)]), batch: count, shape: shape)
            features += out.features
            logits += out.logits ?? []
            progress(start + count, n)
        }
        return try FeatureSet(features: Features(features, dimension: featureDimension, name: name),
                              logits: logitDimension.map { try Features(logits, dimension: $0, name: name) })
    }
}
