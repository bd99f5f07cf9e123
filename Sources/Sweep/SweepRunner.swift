import Diffusion
import Files
import Foundation
import Media

/// One row of `results.json` / `results.csv`.
public struct CellResult: Sendable, Equatable, Codable {
    public var sampler: String
    public var steps: Int
    /// Network evaluations: one per step for every sampler here (DPM-Solver++(2M) reuses the
    /// previous evaluation instead of making a second one).
    public var nfe: Int
    public var cutoff: Int?
    /// Mix's number of leading skipped-step steps, from the cutoff and the spacing.
    public var skipSteps: Int?
    public var count: Int
    public var metrics: [String: Double]
    /// 95% bootstrap intervals [low, high] of the feature metrics, keyed by metric (`fid`, `is`, `kid`,
    /// `precision`, `recall`); written into `metrics` as `m_ci` beside each value. Empty for cells
    /// scored before intervals existed (their per-sample features were not kept).
    public var intervals: [String: [Double]] = [:]
    /// Sampling time summed over the cell's chunks (whichever process or shard made them).
    public var samplingSeconds: Double
    public var evaluationSeconds: Double

    enum CodingKeys: String, CodingKey {
        case sampler, steps, nfe, cutoff, skipSteps = "skip_steps", count, metrics
        case samplingSeconds = "sampling_seconds", evaluationSeconds = "evaluation_seconds"
    }

    public init(sampler: String, steps: Int, nfe: Int, cutoff: Int?, skipSteps: Int?, count: Int,
                metrics: [String: Double], intervals: [String: [Double]] = [:], samplingSeconds: Double,
                evaluationSeconds: Double) {
        self.sampler = sampler
        self.steps = steps
        self.nfe = nfe
        self.cutoff = cutoff
        self.skipSteps = skipSteps
        self.count = count
        self.metrics = metrics
        self.intervals = intervals
        self.samplingSeconds = samplingSeconds
        self.evaluationSeconds = evaluationSeconds
    }

    /// One entry of the `metrics` object: a value, or an interval `m_ci: [low, high]`.
    enum MetricEntry: Codable, Equatable {
        case value(Double), interval([Double])
        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let v = try? container.decode(Double.self) { self = .value(v) } else { self = .interval(try container.decode([Double].self)) }
        }
        func encode(to encoder: Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .value(let v): try container.encode(v)
            case .interval(let i): try container.encode(i)
            }
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sampler = try c.decode(String.self, forKey: .sampler)
        steps = try c.decode(Int.self, forKey: .steps)
        nfe = try c.decode(Int.self, forKey: .nfe)
        cutoff = try c.decodeIfPresent(Int.self, forKey: .cutoff)
        skipSteps = try c.decodeIfPresent(Int.self, forKey: .skipSteps)
        count = try c.decode(Int.self, forKey: .count)
        samplingSeconds = try c.decode(Double.self, forKey: .samplingSeconds)
        evaluationSeconds = try c.decode(Double.self, forKey: .evaluationSeconds)
        metrics = [:]
        for (key, entry) in try c.decode([String: MetricEntry].self, forKey: .metrics) {
            switch entry {
            case .value(let v): metrics[key] = v
            case .interval(let i) where key.hasSuffix("_ci") && i.count == 2: intervals[String(key.dropLast(3))] = i
            case .interval:
                throw DecodingError.dataCorruptedError(forKey: .metrics, in: c,
                                                       debugDescription: "metric \(key): expected a number, or [low, high] for a key ending in _ci")
            }
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(sampler, forKey: .sampler)
        try c.encode(steps, forKey: .steps)
        try c.encode(nfe, forKey: .nfe)
        try c.encodeIfPresent(cutoff, forKey: .cutoff)
        try c.encodeIfPresent(skipSteps, forKey: .skipSteps)
        try c.encode(count, forKey: .count)
        var entries = metrics.mapValues(MetricEntry.value)
        for (key, interval) in intervals { entries[key + "_ci"] = .interval(interval) }
        try c.encode(entries, forKey: .metrics)
        try c.encode(samplingSeconds, forKey: .samplingSeconds)
        try c.encode(evaluationSeconds, forKey: .evaluationSeconds)
    }

    /// The interval of a metric given by its results key (`fid`, `is_mean`, `kid_mean`, ...).
    public func interval(ofKey key: String) -> [Double]? {
        intervals[CellResult.intervalName(key)]
    }

    /// `is_mean` → `is`, `kid_mean` → `kid`, others unchanged.
    public static func intervalName(_ key: String) -> String {
        key.hasSuffix("_mean") ? String(key.dropLast(5)) : key
    }

    public var cell: SweepCell { SweepCell(sampler: sampler, steps: steps, cutoff: cutoff) }
}

/// `results.json`: the sweep's specification and one result per cell, in `spec.cells` order.
public struct SweepResults: Sendable, Equatable, Codable {
    public var spec: SweepSpec
    public var cells: [CellResult]

    public init(spec: SweepSpec, cells: [CellResult]) {
        self.spec = spec
        self.cells = cells
    }

    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return try encoder.encode(self) + Data("\n".utf8)
    }

    public static func read(from url: URL) throws -> SweepResults {
        do {
            return try JSONDecoder().decode(SweepResults.self, from: Data(contentsOf: url))
        } catch {
            throw SweepError.corrupt(path: url.path, reason: "not a skipstep sweep results.json (\(error.localizedDescription))")
        }
    }
}

/// A sweep directory:
///
///     sweep.json                       the SweepSpec
///     cells/<id>/chunk-<a>-<b>.npy     samples a..<b of the cell (float32, N×C×H×W)
///     cells/<id>/chunk-<a>-<b>.json    {"seconds": …, "crc32": …, "cell": …, "samples": [a, b]}
///     cells/<id>/preview.npy           its first 10 samples (for the grids)
///     cells/<id>/result.json           the cell's CellResult (only once every chunk exists)
///     results.json, results.csv, table.md, plots/, grids/
///
/// Every file is written to a temporary name and renamed, so an interrupted run leaves only
/// whole files: a rerun skips finished cells and chunks and redoes the rest. A cell with a
/// result.json is finished even when its chunks are gone, so a committed sweep keeps only
/// sweep.json, the results and previews, and resumes on another machine.
public struct SweepDirectory: Sendable {
    public let url: URL

    public init(_ url: URL) { self.url = url }

    var specURL: URL { url.appendingPathComponent("sweep.json") }
    public var resultsURL: URL { url.appendingPathComponent("results.json") }
    func cellURL(_ cell: SweepCell) -> URL { url.appendingPathComponent("cells/\(cell.id)", isDirectory: true) }
    func chunkURL(_ cell: SweepCell, _ chunk: Range<Int>) -> URL {
        cellURL(cell).appendingPathComponent("chunk-\(chunk.lowerBound)-\(chunk.upperBound).npy")
    }
    func chunkTimeURL(_ cell: SweepCell, _ chunk: Range<Int>) -> URL {
        cellURL(cell).appendingPathComponent("chunk-\(chunk.lowerBound)-\(chunk.upperBound).json")
    }
    func resultURL(_ cell: SweepCell) -> URL { cellURL(cell).appendingPathComponent("result.json") }
    public func previewURL(_ cell: SweepCell) -> URL { cellURL(cell).appendingPathComponent("preview.npy") }
    public static let previewCount = 10

    /// Creates the directory with `spec`, or checks that the one there holds the same sweep. A sweep
    /// may grow: a spec that keeps every cell of the old one with its sample count, and every other
    /// option, replaces sweep.json, and only the new cells are computed.
    /// - Returns: whether the sweep grew (has cells it did not have).
    @discardableResult
    public func prepare(_ spec: SweepSpec) throws -> Bool {
        let manager = FileManager.default
        if manager.fileExists(atPath: specURL.path) {
            let existing = try Self.readSpec(specURL)
            if existing == spec { return false }
            if let field = Self.firstDifference(existing, spec, growing: true) {
                throw SweepError.mismatchedSpec(directory: url.path, field: field)
            }
            try AtomicFile.write(Self.encode(spec), to: specURL)
            return spec.cells.count > existing.cells.count
        }
        try manager.createDirectory(at: url, withIntermediateDirectories: true)
        try AtomicFile.write(Self.encode(spec), to: specURL)
        return false
    }

    public func readSpec() throws -> SweepSpec { try Self.readSpec(specURL) }

    static func readSpec(_ url: URL) throws -> SweepSpec {
        do {
            return try JSONDecoder().decode(SweepSpec.self, from: Data(contentsOf: url))
        } catch {
            throw SweepError.corrupt(path: url.path, reason: "not a skipstep sweep.json (\(error.localizedDescription))")
        }
    }

    static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return try encoder.encode(value) + Data("\n".utf8)
    }

    /// The option in which `new` first differs from `old`, or nil when they are the same sweep.
    /// `growing`: `new` may add cells (samplers, step counts, cutoffs) and reorder the lists, as long
    /// as every old cell is still there with its sample count.
    static func firstDifference(_ old: SweepSpec, _ new: SweepSpec, growing: Bool = false) -> String? {
        if let field = fixedDifference(old, new) { return field }
        guard growing else {
            let lists: [(String, Bool)] = [
                ("samplers", old.samplers == new.samplers), ("steps", old.steps == new.steps), ("cutoffs", old.cutoffs == new.cutoffs),
                ("count", old.count == new.count), ("count-for", old.countForSteps == new.countForSteps),
            ]
            return lists.first(where: { !$0.1 })?.0
        }
        let cells = Set(new.cells)
        if let missing = old.cells.first(where: { !cells.contains($0) }) {
            return !cells.contains(where: { $0.sampler == missing.sampler }) ? "samplers"
                : !new.steps.contains(missing.steps) ? "steps" : "cutoffs"
        }
        if let s = old.steps.first(where: { old.count(steps: $0) != new.count(steps: $0) }) {
            return old.countForSteps[String(s)] != nil || new.countForSteps[String(s)] != nil ? "count-for" : "count"
        }
        return nil
    }

    /// The first of the options that fix how every cell is made and scored (all but the cell lists
    /// and counts) in which `a` and `b` differ, or nil.
    static func fixedDifference(_ a: SweepSpec, _ b: SweepSpec) -> String? {
        let fixed: [(String, Bool)] = [
            ("model", a.model == b.model), ("seed", a.seed == b.seed), ("batch", a.batch == b.batch),
            ("rng", a.rng == b.rng), ("spacing", a.spacing == b.spacing), ("metrics", a.metrics == b.metrics),
            ("reference", a.reference == b.reference), ("network", (a.network ?? "fmnist") == (b.network ?? "fmnist")),
            ("quantize", (a.quantize ?? false) == (b.quantize ?? false)),
            ("mode", (a.mode ?? "legacy-pytorch") == (b.mode ?? "legacy-pytorch")), ("variant", a.variant == b.variant),
        ]
        return fixed.first(where: { !$0.1 })?.0
    }

    /// Copies into this directory the cells of `spec` that `source` has scored and this directory
    /// has not. A cell's samples and scores depend only on the options `fixedDifference` compares
    /// and on its sampler, steps, cutoff and count, so a cell scored in a sweep made with the same
    /// options is this sweep's cell: bit for bit when made by the same build on the same kind of
    /// CPU, and scored with the same classifier (which sweep.json does not record); across CPUs
    /// OpenBLAS kernels differ in the last bits. A cell whose count differs there is not copied.
    /// Copied oracle cells keep the source's exact-sample floors (`refreshFloors` updates them).
    /// - Returns: the cells copied.
    public func reuse(from source: SweepDirectory, spec: SweepSpec) throws -> [SweepCell] {
        let other = try source.readSpec()
        if let field = Self.fixedDifference(other, spec) {
            throw SweepError.mismatchedReuse(directory: source.url.path, field: field)
        }
        let manager = FileManager.default
        var copied: [SweepCell] = []
        for cell in spec.cells where readResult(cell) == nil && other.cells.contains(cell)
            && other.count(steps: cell.steps) == spec.count(steps: cell.steps)
            && source.readResult(cell)?.count == spec.count(steps: cell.steps) {
            try manager.createDirectory(at: cellURL(cell), withIntermediateDirectories: true)
            // The preview first: the result marks the cell finished.
            if manager.fileExists(atPath: source.previewURL(cell).path) {
                try AtomicFile.write(Data(contentsOf: source.previewURL(cell)), to: previewURL(cell))
            }
            try AtomicFile.write(Data(contentsOf: source.resultURL(cell)), to: resultURL(cell))
            copied.append(cell)
        }
        return copied
    }

    func hasChunk(_ cell: SweepCell, _ chunk: Range<Int>) -> Bool {
        FileManager.default.fileExists(atPath: chunkURL(cell, chunk).path)
            && FileManager.default.fileExists(atPath: chunkTimeURL(cell, chunk).path)
    }

    /// The samples and sampling seconds of `chunk` of `cell` (`SweepChunk.read`), checked against
    /// the chunk's sample count and the model's `sampleShape`.
    func readChunk(_ cell: SweepCell, _ chunk: Range<Int>, sampleShape: [Int]) throws -> (values: [Float], seconds: Double) {
        try SweepChunk.read(samples: chunkURL(cell, chunk), time: chunkTimeURL(cell, chunk), count: chunk.count,
                            sampleShape: sampleShape, cell: cell.id, first: chunk.lowerBound)
    }

    public func readResult(_ cell: SweepCell) -> CellResult? {
        guard let data = try? Data(contentsOf: resultURL(cell)) else { return nil }
        return try? JSONDecoder().decode(CellResult.self, from: data)
    }

    /// Recomputes the oracle's finite-sample floors (the `…_exact` metrics) of every scored cell
    /// without resampling it: they depend only on the model, seed, generator and count (and, for
    /// `fid_exact` and `is_mean_exact`, the classifier and reference), so this brings a sweep scored
    /// before a change in how exact samples are drawn up to date. Returns the number of cells whose
    /// result changed; 0 for a model that is not an oracle.
    public func refreshFloors(with evaluator: SweepEvaluator) throws -> Int {
        guard let exact = evaluator.exact else { return 0 }
        var changed = 0
        for cell in try readSpec().cells {
            guard var result = readResult(cell), result.metrics.keys.contains(where: { $0.hasSuffix("_exact") }) else { continue }
            let metrics = result.metrics.merging(try evaluator.exactSampleMetrics(count: result.count, exact: exact)) { $1 }
            guard metrics != result.metrics else { continue }
            result.metrics = metrics
            try AtomicFile.write(Self.encode(result), to: resultURL(cell))
            changed += 1
        }
        return changed
    }
}

/// Runs a sweep (or one shard of it) in a directory, resumably.
public struct SweepRunner {
    public let spec: SweepSpec
    public let directory: SweepDirectory
    public let shard: Shard
    public var log: (String) -> Void = { _ in }
    public var progress: (String) -> Void = { _ in }
    /// When false (a merge), a missing chunk is an error instead of being sampled.
    public var sampleMissing = true
    /// When false, a cell whose samples hold NaN or ∞ (a diverged model) stops the sweep, naming
    /// it; when true the cell is recorded with only `nonfinite_samples` and the sweep goes on.
    public var allowNonfinite = false
    /// Sweeps made with the same options whose scored cells are copied instead of computed
    /// (`SweepDirectory.reuse`); whole sweeps only.
    public var reuse: [SweepDirectory] = []

    public init(spec: SweepSpec, directory: SweepDirectory, shard: Shard = .whole) {
        self.spec = spec
        self.directory = directory
        self.shard = shard
    }

    /// Samples every missing chunk this shard owns, cell by cell; for the whole sweep (one shard) it
    /// scores each cell without a result as soon as its chunks are complete, then writes
    /// `results.json` and returns it (nil for a shard).
    /// - Parameters:
    ///   - model: loaded once, when first needed.
    ///   - evaluator: made once, when a cell first needs scoring.
    public func run(model loadModel: () throws -> LoadedModel,
                    evaluator makeEvaluator: (LoadedModel) throws -> SweepEvaluator) async throws -> SweepResults? {
        try spec.validate()
        guard reuse.isEmpty || shard.count == 1 else {
            throw SweepError.invalidSpec("cells can be reused only by a whole sweep, not by shard \(shard)")
        }
        var model: LoadedModel?
        func loaded() throws -> LoadedModel {
            if let model { return model }
            let m = try loadModel()
            // Every cell's sampler is checked against the model before anything is written.
            for cell in spec.cells { _ = try makeSampler(cell, model: m) }
            model = m
            return m
        }
        // A sweep with cells still to compute is checked against its model before sweep.json is
        // written, so a spec the model refuses leaves no directory behind that locks its options.
        if spec.cells.contains(where: { directory.readResult($0) == nil }) { _ = try loaded() }
        if try directory.prepare(spec) { log("\(directory.url.path): the sweep grows to \(spec.cells.count) cells") }
        for source in reuse where source.url.standardizedFileURL != directory.url.standardizedFileURL {
            let cells = try directory.reuse(from: source, spec: spec)
            if !cells.isEmpty { log("reused \(cells.count) scored cells from \(source.url.path): \(cells.map(\.id).joined(separator: ", "))") }
        }
        // Work still to do, in sample-steps, for the ETA.
        let cells = spec.cells
        let todo = cells.filter { directory.readResult($0) == nil }.flatMap { cell in
            spec.chunks(of: cell).enumerated().filter { shard.owns(chunk: $0.offset) && !directory.hasChunk(cell, $0.element) }
                .map { (cell, $0.element) }
        }
        if !sampleMissing, let (cell, chunk) = todo.first {
            throw SweepError.incomplete("\(cell.id): chunk \(chunk.lowerBound)-\(chunk.upperBound) is in none of the shard "
                                        + "directories (\(todo.count) chunks missing in all); run the missing shard first")
        }
        let totalWork = todo.reduce(0) { $0 + $1.1.count * $1.0.steps }
        var doneWork = 0
        let clock = ContinuousClock(), start = clock.now
        if !todo.isEmpty {
            log("sweep \(directory.url.path): \(cells.count) cells, \(todo.count) chunks to sample"
                + (shard.count > 1 ? " (shard \(shard))" : "") + ", \(totalWork) sample-steps")
        }
        var evaluator: SweepEvaluator?
        var results: [CellResult] = []
        for cell in cells {
            for (_, chunk) in todo.filter({ $0.0 == cell }) {
                let m = try loaded()
                let began = clock.now
                let samples = try await sample(cell, chunk, model: m) { stepsDone in
                    let work = doneWork + chunk.count * stepsDone
                    let elapsed = seconds(clock.now - start)
                    let eta = work > 0 ? elapsed / Double(work) * Double(totalWork - work) : 0
                    progress(String(format: "%@ samples %d-%d  %.1f%%  elapsed %@  ETA %@", cell.id, chunk.lowerBound,
                                    chunk.upperBound, 100 * Double(work) / Double(max(totalWork, 1)),
                                    Self.clockText(elapsed), Self.clockText(eta)))
                }
                let spent = seconds(clock.now - began)
                try FileManager.default.createDirectory(at: directory.cellURL(cell), withIntermediateDirectories: true)
                let shape = m.denoiser.sampleShape
                if chunk.lowerBound == 0 {
                    let n = min(SweepDirectory.previewCount, chunk.count), d = shape.reduce(1, *)
                    try NPYArray(shape: [n] + shape, values: Array(samples[0..<(n * d)])).write(to: directory.previewURL(cell))
                }
                try SweepChunk.write(NPYArray(shape: [chunk.count] + shape, values: samples), seconds: spent, cell: cell.id,
                                     range: chunk, samples: directory.chunkURL(cell, chunk),
                                     time: directory.chunkTimeURL(cell, chunk))
                doneWork += chunk.count * cell.steps
            }
            // A shard only samples; the whole sweep scores each cell as soon as it is complete, so
            // an interrupted sweep keeps every finished cell's result.
            guard shard.count == 1 else { continue }
            try Task.checkCancellation()
            if let done = directory.readResult(cell) {
                results.append(done)
                continue
            }
            let chunks = spec.chunks(of: cell)
            let missing = chunks.filter { !directory.hasChunk(cell, $0) }
            guard missing.isEmpty else {
                throw SweepError.incomplete("\(cell.id): chunks \(missing.map { "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ", ")) are missing")
            }
            let m = try loaded()
            if evaluator == nil { evaluator = try makeEvaluator(m) }
            progress("\(cell.id): scoring")
            let began = clock.now
            var samples: [Float] = []
            var samplingSeconds = 0.0
            for chunk in chunks {
                let read = try directory.readChunk(cell, chunk, sampleShape: m.denoiser.sampleShape)
                samples += read.values
                samplingSeconds += read.seconds
            }
            let n = chunks.last?.upperBound ?? 0
            guard samples.count == n * m.denoiser.sampleCount else {
                throw SweepError.corrupt(path: directory.cellURL(cell).path,
                                         reason: "its chunks hold \(samples.count) values, not \(n) samples of \(m.denoiser.sampleCount)")
            }
            let (metrics, intervals) = try evaluator!.evaluateWithIntervals(samples, count: n)
            if let bad = metrics["nonfinite_samples"], !allowNonfinite {
                throw SweepError.nonFinite(cell: cell.id, samples: Int(bad))
            }
            let sampler = try makeSampler(cell, model: m)
            let result = CellResult(sampler: cell.sampler, steps: cell.steps, nfe: sampler.steps.count, cutoff: cell.cutoff,
                                    skipSteps: cell.cutoff == nil ? nil : sampler.steps.count(where: { $0.method == .skip }),
                                    count: n, metrics: metrics, intervals: intervals, samplingSeconds: samplingSeconds,
                                    evaluationSeconds: seconds(clock.now - began))
            try AtomicFile.write(SweepDirectory.encode(result), to: directory.resultURL(cell))
            let elapsed = seconds(clock.now - start)
            let eta = doneWork > 0 ? elapsed / Double(doneWork) * Double(totalWork - doneWork) : 0
            log("\(cell.id): " + metrics.keys.sorted().map { "\($0) \(String(format: "%.4g", metrics[$0]!))" }.joined(separator: ", ")
                + (totalWork > 0 ? "  [\(Self.clockText(elapsed)) elapsed, ETA \(Self.clockText(eta))]" : ""))
            results.append(result)
        }
        guard shard.count == 1 else {
            log("shard \(shard) done; combine the shard directories with `skipstep sweep merge`")
            return nil
        }
        let all = SweepResults(spec: spec, cells: results)
        try AtomicFile.write(all.jsonData(), to: directory.resultsURL)
        return all
    }

    /// The cell's sampler on `model`; an error names the cell.
    func makeSampler(_ cell: SweepCell, model: LoadedModel) throws -> Sampler {
        do {
            return try model.makeSampler(cell.spec, steps: cell.steps, defaultSpacing: spec.defaultSpacing())
        } catch let error as SweepError {
            throw error
        } catch {
            throw SweepError.invalidSpec("\(cell.id): \(error.localizedDescription)")
        }
    }

    /// Samples `chunk` of `cell` with the library's pipeline (sample i seeded with seed + i, as `sample`;
    /// a class-conditional model gets sample i's label from its label stream, as `sample --class random`).
    func sample(_ cell: SweepCell, _ chunk: Range<Int>, model: LoadedModel,
                onStep: (Int) -> Void) async throws -> [Float] {
        let pipeline = try SamplingPipeline(model: model, sampler: makeSampler(cell, model: model), seed: spec.seed,
                                            rng: spec.rng, batch: spec.batch,
                                            classes: model.denoiser.classCount == nil ? nil : .random)
        return try await pipeline.samples(chunk) { onStep($0.step) }
    }

    /// "1h02m" or "3m05s" ("?" for a value that is not a duration yet).
    public static func clockText(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%dh%02dm", s / 3600, s / 60 % 60) : String(format: "%dm%02ds", s / 60, s % 60)
    }
}

/// A duration in seconds.
public func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
}

/// Combines the shard directories of one sweep.
public enum SweepMerge {
    /// Copies every chunk found in `shards` into `output` (which must be new, hold the same sweep or
    /// a sweep it grows) and returns the common spec; the caller then scores `output` as an unsharded
    /// sweep.
    public static func merge(_ shards: [SweepDirectory], into output: SweepDirectory) throws -> SweepSpec {
        guard let first = shards.first else { throw SweepError.incomplete("no shard directories given") }
        let spec = try first.readSpec()
        for shard in shards.dropFirst() {
            let other = try shard.readSpec()
            if let field = SweepDirectory.firstDifference(spec, other) {
                throw SweepError.mismatchedShard(directory: shard.url.path, field: field)
            }
        }
        // A new output is assembled under a temporary name and renamed when complete, so a failed
        // merge leaves no half-merged directory; an existing one (a resumed merge) is filled in place,
        // chunk by whole chunk.
        let manager = FileManager.default
        let fresh = !manager.fileExists(atPath: output.url.path)
        let target = fresh ? SweepDirectory(output.url.deletingLastPathComponent()
                                .appendingPathComponent(".\(output.url.lastPathComponent).merging-\(UUID().uuidString)")) : output
        var finished = false
        defer { if fresh && !finished { try? manager.removeItem(at: target.url) } }
        try target.prepare(spec)
        for cell in spec.cells {
            for chunk in spec.chunks(of: cell) where !target.hasChunk(cell, chunk) {
                guard let source = shards.first(where: { $0.hasChunk(cell, chunk) }) else { continue }
                try manager.createDirectory(at: target.cellURL(cell), withIntermediateDirectories: true)
                var files = [(source.chunkURL(cell, chunk), target.chunkURL(cell, chunk)),
                             (source.chunkTimeURL(cell, chunk), target.chunkTimeURL(cell, chunk))]
                if chunk.lowerBound == 0 { files.insert((source.previewURL(cell), target.previewURL(cell)), at: 0) }
                for (from, to) in files {
                    try AtomicFile.write(Data(contentsOf: from), to: to)
                }
            }
        }
        if fresh { try manager.moveItem(at: target.url, to: output.url) }
        finished = true
        return spec
    }
}
