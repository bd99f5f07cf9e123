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
            a folder of PNG files, or fashion-mnist:test / fashion-mnist:train. Features come from --network: \
            fmnist (default) is the Fashion-MNIST classifier shipped in models/fashion-classifier (its 128-d \
            penultimate layer; IS from its 10 logits; 1×28×28 images); inception is pytorch-fid's FID Inception \
            (2048-d pool3 features, IS from its 1008 logits; any size, 1 channel repeated to 3, resized to \
            299×299 as pytorch-fid does), whose weights are pytorch-fid's pt_inception-2015-12-05-6726825d.pth \
            converted once with tools/convert_inception.py (--weights FILE, else $SKIPSTEP_INCEPTION_WEIGHTS, else \
            the file the converter writes by default in ~/.cache/skipstep). With --features and \
            --reference-features the metrics are computed on raw N×D feature matrices (.npy) and no network is run.
            Example: skipstep eval samples.npy --reference fashion-mnist:test --metrics fid,kid,is
            Example: skipstep eval samples.npy --reference fashion-mnist:test --network inception --metrics fid
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

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        if features != nil || referenceFeatures != nil {
            guard features != nil, referenceFeatures != nil, samples == nil, reference == nil else {
                throw ValidationError("give --features with --reference-features, and no SAMPLES or --reference")
            }
        } else {
            guard samples != nil, reference != nil else { throw ValidationError("give SAMPLES and --reference REF") }
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

    func run() async throws {
        let wanted = try requestedMetrics()
        let x: Features, y: Features
        var logits: Features?
        if let features, let referenceFeatures {
            x = try Self.featureMatrix(features, name: "generated")
            y = try Self.featureMatrix(referenceFeatures, name: "reference")
            if wanted.contains(.is) { log("note: IS needs logits; it is skipped with --features") }
        } else {
            let network = try self.network.load(weights: weights)
            let generated = try Self.embed(samples ?? "", with: network, name: "generated")
            x = generated.features
            logits = generated.logits
            if wanted.contains(.is), logits == nil { log("note: IS needs logits; the network's weights have none") }
            y = try Self.embed(reference ?? "", with: network, name: "reference").features
        }

        var report: [String: Double] = [:]
        var warnings: [String] = []
        if wanted.contains(.fid) {
            let fid = try Metrics.frechetDistance(x, y)
            report["fid"] = fid.value
            warnings += fid.warnings.map(\.description)
        }
        if wanted.contains(.kid) {
            let size = min(kidSubsetSize, x.count, y.count)
            let kid = try Metrics.kernelDistance(x, y, subsetCount: kidSubsets, subsetSize: size)
            report["kid_mean"] = kid.mean
            report["kid_std"] = kid.std
        }
        if wanted.contains(.precision) || wanted.contains(.recall) {
            let pr = try Metrics.precisionRecall(real: y, generated: x)
            if wanted.contains(.precision) { report["precision"] = pr.precision }
            if wanted.contains(.recall) { report["recall"] = pr.recall }
        }
        if wanted.contains(.is), let logits {
            let score = try Metrics.inceptionScore(logits: logits)
            report["is_mean"] = score.mean
            report["is_std"] = score.std
        }
        for warning in warnings { log("warning: \(warning)") }
        report["samples"] = Double(x.count)
        report["reference"] = Double(y.count)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            for key in report.keys.sorted() { print(key.padding(toLength: 12, withPad: " ", startingAt: 0), report[key] ?? 0) }
        }
    }

    /// `$SKIPSTEP_CLASSIFIER_DIR`, else models/fashion-classifier beside the source tree the binary
    /// was built in, else in the working directory.
    static func classifierDirectory(_ explicit: String?) throws -> URL {
        var candidates: [URL] = []
        if let explicit { candidates.append(URL(fileURLWithPath: explicit)) } else {
            if let dir = ProcessInfo.processInfo.environment["SKIPSTEP_CLASSIFIER_DIR"] {
                candidates.append(URL(fileURLWithPath: dir))
            }
            // .build/<config>/skipstep → the package root.
            let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            candidates.append(executable.deletingLastPathComponent().appendingPathComponent("../../../models/fashion-classifier").standardized)
            candidates.append(URL(fileURLWithPath: "models/fashion-classifier"))
        }
        if let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0.appendingPathComponent("config.json").path) }) {
            return found
        }
        throw ValidationError("no classifier found (looked in \(candidates.map(\.path).joined(separator: ", "))); "
                              + "pass --weights DIR (make one with tools/train_classifier.py)")
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
        if source.hasPrefix("fashion-mnist:") {
            guard let split = FashionMNIST.Split(rawValue: String(source.dropFirst("fashion-mnist:".count))) else {
                throw ValidationError("\(source): expected fashion-mnist:test or fashion-mnist:train")
            }
            guard required == nil || required == [1, 28, 28] else {
                throw ValidationError("\(source): 1×28×28 images, the network needs \(Self.format(required ?? []))")
            }
            return (try FashionMNIST.load(split: split).images.bytes.map { Float($0) / 127.5 - 1 }, [1, 28, 28])
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
