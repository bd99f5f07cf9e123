import Foundation

/// Restart sampling (Xu et al., NeurIPS 2023, arXiv 2306.14878, Algorithm 1; the authors' code
/// Newbeeer/diffusion_restart_sampling, benchmarks/generate_restart.py `restart_sampler`), ported
/// with one published configuration: CIFAR-10 VP, `18 {"0": [3, 2, 0.06, 0.30]}` of
/// benchmarks/params_cifar10_vp.txt (the paper's Table 3): a main backward ODE of N Heun steps
/// (EDM's 2nd-order solver, the last step Euler) on the Karras grid
///
///     σ_i = (σ_max^{1/ρ} + i/(N − 1)·(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ,  ρ = 7,  σ_N = 0,
///
/// and one Restart interval: at the main point σ_r nearest t_min = 0.06 (first on ties, torch.argmin),
/// K = 2 times: add noise √(t_max² − σ_r²)·z (t_max = 0.30), then run 2 Heun steps back to σ_r on
/// the 3-point Karras grid from t_max to σ_r.
///
/// Discrete-time models (the mapping): σ_max = min(80, σ(T − 1)) and σ_min = max(0.002, σ(0)),
/// EDM's clamp of its defaults to the network's range, with σ = √((1 − ᾱ)/ᾱ); the network is
/// evaluated at the fractional time of each σ (`NoiseSchedule.time(forSigma:)`, diffusers'
/// `_sigma_to_t`) on x = x̃/√(1 + σ²), and D(x̃, σ) = x̃ − σ·ε̂. Not ported: the code's optional
/// churn inside Restart intervals (restart_gamma 0.05 with S_noise 1.003 in its README command);
/// this is the paper's Algorithm 1 (γ = 0, S_noise = 1). The code draws a zero-weighted normal at
/// every evaluation (S_churn = 0); only the Restart noise is drawn here.
///
/// NFE, counted honestly: 2N − 1 for the main ODE plus K·2·(3 − 1) = 8 for the Restart interval,
/// so the configuration's N = 18 costs 43. A run is given an NFE budget (`--steps`): the largest N
/// whose plan fits is used (25 → N = 9, 25 NFE; 50 → N = 21, 49 NFE). Every planned step is one
/// evaluation. A Heun corrector x̃' = x̃_i + Δ/2·(ε̂_i + ε̂(x̃_pred)) is written on the predictor's
/// output x̃_pred = x̃_i + Δ·ε̂_i and its x̂₀ (D_i), since ε̂_i = (x̃_pred − D_i)/σ_{i+1}:
///
///     x̃' = (1 − Δ/(2σ_{i+1}))·x̃_pred + Δ/(2σ_{i+1})·D_i + Δ/2·ε̂(x̃_pred),  Δ = σ_{i+1} − σ_i.
public struct Restart: Sendable, Equatable {
    /// Points of each Restart interval's Karras grid (N_Restart; 2 Heun steps).
    public var intervalPoints = 3
    /// Repetitions K.
    public var repetitions = 2
    public var tMin = 0.06
    public var tMax = 0.30
    public var sigmaMin = 0.002
    public var sigmaMax = 80.0
    public var rho = 7.0

    /// The ported configuration (CIFAR-10 VP, `{"0": [3, 2, 0.06, 0.30]}`).
    public static let published = Restart()

    public init() {}

    /// The Karras grid of `count` points from `high` down to `low`.
    static func karras(from high: Double, to low: Double, count: Int, rho: Double) -> [Double] {
        (0..<count).map { i in
            pow(pow(high, 1 / rho) + Double(i) / Double(count - 1) * (pow(low, 1 / rho) - pow(high, 1 / rho)), rho)
        }
    }

    /// One network evaluation in x̃: x̃_out = a·x̃_in + e·ε̂ + b·D_prev + n·z.
    struct Evaluation {
        var sigma: Double, outSigma: Double
        var a = 1.0, e = 0.0, b = 0.0, noise = 0.0
        var method: StepMethod
    }

    /// The evaluations of a run with N main steps, in order.
    func evaluations(mainSteps n: Int, schedule: NoiseSchedule) throws -> [Evaluation] {
        let high = min(sigmaMax, schedule.sigma(atTime: Double(schedule.trainSteps - 1)))
        let low = max(sigmaMin, schedule.sigma(atTime: 0))
        guard n >= 2 else { throw SamplerError.inputSize("restart needs at least 2 main steps") }
        let main = Self.karras(from: high, to: low, count: n, rho: rho) + [0]
        // torch.argmin(abs(t_steps − t_min)): the first index of the smallest distance.
        var r = 0
        for i in main.indices where abs(main[i] - tMin) < abs(main[r] - tMin) { r = i }
        guard r >= 1, r < n, main[r] < tMax else {
            throw SamplerError.inputSize("restart: the model's noise levels σ ∈ [\(low), \(high)] leave no Restart "
                                         + "interval [\(tMin), \(tMax)] inside the main grid of \(n) steps")
        }
        var out: [Evaluation] = []
        func heun(_ s: Double, _ p: Double) {
            let d = p - s
            out.append(Evaluation(sigma: s, outSigma: p, e: d, method: .restartEuler))
            out.append(Evaluation(sigma: p, outSigma: p, a: 1 - d / (2 * p), e: d / 2, b: d / (2 * p), method: .restartHeun))
        }
        for i in 0..<n {
            if main[i + 1] > 0 {
                heun(main[i], main[i + 1])
            } else {
                out.append(Evaluation(sigma: main[i], outSigma: 0, e: -main[i], method: .restartEuler))
            }
            guard i + 1 == r else { continue }
            let grid = Self.karras(from: tMax, to: main[r], count: intervalPoints, rho: rho)
            for _ in 0..<repetitions {
                out[out.count - 1].outSigma = grid[0]
                out[out.count - 1].noise = max(0, grid[0] * grid[0] - main[r] * main[r]).squareRoot()
                for j in 0..<(grid.count - 1) { heun(grid[j], grid[j + 1]) }
            }
        }
        return out
    }

    /// The largest number of main steps whose plan fits `budget` evaluations.
    public func mainSteps(budget: Int, schedule: NoiseSchedule) throws -> Int {
        var best: Int?
        var lastError: Error?
        for n in 2...max(2, budget) {
            do {
                let count = try evaluations(mainSteps: n, schedule: schedule).count
                if count <= budget { best = n } else if best != nil { break }
            } catch {
                lastError = error
            }
            if 2 * n - 1 > budget { break }
        }
        guard let best else {
            if let lastError, budget >= 11 { throw lastError }
            throw SamplerError.inputSize("restart needs a budget of at least 11 network evaluations "
                                         + "(2 main Heun steps and the Restart interval), got \(budget)")
        }
        return best
    }

    /// The plan for an NFE budget, and the x_T scale (σ_0 in x̃: x_T = √(1 − ᾱ(σ_0))·z).
    public func plan(budget: Int, schedule: NoiseSchedule) throws -> (steps: [PlannedStep], initialNoiseScale: Double) {
        let n = try mainSteps(budget: budget, schedule: schedule)
        let evaluations = try evaluations(mainSteps: n, schedule: schedule)
        let steps = evaluations.enumerated().map { k, ev in
            let time = schedule.time(forSigma: ev.sigma)
            let aIn = schedule.alphaBar(atTime: time)
            let aOut = ev.outSigma > 0 ? 1 / (1 + ev.outSigma * ev.outSigma) : 1
            var c = StepCoefficients()
            c.x = ev.a * (aOut / aIn).squareRoot()
            c.eps = ev.e * aOut.squareRoot()
            c.previousX0 = ev.b * aOut.squareRoot()
            c.noiseStd = ev.noise * aOut.squareRoot()
            let to = ev.outSigma > 0 ? Int(schedule.time(forSigma: ev.outSigma).rounded()) : -1
            return PlannedStep(index: k, from: Int(time.rounded()), to: to, time: time, method: ev.method,
                               coefficients: c, drawsNoise: c.noiseStd > 0)
        }
        let first = evaluations.first?.sigma ?? 0
        return (steps, first / (1 + first * first).squareRoot())
    }
}
