import Diffusion
import Foundation

/// A UNet2DModel as a `Denoiser`: one network call per batch, the same timestep for every item.
public struct UNet2DDenoiser: Denoiser {
    /// The network.
    public let model: UNet2DModel
    /// C × H × W of one sample.
    public let sampleShape: [Int]
    /// How the network's output is read.
    public let predictionType: PredictionType
    /// Whether the output carries variance channels (twice the input channels).
    public var learnsVariance: Bool { model.config.outChannels == 2 * model.config.inChannels }

    /// The denoiser of `model` on `height` × `width` samples.
    public init(model: UNet2DModel, height: Int, width: Int, predictionType: PredictionType) {
        self.model = model
        sampleShape = [model.config.inChannels, height, width]
        self.predictionType = predictionType
    }

    /// The network's output at `timestep` for `batch` samples.
    public func predict(_ x: [Float], batch: Int, timestep: Double) throws -> [Float] {
        try model(x, batch: batch, height: sampleShape[1], width: sampleShape[2],
                  timesteps: Array(repeating: timestep, count: batch))
    }
}

/// Loads a diffusers folder: a pipeline (`model_index.json`, `unet/`, `scheduler/`) or a bare
/// model folder (`config.json` + `diffusion_pytorch_model.safetensors`, with the DDPM paper's
/// schedule unless a `scheduler_config.json` sits beside it).
public enum DiffusersFolder {
    /// A diffusers pipeline folder (model_index.json, unet/, scheduler/) or a bare UNet folder:
    /// configs validated, weights bound strictly, the scheduler's schedule and defaults.
    /// - Parameters:
    ///   - directory: the pipeline or model folder.
    ///   - variant: diffusers' weights variant (`fp16` reads
    ///     `diffusion_pytorch_model.fp16.safetensors`, `DiffusersWeightFile`).
    public static func load(_ directory: URL, variant: String? = nil) throws -> LoadedModel {
        let manager = FileManager.default
        let indexURL = directory.appendingPathComponent("model_index.json")
        let isPipeline = manager.fileExists(atPath: indexURL.path)
        if isPipeline { try UNet2DPipelineIndex.check(indexURL, directory: directory) }
        let unetDirectory = isPipeline || manager.fileExists(atPath: directory.appendingPathComponent("unet/config.json").path)
            ? directory.appendingPathComponent("unet") : directory
        let configURL = unetDirectory.appendingPathComponent("config.json")
        guard manager.fileExists(atPath: configURL.path) else {
            throw UNetLoadError.missingFile(path: configURL.path,
                                            hint: "expected a diffusers folder (model_index.json, unet/config.json) or a model folder with config.json")
        }
        let config = try ConfigFile.decode(UNet2DConfig.self, at: configURL, what: "UNet2DModel")
        try config.validate(path: configURL.path)
        guard let size = config.sampleSize else {
            throw UNetLoadError.invalidValue(path: configURL.path, key: "sample_size", value: "missing or null",
                                             expected: "an integer or [height, width] (the size the model samples at)")
        }
        let weightsURL = try DiffusersWeightFile.locate(in: unetDirectory, base: "diffusion_pytorch_model", variant: variant,
                                                        className: "UNet2DModel")
        let model = try UNet2DModel(config: config, weights: SafeTensorsFile(contentsOf: weightsURL))

        var scheduler = SchedulerConfig()
        let schedulerURL = [directory.appendingPathComponent("scheduler/scheduler_config.json"),
                            unetDirectory.appendingPathComponent("scheduler_config.json")]
            .first { manager.fileExists(atPath: $0.path) }
        if let schedulerURL {
            scheduler = try ConfigFile.decode(SchedulerConfig.self, at: schedulerURL, what: "scheduler")
        }
        let schedulerPath = schedulerURL?.path ?? configURL.path
        guard let prediction = PredictionType(rawValue: scheduler.predictionType) else {
            throw UNetLoadError.unsupportedOption(path: schedulerPath, key: "prediction_type", value: scheduler.predictionType,
                                                  supported: "epsilon, sample, v_prediction")
        }
        guard config.outChannels == config.inChannels || config.outChannels == 2 * config.inChannels else {
            throw UNetLoadError.invalidConfig(path: configURL.path, reason: "out_channels \(config.outChannels) must equal in_channels "
                                              + "(\(config.inChannels)) or twice it (a learned variance) for sampling")
        }
        let denoiser = UNet2DDenoiser(model: model, height: size[0], width: size[1], predictionType: prediction)
        var defaults = try scheduler.samplerOptions(path: schedulerPath)
        if denoiser.learnsVariance && scheduler.varianceType == nil { defaults.varianceType = .learnedRange }
        let schedule = try scheduler.schedule(path: schedulerPath)
        defaults.ddimFinalAlphaBar = scheduler.ddimFinalAlphaBar(schedule)
        return LoadedModel(name: directory.lastPathComponent, denoiser: denoiser, schedule: schedule, defaults: defaults,
                           weightsPath: weightsURL.path)
    }
}
