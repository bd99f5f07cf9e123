import Files
import Foundation
import Media
import Metrics

/// What `eval` and `sweep` score against, read the same way by both: images from a `.npy`, an
/// `.npz` with `arr_0`, a folder of PNG/JPEG files or `fashion-mnist:SPLIT[A:B]`, feature matrices,
/// and pytorch-fid statistics files.
public enum Scoring {
    public enum Failure: Error, LocalizedError, Equatable {
        case invalid(String)
        public var errorDescription: String? {
            switch self { case .invalid(let message): message }
        }
    }

    /// How image arrays are read: the value range of float arrays and whether float samples are
    /// first quantised to 8 bits.
    public struct ImageOptions: Sendable, Equatable {
        /// The range float arrays hold.
        public enum Range: String, Sendable, CaseIterable {
            /// skipstep's and diffusers' model space (`sample` writes it).
            case minusOneToOne = "-1,1"
            /// [0, 1] (diffusers' `output_type="np"`).
            case zeroToOne = "0,1"
        }
        public var range: Range
        /// Quantise float samples to uint8 exactly as saving them as PNG would (diffusers'
        /// `numpy_to_pil`: clamp to [0, 1], × 255, round half to even), so a `.npy` scores the same
        /// as the PNGs written from it. Off: the floats are scored as they are (unclipped).
        public var quantize: Bool
        /// The scale the feature network takes (`FeatureNetwork.inputScale`).
        public var scale: ImageScale

        public init(range: Range = .minusOneToOne, quantize: Bool = true, scale: ImageScale = .modelSpace) {
            self.range = range
            self.quantize = quantize
            self.scale = scale
        }
    }

    /// The image layouts an array may have; every layout error names them.
    public static let acceptedLayouts =
        "N×C×H×W or N×H×W×C (C = 1 or 3) or N×H×W (grey), float32/float64 in [−1, 1] (--range 0,1 for [0, 1]) "
        + "or uint8 in 0…255, in a .npy or an .npz member arr_0 (guided-diffusion's sample batches)"

    /// Images as N×C×H×W values in `options.scale` and their C×H×W: `required` when given (else an
    /// error), otherwise the source's own (1 or 3 channels). Sources: `fashion-mnist:SPLIT[A:B]`, a
    /// folder of PNG and JPEG files, a `.npy`, or an `.npz` with `arr_0`.
    /// - Parameter fashionMNISTDirectory: where fashion-mnist:SPLIT is read (nil: Debian's place).
    public static func images(_ source: String, shape required: [Int]?, options: ImageOptions = ImageOptions(),
                              fashionMNISTDirectory: String? = nil) throws -> (values: [Float], shape: [Int]) {
        if FashionMNIST.Selection.isSelection(source) {
            let selection = try FashionMNIST.Selection(parsing: source)
            guard required == nil || required == [1, 28, 28] else {
                throw Failure.invalid("\(source): 1×28×28 images, the network needs \(format(required ?? []))")
            }
            let model = try selection.modelSpaceImages(directory: fashionMNISTDirectory)
            // modelSpaceImages is p / 127.5 − 1 of the bytes; pixels are the bytes themselves.
            return (options.scale == .modelSpace ? model : model.map { (($0 + 1) * 127.5).rounded() }, [1, 28, 28])
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory) else {
            throw Failure.invalid("\(source) does not exist")
        }
        if isDirectory.boolValue {
            let files = try FileManager.default.contentsOfDirectory(atPath: source).filter(Image8.isReadableImageName).sorted()
            guard !files.isEmpty else { throw Failure.invalid("\(source): the folder holds no .png, .jpg or .jpeg files") }
            var values: [Float] = []
            var shape = required
            for file in files {
                let image = try Image8.readImage(from: URL(fileURLWithPath: source).appendingPathComponent(file))
                let own = [image.channels, image.height, image.width]
                if shape == nil { shape = try anyImageShape(own, source: "\(source)/\(file)") }
                guard own == shape else {
                    throw Failure.invalid("\(source)/\(file): \(format(own)), expected \(format(shape ?? []))")
                }
                // HWC → CHW
                let plane = image.width * image.height
                var planar = [Float](repeating: 0, count: image.pixels.count)
                for i in 0..<plane {
                    for c in 0..<image.channels { planar[c * plane + i] = pixelValue(image.pixels[i * image.channels + c], options.scale) }
                }
                values += planar
            }
            return (values, shape ?? [])
        }
        let array: NPYImageArray
        if source.hasSuffix(".npz") {
            let archive = try NPZArchive.read(from: URL(fileURLWithPath: source))
            guard archive.members["arr_0"] != nil else {
                throw Failure.invalid("\(source): an .npz of images needs the member arr_0 (guided-diffusion's layout), "
                                      + "statistics need mu and sigma; it holds \(archive.members.keys.sorted())")
            }
            array = try archive.imageArray("arr_0", path: source)
        } else {
            array = try NPYImageArray.read(from: URL(fileURLWithPath: source))
        }
        return try images(array, source: source, shape: required, options: options)
    }

    /// An array's images (layout detected as `acceptedLayouts` says; N×C×H×W is preferred when
    /// both C and the last axis are 1 or 3, unless `required` decides), as N×C×H×W in `options.scale`.
    public static func images(_ array: NPYImageArray, source: String, shape required: [Int]?,
                              options: ImageOptions) throws -> (values: [Float], shape: [Int]) {
        let s = array.shape
        let dtype = array.isUInt8 ? "uint8" : "float"
        func refuse(_ why: String) -> Failure {
            .invalid("\(source): \(why); accepted: \(acceptedLayouts)")
        }
        var candidates: [(shape: [Int], nhwc: Bool)] = []
        switch s.count {
        case 3: candidates = [([1, s[1], s[2]], false)]
        case 4:
            if s[1] == 1 || s[1] == 3 { candidates.append(([s[1], s[2], s[3]], false)) }
            if s[3] == 1 || s[3] == 3 { candidates.append(([s[3], s[1], s[2]], true)) }
        default: break
        }
        candidates = candidates.filter { $0.shape[1] > 0 && $0.shape[2] > 0 }
        guard !candidates.isEmpty else { throw refuse("shape \(s) (\(dtype)) is not an image batch") }
        if let required {
            candidates = candidates.filter { $0.shape == required }
            guard !candidates.isEmpty else {
                throw refuse("shape \(s) (\(dtype)) holds no \(format(required)) images, which the network needs")
            }
        }
        let (shape, nhwc) = candidates[0]
        let (c, h, w) = (shape[0], shape[1], shape[2])
        let n = s[0], plane = h * w, d = c * plane
        var values = [Float](repeating: 0, count: n * d)
        for i in 0..<n {
            for ch in 0..<c {
                for p in 0..<plane {
                    let v = array.values[nhwc ? i * d + p * c + ch : i * d + ch * plane + p]
                    let index = i * d + ch * plane + p
                    if array.isUInt8 {
                        values[index] = pixelValue(UInt8(v), options.scale)
                        continue
                    }
                    guard v.isFinite else {
                        throw Failure.invalid("\(source): image \(i) holds \(v) (NaN or infinite pixels cannot be scored)")
                    }
                    if options.quantize {
                        let byte = options.range == .minusOneToOne
                            ? Image8.pixelValue(fromModelSpace: v) : Image8.pixelValue(fromUnitRange: v)
                        values[index] = pixelValue(byte, options.scale)
                    } else {
                        switch (options.range, options.scale) {
                        case (.minusOneToOne, .modelSpace): values[index] = v
                        case (.minusOneToOne, .pixels): values[index] = (v + 1) * 127.5
                        case (.zeroToOne, .modelSpace): values[index] = 2 * v - 1
                        case (.zeroToOne, .pixels): values[index] = v * 255
                        }
                    }
                }
            }
        }
        return (values, shape)
    }

    /// An 8-bit pixel in `scale`: model space p / 127.5 − 1 (as the PNG path always read it), or p.
    @inline(__always)
    static func pixelValue(_ p: UInt8, _ scale: ImageScale) -> Float {
        scale == .modelSpace ? Float(p) / 127.5 - 1 : Float(p)
    }

    /// The features of `source` (images, or a pytorch-fid `.npz` of statistics) under `network`.
    public static func featureSet(_ source: String, network: () throws -> any FeatureNetwork, name: String,
                                  options: ImageOptions = ImageOptions(), fashionMNISTDirectory: String? = nil,
                                  progress: (Int, Int) -> Void = { _, _ in }) throws -> FeatureSet {
        if source.hasSuffix(".npz"), try isStatisticsFile(source) { return try readStatistics(source, name: name) }
        let network = try network()
        var options = options
        options.scale = network.inputScale
        let (x, shape) = try images(source, shape: network.requiredShape, options: options,
                                    fashionMNISTDirectory: fashionMNISTDirectory)
        let d = max(shape.reduce(1, *), 1), n = x.count / d
        guard n >= 2 else { throw Failure.invalid("\(source): at least 2 images are needed, got \(n)") }
        if let bad = x.firstIndex(where: { !$0.isFinite }) {
            throw Failure.invalid("\(source): image \(bad / d) holds \(x[bad]) (NaN or infinite pixels cannot be scored)")
        }
        return try network.embed(x, shape: shape, name: name, progress: progress)
    }

    /// Whether the `.npz` at `path` holds pytorch-fid statistics (`mu`), not images (`arr_0`). A
    /// guided-diffusion evaluator reference batch holds both: it counts as statistics (FID from its
    /// stored `mu`/`sigma`, as evaluator.py's `read_statistics` does). Only the member list is read.
    public static func isStatisticsFile(_ path: String) throws -> Bool {
        let keys = try NPZArchive.keys(of: URL(fileURLWithPath: path))
        if keys.contains("mu") { return true }
        if keys.contains("arr_0") { return false }
        throw Failure.invalid("\(path): expected statistics (mu and sigma, pytorch-fid's format) or images (arr_0, "
                              + "guided-diffusion's layout); it holds \(keys.sorted())")
    }

    /// What a statistics `.npz` holds beside `mu` and `sigma` that scoring does not use, as one
    /// sentence (nil when nothing): a guided-diffusion reference batch's `mu_s`/`sigma_s` (sFID's
    /// spatial statistics) and `arr_0` (its images).
    public static func unusedStatisticsMembers(_ path: String) throws -> String? {
        let others = try NPZArchive.keys(of: URL(fileURLWithPath: path)).filter { $0 != "mu" && $0 != "sigma" }
        guard !others.isEmpty else { return nil }
        let named = others.map { key in
            switch key {
            case "mu_s", "sigma_s": "\(key) (sFID's spatial statistics)"
            case "arr_0": "arr_0 (the reference images)"
            default: key
            }
        }
        return "\(path): FID from its mu and sigma; not used: " + named.joined(separator: ", ")
    }

    /// pytorch-fid's statistics file: `mu` (D) and `sigma` (D×D), float32 or float64; only those
    /// two members are read.
    public static func readStatistics(_ path: String, name: String) throws -> FeatureSet {
        let archive = try NPZArchive.read(from: URL(fileURLWithPath: path), keys: ["mu", "sigma"])
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
