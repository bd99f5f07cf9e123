import Metrics

/// The Fashion-MNIST classifier as a feature network: its 128-d penultimate layer and 10 logits.
extension FashionClassifier: FeatureNetwork {
    public var featureDescription: String { "the Fashion-MNIST classifier's \(featureDimension)-d features and logits" }
    public var requiredShape: [Int]? { inputShape }
    public var logitDimension: Int? { classes.count }
    public var chunk: Int { 500 }

    public func features(of x: [Float], batch: Int, shape: [Int]) throws -> (features: [Float], logits: [Float]?) {
        let out = try self(x, batch: batch)
        return (out.features, out.logits)
    }
}

/// pytorch-fid's FID Inception as a feature network: 2048-d pool3 features and 1008 logits (when
/// the converted weights have them); any 1- or 3-channel size, resized to 299×299.
extension FIDInception: FeatureNetwork {
    public var featureDescription: String {
        "pytorch-fid's FID Inception (2048-d pool3 features" + (hasLogits ? ", 1008 logits)" : ")")
    }
    public var requiredShape: [Int]? { nil }
    public var featureDimension: Int { Self.featureDimension }
    public var logitDimension: Int? { hasLogits ? Self.logitCount : nil }
    public var chunk: Int { 2 * Self.defaultChunk }
    /// clean-fid's convention takes pixels in [0, 255]; pytorch-fid's takes model space.
    public var inputScale: ImageScale { preprocessing == .clean ? .pixels : .modelSpace }

    public func features(of x: [Float], batch: Int, shape: [Int]) throws -> (features: [Float], logits: [Float]?) {
        guard shape.count == 3 else { throw FIDInceptionError.inputShape(expected: "C×H×W images", actual: "\(shape)") }
        return try self(x, batch: batch, channels: shape[0], height: shape[1], width: shape[2])
    }
}
