import Diffusion
import Foundation

/// diffusers' scheduler_config.json: the keys that define the training schedule and the model's
/// sampling defaults (DDPMScheduler / DDIMScheduler / DPMSolverMultistepScheduler share them).
public struct SchedulerConfig: Decodable, Sendable, Equatable {
    /// `_class_name` (DDPMScheduler, DDIMScheduler, …).
    public var className: String?
    /// `num_train_timesteps`: T.
    public var numTrainTimesteps = 1000
    /// `beta_start`.
    public var betaStart = 0.0001
    /// `beta_end`.
    public var betaEnd = 0.02
    /// `beta_schedule`: linear, scaled_linear or squaredcos_cap_v2.
    public var betaSchedule = "linear"
    /// `trained_betas`: explicit β, overriding the schedule.
    public var trainedBetas: [Double]?
    /// `prediction_type`: epsilon, sample or v_prediction.
    public var predictionType = "epsilon"
    /// `variance_type`: fixed_small, fixed_large or learned_range.
    public var varianceType: String?
    /// `clip_sample`: clip x̂₀ (diffusers' default is true).
    public var clipSample: Bool?
    /// `clip_sample_range`.
    public var clipSampleRange = 1.0
    /// `thresholding`: dynamic thresholding of x̂₀.
    public var thresholding = false
    /// `dynamic_thresholding_ratio`.
    public var dynamicThresholdingRatio = 0.995
    /// `sample_max_value`.
    public var sampleMaxValue = 1.0
    /// `rescale_betas_zero_snr`.
    public var rescaleBetasZeroSNR = false
    /// How the scheduler spaces its timesteps (`leading`, `trailing`, `linspace`); nil: the class's own default.
    public var timestepSpacing: String?
    public var stepsOffset = 0
    /// DDIM/PNDM: whether the last step ends at ᾱ = 1 (true) or at ᾱ[0]; nil: the class's default.
    public var setAlphaToOne: Bool?
    /// PNDMScheduler: `skip_prk_steps` (PLMS from the first step, as Stable Diffusion's configs set it);
    /// nil: the class's default, false (a Runge–Kutta warm-up first).
    public var skipPRKSteps: Bool?
    /// DPMSolverMultistepScheduler: `dpmsolver++`, `sde-dpmsolver++`, … and its order.
    public var algorithmType: String?
    public var solverOrder: Int?

    enum CodingKeys: String, CodingKey {
        case className = "_class_name", numTrainTimesteps = "num_train_timesteps", betaStart = "beta_start"
        case betaEnd = "beta_end", betaSchedule = "beta_schedule", trainedBetas = "trained_betas"
        case predictionType = "prediction_type", varianceType = "variance_type", clipSample = "clip_sample"
        case clipSampleRange = "clip_sample_range", thresholding, dynamicThresholdingRatio = "dynamic_thresholding_ratio"
        case sampleMaxValue = "sample_max_value", rescaleBetasZeroSNR = "rescale_betas_zero_snr"
        case timestepSpacing = "timestep_spacing", stepsOffset = "steps_offset", setAlphaToOne = "set_alpha_to_one"
        case algorithmType = "algorithm_type", solverOrder = "solver_order", skipPRKSteps = "skip_prk_steps"
    }

    /// diffusers' defaults.
    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
            try c.configValue(T.self, forKey: key) ?? fallback
        }
        className = try c.configValue(String.self, forKey: .className)
        numTrainTimesteps = try value(.numTrainTimesteps, numTrainTimesteps)
        betaStart = try value(.betaStart, betaStart)
        betaEnd = try value(.betaEnd, betaEnd)
        betaSchedule = try value(.betaSchedule, betaSchedule)
        trainedBetas = try c.configValue([Double].self, forKey: .trainedBetas)
        predictionType = try value(.predictionType, predictionType)
        varianceType = try c.configValue(String.self, forKey: .varianceType)
        clipSample = try c.configValue(Bool.self, forKey: .clipSample)
        clipSampleRange = try value(.clipSampleRange, clipSampleRange)
        thresholding = try value(.thresholding, thresholding)
        dynamicThresholdingRatio = try value(.dynamicThresholdingRatio, dynamicThresholdingRatio)
        sampleMaxValue = try value(.sampleMaxValue, sampleMaxValue)
        rescaleBetasZeroSNR = try value(.rescaleBetasZeroSNR, rescaleBetasZeroSNR)
        timestepSpacing = try c.configValue(String.self, forKey: .timestepSpacing)
        stepsOffset = try value(.stepsOffset, stepsOffset)
        setAlphaToOne = try c.configValue(Bool.self, forKey: .setAlphaToOne)
        algorithmType = try c.configValue(String.self, forKey: .algorithmType)
        solverOrder = try c.configValue(Int.self, forKey: .solverOrder)
        skipPRKSteps = try c.configValue(Bool.self, forKey: .skipPRKSteps)
    }

    /// Refuses values that would crash or silently mislead sampling: a training length beyond
    /// `NoiseSchedule.maxTrainSteps`, betas outside (0, 1], a clip range ≤ 0 (which would clip
    /// everything to one value), a thresholding ratio outside (0, 1] (a quantile), a non-positive
    /// threshold ceiling. Each error names `path`, the key and the expected range.
    public func validate(path: String) throws {
        func invalid(_ key: CodingKeys, _ value: Any, _ expected: String) -> UNetLoadError {
            .invalidValue(path: path, key: key.rawValue, value: "\(value)", expected: expected)
        }
        let stepRange = 1...NoiseSchedule.maxTrainSteps
        guard stepRange.contains(numTrainTimesteps) else {
            throw invalid(.numTrainTimesteps, numTrainTimesteps, "an integer in 1...\(NoiseSchedule.maxTrainSteps)")
        }
        if let trainedBetas {
            guard stepRange.contains(trainedBetas.count) else {
                throw invalid(.trainedBetas, "\(trainedBetas.count) values", "1...\(NoiseSchedule.maxTrainSteps) betas")
            }
            if let bad = trainedBetas.firstIndex(where: { !($0 > 0 && $0 <= 1) }) {
                throw invalid(.trainedBetas, "β[\(bad)] = \(trainedBetas[bad])", "betas in (0, 1]")
            }
        } else if betaSchedule != "squaredcos_cap_v2" {
            for (key, beta) in [(CodingKeys.betaStart, betaStart), (.betaEnd, betaEnd)] where !(beta > 0 && beta <= 1) {
                throw invalid(key, beta, "a beta in (0, 1]")
            }
        }
        guard (0..<numTrainTimesteps).contains(stepsOffset) else {
            throw invalid(.stepsOffset, stepsOffset, "an integer in 0..<num_train_timesteps (\(numTrainTimesteps))")
        }
        guard clipSampleRange.isFinite, clipSampleRange > 0 else {
            throw invalid(.clipSampleRange, clipSampleRange, "a finite number > 0 (x̂₀ is clamped to ±range)")
        }
        guard dynamicThresholdingRatio > 0, dynamicThresholdingRatio <= 1 else {
            throw invalid(.dynamicThresholdingRatio, dynamicThresholdingRatio, "a quantile in (0, 1], e.g. 0.995")
        }
        guard sampleMaxValue.isFinite, sampleMaxValue > 0 else {
            throw invalid(.sampleMaxValue, sampleMaxValue, "a finite number > 0")
        }
    }

    /// The training schedule in Float64.
    public func schedule() throws -> NoiseSchedule {
        try NoiseSchedule(BetaSchedule(diffusersName: betaSchedule, start: betaStart, end: betaEnd,
                                       trainedBetas: trainedBetas),
                          trainSteps: numTrainTimesteps, rescaleZeroTerminalSNR: rescaleBetasZeroSNR)
    }

    /// `schedule()`, its errors naming the config file `path` and the keys that make the schedule.
    public func schedule(path: String) throws -> NoiseSchedule {
        do {
            return try schedule()
        } catch {
            throw UNetLoadError.invalidConfig(path: path, reason: "\(error.localizedDescription) (from "
                + "beta_schedule, beta_start, beta_end, trained_betas, num_train_timesteps, rescale_betas_zero_snr)")
        }
    }

    /// The sampler defaults this config asks for. x̂₀ is clipped only when the config says
    /// `clip_sample: true` (diffusers' DDPM/DDIM schedulers would clip when the key is absent;
    /// ARCHITECTURE.md, Parity pitfalls, keeps clipping off unless asked for, as the paper's Algorithm 2 does not clip).
    public func samplerOptions(path: String) throws -> SamplerOptions {
        try validate(path: path)
        let variance: VarianceType
        switch varianceType ?? "fixed_small" {
        case "fixed_small", "fixed_small_log": variance = .fixedSmall
        case "fixed_large", "fixed_large_log": variance = .fixedLarge
        case "learned_range": variance = .learnedRange
        case let other:
            throw UNetLoadError.unsupportedOption(path: path, key: "variance_type", value: other,
                                                  supported: "fixed_small, fixed_large, learned_range")
        }
        return SamplerOptions(varianceType: variance, clipSampleRange: clipSample == true ? clipSampleRange : nil,
                              thresholding: thresholding ? Thresholding(ratio: dynamicThresholdingRatio,
                                                                        maxValue: sampleMaxValue) : nil)
    }
}

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
        if isPipeline { try checkPipelineIndex(indexURL, directory: directory) }
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

    /// A pipeline's `model_index.json` must name a `UNet2DModel` as its `unet` (a
    /// StableDiffusionPipeline's conditional UNet would otherwise load as the wrong model), and
    /// the `scheduler` it names must be there: silently using default betas would sample with a
    /// schedule the model was not trained on.
    static func checkPipelineIndex(_ url: URL, directory: URL) throws {
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
