import ArgumentParser
import Diffusion
import Foundation

extension VarianceType: ExpressibleByArgument {}
extension PredictionType: ExpressibleByArgument {}
extension RandomKind: ExpressibleByArgument {}

/// An error found after the arguments were parsed (a file, a model, a computation): printed
/// without the usage line that `ValidationError` adds.
struct RunError: LocalizedError {
    var message: String
    init(_ message: String) { self.message = message }
    var errorDescription: String? { message }
}

/// Options shared by every command that builds a sampler: a `SamplerSpec` (`--sampler`) and the
/// shorthand flags that add one key each to it.
struct SamplerArguments: ParsableArguments {
    static let samplerHelp = SamplerKind.Name.allCases.map { "\($0.rawValue): \($0.help)" }.joined(separator: "; ")
        + ". Keys: eta, eta-below, eta-cutoff (ddim), cutoff or skip-steps (mix), spacing, variance, clip (R or none), thresholding (ratio), "
        + "thresholding-max, prediction; a value holding ':' or ',' goes in brackets, e.g. "
        + "mix:cutoff=291:spacing=[list:999,500,1]. Each flag below adds its key to the spec."

    @Option(help: ArgumentHelp("The sampler: KIND[:KEY=VALUE]..., e.g. skip, ddim:eta=0.5, mix:cutoff=291 "
                               + "(default: skip; txt2img: the pipeline's own scheduler).",
                               discussion: samplerHelp, valueName: "spec"))
    var sampler: String?

    /// The sampler of commands whose default does not depend on the model.
    static let defaultSampler = SamplerKind.Name.skip.rawValue

    @Option(parsing: .unconditional, help: "Number of network evaluations (sampling steps), 1…T (ignored by list and section spacings).")
    var steps: Int = 25

    @Option(help: ArgumentHelp("Which timesteps to visit (the spec's spacing key).", discussion: """
        uniform (default): guided-diffusion's space_timesteps(T, "N"); N1,N2,…: its section counts; ddim: its \
        "ddimN" (an integer stride); leading, leading+OFFSET, trailing, linspace: diffusers' timestep_spacing; \
        dpm-linspace: DPMSolverMultistepScheduler's default; quadratic: the DDIM paper's rule; karras: \
        Karras σ (ρ = 7) as diffusers' use_karras_sigmas; logsnr: uniform in log-SNR (use_lu_lambdas); \
        list:I,J,…: explicit model indices.
        """, valueName: "spacing"))
    var spacing: String?

    @Option(parsing: .unconditional, help: "diffusers' steps_offset, added to leading timesteps (the same as --spacing leading+N).")
    var stepsOffset: Int?

    @Option(parsing: .unconditional, help: "Mix only: the model index t_c; steps starting at t ≥ t_c use skipped-step (the spec's cutoff key).")
    var cutoff: Int?

    @Option(parsing: .unconditional, help: "Mix only: the number k_c of leading skipped-step steps, instead of --cutoff (the spec's skip-steps key).")
    var skipSteps: Int?

    @Option(parsing: .unconditional, help: "DDIM only: eta (0 = deterministic, 1 = the DDPM posterior variance; the spec's eta key).")
    var eta: Double?

    @Option(help: "Variance of ddpm steps: fixed_small, fixed_large or learned_range (default: the model's).")
    var variance: VarianceType?

    @Option(parsing: .unconditional, help: "Clip the predicted x0 to [-R, R] (diffusers clip_sample); off unless the model's scheduler config asks for it.")
    var clipSample: Double?

    @Flag(help: "Do not clip the predicted x0, even if the model's scheduler config asks for it (the paper's Algorithm 2 does not clip).")
    var noClipSample = false

    @Flag(help: "Dynamic thresholding of the predicted x0 (ratio 0.995, max 1).")
    var thresholding = false

    @Option(help: "Read the network's output as epsilon, sample or v_prediction (default: the model's).")
    var prediction: PredictionType?

    /// The flag each spec key comes from when given as a shorthand.
    static func flag(_ key: SamplerSpec.Key) -> String {
        switch key {
        case .eta: "--eta"
        case .etaBelow, .etaCutoff: "--sampler"
        case .cutoff: "--cutoff"
        case .skipSteps: "--skip-steps"
        case .spacing: "--spacing"
        case .variance: "--variance"
        case .clip: "--clip-sample"
        case .thresholding, .thresholdingMax: "--thresholding"
        case .prediction: "--prediction"
        case .steps: "--steps"
        }
    }

    /// The shorthand flags given, as spec keys and values.
    var shorthands: [(SamplerSpec.Key, String)] {
        var out: [(SamplerSpec.Key, String)] = []
        if let eta { out.append((.eta, "\(eta)")) }
        if let cutoff { out.append((.cutoff, "\(cutoff)")) }
        if let skipSteps { out.append((.skipSteps, "\(skipSteps)")) }
        if let spacing { out.append((.spacing, "[\(spacing)]")) }
        if let variance { out.append((.variance, variance.rawValue)) }
        if let clipSample { out.append((.clip, "\(clipSample)")) }
        if noClipSample { out.append((.clip, "none")) }
        if thresholding { out.append((.thresholding, "0.995")) }
        if let prediction { out.append((.prediction, prediction.rawValue)) }
        return out
    }

    /// `--sampler` (or `fallback` when it is not given) with every shorthand flag added as its key.
    func spec(fallback: String = defaultSampler) throws -> SamplerSpec {
        let sampler = self.sampler ?? fallback
        let base: SamplerSpec
        do {
            base = try SamplerSpec(parsing: sampler)
        } catch SamplerSpecError.mixNeedsCutoff where cutoff != nil || skipSteps != nil {
            // `--sampler mix --cutoff 291`: the cutoff comes from the flag.
            do {
                base = try SamplerSpec(parsing: sampler + (cutoff.map { ":cutoff=\($0)" } ?? ":skip-steps=\(skipSteps ?? 0)"))
            } catch let error as SamplerSpecError {
                throw ValidationError(Self.message(error, shorthands: shorthands))
            }
            return try Self.adding(shorthands.filter { $0.0 != .cutoff && $0.0 != .skipSteps }, to: base, stepsOffset: stepsOffset)
        } catch SamplerSpecError.mixNeedsCutoff {
            throw ValidationError("--sampler \(sampler) needs --cutoff T_C (a model index) or --skip-steps K_C, "
                                  + "or the cutoff in the spec: mix:cutoff=291")
        } catch {
            throw ValidationError("--sampler \(sampler): \(error.localizedDescription)")
        }
        return try Self.adding(shorthands, to: base, stepsOffset: stepsOffset)
    }

    static func adding(_ shorthands: [(SamplerSpec.Key, String)], to base: SamplerSpec, stepsOffset: Int?) throws -> SamplerSpec {
        var text = base.description
        let given = base.keys
        if let (key, _) = shorthands.first(where: { given.contains($0.0) }) {
            throw ValidationError("\(flag(key)): --sampler \(base) already sets \(key.rawValue)")
        }
        if Set(shorthands.map(\.0)).count < shorthands.count {
            throw ValidationError("give either --clip-sample or --no-clip-sample")
        }
        for (key, value) in shorthands { text += ":\(key.rawValue)=\(value)" }
        var spec: SamplerSpec
        do {
            spec = try SamplerSpec(parsing: text)
        } catch let error as SamplerSpecError {
            throw ValidationError(message(error, shorthands: shorthands))
        }
        if let stepsOffset {
            guard stepsOffset >= 0 else { throw ValidationError("--steps-offset must be ≥ 0, got \(stepsOffset)") }
            guard case .leading(let offset)? = spec.spacing, offset == 0 else {
                throw ValidationError("--steps-offset applies to --spacing leading only")
            }
            spec.spacing = .leading(offset: stepsOffset)
        }
        return spec
    }

    /// A library error, prefixed with the flag the user typed for its key.
    static func message(_ error: SamplerSpecError, shorthands: [(SamplerSpec.Key, String)]) -> String {
        guard let key = error.key else { return "--sampler: \(error.localizedDescription)" }
        let typed = shorthands.contains { $0.0 == key } || key == .steps
        return (typed ? flag(key) : "--sampler") + ": " + error.localizedDescription
    }

    func validate() throws {
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1, got \(steps)") }
        // Without --sampler, the shorthands are checked against the model's default sampler when it is known.
        if sampler != nil || shorthands.isEmpty { _ = try spec() }
    }

    /// The spec checked against `model` and bound to it; errors name the flag.
    /// - Parameters:
    ///   - fallback: the spec when `--sampler` is not given.
    ///   - defaultSpacing: the spacing when the spec sets none.
    func makeSampler(_ model: LoadedModel, fallback: String = defaultSampler, defaultSpacing: Spacing = .uniform) throws -> Sampler {
        try namingFlags { try model.makeSampler(spec(fallback: fallback), steps: steps, defaultSpacing: defaultSpacing) }
    }

    /// The spec bound to a bare schedule (no model: ε-prediction, the paper's defaults).
    func makeSampler(schedule: NoiseSchedule) throws -> Sampler {
        try namingFlags { try spec().makeSampler(steps: steps, schedule: schedule) }
    }

    private func namingFlags(_ make: () throws -> Sampler) throws -> Sampler {
        do {
            return try make()
        } catch let error as SamplerSpecError {
            throw RunError(Self.message(error, shorthands: shorthands))
        } catch let error as SamplerError {
            throw RunError("--sampler \(sampler ?? Self.defaultSampler): \(error.localizedDescription)")
        }
    }
}
