import Foundation

/// One step's update rule: the Float64 coefficients that take x at model index s to index p
/// (p = −1 on the last step). Each rule lives in its own file with its source; `SamplerKind`
/// says which rule each step of a sampler uses (docs/ARCHITECTURE.md, "Samplers").
public protocol UpdateRule: Sendable {
    /// The method recorded in the plan.
    var method: StepMethod { get }
    /// The coefficients of the step from index `s` to index `p`.
    /// - Parameters:
    ///   - s: the model index the step starts at.
    ///   - p: the model index it ends at, −1 for the clean sample.
    ///   - previous: the start of the previous step (multistep rules), nil on the first.
    ///   - schedule: the noise schedule (ᾱ per index).
    ///   - variance: the variance of ancestral (DDPM) steps.
    func coefficients(from s: Int, to p: Int, previous: Int?, schedule: NoiseSchedule,
                      variance: VarianceType) throws -> StepCoefficients
}

/// x' = x·a + x̂₀·b + ε̂·c + x̂₀_prev·d + σ·z (Float64 coefficients of one step).
/// With a learned variance, σ² = exp(f·logVarianceMax + (1 − f)·logVarianceMin) per element.
public struct StepCoefficients: Sendable, Equatable, Codable {
    /// a: the factor of x.
    public var x = 0.0
    /// b: the factor of x̂₀.
    public var x0 = 0.0
    /// c: the factor of ε̂.
    public var eps = 0.0
    /// d: the factor of the previous step's x̂₀ (DPM-Solver++ 2M).
    public var previousX0 = 0.0
    /// σ: the standard deviation of the fresh noise z.
    public var noiseStd = 0.0
    /// With a learned variance: log σ² at v = −1 (the posterior variance, clipped).
    public var logVarianceMin: Double?
    /// With a learned variance: log σ² at v = +1 (log β on the respaced schedule).
    public var logVarianceMax: Double?

    /// σ for one element whose network output has the variance value `v` (ignored without a learned
    /// variance): `noiseStd`, or exp(½(f·logVarianceMax + (1 − f)·logVarianceMin)) with f = (v + 1)/2,
    /// v not clamped (guided-diffusion `p_mean_variance`, `LEARNED_RANGE`).
    public func noiseStd(varianceValue v: Double) -> Double {
        guard let logMin = logVarianceMin, let logMax = logVarianceMax else { return noiseStd }
        let frac = (v + 1) / 2
        return exp(0.5 * (frac * logMax + (1 - frac) * logMin))
    }

    enum CodingKeys: String, CodingKey {
        case x, x0, eps
        case previousX0 = "previous_x0"
        case noiseStd = "noise_std"
        case logVarianceMin = "log_variance_min"
        case logVarianceMax = "log_variance_max"
    }
}

/// One step of a plan: from model index `from` = s to `to` = p (−1 on the last step). Every step is
/// one network evaluation, at model time `time` (= `from` for the discrete samplers; fractional for
/// the samplers that step in σ, whose `from` and `to` are then `time` and the next step's time
/// rounded, for display).
public struct PlannedStep: Sendable, Equatable, Codable {
    /// The step's position in the plan, from 0.
    public var index: Int
    /// s: the model index the step starts at.
    public var from: Int
    /// p: the model index it ends at, −1 for the clean sample.
    public var to: Int
    /// The model time of this step's network evaluation; x arrives scaled for ᾱ(`time`).
    public var time: Double
    /// The update rule of the step.
    public var method: StepMethod
    /// The Float64 coefficients.
    public var coefficients: StepCoefficients
    /// Whether the step consumes one standard-normal draw per element (and so advances each sample's
    /// generator): σ > 0 or a learned variance. Matches diffusers' draws on every non-final step.
    public var drawsNoise: Bool
    /// A linear multistep step (PNDM): the update starts from an earlier step's input and reads a
    /// weighted sum of network outputs instead of this step's output alone; nil for every other sampler.
    public var combination: OutputCombination?

    public init(index: Int, from: Int, to: Int, time: Double? = nil, method: StepMethod,
                coefficients: StepCoefficients, drawsNoise: Bool, combination: OutputCombination? = nil) {
        self.index = index
        self.from = from
        self.to = to
        self.time = time ?? Double(from)
        self.method = method
        self.coefficients = coefficients
        self.drawsNoise = drawsNoise
        self.combination = combination
    }

    enum CodingKeys: String, CodingKey {
        case index, from, to, time, method, coefficients, combination
        case drawsNoise = "draws_noise"
    }
}

/// What a linear multistep step (PNDM, `PNDM.swift`) reads besides its own network output: the
/// network outputs of earlier steps of the run, weighted, and the sample x that an earlier step
/// started from. The step then applies its coefficients to
///
///     x = the input of step `sampleOf`,  output = Σ weight_j · (network output of step j),
///
/// converting the combined raw output to (x̂₀, ε̂) at ᾱ[`from`] with that x, as diffusers'
/// PNDMScheduler converts its combined `model_output` in `_get_prev_sample`.
public struct OutputCombination: Sendable, Equatable, Codable {
    /// One term of the sum: the network output of step `step`, times `weight`.
    public struct Term: Sendable, Equatable, Codable {
        /// The index of the step whose network output is read (this step's own index or an earlier one).
        public var step: Int
        /// Its weight.
        public var weight: Double
        /// The output of step `step` times `weight`.
        public init(step: Int, weight: Double) {
            self.step = step
            self.weight = weight
        }
    }
    /// The index of the step whose input x the update starts from (this step's own index or an earlier one).
    public var sampleOf: Int
    /// The weighted network outputs; the weights sum to 1.
    public var terms: [Term]

    /// The update from the input of step `sampleOf` with the outputs `terms` combined.
    public init(sampleOf: Int, terms: [Term]) {
        self.sampleOf = sampleOf
        self.terms = terms
    }

    enum CodingKeys: String, CodingKey {
        case sampleOf = "sample_of", terms
    }
}
