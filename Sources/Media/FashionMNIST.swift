import Foundation

/// Fashion-MNIST (Xiao et al. 2017) from its IDX files, as Debian's dataset-fashion-mnist package
/// installs them.
public enum FashionMNIST {
    public enum Split: String, Sendable, CaseIterable {
        case train, test

        /// The file-name prefix of the split ("train" or "t10k").
        public var filePrefix: String { self == .train ? "train" : "t10k" }
    }

    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"
    /// Overrides `defaultDirectory` when no directory is passed.
    public static let directoryVariable = "SKIPSTEP_FASHION_MNIST_DIR"
    public static let installHint =
        "install it with `apt-get install -y dataset-fashion-mnist` or set \(directoryVariable) to a directory holding "
        + "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz"
    public static let classNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

    /// The directory to read: `explicit` if given, else `$SKIPSTEP_FASHION_MNIST_DIR` if set and
    /// non-empty, else `defaultDirectory`.
    public static func directory(explicit: String? = nil,
                                 environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let explicit { return explicit }
        if let fromEnvironment = environment[directoryVariable], !fromEnvironment.isEmpty { return fromEnvironment }
        return defaultDirectory
    }

    /// Loads a split: images N×28×28 (N = 60000 for train, 10000 for test) and N labels in 0…9.
    /// Reads `<prefix>-images-idx3-ubyte.gz` and `<prefix>-labels-idx1-ubyte.gz`, or the same names
    /// without `.gz`.
    public static func load(split: Split, directory: String? = nil) throws -> (images: IDXArray, labels: [UInt8]) {
        let root = URL(fileURLWithPath: Self.directory(explicit: directory), isDirectory: true)
        let names = ["\(split.filePrefix)-images-idx3-ubyte", "\(split.filePrefix)-labels-idx1-ubyte"]
        var urls: [URL] = []
        var missing: [String] = []
        for name in names {
            let candidates = [name + ".gz", name].map { root.appendingPathComponent($0) }
            if let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }) {
                urls.append(found)
            } else {
                missing.append(name + ".gz")
            }
        }
        guard missing.isEmpty else {
            throw MediaError.datasetMissing(name: "Fashion-MNIST (\(split.rawValue) split)", directory: root.path,
                                            missingFiles: missing, hint: installHint)
        }

        let images = try IDXArray.read(from: urls[0])
        let labels = try IDXArray.read(from: urls[1])
        guard images.shape.count == 3, images.shape[1] == 28, images.shape[2] == 28 else {
            throw MediaError.malformed(path: urls[0].path, format: "Fashion-MNIST images",
                                       expected: "shape N×28×28", found: "\(images.shape)")
        }
        guard labels.shape == [images.shape[0]] else {
            throw MediaError.malformed(path: urls[1].path, format: "Fashion-MNIST labels",
                                       expected: "shape [\(images.shape[0])] to match the images", found: "\(labels.shape)")
        }
        if let bad = labels.bytes.firstIndex(where: { $0 > 9 }) {
            throw MediaError.malformed(path: urls[1].path, format: "Fashion-MNIST labels",
                                       expected: "labels 0…9", found: "\(labels.bytes[bad]) at index \(bad)")
        }
        return (images, labels.bytes)
    }
}
