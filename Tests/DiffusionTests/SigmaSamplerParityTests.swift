import Foundation
import Testing
import TestSupport
@testable import Diffusion

/// Euler ancestral and Restart against their references (Tests/Fixtures/schedulers/euler_ancestral.json
/// and restart.json, made by tools/make_beyond_goldens.py): diffusers' EulerAncestralDiscreteScheduler
/// on its own and k-diffusion's fractional grids, and a float64 Restart (the CIFAR-10 VP configuration)
/// in the variance-exploding form of the authors' code. The references carry x̃ = x/√ᾱ; the plan
/// carries x, so each comparison scales by √ᾱ = 1/√(1 + σ²) of the reference's own σ.
@Suite struct SigmaSamplerParityTests {
    static func vp(_ ve: [Float], sigma: Double) -> [Float] {
        let scale = 1 / (1 + sigma * sigma).squareRoot()
        return ve.map { Float(Double($0) * scale) }
    }
    static func vp(_ ve: [Double], sigma: Double) -> [Float] {
        let scale = 1 / (1 + sigma * sigma).squareRoot()
        return ve.map { Float($0 * scale) }
    }

    /// Replays recorded outputs in evaluation order (they do not follow x: open loop, like
    /// DiffusersParityTests.Replay), and checks each evaluation's model time.
    final class Replay: Denoiser, @unchecked Sendable {
        let outputs: [[Float]], times: [Double], sampleShape: [Int]
        var next = 0
        var worstTime = 0.0
        var predictionType: PredictionType { .epsilon }
        init(outputs: [[Float]], times: [Double], sampleShape: [Int]) {
            self.outputs = outputs; self.times = times; self.sampleShape = sampleShape
        }
        func predict(_ x: [Float], batch: Int, timestep: Double) throws -> [Float] {
            defer { next += 1 }
            guard next < outputs.count else { return [] }
            worstTime = max(worstTime, abs(timestep - times[next]))
            return outputs[next]
        }
    }

    /// Generators that already drew x_T (so a run given the reference's x_T draws its noise next).
    static func generators(_ seeds: [Int], sampleCount d: Int) -> [any RandomSource] {
        seeds.map { seed in
            var g = RandomKind.torch.makeSource(seed: UInt64(seed))
            var discard = [Float](repeating: 0, count: d)
            discard.withUnsafeMutableBufferPointer { g.fillStandardNormal($0) }
            return g
        }
    }

    // MARK: Euler ancestral

    struct EulerStep: Decodable {
        var t: Double, sigma: Double, sigma_next: Double
        var model_input: [Float], model_output: [Float], noise: [Float]?, prev_sample: [Float]
    }
    struct EulerRun: Decodable {
        var name: String, spacing: String, N: Int, init_noise_sigma: Double, timesteps: [Double]
        var batch: Int, sample_shape: [Int], seeds: [Int], x_T: [Float], steps: [EulerStep], final_sample: [Float]
    }
    struct EulerFile: Decodable { var runs: [EulerRun] }

    static func eulerRuns() throws -> [EulerRun] { try Fixtures.json(EulerFile.self, "schedulers/euler_ancestral.json").runs }

    @Test func eulerAncestralEveryStepMatches() throws {
        let schedule = try NoiseSchedule(.linear())
        var report: [String] = []
        for run in try Self.eulerRuns() {
            let sampler = try Sampler(.eulerAncestral, schedule: schedule, times: run.timesteps)
            var worst = 0.0
            for (k, step) in run.steps.enumerated() {
                let planned = sampler.steps[k]
                #expect(abs(planned.time - step.t) < 1e-9, "\(run.name) step \(k) time")
                #expect(planned.drawsNoise == (step.sigma_next > 0), "\(run.name) step \(k) draws")
                var x = step.model_input
                _ = try sampler.apply(planned, to: &x, modelOutput: step.model_output, predictionType: .epsilon,
                                      sampleCount: x.count / run.batch, noise: planned.drawsNoise ? step.noise : nil)
                let error = relativeL2(x, Self.vp(step.prev_sample, sigma: step.sigma_next))
                worst = max(worst, error)
                // diffusers computes in float32 (its σ tables and x̃ updates); the plan in Float64.
                #expect(error < 1e-5, "\(run.name) step \(k) (t = \(step.t)): rel L2 \(error)")
            }
            report.append("\(run.name): worst step rel L2 \(worst)")
        }
        print("Euler ancestral, Float64 tables\n" + report.joined(separator: "\n"))
    }

    @Test func eulerAncestralWholeRunsMatchWithOurNoise() throws {
        let schedule = try NoiseSchedule(.linear())
        for run in try Self.eulerRuns() {
            let sampler = try Sampler(.eulerAncestral, schedule: schedule, times: run.timesteps)
            let d = run.x_T.count / run.batch
            let model = Replay(outputs: run.steps.map(\.model_output), times: run.timesteps, sampleShape: run.sample_shape)
            let xT = Self.vp(run.x_T, sigma: run.steps[0].sigma)
            // x_T = σ_1·z in x̃ (linspace and trailing; diffusers' `leading` starts from √(σ_max² + 1)·z instead).
            if run.spacing != "leading" {
                var drawn = try Denoising(sampler: sampler, denoiser: model,
                                          generators: run.seeds.map { RandomKind.torch.makeSource(seed: UInt64($0)) })
                #expect(closeness(drawn.x, xT, rtol: 1e-6, atol: 1e-6).passes, "\(run.name) x_T")
                _ = drawn
            }
            let fresh = Replay(outputs: run.steps.map(\.model_output), times: run.timesteps, sampleShape: run.sample_shape)
            var denoising = try Denoising(sampler: sampler, denoiser: fresh, generators: Self.generators(run.seeds, sampleCount: d),
                                          initialNoise: xT)
            var k = 0
            while let step = try denoising.advance() {
                let error = relativeL2(step.x, Self.vp(run.steps[k].prev_sample, sigma: run.steps[k].sigma_next))
                #expect(error < 1e-4, "\(run.name) step \(k): rel L2 \(error)")
                k += 1
            }
            #expect(fresh.worstTime < 1e-9, "\(run.name) model times")
            let final = relativeL2(denoising.x, run.final_sample)
            #expect(final < 1e-4, "\(run.name) final rel L2 \(final)")
            print("\(run.name) (\(k) steps): final rel L2 \(final)")
        }
    }

    /// The spec's spacings give the reference's grids: k-diffusion's unrounded linspace and the
    /// karras noise levels before rounding, and diffusers' trailing as integer times.
    @Test func eulerAncestralSpecTimesAreTheReferenceGrids() throws {
        let schedule = try NoiseSchedule(.linear())
        let runs = try Self.eulerRuns()
        for (spec, name) in [("euler-ancestral:spacing=linspace", "euler_ancestral_kdiffusion_linspace10"),
                             ("euler-ancestral:spacing=karras", "euler_ancestral_kdiffusion_karras10"),
                             ("euler-ancestral:spacing=trailing", "euler_ancestral_trailing25")] {
            let run = try #require(runs.first { $0.name == name })
            let sampler = try SamplerSpec(parsing: spec).makeSampler(steps: run.N, schedule: schedule)
            #expect(sampler.steps.count == run.N)
            for (a, b) in zip(sampler.steps.map(\.time), run.timesteps) { #expect(abs(a - b) < 1e-6, "\(spec): \(a) vs \(b)") }
        }
    }

    // MARK: Restart

    struct Evaluation: Decodable {
        var sigma: Double, t: Double, out_sigma: Double
        var model_input: [Double], model_output: [Double], noise: [Double]?, result: [Double]
    }
    struct RestartRun: Decodable {
        var name: String, main_steps: Int, nfe: Int, restart_index: Int, main_sigmas: [Double]
        var batch: Int, sample_shape: [Int], seeds: [Int], x_T_normal: [Float]
        var evaluations: [Evaluation], final_sample: [Double]
    }
    struct RestartFile: Decodable { var runs: [RestartRun] }

    static func restartRuns() throws -> [RestartRun] { try Fixtures.json(RestartFile.self, "schedulers/restart.json").runs }

    @Test func restartNFEIsCountedHonestly() throws {
        let schedule = try NoiseSchedule(.linear())
        let restart = Restart.published
        // The configuration's own 18 main steps: 2·18 − 1 Heun evaluations + K·2·(3 − 1) = 43.
        #expect(try restart.evaluations(mainSteps: 18, schedule: schedule).count == 43)
        for (budget, main, nfe) in [(43, 18, 43), (25, 9, 25), (50, 21, 49), (11, 2, 11)] {
            #expect(try restart.mainSteps(budget: budget, schedule: schedule) == main, "budget \(budget)")
            let sampler = try SamplerSpec(parsing: "restart").makeSampler(steps: budget, schedule: schedule)
            #expect(sampler.steps.count == nfe, "budget \(budget)")
            #expect(sampler.steps.filter(\.drawsNoise).count == 2)
        }
        #expect(throws: SamplerError.self) { try SamplerSpec(parsing: "restart").makeSampler(steps: 10, schedule: schedule) }
        #expect(throws: SamplerSpecError.self) { try SamplerSpec(parsing: "restart:spacing=karras").makeSampler(steps: 25, schedule: schedule) }
    }

    @Test func restartEveryEvaluationMatches() throws {
        let schedule = try NoiseSchedule(.linear())
        for run in try Self.restartRuns() {
            let sampler = try Sampler(.restart, schedule: schedule, times: Array(repeating: 0, count: run.nfe))
            #expect(sampler.steps.count == run.evaluations.count, "\(run.name) NFE")
            var worst = 0.0
            var previousX0: [Float]?
            for (k, ev) in run.evaluations.enumerated() where k < sampler.steps.count {
                let planned = sampler.steps[k]
                #expect(abs(planned.time - ev.t) < 1e-9, "\(run.name) evaluation \(k) time \(planned.time) vs \(ev.t)")
                #expect(planned.drawsNoise == (ev.noise != nil), "\(run.name) evaluation \(k) noise")
                var x = ev.model_input.map(Float.init)
                previousX0 = try sampler.apply(planned, to: &x, modelOutput: ev.model_output.map(Float.init), predictionType: .epsilon,
                                               sampleCount: x.count / run.batch, previousX0: previousX0,
                                               noise: ev.noise.map { $0.map(Float.init) })
                let error = relativeL2(x, Self.vp(ev.result, sigma: ev.out_sigma))
                worst = max(worst, error)
                #expect(error < 1e-5, "\(run.name) evaluation \(k) (σ = \(ev.sigma)): rel L2 \(error)")
            }
            print("\(run.name): \(run.nfe) evaluations, worst rel L2 \(worst)")
        }
    }

    @Test func restartWholeRunsMatchWithOurNoise() throws {
        let schedule = try NoiseSchedule(.linear())
        for run in try Self.restartRuns() {
            let sampler = try Sampler(.restart, schedule: schedule, times: Array(repeating: 0, count: run.nfe))
            let model = Replay(outputs: run.evaluations.map { $0.model_output.map(Float.init) },
                               times: run.evaluations.map(\.t), sampleShape: run.sample_shape)
            var denoising = try Denoising(sampler: sampler, denoiser: model,
                                          generators: run.seeds.map { RandomKind.torch.makeSource(seed: UInt64($0)) })
            let sigma0 = run.main_sigmas[0]
            #expect(closeness(denoising.x, run.x_T_normal.map { Float(Double($0) * sigma0 / (1 + sigma0 * sigma0).squareRoot()) },
                              rtol: 1e-6, atol: 1e-7).passes, "\(run.name) x_T")
            var k = 0
            while let step = try denoising.advance() {
                let ev = run.evaluations[k]
                let error = relativeL2(step.x, Self.vp(ev.result, sigma: ev.out_sigma))
                #expect(error < 1e-4, "\(run.name) evaluation \(k): rel L2 \(error)")
                k += 1
            }
            #expect(model.worstTime < 1e-9)
            let final = relativeL2(denoising.x, run.final_sample)
            #expect(final < 1e-4, "\(run.name) final rel L2 \(final)")
            print("\(run.name) (\(k) evaluations): final rel L2 \(final)")
        }
    }
}
