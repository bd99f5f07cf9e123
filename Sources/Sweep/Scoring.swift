import Files
import Foundation
import Media
import Metrics

/// What `eval` and `sweep` score against, read the same way by both: images from a `.npy`, a
/// folder of PNGs or `fashion-mnist:SPLIT[A:B]`, feature matrices, and pytorch-fid statistics files.
public enum Scoring {
    public enum Failure: Error, LocalizedError, Equatable {
        case invalid(String)
        public var errorDescription: String? {
            switch self { case .invalid(let message): message }
        }
    }

    /// Images in model space ([−1, 1], N×C×H×W) and their C×H×W: `required` when given (else an
    /// error), otherwise the source's own (1 or 3 channels).
    /// - Parameter fashionMNISTDirectory: where fashion-mnist:SPLIT is read (nil: Debian's place).
    public static func images(_ source: String, shape required: [Int]?,
                              fashionMNISTDirectory: String? = nil) throws -> (values: [Float], shape: [Int]) {
        if FashionMNIST.Selection.isSelection(source) {
            let selection = try FashionMNIST.Selection(parsing: source)
            guard required == nil || required == [1, 28, 28] else {
                throw Failure.invalid("\(source): 1×28×28 images, the network needs \(format(required ?? []))")
            }
            return (try selection.modelSpaceImages(directory: fashionMNISTDirectory), [1, 28, 28])
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory) else {
            throw Failure.invalid("\(source) does not exist")
        }
        if isDirectory.boolValue {
            let files = try FileManager.default.contentsOfDirectory(atPath: source).filter { $0.lowercased().hasSuffix(".png") }.sorted()
            guard !files.isEmpty else { throw Failure.invalid("\(source): the folder holds no .png files") }
            var values: [Float] = []
            var shape = required
            for file in files {
                let image = try Image8.readPNG(from: URL(fileURLWithPath: source).appendingPathComponent(file))
                let own = [image.channels, image.height, image.width]
                if shape == nil { shape = try anyImageShape(own, source: "\(source)/\(file)") }
                guard own == shape else {
                    throw Failure.invalid("\(source)/\(file): \(format(own)), expected \(format(shape ?? []))")
                }
                values += image.pixels.map { Float($0) / 127.5 - 1 }
            }
            return (values, shape ?? [])
        }
        let array = try NPYArray.read(from: URL(fileURLWithPath: source))
        let own = Array(array.shape.dropFirst())
        guard array.shape.count == 4, required == nil || own == required else {
            throw Failure.invalid("\(source): shape \(array.shape), expected N×\(format(required ?? [1, 28, 28]))")
        }
        return (array.values, try required ?? anyImageShape(own, source: source))
    }

    /// The features of `source` (images, or a pytorch-fid `.npz` of statistics) under `network`.
    public static func featureSet(_ source: String, network: () throws -> any FeatureNetwork, name: String,
                                  fashionMNISTDirectory: String? = nil,
                                  progress: (Int, Int) -> Void = { _, _ in }) throws -> FeatureSet {
        if source.hasSuffix(".npz") { return try readStatistics(source, name: name) }
        let network = try network()
        let (x, shape) = try images(source, shape: network.requiredShape, fashionMNISTDirectory: fashionMNISTDirectory)
        let d = max(shape.reduce(1, *), 1), n = x.count / d
        guard n >= 2 else { throw Failure.invalid("\(source): at least 2 images are needed, got \(n)") }
        if let bad = x.firstIndex(where: { !$0.isFinite }) {
            throw Failure.invalid("\(source): image \(bad / d) holds \(x[bad]) (NaN or infinite pixels cannot be scored)")
        }
        return try network.embed(x, shape: shape, name: name, progress: progress)
    }

    /// pytorch-fid's statistics file: `mu` (D) and `sigma` (D×D), float32 or float64.
    public static func readStatistics(_ path: String, name: String) throws -> FeatureSet {
        let archive = try NPZArchive.read(from: URL(fileURLWithPath: path))
        let mu = try archive.doubleArray("mu", path: path), sigma = try archive.doubleArray("sigma", path: path)
        let d = mu.values.count
        guard mu.shape == [d], d > 0, sigma.shape == [d, d] else {
            throw Failure.invalid("\(path): expected mu of shape (D,) and sigma of shape (D, D), got \(mu.shape) and \(sigma.shape)")
        }
        return FeatureSet(statistics: try GaussianStatistics(mean: mu.values, covariance: sigma.values, name: "\(name) (\(path))"))
    }

    /// Writes `statistics` as pytorch-fid's `.npz` (float64 `mu` and `sigma`).
    public static func writeStatistics(_ statistics: GaussianStatistics, to path: String) throws {
        let d = statistics.dimension
        try NPZArchive(members: [
            "mu": NPYDoubleArray(shape: [d], values: statistics.mean).npyData(),
            "sigma": NPYDoubleArray(shape: [d, d], values: statistics.covariance).npyData(),
        ]).write(to: URL(fileURLWithPath: path))
    }

    /// An N×D feature matrix from a `.npy`.
    public static func featureMatrix(_ path: String, name: String) throws -> Features {
        let array = try NPYArray.read(from: URL(fileURLWithPath: path))
        guard array.shape.count == 2, array.shape[1] > 0 else {
            throw Failure.invalid("\(path): expected an N×D feature matrix, got shape \(array.shape)")
        }
        return try Features(array.values, dimension: array.shape[1], name: name)
    }

    /// `shape` when it is an image shape a size-agnostic network takes (1 or 3 channels).
    static func anyImageShape(_ shape: [Int], source: String) throws -> [Int] {
        guard shape.count == 3, shape[0] == 1 || shape[0] == 3, shape[1] > 0, shape[2] > 0 else {
            throw Failure.invalid("\(source): \(format(shape)) images; the network takes 1 or 3 channels")
        }
        return shape
    }

    static func format(_ shape: [Int]) -> String { shape.map(String.init).joined(separator: "×") }
}
