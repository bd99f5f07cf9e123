import ArgumentParser
import Diffusion
import Foundation
import Media
import Models
import Sweep

struct SweepCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Run samplers × step counts × cutoffs from the same seeds, score every cell, write tables and plots.",
        subcommands: [SweepRunCommand.self, SweepMergeCommand.self, SweepReportCommand.self],
        defaultSubcommand: SweepRunCommand.self)
}

struct SweepRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run (or resume) a sweep into a directory.",
        discussion: """
            Every cell (sampler, steps, and for mix each cutoff) draws --count samples; sample i uses its own \
            generator seeded with --seed + i, so all cells start from the same x_T. Cells are stored in chunks of \
            --batch samples under DIR/cells; a rerun keeps finished chunks and cells and redoes the rest, so an \
            interrupted sweep resumes where it stopped. A sweep can grow: rerun it with more samplers, steps or \
            cutoffs (and every other option the same) and only the new cells are computed; --reuse copies cells \
            another sweep with the same options has already scored. With --shard i/n a process samples chunks j with \
            j mod n = i of every cell and stops; `skipstep sweep merge` combines the shard directories and scores \
            them, with results identical to an unsharded run. Outputs: results.json, results.csv, table.md, \
            plots/ and grids/.
            Example: skipstep sweep --model fashion-gmm --samplers ddpm-naive,skip,ddim,mix --steps 10,25,50,100 \
            --cutoffs 291 --count 1000 --out sweeps/oracle
            """)

    @Option(help: ArgumentHelp("The model (as `sample --model`).", valueName: "name|path"))
    var model: String = ModelCatalog.defaultModelName

    @Option(help: "Samplers, comma separated: ddpm, ddpm-naive, skip, ddim, mix, dpmpp-2m.")
    var samplers: String = "ddpm,ddpm-naive,skip,ddim,mix,dpmpp-2m"

    @Option(help: "Step counts, comma separated.")
    var steps: String = "10,25,50,100"

    @Option(help: "Mix cutoffs t_c (model indices), comma separated; Mix runs once per cutoff.")
    var cutoffs: String = "291"

    @Option(help: "Samples per cell.")
    var count: Int = 1000

    @Option(name: .customLong("count-for"), help: ArgumentHelp(
        "Samples per cell at one step count, e.g. 1000=500 (repeatable).", valueName: "steps=count"))
    var countFor: [String] = []

    @Option(help: "Seed of sample 0; sample i uses seed + i.")
    var seed: UInt64 = 0

    @Option(help: "Samples per network call and per stored chunk (fixed for the life of a sweep).")
    var batch: Int = 250

    @Option(help: "Random generator: philox or torch.")
    var rng: RandomKind = .philox

    @Option(help: "Timestep spacing (as `sample --spacing`).")
    var spacing: String = "uniform"

    @Option(help: "Feature-space metrics, comma separated: fid, is, kid, precision, recall ('' for none).")
    var metrics: String = "fid,is"

    @Option(help: ArgumentHelp("Reference images for the feature metrics: fashion-mnist:SPLIT, optionally sliced [A:B].",
                                valueName: "fashion-mnist:SPLIT"))
    var reference: String = "fashion-mnist:test"

    @Option(help: ArgumentHelp("This process's part: chunks j with j mod n = i of every cell.", valueName: "i/n"))
    var shard: String?

    @Option(help: ArgumentHelp("The classifier folder for the feature metrics.", valueName: "dir"))
    var classifier: String?

    @Option(help: ArgumentHelp("The sweep directory (created, or resumed or grown if it holds the same sweep).", valueName: "dir"))
    var out: String

    @Option(help: ArgumentHelp(
        "Another sweep made with the same model, seed, batch, rng, spacing, metrics and reference: its scored cells "
            + "that this sweep also has (same count) are copied instead of computed (repeatable).", valueName: "dir"))
    var reuse: [String] = []

    func spec() throws -> SweepSpec {
        func list(_ text: String, _ flag: String) throws -> [Int] {
            try text.split(separator: ",").map {
                guard let value = Int($0.trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("--\(flag): '\($0)' is not an integer")
                }
                return value
            }
        }
        var countForSteps: [String: Int] = [:]
        for item in countFor {
            let parts = item.split(separator: "=")
            guard parts.count == 2, let s = Int(parts[0]), let n = Int(parts[1]) else {
                throw ValidationError("--count-for \(item): expected STEPS=COUNT, e.g. 1000=500")
            }
            countForSteps[String(s)] = n
        }
        let spec = SweepSpec(
            model: model, samplers: samplers.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) },
            steps: try list(steps, "steps"), cutoffs: try list(cutoffs, "cutoffs"), count: count,
            countForSteps: countForSteps, seed: seed, batch: batch, rng: rng, spacing: spacing,
            metrics: metrics.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() },
            reference: reference)
        do { try spec.validate() } catch { throw ValidationError(error.localizedDescription) }
        return spec
    }

    func validate() throws {
        let spec = try spec()
        let part: Shard
        do { part = try shard.map(Shard.init(parsing:)) ?? .whole } catch { throw ValidationError(error.localizedDescription) }
        // An unsharded run scores its cells: find the classifier now, not hours later. A shard only
        // samples (the merge scores), so it may run where the classifier is not.
        if part.count == 1 { _ = try sweepClassifierDirectory(spec, classifier) }
        if part.count > 1 && !reuse.isEmpty {
            throw ValidationError("--reuse copies scored cells, which only a whole sweep has: drop --shard, or rerun the merged sweep with --reuse")
        }
    }

    func run() async throws {
        let spec = try spec()
        let directory = SweepDirectory(URL(fileURLWithPath: out))
        let part = try shard.map(Shard.init(parsing:)) ?? .whole
        log("sweep: model \(spec.model), \(spec.cells.count) cells, seed \(spec.seed), rng \(spec.rng.rawValue)")
        try await runSweep(spec, in: directory, shard: part, classifier: classifier, sampleMissing: true,
                           reuse: reuse.map { SweepDirectory(URL(fileURLWithPath: $0)) })
    }
}

/// The classifier for a sweep's feature metrics (nil when it has none): `--classifier`, else as `eval`.
func sweepClassifierDirectory(_ spec: SweepSpec, _ classifier: String?) throws -> URL? {
    spec.metrics.isEmpty ? nil : try EvalCommand.classifierDirectory(classifier, flag: "--classifier")
}

/// Runs or finishes a sweep and writes its report; shared by `sweep run` and `sweep merge`.
func runSweep(_ spec: SweepSpec, in directory: SweepDirectory, shard: Shard, classifier: String?,
              sampleMissing: Bool, reuse: [SweepDirectory] = []) async throws {
    var runner = SweepRunner(spec: spec, directory: directory, shard: shard)
    runner.reuse = reuse
    runner.log = { log($0) }
    runner.progress = { progress($0, logEvery: 60) }
    runner.sampleMissing = sampleMissing
    let results = try await runner.run(
        model: { try ModelCatalog.load(spec.model) },
        evaluator: { model in
            try SweepEvaluator(spec: spec, model: model,
                               classifierDirectory: try sweepClassifierDirectory(spec, classifier),
                               log: { log($0) })
        })
    progressDone()
    if let results {
        try SweepReport.write(results, to: directory.url)
        try SweepReport.writeGrids(results, directory: directory)
        log("wrote \(directory.url.path)/results.json, results.csv, table.md, plots/, grids/")
    }
}

struct SweepMergeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Combine shard directories of one sweep into one directory and score it.",
        discussion: "Example: skipstep sweep merge shards/0 shards/1 --out sweeps/oracle")

    @Argument(help: ArgumentHelp("Shard directories made by `sweep run --shard i/n` with the same options.", valueName: "dir"))
    var shards: [String]

    @Option(help: ArgumentHelp("The classifier folder for the feature metrics.", valueName: "dir"))
    var classifier: String?

    @Option(help: ArgumentHelp("The merged sweep directory.", valueName: "dir"))
    var out: String

    func validate() throws {
        guard !shards.isEmpty else { throw ValidationError("give at least one shard directory") }
    }

    func run() async throws {
        let directory = SweepDirectory(URL(fileURLWithPath: out))
        let spec = try SweepMerge.merge(shards.map { SweepDirectory(URL(fileURLWithPath: $0)) }, into: directory)
        log("merged \(shards.count) shard directories into \(out)")
        try await runSweep(spec, in: directory, shard: .whole, classifier: classifier, sampleMissing: false)
    }
}

struct SweepReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Regenerate results.csv, table.md, the plots and grids of a sweep from its results.json.",
        discussion: """
            With --collect, results.json is first rebuilt from the cells scored so far (cells/*/result.json), \
            so a sweep that is still running, or was stopped, can publish what it has; it lists only those \
            cells, and rerunning the sweep completes it. With --refresh-floors (oracle sweeps), the exact-sample \
            floors of every scored cell are recomputed first, without resampling the cells, and results.json is \
            rebuilt.
            """)

    @Argument(help: ArgumentHelp("The sweep directory.", valueName: "dir"))
    var directory: String

    @Flag(help: "Rebuild results.json from the cells scored so far before reporting.")
    var collect = false

    @Flag(help: "Recompute the oracle's exact-sample floors (…_exact metrics) of the scored cells; implies --collect.")
    var refreshFloors = false

    @Option(help: ArgumentHelp("The classifier folder for the feature metrics (with --refresh-floors).", valueName: "dir"))
    var classifier: String?

    func validate() throws {
        if classifier != nil && !refreshFloors { throw ValidationError("--classifier is only used with --refresh-floors") }
    }

    func run() throws {
        let sweep = SweepDirectory(URL(fileURLWithPath: directory))
        let results: SweepResults
        if refreshFloors {
            let spec = try sweep.readSpec()
            let model = try ModelCatalog.load(spec.model)
            guard model.denoiser is GaussianMixtureDenoiser else {
                throw ValidationError("--refresh-floors: \(spec.model) is not a Gaussian-mixture oracle, so its sweep has no exact-sample floors")
            }
            let evaluator = try SweepEvaluator(spec: spec, model: model, classifierDirectory: try sweepClassifierDirectory(spec, classifier),
                                               log: { log($0) })
            log("refreshed the exact-sample floors of \(try sweep.refreshFloors(with: evaluator)) cells")
        }
        if collect || refreshFloors {
            let spec = try sweep.readSpec()
            results = SweepResults(spec: spec, cells: spec.cells.compactMap(sweep.readResult))
            try AtomicFile.write(results.jsonData(), to: sweep.resultsURL)
            log("collected \(results.cells.count) of \(spec.cells.count) cells into \(directory)/results.json")
        } else {
            results = try SweepResults.read(from: sweep.resultsURL)
        }
        try SweepReport.write(results, to: sweep.url)
        try SweepReport.writeGrids(results, directory: sweep)
        log("wrote \(directory)/results.csv, table.md, plots/, grids/")
    }
}
