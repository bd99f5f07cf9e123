import Foundation
import ArgumentParser
import Diffusion

/// The sampler choices offered on the command line.
enum SamplerName: String, CaseIterable, ExpressibleByArgument {
    case ddpm, ddpmNaive = "ddpm-naive", skip, ddim, mix, dpmpp2m = "dpmpp-2m"

    static let help = """
        ddpm: ancestral sampling on the respaced schedule (the full chain when steps = T); \
        ddpm-naive: one-step DDPM coefficients at strided steps (a known-bad baseline); \
        skip: skipped-step (the paper's Algorithm 2); ddim: DDIM(eta); \
        mix: skip while t ≥ t_c, then DDIM; dpmpp-2m: DPM-Solver++(2M) as diffusers.
        """
}

extension Spacing: ExpressibleByArgument {
    public init?(argument: String) {
        guard !argument.hasPrefix("leading+") else { return nil }  // the offset is --steps-offset
        self.init(parsing: argument)
    }

    public static var allValueStrings: [String] {
        ["uniform", "ddim", "leading", "trailing", "linspace", "dpm-linspace", "list:I,J,…"]
    }
}

extension VarianceType: ExpressibleByArgument {}

/// Options shared by every command that builds a sampler.
struct SamplerArguments: ParsableArguments {
    @Option(help: ArgumentHelp("The sampler.", discussion: SamplerName.help))
    var sampler: SamplerName = .skip

    @Option(help: "Number of network evaluations (sampling steps), 1…T.")
    var steps: Int = 25

    @Option(help: ArgumentHelp(
        "Which timesteps to visit.",
        discussion: """
            uniform: guided-diffusion's space_timesteps(T, "N"); ddim: guided-diffusion's "ddimN" \
            (an integer stride); leading, trailing, linspace: diffusers' timestep_spacing; \
            dpm-linspace: DPMSolverMultistepScheduler's default; list:I,J,…: explicit model indices.
            """, valueName: "spacing"))
    var spacing: Spacing = .uniform

    @Option(help: "diffusers' steps_offset, added to leading timesteps.")
    var stepsOffset: Int = 0

    @Option(help: "Mix only: the model index t_c; steps starting at t ≥ t_c use skipped-step.")
    var cutoff: Int?

    @Option(help: "Mix only: the number k_c of leading skipped-step steps (instead of --cutoff).")
    var skipSteps: Int?

    @Option(help: "DDIM only: eta (0 = deterministic, 1 = the DDPM posterior variance).")
    var eta: Double = 0

    @Option(help: "Variance of ddpm steps: fixed_small, fixed_large or learned_range (default: the model's).")
    var variance: VarianceType?

    @Option(help: "Clip the predicted x0 to [-R, R] (diffusers clip_sample); off unless the model's scheduler config asks for it.")
    var clipSample: Double?

    @Flag(help: "Do not clip the predicted x0, even if the model's scheduler config asks for it (the paper's Algorithm 2 does not clip).")
    var noClipSample = false

    @Flag(help: "Dynamic thresholding of the predicted x0 (ratio 0.995, max 1).")
    var thresholding = false

    func validate() throws {
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1, got \(steps)") }
        guard eta >= 0, eta.isFinite else { throw ValidationError("--eta must be ≥ 0, got \(eta)") }
        if eta != 0, sampler != .ddim { throw ValidationError("--eta applies to --sampler ddim only") }
        if cutoff != nil || skipSteps != nil {
            guard sampler == .mix else { throw ValidationError("--cutoff and --skip-steps apply to --sampler mix only") }
            guard (cutoff == nil) != (skipSteps == nil) else {
                throw ValidationError("give either --cutoff or --skip-steps, not both")
            }
        } else if sampler == .mix {
            throw ValidationError("--sampler mix needs --cutoff T_C (a model index) or --skip-steps K_C")
        }
        if let cutoff, cutoff < 0 { throw ValidationError("--cutoff must be a model index ≥ 0, got \(cutoff)") }
        if let skipSteps, case .list = spacing, skipSteps < 0 {
            throw ValidationError("--skip-steps must be ≥ 0, got \(skipSteps)")
        } else if let skipSteps, !(0...steps).contains(skipSteps) {
            throw ValidationError("--skip-steps must be in 0…\(steps) (the number of steps), got \(skipSteps)")
        }
        if let clipSample, !(clipSample > 0) { throw ValidationError("--clip-sample must be > 0") }
        if clipSample != nil, noClipSample { throw ValidationError("give either --clip-sample or --no-clip-sample") }
        if stepsOffset < 0 { throw ValidationError("--steps-offset must be ≥ 0") }
    }

    var kind: SamplerKind {
        switch sampler {
        case .ddpm: .ddpm
        case .ddpmNaive: .ddpmNaive
        case .skip: .skip
        case .ddim: .ddim(eta: eta)
        case .mix: .mix(cutoff.map { .timestep($0) } ?? .skipSteps(skipSteps ?? 0))
        case .dpmpp2m: .dpmSolverPP2M
        }
    }

    /// Builds the sampler for a schedule; `defaults` are the model's own options.
    func makeSampler(schedule: NoiseSchedule, defaults: SamplerOptions = SamplerOptions()) throws -> Sampler {
        var spacing = spacing
        if case .leading = spacing { spacing = .leading(offset: stepsOffset) }
        let timesteps = try spacing.timesteps(trainSteps: schedule.trainSteps, steps: steps)
        var options = defaults
        if let variance { options.varianceType = variance }
        if let clipSample { options.clipSampleRange = clipSample }
        if noClipSample { options.clipSampleRange = nil }
        if thresholding { options.thresholding = Thresholding() }
        do {
            return try Sampler(kind, schedule: schedule, timesteps: timesteps, options: options)
        } catch let error as SamplerError {
            // Name the flag the user typed.
            switch error {
            case .invalidCutoff: throw ValidationError("--cutoff: \(error.localizedDescription)")
            case .invalidSkipSteps: throw ValidationError("--skip-steps: \(error.localizedDescription)")
            default: throw error
            }
        }
    }
}
