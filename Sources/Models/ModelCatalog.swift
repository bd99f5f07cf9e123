import Diffusion
import Foundation

/// A model name or path that cannot be loaded, saying what was expected.
public enum ModelCatalogError: Error, LocalizedError, Equatable {
    case notFound(String)
    case unsupported(String)
    case pytorchCheckpoint(String)
    case shippedModelMissing(name: String, searched: [String])
    /// `--variant` given for a model that is not a diffusers folder.
    case variantNotApplicable(model: String, variant: String)

    public var errorDescription: String? {
        switch self {
        case .notFound(let path):
            "model '\(path)' is neither a built-in model (\(ModelCatalog.builtIn.joined(separator: ", "))) nor an existing file"
        case let .shippedModelMissing(name, searched):
            "the shipped model folder \(name) was not found (looked in \(searched.joined(separator: ", "))); run from the "
                + "repository, install with tools/install.sh PREFIX (models in PREFIX/share/skipstep/models), "
                + "or set $SKIPSTEP_MODELS_DIR to a models/ directory"
        case .unsupported(let path):
            "model '\(path)': expected a diffusers model folder, a converted guided-diffusion folder (adm_config.json + "
                + "model.safetensors) or a Gaussian mixture saved as .safetensors (format skipstep-gmm)"
        case let .variantNotApplicable(model, variant):
            "--variant \(variant): model '\(model)' is not a diffusers folder; weight variants (diffusion_pytorch_model."
                + "\(variant).safetensors) exist only there"
        case .pytorchCheckpoint(let path):
            "model '\(path)' is a PyTorch checkpoint, which skipstep does not read; if it is an OpenAI guided-diffusion (ADM) "
                + "checkpoint, convert it with tools/convert_adm.py \(path) --out DIR [--preset NAME | its MODEL_FLAGS] and pass --model DIR"
        }
    }
}

/// Resolves `--model` names and paths. Where to look is decided by the caller (the CLI reads the
/// environment and its own location once and passes them in).
public struct ModelCatalog: Sendable {
    /// The embedded default: the DDPM UNet trained on Fashion-MNIST by tools/train_unet.py.
    public static let defaultModelName = "fashion-ddpm"
    /// The names `load` accepts besides paths.
    public static let builtIn = ["fashion-ddpm", "fashion-gmm"]
    /// Folders of the repository's models/ directory behind the built-in names.
    public static let shippedFolders = ["fashion-ddpm": "fashion-ddpm-28"]

    /// Directories that may hold the repository's models/ folders, in order of preference.
    public var modelDirectories: [URL]
    /// Where the fashion-gmm fit is cached.
    public var cacheDirectory: URL
    /// The Hugging Face caches `ORG/NAME[@REVISION]` is looked up in.
    public var hub: HubCache
    /// Fashion-MNIST's training images, read when fashion-gmm must be fitted.
    public var fashionMNISTTrain: @Sendable () throws -> GaussianMixture.LabeledImages
    /// Where progress notes go (fitting the oracle).
    public var log: @Sendable (String) -> Void

    /// A catalog searching `modelDirectories` for the shipped models, caching the fitted oracle in
    /// `cacheDirectory`, resolving ORG/NAME in `hub`, and reading Fashion-MNIST through `fashionMNISTTrain`.
    public init(modelDirectories: [URL], cacheDirectory: URL, hub: HubCache = HubCache(roots: []),
                fashionMNISTTrain: @escaping @Sendable () throws -> GaussianMixture.LabeledImages,
                log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.modelDirectories = modelDirectories
        self.cacheDirectory = cacheDirectory
        self.hub = hub
        self.fashionMNISTTrain = fashionMNISTTrain
        self.log = log
    }

    /// A folder of the repository's models/ directory: the first of `modelDirectories` that holds it.
    public func shippedDirectory(_ folder: String) throws -> URL {
        let candidates = modelDirectories.map { $0.appendingPathComponent(folder) }
        if let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0.appendingPathComponent("config.json").path)
                                                  || FileManager.default.fileExists(atPath: $0.appendingPathComponent("model_index.json").path) }) {
            return found
        }
        throw ModelCatalogError.shippedModelMissing(name: folder, searched: candidates.map(\.path))
    }

    /// The oracle's schedule: the DDPM paper's, T = 1000, linear β from 1e-4 to 0.02.
    public static func oracleSchedule() throws -> NoiseSchedule { try NoiseSchedule(.linear()) }

    /// A built-in model by name, a model file or folder (`load(path:)`), or a Hugging Face
    /// repository `ORG/NAME[@REVISION]` in the local cache (an existing path wins).
    /// - Parameters:
    ///   - nameOrPath: a built-in name, a path, or `ORG/NAME[@REVISION]`.
    ///   - variant: a diffusers weights variant (`fp16`); an error for other models.
    public func load(_ nameOrPath: String, variant: String? = nil) throws -> LoadedModel {
        switch nameOrPath {
        case let name where Self.shippedFolders[name] != nil:
            var model = try DiffusersFolder.load(shippedDirectory(Self.shippedFolders[name]!), variant: variant)
            model.name = name
            return model
        case "fashion-gmm":
            if let variant { throw ModelCatalogError.variantNotApplicable(model: nameOrPath, variant: variant) }
            let mixture = try GaussianMixture.fashionGMM(cacheDirectory: cacheDirectory, trainingSet: fashionMNISTTrain, log: log)
            var model = try Self.oracle(mixture, name: nameOrPath)
            model.weightsPath = cacheDirectory.appendingPathComponent(GaussianMixture.fashionGMMFileName).path
            return model
        case let path where !FileManager.default.fileExists(atPath: path):
            guard let reference = HubCache.Reference(path) else { return try Self.load(path: path, variant: variant) }
            var model = try Self.load(path: hub.snapshot(reference).path, variant: variant)
            model.name = nameOrPath
            return model
        default:
            return try Self.load(path: nameOrPath, variant: variant)
        }
    }

    /// The folder `pathOrRepository` names: an existing path, or `ORG/NAME[@REVISION]` in the
    /// local Hugging Face cache.
    public func directory(_ pathOrRepository: String) throws -> URL {
        if FileManager.default.fileExists(atPath: pathOrRepository) { return URL(fileURLWithPath: pathOrRepository) }
        guard let reference = HubCache.Reference(pathOrRepository) else { throw ModelCatalogError.notFound(pathOrRepository) }
        return try hub.snapshot(reference)
    }

    /// A diffusers folder (pipeline or model folder), a converted guided-diffusion folder
    /// (`adm_config.json`, `ADMFolder`) or a Gaussian mixture saved as .safetensors.
    public static func load(path: String, variant: String? = nil) throws -> LoadedModel {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ModelCatalogError.notFound(path)
        }
        if isDirectory.boolValue {
            let url = URL(fileURLWithPath: path)
            if ADMFolder.isADMFolder(url) {
                if let variant { throw ModelCatalogError.variantNotApplicable(model: path, variant: variant) }
                return try ADMFolder.load(url)
            }
            return try DiffusersFolder.load(url, variant: variant)
        }
        if let variant { throw ModelCatalogError.variantNotApplicable(model: path, variant: variant) }
        if path.hasSuffix(".pt") || path.hasSuffix(".pth") { throw ModelCatalogError.pytorchCheckpoint(path) }
        guard path.hasSuffix(".safetensors") else { throw ModelCatalogError.unsupported(path) }
        var model = try oracle(GaussianMixture.load(from: URL(fileURLWithPath: path)), name: path)
        model.weightsPath = path
        return model
    }

    /// A mixture as a model: its exact denoiser on the oracle schedule.
    public static func oracle(_ mixture: GaussianMixture, name: String) throws -> LoadedModel {
        let schedule = try oracleSchedule()
        let denoiser = try GaussianMixtureDenoiser(mixture: mixture, alphasCumprod: schedule.alphasCumprod)
        return LoadedModel(name: name, denoiser: denoiser, schedule: schedule, defaults: SamplerOptions(), exact: mixture)
    }
}
