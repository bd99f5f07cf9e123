import Diffusion
import Foundation
@testable import Media
import Models
import Sweep
import Testing
import TestSupport

/// Sweep cells carry bootstrap intervals (`m_ci` in results.json), reports print and plot them.
@Suite struct IntervalReportTests {
    @Test func cellsCarryIntervalsThatTablesAndPlotsShow() async throws {
        let (dir, model) = try SweepTests.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let spec = SweepSpec(model: model, samplers: ["ddpm-naive", "skip", "ddim"], steps: [10], cutoffs: [], count: 200,
                             seed: 3, batch: 100, metrics: [])
        let results = try #require(try await SweepTests.run(spec, dir.appendingPathComponent("s")))
        for cell in results.cells {
            let ci = try #require(cell.intervals["oracle_frechet"], "\(cell.cell.id)")
            let value = try #require(cell.metrics["oracle_frechet"])
            #expect(ci[0] <= value && value <= ci[1] && ci[0] < ci[1])
        }
        // results.json: each interval beside its metric as m_ci: [low, high], read back the same.
        let json = try String(contentsOf: dir.appendingPathComponent("s/results.json"), encoding: .utf8)
        #expect(json.contains("\"oracle_frechet_ci\" : ["))
        #expect(try SweepResults.read(from: dir.appendingPathComponent("s/results.json")) == results)
        // Seeded: a rerun scores to the same intervals.
        let again = try #require(try await SweepTests.run(spec, dir.appendingPathComponent("t")))
        #expect(again.cells.map(\.intervals) == results.cells.map(\.intervals))

        let table = SweepReport.markdown(results)
        #expect(table.contains("Intervals: 95% percentile bootstrap"))
        // Naive strided DDPM is far worse than skipped-step: resolved (unmarked, outside the best's interval).
        let naive = try #require(table.split(separator: "\n").first { $0.hasPrefix("| DDPM (naive stride) |") && $0.contains("[") })
        #expect(!naive.contains("≈") && !naive.contains("**"))
        let csv = SweepReport.csv(results)
        #expect(csv.split(separator: "\n")[0].contains("oracle_frechet_ci_low,oracle_frechet_ci_high"))
        let plot = try #require(SweepReport.plots(results).first { $0.0 == "nfe-oracle_frechet" }?.1)
        #expect(plot.series[0].intervals.count == plot.series[0].points.count && plot.series[0].intervals.allSatisfy { $0 != nil })
        // Each interval is drawn: a bar and two caps in the series' colour (Media's PlotTests check their geometry).
        let color = LinePlot.color(ofSeries: 0)
        let bars = try plot.drawing().marks.filter { if case let .line(_, c, width, _, _) = $0 { c == color && width == 1.1 } else { false } }
        #expect(bars.count == 3 * plot.series[0].points.count)
    }

    /// Two cells whose intervals overlap are marked as not resolved.
    @Test func overlappingIntervalsAreMarked() throws {
        let spec = SweepSpec(model: "m", samplers: ["skip", "ddim"], steps: [10], cutoffs: [], count: 10, seed: 1, batch: 10,
                             metrics: ["fid"])
        func cell(_ sampler: String, _ fid: Double, _ ci: [Double]) -> CellResult {
            CellResult(sampler: sampler, steps: 10, nfe: 10, cutoff: nil, skipSteps: nil, count: 10, metrics: ["fid": fid],
                       intervals: ["fid": ci], samplingSeconds: 0, evaluationSeconds: 0)
        }
        let overlapping = SweepResults(spec: spec, cells: [cell("skip", 10, [9, 11]), cell("ddim", 10.5, [10.8, 12])])
        #expect(SweepReport.markdown(overlapping).contains("| DDIM | ≈ 10.500 [10.800, 12.000] |"))
        let separate = SweepResults(spec: spec, cells: [cell("skip", 10, [9, 11]), cell("ddim", 13, [12, 14])])
        #expect(SweepReport.markdown(separate).contains("| DDIM | 13.000 [12.000, 14.000] |"))
        #expect(SweepReport.markdown(separate).contains("| Skipped-step | **10.000 [9.000, 11.000]** |"))
    }
}
