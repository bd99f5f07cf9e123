import Foundation

/// Which N of the T training indices a sampler visits. Each case reproduces its source exactly;
/// `timesteps` returns them strictly decreasing (τ_1 > … > τ_N ≥ 0, ARCHITECTURE.md, Time and schedules).
public enum Spacing: Sendable, Hashable, CustomStringConvertible {
    /// guided-diffusion `space_timesteps(T, "N")`: a running sum of (T−1)/(N−1), rounded half to even.
    case uniform
    /// guided-diffusion `space_timesteps(T, "ddimN")`: `range(0, T, s)` for the smallest stride s
    /// that gives exactly N indices.
    case ddim
    /// diffusers `leading`: `arange(N)·(T // N) + steps_offset`.
    case leading(offset: Int = 0)
    /// diffusers `trailing`: `round(arange(T, 0, −T/N)) − 1`.
    case trailing
    /// diffusers `linspace`: `round(linspace(0, T − 1, N))`.
    case linspace
    /// diffusers DPMSolverMultistepScheduler's default: `round(linspace(0, T − 1, N + 1))`, the last
    /// (index 0) dropped.
    case dpmLinspace
    /// The DDIM paper's quadratic rule, as its official code (ermongroup/ddim @ 587bae79,
    /// runners/diffusion.py `sample_image`, skip_type "quad"): `int(linspace(0, √(0.8·T), N)²)`.
    case quadratic
    /// Karras et al. (2022) noise levels with ρ = 7 between σ(T−1) and σ(0), σ = √((1 − ᾱ)/ᾱ), mapped
    /// to model indices as diffusers' `use_karras_sigmas` does (`_sigma_to_t`: linear interpolation in
    /// log σ, then rounded half to even).
    case karras
    /// Uniform in log-SNR between the ends of the training schedule, mapped like `karras`
    /// (diffusers' `use_lu_lambdas`).
    case logSNR
    /// An explicit list of indices (any order; validated).
    case list([Int])
    /// guided-diffusion `space_timesteps(T, "10,15,20")`: T split into as many equal sections
    /// (the first T mod K one longer), each spaced like `uniform` with its own count; N is the sum.
    case sections([Int])
    /// guided-diffusion's `timestep_respacing` string with its own step count, equal to
    /// `space_timesteps(T, string)`: `respace:250` is `uniform` with 250 steps, `respace:ddim25`
    /// is `ddim` with 25 steps, `respace:10+15+20` is `sections([10, 15, 20])` ("+" for its commas).
    indirect case respace(Spacing, steps: Int)

    /// The texts `init(parsing:)` accepts, for help and error messages.
    public static let grammar = "uniform, ddim, leading, leading+OFFSET, trailing, linspace, dpm-linspace, "
        + "quadratic, karras, logsnr, list:I,J,… (model indices), guided-diffusion section counts N1,N2,… or its "
        + "respacing strings respace:N, respace:ddimN, respace:N1+N2+…"

    public var description: String {
        switch self {
        case .uniform: "uniform"
        case .ddim: "ddim"
        case .leading(let offset): offset == 0 ? "leading" : "leading+\(offset)"
        case .trailing: "trailing"
        case .linspace: "linspace"
        case .dpmLinspace: "dpm-linspace"
        case .quadratic: "quadratic"
        case .karras: "karras"
        case .logSNR: "logsnr"
        case .list(let values): "list:" + values.map(String.init).joined(separator: ",")
        case .sections(let counts): counts.map(String.init).joined(separator: ",")
        case let .respace(.ddim, n): "respace:ddim\(n)"
        case .respace(.sections(let counts), _): "respace:" + counts.map(String.init).joined(separator: "+")
        case let .respace(_, n): "respace:\(n)"
        }
    }

    /// Parses `description`'s forms (`grammar`); nil for anything else.
    public init?(parsing text: String) {
        switch text {
        case "uniform": self = .uniform
        case "ddim": self = .ddim
        case "leading": self = .leading()
        case "trailing": self = .trailing
        case "linspace": self = .linspace
        case "dpm-linspace": self = .dpmLinspace
        case "quadratic": self = .quadratic
        case "karras": self = .karras
        case "logsnr": self = .logSNR
        case _ where text.hasPrefix("respace:"):
            let body = text.dropFirst(8)
            if body.hasPrefix("ddim"), let n = Int(body.dropFirst(4)), n >= 1 {
                self = .respace(.ddim, steps: n)
            } else if !body.contains("+"), let n = Int(body), n >= 1 {
                self = .respace(.uniform, steps: n)
            } else {
                let counts = body.split(separator: "+", omittingEmptySubsequences: false).map { Int($0) }
                guard counts.count > 1, counts.allSatisfy({ ($0 ?? 0) >= 1 }) else { return nil }
                self = .respace(.sections(counts.map { $0! }), steps: counts.reduce(0) { $0 + $1! })
            }
        default:
            if text.hasPrefix("leading+"), let offset = Int(text.dropFirst(8)), offset >= 0 {
                self = .leading(offset: offset)
                return
            }
            let isList = text.hasPrefix("list:")
            let items = text.dropFirst(isList ? 5 : 0).split(separator: ",", omittingEmptySubsequences: false)
            let values = items.compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !items.isEmpty, values.count == items.count else { return nil }
            if isList {
                self = .list(values)
            } else {
                guard values.allSatisfy({ $0 >= 1 }) else { return nil }
                self = .sections(values)
            }
        }
    }

    /// Whether the indices depend on the noise schedule and not only on T (`karras`, `logsnr`).
    public var needsNoiseSchedule: Bool {
        switch self {
        case .karras, .logSNR: true
        default: false
        }
    }

    /// The N visited indices on `schedule`, strictly decreasing. A rule that repeats an index at this
    /// N (`quadratic`, `karras`, `logsnr` at many steps: diffusers and the DDIM code then take a step
    /// of length zero) is refused with `ScheduleError.repeatedIndex`.
    /// For `.list` and `.sections`, `steps` is ignored (N is the list's length, the sections' sum).
    public func timesteps(schedule: NoiseSchedule, steps n: Int) throws -> [Int] {
        guard needsNoiseSchedule else { return try timesteps(trainSteps: schedule.trainSteps, steps: n) }
        let indices = try fractionalTimesteps(schedule: schedule, steps: n).map { Int($0.rounded(.toNearestOrEven)) }
        return try Self.distinct(indices, spacing: self, steps: n, trainSteps: schedule.trainSteps)
    }

    /// `karras` and `logsnr` before rounding, decreasing from T − 1 to 0: each step's noise level σ
    /// (σ = √((1 − ᾱ)/ᾱ)), mapped to a fractional model index by diffusers' `_sigma_to_t`.
    public func fractionalTimesteps(schedule: NoiseSchedule, steps n: Int) throws -> [Double] {
        let t = schedule.trainSteps
        guard needsNoiseSchedule else { throw ScheduleError.invalidTimesteps("\(self) spacing has integer timesteps only") }
        guard n >= 1, n <= t else { throw ScheduleError.invalidSteps(steps: n, trainSteps: t) }
        guard t >= 2 else { throw ScheduleError.invalidTimesteps("\(self) spacing needs at least 2 training steps") }
        let sigmas = schedule.alphasCumprod.map { ((1 - $0) / $0).squareRoot() }
        let logSigmas = sigmas.map { log($0) }
        guard logSigmas.allSatisfy(\.isFinite) else {
            throw ScheduleError.invalidTimesteps("\(self) spacing needs 0 < ᾱ < 1 at every index (σ = √((1 − ᾱ)/ᾱ))")
        }
        let ramp = Diffusion.linspace(0, 1, n)
        let targets: [Double]  // log σ of each step, from σ(T−1) down to σ(0)
        if case .karras = self {
            let rho = 7.0
            let maxInv = pow(sigmas[t - 1], 1 / rho), minInv = pow(sigmas[0], 1 / rho)
            targets = ramp.map { log(max(pow(maxInv + $0 * (minInv - maxInv), rho), 1e-10)) }
        } else {
            let high = logSigmas[t - 1], low = logSigmas[0]
            targets = ramp.map { log(max(exp(high + $0 * (low - high)), 1e-10)) }
        }
        return targets.map { Self.fractionalTimestep(logSigma: $0, logSigmas: logSigmas) }
    }

    /// diffusers `_sigma_to_t`: the last index whose log σ is ≤ `logSigma` (0 if none, at most T − 2),
    /// and linear interpolation in log σ to the next one, clamped to that interval.
    static func fractionalTimestep(logSigma: Double, logSigmas: [Double]) -> Double {
        let low = min(logSigmas.lastIndex(where: { $0 <= logSigma }) ?? 0, logSigmas.count - 2)
        let w = min(max((logSigmas[low] - logSigma) / (logSigmas[low] - logSigmas[low + 1]), 0), 1)
        return (1 - w) * Double(low) + w * Double(low + 1)
    }

    /// Refuses a rule's repeated index, naming it.
    static func distinct(_ values: [Int], spacing: Spacing, steps n: Int, trainSteps t: Int) throws -> [Int] {
        let sorted = values.sorted(by: >)
        if let i = sorted.indices.dropFirst().first(where: { sorted[$0] == sorted[$0 - 1] }) {
            throw ScheduleError.repeatedIndex(spacing: spacing.description, index: sorted[i], steps: n, trainSteps: t)
        }
        return try validated(sorted, trainSteps: t)
    }

    /// The N visited indices for a model with T training steps, strictly decreasing.
    /// For `.list`, `.sections` and `.respace`, `steps` is ignored (N is the list's length, the
    /// sections' sum, the respacing string's count). `karras` and `logsnr` need the noise schedule:
    /// use `timesteps(schedule:steps:)`.
    public func timesteps(trainSteps t: Int, steps n: Int) throws -> [Int] {
        if case let .respace(base, own) = self { return try base.timesteps(trainSteps: t, steps: own) }
        if case .list(let values) = self { return try Self.validated(values, trainSteps: t) }
        if case .sections(let counts) = self { return try Self.validated(Self.sectioned(counts, trainSteps: t), trainSteps: t) }
        guard n >= 1, n <= t else { throw ScheduleError.invalidSteps(steps: n, trainSteps: t) }
        let ascending: [Int]
        switch self {
        case .uniform:
            ascending = try Self.sectioned([n], trainSteps: t)
        case .ddim:
            guard let stride = (1..<max(t, 2)).first(where: { (t + $0 - 1) / $0 == n }) else {
                throw ScheduleError.impossibleDDIMStride(steps: n, trainSteps: t)
            }
            ascending = Array(Swift.stride(from: 0, to: t, by: stride))
        case .leading(let offset):
            ascending = (0..<n).map { $0 * (t / n) + offset }
        case .trailing:
            // np.arange(T, 0, -T/N): length ceil((0 - T)/(-T/N)), values T + i·(−T/N).
            let step = -(Double(t) / Double(n))
            let count = Int((-Double(t) / step).rounded(.up))
            ascending = (0..<count).reversed().map {
                Int((Double(t) + Double($0) * step).rounded(.toNearestOrEven)) - 1
            }
        case .linspace:
            ascending = Diffusion.linspace(0, Double(t - 1), n).map { Int($0.rounded(.toNearestOrEven)) }
        case .dpmLinspace:
            ascending = Diffusion.linspace(0, Double(t - 1), n + 1).dropFirst()
                .map { Int($0.rounded(.toNearestOrEven)) }
        case .quadratic:
            // ermongroup/ddim: seq = [int(s) for s in np.linspace(0, np.sqrt(T * 0.8), N) ** 2].
            let values = Diffusion.linspace(0, (Double(t) * 0.8).squareRoot(), n).map { Int(($0 * $0).rounded(.towardZero)) }
            return try Self.distinct(values, spacing: self, steps: n, trainSteps: t)
        case .karras, .logSNR:
            throw ScheduleError.needsNoiseSchedule(description)
        case .list, .sections, .respace:
            preconditionFailure("handled above")
        }
        return try Self.validated(ascending, trainSteps: t)
    }

    /// guided-diffusion respace.py `space_timesteps(T, counts)`: section i has T // K indices (one
    /// more for i < T mod K) and takes counts[i] of them by a running sum of (size − 1)/(count − 1),
    /// rounded half to even (Python's `round`).
    static func sectioned(_ counts: [Int], trainSteps t: Int) throws -> [Int] {
        guard !counts.isEmpty, counts.count <= t else {
            throw ScheduleError.invalidTimesteps("\(counts.count) sections cannot split \(t) training steps")
        }
        let sizePer = t / counts.count, extra = t % counts.count
        var start = 0
        var taken: [Int] = []
        for (i, count) in counts.enumerated() {
            let size = sizePer + (i < extra ? 1 : 0)
            guard count >= 1, count <= size else {
                throw ScheduleError.invalidTimesteps("cannot divide a section of \(size) steps into \(count)")
            }
            let stride = count <= 1 ? 1.0 : Double(size - 1) / Double(count - 1)
            var current = 0.0
            for _ in 0..<count {
                taken.append(start + Int(current.rounded(.toNearestOrEven)))
                current += stride
            }
            start += size
        }
        return taken
    }

    /// Sorts decreasing and checks range and uniqueness.
    static func validated(_ values: [Int], trainSteps t: Int) throws -> [Int] {
        guard !values.isEmpty else { throw ScheduleError.invalidTimesteps("the list is empty") }
        if let bad = values.first(where: { $0 < 0 || $0 >= t }) {
            throw ScheduleError.invalidTimesteps("index \(bad) is outside [0, \(t))")
        }
        let sorted = values.sorted(by: >)
        if let i = sorted.indices.dropFirst().first(where: { sorted[$0] == sorted[$0 - 1] }) {
            throw ScheduleError.invalidTimesteps("index \(sorted[i]) appears more than once")
        }
        return sorted
    }
}
