import Diffusion
import Testing

/// A model (or a bad config) that produces NaN/∞ used to have it written out with exit 0; the
/// library now names the first non-finite value, its timestep, sample and element.
@Suite struct FiniteCheckTests {
    /// Returns zeros, except a chosen value at one (timestep, flat index).
    struct Faulty: Denoiser {
        var sampleShape: [Int] = [1, 2, 2]
        var predictionType: PredictionType = .epsilon
        var badTimestep: Double
        var badIndex: Int
        var badValue: Float
        func predict(_ x: [Float], batch: Int, timestep: Double) throws -> [Float] {
            var out = [Float](repeating: 0, count: x.count)
            if timestep == badTimestep { out[badIndex] = badValue }
            return out
        }
    }

    @Test func firstNonFiniteFindsTheFirst() {
        #expect(FiniteCheck.firstNonFinite([Float]([1, 2, 3])) == nil)
        let found = FiniteCheck.firstNonFinite([Float]([1, .infinity, .nan]))
        #expect(found?.index == 1 && found?.value == .infinity)
        #expect(throws: NonFiniteError(what: "the samples", sample: 1, element: 2, value: -.infinity)) {
            try FiniteCheck.requireFinite([0, 0, 0, 0, 0, 0, -.infinity, 0], sampleCount: 4, what: "the samples")
        }
    }

    @Test func theWrapperNamesTimestepSampleAndElement() throws {
        let model = FiniteCheckingDenoiser(Faulty(badTimestep: 7, badIndex: 6, badValue: .nan))
        #expect(try model.predict([Float](repeating: 0, count: 8), batch: 2, timestep: 6) == [Float](repeating: 0, count: 8))
        let error = #expect(throws: NonFiniteError.self) {
            try model.predict([Float](repeating: 0, count: 8), batch: 2, timestep: 7)
        }
        #expect(error?.timestep == 7 && error?.sample == 1 && error?.element == 2 && error?.what == "the model output")
        #expect(error?.localizedDescription.contains("timestep 7") == true)
        let input = #expect(throws: NonFiniteError.self) {
            try model.predict([0, 0, 0, 0, 0, .nan, 0, 0], batch: 2, timestep: 1)
        }
        #expect(input?.what == "the model input" && input?.sample == 1 && input?.element == 1)
    }

    @Test func aSamplingRunStopsAtTheFirstBadStep() throws {
        let schedule = try NoiseSchedule(.linear())
        let timesteps = try Spacing.uniform.timesteps(trainSteps: 1000, steps: 10)
        let bad = try #require(timesteps.dropFirst(3).first)
        let sampler = try Sampler(.ddim(eta: 0), schedule: schedule, timesteps: timesteps)
        var run = try Denoising(sampler: sampler,
                                denoiser: FiniteCheckingDenoiser(Faulty(badTimestep: Double(bad), badIndex: 0, badValue: .infinity)),
                            generators: [RandomKind.philox.makeSource(seed: 1)])
        let error = #expect(throws: NonFiniteError.self) { while try run.advance() != nil {} }
        #expect(error?.timestep == Double(bad))
    }
}
