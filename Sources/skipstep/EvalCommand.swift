import ArgumentParser
import Foundation
import Media
import Metrics
import Models

enum MetricName: String, CaseIterable, ExpressibleByArgument {
    case fid, kid, precision, recall, `is`
}

struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Score samples against reference images: FID, KID, precision/recall and Inception Score.",
        discussion: """
            SAMPLES and --reference are a .npy file (float32 N×C×H×W in [-1, 1], as `skipstep sample` writes), \
            a folder of PNG files, or fashion-mnist:test / fashion-mnist:train (a slice of images A..<B: \
            fashion-mnist:train[A:B]). Features come from --network: \
            fmnist (default) is the Fashion-MNIST classifier shipped in models/fashion-classifier (its 128-d \
            penultimate layer; IS from its 10 logits; 1×28×28 images); inception is pytorch-fid's FID Inception \
            (2048-d pool3 features, IS from its 1008 logits; any size, 1 channel repeated to 3, resized to \
            299×299 as pytorch-fid does), whose weights are pytorch-fid's pt_inception-2015-12-05-6726825d.pth \
            converted once with tools/convert_inception.py (--weights FILE, else $SKIPSTEP_INCEPTION_WEIGHTS, else \
            the file the converter writes by default in ~/.cache/skipstep). With --features and \
            --reference-features the metrics are computed on raw N×D feature matrices (.npy) and no network is run.
            Example: skipstep eval samples.npy --reference fashion-mnist:test --metrics fid,kid,is
            SAMPLES or --reference may also be a statistics file (.npz with mu and sigma, pytorch-fid's format): \
            then only FID is computed. --save-stats FILE.npz writes the statistics of SAMPLES in that format \
            (pytorch-fid's --save-stats); no --reference is needed then.
            Example: skipstep eval samples.npy --reference fashion-mnist:test --network inception --metrics fid
            Example: skipstep eval fashion-mnist:train --save-stats train.npz && skipstep eval s.npy --reference train.npz
            """)

    @Argument(help: ArgumentHelp("The generated samples: .npy, a folder of PNGs, or fashion-mnist:SPLIT.", valueName: "samples"))
    var samples: String?

    @Option(help: ArgumentHelp("The reference images (same forms as SAMPLES).", valueName: "ref"))
    var reference: String?

    @Option(help: ArgumentHelp("N×D features of the samples (.npy), instead of running the network.", valueName: "file.npy"))
    var features: String?

    @Option(help: ArgumentHelp("N×D reference features (.npy).", valueName: "file.npy"))
    var referenceFeatures: String?

    @Option(help: "Feature network: fmnist (Fashion-MNIST classifier) or inception (pytorch-fid's FID Inception).")
    var network: FeatureNetworkName = .fmnist

    @Option(help: ArgumentHelp("fmnist: the classifier folder (config.json + model.safetensors); inception: the "
                               + "safetensors file made by tools/convert_inception.py.", valueName: "path"))
    var weights: String?

    @Option(parsing: .upToNextOption, help: "Metrics to compute (comma or space separated): fid, kid, precision, recall, is.")
    var metrics: [String] = ["fid", "kid", "precision", "recall", "is"]

    @Option(help: "Number of KID subsets.")
    var kidSubsets: Int = 100

    @Option(help: "KID subset size (capped at the smaller set).")
    var kidSubsetSize: Int = 1000

    @Option(help: ArgumentHelp("Write the mean and covariance of SAMPLES' features here (.npz, mu and sigma in "
                               + "float64, as pytorch-fid --save-stats).", valueName: "file.npz"))
    var saveStats: String?

    @Flag(help: "Also report the fraction of SAMPLES the network assigns to each class (class_K, argmax of the logits).")
    var classHistogram = false

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        if features != nil || referenceFeatures != nil {
            guard features != nil, referenceFeatures != nil || saveStats != nil, samples == nil, reference == nil else {
                throw ValidationError("give --features with --reference-features (or --save-stats FILE.npz), and no SAMPLES or --reference")
            }
        } else {
            guard samples != nil, reference != nil || saveStats != nil else {
                throw ValidationError("give SAMPLES and --reference REF (or --save-stats FILE.npz)")
            }
        }
        if let saveStats {
            guard saveStats.hasSuffix(".npz") else { throw ValidationError("--save-stats \(saveStats): expected a path ending in .npz") }
            guard samples.map({ !$0.hasSuffix(".npz") }) ?? true else {
                throw ValidationError("--save-stats: SAMPLES is already a statistics file")
            }
        }
        _ = try requestedMetrics()
    }

    func requestedMetrics() throws -> Set<MetricName> {
        let names = metrics.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        return Set(try names.map { name in
            guard let metric = MetricName(rawValue: name) else {
                throw ValidationError("--metrics: unknown metric '\(name)' (expected fid, kid, precision, recall, is)")
            }
            return metric
        })
    }

    /// One side of the comparison: features (and logits) when the source had images or features,
    /// and always the Gaussian statistics FID needs.
    struct Side {
        var features: Features?
        var logits: Features?
        var statistics: GaussianStatistics
        var count: Int?
    }

    func run() async throws {
        let wanted = try requestedMetrics()
        var loadedNetwork: (any FeatureNetwork)?
        func network() throws -> any FeatureNetwork {
            if let loadedNetwork { return loadedNetwork }
            let loaded = try self.network.load(weights: weights)
            loadedNetwork = loaded
            return loaded
        }
        func side(_ source: String?, features path: String?, name: String) throws -> Side {
            if let path {
                return try Self.side(Self.featureMatrix(path, name: name), logits: nil)
            }
            let source = source ?? ""
            if source.hasSuffix(".npz") { return try Self.readStatistics(source, name: name) }
            let embedded = try Self.embed(source, with: network(), name: name)
            return try Self.side(embedded.features, logits: embedded.logits)
        }

        let x = try side(samples, features: features, name: "generated")
        if let saveStats {
            try Self.writeStatistics(x.statistics, to: saveStats)
            log("wrote \(saveStats) (mu \(x.statistics.dimension), sigma \(x.statistics.dimension)×\(x.statistics.dimension), from \(x.count ?? 0) samples)")
            if reference == nil && referenceFeatures == nil { return }
        }
        let y = try side(reference, features: referenceFeatures, name: "reference")
        guard x.statistics.dimension == y.statistics.dimension else {
            throw ValidationError("the samples have \(x.statistics.dimension)-d features, the reference \(y.statistics.dimension)-d "
                                  + "(statistics from another network?)")
        }

        var report: [String: Double] = [:]
        var warnings: [String] = []
        if wanted.contains(.fid) {
            let fid = try Metrics.frechetDistance(x.statistics, y.statistics)
            report["fid"] = fid.value
            warnings += fid.warnings.map(\.description)
        }
        let featureMetrics = wanted.intersection([.kid, .precision, .recall])
        if !featureMetrics.isEmpty, x.features == nil || y.features == nil {
            log("note: \(featureMetrics.map(\.rawValue).sorted().joined(separator: ", ")) need features; skipped with .npz statistics")
        }
        if let xf = x.features, let yf = y.features {
            if wanted.contains(.kid) {
                let size = min(kidSubsetSize, xf.count, yf.count)
                let kid = try Metrics.kernelDistance(xf, yf, subsetCount: kidSubsets, subsetSize: size)
                report["kid_mean"] = kid.mean
                report["kid_std"] = kid.std
            }
            if wanted.contains(.precision) || wanted.contains(.recall) {
                let pr = try Metrics.precisionRecall(real: yf, generated: xf)
                if wanted.contains(.precision) { report["precision"] = pr.precision }
                if wanted.contains(.recall) { report["recall"] = pr.recall }
            }
        }
        if wanted.contains(.is) {
            if let logits = x.logits {
                let score = try Metrics.inceptionScore(logits: logits)
                report["is_mean"] = score.mean
                report["is_std"] = score.std
            } else {
                log("note: IS needs the network's logits; skipped (\(features != nil ? "--features" : samples?.hasSuffix(".npz") == true ? ".npz statistics" : "the network's weights have none"))")
            }
        }
        if classHistogram, let logits = x.logits {
            var counts = [Int](repeating: 0, count: logits.dimension)
            for i in 0..<logits.count {
                let row = logits.values[(i * logits.dimension)..<((i + 1) * logits.dimension)]
                counts[row.indices.max { row[$0] < row[$1] }! - i * logits.dimension] += 1
            }
            for (k, c) in counts.enumerated() { report[String(format: "class_%02d", k)] = Double(c) / Double(logits.count) }
        }
        for warning in warnings { log("warning: \(warning)") }
        if let n = x.count { report["samples"] = Double(n) }
        if let n = y.count { report["reference"] = Double(n) }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            for key in report.keys.sorted() { print(key.padding(toLength: 12, withPad: " ", startingAt: 0), report[key] ?? 0) }
        }
    }

    static func side(_ features: Features, logits: Features?) throws -> Side {
        var statistics = FeatureStatistics(dimension: features.dimension, name: features.name)
        try statistics.add(features)
        return Side(features: features, logits: logits, statistics: try statistics.gaussian(), count: features.count)
    }

    /// pytorch-fid's statistics file: `mu` (D) and `sigma` (D×D), float32 or float64.
    static func readStatistics(_ path: String, name: String) throws -> Side {
        let archive = try NPZArchive.read(from: URL(fileURLWithPath: path))
        let mu = try archive.doubleArray("mu", path: path), sigma = try archive.doubleArray("sigma", path: path)
        let d = mu.values.count
        guard mu.shape == [d], d > 0, sigma.shape == [d, d] else {
            throw ValidationError("\(path): expected mu of shape (D,) and sigma of shape (D, D), got \(mu.shape) and \(sigma.shape)")
        }
        let statistics = try GaussianStatistics(mean: mu.values, covariance: sigma.values, name: "\(name) (\(path))")
        return Side(features: nil, logits: nil, statistics: statistics, count: nil)
    }

    static func writeStatistics(_ statistics: GaussianStatistics, to path: String) throws {
        let d = statistics.dimension
        try NPZArchive(members: [
            "mu": NPYDoubleArray(shape: [d], values: statistics.mean).npyData(),
            "sigma": NPYDoubleArray(shape: [d, d], values: statistics.covariance).npyData(),
        ]).write(to: URL(fileURLWithPath: path))
    }

    /// `--weights` (or the command's `flag`), else `$SKIPSTEP_CLASSIFIER_DIR`, else the shipped
    /// models/fashion-classifier (`ModelCatalog.shippedDirectory`).
    static func classifierDirectory(_ explicit: String?, flag: String = "--weights") throws -> URL {
        if let dir = explicit ?? ProcessInfo.processInfo.environment["SKIPSTEP_CLASSIFIER_DIR"] {
            let url = URL(fileURLWithPath: dir)
            guard FileManager.default.fileExists(atPath: url.appendingPathComponent("config.json").path) else {
                throw ValidationError("\(dir) holds no classifier (config.json); make one with tools/train_classifier.py")
            }
            return url
        }
        do {
            return try ModelCatalog.shippedDirectory("fashion-classifier")
        } catch {
            throw ValidationError("\(error.localizedDescription); or pass \(flag) DIR (make one with tools/train_classifier.py)")
        }
    }

    static func featureMatrix(_ path: String, name: String) throws -> Features {
        let array = try NPYArray.read(from: URL(fileURLWithPath: path))
        guard array.shape.count == 2, array.shape[1] > 0 else {
            throw ValidationError("\(path): expected an N×D feature matrix, got shape \(array.shape)")
        }
        return try Features(array.values, dimension: array.shape[1], name: name)
    }

    /// Images in model space ([-1, 1], N×C×H×W) from a .npy, a PNG folder or fashion-mnist:SPLIT, and
    /// their C×H×W: `shape` when given (else an error), otherwise the source's own (1 or 3 channels).
    static func images(_ source: String, shape required: [Int]?) throws -> (values: [Float], shape: [Int]) {
        if FashionMNIST.Selection.isSelection(source) {
            let selection = try FashionMNIST.Selection(parsing: source)
            guard required == nil || required == [1, 28, 28] else {
                throw ValidationError("\(source): 1×28×28 images, the network needs \(Self.format(required ?? []))")
            }
            return (try selection.modelSpaceImages(), [1, 28, 28])
        }

        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory) else {
            throw ValidationError("\(source) does not exist")
        }
        if isDirectory.boolValue {
            let files = try FileManager.default.contentsOfDirectory(atPath: source).filter { $0.lowercased().hasSuffix(".png") }.sorted()
            guard !files.isEmpty else { throw ValidationError("\(source): the folder holds no .png files") }
            var values: [Float] = []
            var shape = required
            for file in files {
                let image = try Image8.readPNG(from: URL(fileURLWithPath: source).appendingPathComponent(file))
                let own = [image.channels, image.height, image.width]
                if shape == nil { shape = try Self.anyImageShape(own, source: "\(source)/\(file)") }
                guard own == shape else {
                    throw ValidationError("\(source)/\(file): \(Self.format(own)), expected \(Self.format(shape ?? []))")
                }
                values += image.pixels.map { Float($0) / 127.5 - 1 }
            }
            return (values, shape ?? [])
        }
        let array = try NPYArray.read(from: URL(fileURLWithPath: source))
        let own = Array(array.shape.dropFirst())
        guard array.shape.count == 4, required == nil || own == required else {
            throw ValidationError("\(source): shape \(array.shape), expected N×\(Self.format(required ?? [1, 28, 28]))")
        }
        return (array.values, try required ?? Self.anyImageShape(own, source: source))
    }

    /// `shape` when it is an image shape a size-agnostic network takes (1 or 3 channels).
    static func anyImageShape(_ shape: [Int], source: String) throws -> [Int] {
        guard shape.count == 3, shape[0] == 1 || shape[0] == 3, shape[1] > 0, shape[2] > 0 else {
            throw ValidationError("\(source): \(Self.format(shape)) images; the network takes 1 or 3 channels")
        }
        return shape
    }

    static func format(_ shape: [Int]) -> String { shape.map(String.init).joined(separator: "×") }

    static func embed(_ source: String, with network: any FeatureNetwork, name: String) throws -> (features: Features, logits: Features?) {
        let (x, shape) = try images(source, shape: network.requiredShape)
        let d = shape.reduce(1, *), n = x.count / d
        guard n >= 2 else { throw ValidationError("\(source): at least 2 images are needed, got \(n)") }
        if let bad = x.firstIndex(where: { !$0.isFinite }) {
            throw ValidationError("\(source): image \(bad / d) holds \(x[bad]) (NaN or infinite pixels cannot be scored)")
        }
        var features: [Float] = [], logits: [Float] = []
        for start in stride(from: 0, to: n, by: network.chunk) {
            let count = min(network.chunk, n - start)
            let out = try network.features(of: Array(x[(start * d)..<((start + count) * d)]), batch: count, shape: shape)
            features += out.features
            logits += out.logits ?? []
            progress("\(name): features \(start + count)/\(n)")
        }
        progressDone()
        return (try Features(features, dimension: network.featureDimension, name: name),
                try network.logitDimension.map { try Features(logits, dimension: $0, name: name) })
    }
}
