import Foundation

/// Euler ancestral in σ = √((1 − ᾱ)/ᾱ) (Karras et al. 2022; k-diffusion `sample_euler_ancestral` with
/// eta 1 and s_noise 1, diffusers 0.42.1 `EulerAncestralDiscreteScheduler.step`). In the variance-
/// exploding variable x̃ = x/√ᾱ a step from σ_s to σ_p is
///
///     σ_up = √(σ_p²(σ_s² − σ_p²)/σ_s²),  σ_down = √(σ_p² − σ_up²),  x̃' = x̃ + (σ_down − σ_s)·ε̂ + σ_up·z
///
/// (ε̂ = (x̃ − x̂₀)/σ_s, diffusers' `derivative`), with σ = 0 after the last step. Written on the
/// variance-preserving x that the plan carries (x = √ᾱ·x̃):
///
///     x' = √(ᾱ_p/ᾱ_s)·x + √ᾱ_p(σ_down − σ_s)·ε̂ + √ᾱ_p·σ_up·z.
///
/// The times may be fractional (k-diffusion's `get_sigmas`: linspace(T − 1, 0, N) unrounded, or the
/// karras / logsnr noise levels); σ at a fractional time is `NoiseSchedule.sigma(atTime:)`.
/// x_T is σ_1·z in x̃ (k-diffusion, and diffusers' `init_noise_sigma` for linspace and trailing
/// spacing), so x_T = √(1 − ᾱ_1)·z here: `initialNoiseScale`.
public struct EulerAncestral: Sendable {
    /// The plan over `times` (decreasing model times, one network evaluation each).
    public static func plan(times: [Double], schedule: NoiseSchedule) -> [PlannedStep] {
        let sigmas = times.map { schedule.sigma(atTime: $0) } + [0]
        return times.indices.map { k in
            let sS = sigmas[k], sP = sigmas[k + 1]
            let aS = schedule.alphaBar(atTime: times[k]), aP = k + 1 < times.count ? schedule.alphaBar(atTime: times[k + 1]) : 1
            let up = sP > 0 ? (sP * sP * max(0, sS * sS - sP * sP) / (sS * sS)).squareRoot() : 0
            let down = max(0, sP * sP - up * up).squareRoot()
            var c = StepCoefficients()
            c.x = (aP / aS).squareRoot()
            c.eps = aP.squareRoot() * (down - sS)
            c.noiseStd = aP.squareRoot() * up
            let to = k + 1 < times.count ? Int(times[k + 1].rounded()) : -1
            return PlannedStep(index: k, from: Int(times[k].rounded()), to: to, time: times[k], method: .eulerAncestral,
                               coefficients: c, drawsNoise: c.noiseStd > 0)
        }
    }

    /// The x_T scale: √(1 − ᾱ) at the first time (σ_1 in x̃).
    public static func initialNoiseScale(times: [Double], schedule: NoiseSchedule) -> Double {
        guard let first = times.first else { return 1 }
        return (1 - schedule.alphaBar(atTime: first)).squareRoot()
    }
}
