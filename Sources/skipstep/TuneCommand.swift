import ArgumentParser
import Diffusion
import Foundation
import Models
import Sweep

extension TuneFamily: ExpressibleByArgument {}

struct TuneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tune",
        abstract: "Choose a sampler setting (Mix's cutoff, DDIM's η, or a spacing) for a model and step count.",
        discussion: """
            Successive halving on the sweep machinery: every candidate of --family runs as a sweep cell of \
            --start-count samples; each round drops the candidates whose 95% bootstrap interval lies wholly worse \
            than the best one's, keeps the best --keep fraction of the rest, and doubles the sample count (later \
            rounds extend the earlier samples, which are reused), until one candidate is left or --max-count is \
            reached. Families: cutoff (Mix at k_c = 0, i.e. DDIM, and up to 10 handover points of the N-step \
            schedule), eta (DDIM η 0, 0.2, …, 1), spacing (--sampler at uniform, trailing, linspace, quadratic, \
            karras, logsnr; spacings that give the same steps at N are tried once). Writes DIR/tuned.json: the \
            full spec (and the cutoff t_c for the cutoff family), its value and interval, the cost (samples and \
            network evaluations) and every cell tried; each round is a sweep under DIR/round-R, so an interrupted \
            run resumes. By default DIR is \
            CACHE/tuned/MODEL/steps-N/FAMILY, where `sample --cutoff auto` looks (CACHE: $SKIPSTEP_CACHE_DIR, else \
            $XDG_CACHE_HOME/skipstep or ~/.cache/skipstep). Use the result with `sample --sampler-from DIR/tuned.json`.
            Example: skipstep tune --model fashion-ddpm --steps 25 --reference fashion-mnist:test --family cutoff
            """)

    @Option(help: ArgumentHelp("The model (as `sample --model`).", valueName: "name|path"))
    var model: String = ModelCatalog.defaultModelName

    @Option(parsing: .unconditional, help: "The number of steps (NFE) to tune for.")
    var steps: Int = 25

    @Option(help: "What to tune: cutoff (Mix's t_c), eta (DDIM's η) or spacing (of --sampler).")
    var family: TuneFamily = .cutoff

    @Option(help: ArgumentHelp("The sampler whose spacing the spacing family tunes.", valueName: "spec"))
    var sampler: String = "ddim"

    @Option(help: ArgumentHelp("What ranks the candidates: kid_mean, fid, is_mean (higher is better), or oracle_frechet "
                               + "(the oracle's exact Fréchet distance; no network or reference needed). The default is KID: "
                               + "its estimator is unbiased at any sample count, while FID's bias at a first round's few "
                               + "hundred samples depends on the samples' own spread and can reorder the candidates.",
                               valueName: "metric"))
    var metric: String = "kid_mean"

    @Option(help: ArgumentHelp("What the feature metrics compare against (as `sweep --reference`).", valueName: "ref"))
    var reference: String = "fashion-mnist:test"

    @Option(help: "Feature network: fmnist (the Fashion-MNIST classifier) or inception (pytorch-fid's FID Inception).")
    var network: FeatureNetworkName = .fmnist

    @Option(name: [.customLong("weights"), .customLong("classifier")],
            help: ArgumentHelp("The network's weights (as `eval --weights`).", valueName: "path"))
    var weights: String?

    @Option(parsing: .unconditional, help: "Samples per candidate in the first round.")
    var startCount: Int = 250

    @Option(parsing: .unconditional, help: "The most samples per candidate (the last round).")
    var maxCount: Int = 2000

    @Option(parsing: .unconditional, help: "The fraction of candidates a round keeps (at least one).")
    var keep: Double = 1.0 / 3

    @Option(parsing: .unconditional, help: "Seed of sample 0; sample i uses seed + i.")
    var seed: UInt64 = 0

    @Option(parsing: .unconditional, help: "Samples per network call and per stored chunk.")
    var batch: Int = 250

    @Option(help: "Random generator: philox or torch.")
    var rng: RandomKind = .philox

    @Option(help: "Timestep spacing of the candidates whose spec names none (cutoff and eta families).")
    var spacing: String = Spacing.uniform.description

    @Option(help: ArgumentHelp("Where to store the search and tuned.json (default: CACHE/tuned/MODEL/steps-N/FAMILY).",
                               valueName: "dir"))
    var out: String?

    func settings() -> TuneSettings {
        TuneSettings(model: model, steps: steps, family: family, baseSampler: sampler, metric: metric, reference: reference,
                     network: network == .fmnist ? nil : network.rawValue, seed: seed, batch: min(batch, startCount), rng: rng,
                     spacing: spacing, startCount: startCount, maxCount: maxCount, keep: keep)
    }

    var directory: URL {
        out.map { URL(fileURLWithPath: $0, isDirectory: true) }
            ?? Tuner.defaultDirectory(cache: Settings.current.cacheDirectory, model: model, steps: steps, family: family)
    }

    func validate() throws {
        do { try settings().validate() } catch { throw ValidationError(error.localizedDescription) }
        guard Spacing(parsing: spacing) != nil else { throw ValidationError("--spacing: unknown spacing '\(spacing)' (expected \(Spacing.grammar))") }
        let probe = settings().sweepSpec(samplers: ["ddim"], count: startCount)
        try checkScoring(probe, weights: weights)
    }

    func run() async throws {
        let settings = settings()
        var tuner = Tuner(settings: settings, directory: directory)
        tuner.log = { log($0) }
        tuner.progress = { progress($0, logEvery: 60) }
        let choice = try await tuner.run(model: { try Settings.current.catalog.load(model) },
                                         evaluator: { spec, loaded in try sweepEvaluator(spec, model: loaded, weights: weights) })
        progressDone()
        let interval = choice.interval.map { String(format: " [%.4g, %.4g]", $0[0], $0[1]) } ?? ""
        print("\(choice.spec)" + (choice.cutoff.map { "  (cutoff t_c = \($0))" } ?? ""))
        print(String(format: "%@ %.4g%@ at %d samples; cost %d samples, %d network evaluations, %.0f s sampling; %d cells tried",
                     choice.metric, choice.value, interval, choice.count, choice.cost.samples, choice.cost.networkEvaluations,
                     choice.cost.samplingSeconds, choice.cells.count))
        log("wrote \(tuner.tunedURL.path)")
    }
}
