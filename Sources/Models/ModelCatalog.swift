import Diffusion
import Foundation

/// A model ready to sample: its denoiser, its own training schedule and its sampler defaults.
public struct LoadedModel: Sendable {
    public var name: String
    public var denoiser: any Denoiser
    public var schedule: NoiseSchedule
    public var defaults: SamplerOptions
}

public enum ModelCatalogError: Error, LocalizedError, Equatable {
    case notFound(String)
    case unsupported(String)
    case shippedModelMissing(name: String, searched: [String])

    public var errorDescription: String? {
        switch self {
        case .notFound(let path):
            "model '\(path)' is neither a built-in model (\(ModelCatalog.builtIn.joined(separator: ", "))) nor an existing file"
        case let .shippedModelMissing(name, searched):
            "the shipped model folder \(name) was not found (looked in \(searched.joined(separator: ", "))); run from the "
                + "repository, or set $\(ModelCatalog.modelsDirectoryVariable) to its models/ directory"
        case .unsupported(let path):
            "model '\(path)': expected a diffusers model folder or a Gaussian mixture saved as .safetensors (format skipstep-gmm)"
        }
    }
}

/// Resolves `--model` names and paths.
public enum ModelCatalog {
    /// The embedded default: the DDPM UNet trained on Fashion-MNIST by tools/train_unet.py.
    public static let defaultModelName = "fashion-ddpm"
    public static let builtIn = ["fashion-ddpm", "fashion-gmm"]
    /// Folders of the repository's models/ directory behind the built-in names.
    public static let shippedFolders = ["fashion-ddpm": "fashion-ddpm-28"]
    public static let modelsDirectoryVariable = "SKIPSTEP_MODELS_DIR"

    /// A folder of the repository's models/ directory: under `$SKIPSTEP_MODELS_DIR`, beside the
    /// source tree the binary was built in (.build/<triple>/<config>/skipstep → ../../../models),
    /// or under models/ in the working directory; the first that exists.
    public static func shippedDirectory(_ folder: String) throws -> URL {
        var candidates: [URL] = []
        if let dir = ProcessInfo.processInfo.environment[modelsDirectoryVariable] {
            candidates.append(URL(fileURLWithPath: dir).appendingPathComponent(folder))
        }
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        candidates.append(executable.deletingLastPathComponent().appendingPathComponent("../../../models/\(folder)").standardized)
        candidates.append(URL(fileURLWithPath: "models/\(folder)"))
        if let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0.appendingPathComponent("config.json").path)
                                                  || FileManager.default.fileExists(atPath: $0.appendingPathComponent("model_index.json").path) }) {
            return found
        }
        throw ModelCatalogError.shippedModelMissing(name: folder, searched: candidates.map(\.path))
    }

    /// The oracle's schedule: the DDPM paper's, T = 1000, linear β from 1e-4 to 0.02.
    public static func oracleSchedule() throws -> NoiseSchedule { try NoiseSchedule(.linear()) }

    public static func load(_ nameOrPath: String) throws -> LoadedModel {
        let mixture: GaussianMixture
        switch nameOrPath {
        case let name where shippedFolders[name] != nil:
            var model = try DiffusersFolder.load(shippedDirectory(shippedFolders[name]!))
            model.name = name
            return model
        case "fashion-gmm":
            mixture = try GaussianMixture.fashionGMM()
        default:
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: nameOrPath, isDirectory: &isDirectory) else {
                throw ModelCatalogError.notFound(nameOrPath)
            }
            if isDirectory.boolValue { return try DiffusersFolder.load(URL(fileURLWithPath: nameOrPath)) }
            guard nameOrPath.hasSuffix(".safetensors") else { throw ModelCatalogError.unsupported(nameOrPath) }
            mixture = try GaussianMixture.load(from: URL(fileURLWithPath: nameOrPath))
        }
        let schedule = try oracleSchedule()
        let denoiser = try GaussianMixtureDenoiser(mixture: mixture, alphasCumprod: schedule.alphasCumprod)
        return LoadedModel(name: nameOrPath, denoiser: denoiser, schedule: schedule, defaults: SamplerOptions())
    }
}
