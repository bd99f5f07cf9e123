import Foundation

/// Fashion-MNIST (Xiao et al. 2017) from its IDX files, as Debian's dataset-fashion-mnist package
/// installs them.
public enum FashionMNIST {
    public enum Split: String, Sendable, CaseIterable {
        case train, test

        /// The file-name prefix of the split ("train" or "t10k").
        public var filePrefix: String { self == .train ? "train" : "t10k" }

        /// The number of images in the published split (`load` checks only the files' own shape).
        public var imageCount: Int { self == .train ? 60000 : 10000 }
    }

    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"
    /// Overrides `defaultDirectory` when no directory is passed.
    public static let directoryVariable = "SKIPSTEP_FASHION_MNIST_DIR"
    public static let installHint =
        "install it with `apt-get install -y dataset-fashion-mnist` or set \(directoryVariable) to a directory holding "
        + "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz"
    public static let classNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

    /// The directory to read: `explicit` if given, else `$SKIPSTEP_FASHION_MNIST_DIR` in
    /// `environment` (the CLI passes its own) if set and non-empty, else `defaultDirectory`.
    public static func directory(explicit: String?, environment: [String: String]) -> String {
        if let explicit { return explicit }
        if let fromEnvironment = environment[directoryVariable], !fromEnvironment.isEmpty { return fromEnvironment }
        return defaultDirectory
    }

    /// Loads a split: images N×28×28 (N = 60000 for train, 10000 for test) and N labels in 0…9.
    /// Reads `<prefix>-images-idx3-ubyte.gz` and `<prefix>-labels-idx1-ubyte.gz`, or the same names
    /// without `.gz`, in `directory` (default: `defaultDirectory`).
    public static func load(split: Split, directory: String? = nil) throws -> (images: IDXArray, labels: [UInt8]) {
        let root = URL(fileURLWithPath: directory ?? defaultDirectory, isDirectory: true)
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
        guard images.shape.count == 3, images.shape[0] >= 1, images.shape[1] == 28, images.shape[2] == 28 else {
            throw MediaError.malformed(path: urls[0].path, format: "Fashion-MNIST images",
                                       expected: "shape N×28×28 with N ≥ 1", found: "\(images.shape)")
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

    /// Part of the data set, named `fashion-mnist:SPLIT` or `fashion-mnist:SPLIT[A:B]` (images A..<B,
    /// as a Python slice without negative or omitted bounds).
    public struct Selection: Sendable, Equatable, CustomStringConvertible {
        public static let prefix = "fashion-mnist:"
        public var split: Split
        /// nil: the whole split.
        public var range: Range<Int>?

        public init(split: Split, range: Range<Int>? = nil) {
            self.split = split
            self.range = range
        }

        /// Whether `name` means the data set rather than a file (it starts with `fashion-mnist:`).
        public static func isSelection(_ name: String) -> Bool { name.hasPrefix(prefix) }

        static let expected = "expected fashion-mnist:test or fashion-mnist:train (optionally sliced: [A:B])"

        /// Parses a name; a slice must end within the split's published size.
        public init(parsing name: String) throws {
            guard Self.isSelection(name) else { throw MediaError.invalidSelection(name: name, reason: Self.expected) }
            var rest = Substring(name.dropFirst(Self.prefix.count))
            if let open = rest.firstIndex(of: "[") {
                let bounds = rest[rest.index(after: open)...].dropLast().split(separator: ":", omittingEmptySubsequences: false)
                guard rest.hasSuffix("]"), bounds.count == 2, let a = Int(bounds[0]), let b = Int(bounds[1]), 0 <= a, a < b else {
                    throw MediaError.invalidSelection(
                        name: name, reason: "expected fashion-mnist:SPLIT[A:B] with 0 ≤ A < B, e.g. fashion-mnist:train[0:2000]")
                }
                range = a..<b
                rest = rest[..<open]
            }
            guard let split = Split(rawValue: String(rest)) else { throw MediaError.invalidSelection(name: name, reason: Self.expected) }
            self.split = split
            if let range, range.upperBound > split.imageCount { throw Self.beyondEnd(name, split, split.imageCount, range) }
        }

        static func beyondEnd(_ name: String, _ split: Split, _ count: Int, _ range: Range<Int>) -> MediaError {
            .invalidSelection(name: name, reason: "fashion-mnist:\(split.rawValue) has \(count) images, the slice ends at \(range.upperBound)")
        }

        public var description: String {
            Self.prefix + split.rawValue + (range.map { "[\($0.lowerBound):\($0.upperBound)]" } ?? "")
        }

        /// The selected images in model space (pixel/127.5 − 1 ∈ [−1, 1]), N×28×28 values.
        public func modelSpaceImages(directory: String? = nil) throws -> [Float] {
            let images = try FashionMNIST.load(split: split, directory: directory).images
            let count = images.shape[0], d = 28 * 28
            let range = range ?? 0..<count
            guard range.upperBound <= count else { throw Self.beyondEnd(description, split, count, range) }
            return images.bytes[(range.lowerBound * d)..<(range.upperBound * d)].map { Float($0) / 127.5 - 1 }
        }
    }
}
