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
        // One step count: no plot against NFE (it would stack the cells on one vertical) but one row
        // per method, best first, each with its interval.
        #expect(SweepReport.allPlots(results).map(\.0) == ["cells-oracle_frechet"])
        let plot = try #require(SweepReport.intervalPlots(results).first?.1)
        let values = results.cells.compactMap { $0.metrics["oracle_frechet"] }
        #expect(plot.rows.map(\.value) == values.sorted() && plot.reference == 0)
        #expect(plot.rows.allSatisfy { row in row.interval != nil })
        let naiveRow = try #require(plot.rows.first { $0.name == "DDPM (naive stride)" })
        let naiveCell = try #require(results.cells.first { $0.sampler == "ddpm-naive" })
        #expect(naiveRow.interval?.low == naiveCell.intervals["oracle_frechet"]?[0] && naiveRow.interval?.high == naiveCell.intervals["oracle_frechet"]?[1])
        // Each interval is drawn: a bar and two caps, the best row's in the second colour (Media's PlotTests check their geometry).
        let drawing = try plot.drawing(width: plot.pageSize.width, height: plot.pageSize.height)
        func bars(_ color: PlotColor) -> Int {
            drawing.marks.count { if case let .line(_, c, width, _, _) = $0 { c == color && width == 1.1 } else { false } }
        }
        #expect(bars(LinePlot.color(ofSeries: 1)) == 3 && bars(LinePlot.color(ofSeries: 0)) == 3 * (plot.rows.count - 1))
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
