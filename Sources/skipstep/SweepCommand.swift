import ArgumentParser
import Diffusion
import Files
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

    @Option(help: ArgumentHelp(
        "Sampler specs, comma separated (as `sample --sampler`), e.g. skip,ddim:eta=0.5,mix:cutoff=600; a mix without "
            + "cutoff runs at each of --cutoffs.", discussion: SamplerArguments.samplerHelp, valueName: "specs"))
    var samplers: String = SamplerKind.Name.allCases.map(\.rawValue).joined(separator: ",")

    @Option(help: "Step counts, comma separated.")
    var steps: String = "10,25,50,100"

    @Option(help: "Mix cutoffs t_c (model indices), comma separated; Mix runs once per cutoff.")
    var cutoffs: String = "291"

    @Option(parsing: .unconditional, help: "Samples per cell.")
    var count: Int = 1000

    @Option(name: .customLong("count-for"), help: ArgumentHelp(
        "Samples per cell at one step count, e.g. 1000=500 (repeatable).", valueName: "steps=count"))
    var countFor: [String] = []

    @Option(parsing: .unconditional, help: "Seed of sample 0; sample i uses seed + i.")
    var seed: UInt64 = 0

    @Option(parsing: .unconditional, help: "Samples per network call and per stored chunk (fixed for the life of a sweep).")
    var batch: Int = 250

    @Option(help: "Random generator: philox or torch.")
    var rng: RandomKind = .philox

    @Option(help: "Timestep spacing of the samplers whose spec names none (as `sample --spacing`).")
    var spacing: String = Spacing.uniform.description

    @Option(help: "Feature-space metrics, comma separated: fid, is, kid, precision, recall ('' for none).")
    var metrics: String = "fid,is"

    @Option(help: ArgumentHelp("What the feature metrics compare against: fashion-mnist:SPLIT (optionally sliced [A:B]), "
                               + "a pytorch-fid statistics .npz (FID only), a folder of PNG/JPEG files, an .npy of images or an .npz with arr_0 "
                               + "(layouts as `eval`).",
                               valueName: "ref"))
    var reference: String = "fashion-mnist:test"

    @Option(help: "Feature network: fmnist (the Fashion-MNIST classifier) or inception (pytorch-fid's FID Inception).")
    var network: FeatureNetworkName = .fmnist

    @Option(help: ArgumentHelp("Diffusers folders: the weights variant (fp16 reads diffusion_pytorch_model.fp16.safetensors).",
                               valueName: "name"))
    var variant: String?

    @Option(help: "FID convention of --network inception: legacy-pytorch (pytorch-fid's resize) or clean (clean-fid's).")
    var mode: FIDInception.Preprocessing = .legacyPytorch

    @Flag(help: ArgumentHelp("Score the raw float samples instead of quantising them to 8 bits first (as `eval --no-quantize`; "
                             + "sweeps made before quantisation existed need it to resume)."))
    var noQuantize = false

    @Option(help: ArgumentHelp("This process's part: chunks j with j mod n = i of every cell.", valueName: "i/n"))
    var shard: String?

    @Flag(help: "Record a cell whose samples hold NaN or infinite values as unscored and go on, instead of stopping.")
    var allowNonfinite = false

    @Option(name: [.customLong("weights"), .customLong("classifier")],
            help: ArgumentHelp("The network's weights (as `eval --weights`): the classifier folder, or the converted "
                               + "Inception safetensors.", valueName: "path"))
    var weights: String?

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
        let texts: [String]
        do {
            texts = try SamplerSpec.splitList(samplers).map(Self.canonical)
        } catch {
            throw ValidationError("--samplers \(samplers): \(error.localizedDescription)")
        }
        let spec = SweepSpec(
            model: model, samplers: texts,
            steps: try list(steps, "steps"), cutoffs: try list(cutoffs, "cutoffs"), count: count,
            countForSteps: countForSteps, seed: seed, batch: batch, rng: rng, spacing: spacing,
            metrics: metrics.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() },
            reference: reference, network: network == .fmnist ? nil : network.rawValue,
            quantize: noQuantize ? nil : true, mode: mode == .legacyPytorch ? nil : mode.rawValue, variant: variant)
        if mode != .legacyPytorch && network != .inception {
            throw ValidationError("--mode \(mode.rawValue) is an FID convention of --network inception")
        }
        do { try spec.validate() } catch { throw ValidationError(error.localizedDescription) }
        return spec
    }

    /// A sampler's text in canonical form (`ddim:eta=0.50` → `ddim:eta=0.5`); a `mix` without
    /// cutoff stays one, to run at each of --cutoffs.
    static func canonical(_ text: String) throws -> String {
        do {
            return try SamplerSpec(parsing: text).description
        } catch SamplerSpecError.mixNeedsCutoff {
            return try SamplerSpec(parsing: text + ":cutoff=0").text(omittingCutoff: true)
        }
    }

    func validate() throws {
        let spec = try spec()
        let part: Shard
        do { part = try shard.map(Shard.init(parsing:)) ?? .whole } catch { throw ValidationError(error.localizedDescription) }
        // An unsharded run scores its cells: find the network and the reference now, not hours later.
        // A shard only samples (the merge scores), so it may run where they are not.
        if part.count == 1 { try checkScoring(spec, weights: weights) }
        if part.count > 1 && !reuse.isEmpty {
            throw ValidationError("--reuse copies scored cells, which only a whole sweep has: drop --shard, or rerun the merged sweep with --reuse")
        }
    }

    func run() async throws {
        let spec = try spec()
        let directory = SweepDirectory(URL(fileURLWithPath: out))
        let part = try shard.map(Shard.init(parsing:)) ?? .whole
        log("sweep: model \(spec.model), \(spec.cells.count) cells, seed \(spec.seed), rng \(spec.rng.rawValue)")
        try await runSweep(spec, in: directory, shard: part, weights: weights, sampleMissing: true, allowNonfinite: allowNonfinite,
                           reuse: reuse.map { SweepDirectory(URL(fileURLWithPath: $0)) })
    }
}

/// The feature network of a sweep's spec.
func sweepNetwork(_ spec: SweepSpec) throws -> FeatureNetworkName {
    guard let network = FeatureNetworkName(rawValue: spec.network ?? FeatureNetworkName.fmnist.rawValue) else {
        throw RunError("sweep.json names the unknown network '\(spec.network ?? "")' (expected fmnist or inception)")
    }
    return network
}

/// The FID convention of a sweep's spec.
func sweepMode(_ spec: SweepSpec) throws -> FIDInception.Preprocessing {
    guard let mode = FIDInception.Preprocessing(rawValue: spec.mode ?? FIDInception.Preprocessing.legacyPytorch.rawValue) else {
        throw RunError("sweep.json names the unknown FID mode '\(spec.mode ?? "")' (expected legacy-pytorch or clean)")
    }
    return mode
}

/// Checks that a sweep's feature network and reference can be loaded (without embedding anything).
func checkScoring(_ spec: SweepSpec, weights: String?) throws {
    guard !spec.metrics.isEmpty else { return }
    _ = try sweepNetwork(spec).load(weights: weights, mode: sweepMode(spec))
    if FashionMNIST.Selection.isSelection(spec.reference) {
        _ = try FashionMNIST.Selection(parsing: spec.reference)
    } else if spec.reference.hasSuffix(".npz"), (try? Scoring.isStatisticsFile(spec.reference)) != false {
        _ = try Scoring.readStatistics(spec.reference, name: "reference")
        do { try SweepEvaluator.checkReference(spec, hasFeatures: false) } catch { throw ValidationError(error.localizedDescription) }
    } else if !FileManager.default.fileExists(atPath: spec.reference) {
        throw ValidationError("--reference \(spec.reference) does not exist")
    }
}

/// The evaluator of a sweep: its network, and the reference's features under it.
func sweepEvaluator(_ spec: SweepSpec, model: LoadedModel, weights: String?) throws -> SweepEvaluator {
    guard !spec.metrics.isEmpty else { return try SweepEvaluator(spec: spec, model: model, network: nil, reference: nil) }
    let network = try sweepNetwork(spec).load(weights: weights, mode: sweepMode(spec))
    log("reference features: \(spec.reference)")
    if spec.reference.hasSuffix(".npz"), (try? Scoring.isStatisticsFile(spec.reference)) == true,
       let note = try Scoring.unusedStatisticsMembers(spec.reference) {
        log("note: \(note)")
    }
    let reference = try Scoring.featureSet(spec.reference, network: { network }, name: "reference",
                                           options: Scoring.ImageOptions(quantize: spec.quantize == true),
                                           fashionMNISTDirectory: Settings.current.fashionMNISTDirectory) { done, total in
        progress("reference: features \(done)/\(total)", logEvery: 60)
    }
    progressDone()
    return try SweepEvaluator(spec: spec, model: model, network: network, reference: reference)
}

/// Runs or finishes a sweep and writes its report; shared by `sweep run` and `sweep merge`.
func runSweep(_ spec: SweepSpec, in directory: SweepDirectory, shard: Shard, weights: String?,
              sampleMissing: Bool, allowNonfinite: Bool, reuse: [SweepDirectory] = []) async throws {
    var runner = SweepRunner(spec: spec, directory: directory, shard: shard)
    runner.allowNonfinite = allowNonfinite
    runner.reuse = reuse
    runner.log = { log($0) }
    runner.progress = { progress($0, logEvery: 60) }
    runner.sampleMissing = sampleMissing
    let results = try await runner.run(model: { try Settings.current.catalog.load(spec.model, variant: spec.variant) },
                                       evaluator: { try sweepEvaluator(spec, model: $0, weights: weights) })
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

    @Flag(help: "Record a cell whose samples hold NaN or infinite values as unscored and go on, instead of stopping.")
    var allowNonfinite = false

    @Option(name: [.customLong("weights"), .customLong("classifier")],
            help: ArgumentHelp("The feature network's weights (as `sweep run --weights`).", valueName: "path"))
    var weights: String?

    @Option(help: ArgumentHelp("The merged sweep directory.", valueName: "dir"))
    var out: String

    func validate() throws {
        guard !shards.isEmpty else { throw ValidationError("give at least one shard directory") }
    }

    func run() async throws {
        let directory = SweepDirectory(URL(fileURLWithPath: out))
        let spec = try SweepMerge.merge(shards.map { SweepDirectory(URL(fileURLWithPath: $0)) }, into: directory)
        log("merged \(shards.count) shard directories into \(out)")
        try await runSweep(spec, in: directory, shard: .whole, weights: weights, sampleMissing: false,
                           allowNonfinite: allowNonfinite)
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

    @Option(name: [.customLong("weights"), .customLong("classifier")],
            help: ArgumentHelp("The feature network's weights (with --refresh-floors).", valueName: "path"))
    var weights: String?

    func validate() throws {
        if weights != nil && !refreshFloors { throw ValidationError("--weights is only used with --refresh-floors") }
    }

    func run() throws {
        let sweep = SweepDirectory(URL(fileURLWithPath: directory))
        let results: SweepResults
        if refreshFloors {
            let spec = try sweep.readSpec()
            let model = try Settings.current.catalog.load(spec.model, variant: spec.variant)
            guard model.exact != nil else {
                throw ValidationError("--refresh-floors: \(spec.model) is not a Gaussian-mixture oracle, so its sweep has no exact-sample floors")
            }
            let evaluator = try sweepEvaluator(spec, model: model, weights: weights)
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
