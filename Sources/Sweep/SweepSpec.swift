import Diffusion
import Foundation
import Media

/// One cell of a sweep: a sampler at a number of steps (and, for Mix, a cutoff t_c).
public struct SweepCell: Sendable, Hashable, Codable {
    /// ddpm, ddpm-naive, skip, ddim (η = 0), mix or dpmpp-2m.
    public var sampler: String
    public var steps: Int
    /// Mix's t_c (a model index); nil for the other samplers.
    public var cutoff: Int?

    public init(sampler: String, steps: Int, cutoff: Int? = nil) {
        self.sampler = sampler
        self.steps = steps
        self.cutoff = cutoff
    }

    /// The folder name under `cells/`: `skip-25`, `mix-25-tc291`.
    public var id: String { cutoff.map { "\(sampler)-\(steps)-tc\($0)" } ?? "\(sampler)-\(steps)" }

    public static let samplerNames = ["ddpm", "ddpm-naive", "skip", "ddim", "mix", "dpmpp-2m"]

    public var kind: SamplerKind {
        get throws {
            switch sampler {
            case "ddpm": return .ddpm
            case "ddpm-naive": return .ddpmNaive
            case "skip": return .skip
            case "ddim": return .ddim(eta: 0)
            case "dpmpp-2m": return .dpmSolverPP2M
            case "mix":
                guard let cutoff else { throw SweepError.invalidSpec("mix needs a cutoff") }
                return .mix(.timestep(cutoff))
            default:
                throw SweepError.invalidSpec("unknown sampler '\(sampler)' (expected \(Self.samplerNames.joined(separator: ", ")))")
            }
        }
    }
}

/// What a sweep computes; stored as `sweep.json` in its directory so a rerun, a shard or a merge
/// can check it is continuing the same sweep.
public struct SweepSpec: Sendable, Equatable, Codable {
    /// `--model` as given (fashion-gmm, fashion-ddpm, a path).
    public var model: String
    public var samplers: [String]
    public var steps: [Int]
    /// Mix's cutoffs t_c; every Mix cell is run at each of them.
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
    /// How timesteps are chosen (`Spacing(parsing:)`).
    public var spacing: String
    /// Feature-space metrics: fid, is, kid, precision, recall.
    public var metrics: [String]
    /// Reference images for the feature-space metrics (fashion-mnist:test).
    public var reference: String

    public init(model: String, samplers: [String], steps: [Int], cutoffs: [Int], count: Int,
                countForSteps: [String: Int] = [:], seed: UInt64 = 0, batch: Int = 250, rng: RandomKind = .philox,
                spacing: String = "uniform", metrics: [String] = ["fid", "is"], reference: String = "fashion-mnist:test") {
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
    }

    public static let metricNames = ["fid", "is", "kid", "precision", "recall"]

    public func validate() throws {
        guard !samplers.isEmpty else { throw SweepError.invalidSpec("--samplers: give at least one sampler") }
        for name in samplers where !SweepCell.samplerNames.contains(name) {
            throw SweepError.invalidSpec("--samplers: unknown sampler '\(name)' (expected \(SweepCell.samplerNames.joined(separator: ", ")))")
        }
        guard Set(samplers).count == samplers.count else { throw SweepError.invalidSpec("--samplers: a sampler is listed twice") }
        guard !steps.isEmpty, steps.allSatisfy({ $0 >= 1 }) else { throw SweepError.invalidSpec("--steps: give step counts ≥ 1") }
        guard Set(steps).count == steps.count else { throw SweepError.invalidSpec("--steps: a step count is listed twice") }
        if samplers.contains("mix") {
            guard !cutoffs.isEmpty else { throw SweepError.invalidSpec("--cutoffs: mix needs at least one cutoff t_c") }
        }
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
        guard Spacing(parsing: spacing) != nil else { throw SweepError.invalidSpec("--spacing: unknown spacing '\(spacing)'") }
        for metric in metrics where !Self.metricNames.contains(metric) {
            throw SweepError.invalidSpec("--metrics: unknown metric '\(metric)' (expected \(Self.metricNames.joined(separator: ", ")))")
        }
        if !metrics.isEmpty { _ = try referenceSelection() }
    }

    /// The reference images `reference` names.
    public func referenceSelection() throws -> FashionMNIST.Selection {
        do {
            return try FashionMNIST.Selection(parsing: reference)
        } catch let error as MediaError {
            throw SweepError.invalidSpec("--reference \(error.localizedDescription)")
        }
    }

    /// Samples in a cell with `steps` steps.
    public func count(steps: Int) -> Int { countForSteps[String(steps)] ?? count }

    /// The cells in the order they run: fewest steps first (cheap, informative results early),
    /// samplers in the given order, Mix once per cutoff.
    public var cells: [SweepCell] {
        steps.sorted().flatMap { s in
            samplers.flatMap { name in
                name == "mix" ? cutoffs.map { SweepCell(sampler: name, steps: s, cutoff: $0) }
                              : [SweepCell(sampler: name, steps: s)]
            }
        }
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

public enum SweepError: Error, LocalizedError, Equatable {
    case invalidSpec(String)
    case mismatchedSpec(directory: String, field: String)
    case mismatchedShard(directory: String, field: String)
    case mismatchedReuse(directory: String, field: String)
    case incomplete(String)
    case corrupt(path: String, reason: String)

    public var errorDescription: String? {
        switch self {
        case .invalidSpec(let message): message
        case let .mismatchedSpec(directory, field):
            "\(directory) holds a different sweep (its sweep.json differs in \(field)); a sweep can grow by "
                + "adding samplers, steps or cutoffs, nothing else may change: use another --out or delete it"
        case let .mismatchedShard(directory, field):
            "\(directory) is a shard of a different sweep (its sweep.json differs in \(field)); every shard must be run "
                + "with the same options"
        case let .mismatchedReuse(directory, field):
            "\(directory) is a sweep made with other options (its sweep.json differs in \(field)); cells can be reused "
                + "only from a sweep with the same model, seed, batch, rng, spacing, metrics and reference"
        case .incomplete(let message): message
        case let .corrupt(path, reason): "\(path): \(reason)"
        }
    }
}
