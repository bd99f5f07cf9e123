import Diffusion
import Foundation
import Models
import Sweep
import Testing
import TestSupport

/// `skipstep tune`'s search on the small Gaussian-mixture oracle, ranked by the exact Fréchet distance.
@Suite struct TunerTests {
    static func settings(_ model: String, family: TuneFamily = .cutoff) -> TuneSettings {
        TuneSettings(model: model, steps: 10, family: family, metric: "oracle_frechet", seed: 5, batch: 20,
                     startCount: 40, maxCount: 160)
    }

    static func tune(_ settings: TuneSettings, _ url: URL) async throws -> TunedChoice {
        try await Tuner(settings: settings, directory: url).run(
            model: { try ModelCatalog.load(path: settings.model) },
            evaluator: { spec, model in try SweepEvaluator(spec: spec, model: model, network: nil, reference: nil) })
    }

    @Test func successiveHalvingPicksAResolvedBestAndResumes() async throws {
        let (dir, model) = try SweepTests.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let settings = Self.settings(model)
        let url = dir.appendingPathComponent("tune")
        let choice = try await Self.tune(settings, url)
        let oracle = try ModelCatalog.load(path: model)
        let candidates = try Tuner.candidates(settings, model: oracle)
        // k_c = 0 (DDIM) and the 10 handover points of a 10-step schedule.
        #expect(candidates.first == "mix:skip-steps=0" && candidates.count == 11)
        #expect(candidates.contains(choice.spec))
        #expect(choice.cutoff == (try SamplerSpec(parsing: choice.spec)).cutoffIndex)
        // Round 1 tries every candidate at 40 samples; each later round doubles the count and keeps a third.
        let rounds = Dictionary(grouping: choice.cells, by: \.round)
        #expect(rounds[1]?.count == candidates.count && rounds[1]?.allSatisfy { $0.count == 40 } == true)
        for r in rounds.keys.sorted().dropFirst() {
            let before = rounds[r - 1]!, now = rounds[r]!
            #expect(Set(now.map(\.spec)) == Set(before.filter(\.kept).map(\.spec)))
            #expect(now.count <= max(1, Int((Double(before.count) / 3).rounded(.up))))
            #expect(now.allSatisfy { $0.count == min(160, 40 << (r - 1)) })
        }
        let final = try #require(rounds[rounds.keys.max()!])
        #expect(final.filter(\.kept).map(\.spec) == [choice.spec])
        #expect(choice.value == final.compactMap(\.value).min())
        let interval = try #require(choice.interval)
        #expect(interval[0] <= choice.value && choice.value <= interval[1])
        // Cost: each candidate's samples are drawn once (later rounds extend them), NFE 10 each.
        let expected = rounds.keys.sorted().reduce(0) { total, r in
            total + rounds[r]!.reduce(0) { $0 + $1.count - (r == 1 ? 0 : $1.count / 2) }
        }
        #expect(choice.cost.samples == expected && choice.cost.networkEvaluations == 10 * expected)
        // Cheaper than scoring every candidate at the final count.
        #expect(choice.cost.samples < candidates.count * final[0].count)

        let read = try TunedChoice.read(from: url.appendingPathComponent("tuned.json"))
        #expect(read == choice)
        // A rerun resumes from the stored rounds: the same choice, nothing resampled.
        let chunk = url.appendingPathComponent("round-1/sweep.json")
        let before = try FileManager.default.attributesOfItem(atPath: chunk.path)[.modificationDate] as? Date
        let again = try await Self.tune(settings, url)
        #expect(again == choice)
        #expect(try FileManager.default.attributesOfItem(atPath: chunk.path)[.modificationDate] as? Date == before)
        // Other options in the same directory are refused.
        var other = settings
        other.maxCount = 80
        await #expect(throws: SweepError.self) { try await Self.tune(other, url) }
    }

    @Test func etaAndSpacingFamilies() async throws {
        let (dir, model) = try SweepTests.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let oracle = try ModelCatalog.load(path: model)
        #expect(try Tuner.candidates(Self.settings(model, family: .eta), model: oracle)
                == ["ddim", "ddim:eta=0.2", "ddim:eta=0.4", "ddim:eta=0.6", "ddim:eta=0.8", "ddim:eta=1"])
        var spacing = Self.settings(model, family: .spacing)
        spacing.baseSampler = "dpmpp-2m"
        // At 10 of 1 000 steps uniform and linspace are the same grid (0, 111, …, 999): tried once.
        let uniform = try oracle.makeSampler(SamplerSpec(parsing: "dpmpp-2m:spacing=uniform"), steps: 10)
        let linspace = try oracle.makeSampler(SamplerSpec(parsing: "dpmpp-2m:spacing=linspace"), steps: 10)
        #expect(uniform.timesteps == [999, 888, 777, 666, 555, 444, 333, 222, 111, 0] && uniform.steps == linspace.steps)
        #expect(try Tuner.candidates(spacing, model: oracle).map { $0.replacingOccurrences(of: "dpmpp-2m:spacing=", with: "") }
                == ["uniform", "trailing", "quadratic", "karras", "logsnr"])
        spacing.maxCount = 40
        let choice = try await Self.tune(spacing, dir.appendingPathComponent("spacing"))
        #expect(choice.spec.hasPrefix("dpmpp-2m:spacing="))
        #expect(choice.cutoff == nil && choice.cells.count == 5)  // one round (start = max = 40), each distinct grid once
    }
}

extension SamplerSpec {
    var cutoffIndex: Int? {
        if case .mix(.timestep(let tc)) = kind { return tc }
        return nil
    }
}
