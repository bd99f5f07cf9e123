/// Skipped-step sampling, arXiv 2508.15233 Algorithm 2: one Markovian jump from s to p with the
/// unchanged noise predictor,
///
///     x' = √(a_p/a_s)·x − (a_p − a_s)/√(a_s·a_p·(1 − a_s))·ε̂ + √((a_p − a_s)(1 − a_p)/(a_p(1 − a_s)))·z
///
/// and no noise on the last step. Its mean and variance are those of the posterior
/// q(x_p | x_s, x̂₀) (the paper's Theorem 2), so it equals DDPM on the respaced schedule with
/// fixed_small variance and DDIM with η = 1 (tested in Float64).
public struct SkippedStep: UpdateRule {
    /// The rule (it has no parameters).
    public init() {}
    public var method: StepMethod { .skip }

    public func coefficients(from s: Int, to p: Int, previous: Int?, schedule: NoiseSchedule,
                             variance: VarianceType) throws -> StepCoefficients {
        let aS = schedule.alphaBar(s), aP = schedule.alphaBar(p)
        guard aS > 0 else { throw SamplerError.zeroSignalStart(s) }
        var c = StepCoefficients()
        c.x = (aP / aS).squareRoot()
        c.eps = -(aP - aS) / (aS * aP * (1 - aS)).squareRoot()
        if p >= 0 { c.noiseStd = ((aP - aS) * (1 - aP) / (aP * (1 - aS))).squareRoot() }
        return c
    }
}
