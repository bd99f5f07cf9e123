import Foundation

/// The samplers of arXiv 2508.15233 and their peers (docs/ARCHITECTURE.md, "Samplers"). The only
/// place their names are spelled: the spec grammar, the CLI help and the reports all come from here.
public enum SamplerKind: Sendable, Hashable {
    /// Ancestral sampling on the respaced schedule with the model's variance type: the posterior
    /// q(x_p | x_s, x̂₀) (guided-diffusion respacing, diffusers DDPMScheduler). On all T indices it
    /// is the paper's Algorithm 1.
    case ddpm
    /// Algorithm 1's one-step coefficients used at strided indices (the paper's Remark 3). Poor.
    case ddpmNaive
    /// Skipped-step sampling, the paper's Algorithm 2.
    case skip
    /// DDIM(η) (Song et al. 2021).
    case ddim(eta: Double)
    /// DDIM whose η is a step function of the step's start s: `above` for s ≥ `cutoff`, `below` under
    /// it. Mix(t_c) is `above` 1, `below` 0, `cutoff` t_c (skipped-step is DDIM(η = 1)).
    case ddimEtaStep(above: Double, below: Double, cutoff: Int)
    /// Skipped-step while the step starts at s ≥ t_c, DDIM(η = 0) below (the paper's §2.3).
    case mix(MixCutoff)
    /// DPM-Solver++(2M), as diffusers' DPMSolverMultistepScheduler (dpmsolver++, solver_order 2,
    /// final_sigmas_type "zero": the first and last steps are first order).
    case dpmSolverPP2M
    /// SDE-DPM-Solver++(2M), as diffusers' DPMSolverMultistepScheduler (sde-dpmsolver++, solver_order 2,
    /// final_sigmas_type "zero": the first and last steps are first order). Draws noise every step.
    case sdeDPMSolverPP2M
    /// Euler ancestral in σ (k-diffusion `sample_euler_ancestral`, diffusers
    /// EulerAncestralDiscreteScheduler), at fractional times for linspace, karras and logsnr spacing.
    case eulerAncestral
    /// Restart sampling (Xu et al. 2023) with its published CIFAR-10 VP configuration; the number of
    /// steps is its NFE budget (`Restart`).
    case restart
    /// PNDM / PLMS as diffusers' PNDMScheduler (`PNDM`): with `skipPRK` (diffusers `skip_prk_steps`,
    /// Stable Diffusion's setting) N + 1 network evaluations for N steps, else a Runge–Kutta warm-up
    /// and N + 9.
    case pndm(skipPRK: Bool)

    /// The kinds' names in the spec grammar, in the order the CLI lists them.
    public enum Name: String, Sendable, CaseIterable, Codable {
        case ddpm, ddpmNaive = "ddpm-naive", skip, ddim, mix, dpmSolverPP2M = "dpmpp-2m"
        case sdeDPMSolverPP2M = "dpmpp-2m-sde"
        case eulerAncestral = "euler-ancestral", restart, pndm

        /// One line per kind for `--help`.
        public var help: String {
            switch self {
            case .ddpm: "ancestral sampling on the respaced schedule (the full chain when steps = T)"
            case .ddpmNaive: "one-step DDPM coefficients at strided steps (a known-bad baseline)"
            case .skip: "skipped-step, the paper's Algorithm 2"
            case .ddim: "DDIM(eta); eta=0 is deterministic; eta-cutoff=T_C with eta-below=E makes eta E below T_C"
            case .mix: "skipped-step while t ≥ cutoff (or for the first skip-steps steps), then DDIM"
            case .dpmSolverPP2M: "DPM-Solver++(2M) as diffusers' DPMSolverMultistepScheduler"
            case .sdeDPMSolverPP2M: "SDE-DPM-Solver++(2M) as diffusers' DPMSolverMultistepScheduler (sde-dpmsolver++)"
            case .eulerAncestral: "Euler ancestral (k-diffusion sample_euler_ancestral; fractional t for linspace, karras, logsnr)"
            case .restart: "Restart (Xu et al. 2023, CIFAR-10 VP config: Heun on Karras σ, K=2 restarts in [0.06, 0.30]); steps = NFE budget"
            case .pndm: "PNDM/PLMS as diffusers' PNDMScheduler (NFE = steps + 1); skip-prk=false adds its Runge–Kutta warm-up (NFE = steps + 9)"
            }
        }

        /// The name in the paper's tables.
        public var displayName: String {
            switch self {
            case .ddpm: "DDPM"
            case .ddpmNaive: "DDPM (naive stride)"
            case .skip: "Skipped-step"
            case .ddim: "DDIM"
            case .mix: "Mix"
            case .dpmSolverPP2M: "DPM-Solver++(2M)"
            case .sdeDPMSolverPP2M: "SDE-DPM-Solver++(2M)"
            case .eulerAncestral: "Euler ancestral"
            case .restart: "Restart"
            case .pndm: "PNDM"
            }
        }
    }

    /// The kind's name in specs and on the command line.
    public var name: Name {
        switch self {
        case .ddpm: .ddpm
        case .ddpmNaive: .ddpmNaive
        case .skip: .skip
        case .ddim, .ddimEtaStep: .ddim
        case .mix: .mix
        case .dpmSolverPP2M: .dpmSolverPP2M
        case .sdeDPMSolverPP2M: .sdeDPMSolverPP2M
        case .eulerAncestral: .eulerAncestral
        case .restart: .restart
        case .pndm: .pndm
        }
    }

    /// Whether the kind steps in σ at model times of its own (`Sampler.init(_:schedule:times:options:)`)
    /// rather than by an update rule per index step.
    public var stepsInSigma: Bool {
        switch self {
        case .eulerAncestral, .restart: true
        default: false
        }
    }

    /// The update rule of each of `count` steps, in order (Mix composes two rules).
    /// - Parameter ddimFinalAlphaBar: ᾱ after a last DDIM step (`SamplerOptions.ddimFinalAlphaBar`).
    func rules(stepsStartingAt timesteps: [Int], ddimFinalAlphaBar: Double? = nil) -> [any UpdateRule] {
        let n = timesteps.count
        switch self {
        case .ddpm: return Array(repeating: DDPMPosterior(), count: n)
        case .ddpmNaive: return Array(repeating: NaiveStridedDDPM(), count: n)
        case .skip: return Array(repeating: SkippedStep(), count: n)
        case .ddim(let eta): return Array(repeating: DDIM(eta: eta, finalAlphaBar: ddimFinalAlphaBar), count: n)
        case let .ddimEtaStep(above, below, cutoff):
            return timesteps.map { DDIM(eta: $0 >= cutoff ? above : below, finalAlphaBar: ddimFinalAlphaBar) }
        case .mix(let cutoff):
            let skipCount = switch cutoff {
            case .timestep(let tc): timesteps.count(where: { $0 >= tc })
            case .skipSteps(let kc): kc
            }
            return (0..<n).map { $0 < skipCount ? SkippedStep() as any UpdateRule : DDIM(eta: 0, finalAlphaBar: ddimFinalAlphaBar) }
        case .dpmSolverPP2M:
            return (0..<n).map { DPMSolverPP(secondOrder: $0 > 0 && $0 < n - 1) }
        case .sdeDPMSolverPP2M:
            return (0..<n).map { SDEDPMSolverPP(secondOrder: $0 > 0 && $0 < n - 1) }
        case .eulerAncestral, .restart:
            return []  // planned in σ by Sampler.init(_:schedule:times:options:)
        case .pndm:
            return []  // planned as a whole by PNDM.plan (multistep combinations)
        }
    }
}

/// Where Mix hands over from skipped-step to DDIM.
public enum MixCutoff: Sendable, Hashable {
    /// t_c as a model index: steps starting at s ≥ t_c use skipped-step.
    case timestep(Int)
    /// k_c: the first k_c steps use skipped-step (t_c is then the start of step k_c + 1).
    case skipSteps(Int)
}

/// The update rule one planned step uses (the `method` of `schedule --json`).
public enum StepMethod: String, Sendable, Codable {
    case ddpm, ddpmNaive = "ddpm-naive", skip, ddim
    case dpmSolverPP1 = "dpmpp-1", dpmSolverPP2M = "dpmpp-2m"
    case sdeDPMSolverPP1 = "dpmpp-1-sde", sdeDPMSolverPP2M = "dpmpp-2m-sde"
    case eulerAncestral = "euler-ancestral"
    /// Restart's Euler predictor (or the last main step), and its Heun corrector.
    case restartEuler = "restart-euler", restartHeun = "restart-heun"
    /// PNDM: PLMS's first Euler step, its Heun-like second evaluation, Adams–Bashforth of order
    /// 2, 3 and 4, and the evaluations of the pseudo Runge–Kutta warm-up.
    case plmsEuler = "plms-1", plmsHeun = "plms-heun", plms2 = "plms-2", plms3 = "plms-3", plms4 = "plms-4"
    case prk
}

/// Overrides x̂₀ clipping (diffusers `clip_sample` / `clip_sample_range`).
public enum ClipSetting: Sendable, Hashable {
    /// Clamp x̂₀ to [−range, range].
    case range(Double)
    /// No clipping, whatever the model's scheduler config says.
    case off
}

/// A sampler as a value: its kind and everything that changes the samples it draws, except the
/// number of steps, the seeds and the model. Written and read in one grammar,
///
///     KIND[:KEY=VALUE]...        skip, ddim:eta=0.5, mix:cutoff=291, mix:cutoff=600:spacing=trailing
///
/// with keys `eta`, `eta-below` and `eta-cutoff` (ddim: η is `eta` on steps starting at s ≥ `eta-cutoff`,
/// `eta-below` under it), `cutoff` and `skip-steps` (mix), `skip-prk` (pndm: `true`, the default, as
/// Stable Diffusion's PNDMScheduler configs; `false` runs the Runge–Kutta warm-up), `spacing` (any `Spacing` text; one
/// holding `:` or `,` goes in brackets: `spacing=[list:999,500,1]`), `variance` (fixed_small,
/// fixed_large, learned_range), `clip` (a range R > 0, or `none`), `thresholding` (the quantile
/// ratio, e.g. 0.995), `thresholding-max` (default 1) and `prediction` (epsilon, sample,
/// v_prediction: how to read the network's output). Specs list with commas (`ddim:eta=0.5,mix:cutoff=600`),
/// need no shell quoting, and print back in a canonical key order.
/// A key left out means the model's own setting (spacing: the caller's default).
public struct SamplerSpec: Sendable, Hashable, CustomStringConvertible, LosslessStringConvertible, Codable {
    /// The sampler and its own parameters (η, cutoff).
    public var kind: SamplerKind
    /// The timestep spacing; nil: the caller's default (the model's scheduler config).
    public var spacing: Spacing?
    /// The variance of ancestral steps; nil: the model's.
    public var variance: VarianceType?
    /// Clipping of x̂₀; nil: the model's.
    public var clip: ClipSetting?
    /// Dynamic thresholding of x̂₀; nil: the model's.
    public var thresholding: Thresholding?
    /// How to read the network's output; nil: the model's prediction type.
    public var prediction: PredictionType?

    /// A spec from its parts; keys left nil take the model's settings.
    public init(_ kind: SamplerKind, spacing: Spacing? = nil, variance: VarianceType? = nil, clip: ClipSetting? = nil,
                thresholding: Thresholding? = nil, prediction: PredictionType? = nil) {
        self.kind = kind
        self.spacing = spacing
        self.variance = variance
        self.clip = clip
        self.thresholding = thresholding
        self.prediction = prediction
    }

    /// The grammar's keys.
    public enum Key: String, Sendable, CaseIterable {
        case eta, etaBelow = "eta-below", etaCutoff = "eta-cutoff", cutoff, skipSteps = "skip-steps", skipPRK = "skip-prk"
        case spacing, variance, clip, thresholding, thresholdingMax = "thresholding-max", prediction
        /// Not a key of the grammar: the number of steps, given beside the spec.
        case steps

        /// The one kind the key applies to, if it is particular to one.
        public var kind: SamplerKind.Name? {
            switch self {
            case .eta, .etaBelow, .etaCutoff: .ddim
            case .cutoff, .skipSteps: .mix
            case .skipPRK: .pndm
            default: nil
            }
        }
    }

    // MARK: - Grammar

    /// Parses `KIND[:KEY=VALUE]...`.
    public init(parsing text: String) throws {
        let parts = try Self.split(text, on: ":")
        guard let head = parts.first, let name = SamplerKind.Name(rawValue: head) else {
            throw SamplerSpecError.unknownKind(text.split(separator: ":").first.map(String.init) ?? text)
        }
        var values: [Key: String] = [:]
        for part in parts.dropFirst() {
            guard let equals = part.firstIndex(of: "="), let key = Key(rawValue: String(part[..<equals])), key != .steps else {
                throw SamplerSpecError.malformed(text, "'\(part)' is not KEY=VALUE with KEY one of "
                                                 + Key.allCases.filter { $0 != .steps }.map(\.rawValue).joined(separator: ", "))
            }
            guard values[key] == nil else { throw SamplerSpecError.malformed(text, "\(key.rawValue) is given twice") }
            var value = String(part[part.index(after: equals)...])
            if value.hasPrefix("[") && value.hasSuffix("]") { value = String(value.dropFirst().dropLast()) }
            values[key] = value
        }
        func number(_ key: Key) throws -> Double? {
            guard let text = values[key] else { return nil }
            guard let value = Double(text) else { throw SamplerSpecError.invalidValue(key, text, expected: "a number") }
            return value
        }
        func integer(_ key: Key) throws -> Int? {
            guard let text = values[key] else { return nil }
            guard let value = Int(text) else { throw SamplerSpecError.invalidValue(key, text, expected: "an integer") }
            return value
        }
        func only(_ keys: [Key], for kind: SamplerKind.Name) throws {
            if name != kind, let key = keys.first(where: { values[$0] != nil }) {
                throw SamplerSpecError.keyNotApplicable(key, kind: name)
            }
        }
        try only([.eta, .etaBelow, .etaCutoff], for: .ddim)
        try only([.cutoff, .skipSteps], for: .mix)
        try only([.skipPRK], for: .pndm)
        switch name {
        case .ddpm: kind = .ddpm
        case .ddpmNaive: kind = .ddpmNaive
        case .skip: kind = .skip
        case .ddim:
            switch (try number(.eta) ?? 0, try number(.etaBelow), try integer(.etaCutoff)) {
            case let (eta, below, cutoff?): kind = .ddimEtaStep(above: eta, below: below ?? 0, cutoff: cutoff)
            case (let eta, nil, nil): kind = .ddim(eta: eta)
            case (_, _?, nil): throw SamplerSpecError.malformed(text, "eta-below needs eta-cutoff (the model index where η changes)")
            }
        case .dpmSolverPP2M: kind = .dpmSolverPP2M
        case .sdeDPMSolverPP2M: kind = .sdeDPMSolverPP2M
        case .eulerAncestral: kind = .eulerAncestral
        case .restart: kind = .restart
        case .pndm:
            switch values[.skipPRK] {
            case nil, "true": kind = .pndm(skipPRK: true)
            case "false": kind = .pndm(skipPRK: false)
            case let other?: throw SamplerSpecError.invalidValue(.skipPRK, other, expected: "true or false")
            }
        case .mix:
            switch (try integer(.cutoff), try integer(.skipSteps)) {
            case (let tc?, nil): kind = .mix(.timestep(tc))
            case (nil, let kc?): kind = .mix(.skipSteps(kc))
            case (nil, nil): throw SamplerSpecError.mixNeedsCutoff
            case (_?, _?): throw SamplerSpecError.malformed(text, "give either cutoff or skip-steps, not both")
            }
        }
        spacing = try values[.spacing].map { text in
            guard let spacing = Spacing(parsing: text) else {
                throw SamplerSpecError.invalidValue(.spacing, text, expected: Spacing.grammar)
            }
            return spacing
        }
        variance = try values[.variance].map { text in
            guard let variance = VarianceType(rawValue: text) else {
                throw SamplerSpecError.invalidValue(.variance, text, expected: VarianceType.allCases.map(\.rawValue).joined(separator: ", "))
            }
            return variance
        }
        prediction = try values[.prediction].map { text in
            guard let prediction = PredictionType(rawValue: text) else {
                throw SamplerSpecError.invalidValue(.prediction, text, expected: PredictionType.allCases.map(\.rawValue).joined(separator: ", "))
            }
            return prediction
        }
        if values[.clip] == "none" { clip = .off } else { clip = try number(.clip).map(ClipSetting.range) }
        if let ratio = try number(.thresholding) {
            thresholding = Thresholding(ratio: ratio, maxValue: try number(.thresholdingMax) ?? 1)
        } else if values[.thresholdingMax] != nil {
            throw SamplerSpecError.malformed(text, "thresholding-max needs thresholding=RATIO")
        }
        try checkValues()
    }

    /// The spec `description` parses to, or nil (``init(parsing:)`` says why).
    public init?(_ description: String) { try? self.init(parsing: description) }

    /// Parses a comma-separated list of specs (commas inside brackets belong to a value).
    public static func list(parsing text: String) throws -> [SamplerSpec] {
        try splitList(text).map { try SamplerSpec(parsing: $0) }
    }

    /// The spec texts of a comma-separated list, unparsed.
    public static func splitList(_ text: String) throws -> [String] {
        try split(text, on: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// The canonical text: the kind, then the keys that differ from their defaults in `Key` order.
    public var description: String { text(omittingCutoff: false) }

    /// The canonical text, without Mix's `cutoff` when `omittingCutoff` (a sweep keeps it apart).
    public func text(omittingCutoff: Bool) -> String {
        var parts = [kind.name.rawValue]
        switch kind {
        case .ddim(let eta) where eta != 0: parts.append("eta=\(Self.format(eta))")
        case let .ddimEtaStep(above, below, cutoff):
            if above != 0 { parts.append("eta=\(Self.format(above))") }
            if below != 0 { parts.append("eta-below=\(Self.format(below))") }
            parts.append("eta-cutoff=\(cutoff)")
        case .mix(.timestep(let tc)) where !omittingCutoff: parts.append("cutoff=\(tc)")
        case .mix(.skipSteps(let kc)): parts.append("skip-steps=\(kc)")
        case .pndm(skipPRK: false): parts.append("skip-prk=false")
        default: break
        }
        if let spacing {
            let text = spacing.description
            parts.append("spacing=" + (text.contains(":") || text.contains(",") ? "[\(text)]" : text))
        }
        if let variance { parts.append("variance=\(variance.rawValue)") }
        switch clip {
        case .range(let r): parts.append("clip=\(Self.format(r))")
        case .off: parts.append("clip=none")
        case nil: break
        }
        if let thresholding {
            parts.append("thresholding=\(Self.format(thresholding.ratio))")
            if thresholding.maxValue != 1 { parts.append("thresholding-max=\(Self.format(thresholding.maxValue))") }
        }
        if let prediction { parts.append("prediction=\(prediction.rawValue)") }
        return parts.joined(separator: ":")
    }

    /// The keys this spec sets.
    public var keys: Set<Key> {
        var keys: Set<Key> = []
        switch kind {
        case .ddim(let eta) where eta != 0: keys.insert(.eta)
        case let .ddimEtaStep(above, below, _):
            if above != 0 { keys.insert(.eta) }
            if below != 0 { keys.insert(.etaBelow) }
            keys.insert(.etaCutoff)
        case .mix(.timestep): keys.insert(.cutoff)
        case .mix(.skipSteps): keys.insert(.skipSteps)
        case .pndm(skipPRK: false): keys.insert(.skipPRK)
        default: break
        }
        if spacing != nil { keys.insert(.spacing) }
        if variance != nil { keys.insert(.variance) }
        if clip != nil { keys.insert(.clip) }
        if let thresholding {
            keys.insert(.thresholding)
            if thresholding.maxValue != 1 { keys.insert(.thresholdingMax) }
        }
        if prediction != nil { keys.insert(.prediction) }
        return keys
    }

    /// The name in tables and plots: the paper's name, then what sets this spec apart, e.g.
    /// "DDIM", "DDIM (η = 0.5)", "Mix (t_c = 291)", "Mix (k_c = 4, trailing)".
    public var displayName: String {
        var details: [String] = []
        switch kind {
        case .ddim(let eta) where eta != 0: details.append("η = \(Self.format(eta))")
        case let .ddimEtaStep(above, below, cutoff):
            details.append("η = \(Self.format(above)) for t ≥ \(cutoff), \(Self.format(below)) below")
        case .mix(.timestep(let tc)): details.append("t_c = \(tc)")
        case .mix(.skipSteps(let kc)): details.append("k_c = \(kc)")
        case .pndm(skipPRK: false): details.append("Runge–Kutta warm-up")
        default: break
        }
        if let spacing { details.append(spacing.description) }
        if let variance { details.append(variance.rawValue) }
        switch clip {
        case .range(let r): details.append("clip ±\(Self.format(r))")
        case .off: details.append("no clip")
        case nil: break
        }
        if let thresholding { details.append("thresholding \(Self.format(thresholding.ratio))") }
        if let prediction { details.append(prediction.rawValue) }
        return kind.name.displayName + (details.isEmpty ? "" : " (" + details.joined(separator: ", ") + ")")
    }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        try self.init(parsing: text)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// Splits at `separator` outside brackets.
    static func split(_ text: String, on separator: Character) throws -> [String] {
        var parts: [String] = [], current = "", depth = 0
        for c in text {
            if c == "[" { depth += 1 } else if c == "]" { depth -= 1 }
            guard depth >= 0 else { throw SamplerSpecError.malformed(text, "unbalanced brackets") }
            if c == separator && depth == 0 {
                parts.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        guard depth == 0 else { throw SamplerSpecError.malformed(text, "unbalanced brackets") }
        parts.append(current)
        if parts.contains(where: \.isEmpty) { throw SamplerSpecError.malformed(text, "an empty part") }
        return parts
    }

    /// Shortest round-trip text of a number ("0.5", "1", "0.995").
    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : "\(value)"
    }

    // MARK: - Validity

    /// The checks that need no model.
    func checkValues() throws {
        if case .ddim(let eta) = kind, !(eta >= 0 && eta.isFinite) { throw SamplerSpecError.invalidEta(eta) }
        if case let .ddimEtaStep(above, below, cutoff) = kind {
            if !(above >= 0 && above.isFinite) { throw SamplerSpecError.invalidEta(above) }
            if !(below >= 0 && below.isFinite) {
                throw SamplerSpecError.invalidValue(.etaBelow, Self.format(below), expected: "a finite number ≥ 0")
            }
            if cutoff < 0 { throw SamplerSpecError.invalidValue(.etaCutoff, "\(cutoff)", expected: "a model index ≥ 0") }
        }
        if case .mix(.timestep(let tc)) = kind, tc < 0 {
            throw SamplerSpecError.invalidValue(.cutoff, "\(tc)", expected: "a model index ≥ 0")
        }
        if case .mix(.skipSteps(let kc)) = kind, kc < 0 {
            throw SamplerSpecError.invalidValue(.skipSteps, "\(kc)", expected: "a number of steps ≥ 0")
        }
        if case .range(let r) = clip, !(r > 0 && r.isFinite) {
            throw SamplerSpecError.invalidValue(.clip, Self.format(r), expected: "a range R > 0")
        }
        if let thresholding { try thresholding.validate() }
    }

    /// The options a model's defaults become under this spec.
    public func options(over defaults: SamplerOptions) -> SamplerOptions {
        var options = defaults
        if let variance { options.varianceType = variance }
        switch clip {
        case .range(let r): options.clipSampleRange = r
        case .off: options.clipSampleRange = nil
        case nil: break
        }
        if let thresholding { options.thresholding = thresholding }
        if let prediction { options.predictionType = prediction }
        return options
    }

    /// The timesteps this spec visits in `steps` steps on `schedule`.
    public func timesteps(steps: Int, schedule: NoiseSchedule, defaultSpacing: Spacing = .uniform) throws -> [Int] {
        guard steps >= 1 else {
            throw SamplerSpecError.invalidValue(.steps, "\(steps)", expected: "at least 1 step")
        }
        do {
            return try (spacing ?? defaultSpacing).timesteps(schedule: schedule, steps: steps)
        } catch let error as ScheduleError {
            throw SamplerSpecError.schedule(spacing == nil ? .steps : .spacing, error)
        }
    }

    /// Checks the spec against a model and builds its sampler: every validity rule lives here, so
    /// `sample`, `schedule` and `sweep` refuse the same things with the same words.
    /// - Parameters:
    ///   - steps: the number of network evaluations.
    ///   - schedule: the model's noise schedule.
    ///   - defaults: the model's scheduler options (variance, clipping, thresholding), which the spec's keys override.
    ///   - predictionType: how the model's output is read (nil: as the spec says, else ε).
    ///   - learnsVariance: whether the model outputs the extra variance channels.
    ///   - defaultSpacing: the spacing when the spec names none (the model's scheduler config).
    public func makeSampler(steps: Int, schedule: NoiseSchedule, defaults: SamplerOptions = SamplerOptions(),
                            predictionType: PredictionType = .epsilon, learnsVariance: Bool = false,
                            defaultSpacing: Spacing = .uniform) throws -> Sampler {
        try checkValues()
        let options = options(over: defaults)
        if let thresholding = options.thresholding { try thresholding.validate() }
        if let r = options.clipSampleRange, !(r > 0 && r.isFinite) {
            throw SamplerSpecError.invalidValue(.clip, Self.format(r), expected: "a range R > 0 (from the model's config)")
        }
        if kind == .restart {
            if spacing != nil { throw SamplerSpecError.keyNotApplicable(.spacing, kind: .restart) }
            guard steps >= 1 else { throw SamplerSpecError.invalidValue(.steps, "\(steps)", expected: "at least 1 step") }
            return try Sampler(.restart, schedule: schedule, times: Array(repeating: 0, count: steps), options: options)
        }
        let timesteps = try timesteps(steps: steps, schedule: schedule, defaultSpacing: defaultSpacing)
        switch kind {
        case .mix(.timestep(let tc)) where tc >= schedule.trainSteps:
            throw SamplerSpecError.invalidValue(.cutoff, "\(tc)", expected: "a model index t_c in [0, \(schedule.trainSteps))")
        case .ddimEtaStep(_, _, let tc) where tc >= schedule.trainSteps:
            throw SamplerSpecError.invalidValue(.etaCutoff, "\(tc)", expected: "a model index in [0, \(schedule.trainSteps))")
        case .mix(.skipSteps(let kc)) where kc > timesteps.count:
            throw SamplerSpecError.invalidValue(.skipSteps, "\(kc)", expected: "at most the \(timesteps.count) steps")
        case .pndm(skipPRK: false) where timesteps.count < PNDM(skipPRKSteps: false).minimumSteps:
            throw SamplerSpecError.invalidValue(.steps, "\(timesteps.count)", expected: "at least 4 steps with skip-prk=false "
                                                + "(three Runge–Kutta warm-up steps and one multistep step)")
        default: break
        }
        if options.varianceType == .learnedRange, !learnsVariance {
            throw SamplerSpecError.invalidValue(.variance, VarianceType.learnedRange.rawValue,
                                                expected: "fixed_small or fixed_large: the model outputs C channels, learned_range needs 2×C")
        }
        if (prediction ?? predictionType) == .epsilon, let first = timesteps.first, schedule.alphaBar(first) == 0 {
            throw SamplerSpecError.zeroTerminalSNR(first)
        }
        if kind == .eulerAncestral {
            // Fractional times where the reference interpolates: k-diffusion's unrounded linspace, and the
            // karras / logsnr noise levels before rounding.
            let t = schedule.trainSteps
            let times: [Double] = switch spacing ?? defaultSpacing {
            case .linspace: Diffusion.linspace(0, Double(t - 1), steps).reversed()
            case .karras, .logSNR: try (spacing ?? defaultSpacing).fractionalTimesteps(schedule: schedule, steps: steps)
            default: timesteps.map(Double.init)
            }
            return try Sampler(kind, schedule: schedule, times: times, options: options)
        }
        return try Sampler(kind, schedule: schedule, timesteps: timesteps, options: options)
    }
}

extension Thresholding {
    func validate() throws {
        guard ratio > 0, ratio <= 1 else {
            throw SamplerSpecError.invalidValue(.thresholding, SamplerSpec.format(ratio), expected: "a quantile ratio in (0, 1]")
        }
        guard maxValue >= 1, maxValue.isFinite else {
            throw SamplerSpecError.invalidValue(.thresholdingMax, SamplerSpec.format(maxValue), expected: "a finite value ≥ 1")
        }
    }
}

/// Why a spec cannot be used; `key` says which part of it (the CLI names its flag).
public enum SamplerSpecError: Error, LocalizedError, Equatable {
    case unknownKind(String)
    case malformed(String, String)
    case keyNotApplicable(SamplerSpec.Key, kind: SamplerKind.Name)
    case invalidValue(SamplerSpec.Key, String, expected: String)
    case invalidEta(Double)
    case mixNeedsCutoff
    case zeroTerminalSNR(Int)
    case schedule(SamplerSpec.Key, ScheduleError)

    /// The key the error is about, when it is about one.
    public var key: SamplerSpec.Key? {
        switch self {
        case .keyNotApplicable(let key, _), .invalidValue(let key, _, _), .schedule(let key, _): key
        case .invalidEta: .eta
        case .mixNeedsCutoff: .cutoff
        case .zeroTerminalSNR: .spacing
        case .unknownKind, .malformed: nil
        }
    }

    public var errorDescription: String? {
        switch self {
        case .unknownKind(let name):
            "unknown sampler '\(name)' (expected \(SamplerKind.Name.allCases.map(\.rawValue).joined(separator: ", ")))"
        case let .malformed(text, why): "sampler '\(text)': \(why) (grammar: KIND[:KEY=VALUE]..., e.g. mix:cutoff=291)"
        case let .keyNotApplicable(key, kind):
            "\(key.rawValue) applies to \(key.kind?.rawValue ?? "other samplers") only, not \(kind.rawValue)"
        case let .invalidValue(key, value, expected): "\(key.rawValue) \(value): expected \(expected)"
        case .invalidEta(let eta): "eta must be a finite number ≥ 0, got \(eta)"
        case .mixNeedsCutoff: "mix needs a cutoff t_c (a model index, mix:cutoff=291) or skip-steps k_c (mix:skip-steps=4)"
        case .zeroTerminalSNR(let s):
            "the schedule has zero terminal SNR (ᾱ[\(s)] = 0), where an ε-prediction determines no x̂₀; start below it "
                + "(e.g. spacing leading) or use a v-prediction model"
        case let .schedule(_, error): error.localizedDescription
        }
    }
}
