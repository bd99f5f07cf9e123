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

    public var errorDescription: String? {
        switch self {
        case .notFound(let path):
            "model '\(path)' is neither a built-in model (\(ModelCatalog.builtIn.joined(separator: ", "))) nor an existing file"
        case .unsupported(let path):
            "model '\(path)': expected a diffusers model folder or a Gaussian mixture saved as .safetensors (format skipstep-gmm)"
        }
    }
}

/// Resolves `--model` names and paths.
public enum ModelCatalog {
    /// The embedded default: the Fashion-MNIST oracle until a trained network ships.
    public static let defaultModelName = "fashion-gmm"
    public static let builtIn = ["fashion-gmm"]

    /// The oracle's schedule: the DDPM paper's, T = 1000, linear β from 1e-4 to 0.02.
    public static func oracleSchedule() throws -> NoiseSchedule { try NoiseSchedule(.linear()) }

    public static func load(_ nameOrPath: String) throws -> LoadedModel {
        let mixture: GaussianMixture
        switch nameOrPath {
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
