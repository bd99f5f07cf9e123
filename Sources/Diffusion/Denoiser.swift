/// What a diffusion network is, seen from the sampling math: a map from a batch of noisy samples
/// at one model time index to the network's raw output. Nothing here knows about layers.
public protocol Denoiser: Sendable {
    /// Shape of one sample, channels first, e.g. `[1, 28, 28]`.
    var sampleShape: [Int] { get }
    /// What the output means (ε, x₀ or v).
    var predictionType: PredictionType { get }
    /// True when the output has twice the sample's channels: the prediction, then the
    /// variance interpolation value of `learned_range` (ADM / improved DDPM).
    var learnsVariance: Bool { get }

    /// Evaluates the network on `batch` samples stored contiguously in `x`
    /// (`batch × sampleShape.product` floats) at model time `timestep` ∈ [0, T − 1]: a model index
    /// for the discrete samplers, any real number in range for samplers that need fractional t (a
    /// discrete-time network evaluates its time embedding there, as diffusers does).
    /// Returns `batch × outputChannels × H × W` floats.
    func predict(_ x: [Float], batch: Int, timestep: Double) throws -> [Float]
}

extension Denoiser {
    public var learnsVariance: Bool { false }
    /// Number of floats in one sample.
    public var sampleCount: Int { sampleShape.reduce(1, *) }
}

/// What the network's output parameterises (diffusers `prediction_type`).
public enum PredictionType: String, Sendable, Codable, CaseIterable {
    case epsilon
    case sample
    case vPrediction = "v_prediction"
}

/// The variance of each ancestral step (diffusers `variance_type`, guided-diffusion `model_var_type`).
public enum VarianceType: String, Sendable, Codable, CaseIterable {
    /// β̃ = (1 − ᾱ_p)/(1 − ᾱ_s)·β: the posterior variance.
    case fixedSmall = "fixed_small"
    /// β = 1 − ᾱ_s/ᾱ_p (guided-diffusion's default when sigma_small is false).
    case fixedLarge = "fixed_large"
    /// log σ² = f·log β + (1 − f)·log β̃ with f = (v + 1)/2 read from the network's extra channels.
    case learnedRange = "learned_range"
}
