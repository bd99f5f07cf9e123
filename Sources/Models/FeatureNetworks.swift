import Metrics

/// The Fashion-MNIST classifier as a feature network: its 128-d penultimate layer and 10 logits.
extension FashionClassifier: FeatureNetwork {
    /// What the features are, for messages and reports.
    public var featureDescription: String { "the Fashion-MNIST classifier's \(featureDimension)-d features and logits" }
    /// Inputs must be 1 × 28 × 28.
    public var requiredShape: [Int]? { inputShape }
    /// One logit per class.
    public var logitDimension: Int? { classes.count }
    /// Images embedded per call.
    public var chunk: Int { 500 }

    /// Features and logits of `batch` images in model space.
    public func features(of x: [Float], batch: Int, shape: [Int]) throws -> (features: [Float], logits: [Float]?) {
        let out = try self(x, batch: batch)
        return (out.features, out.logits)
    }
}

/// pytorch-fid's FID Inception as a feature network: 2048-d pool3 features and 1008 logits (when
/// the converted weights have them); any 1- or 3-channel size, resized to 299×299.
extension FIDInception: FeatureNetwork {
    /// What the features are, for messages and reports.
    public var featureDescription: String {
        "pytorch-fid's FID Inception (2048-d pool3 features" + (hasLogits ? ", 1008 logits)" : ")")
    }
    /// Any size and 1 or 3 channels: images are resized to 299 × 299 as pytorch-fid does.
    public var requiredShape: [Int]? { nil }
    /// 2048 pool3 features.
    public var featureDimension: Int { Self.featureDimension }
    /// 1008 logits when the weights include the classifier, else nil.
    public var logitDimension: Int? { hasLogits ? Self.logitCount : nil }
    /// Images embedded per call.
    public var chunk: Int { 2 * Self.defaultChunk }
    /// clean-fid's convention takes pixels in [0, 255]; pytorch-fid's takes model space.
    public var inputScale: ImageScale { preprocessing == .clean ? .pixels : .modelSpace }

    /// Features and logits of `batch` images in model space.
    public func features(of x: [Float], batch: Int, shape: [Int]) throws -> (features: [Float], logits: [Float]?) {
        guard shape.count == 3 else { throw FIDInceptionError.inputShape(expected: "C×H×W images", actual: "\(shape)") }
        return try self(x, batch: batch, channels: shape[0], height: shape[1], width: shape[2])
    }
}
