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
    /// `NoiseSchedule.maxTrainSteps`, betas outside (0, 1], `trained_betas` of another length than
    /// `num_train_timesteps`, a clip range ≤ 0 (which would clip
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
            // diffusers keeps num_train_timesteps beside trained_betas and spaces the timesteps
            // over it, so a different count samples another schedule (or fails there).
            guard trainedBetas.count == numTrainTimesteps else {
                throw invalid(.trainedBetas, "\(trainedBetas.count) values",
                              "one beta per training step (num_train_timesteps = \(numTrainTimesteps))")
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
