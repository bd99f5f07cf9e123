import Diffusion
import Foundation

/// Loads a converted guided-diffusion checkpoint: a folder with `adm_config.json` (`ADMConfig`)
/// and `model.safetensors` (guided-diffusion's own keys), as tools/convert_adm.py writes it.
/// Sampler defaults follow the config: the variance its flags select and `clip_denoised`.
public enum ADMFolder {
    /// The configuration file of a converted folder.
    public static let configName = "adm_config.json"
    /// The weights file of a converted folder.
    public static let weightsName = "model.safetensors"

    /// Whether `directory` holds an ADM config.
    public static func isADMFolder(_ directory: URL) -> Bool {
        FileManager.default.fileExists(atPath: directory.appendingPathComponent(configName).path)
    }

    /// The model of a converted folder: configuration checked, weights bound strictly, schedule and
    /// sampler defaults as guided-diffusion's `create_gaussian_diffusion` makes them.
    public static func load(_ directory: URL) throws -> LoadedModel {
        let configURL = directory.appendingPathComponent(configName)
        let config: ADMConfig
        do {
            config = try JSONDecoder().decode(ADMConfig.self, from: Data(contentsOf: configURL))
        } catch {
            throw UNetLoadError.invalidConfig(path: configURL.path, reason: "not an ADM config (\(error))")
        }
        let weightsURL = directory.appendingPathComponent(weightsName)
        guard FileManager.default.fileExists(atPath: weightsURL.path) else {
            throw UNetLoadError.missingFile(path: weightsURL.path,
                                            hint: "convert the guided-diffusion checkpoint with tools/convert_adm.py")
        }
        let model = try ADMUNet(config: config, weights: SafeTensorsFile(contentsOf: weightsURL))
        return LoadedModel(name: directory.lastPathComponent, denoiser: ADMDenoiser(model: model),
                           schedule: try config.schedule(path: configURL.path), defaults: config.samplerOptions,
                           weightsPath: weightsURL.path)
    }
}
