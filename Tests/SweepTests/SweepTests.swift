import Diffusion
import Foundation
import Media
import Models
import Sweep
import Testing
import TestSupport

/// Sweeps on a small Gaussian-mixture oracle (1×2×3, two components) with exact metrics only.
@Suite struct SweepTests {
    static func workspace() throws -> (directory: URL, model: String) {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("skipstep-sweep-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let d = 6
        func covariance(_ scale: Double) -> [Double] {
            (0..<(d * d)).map { i in i / d == i % d ? scale * (1 + Double(i % d) / 10) : (abs(i / d - i % d) == 1 ? 0.02 : 0) }
        }
        let mixture = try GaussianMixture(components: [
            .init(weight: 0.3, mean: [0.5, -0.5, 0.2, 0, 0.1, -0.2], covariance: covariance(0.05)),
            .init(weight: 0.7, mean: [-0.4, 0.3, 0, 0.6, -0.1, 0.2], covariance: covariance(0.1)),
        ], sampleShape: [1, 2, 3])
        let model = directory.appendingPathComponent("tiny.safetensors")
        try mixture.save(to: model)
        return (directory, model.path)
    }

    static func spec(_ model: String, count: Int = 22, batch: Int = 5) -> SweepSpec {
        SweepSpec(model: model, samplers: ["ddpm-naive", "skip", "ddim", "mix"], steps: [5, 20], cutoffs: [300, 700],
                  count: count, countForSteps: ["20": count - 4], seed: 7, batch: batch, metrics: [])
    }

    static func run(_ spec: SweepSpec, _ url: URL, shard: Shard = .whole, sampleMissing: Bool = true,
                    progress: @escaping (String) -> Void = { _ in }) async throws -> SweepResults? {
        var runner = SweepRunner(spec: spec, directory: SweepDirectory(url), shard: shard)
        runner.sampleMissing = sampleMissing
        runner.progress = progress
        return try await runner.run(model: { try ModelCatalog.load(path: spec.model) },
                                    evaluator: { try SweepEvaluator(spec: spec, model: $0, network: nil, reference: nil) })
    }

    /// Results with the wall-clock fields zeroed: everything else must be bit-identical.
    static func timeless(_ results: SweepResults?) -> SweepResults? {
        guard var results else { return nil }
        for i in results.cells.indices {
            results.cells[i].samplingSeconds = 0
            results.cells[i].evaluationSeconds = 0
        }
        return results
    }

    static func chunkBytes(_ url: URL, _ spec: SweepSpec) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for cell in spec.cells {
            for chunk in spec.chunks(of: cell) {
                let name = "cells/\(cell.id)/chunk-\(chunk.lowerBound)-\(chunk.upperBound).npy"
                out[name] = try Data(contentsOf: url.appendingPathComponent(name))
            }
        }
        return out
    }

    @Test func cellsAndChunks() throws {
        let spec = Self.spec("m")
        #expect(spec.cells.map(\.id) == ["ddpm-naive-5", "skip-5", "ddim-5", "mix-5-tc300", "mix-5-tc700",
                                         "ddpm-naive-20", "skip-20", "ddim-20", "mix-20-tc300", "mix-20-tc700"])
        #expect(spec.chunks(of: SweepCell(sampler: "skip", steps: 5)) == [0..<5, 5..<10, 10..<15, 15..<20, 20..<22])
        #expect(spec.chunks(of: SweepCell(sampler: "skip", steps: 20)).last == 15..<18)
        let shards = (0..<3).map { i in (0..<5).filter { Shard(index: i, count: 3).owns(chunk: $0) } }
        #expect(shards == [[0, 3], [1, 4], [2]])
        #expect(throws: SweepError.self) { try Shard(parsing: "2/2") }
        #expect(throws: SweepError.self) { try SweepSpec(model: "m", samplers: ["skip", "fast"], steps: [5], cutoffs: [], count: 10).validate() }
        #expect(throws: SweepError.self) { try SweepSpec(model: "m", samplers: ["mix"], steps: [5], cutoffs: [], count: 10).validate() }
        #expect(throws: SweepError.self) { try SweepSpec(model: "m", samplers: ["skip"], steps: [5], cutoffs: [], count: 10,
                                                           metrics: ["fid", "fast"]).validate() }
        // Specs with options are cells of their own; a mix with its cutoff in the spec is the same
        // cell as a bare mix run at that cutoff.
        let specs = SweepSpec(model: "m", samplers: ["ddim:eta=0.5", "mix:cutoff=600", "mix:spacing=trailing", "skip:spacing=[list:999,500,1]"],
                              steps: [5], cutoffs: [291], count: 10)
        try specs.validate()
        #expect(specs.cells.map(\.id) == ["ddim_eta=0.5-5", "mix-5-tc600", "mix_spacing=trailing-5-tc291", "skip_spacing=[list_999,500,1]-5"])
        #expect(try specs.cells.map { try $0.spec.description }
                == ["ddim:eta=0.5", "mix:cutoff=600", "mix:cutoff=291:spacing=trailing", "skip:spacing=[list:999,500,1]"])
        #expect(SweepCell(try SamplerSpec(parsing: "mix:cutoff=291"), steps: 5) == SweepCell(sampler: "mix", steps: 5, cutoff: 291))
        #expect(throws: SweepError.self) {
            try SweepSpec(model: "m", samplers: ["mix:cutoff=291", "mix"], steps: [5], cutoffs: [291], count: 10).validate()
        }
    }

    @Test func shardsMergedEqualAnUnshardedRun() async throws {
        let (dir, model) = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let spec = Self.spec(model)
        let whole = try await Self.run(spec, dir.appendingPathComponent("whole"))
        #expect(whole?.cells.count == spec.cells.count)
        for i in 0..<2 {
            let partial = try await Self.run(spec, dir.appendingPathComponent("shard\(i)"), shard: Shard(index: i, count: 2))
            #expect(partial == nil)
        }
        // One shard alone is not enough: the merge names a missing chunk.
        let lonely = SweepDirectory(dir.appendingPathComponent("lonely"))
        _ = try SweepMerge.merge([SweepDirectory(dir.appendingPathComponent("shard0"))], into: lonely)
        await #expect(throws: SweepError.self) { try await Self.run(spec, lonely.url, sampleMissing: false) }

        let merged = SweepDirectory(dir.appendingPathComponent("merged"))
        let mergedSpec = try SweepMerge.merge([1, 0].map { SweepDirectory(dir.appendingPathComponent("shard\($0)")) }, into: merged)
        #expect(mergedSpec == spec)
        let result = try await Self.run(spec, merged.url, sampleMissing: false)
        #expect(Self.timeless(result) == Self.timeless(whole))
        #expect(try Self.chunkBytes(merged.url, spec) == Self.chunkBytes(dir.appendingPathComponent("whole"), spec))
        // A new merge directory is assembled under a temporary name and renamed: none is left over.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains(".merging-") }.isEmpty)

        // Shards of a different sweep are refused.
        var other = spec
        other.seed = 8
        _ = try await Self.run(other, dir.appendingPathComponent("other"), shard: Shard(index: 1, count: 2))
        #expect(throws: SweepError.self) {
            try SweepMerge.merge([SweepDirectory(dir.appendingPathComponent("shard0")), SweepDirectory(dir.appendingPathComponent("other"))],
                                 into: SweepDirectory(dir.appendingPathComponent("bad")))
        }
    }

    @Test func anInterruptedSweepResumesToTheSameResults() async throws {
        let (dir, model) = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let spec = Self.spec(model)
        let reference = try await Self.run(spec, dir.appendingPathComponent("a"))

        // Cancel a run part-way, in its 9th chunk (the fourth of the cell skip-5), as an interrupt would.
        let url = dir.appendingPathComponent("b")
        let interrupted = Task {
            var steps = 0
            return try await Self.run(spec, url, progress: { _ in
                steps += 1
                if steps == 5 * 5 + 3 * 5 + 2 { withUnsafeCurrentTask { $0?.cancel() } }
            })
        }
        let outcome = await interrupted.result
        #expect(throws: CancellationError.self) { try outcome.get() }
        #expect(!FileManager.default.fileExists(atPath: url.appendingPathComponent("results.json").path))
        #expect(FileManager.default.fileExists(atPath: url.appendingPathComponent("cells/skip-5/chunk-10-15.npy").path))
        #expect(!FileManager.default.fileExists(atPath: url.appendingPathComponent("cells/skip-5/chunk-15-20.npy").path))
        // Cells are scored as soon as they are complete, so the finished ones keep their results.
        #expect(FileManager.default.fileExists(atPath: url.appendingPathComponent("cells/ddpm-naive-5/result.json").path))
        #expect(!FileManager.default.fileExists(atPath: url.appendingPathComponent("cells/skip-5/result.json").path))
        // A chunk without its timing file (killed between the two writes) is redone.
        let chunk = url.appendingPathComponent("cells/skip-5/chunk-10-15.json")
        try FileManager.default.removeItem(at: chunk)

        let resumed = try await Self.run(spec, url)
        #expect(Self.timeless(resumed) == Self.timeless(reference))
        #expect(try Self.chunkBytes(url, spec) == Self.chunkBytes(dir.appendingPathComponent("a"), spec))
        // Finished cells are kept: a third run samples nothing and returns the same results.
        let again = try await Self.run(spec, url)
        #expect(again == resumed)

        // The directory refuses a different sweep, naming the field.
        var changed = spec
        changed.count = 30
        await #expect(throws: SweepError.mismatchedSpec(directory: url.path, field: "count")) { try await Self.run(changed, url) }
    }

    @Test func aSweepGrowsByItsNewCellsOnly() async throws {
        let (dir, model) = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("s")
        let small = SweepSpec(model: model, samplers: ["skip", "mix"], steps: [5], cutoffs: [300], count: 10,
                              seed: 3, batch: 5, metrics: [])
        let first = try #require(try await Self.run(small, url))

        var grown = small
        grown.samplers = ["skip", "ddim", "mix"]
        grown.steps = [10, 5]
        grown.cutoffs = [700, 300]
        grown.countForSteps = ["10": 6]
        let after = try #require(try await Self.run(grown, url))
        // The old cells are kept as they were (same timings: not recomputed) ...
        for cell in first.cells { #expect(after.cells.contains(cell)) }
        // ... and the grown sweep equals the same sweep run from scratch.
        let fresh = try await Self.run(grown, dir.appendingPathComponent("fresh"))
        #expect(Self.timeless(after) == Self.timeless(fresh))
        #expect(try SweepDirectory(url).readSpec() == grown)
        // Reordering the lists keeps the cells: accepted, nothing grows.
        var reordered = grown
        reordered.samplers.reverse()
        #expect(try SweepDirectory(url).prepare(reordered) == false)

        // Dropping cells or changing how the old ones were made is refused.
        var shrunk = grown
        shrunk.samplers = ["mix"]
        await #expect(throws: SweepError.mismatchedSpec(directory: url.path, field: "samplers")) { try await Self.run(shrunk, url) }
        var recounted = grown
        recounted.countForSteps["5"] = 8
        await #expect(throws: SweepError.mismatchedSpec(directory: url.path, field: "count-for")) { try await Self.run(recounted, url) }
    }

    @Test func aSweepReusesCellsScoredByAnotherWithTheSameOptions() async throws {
        let (dir, model) = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (sourceURL, url) = (dir.appendingPathComponent("source"), dir.appendingPathComponent("s"))
        let source = SweepSpec(model: model, samplers: ["skip", "ddim"], steps: [5, 10], cutoffs: [], count: 10,
                               countForSteps: ["10": 6], seed: 3, batch: 5, metrics: [])
        let scored = try #require(try await Self.run(source, sourceURL))
        // ddim-5 has the same count in both sweeps and is copied; ddim-10 (8 samples here, 6 there)
        // and the mix cells are computed.
        let spec = SweepSpec(model: model, samplers: ["ddim", "mix"], steps: [5, 10], cutoffs: [300], count: 10,
                             countForSteps: ["10": 8], seed: 3, batch: 5, metrics: [])
        var runner = SweepRunner(spec: spec, directory: SweepDirectory(url))
        runner.reuse = [SweepDirectory(sourceURL)]
        var logged: [String] = []
        runner.log = { logged.append($0) }
        let results = try #require(try await runner.run(
            model: { try ModelCatalog.load(path: model) },
            evaluator: { try SweepEvaluator(spec: spec, model: $0, network: nil, reference: nil) }))
        #expect(logged.contains { $0.hasPrefix("reused 1 scored cells from \(sourceURL.path): ddim-5") })
        let copied = try #require(scored.cells.first { $0.cell.id == "ddim-5" })
        #expect(results.cells.first { $0.cell.id == "ddim-5" } == copied)  // timings too: not recomputed
        for name in ["result.json", "preview.npy"] {
            let path = "cells/ddim-5/\(name)"
            #expect(try Data(contentsOf: url.appendingPathComponent(path)) == Data(contentsOf: sourceURL.appendingPathComponent(path)))
        }
        // The same sweep from scratch gives the same results.
        let fresh = try await Self.run(spec, dir.appendingPathComponent("fresh"))
        #expect(Self.timeless(results) == Self.timeless(fresh))

        // A sweep made with other options is refused, naming the option.
        var reseeded = spec
        reseeded.seed = 4
        var other = SweepRunner(spec: reseeded, directory: SweepDirectory(dir.appendingPathComponent("reseeded")))
        other.reuse = [SweepDirectory(sourceURL)]
        await #expect(throws: SweepError.mismatchedReuse(directory: sourceURL.path, field: "seed")) {
            try await other.run(model: { try ModelCatalog.load(path: model) },
                                evaluator: { try SweepEvaluator(spec: reseeded, model: $0, network: nil, reference: nil) })
        }
    }

    @Test func floorsAreRefreshedWithoutResampling() async throws {
        let (dir, model) = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("s")
        let spec = SweepSpec(model: model, samplers: ["skip", "ddim"], steps: [5, 10], cutoffs: [], count: 12,
                             countForSteps: ["10": 8], seed: 5, batch: 4, metrics: [])
        let results = try #require(try await Self.run(spec, url))
        let directory = SweepDirectory(url)
        // Stale floors (as from an older way of drawing exact samples) in two cells.
        for cell in results.cells.prefix(2) {
            var stale = cell
            stale.metrics["oracle_frechet_exact"] = 0
            stale.metrics["log_density_exact"] = 0
            try JSONEncoder().encode(stale).write(to: url.appendingPathComponent("cells/\(cell.cell.id)/result.json"))
        }
        let evaluator = try SweepEvaluator(spec: spec, model: ModelCatalog.load(path: model), network: nil, reference: nil)
        #expect(try directory.refreshFloors(with: evaluator) == 2)
        #expect(spec.cells.compactMap(directory.readResult) == results.cells)
        #expect(try directory.refreshFloors(with: evaluator) == 0)
    }

    @Test func exactMetricsSeeTheNaiveStrideFail() async throws {
        // Remark 3 of the paper at few steps: naive strided DDPM is much further from the data than
        // skipped-step.
        let (dir, model) = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let spec = SweepSpec(model: model, samplers: ["ddpm-naive", "skip"], steps: [10], cutoffs: [], count: 400,
                             seed: 1, batch: 200, metrics: [])
        let results = try #require(try await Self.run(spec, dir.appendingPathComponent("s")))
        let naive = try #require(results.cells.first { $0.sampler == "ddpm-naive" }?.metrics)
        let skip = try #require(results.cells.first { $0.sampler == "skip" }?.metrics)
        let floor = try #require(skip["oracle_frechet_exact"])
        #expect(naive["oracle_frechet_exact"] == floor)
        let skipFrechet = try #require(skip["oracle_frechet"]), naiveFrechet = try #require(naive["oracle_frechet"])
        #expect(naiveFrechet > 10 * skipFrechet)
        let skipDensity = try #require(skip["log_density"]), naiveDensity = try #require(naive["log_density"])
        #expect(naiveDensity < skipDensity)
    }

    @Test func reportIsDeterministicAndComplete() async throws {
        let (dir, model) = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let spec = Self.spec(model)
        let results = try #require(try await Self.run(spec, dir.appendingPathComponent("r")))
        let read = try SweepResults.read(from: dir.appendingPathComponent("r/results.json"))
        #expect(read == results)
        let csv = SweepReport.csv(read)
        let lines = csv.split(separator: "\n")
        #expect(lines.count == 1 + spec.cells.count)
        #expect(lines[0].hasPrefix("sampler,steps,nfe,cutoff,skip_steps,count,oracle_frechet,log_density"))
        let table = SweepReport.markdown(read)
        #expect(table.contains("| Mix (t_c = 300) |"))
        #expect(table.contains("| method | 20 steps | 5 steps |"))
        #expect(SweepReport.markdown(read) == table && SweepReport.csv(read) == csv)
        // Mix's k_c follows from t_c and the spacing: uniform 5 steps visit 999, 749, 500, 250, 0.
        #expect(read.cells.first { $0.cell.id == "mix-5-tc300" }?.skipSteps == 3)
        #expect(read.cells.first { $0.cell.id == "mix-5-tc700" }?.skipSteps == 2)

        // The plots: quality against NFE, and against t_c (Mix ran at two cutoffs); written twice
        // from results.json alone, byte for byte the same.
        let stems = SweepReport.plots(read).map(\.0)
        #expect(stems == ["nfe-oracle_frechet", "nfe-log_density", "cutoff-oracle_frechet", "cutoff-log_density"])
        func files(_ name: String) throws -> [String: Data] {
            let out = dir.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            try SweepReport.write(read, to: out)
            let names = try FileManager.default.contentsOfDirectory(atPath: out.appendingPathComponent("plots").path)
            var all = try Dictionary(uniqueKeysWithValues: names.map { ("plots/" + $0, try Data(contentsOf: out.appendingPathComponent("plots/" + $0))) })
            for name in ["table.md", "results.csv"] { all[name] = try Data(contentsOf: out.appendingPathComponent(name)) }
            return all
        }
        let first = try files("report-1")
        #expect(first.count == 2 + 3 * stems.count)  // PNG, SVG and PDF per plot
        #expect(try files("report-2") == first)
        // Figures the results no longer draw are removed; other files in plots/ stay.
        let stale = dir.appendingPathComponent("report-1/plots/nfe-stale.svg"), note = dir.appendingPathComponent("report-1/plots/notes.txt")
        try Data("old".utf8).write(to: stale)
        try Data("mine".utf8).write(to: note)
        try SweepReport.write(read, to: dir.appendingPathComponent("report-1"))
        #expect(!FileManager.default.fileExists(atPath: stale.path) && FileManager.default.fileExists(atPath: note.path))
        // A cutoff plot has one line per step count over the cutoffs, DDIM at those steps as a
        // dashed level in the same colour, and the floor: the exact metric of as many exact
        // samples, level across them, once per sample count.
        let cutoffPlot = try #require(SweepReport.plots(read).first { $0.0 == "cutoff-oracle_frechet" }?.1)
        #expect(cutoffPlot.series.map(\.name) == ["Mix, 5 steps", "DDIM, 5 steps", "Mix, 20 steps", "DDIM, 20 steps",
                                                   "exact samples (22)", "exact samples (18)"])
        #expect(cutoffPlot.series[0].points.map(\.x) == [300, 700])
        let ddim20 = try #require(read.cells.first { $0.sampler == "ddim" && $0.steps == 20 }?.metrics["oracle_frechet"])
        #expect(cutoffPlot.series[3].points.map(\.x) == [300, 700] && cutoffPlot.series[3].points.map(\.y) == [ddim20, ddim20])
        #expect(cutoffPlot.series[3].dashed && !cutoffPlot.series[3].markers && cutoffPlot.series[3].color == cutoffPlot.series[2].color)
        #expect(Set(cutoffPlot.series.compactMap(\.color)).count == 4)
        let floor18 = try #require(read.cells.first { $0.steps == 20 }?.metrics["oracle_frechet_exact"])
        #expect(cutoffPlot.series[5].points.map(\.x) == [300, 700] && cutoffPlot.series[5].points.map(\.y) == [floor18, floor18])
        // Against NFE, each floor is drawn at the step counts sampled with its count.
        let nfePlot = try #require(SweepReport.plots(read).first { $0.0 == "nfe-oracle_frechet" }?.1)
        #expect(nfePlot.series.suffix(2).map { $0.points.map(\.x) } == [[5], [20]])
    }

    /// The sweeps committed under docs/results: each results.json regenerates its table.md,
    /// results.csv byte for byte and its plots (see below), and every table row quoted in docs/RESULTS.md is a row
    /// of one of those tables.
    @Test func committedSweepsRegenerateExactly() throws {
        let root = Fixtures.directory.deletingLastPathComponent().deletingLastPathComponent()
        let results = root.appendingPathComponent("docs/results", isDirectory: true)
        let sweeps = try FileManager.default.contentsOfDirectory(atPath: results.path).sorted()
            .map { results.appendingPathComponent($0, isDirectory: true) }
            .filter { FileManager.default.fileExists(atPath: $0.appendingPathComponent("results.json").path) }
        #expect(sweeps.count >= 2)
        var tableRows = Set<Substring>()
        for dir in sweeps {
            let read = try SweepResults.read(from: dir.appendingPathComponent("results.json"))
            let table = try String(contentsOf: dir.appendingPathComponent("table.md"), encoding: .utf8)
            #expect(SweepReport.markdown(read) == table, "\(dir.lastPathComponent)/table.md")
            #expect(try SweepReport.csv(read) == String(contentsOf: dir.appendingPathComponent("results.csv"), encoding: .utf8))
            for (stem, plot) in SweepReport.allPlots(read) {
                // Font rendering may differ between cairo and FreeType builds, so the PNG is compared
                // by pixels, nearly all of which must match, and the SVG by its title and description.
                let base = dir.appendingPathComponent("plots/" + stem)
                let drawn = try plot.image(), committed = try Image8.readPNG(from: base.appendingPathExtension("png"))
                #expect(drawn.width == committed.width && drawn.height == committed.height, "\(stem).png")
                if drawn.pixels.count == committed.pixels.count {
                    let differing = stride(from: 0, to: drawn.pixels.count, by: 3)
                        .count { drawn.pixels[$0 ..< $0 + 3] != committed.pixels[$0 ..< $0 + 3] }
                    #expect(differing <= drawn.width * drawn.height / 100, "\(stem).png: \(differing) pixels differ")
                }
                let svg = try String(contentsOf: base.appendingPathExtension("svg"), encoding: .utf8)
                let fresh = try #require(String(data: try plot.render(.svg), encoding: .utf8))
                func description(_ svg: String) -> String? {
                    svg.range(of: "<desc>").flatMap { start in svg.range(of: "</desc>").map { String(svg[start.upperBound..<$0.lowerBound]) } }
                }
                #expect(description(svg) != nil && description(svg) == description(fresh), "\(stem).svg")
                #expect(FileManager.default.fileExists(atPath: base.appendingPathExtension("pdf").path), "\(stem).pdf")
            }
            tableRows.formUnion(table.split(separator: "\n").filter { $0.hasPrefix("| ") })
        }
        let quoted = try String(contentsOf: root.appendingPathComponent("docs/RESULTS.md"), encoding: .utf8)
            .split(separator: "\n").filter { $0.hasPrefix("| ") }
        #expect(!quoted.isEmpty)
        let unknown = quoted.filter { !tableRows.contains($0) }
        #expect(unknown.isEmpty, "docs/RESULTS.md quotes rows that no sweep table has: \(unknown)")
    }
}

/// A sweep stops at a cell whose samples are not finite (naming it) unless told to record it.
@Suite struct SweepNonFiniteTests {
    struct Diverging: Denoiser {
        var sampleShape: [Int] { [1, 2, 2] }
        var predictionType: PredictionType { .epsilon }
        func predict(_ x: [Float], batch: Int, timestep: Double) throws -> [Float] {
            x.map { _ in timestep < 500 ? .nan : 0 }
        }
    }

    @Test func aDivergedCellIsAnErrorUnlessAllowed() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skipstep-nan-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let spec = SweepSpec(model: "diverging", samplers: ["skip"], steps: [4], cutoffs: [], count: 3, batch: 2, metrics: [])
        let model = LoadedModel(name: "diverging", denoiser: Diverging(), schedule: try NoiseSchedule(.linear()),
                                defaults: SamplerOptions())
        func run(allow: Bool) async throws -> SweepResults? {
            var runner = SweepRunner(spec: spec, directory: SweepDirectory(directory))
            runner.allowNonfinite = allow
            return try await runner.run(model: { model }, evaluator: { try SweepEvaluator(spec: spec, model: $0, network: nil, reference: nil) })
        }
        await #expect(throws: SweepError.nonFinite(cell: "skip-4", samples: 3)) { try await run(allow: false) }
        let results = try await run(allow: true)
        #expect(results?.cells.first?.metrics == ["nonfinite_samples": 3])
    }
}
