import ArgumentParser
import Foundation
import Models

/// `skipstep eval --network`: the network whose features FID, KID and precision/recall compare,
/// and whose logits give the Inception Score.
enum FeatureNetworkName: String, CaseIterable, ExpressibleByArgument {
    /// The shipped Fashion-MNIST classifier (128-d features, 10 logits; 1×28×28 images).
    case fmnist
    /// pytorch-fid's FID Inception (2048-d pool3 features, 1008 logits; any size, 1 or 3 channels,
    /// resized to 299×299): FID comparable with published numbers.
    case inception
}

/// A feature network as `eval` uses it.
protocol FeatureNetwork {
    /// The image shape (C, H, W) the network needs, or nil for any 1- or 3-channel size.
    var requiredShape: [Int]? { get }
    var featureDimension: Int { get }
    /// Logits per image, nil when the network has none (then no Inception Score).
    var logitDimension: Int? { get }
    /// Images per call (the unit of progress).
    var chunk: Int { get }
    /// Features and logits of `batch` images `x` of shape `shape` (C, H, W), in [−1, 1].
    func features(of x: [Float], batch: Int, shape: [Int]) throws -> (features: [Float], logits: [Float]?)
}

extension FeatureNetworkName {
    /// Loads the network; `weights` is `--weights` (the classifier folder, or the converted
    /// Inception safetensors).
    func load(weights: String?) throws -> any FeatureNetwork {
        switch self {
        case .fmnist:
            return ClassifierFeatures(model: try FashionClassifier(directory: try EvalCommand.classifierDirectory(weights)))
        case .inception:
            return InceptionFeatures(model: try FIDInception(contentsOf: try FIDInception.locateWeights(weights)))
        }
    }
}

struct ClassifierFeatures: FeatureNetwork {
    let model: FashionClassifier
    var requiredShape: [Int]? { model.inputShape }
    var featureDimension: Int { model.featureDimension }
    var logitDimension: Int? { model.classes.count }
    var chunk: Int { 500 }

    func features(of x: [Float], batch: Int, shape: [Int]) throws -> (features: [Float], logits: [Float]?) {
        let out = try model(x, batch: batch)
        return (out.features, out.logits)
    }
}

struct InceptionFeatures: FeatureNetwork {
    let model: FIDInception
    var requiredShape: [Int]? { nil }
    var featureDimension: Int { FIDInception.featureDimension }
    var logitDimension: Int? { model.hasLogits ? FIDInception.logitCount : nil }
    var chunk: Int { 2 * FIDInception.defaultChunk }

    func features(of x: [Float], batch: Int, shape: [Int]) throws -> (features: [Float], logits: [Float]?) {
        try model(x, batch: batch, channels: shape[0], height: shape[1], width: shape[2])
    }
}
