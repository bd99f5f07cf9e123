import Foundation

// The readers of a diffusers pipeline's model_index.json: which pipeline it is and which class
// each component folder holds (diffusers pipeline_utils.py `from_pretrained`). They read only
// the index and check that the folders it names exist; the components load elsewhere.

/// A diffusers `StableDiffusionPipeline` folder: `model_index.json` naming the tokenizer, text
/// encoder, conditional UNet, VAE and scheduler, each in its own subfolder (diffusers
/// pipeline_utils.py `from_pretrained`; the safety checker and feature extractor are not used).
public struct StableDiffusionIndex: Sendable, Equatable {
    /// The component folders skipstep reads, with the class each must name.
    public static let components: [(folder: String, className: String)] = [
        ("tokenizer", "CLIPTokenizer"), ("text_encoder", "CLIPTextModel"),
        ("unet", "UNet2DConditionModel"), ("vae", "AutoencoderKL"), ("scheduler", ""),
    ]
    /// Pipeline classes whose components and call are those of `StableDiffusionPipeline`.
    public static let pipelineClasses: Set<String> = ["StableDiffusionPipeline"]

    public var pipelineClass: String
    /// Folder → class name, as the index lists them (`[library, class]`; null entries dropped).
    public var classes: [String: String]

    public init(contentsOf url: URL) throws {
        let data = try ConfigFile.read(url)
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw UNetLoadError.invalidConfig(path: url.path, reason: "not a JSON object (a diffusers pipeline index)")
        }
        guard let name = object["_class_name"] as? String else {
            throw UNetLoadError.invalidValue(path: url.path, key: "_class_name", value: "missing", expected: "a pipeline class name")
        }
        pipelineClass = name
        var classes: [String: String] = [:]
        for (key, value) in object where !key.hasPrefix("_") {
            if let entry = value as? [Any], entry.count == 2, let className = entry[1] as? String { classes[key] = className }
        }
        self.classes = classes
        guard Self.pipelineClasses.contains(name) else {
            let hint = name == "StableDiffusionXLPipeline" ? " (SDXL has two text encoders and is not supported)" : ""
            throw UNetLoadError.unsupportedOption(path: url.path, key: "_class_name", value: name,
                                                  supported: Self.pipelineClasses.sorted().joined(separator: ", ") + hint)
        }
        for (folder, className) in Self.components {
            guard let found = classes[folder] else {
                throw UNetLoadError.invalidValue(path: url.path, key: folder, value: "missing or null",
                                                 expected: "[library, class] naming the pipeline's \(folder)")
            }
            if !className.isEmpty, found != className {
                throw UNetLoadError.unsupportedOption(path: url.path, key: folder, value: found, supported: className)
            }
        }
    }
}

/// The index of an unconditional pipeline (DDPMPipeline, DDIMPipeline, …) that `DiffusersFolder`
/// loads: a `UNet2DModel` in `unet/` and the scheduler it names in `scheduler/`.
public enum UNet2DPipelineIndex {
    /// A pipeline's `model_index.json` must name a `UNet2DModel` as its `unet` (a
    /// StableDiffusionPipeline's conditional UNet would otherwise load as the wrong model), and
    /// the `scheduler` it names must be there: silently using default betas would sample with a
    /// schedule the model was not trained on.
    public static func check(_ url: URL, directory: URL) throws {
        let data = try ConfigFile.read(url)
        guard let index = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw UNetLoadError.invalidConfig(path: url.path, reason: "not a JSON object (a diffusers pipeline index)")
        }
        func component(_ key: String) -> String? {
            guard let entry = index[key] as? [Any], entry.count == 2 else { return nil }
            return entry[1] as? String
        }
        guard component("unet") == "UNet2DModel" else {
            let found = (index["unet"] as? [Any])?.map { "\($0)" }.joined(separator: ", ") ?? index["unet"].map { "\($0)" }
            let className = index["_class_name"] as? String
            let pipeline = className.map {
                StableDiffusionIndex.pipelineClasses.contains($0) ? "; this index is a \($0): run it with skipstep txt2img"
                                                                  : "; this index is a \($0)"
            } ?? ""
            throw UNetLoadError.invalidValue(
                path: url.path, key: "unet", value: found.map { "[\($0)]" } ?? "missing",
                expected: "[\"diffusers\", \"UNet2DModel\"] (skipstep samples unconditional UNet2DModel pipelines\(pipeline))")
        }
        if let scheduler = component("scheduler") {
            let config = directory.appendingPathComponent("scheduler/scheduler_config.json")
            guard FileManager.default.fileExists(atPath: config.path) else {
                throw UNetLoadError.missingFile(path: config.path, hint: "model_index.json names a \(scheduler); without its "
                                                + "config the training schedule is unknown (restore the pipeline's scheduler/ folder)")
            }
        }
        let unetConfig = directory.appendingPathComponent("unet/config.json")
        guard FileManager.default.fileExists(atPath: unetConfig.path) else {
            throw UNetLoadError.missingFile(path: unetConfig.path, hint: "model_index.json names a UNet2DModel in unet/")
        }
    }
}
