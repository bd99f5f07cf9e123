import Foundation
import Files

/// Saving and loading a `GaussianMixture` as safetensors:
/// tensors `weights` [K], `means` [K, D], `covariances` [K, D, D] (all F64), metadata
/// `format = "skipstep-gmm"`, `version = "1"`, `sample_shape = "1,28,28"`, `components`, `dimension`,
/// plus whatever the caller adds.
extension GaussianMixture {
    /// The `format` metadata of a saved mixture.
    public static let fileFormat = "skipstep-gmm"
    /// The `version` metadata of a saved mixture.
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
        writer.metadata[Self.checksumKey] = nil
        let weights = components.map(\.weight), means = components.flatMap(\.mean)
        let covariances = components.flatMap(\.covariance)
        writer.metadata[Self.checksumKey] = Self.contentChecksum(metadata: writer.metadata, weights: weights, means: means,
                                                                 covariances: covariances)
        try writer.add("weights", weights, shape: [k])
        try writer.add("means", means, shape: [k, d])
        try writer.add("covariances", covariances, shape: [k, d, d])
        try writer.write(to: url)
    }

    /// Metadata key of the content checksum `save(to:)` writes and `load(from:)` verifies.
    public static let checksumKey = "content_crc32"

    /// CRC-32, as 8 hex digits, of the metadata (sorted `key=value` lines, the checksum itself
    /// left out) and the three tensors' little-endian F64 values: any flipped byte or edited
    /// metadata value changes it.
    public static func contentChecksum(metadata: [String: String], weights: [Double], means: [Double],
                                       covariances: [Double]) -> String {
        let lines = metadata.filter { $0.key != checksumKey }.sorted { $0.key < $1.key }
            .map { "\($0.key)=\($0.value)\n" }.joined()
        func bytes(_ values: [Double]) -> Data {
            Data(values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian, Array.init) })
        }
        let crc = Checksum.crc32([Data(lines.utf8), bytes(weights), bytes(means), bytes(covariances)])
        return String(format: "%08x", crc)
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
        // D² values per covariance must be addressable: D ≤ 2²⁰ keeps every product far from overflow.
        guard let d = CheckedSize.product(sampleShape), d <= 1 << 20 else {
            throw GaussianMixtureFileError.invalidMetadata(path: path, key: "sample_shape", value: shapeText)
        }
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
        if let stored = meta[checksumKey] {
            let actual = contentChecksum(metadata: meta, weights: weights, means: means, covariances: covariances)
            guard stored == actual else {
                throw GaussianMixtureFileError.checksumMismatch(path: path, stored: stored, actual: actual)
            }
        }
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
    /// The content no longer matches the checksum written with it: the file was damaged or edited.
    case checksumMismatch(path: String, stored: String, actual: String)
    /// A cache file lacks the checksum or the options it must have been made with.
    case staleCache(path: String, reason: String)

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
        case let .checksumMismatch(path, stored, actual):
            "\(path): content checksum \(actual) does not match the stored \(GaussianMixture.checksumKey) \(stored); "
                + "the file is damaged or was edited"
        case let .staleCache(path, reason):
            "\(path): not a usable cache: \(reason)"
        }
    }
}
