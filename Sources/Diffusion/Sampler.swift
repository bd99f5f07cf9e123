import Foundation

/// The samplers of arXiv 2508.15233 and their peers (DESIGN.md §2).
public enum SamplerKind: Sendable, Equatable, CustomStringConvertible {
    /// Ancestral sampling on the respaced schedule with the model's variance type: the posterior
    /// q(x_p | x_s, x̂₀) (guided-diffusion respacing, diffusers DDPMScheduler). On all T indices it
    /// is the paper's Algorithm 1.
    case ddpm
    /// Algorithm 1's one-step coefficients used at strided indices (the paper's Remark 3). Poor.
    case ddpmNaive
    /// Skipped-step sampling, the paper's Algorithm 2.
    case skip
    /// DDIM(η) (Song et al. 2021).
    case ddim(eta: Double)
    /// Skipped-step while the step starts at s ≥ t_c, DDIM(η = 0) below (the paper's §2.3).
    case mix(MixCutoff)
    /// DPM-Solver++(2M), as diffusers' DPMSolverMultistepScheduler (dpmsolver++, solver_order 2,
    /// final_sigmas_type "zero": the first and last steps are first order).
    case dpmSolverPP2M

    public var description: String {
        switch self {
        case .ddpm: "ddpm"
        case .ddpmNaive: "ddpm-naive"
        case .skip: "skip"
        case .ddim(let eta): "ddim(eta=\(eta))"
        case .mix(let cutoff): "mix(\(cutoff))"
        case .dpmSolverPP2M: "dpmpp-2m"
        }
    }
}

/// Where Mix hands over from skipped-step to DDIM.
public enum MixCutoff: Sendable, Equatable, CustomStringConvertible {
    /// t_c as a model index: steps starting at s ≥ t_c use skipped-step.
    case timestep(Int)
    /// k_c: the first k_c steps use skipped-step (t_c is then the start of step k_c + 1).
    case skipSteps(Int)

    public var description: String {
        switch self {
        case .timestep(let tc): "t_c=\(tc)"
        case .skipSteps(let kc): "k_c=\(kc)"
        }
    }
}

/// The update rule one step uses.
public enum StepMethod: String, Sendable, Codable {
    case ddpm, ddpmNaive = "ddpm-naive", skip, ddim
    case dpmSolverPP1 = "dpmpp-1", dpmSolverPP2M = "dpmpp-2m"
}

/// x' = x·a + x̂₀·b + ε̂·c + x̂₀_prev·d + σ·z (Float64 coefficients of one step).
/// With a learned variance, σ² = exp(f·logVarianceMax + (1 − f)·logVarianceMin) per element.
public struct StepCoefficients: Sendable, Equatable, Codable {
    public var x = 0.0
    public var x0 = 0.0
    public var eps = 0.0
    public var previousX0 = 0.0
    public var noiseStd = 0.0
    public var logVarianceMin: Double?
    public var logVarianceMax: Double?

    enum CodingKeys: String, CodingKey {
        case x, x0, eps
        case previousX0 = "previous_x0"
        case noiseStd = "noise_std"
        case logVarianceMin = "log_variance_min"
        case logVarianceMax = "log_variance_max"
    }
}

/// One step of a plan: from model index `from` = s to `to` = p (−1 on the last step).
public struct PlannedStep: Sendable, Equatable, Codable {
    public var index: Int
    public var from: Int
    public var to: Int
    public var method: StepMethod
    public var coefficients: StepCoefficients
    /// Whether the step consumes one standard-normal draw per element (and so advances each sample's
    /// generator): σ > 0 or a learned variance. Matches diffusers' draws on every non-final step.
    public var drawsNoise: Bool

    enum CodingKeys: String, CodingKey {
        case index, from, to, method, coefficients
        case drawsNoise = "draws_noise"
    }
}

/// Dynamic thresholding of x̂₀ (Saharia et al. 2022; diffusers `_threshold_sample`).
public struct Thresholding: Sendable, Equatable {
    public var ratio: Double
    public var maxValue: Double
    public init(ratio: Double = 0.995, maxValue: Double = 1) {
        self.ratio = ratio
        self.maxValue = maxValue
    }
}

/// Options that change how x̂₀ and the variance are formed. All off by default, as in the paper.
public struct SamplerOptions: Sendable, Equatable {
    public var varianceType: VarianceType
    /// diffusers `clip_sample` / `clip_sample_range`: clamp x̂₀ to [−range, range].
    public var clipSampleRange: Double?
    public var thresholding: Thresholding?

    public init(varianceType: VarianceType = .fixedSmall, clipSampleRange: Double? = nil,
                thresholding: Thresholding? = nil) {
        self.varianceType = varianceType
        self.clipSampleRange = clipSampleRange
        self.thresholding = thresholding
    }
}

public enum SamplerError: Error, LocalizedError, Equatable {
    case invalidEta(Double)
    case invalidCutoff(Int, trainSteps: Int)
    case invalidSkipSteps(Int, steps: Int)
    case timestepOutOfRange(Int, trainSteps: Int)
    case zeroSignalStart(Int)
    case outputSize(expected: Int, actual: Int)

    public var errorDescription: String? {
        switch self {
        case .invalidEta(let eta): "eta must be a finite number ≥ 0, got \(eta)"
        case .invalidCutoff(let tc, let t): "the cutoff t_c must be a model index in [0, \(t)), got \(tc)"
        case .invalidSkipSteps(let kc, let n): "skip steps k_c must be in [0, \(n)] (the number of steps), got \(kc)"
        case .timestepOutOfRange(let j, let t): "timestep \(j) is outside the schedule's [0, \(t))"
        case .zeroSignalStart(let s):
            "ᾱ[\(s)] = 0 (zero terminal SNR): this sampler's coefficients divide by √ᾱ; use ddim or ddpm"
        case .outputSize(let expected, let actual):
            "the denoiser returned \(actual) values, expected \(expected)"
        }
    }
}

/// A sampler bound to a noise schedule and a list of timesteps: every step's coefficients are
/// computed once, in Float64, and applied to Float32 samples by `apply`.
public struct Sampler: Sendable {
    public let kind: SamplerKind
    public let schedule: NoiseSchedule
    public let options: SamplerOptions
    /// The steps in order; `steps.count` is the number of network evaluations.
    public let steps: [PlannedStep]

    /// - Parameter timesteps: strictly decreasing model indices, e.g. from `Spacing.timesteps`.
    public init(_ kind: SamplerKind, schedule: NoiseSchedule, timesteps: [Int],
                options: SamplerOptions = SamplerOptions()) throws {
        self.kind = kind
        self.schedule = schedule
        self.options = options
        let ts = try Spacing.list(timesteps).timesteps(trainSteps: schedule.trainSteps, steps: timesteps.count)
        let skipCount: Int
        switch kind {
        case .ddim(let eta) where !(eta >= 0 && eta.isFinite): throw SamplerError.invalidEta(eta)
        case .mix(.timestep(let tc)):
            guard tc >= 0, tc < schedule.trainSteps else {
                throw SamplerError.invalidCutoff(tc, trainSteps: schedule.trainSteps)
            }
            skipCount = ts.count(where: { $0 >= tc })
        case .mix(.skipSteps(let kc)):
            guard kc >= 0, kc <= ts.count else { throw SamplerError.invalidSkipSteps(kc, steps: ts.count) }
            skipCount = kc
        default: skipCount = 0
        }
        var steps: [PlannedStep] = []
        for (k, s) in ts.enumerated() {
            let p = k + 1 < ts.count ? ts[k + 1] : -1
            let method: StepMethod
            switch kind {
            case .ddpm: method = .ddpm
            case .ddpmNaive: method = .ddpmNaive
            case .skip: method = .skip
            case .ddim: method = .ddim
            case .mix: method = k < skipCount ? .skip : .ddim
            case .dpmSolverPP2M: method = (k == 0 || p < 0) ? .dpmSolverPP1 : .dpmSolverPP2M
            }
            let eta: Double = if case .ddim(let eta) = kind { eta } else { 0 }
            let previous = k > 0 ? ts[k - 1] : nil
            steps.append(try Self.plan(k, from: s, to: p, previous: previous, method: method, eta: eta,
                                       schedule: schedule, varianceType: options.varianceType))
        }
        self.steps = steps
    }

    /// The timesteps visited, τ_1 > … > τ_N.
    public var timesteps: [Int] { steps.map(\.from) }

    /// Coefficients of one step, DESIGN.md §2, with a_s = ᾱ[s], a_p = ᾱ[p].
    static func plan(_ k: Int, from s: Int, to p: Int, previous: Int?, method: StepMethod, eta: Double,
                     schedule: NoiseSchedule, varianceType: VarianceType) throws -> PlannedStep {
        let aS = schedule.alphaBar(s), aP = schedule.alphaBar(p)
        let last = p < 0
        var c = StepCoefficients()
        switch method {
        case .ddpm, .ddpmNaive:
            let alpha: Double, beta: Double, posteriorVariance: Double
            if method == .ddpm {
                // Posterior q(x_p | x_s, x̂₀) of the respaced chain (diffusers DDPMScheduler.step).
                alpha = aS / aP
                beta = 1 - alpha
                posteriorVariance = (1 - aP) / (1 - aS) * beta
                c.x = alpha.squareRoot() * (1 - aP) / (1 - aS)
                c.x0 = aP.squareRoot() * beta / (1 - aS)
            } else {
                // Algorithm 1, line 4, with the single-step β[s] whatever the stride (Remark 3).
                beta = schedule.betas[s]
                alpha = 1 - beta
                posteriorVariance = (1 - schedule.alphaBar(s - 1)) / (1 - aS) * beta
                guard aS > 0 else { throw SamplerError.zeroSignalStart(s) }
                c.x = 1 / alpha.squareRoot()
                c.eps = -beta / ((1 - aS).squareRoot() * alpha.squareRoot())
            }
            if !last {
                switch varianceType {
                case .fixedSmall: c.noiseStd = posteriorVariance.squareRoot()
                case .fixedLarge: c.noiseStd = beta.squareRoot()
                case .learnedRange:
                    // diffusers `_get_variance`: log of the posterior variance clamped at 1e-20.
                    c.logVarianceMin = log(max(posteriorVariance, 1e-20))
                    c.logVarianceMax = log(beta)
                }
            }
        case .skip:
            // Algorithm 2: x' = √(a_p/a_s)·x − (a_p − a_s)/√(a_s·a_p·(1−a_s))·ε̂ + σ·z.
            guard aS > 0 else { throw SamplerError.zeroSignalStart(s) }
            c.x = (aP / aS).squareRoot()
            c.eps = -(aP - aS) / (aS * aP * (1 - aS)).squareRoot()
            if !last { c.noiseStd = ((aP - aS) * (1 - aP) / (aP * (1 - aS))).squareRoot() }
        case .ddim:
            // σ = η·√((1−a_p)/(1−a_s))·√(1 − a_s/a_p); x' = √a_p·x̂₀ + √(1 − a_p − σ²)·ε̂ + σ·z.
            let sigma = last ? 0 : eta * ((1 - aP) / (1 - aS)).squareRoot() * (1 - aS / aP).squareRoot()
            c.x0 = aP.squareRoot()
            c.eps = max(0, 1 - aP - sigma * sigma).squareRoot()
            c.noiseStd = sigma
        case .dpmSolverPP1, .dpmSolverPP2M:
            // diffusers DPMSolverMultistepScheduler, dpmsolver++: α = √ᾱ, σ = √(1−ᾱ), λ = log α − log σ,
            // h = λ_p − λ_s, so e^{−h} = (α_s·σ_p)/(σ_s·α_p) (0 on the last step, σ_p = 0).
            let expMinusH = (aS * (1 - aP) / ((1 - aS) * aP)).squareRoot()
            let alphaP = aP.squareRoot()
            c.x = ((1 - aP) / (1 - aS)).squareRoot()
            c.x0 = -alphaP * (expMinusH - 1)
            if method == .dpmSolverPP2M, let s1 = previous {
                // multistep_dpm_solver_second_order_update, "midpoint": D1 = (m0 − m1)/r0,
                // x' = (σ_p/σ_s)x − α_p(e^{−h}−1)·m0 − ½α_p(e^{−h}−1)·D1, r0 = h0/h.
                func lambda(_ j: Int) -> Double {
                    let a = schedule.alphaBar(j)
                    return 0.5 * log(a / (1 - a))
                }
                let h = lambda(p) - lambda(s), h0 = lambda(s) - lambda(s1)
                let r0 = h0 / h
                c.x0 = -alphaP * (expMinusH - 1) * (1 + 0.5 / r0)
                c.previousX0 = 0.5 * alphaP * (expMinusH - 1) / r0
            }
        }
        let draws = c.noiseStd > 0 || c.logVarianceMin != nil
        return PlannedStep(index: k, from: s, to: p, method: method, coefficients: c, drawsNoise: draws)
    }
}
