import Foundation

/// The "common practice" of the paper's Remark 3, kept as a baseline: Algorithm 1's one-step
/// coefficients used at strided indices, whatever the stride (expected to be poor).
///
///     x' = (x − β_s/√(1 − ᾱ_s)·ε̂)/√α_s + σ_s·z,  α_s = 1 − β_s,  σ_s² = β̃_s or β_s
public struct NaiveStridedDDPM: UpdateRule {
    /// The rule (it has no parameters).
    public init() {}
    public var method: StepMethod { .ddpmNaive }

    public func coefficients(from s: Int, to p: Int, previous: Int?, schedule: NoiseSchedule,
                             variance: VarianceType) throws -> StepCoefficients {
        let aS = schedule.alphaBar(s)
        guard aS > 0 else { throw SamplerError.zeroSignalStart(s) }
        let beta = schedule.betas[s], alpha = 1 - beta
        var c = StepCoefficients()
        c.x = 1 / alpha.squareRoot()
        c.eps = -beta / ((1 - aS).squareRoot() * alpha.squareRoot())
        if p >= 0 {
            c.setAncestralNoise(beta: beta, posteriorVariance: (1 - schedule.alphaBar(s - 1)) / (1 - aS) * beta,
                                variance: variance)
        }
        return c
    }
}
