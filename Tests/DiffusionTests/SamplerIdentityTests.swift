import Foundation
import Testing
@testable import Diffusion

/// Float64 identities of the paper (arXiv 2508.15233), checked on the planned coefficients.
/// A step with ε-prediction is x' = E_x·x + E_ε·ε̂ + σ·z once x̂₀ = (x − √(1−a_s)ε̂)/√a_s is
/// substituted; the reference values below are written from the formulas, not from our planner.
@Suite struct SamplerIdentityTests {
    static func schedules() throws -> [(String, NoiseSchedule)] {
        [("linear", try NoiseSchedule(.linear())), ("cosine", try NoiseSchedule(.squaredCosCapV2)),
         ("scaled_linear", try NoiseSchedule(.scaledLinear()))]
    }

    /// (x, ε) coefficients of a planned step with x̂₀ substituted.
    static func effective(_ step: PlannedStep, _ schedule: NoiseSchedule) -> (x: Double, eps: Double, std: Double) {
        let aS = schedule.alphaBar(step.from)
        let c = step.coefficients
        return (c.x + c.x0 / aS.squareRoot(), c.eps - c.x0 * (1 - aS).squareRoot() / aS.squareRoot(), c.noiseStd)
    }

    static func expectClose(_ a: Double, _ b: Double, _ what: String, tolerance: Double = 1e-12) {
        #expect(abs(a - b) <= tolerance * max(1, abs(b)), "\(what): \(a) vs \(b)")
    }

    @Test(arguments: [7, 10, 25, 50, 100, 1000])
    func skipEqualsPosteriorDDIMAndRespacedDDPM(steps: Int) throws {
        for (name, schedule) in try Self.schedules() {
            let ts = try Spacing.uniform.timesteps(trainSteps: 1000, steps: steps)
            let skip = try Sampler(.skip, schedule: schedule, timesteps: ts)
            let ddim1 = try Sampler(.ddim(eta: 1), schedule: schedule, timesteps: ts)
            let ddpm = try Sampler(.ddpm, schedule: schedule, timesteps: ts)
            for k in skip.steps.indices {
                let s = skip.steps[k].from, p = skip.steps[k].to
                let aS = schedule.alphaBar(s), aP = schedule.alphaBar(p)
                // Theorem 2 / eq. 3: q(x_p | x_s, x₀) has mean √a_p·β/(1−a_s)·x₀ + √α(1−a_p)/(1−a_s)·x_s
                // and variance (1−a_p)/(1−a_s)·β, with α = a_s/a_p, β = 1 − α.
                let alpha = aS / aP, beta = 1 - alpha
                let meanX0 = aP.squareRoot() * beta / (1 - aS)
                let meanX = alpha.squareRoot() * (1 - aP) / (1 - aS)
                let posteriorX = meanX + meanX0 / aS.squareRoot()
                let posteriorEps = -meanX0 * (1 - aS).squareRoot() / aS.squareRoot()
                let posteriorStd = ((1 - aP) / (1 - aS) * beta).squareRoot()
                let label = "\(name) N=\(steps) step \(k) (\(s)→\(p))"
                for (sampler, what) in [(skip, "skip"), (ddim1, "ddim(1)"), (ddpm, "ddpm fixed_small")] {
                    let e = Self.effective(sampler.steps[k], schedule)
                    Self.expectClose(e.x, posteriorX, "\(what) x-coefficient, \(label)")
                    Self.expectClose(e.eps, posteriorEps, "\(what) ε-coefficient, \(label)")
                    Self.expectClose(e.std, p < 0 ? 0 : posteriorStd, "\(what) σ, \(label)")
                }
            }
        }
    }

    @Test func ddpmOnEveryIndexIsAlgorithmOne() throws {
        for (name, schedule) in try Self.schedules() {
            let ts = Array((0..<1000).reversed())
            let ddpm = try Sampler(.ddpm, schedule: schedule, timesteps: ts)
            for step in ddpm.steps {
                // Algorithm 1: x' = (x − β_j/√(1−ᾱ_j)·ε̂)/√α_j + σ_j·z, σ_j² = β̃_j, none at j = 0.
                let j = step.from, beta = schedule.betas[j], alpha = 1 - beta
                let aJ = schedule.alphaBar(j)
                let tildeBeta = (1 - schedule.alphaBar(j - 1)) / (1 - aJ) * beta
                let e = Self.effective(step, schedule)
                Self.expectClose(e.x, 1 / alpha.squareRoot(), "\(name) x-coefficient at \(j)")
                Self.expectClose(e.eps, -beta / ((1 - aJ).squareRoot() * alpha.squareRoot()),
                                 "\(name) ε-coefficient at \(j)")
                Self.expectClose(e.std, j == 0 ? 0 : tildeBeta.squareRoot(), "\(name) σ at \(j)")
            }
        }
    }

    @Test func naiveStridedDDPMUsesSingleStepCoefficients() throws {
        let schedule = try NoiseSchedule(.linear())
        let ts = try Spacing.uniform.timesteps(trainSteps: 1000, steps: 10)
        let naive = try Sampler(.ddpmNaive, schedule: schedule, timesteps: ts)
        let skip = try Sampler(.skip, schedule: schedule, timesteps: ts)
        for (n, s) in zip(naive.steps, skip.steps) where n.to >= 0 {
            let beta = schedule.betas[n.from]
            Self.expectClose(n.coefficients.x, 1 / (1 - beta).squareRoot(), "naive x at \(n.from)")
            // Remark 3: on a stride the one-step update barely moves x, unlike skipped-step.
            #expect(abs(n.coefficients.eps) < abs(s.coefficients.eps) / 5)
        }
    }

    @Test func mixSwitchesAtTheCutoff() throws {
        let schedule = try NoiseSchedule(.linear())
        let ts = try Spacing.uniform.timesteps(trainSteps: 1000, steps: 25)
        let byIndex = try Sampler(.mix(.timestep(291)), schedule: schedule, timesteps: ts)
        #expect(byIndex.steps.map(\.method) == ts.map { $0 >= 291 ? .skip : .ddim })
        let kc = ts.count(where: { $0 >= 291 })
        let bySteps = try Sampler(.mix(.skipSteps(kc)), schedule: schedule, timesteps: ts)
        #expect(bySteps.steps == byIndex.steps)
        let ddim = try Sampler(.ddim(eta: 0), schedule: schedule, timesteps: ts)
        let skip = try Sampler(.skip, schedule: schedule, timesteps: ts)
        for k in ts.indices {
            #expect(byIndex.steps[k].coefficients == (k < kc ? skip : ddim).steps[k].coefficients)
        }
        #expect(throws: SamplerError.invalidCutoff(1000, trainSteps: 1000)) {
            try Sampler(.mix(.timestep(1000)), schedule: schedule, timesteps: ts)
        }
        #expect(throws: SamplerError.invalidSkipSteps(26, steps: 25)) {
            try Sampler(.mix(.skipSteps(26)), schedule: schedule, timesteps: ts)
        }
    }

    @Test func dpmSolverFirstAndLastStepsAreFirstOrder() throws {
        let schedule = try NoiseSchedule(.linear())
        let ts = try Spacing.dpmLinspace.timesteps(trainSteps: 1000, steps: 10)
        let dpm = try Sampler(.dpmSolverPP2M, schedule: schedule, timesteps: ts)
        #expect(dpm.steps.map(\.method) == [.dpmSolverPP1] + Array(repeating: .dpmSolverPP2M, count: 8) + [.dpmSolverPP1])
        // The last step lands on x̂₀ exactly (σ_p = 0).
        #expect(dpm.steps[9].coefficients == StepCoefficients(x: 0, x0: 1))
        // A first-order DPM-Solver++ step is DDIM(η = 0) (Lu et al. 2022b, §4).
        let ddim = try Sampler(.ddim(eta: 0), schedule: schedule, timesteps: ts)
        let e1 = Self.effective(dpm.steps[0], schedule), e2 = Self.effective(ddim.steps[0], schedule)
        Self.expectClose(e1.x, e2.x, "x")
        Self.expectClose(e1.eps, e2.eps, "ε")
    }

    /// DDIM with η = 1 on steps starting at s ≥ t_c and 0 below is Mix(t_c): the same effective
    /// coefficients on every step (skipped-step is DDIM(η = 1)) and the same noise draws.
    @Test(arguments: [10, 25, 50])
    func etaStepFunctionIsMix(steps: Int) throws {
        for (name, schedule) in try Self.schedules() {
            let ts = try Spacing.uniform.timesteps(trainSteps: schedule.trainSteps, steps: steps)
            for tc in [0, 291, 600, ts[0], schedule.trainSteps - 1] {
                let mix = try Sampler(.mix(.timestep(tc)), schedule: schedule, timesteps: ts)
                let ddim = try Sampler(.ddimEtaStep(above: 1, below: 0, cutoff: tc), schedule: schedule, timesteps: ts)
                #expect(mix.steps.map(\.drawsNoise) == ddim.steps.map(\.drawsNoise), "\(name) t_c = \(tc)")
                #expect(ddim.steps.map(\.method) == Array(repeating: .ddim, count: steps))
                for (m, d) in zip(mix.steps, ddim.steps) {
                    let em = Self.effective(m, schedule), ed = Self.effective(d, schedule)
                    Self.expectClose(ed.x, em.x, "\(name) t_c = \(tc) step \(m.index) x")
                    Self.expectClose(ed.eps, em.eps, "\(name) t_c = \(tc) step \(m.index) ε")
                    Self.expectClose(ed.std, em.std, "\(name) t_c = \(tc) step \(m.index) σ")
                }
            }
        }
        // The same spec text: Mix is the step function's special case.
        let spec = try SamplerSpec(parsing: "ddim:eta=1:eta-cutoff=291")
        #expect(spec.kind == .ddimEtaStep(above: 1, below: 0, cutoff: 291))
    }

    /// A first-order SDE-DPM-Solver++ step is the posterior q(x_p | x_s, x̂₀): the same mean and
    /// σ² = β̃ as skipped-step (= DDPM fixed_small = DDIM η = 1), (1 − a_p)(1 − e^{−2h}) = β̃.
    @Test func sdeDPMSolverFirstOrderStepIsThePosterior() throws {
        let schedule = try NoiseSchedule(.linear())
        let ts = try Spacing.dpmLinspace.timesteps(trainSteps: 1000, steps: 10)
        let sde = try Sampler(.sdeDPMSolverPP2M, schedule: schedule, timesteps: ts)
        #expect(sde.steps.map(\.method) == [.sdeDPMSolverPP1] + Array(repeating: .sdeDPMSolverPP2M, count: 8) + [.sdeDPMSolverPP1])
        #expect(sde.steps.map(\.drawsNoise) == Array(repeating: true, count: 9) + [false])
        #expect(sde.steps[9].coefficients == StepCoefficients(x: 0, x0: 1))
        let skip = try Sampler(.skip, schedule: schedule, timesteps: ts)
        let e1 = Self.effective(sde.steps[0], schedule), e2 = Self.effective(skip.steps[0], schedule)
        Self.expectClose(e1.x, e2.x, "x")
        Self.expectClose(e1.eps, e2.eps, "ε")
        Self.expectClose(e1.std, e2.std, "σ")
    }

    /// PNDM's transfer, formula (9) of Liu et al. 2022, is DDIM(η = 0) written without x̂₀: every
    /// step's (x, ε̂) coefficients equal DDIM's for the same (s, p), the last step ending at ᾱ[0]
    /// with set_alpha_to_one false; each combination's weights sum to 1 (a constant network output
    /// passes through unchanged) and the warm-up has the published shape.
    @Test(arguments: [true, false])
    func pndmTransferIsDDIMAndItsWeightsSumToOne(skipPRK: Bool) throws {
        for (name, schedule) in try Self.schedules() {
            for steps in [4, 10, 25, 50] {
                let ts = try Spacing.leading(offset: 1).timesteps(trainSteps: 1000, steps: steps)
                for final in [nil, schedule.alphaBar(0)] {
                    var options = SamplerOptions()
                    options.ddimFinalAlphaBar = final
                    let pndm = try Sampler(.pndm(skipPRK: skipPRK), schedule: schedule, timesteps: ts, options: options)
                    #expect(pndm.steps.count == steps + (skipPRK ? 1 : 9), "\(name) N=\(steps) NFE")
                    for step in pndm.steps {
                        let label = "\(name) N=\(steps) step \(step.index) (\(step.from)→\(step.to))"
                        let ddim = try DDIM(eta: 0, finalAlphaBar: final)
                            .coefficients(from: step.from, to: step.to, previous: nil, schedule: schedule, variance: .fixedSmall)
                        let e = Self.effective(step, schedule)
                        let d = Self.effective(PlannedStep(index: 0, from: step.from, to: step.to, method: .ddim,
                                                           coefficients: ddim, drawsNoise: false), schedule)
                        Self.expectClose(e.x, d.x, "\(label) x", tolerance: 1e-11)
                        Self.expectClose(e.eps, d.eps, "\(label) ε", tolerance: 1e-11)
                        let weights = step.combination?.terms.map(\.weight) ?? []
                        Self.expectClose(weights.reduce(0, +), 1, "\(label) weights")
                    }
                }
            }
        }
        let ts = try Spacing.leading(offset: 1).timesteps(trainSteps: 1000, steps: 25)
        let pndm = try Sampler(.pndm(skipPRK: skipPRK), schedule: try NoiseSchedule(.scaledLinear()), timesteps: ts)
        if skipPRK {
            // 961 → 921 by Euler, then again from 961 with the mean of the two outputs, then Adams–Bashforth.
            #expect(pndm.steps.prefix(5).map(\.method) == [.plmsEuler, .plmsHeun, .plms2, .plms3, .plms4])
            #expect(pndm.steps.prefix(3).map { [$0.from, $0.to, Int($0.time)] } == [[961, 921, 961], [961, 921, 921], [921, 881, 921]])
            #expect(pndm.steps[1].combination == OutputCombination(sampleOf: 0, terms: [.init(step: 1, weight: 0.5), .init(step: 0, weight: 0.5)]))
            #expect(pndm.steps[2].combination?.terms.map(\.step) == [2, 0])
            #expect(pndm.steps[5].combination?.terms.map(\.step) == [5, 4, 3, 2])
        } else {
            // Three Runge–Kutta steps of 4 evaluations (961 → 941 → 921 …), then 4th-order Adams–Bashforth.
            #expect(pndm.steps.prefix(4).map { Int($0.time) } == [961, 941, 941, 921])
            #expect(pndm.steps.prefix(4).map(\.to) == [941, 941, 921, 921])
            #expect(pndm.steps[12].method == .plms4 && pndm.steps[12].combination?.terms.map(\.step) == [12, 8, 4, 0])
        }
    }
}
