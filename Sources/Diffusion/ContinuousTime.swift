import Foundation

/// A discrete training schedule read at fractional model time, for the samplers that step in σ
/// (Euler ancestral, Restart): σ = √((1 − ᾱ)/ᾱ) is interpolated linearly in log σ between two
/// indices, as k-diffusion's `DiscreteSchedule.t_to_sigma` does and as `GaussianMixtureDenoiser`
/// evaluates ᾱ at fractional t; `time(forSigma:)` is its inverse, diffusers' `_sigma_to_t`.
extension NoiseSchedule {
    /// σ(t) for t ∈ [0, T − 1]; at an integer t it is the table's σ exactly.
    public func sigma(atTime t: Double) -> Double {
        let last = trainSteps - 1
        let clamped = min(max(t, 0), Double(last))
        let low = min(Int(clamped.rounded(.down)), max(last - 1, 0)), w = clamped - Double(low)
        func logSigma(_ j: Int) -> Double { 0.5 * log((1 - alphasCumprod[j]) / alphasCumprod[j]) }
        if w == 0 || last == 0 { return exp(logSigma(low)) }
        return exp((1 - w) * logSigma(low) + w * logSigma(low + 1))
    }

    /// ᾱ(t) = 1/(1 + σ(t)²); at an integer t the table's ᾱ (t < 0 is "clean", ᾱ = 1).
    public func alphaBar(atTime t: Double) -> Double {
        if t < 0 { return 1 }
        if t == t.rounded(), Int(t) < trainSteps { return alphasCumprod[Int(t)] }
        let s = sigma(atTime: t)
        return 1 / (1 + s * s)
    }

    /// The fractional model time whose σ is `sigma` (diffusers `_sigma_to_t`, clamped to [0, T − 1]).
    public func time(forSigma sigma: Double) -> Double {
        let logSigmas = alphasCumprod.map { 0.5 * log((1 - $0) / $0) }
        guard logSigmas.count >= 2 else { return 0 }
        return Spacing.fractionalTimestep(logSigma: log(sigma), logSigmas: logSigmas)
    }
}
