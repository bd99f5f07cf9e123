import Foundation
import Testing
import TestSupport
@testable import Diffusion

/// The `pndm` sampler against diffusers 0.42.1's PNDMScheduler (Tests/Fixtures/schedulers/pndm.json,
/// made by tools/make_pndm_goldens.py): PLMS (`skip_prk_steps: true`) and the Runge–Kutta warm-up,
/// leading and trailing spacing, steps_offset 0 and 1, set_alpha_to_one true and false, ε- and
/// v-prediction, linear and scaled_linear betas. Each run recorded diffusers' model output and
/// `prev_sample` at every network evaluation around a fake model both sides evaluate.
@Suite struct PNDMParityTests {
    struct Evaluation: Decodable { var t: Int, model_output: [Float], prev_sample: [Float] }
    struct Config: Decodable {
        var beta_schedule: String, beta_start: Double, beta_end: Double, num_train_timesteps: Int
        var skip_prk_steps: Bool, set_alpha_to_one: Bool, prediction_type: String
        var timestep_spacing: String, steps_offset: Int
    }
    struct Run: Decodable {
        var name: String, steps: Int, config: Config, timesteps: [Int], nfe: Int
        var batch: Int, sample_shape: [Int], x_T: [Float], evaluations: [Evaluation], final_sample: [Float]
    }
    struct File: Decodable { var runs: [Run] }

    static func runs() throws -> [Run] { try Fixtures.json(File.self, "schedulers/pndm.json").runs }

    /// The fixture's fake model, out = 0.9·x·√((t + 1)/1000) + 0.1·sin(3x + t/100) in Float64 from
    /// the Float32 sample, rounded to Float32 (tools/make_pndm_goldens.py `fake_model`).
    struct FakeModel: Denoiser {
        let sampleShape: [Int]
        let predictionType: PredictionType
        func predict(_ x: [Float], batch: Int, timestep t: Double) throws -> [Float] {
            x.map { v in
                let x = Double(v)
                return Float(0.9 * x * ((t + 1) / 1000).squareRoot() + 0.1 * sin(3 * x + t / 100))
            }
        }
    }

    static func schedule(_ config: Config, float32Tables: Bool) throws -> NoiseSchedule {
        let kind: BetaSchedule = config.beta_schedule == "scaled_linear"
            ? .scaledLinear(start: config.beta_start, end: config.beta_end)
            : .linear(start: config.beta_start, end: config.beta_end)
        return float32Tables ? try NoiseSchedule.diffusersFloat32(kind, trainSteps: config.num_train_timesteps)
                             : try NoiseSchedule(kind, trainSteps: config.num_train_timesteps)
    }

    /// The sampler the run's scheduler config asks for, through the spec grammar as the CLI builds it.
    static func sampler(for run: Run, schedule: NoiseSchedule) throws -> Sampler {
        let spec = try SamplerSpec(parsing: run.config.skip_prk_steps ? "pndm" : "pndm:skip-prk=false")
        var defaults = SamplerOptions()
        defaults.ddimFinalAlphaBar = run.config.set_alpha_to_one ? nil : schedule.alphaBar(0)
        let spacing: Spacing = run.config.timestep_spacing == "trailing" ? .trailing : .leading(offset: run.config.steps_offset)
        return try spec.makeSampler(steps: run.steps, schedule: schedule, defaults: defaults,
                                    predictionType: PredictionType(rawValue: run.config.prediction_type) ?? .epsilon,
                                    defaultSpacing: spacing)
    }

    @Test func planVisitsDiffusersTimestepsWithHonestNFE() throws {
        for run in try Self.runs() {
            let schedule = try Self.schedule(run.config, float32Tables: false)
            let sampler = try Self.sampler(for: run, schedule: schedule)
            #expect(sampler.steps.map { Int($0.time) } == run.timesteps, "\(run.name): evaluation times")
            #expect(sampler.steps.count == run.nfe, "\(run.name): NFE \(sampler.steps.count), diffusers \(run.nfe)")
            let expected = run.config.skip_prk_steps ? (run.steps == 1 ? 1 : run.steps + 1) : run.steps + 9
            #expect(run.nfe == expected, "\(run.name): diffusers' NFE")
        }
    }

    /// One evaluation at a time from diffusers' own sample and model output; the history (earlier
    /// outputs, the warm-up's start sample) holds diffusers' values too.
    @Test(arguments: [false, true])
    func everyStepMatches(float32Tables: Bool) throws {
        var report: [String] = []
        for run in try Self.runs() {
            let schedule = try Self.schedule(run.config, float32Tables: float32Tables)
            let sampler = try Self.sampler(for: run, schedule: schedule)
            let prediction = PredictionType(rawValue: run.config.prediction_type) ?? .epsilon
            var history = StepHistory()
            var worst = 0.0
            for (k, evaluation) in run.evaluations.enumerated() {
                var x = k == 0 ? run.x_T : run.evaluations[k - 1].prev_sample
                _ = try sampler.apply(sampler.steps[k], to: &x, modelOutput: evaluation.model_output, predictionType: prediction,
                                      sampleCount: x.count / run.batch, history: &history)
                let error = relativeL2(x, evaluation.prev_sample)
                worst = max(worst, error)
                // What differs is diffusers' float32 arithmetic (tables, the combination, formula (9)) and,
                // with Float64 tables, ᾱ itself (≤ 3.6e-7 relative): measured ≤ 4.5e-7 per step.
                #expect(error <= 1e-6, "\(run.name) evaluation \(k) (t=\(evaluation.t)): rel L2 \(error)")
            }
            report.append("\(run.name): worst step rel L2 \(worst)")
        }
        print((float32Tables ? "float32 tables\n" : "Float64 tables\n") + report.joined(separator: "\n"))
    }

    /// Whole runs from x_T through `Denoising` (the history kept by the loop itself), the fake model
    /// evaluated by skipstep.
    @Test(arguments: [false, true])
    func wholeRunsMatch(float32Tables: Bool) throws {
        var report: [String] = []
        for run in try Self.runs() {
            let schedule = try Self.schedule(run.config, float32Tables: float32Tables)
            let sampler = try Self.sampler(for: run, schedule: schedule)
            let model = FakeModel(sampleShape: run.sample_shape,
                                  predictionType: PredictionType(rawValue: run.config.prediction_type) ?? .epsilon)
            let generators = (0..<run.batch).map { RandomKind.torch.makeSource(seed: UInt64($0)) }
            var denoising = try Denoising(sampler: sampler, denoiser: model, generators: generators, initialNoise: run.x_T)
            var k = 0, worst = 0.0
            while let step = try denoising.advance() {
                let error = relativeL2(step.x, run.evaluations[k].prev_sample)
                worst = max(worst, error)
                // The loop's own fake-model outputs and history; measured ≤ 6e-7 over every run.
                #expect(error <= 2e-6, "\(run.name) evaluation \(k): rel L2 \(error)")
                k += 1
            }
            #expect(k == run.nfe)
            let final = relativeL2(denoising.x, run.final_sample)
            #expect(final <= 2e-6, "\(run.name) final: rel L2 \(final)")
            report.append("\(run.name) (\(run.nfe) evaluations): worst rel L2 \(worst), final \(final)")
        }
        print((float32Tables ? "float32 tables\n" : "Float64 tables\n") + report.joined(separator: "\n"))
    }
}
