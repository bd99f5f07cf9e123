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
            a folder of PNG files, or fashion-mnist:test / fashion-mnist:train. Features come from the \
            Fashion-MNIST classifier (its 128-d penultimate layer; IS from its logits), shipped in \
            models/fashion-classifier. With --features and --reference-features the metrics are computed on \
            raw N×D feature matrices (.npy) and no network is run.
            Example: skipstep eval samples.npy --reference fashion-mnist:test --metrics fid,kid,is
            """)

    @Argument(help: ArgumentHelp("The generated samples: .npy, a folder of PNGs, or fashion-mnist:SPLIT.", valueName: "samples"))
    var samples: String?

    @Option(help: ArgumentHelp("The reference images (same forms as SAMPLES).", valueName: "ref"))
    var reference: String?

    @Option(help: ArgumentHelp("N×D features of the samples (.npy), instead of running the network.", valueName: "file.npy"))
    var features: String?

    @Option(help: ArgumentHelp("N×D reference features (.npy).", valueName: "file.npy"))
    var referenceFeatures: String?

    @Option(help: ArgumentHelp("The classifier folder (config.json + model.safetensors).", valueName: "dir"))
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
            let network = try FashionClassifier(directory: try Self.classifierDirectory(weights))
            let generated = try Self.embed(samples ?? "", with: network, name: "generated")
            x = generated.features
            logits = generated.logits
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

    /// Images in model space ([-1, 1], N×C×H×W) from a .npy, a PNG folder or fashion-mnist:SPLIT.
    static func images(_ source: String, shape: [Int]) throws -> [Float] {
        let d = shape.reduce(1, *)
        if source.hasPrefix("fashion-mnist:") {
            guard let split = FashionMNIST.Split(rawValue: String(source.dropFirst("fashion-mnist:".count))) else {
                throw ValidationError("\(source): expected fashion-mnist:test or fashion-mnist:train")
            }
            return try FashionMNIST.load(split: split).images.bytes.map { Float($0) / 127.5 - 1 }
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory) else {
            throw ValidationError("\(source) does not exist")
        }
        if isDirectory.boolValue {
            let files = try FileManager.default.contentsOfDirectory(atPath: source).filter { $0.lowercased().hasSuffix(".png") }.sorted()
            guard !files.isEmpty else { throw ValidationError("\(source): the folder holds no .png files") }
            var values: [Float] = []
            for file in files {
                let image = try Image8.readPNG(from: URL(fileURLWithPath: source).appendingPathComponent(file))
                guard image.channels == shape[0], image.height == shape[1], image.width == shape[2] else {
                    throw ValidationError("\(source)/\(file): \(image.channels)×\(image.height)×\(image.width), expected \(shape.map(String.init).joined(separator: "×"))")
                }
                values += image.pixels.map { Float($0) / 127.5 - 1 }
            }
            return values
        }
        let array = try NPYArray.read(from: URL(fileURLWithPath: source))
        guard array.shape.count == 4, Array(array.shape.dropFirst()) == shape, array.values.count % d == 0 else {
            throw ValidationError("\(source): shape \(array.shape), expected N×\(shape.map(String.init).joined(separator: "×"))")
        }
        return array.values
    }

    static func embed(_ source: String, with network: FashionClassifier, name: String) throws -> (features: Features, logits: Features) {
        let x = try images(source, shape: network.inputShape)
        let d = network.inputShape.reduce(1, *), n = x.count / d
        guard n >= 2 else { throw ValidationError("\(source): at least 2 images are needed, got \(n)") }
        var features: [Float] = [], logits: [Float] = []
        for start in stride(from: 0, to: n, by: 500) {
            let count = min(500, n - start)
            let out = try network(Array(x[(start * d)..<((start + count) * d)]), batch: count)
            features += out.features
            logits += out.logits
            progress("\(name): features \(start + count)/\(n)")
        }
        progressDone()
        return (try Features(features, dimension: network.featureDimension, name: name),
                try Features(logits, dimension: network.classes.count, name: name))
    }
}
