import Foundation

/// Ancestral sampling on the respaced chain: the posterior q(x_p | x_s, x̂₀) with the model's
/// variance type. Matches diffusers DDPMScheduler.step (and guided-diffusion p_sample on a
/// respaced schedule); on all T indices it is the paper's Algorithm 1.
///
///     α = a_s/a_p, β = 1 − α, x' = √α(1 − a_p)/(1 − a_s)·x + √a_p·β/(1 − a_s)·x̂₀ + σ·z
///
/// σ² = β̃ = (1 − a_p)/(1 − a_s)·β (fixed_small), β (fixed_large), or learned_range's interpolation
/// of log β̃ (clamped at 1e-20, diffusers `_get_variance`) and log β; no noise on the last step.
public struct DDPMPosterior: UpdateRule {
    /// The rule (it has no parameters).
    public init() {}
    public var method: StepMethod { .ddpm }

    public func coefficients(from s: Int, to p: Int, previous: Int?, schedule: NoiseSchedule,
                             variance: VarianceType) throws -> StepCoefficients {
        let aS = schedule.alphaBar(s), aP = schedule.alphaBar(p)
        // β = (a_p − a_s)/a_p rather than 1 − a_s/a_p: the subtraction of the two close ᾱ is exact
        // (Sterbenz), where 1 − a_s/a_p loses ~log10(1/β) digits (1e-12 relative at cosine's β₁ ≈ 5e-5).
        let alpha = aS / aP, beta = (aP - aS) / aP
        var c = StepCoefficients()
        c.x = alpha.squareRoot() * (1 - aP) / (1 - aS)
        c.x0 = aP.squareRoot() * beta / (1 - aS)
        if p >= 0 { c.setAncestralNoise(beta: beta, posteriorVariance: (1 - aP) / (1 - aS) * beta, variance: variance) }
        return c
    }
}

extension StepCoefficients {
    /// σ of an ancestral step from its β and posterior variance β̃ (shared by the two DDPM rules).
    mutating func setAncestralNoise(beta: Double, posteriorVariance: Double, variance: VarianceType) {
        switch variance {
        case .fixedSmall: noiseStd = posteriorVariance.squareRoot()
        case .fixedLarge: noiseStd = beta.squareRoot()
        case .learnedRange:
            logVarianceMin = log(max(posteriorVariance, 1e-20))
            logVarianceMax = log(beta)
        }
    }
}
