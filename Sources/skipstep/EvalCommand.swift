import ArgumentParser
import Foundation
import Media
import Metrics
import Models
import Sweep

struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Score samples against reference images: FID, KID, precision/recall and Inception Score.",
        discussion: """
            SAMPLES and --reference are a .npy file (N×C×H×W or N×H×W×C with C = 1 or 3, or N×H×W grey; float32 \
            or float64 in [-1, 1] as `skipstep sample` writes, or in [0, 1] with --range 0,1; or uint8 0..255), \
            an .npz whose arr_0 holds such an array (guided-diffusion's sample batches, N×H×W×3 uint8), a folder \
            of PNG and JPEG files, or fashion-mnist:test / fashion-mnist:train (a slice of images A..<B: \
            fashion-mnist:train[A:B]). Float samples are first quantised to 8 bits exactly as saving them as PNG \
            would (clamp, ×255, round half to even), so a .npy scores the same as its PNGs; --no-quantize scores \
            the raw floats. Features come from --network: \
            fmnist (default) is the Fashion-MNIST classifier shipped in models/fashion-classifier (its 128-d \
            penultimate layer; IS from its 10 logits; 1×28×28 images); inception is pytorch-fid's FID Inception \
            (2048-d pool3 features, IS from its 1008 logits; any size, 1 channel repeated to 3, resized to \
            299×299 as pytorch-fid does), whose weights are pytorch-fid's pt_inception-2015-12-05-6726825d.pth \
            converted once with tools/convert_inception.py (--weights FILE, else $SKIPSTEP_INCEPTION_WEIGHTS, else \
            the file the converter writes by default in ~/.cache/skipstep). --mode picks the Inception's FID \
            convention: legacy-pytorch (pytorch-fid's bilinear resize, the default) or clean (clean-fid 0.1.35's: \
            Pillow's bicubic resize of each channel in float32, clipped to [0, 255], not requantised; clean-fid's \
            own TorchScript Inception is the same TensorFlow graph, here run from pytorch-fid's weights). With --features and \
            --reference-features the metrics are computed on raw N×D feature matrices (.npy) and no network is run.
            Example: skipstep eval samples.npy --reference fashion-mnist:test --metrics fid,kid,is
            SAMPLES or --reference may also be a statistics file (.npz with mu and sigma, pytorch-fid's format): \
            then only FID is computed (and IS of the samples). A guided-diffusion evaluator reference batch \
            (VIRTUAL_imagenet256_labeled.npz: mu, sigma, mu_s, sigma_s, arr_0) is such a file: FID comes from its \
            stored mu and sigma (as evaluator.py computes it), and only those two members are read. --save-stats FILE.npz writes the statistics of SAMPLES in that format \
            (pytorch-fid's --save-stats); no --reference is needed then.
            Example: skipstep eval samples.npy --reference fashion-mnist:test --network inception --metrics fid
            Example: skipstep eval fashion-mnist:train --save-stats train.npz && skipstep eval s.npy --reference train.npz
            """)

    @Argument(help: ArgumentHelp("The generated samples: .npy, .npz (arr_0), a folder of PNG/JPEG files, or fashion-mnist:SPLIT.",
                                 valueName: "samples"))
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

    @Option(help: "FID convention of the inception network: legacy-pytorch (pytorch-fid's resize) or clean (clean-fid's).")
    var mode: FIDInception.Preprocessing = .legacyPytorch

    @Option(parsing: .unconditional, help: ArgumentHelp("The range SAMPLES' float arrays hold: -1,1 (model space, as `sample` writes) or 0,1.",
                               valueName: "lo,hi"))
    var range: Scoring.ImageOptions.Range = .minusOneToOne

    @Option(parsing: .unconditional, help: ArgumentHelp("The range --reference's float arrays hold (as --range).", valueName: "lo,hi"))
    var referenceRange: Scoring.ImageOptions.Range = .minusOneToOne

    @Flag(help: "Score float samples as they are, instead of quantised to 8 bits as a saved PNG would be.")
    var noQuantize = false

    @Option(parsing: .upToNextOption, help: "Metrics to compute (comma or space separated): fid, kid, precision, recall, is.")
    var metrics: [String] = ["fid", "kid", "precision", "recall", "is"]

    @Option(parsing: .unconditional, help: "Number of KID subsets.")
    var kidSubsets: Int = MetricSuite.defaultKIDSubsets

    @Option(parsing: .unconditional, help: "KID subset size (capped at the smaller set).")
    var kidSubsetSize: Int = MetricSuite.defaultKIDSubsetSize

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
            if let samples, samples.hasSuffix(".npz"), (try? Scoring.isStatisticsFile(samples)) == true {
                throw ValidationError("--save-stats: SAMPLES is already a statistics file")
            }
        }
        if mode != .legacyPytorch && network != .inception {
            throw ValidationError("--mode \(mode.rawValue) is an FID convention of --network inception")
        }
        _ = try suite()
    }

    func requestedMetrics() throws -> [MetricKey] {
        do {
            return try MetricKey.list(parsing: metrics.joined(separator: ","))
        } catch {
            throw ValidationError("--metrics: \(error.localizedDescription)")
        }
    }

    func suite() throws -> MetricSuite {
        do {
            return try MetricSuite(requestedMetrics(), kidSubsets: kidSubsets, kidSubsetSize: kidSubsetSize)
        } catch let error as MetricsError {
            throw ValidationError("--kid-subsets/--kid-subset-size: \(error.localizedDescription)")
        }
    }

    func run() async throws {
        let suite = try suite()
        var loadedNetwork: (any FeatureNetwork)?
        func network() throws -> any FeatureNetwork {
            if let loadedNetwork { return loadedNetwork }
            let loaded = try self.network.load(weights: weights, mode: mode)
            loadedNetwork = loaded
            return loaded
        }
        func side(_ source: String?, features path: String?, name: String, range: Scoring.ImageOptions.Range) throws -> FeatureSet {
            if let path { return try FeatureSet(features: Scoring.featureMatrix(path, name: name), logits: nil) }
            if let source, source.hasSuffix(".npz"), try Scoring.isStatisticsFile(source),
               let note = try Scoring.unusedStatisticsMembers(source) {
                log("note: \(note)")
            }
            let set = try Scoring.featureSet(source ?? "", network: network, name: name,
                                             options: Scoring.ImageOptions(range: range, quantize: !noQuantize),
                                             fashionMNISTDirectory: Settings.current.fashionMNISTDirectory) { done, total in
                progress("\(name): features \(done)/\(total)")
            }
            progressDone()
            return set
        }

        let x = try side(samples, features: features, name: "generated", range: range)
        if let saveStats {
            try Scoring.writeStatistics(x.statistics, to: saveStats)
            log("wrote \(saveStats) (mu \(x.statistics.dimension), sigma \(x.statistics.dimension)×\(x.statistics.dimension), from \(x.count ?? 0) samples)")
            if reference == nil && referenceFeatures == nil { return }
        }
        let y = try side(reference, features: referenceFeatures, name: "reference", range: referenceRange)
        guard x.statistics.dimension == y.statistics.dimension else {
            throw RunError("the samples have \(x.statistics.dimension)-d features, the reference \(y.statistics.dimension)-d "
                           + "(statistics from another network?)")
        }
        for (key, why) in suite.unavailable(samples: x, reference: y) { log("note: \(key.rawValue) \(why); skipped") }
        var (report, warnings) = try suite.evaluate(samples: x, reference: y)
        if classHistogram, let logits = x.logits {
            var counts = [Int](repeating: 0, count: logits.dimension)
            for i in 0..<logits.count {
                let row = logits.values[(i * logits.dimension)..<((i + 1) * logits.dimension)]
                if let top = row.indices.max(by: { row[$0] < row[$1] }) { counts[top - i * logits.dimension] += 1 }
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
}
