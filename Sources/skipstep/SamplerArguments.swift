import ArgumentParser
import Diffusion
import Foundation
import Sweep

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

/// `--cutoff`: a model index, or `auto` (the cutoff `skipstep tune` stored for the model and step count).
enum CutoffArgument: ExpressibleByArgument, Equatable {
    case index(Int), auto
    init?(argument: String) {
        if argument == "auto" { self = .auto } else if let value = Int(argument) { self = .index(value) } else { return nil }
    }
}

/// Options shared by every command that builds a sampler: a `SamplerSpec` (`--sampler`) and the
/// shorthand flags that add one key each to it.
struct SamplerArguments: ParsableArguments {
    static let samplerHelp = SamplerKind.Name.allCases.map { "\($0.rawValue): \($0.help)" }.joined(separator: "; ")
        + ". Keys: eta, eta-below, eta-cutoff (ddim), cutoff or skip-steps (mix), skip-prk (pndm: true or false), spacing, variance, clip (R or none), thresholding (ratio), "
        + "thresholding-max, prediction; a value holding ':' or ',' goes in brackets, e.g. "
        + "mix:cutoff=291:spacing=[list:999,500,1]. Each flag below adds its key to the spec."

    @Option(help: ArgumentHelp("The sampler: KIND[:KEY=VALUE]..., e.g. skip, ddim:eta=0.5, mix:cutoff=291 "
                               + "(default: skip; txt2img: the pipeline's own scheduler).",
                               discussion: samplerHelp, valueName: "spec"))
    var sampler: String?

    /// The sampler of commands whose default does not depend on the model.
    static let defaultSampler = SamplerKind.Name.skip.rawValue

    @Option(parsing: .unconditional, help: ArgumentHelp(
        "Number of sampling steps, 1…T: network evaluations for most samplers (ignored by list and section spacings; restart's NFE budget; pndm evaluates steps + 1 times).",
        discussion: "Default 25, or the step count of --sampler-from."))
    var steps: Int?

    @Option(help: ArgumentHelp(
        "Use the sampler `skipstep tune` chose: DIR/tuned.json (its full spec and step count; other flags may add keys).",
        valueName: "tuned.json"))
    var samplerFrom: String?

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

    @Option(parsing: .unconditional, help: ArgumentHelp(
        "Mix only: the model index t_c; steps starting at t ≥ t_c use skipped-step (the spec's cutoff key); or auto: the "
            + "choice of `skipstep tune --family cutoff` for this model and step count, from where tune stores it by default.",
        valueName: "t_c|auto"))
    var cutoff: CutoffArgument?

    /// The step count: --steps, else the tuned file's, else 25.
    func stepCount(_ tuned: TunedChoice? = nil) -> Int { steps ?? tuned?.steps ?? 25 }

    var cutoffIndex: Int? { if case .index(let i) = cutoff { i } else { nil } }

    /// The tuned choice the flags ask for: --sampler-from's file, or for --cutoff auto the cutoff family's
    /// tuned.json of `model` at the step count under `cache` (nil when neither is given).
    func tunedChoice(model: String?, cache: URL) throws -> TunedChoice? {
        if let samplerFrom {
            if cutoff == .auto { throw ValidationError("give either --sampler-from or --cutoff auto") }
            let choice = try readTuned(URL(fileURLWithPath: samplerFrom), flag: "--sampler-from")
            if let steps, steps != choice.steps {
                throw ValidationError("--sampler-from \(samplerFrom) was tuned at \(choice.steps) steps, not --steps \(steps)")
            }
            return choice
        }
        guard cutoff == .auto else { return nil }
        guard let model else { throw ValidationError("--cutoff auto needs the model (its tuned file is per model and step count)") }
        let url = Tuner.defaultDirectory(cache: cache, model: model, steps: stepCount(), family: .cutoff).appendingPathComponent("tuned.json")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ValidationError("--cutoff auto: no tuned cutoff for \(model) at \(stepCount()) steps (\(url.path) does not exist); run "
                                  + "`skipstep tune --model \(model) --steps \(stepCount()) --family cutoff` first")
        }
        let choice = try readTuned(url, flag: "--cutoff auto")
        guard (try? SamplerSpec(parsing: choice.spec))?.kind.name == .mix else {
            throw ValidationError("--cutoff auto: \(url.path) holds \(choice.spec), not a Mix cutoff")
        }
        return choice
    }

    private func readTuned(_ url: URL, flag: String) throws -> TunedChoice {
        do { return try TunedChoice.read(from: url) } catch { throw ValidationError("\(flag): \(error.localizedDescription)") }
    }

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
        case .etaBelow, .etaCutoff, .skipPRK: "--sampler"
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
        if let cutoffIndex { out.append((.cutoff, "\(cutoffIndex)")) }
        if let skipSteps { out.append((.skipSteps, "\(skipSteps)")) }
        if let spacing { out.append((.spacing, "[\(spacing)]")) }
        if let variance { out.append((.variance, variance.rawValue)) }
        if let clipSample { out.append((.clip, "\(clipSample)")) }
        if noClipSample { out.append((.clip, "none")) }
        if thresholding { out.append((.thresholding, "0.995")) }
        if let prediction { out.append((.prediction, prediction.rawValue)) }
        return out
    }

    /// `--sampler` (or the tuned choice's spec, or `fallback` when neither is given) with every
    /// shorthand flag added as its key.
    func spec(fallback: String = defaultSampler, tuned: TunedChoice? = nil) throws -> SamplerSpec {
        let sampler = self.sampler ?? fallback
        if let tuned {
            // --cutoff auto goes with --sampler mix (or no --sampler); --sampler-from with no --sampler.
            let allowed: Set<String> = cutoff == .auto ? [SamplerKind.Name.skip.rawValue, SamplerKind.Name.mix.rawValue]
                : [SamplerKind.Name.skip.rawValue]
            if !allowed.contains(sampler) {
                throw ValidationError("--sampler \(sampler): the sampler comes from the tuned file (\(tuned.spec)); drop --sampler")
            }
            do {
                return try Self.adding(shorthands, to: SamplerSpec(parsing: tuned.spec), stepsOffset: stepsOffset)
            } catch let error as SamplerSpecError {
                throw ValidationError("tuned spec \(tuned.spec): \(error.localizedDescription)")
            }
        }
        let base: SamplerSpec
        do {
            base = try SamplerSpec(parsing: sampler)
        } catch SamplerSpecError.mixNeedsCutoff where cutoffIndex != nil || skipSteps != nil {
            // `--sampler mix --cutoff 291`: the cutoff comes from the flag.
            do {
                base = try SamplerSpec(parsing: sampler + (cutoffIndex.map { ":cutoff=\($0)" } ?? ":skip-steps=\(skipSteps ?? 0)"))
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
        if let steps, steps < 1 { throw ValidationError("--steps must be at least 1, got \(steps)") }
        // A tuned spec is read when the command runs.
        // Without --sampler, the shorthands are checked when the model's default sampler is known.
        if samplerFrom == nil && cutoff != .auto && (sampler != nil || shorthands.isEmpty) { _ = try spec() }
    }

    /// The spec checked against `model` and bound to it; errors name the flag.
    /// - Parameters:
    ///   - fallback: the spec when neither `--sampler` nor a tuned file gives one.
    ///   - defaultSpacing: the spacing when the spec sets none.
    func makeSampler(_ model: LoadedModel, fallback: String = defaultSampler, defaultSpacing: Spacing = .uniform,
                     tuned: TunedChoice? = nil) throws -> Sampler {
        try namingFlags {
            try model.makeSampler(spec(fallback: fallback, tuned: tuned), steps: stepCount(tuned), defaultSpacing: defaultSpacing)
        }
    }

    /// The spec bound to a bare schedule (no model: ε-prediction, the paper's defaults).
    func makeSampler(schedule: NoiseSchedule, tuned: TunedChoice? = nil) throws -> Sampler {
        try namingFlags { try spec(tuned: tuned).makeSampler(steps: stepCount(tuned), schedule: schedule) }
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

extension Sampler {
    /// "25 steps", or "25 steps, 26 network evaluations" where the two differ (PNDM, Restart).
    var describedSteps: String {
        stepCount == steps.count ? "\(stepCount) steps" : "\(stepCount) steps, \(steps.count) network evaluations"
    }
}
