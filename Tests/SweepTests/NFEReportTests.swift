import Diffusion
import Foundation
import Sweep
import Testing

/// Sweeps record the network evaluations a cell spent, not only its steps: PNDM evaluates the
/// network once more than its steps, and the reports say so instead of "NFE = steps".
@Suite struct NFEReportTests {
    @Test func pndmCellsCountTheirExtraEvaluation() async throws {
        let (dir, model) = try SweepTests.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let spec = SweepSpec(model: model, samplers: ["ddim", "pndm"], steps: [10], cutoffs: [], count: 50,
                             seed: 3, batch: 50, metrics: [])
        let results = try #require(try await SweepTests.run(spec, dir.appendingPathComponent("s")))
        #expect(results.cells.map { [$0.steps, $0.nfe] } == [[10, 10], [10, 11]])
        let table = SweepReport.markdown(results)
        #expect(table.contains("NFE = steps except PNDM 11 at 10 steps"), "\(table)")
        #expect(SweepReport.csv(results).contains("pndm,10,11,"))
        let same = SweepResults(spec: spec, cells: results.cells.filter { $0.sampler == "ddim" })
        #expect(SweepReport.markdown(same).contains("NFE = steps for every sampler."))
    }
}
