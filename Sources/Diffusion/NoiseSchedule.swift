import Foundation

/// How the training betas were made. Every case matches its source's formula; tables are Float64.
public enum BetaSchedule: Sendable, Equatable {
    /// diffusers `linear`: `linspace(start, end, T)` (defaults 1e-4 … 0.02, not scaled by T).
    case linear(start: Double = 1e-4, end: Double = 0.02)
    /// guided-diffusion `get_named_beta_schedule("linear", T)`: linear scaled by 1000/T.
    case guidedLinear
    /// diffusers `scaled_linear` (Stable Diffusion): `linspace(√start, √end, T)²`.
    case scaledLinear(start: Double = 0.00085, end: Double = 0.012)
    /// diffusers `squaredcos_cap_v2` = guided-diffusion `cosine`:
    /// β_i = min(1 − ᾱ((i+1)/T)/ᾱ(i/T), 0.999), ᾱ(t) = cos²((t + 0.008)/1.008 · π/2).
    case squaredCosCapV2
    /// diffusers `sigmoid`: `sigmoid(linspace(−6, 6, T))·(end − start) + start`.
    case sigmoid(start: Double = 1e-4, end: Double = 0.02)
    /// Explicit betas (their count is T).
    case explicit([Double])

    /// The names diffusers uses in `scheduler_config.json` (`beta_schedule`).
    public init(diffusersName name: String, start: Double, end: Double, trainedBetas: [Double]?) throws {
        if let trainedBetas { self = .explicit(trainedBetas); return }
        switch name {
        case "linear": self = .linear(start: start, end: end)
        case "scaled_linear": self = .scaledLinear(start: start, end: end)
        case "squaredcos_cap_v2": self = .squaredCosCapV2
        case "sigmoid": self = .sigmoid(start: start, end: end)
        default:
            throw ScheduleError.unknownBetaSchedule(name)
        }
    }
}

/// A schedule or spacing that cannot be built, with the value at fault.
public enum ScheduleError: Error, LocalizedError, Equatable {
    case unknownBetaSchedule(String)
    case invalidBetas(String)
    case invalidSteps(steps: Int, trainSteps: Int)
    case impossibleDDIMStride(steps: Int, trainSteps: Int)
    case invalidTimesteps(String)
    case repeatedIndex(spacing: String, index: Int, steps: Int, trainSteps: Int)
    case needsNoiseSchedule(String)

    public var errorDescription: String? {
        switch self {
        case .unknownBetaSchedule(let name):
            "unknown beta schedule '\(name)' (expected linear, scaled_linear, squaredcos_cap_v2 or sigmoid)"
        case .invalidBetas(let why): "invalid betas: \(why)"
        case .invalidSteps(let steps, let trainSteps):
            "steps must be between 1 and the model's \(trainSteps) training steps, got \(steps)"
        case .impossibleDDIMStride(let steps, let trainSteps):
            "no integer stride gives exactly \(steps) steps out of \(trainSteps) (ddim spacing); try uniform"
        case .invalidTimesteps(let why): "invalid timestep list: \(why)"
        case let .repeatedIndex(spacing, index, steps, trainSteps):
            "\(spacing) spacing gives index \(index) more than once at \(steps) of \(trainSteps) training steps "
                + "(a step of length zero); use fewer steps or another spacing"
        case .needsNoiseSchedule(let spacing): "\(spacing) spacing depends on the noise schedule (pass the schedule)"
        }
    }
}

/// The training noise schedule: β[0..T−1] and ᾱ[j] = ∏_{i≤j}(1 − β[i]) in Float64 (ARCHITECTURE.md, Time and schedules).
public struct NoiseSchedule: Sendable, Equatable {
    /// β[0..T−1].
    public let betas: [Double]
    /// ᾱ[j] = ∏_{i≤j}(1 − β[i]).
    public let alphasCumprod: [Double]

    /// Number of training steps T.
    public var trainSteps: Int { betas.count }

    /// ᾱ[j] for j ∈ [−1, T); ᾱ[−1] = 1 ("clean").
    @inlinable public func alphaBar(_ j: Int) -> Double { j < 0 ? 1 : alphasCumprod[j] }

    /// The most training steps a schedule may have: far above any published model (1000–4000),
    /// and small enough that the tables (16 bytes a step) never fail to allocate.
    public static let maxTrainSteps = 1_000_000

    /// A schedule from explicit betas, each in (0, 1]; ᾱ must stay positive before the last step
    /// (only a zero-terminal-SNR schedule reaches ᾱ = 0, and only there).
    public init(betas: [Double]) throws {
        guard !betas.isEmpty else { throw ScheduleError.invalidBetas("no betas") }
        guard betas.count <= Self.maxTrainSteps else {
            throw ScheduleError.invalidBetas("\(betas.count) betas; at most \(Self.maxTrainSteps) training steps are supported")
        }
        if let bad = betas.firstIndex(where: { !($0 > 0 && $0 <= 1) }) {
            throw ScheduleError.invalidBetas("β[\(bad)] = \(betas[bad]) is outside (0, 1]")
        }
        var product = 1.0
        let alphasCumprod = betas.map { product *= 1 - $0; return product }
        try Self.checkAlphaBar(alphasCumprod)
        self.betas = betas
        self.alphasCumprod = alphasCumprod
    }

    static func checkTrainSteps(_ t: Int) throws {
        guard (1...maxTrainSteps).contains(t) else {
            throw ScheduleError.invalidBetas("T must be in 1...\(maxTrainSteps), got \(t)")
        }
    }

    /// ᾱ must stay in (0, 1): ᾱ = 1 (a β below Float64's resolution) leaves no noise and makes the
    /// posterior variance 0/0; ᾱ = 0 before the last step leaves no signal.
    static func checkAlphaBar(_ alphasCumprod: [Double]) throws {
        if let one = alphasCumprod.firstIndex(where: { !($0 < 1) }) {
            throw ScheduleError.invalidBetas("ᾱ[\(one)] = \(alphasCumprod[one]): β[\(one)] is too small to add any noise "
                                             + "(1 − β rounds to 1; ᾱ must stay in (0, 1))")
        }
        if let zero = alphasCumprod.dropLast().firstIndex(where: { !($0 > 0) }) {
            throw ScheduleError.invalidBetas("ᾱ[\(zero)] = \(alphasCumprod[zero]) before the last step "
                                             + "(the betas leave no signal; ᾱ must stay in (0, 1))")
        }
    }

    init(betas: [Double], alphasCumprod: [Double]) {
        self.betas = betas
        self.alphasCumprod = alphasCumprod
    }

    /// Builds `kind` with T = `trainSteps`; `rescaleZeroTerminalSNR` applies diffusers'
    /// `rescale_zero_terminal_snr` (Lin et al. 2023, Algorithm 1), which makes ᾱ[T−1] = 0.
    public init(_ kind: BetaSchedule, trainSteps: Int = 1000, rescaleZeroTerminalSNR: Bool = false) throws {
        try Self.checkTrainSteps(trainSteps)
        var betas = Self.betas(kind, trainSteps: trainSteps)
        if rescaleZeroTerminalSNR { betas = Self.rescaledToZeroTerminalSNR(betas) }
        try self.init(betas: betas)
    }

    static func betas(_ kind: BetaSchedule, trainSteps t: Int) -> [Double] {
        switch kind {
        case .linear(let start, let end):
            return linspace(start, end, t)
        case .guidedLinear:
            // guided-diffusion gaussian_diffusion.py get_named_beta_schedule("linear").
            let scale = 1000 / Double(t)
            return linspace(scale * 0.0001, scale * 0.02, t)
        case .scaledLinear(let start, let end):
            return linspace(start.squareRoot(), end.squareRoot(), t).map { $0 * $0 }
        case .squaredCosCapV2:
            // diffusers betas_for_alpha_bar(alpha_transform_type="cosine"), max_beta 0.999.
            func alphaBar(_ s: Double) -> Double {
                let c = cos((s + 0.008) / 1.008 * Double.pi / 2)
                return c * c
            }
            return (0..<t).map { i in
                min(1 - alphaBar(Double(i + 1) / Double(t)) / alphaBar(Double(i) / Double(t)), 0.999)
            }
        case .sigmoid(let start, let end):
            return linspace(-6, 6, t).map { 1 / (1 + exp(-$0)) * (end - start) + start }
        case .explicit(let betas):
            return betas
        }
    }

    /// diffusers `rescale_zero_terminal_snr`: shift and scale √ᾱ so that its last value is 0 and its
    /// first unchanged, then turn it back into betas.
    static func rescaledToZeroTerminalSNR(_ betas: [Double]) -> [Double] {
        var product = 1.0
        var sqrtBar = betas.map { product *= 1 - $0; return product.squareRoot() }
        let first = sqrtBar[0], last = sqrtBar[sqrtBar.count - 1]
        sqrtBar = sqrtBar.map { ($0 - last) * first / (first - last) }
        let bar = sqrtBar.map { $0 * $0 }
        return bar.indices.map { i in 1 - (i == 0 ? bar[0] : bar[i] / bar[i - 1]) }
    }
}

extension NoiseSchedule {
    /// The tables exactly as diffusers holds them (a parity mode; the default stays Float64):
    /// betas made in float32 (`torch.linspace` is fma(step, i, start) from the nearer end, with a
    /// float32 step), α = 1 − β in float32, and `torch.cumprod`, which accumulates in double and
    /// rounds each output to float32. Values are stored as Float64 holding float32 numbers.
    public static func diffusersFloat32(_ kind: BetaSchedule, trainSteps t: Int,
                                        rescaleZeroTerminalSNR: Bool = false) throws -> NoiseSchedule {
        try checkTrainSteps(t)
        var betas: [Float]
        switch kind {
        case .linear(let start, let end): betas = torchLinspace(Float(start), Float(end), t)
        case .scaledLinear(let start, let end):
            betas = torchLinspace(Float(start.squareRoot()), Float(end.squareRoot()), t).map { $0 * $0 }
        case .sigmoid(let start, let end):
            betas = torchLinspace(-6, 6, t).map { 1 / (1 + Foundation.exp(-$0)) * Float(end - start) + Float(start) }
        case .squaredCosCapV2, .guidedLinear, .explicit:
            betas = Self.betas(kind, trainSteps: t).map { Float($0) }
        }
        // torch.cumprod on float32: double accumulation, each output rounded to float32.
        func cumprod(_ values: [Float]) -> [Float] {
            var product = 1.0
            return values.map { product *= Double($0); return Float(product) }
        }
        if rescaleZeroTerminalSNR {
            // diffusers rescale_zero_terminal_snr, step by step in float32.
            var sqrtBar = cumprod(betas.map { 1 - $0 }).map { $0.squareRoot() }
            let first = sqrtBar[0], last = sqrtBar[sqrtBar.count - 1]
            let scale = first / (first - last)
            sqrtBar = sqrtBar.map { ($0 - last) * scale }
            let bar = sqrtBar.map { $0 * $0 }
            betas = bar.indices.map { i in 1 - (i == 0 ? bar[0] : bar[i] / bar[i - 1]) }
        }
        let bar = cumprod(betas.map { 1 - $0 }).map(Double.init)
        _ = try NoiseSchedule(betas: betas.map(Double.init))  // validates the betas
        try checkAlphaBar(bar)  // and ᾱ as rounded to float32
        return NoiseSchedule(betas: betas.map(Double.init), alphasCumprod: bar)
    }
}

/// `torch.linspace(start, end, n, dtype=float32)` on the CPU: step = (end − start)/(n − 1) in float32,
/// then fma(step, i, start) for the first half and fma(−step, n − 1 − i, end) for the second.
func torchLinspace(_ start: Float, _ end: Float, _ n: Int) -> [Float] {
    guard n > 1 else { return n == 1 ? [start] : [] }
    let step = (end - start) / Float(n - 1)
    return (0..<n).map { i in
        i < n / 2 ? start.addingProduct(step, Float(i)) : end.addingProduct(-step, Float(n - 1 - i))
    }
}

/// numpy `linspace(start, stop, num)`: `start + i·step`, the last element set to `stop`.
func linspace(_ start: Double, _ stop: Double, _ num: Int) -> [Double] {
    guard num > 1 else { return num == 1 ? [start] : [] }
    let step = (stop - start) / Double(num - 1)
    var values = (0..<num).map { start + Double($0) * step }
    values[num - 1] = stop
    return values
}
