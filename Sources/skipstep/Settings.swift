import ArgumentParser
import Foundation
import Media
import Metrics
import Models
import Sweep

/// Everything skipstep takes from its environment and its own location, read once here at the
/// edge; the library receives the resolved values (docs/ARCHITECTURE.md, "Configuration").
struct Settings: Sendable {
    /// `$SKIPSTEP_MODELS_DIR`, then the repository's models/ beside the source tree the binary was
    /// built in (.build/<triple>/<config>/skipstep → ../../../models), then the installed layout
    /// (PREFIX/bin/skipstep → PREFIX/share/skipstep/models, as tools/install.sh lays it out), then
    /// ./models. The binary's own path comes from /proc/self/exe with symbolic links resolved, so a
    /// binary found through PATH or a link finds its models from any working directory.
    var modelDirectories: [URL]
    /// `$SKIPSTEP_CACHE_DIR`, else `$XDG_CACHE_HOME/skipstep`, else `~/.cache/skipstep`.
    var cacheDirectory: URL
    /// `$SKIPSTEP_FASHION_MNIST_DIR`, else Debian's /usr/share/datasets/fashion-mnist.
    var fashionMNISTDirectory: String
    /// `$SKIPSTEP_CLASSIFIER_DIR`: the classifier folder when no --weights is given.
    var classifierDirectory: String?
    /// `$SKIPSTEP_INCEPTION_WEIGHTS`: the converted Inception weights when no --weights is given.
    var inceptionWeights: String?
    /// Hugging Face cache roots, in huggingface_hub's order: `$HF_HUB_CACHE`,
    /// `$HUGGINGFACE_HUB_CACHE`, `$HF_HOME/hub`, `$XDG_CACHE_HOME/huggingface/hub`, `~/.cache/huggingface/hub`.
    var hubCaches: [URL]

    static let current = Settings(environment: ProcessInfo.processInfo.environment, executable: executablePath())

    /// The running binary: /proc/self/exe on Linux, else Foundation's idea of it, else argv[0].
    static func executablePath() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? Bundle.main.executablePath ?? CommandLine.arguments.first ?? "skipstep"
    }

    init(environment: [String: String], executable: String) {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        var directories: [URL] = []
        if let dir = value("SKIPSTEP_MODELS_DIR") { directories.append(URL(fileURLWithPath: dir)) }
        let binary = URL(fileURLWithPath: executable).resolvingSymlinksInPath()
        directories.append(binary.deletingLastPathComponent().appendingPathComponent("../../../models").standardized)
        directories.append(binary.deletingLastPathComponent().appendingPathComponent("../share/skipstep/models").standardized)
        directories.append(URL(fileURLWithPath: "models"))
        modelDirectories = directories
        if let dir = value("SKIPSTEP_CACHE_DIR") {
            cacheDirectory = URL(fileURLWithPath: dir, isDirectory: true)
        } else if let xdg = value("XDG_CACHE_HOME") {
            cacheDirectory = URL(fileURLWithPath: xdg, isDirectory: true).appendingPathComponent("skipstep", isDirectory: true)
        } else {
            let home = value("HOME").map { URL(fileURLWithPath: $0, isDirectory: true) }
                ?? FileManager.default.homeDirectoryForCurrentUser
            cacheDirectory = home.appendingPathComponent(".cache/skipstep", isDirectory: true)
        }
        fashionMNISTDirectory = FashionMNIST.directory(explicit: nil, environment: environment)
        let home = value("HOME").map { URL(fileURLWithPath: $0, isDirectory: true) }
            ?? FileManager.default.homeDirectoryForCurrentUser
        hubCaches = [value("HF_HUB_CACHE"), value("HUGGINGFACE_HUB_CACHE"), value("HF_HOME").map { $0 + "/hub" },
                     value("XDG_CACHE_HOME").map { $0 + "/huggingface/hub" }].compactMap { $0 }.map { URL(fileURLWithPath: $0) }
            + [home.appendingPathComponent(".cache/huggingface/hub")]
        classifierDirectory = value("SKIPSTEP_CLASSIFIER_DIR")
        inceptionWeights = value("SKIPSTEP_INCEPTION_WEIGHTS")
    }

    var catalog: ModelCatalog {
        let directory = fashionMNISTDirectory
        return ModelCatalog(modelDirectories: modelDirectories, cacheDirectory: cacheDirectory, hub: HubCache(roots: hubCaches),
                            fashionMNISTTrain: {
                                let (images, labels) = try FashionMNIST.load(split: .train, directory: directory)
                                return (images.bytes, images.shape, labels)
                            },
                            log: { log($0) })
    }

    /// The classifier folder: `explicit` (the command's `flag`), else `$SKIPSTEP_CLASSIFIER_DIR`,
    /// else the shipped models/fashion-classifier.
    func classifierDirectory(_ explicit: String?, flag: String = "--weights") throws -> URL {
        if let dir = explicit ?? classifierDirectory {
            let url = URL(fileURLWithPath: dir)
            guard FileManager.default.fileExists(atPath: url.appendingPathComponent("config.json").path) else {
                throw ValidationError("\(dir) holds no classifier (config.json); make one with tools/train_classifier.py")
            }
            return url
        }
        do {
            return try catalog.shippedDirectory("fashion-classifier")
        } catch {
            throw ValidationError("\(error.localizedDescription); or pass \(flag) DIR (make one with tools/train_classifier.py)")
        }
    }
}

/// `--network`: the network whose features FID, KID and precision/recall compare, and whose
/// logits give the Inception Score.
extension FIDInception.Preprocessing: ExpressibleByArgument {}
extension Scoring.ImageOptions.Range: ExpressibleByArgument {}

enum FeatureNetworkName: String, CaseIterable, ExpressibleByArgument {
    /// The shipped Fashion-MNIST classifier (128-d features, 10 logits; 1×28×28 images).
    case fmnist
    /// pytorch-fid's FID Inception (2048-d pool3 features, 1008 logits; any size, 1 or 3 channels,
    /// resized to 299×299): FID comparable with published numbers.
    case inception

    /// Loads the network; `weights` is `--weights` (the classifier folder, or the converted
    /// Inception safetensors).
    func load(weights: String?, mode: FIDInception.Preprocessing = .legacyPytorch,
              settings: Settings = .current) throws -> any FeatureNetwork {
        switch self {
        case .fmnist:
            return try FashionClassifier(directory: settings.classifierDirectory(weights))
        case .inception:
            return try FIDInception(contentsOf: FIDInception.locateWeights(weights, fromEnvironment: settings.inceptionWeights,
                                                                           cacheDirectory: settings.cacheDirectory),
                                    preprocessing: mode)
        }
    }
}
