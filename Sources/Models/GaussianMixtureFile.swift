import Foundation

/// Saving and loading a `GaussianMixture` as safetensors:
/// tensors `weights` [K], `means` [K, D], `covariances` [K, D, D] (all F64), metadata
/// `format = "skipstep-gmm"`, `version = "1"`, `sample_shape = "1,28,28"`, `components`, `dimension`,
/// plus whatever the caller adds.
extension GaussianMixture {
    public static let fileFormat = "skipstep-gmm"
    public static let fileVersion = "1"
    static let tensorNames: Set<String> = ["weights", "means", "covariances"]

    /// Writes the mixture to `url` atomically. `metadata` is stored too; the keys the format
    /// itself uses (`format`, `version`, `sample_shape`, `components`, `dimension`) take precedence.
    public func save(to url: URL, metadata: [String: String] = [:]) throws {
        let k = componentCount, d = dimension
        var writer = SafeTensorsWriter(metadata: metadata.merging([
            "format": Self.fileFormat,
            "version": Self.fileVersion,
            "sample_shape": sampleShape.map(String.init).joined(separator: ","),
            "components": String(k),
            "dimension": String(d),
        ]) { _, ours in ours })
        try writer.add("weights", components.map(\.weight), shape: [k])
        try writer.add("means", components.flatMap(\.mean), shape: [k, d])
        try writer.add("covariances", components.flatMap(\.covariance), shape: [k, d, d])
        try writer.write(to: url)
    }

    /// Reads a mixture written by `save(to:)`, verifying format, version, tensor set, dtypes and shapes.
    public static func load(from url: URL) throws -> GaussianMixture {
        try loadWithMetadata(from: url).mixture
    }

    /// `load(from:)`, also returning the file's metadata.
    public static func loadWithMetadata(from url: URL) throws -> (mixture: GaussianMixture, metadata: [String: String]) {
        let file = try SafeTensorsFile(contentsOf: url)
        let path = url.path
        let meta = file.metadata
        guard meta["format"] == fileFormat else {
            throw GaussianMixtureFileError.wrongFormat(path: path, found: meta["format"])
        }
        guard meta["version"] == fileVersion else {
            throw GaussianMixtureFileError.unsupportedVersion(path: path, found: meta["version"])
        }
        guard let shapeText = meta["sample_shape"] else {
            throw GaussianMixtureFileError.missingMetadata(path: path, key: "sample_shape")
        }
        let parts = shapeText.split(separator: ",", omittingEmptySubsequences: false)
        let sampleShape = parts.compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, sampleShape.count == parts.count, sampleShape.allSatisfy({ $0 > 0 }) else {
            throw GaussianMixtureFileError.invalidMetadata(path: path, key: "sample_shape", value: shapeText)
        }
        for name in file.tensorNames where !tensorNames.contains(name) {
            throw GaussianMixtureFileError.unexpectedTensor(path: path, tensor: name)
        }
        let d = sampleShape.reduce(1, *)
        let weightsInfo = try file.info("weights")
        guard weightsInfo.shape.count == 1, weightsInfo.shape[0] >= 1 else {
            throw GaussianMixtureFileError.shapeMismatch(path: path, tensor: "weights", expected: "[K] with K ≥ 1",
                                                        actual: weightsInfo.shape)
        }
        let k = weightsInfo.shape[0]
        for (key, expected) in [("components", k), ("dimension", d)] {
            if let value = meta[key], Int(value) != expected {
                throw GaussianMixtureFileError.invalidMetadata(path: path, key: key, value: value)
            }
        }
        for (name, expected) in [("means", [k, d]), ("covariances", [k, d, d])] {
            let info = try file.info(name)
            guard info.shape == expected else {
                throw GaussianMixtureFileError.shapeMismatch(path: path, tensor: name, expected: "\(expected)",
                                                            actual: info.shape)
            }
        }
        let weights = try file.doubles("weights")
        let means = try file.doubles("means")
        let covariances = try file.doubles("covariances")
        let components = (0..<k).map { i in
            Component(weight: weights[i],
                      mean: Array(means[(i * d)..<((i + 1) * d)]),
                      covariance: Array(covariances[(i * d * d)..<((i + 1) * d * d)]))
        }
        do {
            return (try GaussianMixture(components: components, sampleShape: sampleShape), meta)
        } catch {
            throw GaussianMixtureFileError.invalidMixture(path: path, reason: error.localizedDescription)
        }
    }
}

/// A safetensors file that is not a valid `skipstep-gmm` file (problems of the container itself
/// are `SafeTensorsError`s).
public enum GaussianMixtureFileError: Error, LocalizedError, Equatable {
    case wrongFormat(path: String, found: String?)
    case unsupportedVersion(path: String, found: String?)
    case missingMetadata(path: String, key: String)
    case invalidMetadata(path: String, key: String, value: String)
    case unexpectedTensor(path: String, tensor: String)
    case shapeMismatch(path: String, tensor: String, expected: String, actual: [Int])
    case invalidMixture(path: String, reason: String)

    public var errorDescription: String? {
        switch self {
        case let .wrongFormat(path, found):
            "\(path): metadata format is \(found.map { "\"\($0)\"" } ?? "missing"), expected \"\(GaussianMixture.fileFormat)\""
        case let .unsupportedVersion(path, found):
            "\(path): metadata version is \(found.map { "\"\($0)\"" } ?? "missing"), expected \"\(GaussianMixture.fileVersion)\""
        case let .missingMetadata(path, key):
            "\(path): metadata \"\(key)\" is missing"
        case let .invalidMetadata(path, key, value):
            "\(path): metadata \"\(key)\" = \"\(value)\" is invalid or disagrees with the tensors"
        case let .unexpectedTensor(path, tensor):
            "\(path): unexpected tensor \"\(tensor)\" (a Gaussian mixture file holds weights, means, covariances)"
        case let .shapeMismatch(path, tensor, expected, actual):
            "\(path): tensor \"\(tensor)\" has shape \(actual), expected \(expected)"
        case let .invalidMixture(path, reason):
            "\(path): \(reason)"
        }
    }
}
