import Diffusion
import Foundation
import Metrics

/// One cell of a sweep: a sampler at a number of steps.
public struct SweepCell: Sendable, Hashable, Codable {
    /// The sampler spec's text without Mix's cutoff (`skip`, `ddim:eta=0.5`, `mix`).
    public var sampler: String
    public var steps: Int
    /// Mix's t_c (a model index); nil for the other samplers.
    public var cutoff: Int?

    public init(sampler: String, steps: Int, cutoff: Int? = nil) {
        self.sampler = sampler
        self.steps = steps
        self.cutoff = cutoff
    }

    /// A cell of `spec` (Mix's cutoff kept apart, so `mix:cutoff=291` and `mix` at cutoff 291 are one cell).
    public init(_ spec: SamplerSpec, steps: Int) {
        if case .mix(.timestep(let tc)) = spec.kind { cutoff = tc } else { cutoff = nil }
        sampler = spec.text(omittingCutoff: true)
        self.steps = steps
    }

    /// The folder name under `cells/`: `skip-25`, `mix-25-tc291`, `ddim_eta=0.5-25`.
    public var id: String {
        let name = sampler.replacingOccurrences(of: ":", with: "_").replacingOccurrences(of: "/", with: "_")
        return cutoff.map { "\(name)-\(steps)-tc\($0)" } ?? "\(name)-\(steps)"
    }

    /// The sampler this cell runs.
    public var spec: SamplerSpec {
        get throws {
            do {
                return try SamplerSpec(parsing: cutoff.map { sampler + ":cutoff=\($0)" } ?? sampler)
            } catch {
                throw SweepError.invalidSpec("--samplers \(sampler): \(error.localizedDescription)")
            }
        }
    }
}

/// What a sweep computes; stored as `sweep.json` in its directory so a rerun, a shard or a merge
/// can check it is continuing the same sweep.
public struct SweepSpec: Sendable, Equatable, Codable {
    /// `--model` as given (fashion-gmm, fashion-ddpm, a path).
    public var model: String
    /// Sampler specs (`SamplerSpec` text); a `mix` without cutoff or skip-steps runs at each of `cutoffs`.
    public var samplers: [String]
    public var steps: [Int]
    /// Mix's cutoffs t_c for the `mix` entries that name none.
    public var cutoffs: [Int]
    /// Samples per cell, unless `countForSteps` names the cell's step count.
    public var count: Int
    /// Samples per cell for particular step counts (e.g. fewer at 500 and 1000 steps).
    public var countForSteps: [String: Int]
    /// Sample i of every cell uses its own generator seeded with seed + i (same x_T in every cell).
    public var seed: UInt64
    /// Samples per network call, and the size of the chunks a cell is stored and sharded in.
    public var batch: Int
    public var rng: RandomKind
    /// How timesteps are chosen (`Spacing(parsing:)`) when a sampler's spec names no spacing.
    public var spacing: String
    /// Feature-space metrics: fid, is, kid, precision, recall.
    public var metrics: [String]
    /// What the samples are scored against: fashion-mnist:SPLIT[A:B], a pytorch-fid statistics
    /// `.npz`, a folder of PNG/JPEG files, an `.npy` of images or an `.npz` with `arr_0`.
    public var reference: String
    /// The feature network (`eval --network`); nil means `fmnist`, the Fashion-MNIST classifier.
    public var network: String?
    /// Whether samples are quantised to 8 bits before scoring, as `eval` does by default
    /// (`Scoring.ImageOptions.quantize`). nil (absent from sweep.json) means raw floats: sweeps made
    /// before the option existed, and `sweep --no-quantize`.
    public var quantize: Bool?
    /// The Inception's FID convention (`eval --mode`); nil means legacy-pytorch.
    public var mode: String?
    /// A diffusers folder's weights variant (`--variant fp16`); nil for the plain weights.
    public var variant: String?

    public init(model: String, samplers: [String], steps: [Int], cutoffs: [Int], count: Int,
                countForSteps: [String: Int] = [:], seed: UInt64 = 0, batch: Int = 250, rng: RandomKind = .philox,
                spacing: String = "uniform", metrics: [String] = ["fid", "is"], reference: String = "fashion-mnist:test",
                network: String? = nil, quantize: Bool? = nil, mode: String? = nil, variant: String? = nil) {
        self.model = model
        self.samplers = samplers
        self.steps = steps
        self.cutoffs = cutoffs
        self.count = count
        self.countForSteps = countForSteps
        self.seed = seed
        self.batch = batch
        self.rng = rng
        self.spacing = spacing
        self.metrics = metrics
        self.reference = reference
        self.network = network
        self.quantize = quantize
        self.mode = mode
        self.variant = variant
    }

    /// The sampler specs, each `mix` without a cutoff once per cutoff.
    public func samplerSpecs() throws -> [[SamplerSpec]] {
        try samplers.map { text in
            do {
                return [try SamplerSpec(parsing: text)]
            } catch SamplerSpecError.mixNeedsCutoff {
                guard !cutoffs.isEmpty else {
                    throw SweepError.invalidSpec("--samplers \(text): give mix a cutoff (mix:cutoff=291) or --cutoffs")
                }
                return try cutoffs.map { try SamplerSpec(parsing: text + ":cutoff=\($0)") }
            } catch {
                throw SweepError.invalidSpec("--samplers \(text): \(error.localizedDescription)")
            }
        }
    }

    public func validate() throws {
        guard !samplers.isEmpty else { throw SweepError.invalidSpec("--samplers: give at least one sampler") }
        let specs = try samplerSpecs()
        let cells = specs.joined().map { SweepCell($0, steps: 1) }
        guard Set(cells).count == cells.count else { throw SweepError.invalidSpec("--samplers: a sampler is listed twice") }
        guard !steps.isEmpty, steps.allSatisfy({ $0 >= 1 }) else { throw SweepError.invalidSpec("--steps: give step counts ≥ 1") }
        guard Set(steps).count == steps.count else { throw SweepError.invalidSpec("--steps: a step count is listed twice") }
        guard cutoffs.allSatisfy({ $0 >= 0 }), Set(cutoffs).count == cutoffs.count else {
            throw SweepError.invalidSpec("--cutoffs: give distinct model indices ≥ 0")
        }
        guard count >= 2 else { throw SweepError.invalidSpec("--count must be at least 2, got \(count)") }
        for (key, value) in countForSteps {
            guard let s = Int(key), String(s) == key, steps.contains(s), value >= 2 else {
                throw SweepError.invalidSpec("--count-for \(key)=\(value): expected one of --steps and a count ≥ 2")
            }
        }
        guard batch >= 1 else { throw SweepError.invalidSpec("--batch must be at least 1") }
        _ = try defaultSpacing()
        _ = try metricSuite()
    }

    /// `spacing`, parsed.
    public func defaultSpacing() throws -> Spacing {
        guard let parsed = Spacing(parsing: spacing) else {
            throw SweepError.invalidSpec("--spacing: unknown spacing '\(spacing)' (expected \(Spacing.grammar))")
        }
        return parsed
    }

    /// The feature metrics, with the library's defaults (`MetricSuite`).
    public func metricSuite() throws -> MetricSuite {
        do {
            return try MetricSuite(MetricKey.list(parsing: metrics.joined(separator: ",")))
        } catch {
            throw SweepError.invalidSpec("--metrics: \(error.localizedDescription)")
        }
    }

    /// Samples in a cell with `steps` steps.
    public func count(steps: Int) -> Int { countForSteps[String(steps)] ?? count }

    /// The cells in the order they run: fewest steps first (cheap, informative results early),
    /// samplers in the given order, a `mix` without cutoff once per cutoff. Empty for a spec
    /// that does not validate.
    public var cells: [SweepCell] {
        guard let specs = try? samplerSpecs().flatMap({ $0 }) else { return [] }
        return steps.sorted().flatMap { s in specs.map { SweepCell($0, steps: s) } }
    }

    /// The chunks (first sample, size) of a cell: `batch`-sized, the last one shorter.
    public func chunks(of cell: SweepCell) -> [Range<Int>] {
        let n = count(steps: cell.steps)
        return stride(from: 0, to: n, by: batch).map { $0..<min($0 + batch, n) }
    }
}

/// Which part of the work a process does: chunk j of every cell belongs to shard j mod n, so the
/// shards' work is balanced and their union is the whole sweep.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    public static let whole = Shard(index: 0, count: 1)

    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    /// Parses `i/n` with 0 ≤ i < n.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, (0..<n).contains(i) else {
            throw SweepError.invalidSpec("--shard \(text): expected i/n with 0 ≤ i < n, e.g. 0/4")
        }
        self.init(index: i, count: n)
    }

    public func owns(chunk: Int) -> Bool { chunk % count == index }

    public var description: String { "\(index)/\(count)" }
}
