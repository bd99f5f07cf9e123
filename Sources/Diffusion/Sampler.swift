import Foundation

/// Dynamic thresholding of x̂₀ (Saharia et al. 2022; diffusers `_threshold_sample`).
public struct Thresholding: Sendable, Hashable {
    /// The quantile of |x̂₀| per sample that sets the threshold s (diffusers `dynamic_thresholding_ratio`).
    public var ratio: Double
    /// The largest s (diffusers `sample_max_value`).
    public var maxValue: Double
    /// Thresholding at quantile `ratio`, s at most `maxValue`.
    public init(ratio: Double = 0.995, maxValue: Double = 1) {
        self.ratio = ratio
        self.maxValue = maxValue
    }
}

/// Options that change how x̂₀ and the variance are formed. All off by default, as in the paper.
public struct SamplerOptions: Sendable, Equatable {
    /// The variance of ancestral steps.
    public var varianceType: VarianceType
    /// diffusers `clip_sample` / `clip_sample_range`: clamp x̂₀ to [−range, range].
    public var clipSampleRange: Double?
    /// Dynamic thresholding of x̂₀, or nil for none.
    public var thresholding: Thresholding?
    /// Read the network's output as this instead of the model's own prediction type.
    public var predictionType: PredictionType?
    /// ᾱ after the last step of DDIM and PNDM steps, nil for 1 (x₀ itself). diffusers' DDIM and PNDM
    /// schedulers with `set_alpha_to_one: false` (Stable Diffusion's configs) end at ᾱ[0] instead:
    /// `final_alpha_cumprod`, used whenever the previous timestep is negative.
    public var ddimFinalAlphaBar: Double?

    /// Options with every setting named; the defaults are the paper's (fixed_small, no clipping, no thresholding).
    public init(varianceType: VarianceType = .fixedSmall, clipSampleRange: Double? = nil,
                thresholding: Thresholding? = nil, predictionType: PredictionType? = nil) {
        self.varianceType = varianceType
        self.clipSampleRange = clipSampleRange
        self.thresholding = thresholding
        self.predictionType = predictionType
    }
}

/// A plan that cannot be built or applied, with what was expected.
public enum SamplerError: Error, LocalizedError, Equatable {
    case invalidEta(Double)
    case etaTooLarge(Double, step: Int)
    case invalidCutoff(Int, trainSteps: Int)
    case invalidSkipSteps(Int, steps: Int)
    case zeroSignalStart(Int)
    case outputSize(expected: Int, actual: Int)
    case inputSize(String)

    public var errorDescription: String? {
        switch self {
        case .invalidEta(let eta): "eta must be a finite number ≥ 0, got \(eta)"
        case let .etaTooLarge(eta, s):
            "eta \(eta) makes the noise σ exceed √(1 − ᾱ_p) at the step from t = \(s) (σ² > 1 − ᾱ_p); use eta ≤ 1"
        case .invalidCutoff(let tc, let t): "the cutoff t_c must be a model index in [0, \(t)), got \(tc)"
        case .invalidSkipSteps(let kc, let n): "skip steps k_c must be in [0, \(n)] (the number of steps), got \(kc)"
        case .zeroSignalStart(let s):
            "ᾱ[\(s)] = 0 (zero terminal SNR): this sampler's coefficients divide by √ᾱ; use ddim or ddpm"
        case .outputSize(let expected, let actual):
            "the denoiser returned \(actual) values, expected \(expected)"
        case .inputSize(let why): why
        }
    }
}

/// A sampler bound to a noise schedule and a list of timesteps: every step's coefficients are
/// computed once, in Float64, by the kind's update rules, and applied to Float32 samples by `apply`.
/// `SamplerSpec.makeSampler` validates a spec against a model and builds one.
public struct Sampler: Sendable {
    /// Which update rule each step uses.
    public let kind: SamplerKind
    /// The schedule the coefficients were computed from.
    public let schedule: NoiseSchedule
    /// Variance, clipping and thresholding of the steps.
    public let options: SamplerOptions
    /// The steps in order; `steps.count` is the number of network evaluations (NFE).
    public let steps: [PlannedStep]
    /// The number of sampling steps the plan was made for (the timesteps given, `--steps`): the NFE
    /// of most samplers; PNDM evaluates the network N + 1 times (N + 9 with its Runge–Kutta warm-up),
    /// Restart at most this budget. What a rerun must ask for to get the same plan.
    public let stepCount: Int
    /// x_T = scale·z (z standard normal): 1 for the discrete samplers; √(1 − ᾱ) at the first time for
    /// those whose reference starts from σ·z in x̃ = x/√ᾱ (Euler ancestral, Restart).
    public let initialNoiseScale: Double

    /// Plans every step of `kind` through `timesteps`.
    /// - Parameters:
    ///   - kind: the sampler.
    ///   - schedule: the noise schedule.
    ///   - timesteps: strictly decreasing model indices, e.g. from `Spacing.timesteps`.
    ///   - options: variance, clipping and thresholding.
    public init(_ kind: SamplerKind, schedule: NoiseSchedule, timesteps: [Int],
                options: SamplerOptions = SamplerOptions()) throws {
        if kind.stepsInSigma {
            try self.init(kind, schedule: schedule, times: timesteps.map(Double.init), options: options)
            return
        }
        let ts = try Spacing.list(timesteps).timesteps(trainSteps: schedule.trainSteps, steps: timesteps.count)
        switch kind {
        case .ddim(let eta) where !(eta >= 0 && eta.isFinite): throw SamplerError.invalidEta(eta)
        case let .ddimEtaStep(above, below, _) where !(above >= 0 && above.isFinite && below >= 0 && below.isFinite):
            throw SamplerError.invalidEta(above >= 0 && above.isFinite ? below : above)
        case .ddimEtaStep(_, _, let tc) where !(0..<schedule.trainSteps).contains(tc):
            throw SamplerError.invalidCutoff(tc, trainSteps: schedule.trainSteps)
        case .mix(.timestep(let tc)) where !(0..<schedule.trainSteps).contains(tc):
            throw SamplerError.invalidCutoff(tc, trainSteps: schedule.trainSteps)
        case .mix(.skipSteps(let kc)) where !(0...ts.count).contains(kc):
            throw SamplerError.invalidSkipSteps(kc, steps: ts.count)
        default: break
        }
        if case .pndm(let skipPRK) = kind {
            let steps = try PNDM(skipPRKSteps: skipPRK, finalAlphaBar: options.ddimFinalAlphaBar).plan(timesteps: ts, schedule: schedule)
            self.init(kind: kind, schedule: schedule, options: options, steps: steps, initialNoiseScale: 1, stepCount: ts.count)
            return
        }
        let steps = try zip(ts.indices, kind.rules(stepsStartingAt: ts, ddimFinalAlphaBar: options.ddimFinalAlphaBar)).map { k, rule in
            let s = ts[k], p = k + 1 < ts.count ? ts[k + 1] : -1
            let c = try rule.coefficients(from: s, to: p, previous: k > 0 ? ts[k - 1] : nil, schedule: schedule,
                                          variance: options.varianceType)
            return PlannedStep(index: k, from: s, to: p, method: rule.method, coefficients: c,
                               drawsNoise: c.noiseStd > 0 || c.logVarianceMin != nil)
        }
        self.init(kind: kind, schedule: schedule, options: options, steps: steps, initialNoiseScale: 1, stepCount: ts.count)
    }

    /// A sampler that steps in σ (`SamplerKind.stepsInSigma`) at decreasing model times, fractional
    /// allowed (Euler ancestral); Restart makes its own σ grid and reads `times.count` as its NFE budget.
    public init(_ kind: SamplerKind, schedule: NoiseSchedule, times: [Double], options: SamplerOptions = SamplerOptions()) throws {
        switch kind {
        case .eulerAncestral:
            let last = Double(schedule.trainSteps - 1)
            guard !times.isEmpty else { throw ScheduleError.invalidTimesteps("the list is empty") }
            if let bad = times.first(where: { !($0 >= 0 && $0 <= last) }) {
                throw ScheduleError.invalidTimesteps("time \(bad) is outside [0, \(Int(last))]")
            }
            if let i = times.indices.dropFirst().first(where: { !(times[$0] < times[$0 - 1]) }) {
                throw ScheduleError.invalidTimesteps("times must decrease strictly, \(times[i]) follows \(times[i - 1])")
            }
            self.init(kind: kind, schedule: schedule, options: options,
                      steps: EulerAncestral.plan(times: times, schedule: schedule),
                      initialNoiseScale: EulerAncestral.initialNoiseScale(times: times, schedule: schedule),
                      stepCount: times.count)
        case .restart:
            let (steps, scale) = try Restart.published.plan(budget: times.count, schedule: schedule)
            self.init(kind: kind, schedule: schedule, options: options, steps: steps, initialNoiseScale: scale,
                      stepCount: times.count)
        default:
            try self.init(kind, schedule: schedule, timesteps: times.map { Int($0) }, options: options)
        }
    }

    private init(kind: SamplerKind, schedule: NoiseSchedule, options: SamplerOptions, steps: [PlannedStep],
                 initialNoiseScale: Double, stepCount: Int) {
        self.kind = kind
        self.stepCount = stepCount
        self.schedule = schedule
        self.options = options
        self.steps = steps
        self.initialNoiseScale = initialNoiseScale
        var outputs: [Int: Int] = [:], inputs: [Int: Int] = [:]
        for step in steps {
            guard let combination = step.combination else { continue }
            for term in combination.terms where term.step < step.index { outputs[term.step] = step.index }
            if combination.sampleOf < step.index { inputs[combination.sampleOf] = step.index }
        }
        outputLastUse = outputs
        inputLastUse = inputs
    }

    /// For each step whose network output a later step combines (PNDM), the last step that reads it.
    let outputLastUse: [Int: Int]
    /// For each step whose input x a later step starts from (PNDM), the last step that reads it.
    let inputLastUse: [Int: Int]

    /// The timesteps visited, τ_1 > … > τ_N.
    public var timesteps: [Int] { steps.map(\.from) }
}
