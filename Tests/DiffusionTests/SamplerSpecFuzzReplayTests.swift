import Diffusion
import Foundation
import Testing
import TestSupport

/// Replays the libFuzzer corpus of the sampler-spec parser (tools/fuzz/run.sh sampler-spec,
/// Tests/Fixtures/fuzz/sampler-spec) without the fuzzer, with the harness's checks: the first byte
/// is a step count, the rest the spec text; a parsed spec prints as text that parses back to it,
/// and binding it to a schedule fails only by throwing.
@Suite struct SamplerSpecFuzzReplayTests {
    @Test func replayCorpus() throws {
        let corpus = fuzzCorpus("sampler-spec")
        #expect(corpus.count > 100)
        let schedule = try NoiseSchedule(.linear())
        var parsed = 0
        for (name, data) in corpus {
            guard let first = data.first else { continue }
            let text = String(decoding: data.dropFirst(), as: UTF8.self)
            guard let spec = try? SamplerSpec(parsing: text) else { continue }
            parsed += 1
            #expect((try? SamplerSpec(parsing: spec.description)) == spec, "\(name): '\(text)' prints as '\(spec)'")
            _ = try? spec.makeSampler(steps: Int(first % 64), schedule: schedule)
        }
        #expect(parsed > 10)
    }
}
