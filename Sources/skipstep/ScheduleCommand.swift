import ArgumentParser
import Diffusion
import Foundation

struct ScheduleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "Print the timesteps a sampler visits and each step's coefficients.",
        discussion: """
            Each step goes from model index s to p (−1 = clean) as
            x' = a·x + b·x̂₀ + c·ε̂ + d·x̂₀_prev + σ·z, with the coefficients in Float64. A pndm step
            evaluates the network at t and reads ε̂ from a weighted sum of network outputs o_k (the
            output of step k), starting from the x of step k (printed after the step).
            Example: skipstep schedule --steps 25 --sampler mix --cutoff 291 --json
            """)

    @OptionGroup var sampling: SamplerArguments

    @Option(name: .customLong("timesteps"), parsing: .unconditional, help: "The model's number of training steps T.")
    var trainSteps: Int = 1000

    @Option(help: "Training betas: linear (1e-4…0.02), guided-linear (scaled by 1000/T), scaled_linear, squaredcos_cap_v2, sigmoid.")
    var betaSchedule: String = "linear"

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func validate() throws {
        guard (1...NoiseSchedule.maxTrainSteps).contains(trainSteps) else {
            throw ValidationError("--timesteps must be in 1…\(NoiseSchedule.maxTrainSteps), got \(trainSteps)")
        }
    }

    func run() throws {
        let kind: BetaSchedule = betaSchedule == "guided-linear"
            ? .guidedLinear
            : try BetaSchedule(diffusersName: betaSchedule, start: 1e-4, end: 0.02, trainedBetas: nil)
        let schedule = try NoiseSchedule(kind, trainSteps: trainSteps)
        let tuned = try sampling.tunedChoice(model: nil, cache: Settings.current.cacheDirectory)
        let sampler = try sampling.makeSampler(schedule: schedule, tuned: tuned)
        if json {
            let spec = try sampling.spec(tuned: tuned)
            let report = Report(trainSteps: trainSteps, betaSchedule: betaSchedule,
                                sampler: spec.description, spacing: (spec.spacing ?? .uniform).description,
                                timesteps: sampler.timesteps,
                                steps: sampler.steps.map { Report.Step(step: $0, schedule: schedule) })
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        let spec = try sampling.spec(tuned: tuned)
        print("T = \(trainSteps) (\(betaSchedule)), \(spec), \(sampler.describedSteps), "
              + (spec.kind == .restart ? "its own Karras σ grid (NFE budget \(sampler.stepCount))" : "spacing \((spec.spacing ?? .uniform))"))
        print("step      s      p  method        ᾱ_s          a(x)          b(x̂₀)         c(ε̂)          σ")
        for step in sampler.steps {
            let c = step.coefficients
            let sigma = c.logVarianceMin != nil ? "learned" : String(format: "%.6g", c.noiseStd)
            let alphaBar = step.combination == nil ? schedule.alphaBar(atTime: step.time) : schedule.alphaBar(step.from)
            print(String(format: "%4d %6d %6d  %-10@ %12.6g %13.6g %13.6g %13.6g  %@",
                         step.index + 1, step.from, step.to, step.method.rawValue as NSString,
                         alphaBar, c.x, c.x0, c.eps, sigma as NSString)
                  + (c.previousX0 != 0 ? String(format: "  d(x̂₀_prev) %.6g", c.previousX0) : "")
                  + (step.combination.map { combination in
                      "  t = \(Int(step.time)), ε̂ from " + combination.terms.map { String(format: "%.6g·o%d", $0.weight, $0.step + 1) }
                          .joined(separator: " + ") + ", x of step \(combination.sampleOf + 1)"
                  } ?? ""))
        }
    }

    struct Report: Encodable {
        struct Step: Encodable {
            var step: PlannedStep
            var alphaBarFrom: Double
            var alphaBarTo: Double
            init(step: PlannedStep, schedule: NoiseSchedule) {
                self.step = step
                alphaBarFrom = schedule.alphaBar(atTime: step.time)
                alphaBarTo = schedule.alphaBar(step.to)
            }
            enum CodingKeys: String, CodingKey { case alphaBarFrom = "alpha_bar_from", alphaBarTo = "alpha_bar_to" }
            func encode(to encoder: Encoder) throws {
                try step.encode(to: encoder)
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(alphaBarFrom, forKey: .alphaBarFrom)
                try container.encode(alphaBarTo, forKey: .alphaBarTo)
            }
        }
        var trainSteps: Int
        var betaSchedule: String
        var sampler: String
        var spacing: String
        var timesteps: [Int]
        var steps: [Step]
        enum CodingKeys: String, CodingKey {
            case trainSteps = "train_steps", betaSchedule = "beta_schedule", sampler, spacing, timesteps, steps
        }
    }
}
