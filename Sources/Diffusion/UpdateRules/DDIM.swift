/// DDIM(η) (Song et al. 2021, eq. 12; diffusers DDIMScheduler.step with the schedule's next index
/// as the previous timestep):
///
///     σ = η·√((1 − a_p)/(1 − a_s))·√(1 − a_s/a_p),  x' = √a_p·x̂₀ + √(1 − a_p − σ²)·ε̂ + σ·z
///
/// On the last step a_p = 1 and σ = 0, unless `finalAlphaBar` is set: diffusers'
/// `set_alpha_to_one: false` ends at a_p = ᾱ[0] and keeps σ there (DDIMScheduler `_get_variance`
/// with `final_alpha_cumprod`). An η that makes σ² exceed 1 − a_p (possible for η > 1) is refused.
public struct DDIM: UpdateRule {
    /// η: 0 is deterministic DDIM, 1 the DDPM posterior's variance on the respaced schedule.
    public var eta: Double
    /// a_p of the last step; nil for 1.
    public var finalAlphaBar: Double?
    /// DDIM with noise scale η, ending at ᾱ = `finalAlphaBar` (nil: 1).
    public init(eta: Double, finalAlphaBar: Double? = nil) {
        self.eta = eta
        self.finalAlphaBar = finalAlphaBar
    }
    public var method: StepMethod { .ddim }

    public func coefficients(from s: Int, to p: Int, previous: Int?, schedule: NoiseSchedule,
                             variance: VarianceType) throws -> StepCoefficients {
        let aS = schedule.alphaBar(s), aP = p < 0 ? finalAlphaBar ?? 1 : schedule.alphaBar(p)
        let sigma = aP == 1 ? 0 : eta * ((1 - aP) / (1 - aS)).squareRoot() * (1 - aS / aP).squareRoot()
        let epsVariance = 1 - aP - sigma * sigma
        // Rounding can take 1 − a_p − σ² a few ulps below 0 at η = 1; more is an invalid η.
        guard epsVariance >= -1e-12 else { throw SamplerError.etaTooLarge(eta, step: s) }
        var c = StepCoefficients()
        c.x0 = aP.squareRoot()
        c.eps = max(0, epsVariance).squareRoot()
        c.noiseStd = sigma
        return c
    }
}
