import Foundation

/// Pseudo numerical methods for diffusion models (Liu et al., ICLR 2022, arXiv 2202.09778) as
/// diffusers 0.42.1 `PNDMScheduler` runs them (schedulers/scheduling_pndm.py). Every update is the
/// paper's transfer formula (9), `_get_prev_sample`, from a sample x at index s to index p:
///
///     x' = √(a_p/a_s)·x − (a_p − a_s)/(a_s·√(1 − a_p) + √(a_s(1 − a_s)a_p))·ε̂
///
/// (algebraically DDIM(η = 0) with the same ε̂), where a_p = ᾱ[p], or `finalAlphaBar` (diffusers'
/// `final_alpha_cumprod`: 1 with `set_alpha_to_one`, else ᾱ[0]) when p < 0; ε̂ comes from a weighted
/// sum of raw network outputs, converted at ᾱ[s] with that same x (`model_output` → ε for
/// v-prediction happens after the combination, as `_get_prev_sample` does it).
///
/// With `skipPRKSteps` (diffusers `skip_prk_steps: true`, Stable Diffusion's configs; crowsonkb's
/// PLMS of CompVis/latent-diffusion PR 51), for N timesteps τ_1 > … > τ_N the network runs N + 1
/// times (once for N = 1): at τ_1, τ_2, τ_2, τ_3, …, τ_N (diffusers' `plms_timesteps`, the second
/// timestep repeated). With o_k the k-th output (k from 0):
///
/// - evaluation 0 at τ_1: Euler (DDIM) from x(τ_1) to τ_2 with ε̂ = o_0;
/// - evaluation 1 at τ_2 on that intermediate sample: from x(τ_1) again, to τ_2, with
///   ε̂ = (o_1 + o_0)/2 (`cur_sample`; o_1 is not kept in the history `ets`);
/// - evaluation k + 1 at τ_{k+1} (k ≥ 1), from x(τ_{k+1}) to τ_{k+2}: Adams–Bashforth on the history
///   e = (o_0, o_2, o_3, …): (3e₀ − e₋₁)/2, (23e₀ − 16e₋₁ + 5e₋₂)/12, then
///   (55e₀ − 59e₋₁ + 37e₋₂ − 9e₋₃)/24 (e₀ the newest).
///
/// Without it (`skip_prk_steps: false`, PNDMScheduler's own default) the first three intervals are
/// pseudo Runge–Kutta steps of four evaluations each (`step_prk`): from s = τ_k to p = τ_{k+1} with
/// the midpoint m = p + ⌊(s − p)/2⌋, evaluations at s, m, m, p, each updating from x(s):
/// o_0 to m, o_1 to m, o_2 to p, and (o_0 + 2o_1 + 2o_2 + o_3)/6 to p; the history keeps each
/// Runge–Kutta step's first output, and 4th-order Adams–Bashforth runs from τ_4 on: N + 9
/// evaluations, N ≥ 4.
///
/// The step to the next index: skipstep goes from each timestep to the schedule's next one (−1
/// after the last), where diffusers computes `prev_timestep = t − T // N` and its PRK midpoint as
/// `T // N // 2`; the two agree for `leading` spacing and for `trailing` when N divides T, and
/// differ for `linspace` (ARCHITECTURE.md, Parity pitfalls).
public struct PNDM: Sendable, Equatable {
    /// diffusers `skip_prk_steps`: PLMS from the first step (true), or three Runge–Kutta steps first.
    public var skipPRKSteps: Bool
    /// ᾱ after the last step (diffusers `final_alpha_cumprod`); nil for 1.
    public var finalAlphaBar: Double?

    /// PNDM with or without the Runge–Kutta warm-up, ending at ᾱ = `finalAlphaBar` (nil: 1).
    public init(skipPRKSteps: Bool, finalAlphaBar: Double? = nil) {
        self.skipPRKSteps = skipPRKSteps
        self.finalAlphaBar = finalAlphaBar
    }

    /// The number of network evaluations for `steps` timesteps.
    public func evaluations(steps n: Int) -> Int {
        skipPRKSteps ? (n <= 1 ? n : n + 1) : n + 9
    }

    /// The fewest timesteps the plan needs: 4 with the Runge–Kutta warm-up (three RK steps and one
    /// multistep step, as diffusers' `prk_timesteps` needs four timesteps), else 1.
    public var minimumSteps: Int { skipPRKSteps ? 1 : 4 }

    /// Formula (9)'s coefficients (a of x, c of ε̂) from index s to p (p < 0: `finalAlphaBar`).
    func transfer(from s: Int, to p: Int, schedule: NoiseSchedule) -> StepCoefficients {
        let aS = schedule.alphaBar(s), aP = p < 0 ? finalAlphaBar ?? 1 : schedule.alphaBar(p)
        var c = StepCoefficients()
        c.x = (aP / aS).squareRoot()
        c.eps = -(aP - aS) / (aS * (1 - aP).squareRoot() + (aS * (1 - aS) * aP).squareRoot())
        return c
    }

    /// Adams–Bashforth weights for a history of `count` outputs, newest first (`step_plms`).
    static func adamsBashforth(_ count: Int) -> [Double] {
        switch count {
        case 1: [1]
        case 2: [3.0 / 2, -1.0 / 2]
        case 3: [23.0 / 12, -16.0 / 12, 5.0 / 12]
        default: [55.0 / 24, -59.0 / 24, 37.0 / 24, -9.0 / 24]
        }
    }

    /// Every network evaluation of a run through `timesteps` (strictly decreasing model indices).
    public func plan(timesteps ts: [Int], schedule: NoiseSchedule) throws -> [PlannedStep] {
        guard ts.count >= minimumSteps else {
            throw SamplerError.inputSize("pndm with skip-prk=false needs at least \(minimumSteps) steps (three "
                                         + "Runge–Kutta warm-up steps and one multistep step), got \(ts.count)")
        }
        if let s = ts.first, schedule.alphaBar(s) == 0 { throw SamplerError.zeroSignalStart(s) }
        func next(_ k: Int) -> Int { k + 1 < ts.count ? ts[k + 1] : -1 }
        var steps: [PlannedStep] = []
        func add(time: Int, from s: Int, to p: Int, method: StepMethod, sampleOf: Int, terms: [(Int, Double)]) {
            steps.append(PlannedStep(index: steps.count, from: s, to: p, time: Double(time), method: method,
                                     coefficients: transfer(from: s, to: p, schedule: schedule), drawsNoise: false,
                                     combination: OutputCombination(sampleOf: sampleOf,
                                                                    terms: terms.map { .init(step: $0.0, weight: $0.1) })))
        }
        // The history `ets`: the evaluation index of each output it keeps, oldest first.
        var history: [Int] = []
        let firstMultistep: Int
        if skipPRKSteps {
            add(time: ts[0], from: ts[0], to: next(0), method: .plmsEuler, sampleOf: 0, terms: [(0, 1)])
            history = [0]
            if ts.count >= 2 {
                add(time: ts[1], from: ts[0], to: ts[1], method: .plmsHeun, sampleOf: 0, terms: [(1, 0.5), (0, 0.5)])
            }
            firstMultistep = 1
        } else {
            for k in 0..<3 {
                let s = ts[k], p = ts[k + 1], m = p + (s - p) / 2, b = steps.count
                add(time: s, from: s, to: m, method: .prk, sampleOf: b, terms: [(b, 1)])
                add(time: m, from: s, to: m, method: .prk, sampleOf: b, terms: [(b + 1, 1)])
                add(time: m, from: s, to: p, method: .prk, sampleOf: b, terms: [(b + 2, 1)])
                add(time: p, from: s, to: p, method: .prk, sampleOf: b,
                    terms: [(b, 1.0 / 6), (b + 1, 1.0 / 3), (b + 2, 1.0 / 3), (b + 3, 1.0 / 6)])
                history.append(b)
            }
            firstMultistep = 3
        }
        for k in firstMultistep..<ts.count {
            let e = steps.count
            history = Array(history.suffix(3)) + [e]
            let weights = Self.adamsBashforth(history.count)
            let methods: [StepMethod] = [.plmsEuler, .plms2, .plms3, .plms4]
            add(time: ts[k], from: ts[k], to: next(k), method: methods[history.count - 1], sampleOf: e,
                terms: zip(history.reversed(), weights).map { ($0, $1) })
        }
        return steps
    }
}
