import Diffusion
import Files
import Foundation
import Media
import Metrics

/// Everything in a sweep directory that is derived from `results.json` alone: `results.csv`,
/// `table.md` and the plots. Deterministic, so committed results regenerate these files exactly.
public enum SweepReport {
    /// Metric keys in display order; others follow alphabetically.
    static let preferredOrder = ["fid", "is_mean", "is_std", "kid_mean", "kid_std", "precision", "recall",
                                 "oracle_frechet", "log_density", "fid_exact", "is_mean_exact",
                                 "oracle_frechet_exact", "log_density_exact", "nonfinite_samples"]

    static func metricKeys(_ results: SweepResults) -> [String] {
        let keys = Set(results.cells.flatMap(\.metrics.keys))
        return preferredOrder.filter(keys.contains) + keys.subtracting(preferredOrder).sorted()
    }

    /// Display name of a cell's method, as in the paper's tables (`SamplerSpec.displayName`).
    static func method(_ cell: CellResult) -> String {
        (try? cell.cell.spec.displayName) ?? cell.sampler
    }

    /// What the feature metrics were computed on, from the spec's network.
    static func featureSource(_ spec: SweepSpec) -> (description: String, short: String) {
        switch spec.network {
        case nil, "fmnist": ("the Fashion-MNIST classifier's 128-d features and logits", "classifier")
        case "inception": ("pytorch-fid's FID Inception (2048-d pool3 features, 1008 logits)", "Inception")
        case let other?: ("the \(other) network's features", other)
        }
    }

    /// The metrics with an interval in some cell, in display order.
    static func intervalKeys(_ results: SweepResults) -> [String] {
        let names = Set(results.cells.flatMap(\.intervals.keys))
        let order = ["fid", "is", "kid", "precision", "recall", "oracle_frechet"]
        return order.filter(names.contains) + names.subtracting(order).sorted()
    }

    /// Shortest round-trip text of a number, as in results.json.
    static func number(_ value: Double) -> String { "\(value)" }

    public static func csv(_ results: SweepResults) -> String {
        let keys = metricKeys(results)
        let intervalNames = intervalKeys(results)
        var lines = [(["sampler", "steps", "nfe", "cutoff", "skip_steps", "count"] + keys
                      + intervalNames.flatMap { ["\($0)_ci_low", "\($0)_ci_high"] }
                      + ["sampling_seconds", "evaluation_seconds"]).joined(separator: ",")]
        for cell in results.cells {
            var fields = [cell.sampler, "\(cell.steps)", "\(cell.nfe)", cell.cutoff.map(String.init) ?? "",
                          cell.skipSteps.map(String.init) ?? "", "\(cell.count)"]
            fields += keys.map { cell.metrics[$0].map(number) ?? "" }
            fields += intervalNames.flatMap { name in cell.intervals[name].map { $0.map(number) } ?? ["", ""] }
            fields += [number(cell.samplingSeconds), number(cell.evaluationSeconds)]
            lines.append(fields.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `table.md`: the paper's Table 1 layout (methods × steps, "IS / FID"), then one table per
    /// further metric; the best value of each column in bold.
    public static func markdown(_ results: SweepResults) -> String {
        let spec = results.spec
        let steps = spec.steps.sorted(by: >)
        let rows = rowOrder(results)
        var out = "# Sweep results: \(spec.model)\n\n"
        out += "Samplers at equal steps from the same seeds (sample i: seed \(spec.seed) + i, \(spec.rng.rawValue) generator), "
        out += "\(spec.spacing) spacing. Samples per cell: " + steps.map { "\(spec.count(steps: $0)) at \($0)" }.joined(separator: ", ")
        // NFE is the network evaluations a cell spent: PNDM spends one more than its steps, Restart at most its budget.
        let exceptions = Set(results.cells.filter { $0.nfe != $0.steps }.map { "\(method($0)) \($0.nfe) at \($0.steps) steps" })
        out += exceptions.isEmpty ? ". NFE = steps for every sampler.\n"
                                  : ". NFE = steps except " + exceptions.sorted().joined(separator: ", ") + " (the NFE column of results.csv).\n"
        if results.cells.count < spec.cells.count {
            out += "\nPartial: \(results.cells.count) of \(spec.cells.count) cells scored so far; – marks the others.\n"
        }
        let keys = metricKeys(results)
        if keys.contains("fid") || keys.contains("is_mean") {
            out += "\nFeature metrics: \(featureSource(spec).description), against \(spec.reference).\n"
        }
        if keys.contains("oracle_frechet") {
            out += "Exact metrics (oracle): `oracle_frechet` is the Fréchet distance in pixel space between the samples' "
            out += "mean/covariance and the mixture's exact moments; `log_density` the samples' mean log-density under the "
            out += "mixture. `_exact` columns: the same for as many exact samples (the finite-sample floor).\n"
        }

        func cell(_ row: String, _ s: Int) -> CellResult? {
            results.cells.first { method($0) == row && $0.steps == s }
        }
        /// `interval`: the key whose interval decides which differences from the best are resolved;
        /// a cell whose interval overlaps the best cell's is marked ≈ (not resolved from it).
        func table(_ title: String, format: (CellResult) -> String?, best: ((CellResult) -> Double?, Bool)?,
                   interval: String? = nil) -> String {
            var text = "\n## \(title)\n\n| method | " + steps.map { "\($0) steps" }.joined(separator: " | ") + " |\n"
            text += "|---|" + steps.map { _ in "---|" }.joined() + "\n"
            var bestValue: [Int: Double] = [:]
            var bestInterval: [Int: [Double]] = [:]
            if let (value, higher) = best {
                for s in steps {
                    let candidates = rows.compactMap { cell($0, s) }.compactMap { c in value(c).map { (c, $0) } }
                    let chosen = higher ? candidates.max { $0.1 < $1.1 } : candidates.min { $0.1 < $1.1 }
                    bestValue[s] = chosen?.1
                    if let interval, let c = chosen?.0 { bestInterval[s] = c.interval(ofKey: interval) }
                }
            }
            for row in rows {
                text += "| \(row) |"
                for s in steps {
                    guard let c = cell(row, s), let shown = format(c) else { text += " – |"; continue }
                    let isBest = best.flatMap { $0.0(c) }.map { $0 == bestValue[s] } ?? false
                    var tied = false
                    if !isBest, let interval, let own = c.interval(ofKey: interval), let top = bestInterval[s] {
                        tied = own[0] <= top[1] && top[0] <= own[1]
                    }
                    text += isBest ? " **\(shown)** |" : tied ? " ≈ \(shown) |" : " \(shown) |"
                }
                text += "\n"
            }
            return text
        }
        func fixed(_ key: String, _ digits: Int) -> (CellResult) -> String? {
            { c in
                c.metrics[key].map { value in
                    String(format: "%.\(digits)f", value)
                        + (c.interval(ofKey: key).map { String(format: " [%.\(digits)f, %.\(digits)f]", $0[0], $0[1]) } ?? "")
                }
            }
        }
        if !intervalKeys(results).isEmpty {
            out += "\nIntervals: 95% percentile bootstrap over the generated samples (\(BootstrapSettings.defaultResamples) "
            out += "resamples, the reference held fixed; docs/RESULTS.md, Error bars). In bold the best of a column; "
            out += "≈ marks a cell whose interval overlaps the best one's (the difference is not resolved); an unmarked "
            out += "cell is resolved from the best. Cells without an interval were scored before intervals existed.\n"
        }

        if keys.contains("fid") && keys.contains("is_mean") {
            out += table("IS ↑ / FID ↓ (the layout of the paper's Table 1)", format: { c in
                guard let i = c.metrics["is_mean"], let f = c.metrics["fid"] else { return nil }
                return String(format: "%.2f / %.2f", i, f)
            }, best: ({ $0.metrics["fid"] }, false), interval: "fid")
        }
        let others: [(String, String, Int, Bool)] = [
            ("fid", "FID ↓", 3, false), ("is_mean", "IS ↑", 3, true), ("kid_mean", "KID ↓", 5, false),
            ("precision", "precision ↑", 3, true), ("recall", "recall ↑", 3, true),
            ("oracle_frechet", "Exact Fréchet distance to the oracle ↓ (pixel space)", 3, false),
        ]
        for (key, title, digits, higher) in others where keys.contains(key) {
            out += table(title, format: fixed(key, digits), best: ({ $0.metrics[key] }, higher), interval: key)
        }
        if keys.contains("log_density") {
            // Higher is not better: samples collapsed onto the modes score above exact samples.
            out += table("Mean log-density under the oracle (in bold: closest to exact samples' value)",
                         format: fixed("log_density", 1),
                         best: ({ c in c.metrics["log_density"].flatMap { v in c.metrics["log_density_exact"].map { -abs(v - $0) } } }, true))
        }
        let floors = [("oracle_frechet_exact", "exact Fréchet distance", 3), ("log_density_exact", "log-density", 1),
                      ("fid_exact", "FID", 3), ("is_mean_exact", "IS", 3)].filter { keys.contains($0.0) }
        if !floors.isEmpty {
            out += "\n## Exact samples of the oracle (the floor), by sample count\n\n| samples | "
                + floors.map(\.1).joined(separator: " | ") + " |\n|---|" + floors.map { _ in "---|" }.joined() + "\n"
            for n in Set(results.cells.map(\.count)).sorted(by: >) {
                guard let c = results.cells.first(where: { $0.count == n }) else { continue }
                out += "| \(n) |" + floors.map { key, _, digits in
                    " " + (c.metrics[key].map { String(format: "%.\(digits)f", $0) } ?? "–") + " |"
                }.joined() + "\n"
            }
        }
        let nonFinite = results.cells.filter { $0.metrics["nonfinite_samples"] != nil }
        if !nonFinite.isEmpty {
            out += "\nCells with non-finite samples (not scored): "
                + nonFinite.map { "\($0.cell.id) (\(Int($0.metrics["nonfinite_samples"]!)))" }.joined(separator: ", ") + "\n"
        }
        return out
    }

    /// Methods in the order of the spec's samplers, Mix once per cutoff; those with results.
    static func rowOrder(_ results: SweepResults) -> [String] {
        var rows: [String] = []
        let present = Set(results.cells.map(method))
        for group in (try? results.spec.samplerSpecs()) ?? [] {
            for spec in group where present.contains(spec.displayName) && !rows.contains(spec.displayName) {
                rows.append(spec.displayName)
            }
        }
        return rows
    }

    /// The plotted metrics: key, axis label, whether a log axis suits it, whether higher is better
    /// (nil: neither, as for the log-density, whose best is the exact samples' value).
    static func plottedMetrics(_ results: SweepResults) -> [(key: String, label: String, logScale: Bool, higher: Bool?)] {
        let keys = metricKeys(results)
        let network = featureSource(results.spec).short
        return [
            ("fid", "FID (\(network) features)", true, false), ("is_mean", "IS (\(network) logits)", false, true),
            ("oracle_frechet", "exact Fréchet distance to the oracle", true, false),
            ("log_density", "mean log-density under the oracle", false, nil),
        ].filter { keys.contains($0.0) }
    }

    /// Every plot `write` draws, by file stem: `plots` and `intervalPlots`.
    public static func allPlots(_ results: SweepResults) -> [(String, any RenderablePlot)] {
        intervalPlots(results).map { ($0.0, $0.1 as any RenderablePlot) } + plots(results).map { ($0.0, $0.1 as any RenderablePlot) }
    }

    /// (file stem, plot) pairs: quality against NFE for each metric (log NFE axis; a log metric axis
    /// for the distances) when the sweep has two or more step counts, and, when Mix ran at two or
    /// more cutoffs, each metric against t_c with one line per step count and DDIM at that count as
    /// a dashed level (the paper's Figure 4).
    public static func plots(_ results: SweepResults) -> [(String, LinePlot)] {
        let metrics = plottedMetrics(results)
        var out: [(String, LinePlot)] = []
        for metric in metrics where results.spec.steps.count > 1 {
            let series = rowOrder(results).map { row in
                let cells = results.cells.filter { method($0) == row }.sorted { $0.nfe < $1.nfe }
                let scored = cells.filter { $0.metrics[metric.key] != nil }
                return LinePlot.Series(row, points: scored.map { (x: Double($0.nfe), y: $0.metrics[metric.key]!) },
                                       intervals: scored.map { c in c.interval(ofKey: metric.key).map { (low: $0[0], high: $0[1]) } })
            } + floorSeries(results.cells, metric.key) { c in [Double(c.nfe)] }
            out.append(("nfe-\(metric.key)", LinePlot(
                title: "\(metric.label) vs NFE — \(results.spec.model)", xLabel: "NFE (network evaluations)", yLabel: metric.label,
                xScale: .log10, yScale: metric.logScale ? .log10 : .linear, series: series)))
        }
        let mixCells = results.cells.filter { (try? $0.cell.spec.kind.name) == .mix }
        let cutoffs = mixCells.compactMap(\.cutoff)
        if Set(cutoffs).count >= 2, let first = cutoffs.min(), let last = cutoffs.max() {
            let steps = Set(mixCells.map(\.steps)).sorted()
            for metric in metrics {
                // Each step count's Mix line, followed by DDIM at those steps as a dashed level in
                // the same colour when the sweep has it (t_c above every step's start is DDIM).
                let series = steps.enumerated().flatMap { i, s -> [LinePlot.Series] in
                    let color = LinePlot.color(ofSeries: i)
                    let scored = mixCells.filter { $0.steps == s && $0.metrics[metric.key] != nil }
                        .sorted { ($0.cutoff ?? 0) < ($1.cutoff ?? 0) }
                    let mix = LinePlot.Series(
                        "Mix, \(s) steps", points: scored.map { (x: Double($0.cutoff ?? 0), y: $0.metrics[metric.key]!) },
                        intervals: scored.map { c in c.interval(ofKey: metric.key).map { (low: $0[0], high: $0[1]) } }, color: color)
                    guard let ddim = results.cells.first(where: { (try? $0.cell.spec) == SamplerSpec(.ddim(eta: 0)) && $0.steps == s })?.metrics[metric.key] else {
                        return [mix]
                    }
                    return [mix, LinePlot.Series("DDIM, \(s) steps", points: [(Double(first), ddim), (Double(last), ddim)],
                                                 color: color, dashed: true, markers: false)]
                } + floorSeries(mixCells, metric.key) { _ in [Double(first), Double(last)] }.enumerated().map { j, floor in
                    var floor = floor
                    floor.color = LinePlot.color(ofSeries: steps.count + j)
                    return floor
                }
                out.append(("cutoff-\(metric.key)", LinePlot(
                    title: "\(metric.label) vs the cutoff t_c — \(results.spec.model)", xLabel: "t_c (skipped-step while t ≥ t_c)",
                    yLabel: metric.label, yScale: metric.logScale ? .log10 : .linear, series: series)))
            }
        }
        return out
    }

    /// (file stem, plot) pairs for a sweep of one step count, where quality against NFE would stack
    /// every cell on one vertical: `cells-METRIC`, each method's value and 95 % interval as a row,
    /// best first, the best one's interval shaded (rows reaching into it are not resolved from it).
    /// Metrics with a direction only (not the log-density).
    public static func intervalPlots(_ results: SweepResults) -> [(String, IntervalPlot)] {
        guard results.spec.steps.count == 1, let steps = results.spec.steps.first else { return [] }
        return plottedMetrics(results).compactMap { metric in
            guard let higher = metric.higher else { return nil }
            let rows = rowOrder(results).compactMap { row -> IntervalPlot.Row? in
                guard let c = results.cells.first(where: { method($0) == row }), let value = c.metrics[metric.key] else { return nil }
                return IntervalPlot.Row(row, value: value, interval: c.interval(ofKey: metric.key).map { (low: $0[0], high: $0[1]) })
            }.sorted { higher ? $0.value > $1.value : $0.value < $1.value }
            let hasIntervals = rows.contains { $0.interval != nil }
            return ("cells-\(metric.key)", IntervalPlot(
                title: "\(metric.label) at \(steps) steps — \(results.spec.model)", xLabel: metric.label + (higher ? " ↑" : " ↓"),
                xScale: metric.logScale ? .log10 : .linear, rows: rows, reference: rows.isEmpty ? nil : 0,
                caption: hasIntervals ? "Bars: 95% bootstrap intervals over the samples; shaded: the best row's interval." : ""))
        }
    }

    /// The finite-sample floor of an exact metric (`key_exact`: the same statistic for as many exact
    /// samples of the oracle): one series per sample count, at the x positions `xs` gives for each
    /// cell of that count; none when the metric has no floor.
    static func floorSeries(_ cells: [CellResult], _ key: String, xs: (CellResult) -> [Double]) -> [LinePlot.Series] {
        let withFloor = cells.filter { $0.metrics[key + "_exact"] != nil }
        return Set(withFloor.map(\.count)).sorted(by: >).map { n in
            var floor: [Double: Double] = [:]
            for c in withFloor where c.count == n { for x in xs(c) { floor[x] = c.metrics[key + "_exact"]! } }
            return LinePlot.Series("exact samples (\(n))", points: floor.sorted { $0.key < $1.key }.map { (x: $0.key, y: $0.value) })
        }
    }

    /// Writes results.csv, table.md and plots/*.svg, *.png and *.pdf beside results.json, and removes
    /// the figures in plots/ that these results no longer draw (say the plots against NFE of a sweep
    /// that had two step counts and now has one).
    public static func write(_ results: SweepResults, to directory: URL) throws {
        try AtomicFile.write(Data(csv(results).utf8), to: directory.appendingPathComponent("results.csv"))
        try AtomicFile.write(Data(markdown(results).utf8), to: directory.appendingPathComponent("table.md"))
        let plotDirectory = directory.appendingPathComponent("plots", isDirectory: true)
        try FileManager.default.createDirectory(at: plotDirectory, withIntermediateDirectories: true)
        var written = Set<String>()
        for (stem, plot) in allPlots(results) {
            for format in PlotFormat.allCases {
                let name = stem + "." + format.rawValue
                try AtomicFile.write(plot.render(format), to: plotDirectory.appendingPathComponent(name))
                written.insert(name)
            }
        }
        for name in try FileManager.default.contentsOfDirectory(atPath: plotDirectory.path)
        where PlotFormat(path: name) != nil && !written.contains(name) {
            try FileManager.default.removeItem(at: plotDirectory.appendingPathComponent(name))
        }
    }

    /// grids/steps-S.png: for each step count, one row per method with the first samples of its
    /// cell (the same seeds in every row), from the cells' preview.npy.
    public static func writeGrids(_ results: SweepResults, directory: SweepDirectory, scale: Int = 2) throws {
        let gridDirectory = directory.url.appendingPathComponent("grids", isDirectory: true)
        try FileManager.default.createDirectory(at: gridDirectory, withIntermediateDirectories: true)
        for s in results.spec.steps.sorted() {
            var rows: [(label: String, images: [Image8])] = []
            for row in rowOrder(results) {
                guard let c = results.cells.first(where: { method($0) == row && $0.steps == s }),
                      FileManager.default.fileExists(atPath: directory.previewURL(c.cell).path) else { continue }
                let array = try NPYArray.read(from: directory.previewURL(c.cell))
                guard array.shape.count == 4, [1, 3].contains(array.shape[1]) else { return }
                let (ch, h, w) = (array.shape[1], array.shape[2], array.shape[3]), d = ch * h * w
                let images = (0..<array.shape[0]).map {
                    Image8.fromModelSpace(array.values[($0 * d)..<(($0 + 1) * d)], channels: ch, height: h, width: w)
                }
                rows.append((row, images))
            }
            guard !rows.isEmpty else { continue }
            try AtomicFile.write(try Image8.labeledGrid(rows: rows, scale: scale).pngData(),
                                 to: gridDirectory.appendingPathComponent("steps-\(s).png"))
        }
    }
}
