import Diffusion
import Files
import Foundation

/// What `skipstep tune` searches over.
public enum TuneFamily: String, Sendable, CaseIterable, Codable {
    /// Mix's cutoff t_c at the given step count (k_c = 0, i.e. DDIM, included).
    case cutoff
    /// DDIM's η (constant over the run).
    case eta
    /// The timestep spacing of a base sampler.
    case spacing
}

/// The options of a tuning run; stored in `tune.json` so a rerun can check it continues the same search.
public struct TuneSettings: Sendable, Equatable, Codable {
    public var model: String
    public var steps: Int
    public var family: TuneFamily
    /// The sampler whose spacing the `spacing` family tunes (ignored by the others).
    public var baseSampler: String
    /// The metric that ranks the candidates: `fid`, `kid_mean`, `is_mean` (higher is better) or `oracle_frechet`.
    public var metric: String
    public var reference: String
    /// Feature network (`fmnist`, `inception`); ignored for `oracle_frechet`.
    public var network: String?
    public var seed: UInt64
    public var batch: Int
    public var rng: RandomKind
    public var spacing: String
    /// Samples per candidate in the first round; each round doubles it, up to `maxCount`.
    public var startCount: Int
    public var maxCount: Int
    /// The fraction of candidates a round keeps (at least one), after dropping those resolved worse than the best.
    public var keep: Double

    public init(model: String, steps: Int, family: TuneFamily = .cutoff, baseSampler: String = "ddim", metric: String = "kid_mean",
                reference: String = "fashion-mnist:test", network: String? = nil, seed: UInt64 = 0, batch: Int = 250,
                rng: RandomKind = .philox, spacing: String = "uniform", startCount: Int = 250, maxCount: Int = 2000,
                keep: Double = 1.0 / 3) {
        self.model = model
        self.steps = steps
        self.family = family
        self.baseSampler = baseSampler
        self.metric = metric
        self.reference = reference
        self.network = network
        self.seed = seed
        self.batch = batch
        self.rng = rng
        self.spacing = spacing
        self.startCount = startCount
        self.maxCount = maxCount
        self.keep = keep
    }

    enum CodingKeys: String, CodingKey {
        case model, steps, family, baseSampler = "base_sampler", metric, reference, network, seed, batch, rng, spacing
        case startCount = "start_count", maxCount = "max_count", keep
    }

    public static let metrics = ["fid", "kid_mean", "is_mean", "oracle_frechet"]

    public var higherIsBetter: Bool { metric == "is_mean" }

    public func validate() throws {
        guard steps >= 1 else { throw SweepError.invalidSpec("--steps must be at least 1") }
        guard Self.metrics.contains(metric) else {
            throw SweepError.invalidSpec("--metric \(metric): expected one of \(Self.metrics.joined(separator: ", "))")
        }
        guard startCount >= 2, maxCount >= startCount else {
            throw SweepError.invalidSpec("--start-count must be ≥ 2 and ≤ --max-count (got \(startCount) and \(maxCount))")
        }
        guard batch >= 1 else { throw SweepError.invalidSpec("--batch must be at least 1") }
        guard keep > 0, keep < 1 else { throw SweepError.invalidSpec("--keep must be in (0, 1), got \(keep)") }
        if family == .spacing {
            do { _ = try SamplerSpec(parsing: baseSampler) } catch {
                throw SweepError.invalidSpec("--sampler \(baseSampler): \(error.localizedDescription)")
            }
        }
    }

    /// The sweep of one round: the candidates at `count` samples each, scored with the ranking metric.
    public func sweepSpec(samplers: [String], count: Int) -> SweepSpec {
        let metrics: [String] = switch metric {
        case "fid": ["fid"]
        case "kid_mean": ["kid"]
        case "is_mean": ["is"]
        default: []
        }
        return SweepSpec(model: model, samplers: samplers, steps: [steps], cutoffs: [], count: count, seed: seed,
                         batch: batch, rng: rng, spacing: spacing, metrics: metrics, reference: reference,
                         network: metrics.isEmpty ? nil : network)
    }
}

/// `tuned.json`: the setting `tune` chose, with its interval, its cost and every cell it tried.
public struct TunedChoice: Sendable, Equatable, Codable {
    public struct Tried: Sendable, Equatable, Codable {
        public var round: Int
        public var spec: String
        public var count: Int
        public var value: Double?
        public var interval: [Double]?
        /// Whether the candidate went on to the next round (or, in the last round, was chosen).
        public var kept: Bool
    }
    public struct Cost: Sendable, Equatable, Codable {
        /// Samples drawn (each once: a later round extends a candidate's earlier samples).
        public var samples: Int
        /// Network evaluations: samples × NFE, summed over the cells.
        public var networkEvaluations: Int
        public var samplingSeconds: Double
        enum CodingKeys: String, CodingKey {
            case samples, networkEvaluations = "network_evaluations", samplingSeconds = "sampling_seconds"
        }
    }
    public var model: String
    public var steps: Int
    public var family: TuneFamily
    /// The chosen sampler, in full (`sample --sampler-from` uses it).
    public var spec: String
    /// Mix's t_c, for the cutoff family (nil when none won: DDIM, `mix:skip-steps=0`).
    public var cutoff: Int?
    public var metric: String
    public var value: Double
    public var interval: [Double]?
    public var count: Int
    public var cost: Cost
    public var cells: [Tried]
    public var settings: TuneSettings

    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return try encoder.encode(self) + Data("\n".utf8)
    }

    public static func read(from url: URL) throws -> TunedChoice {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw SweepError.corrupt(path: url.path, reason: "cannot be read (\(error.localizedDescription)); run `skipstep tune` first")
        }
        do {
            return try JSONDecoder().decode(TunedChoice.self, from: data)
        } catch {
            throw SweepError.corrupt(path: url.path, reason: "not a skipstep tuned.json (\(error.localizedDescription))")
        }
    }
}

/// Successive halving over a family's grid on top of the sweep machinery: round r runs the surviving
/// candidates as a sweep of `startCount·2^(r−1)` samples each (DIR/round-r, resumable, the samples of
/// round r − 1 carried over since sample i depends only on the seed), drops every candidate whose
/// interval lies wholly on the wrong side of the best one's, keeps the best `keep` fraction of the rest,
/// and stops when one is left or the count reaches `maxCount`. A rerun resumes: finished rounds are read
/// back from their sweeps.
public struct Tuner {
    public let settings: TuneSettings
    public let directory: URL
    public var log: (String) -> Void = { _ in }
    public var progress: (String) -> Void = { _ in }

    public init(settings: TuneSettings, directory: URL) {
        self.settings = settings
        self.directory = directory
    }

    /// The candidates of a family at `steps` on `model`, as sampler spec texts.
    public static func candidates(_ settings: TuneSettings, model: LoadedModel) throws -> [String] {
        let spacing = Spacing(parsing: settings.spacing) ?? .uniform
        let n = settings.steps
        switch settings.family {
        case .cutoff:
            // k_c = 0 (DDIM) and up to 10 handover points spread over the schedule's starts; t_c = the
            // start of step k_c, so exactly k_c steps are skipped-step.
            let ts = try model.makeSampler(SamplerSpec(.ddim(eta: 0)), steps: n, defaultSpacing: spacing).timesteps
            let grid = Set((0..<min(n, 10)).map { i in 1 + Int((Double(i) * Double(n - 1) / Double(max(min(n, 10) - 1, 1))).rounded()) })
            return ["mix:skip-steps=0"] + grid.sorted().map { "mix:cutoff=\(ts[$0 - 1])" }
        case .eta:
            return [0, 0.2, 0.4, 0.6, 0.8, 1].map { SamplerSpec(.ddim(eta: $0)).description }
        case .spacing:
            let base = try SamplerSpec(parsing: settings.baseSampler)
            let spacings: [Spacing] = [.uniform, .trailing, .linspace, .quadratic, .karras, .logSNR]
            // Spacings that plan the same steps at this step count sample identically (uniform and
            // linspace at 10 or 25 of 1 000 steps): only the first is tried, so no round spends
            // samples or a place among the kept on a copy.
            var plans: [[PlannedStep]] = []
            return spacings.compactMap { spacing in
                var spec = base
                spec.spacing = spacing
                guard let sampler = try? model.makeSampler(spec, steps: n), !plans.contains(sampler.steps) else { return nil }
                plans.append(sampler.steps)
                return spec.description
            }
        }
    }

    var settingsURL: URL { directory.appendingPathComponent("tune.json") }
    public var tunedURL: URL { directory.appendingPathComponent("tuned.json") }
    func roundDirectory(_ r: Int) -> SweepDirectory { SweepDirectory(directory.appendingPathComponent("round-\(r)", isDirectory: true)) }

    /// Runs (or resumes) the search and writes `tuned.json`.
    /// - Parameter makeEvaluator: the evaluator of a round's sweep (made once, when first needed, and
    ///   reused by later rounds, which share its metric, reference and seed).
    public func run(model loadModel: () throws -> LoadedModel,
                    evaluator makeEvaluator: (SweepSpec, LoadedModel) throws -> SweepEvaluator) async throws -> TunedChoice {
        try settings.validate()
        let manager = FileManager.default
        if manager.fileExists(atPath: settingsURL.path) {
            let existing = try JSONDecoder().decode(TuneSettings.self, from: Data(contentsOf: settingsURL))
            guard existing == settings else {
                throw SweepError.invalidSpec("\(directory.path) holds a tuning run with other options (tune.json); use another --out")
            }
        }
        let model = try loadModel()
        var survivors = try Self.candidates(settings, model: model)
        guard !survivors.isEmpty else { throw SweepError.invalidSpec("no candidate of the \(settings.family.rawValue) family fits this model") }
        try manager.createDirectory(at: directory, withIntermediateDirectories: true)
        try AtomicFile.write(SweepDirectory.encode(settings), to: settingsURL)
        log("tune \(settings.family.rawValue) at \(settings.steps) steps: \(survivors.count) candidates, "
            + "\(settings.startCount) → \(settings.maxCount) samples, ranked by \(settings.metric)")

        var evaluator: SweepEvaluator?
        var tried: [TunedChoice.Tried] = []
        var cost = TunedChoice.Cost(samples: 0, networkEvaluations: 0, samplingSeconds: 0)
        var count = settings.startCount
        var previous: (SweepDirectory, SweepSpec)?
        var round = 1
        var last: [(spec: String, result: CellResult)] = []
        while true {
            let spec = settings.sweepSpec(samplers: survivors, count: count)
            let dir = roundDirectory(round)
            var carried: [SweepCell: Int] = [:]
            if let (before, old) = previous { carried = try carryChunks(from: before, old, to: dir, spec) }
            var runner = SweepRunner(spec: spec, directory: dir)
            runner.log = log
            runner.progress = progress
            let results = try await runner.run(model: { model }, evaluator: { m in
                if let evaluator { return evaluator }
                let made = try makeEvaluator(spec, m)
                evaluator = made
                return made
            })
            guard let results else { throw SweepError.incomplete("round \(round) did not finish") }
            last = try zip(survivors, results.cells).map { text, cell in
                guard cell.metrics[settings.metric] != nil else {
                    throw SweepError.invalidSpec("\(cell.cell.id) has no \(settings.metric) (metrics: "
                                                 + cell.metrics.keys.sorted().joined(separator: ", ") + ")")
                }
                return (text, cell)
            }
            for (_, cell) in last {
                let newSamples = cell.count - min(carried[cell.cell] ?? 0, cell.count)
                cost.samples += newSamples
                cost.networkEvaluations += newSamples * cell.nfe
                cost.samplingSeconds += cell.samplingSeconds * Double(newSamples) / Double(cell.count)
            }
            let kept = select(last.map(\.result))
            let finished = kept.count == 1 || count >= settings.maxCount
            let winner = finished ? best(last.map(\.result)) : nil
            for (i, (text, cell)) in last.enumerated() {
                tried.append(TunedChoice.Tried(round: round, spec: text, count: cell.count, value: cell.metrics[settings.metric],
                                               interval: cell.interval(ofKey: settings.metric),
                                               kept: finished ? i == winner : kept.contains(i)))
            }
            log("round \(round) (\(count) samples): " + last.enumerated().map { i, c in
                String(format: "%@ %.4g%@", c.spec, c.result.metrics[settings.metric] ?? .nan, kept.contains(i) ? "*" : "")
            }.joined(separator: ", "))
            if finished { break }
            previous = (dir, spec)
            survivors = kept.map { last[$0].spec }
            count = min(2 * count, settings.maxCount)
            round += 1
        }
        let chosen = last[best(last.map(\.result))]
        var spec = try SamplerSpec(parsing: chosen.spec)
        // The full spec: a spacing other than `sample`'s default goes into it.
        if spec.spacing == nil, let spacing = Spacing(parsing: settings.spacing), spacing != .uniform { spec.spacing = spacing }
        var cutoff: Int?
        if case .mix(.timestep(let tc)) = spec.kind { cutoff = tc }
        let choice = TunedChoice(model: settings.model, steps: settings.steps, family: settings.family, spec: spec.description,
                                 cutoff: cutoff, metric: settings.metric, value: chosen.result.metrics[settings.metric] ?? .nan,
                                 interval: chosen.result.interval(ofKey: settings.metric), count: chosen.result.count,
                                 cost: cost, cells: tried, settings: settings)
        try AtomicFile.write(choice.jsonData(), to: tunedURL)
        return choice
    }

    /// The index of the best cell by the ranking metric (the first on ties).
    func best(_ cells: [CellResult]) -> Int {
        var index = 0
        for (i, c) in cells.enumerated() {
            guard let v = c.metrics[settings.metric], let b = cells[index].metrics[settings.metric] else { continue }
            if settings.higherIsBetter ? v > b : v < b { index = i }
        }
        return index
    }

    /// The cells a round keeps: not resolved worse than the best (intervals disjoint), then the best
    /// `keep` fraction of those (at least one), in their original order.
    func select(_ cells: [CellResult]) -> [Int] {
        let top = best(cells)
        let topInterval = cells[top].interval(ofKey: settings.metric)
        let higher = settings.higherIsBetter
        let open = cells.indices.filter { i in
            guard let own = cells[i].interval(ofKey: settings.metric), let topInterval else { return true }
            return higher ? own[1] >= topInterval[0] : own[0] <= topInterval[1]
        }
        let ranked = open.sorted { a, b in
            let va = cells[a].metrics[settings.metric] ?? .nan, vb = cells[b].metrics[settings.metric] ?? .nan
            return higher ? va > vb : va < vb
        }
        let keepCount = max(1, Int((Double(cells.count) * settings.keep).rounded(.up)))
        return ranked.prefix(keepCount).sorted()
    }

    /// Copies the finished chunks of the cells both rounds have (sample i is the same in both);
    /// returns the samples each cell has from the earlier round (copied now or before). A cell
    /// finished in both rounds counts every shared chunk as carried even where the chunk files
    /// are gone (deleted to keep only the results, as docs/results does), so a rerun of a
    /// finished tune reports the cost of the run that made it.
    @discardableResult
    func carryChunks(from source: SweepDirectory, _ old: SweepSpec, to target: SweepDirectory, _ new: SweepSpec) throws -> [SweepCell: Int] {
        let manager = FileManager.default
        try target.prepare(new)
        var carried: [SweepCell: Int] = [:]
        for cell in new.cells where old.cells.contains(cell) {
            let finishedInBoth = source.readResult(cell) != nil && target.readResult(cell) != nil
            let shared = old.chunks(of: cell).filter {
                new.chunks(of: cell).contains($0) && (finishedInBoth || source.hasChunk(cell, $0))
            }
            carried[cell] = shared.reduce(0) { $0 + $1.count }
            guard target.readResult(cell) == nil else { continue }
            for chunk in shared where !target.hasChunk(cell, chunk) {
                try manager.createDirectory(at: target.cellURL(cell), withIntermediateDirectories: true)
                if chunk.lowerBound == 0, manager.fileExists(atPath: source.previewURL(cell).path) {
                    try AtomicFile.write(Data(contentsOf: source.previewURL(cell)), to: target.previewURL(cell))
                }
                try AtomicFile.write(Data(contentsOf: source.chunkURL(cell, chunk)), to: target.chunkURL(cell, chunk))
                try AtomicFile.write(Data(contentsOf: source.chunkTimeURL(cell, chunk)), to: target.chunkTimeURL(cell, chunk))
            }
        }
        return carried
    }

    /// Where `tune` stores a model's choice by default: CACHE/tuned/MODEL/steps-N/FAMILY (MODEL with
    /// '/' and ':' replaced), so `sample --cutoff auto` finds it.
    public static func defaultDirectory(cache: URL, model: String, steps: Int, family: TuneFamily) -> URL {
        let key = model.replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: ":", with: "_")
        return cache.appendingPathComponent("tuned/\(key)/steps-\(steps)/\(family.rawValue)", isDirectory: true)
    }
}
