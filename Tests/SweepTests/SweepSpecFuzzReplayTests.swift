import Foundation
import Sweep
import Testing
import TestSupport

/// Replays the libFuzzer corpus of sweep.json (tools/fuzz/run.sh sweep-json,
/// Tests/Fixtures/fuzz/sweep-json) without the fuzzer, with the harness's checks: a file that
/// decodes and validates yields its metric suite or an error, and encodes to itself.
@Suite struct SweepSpecFuzzReplayTests {
    @Test func replayCorpus() throws {
        let corpus = fuzzCorpus("sweep-json")
        #expect(corpus.count > 100)
        var valid = 0
        for (name, data) in corpus {
            guard let spec = try? JSONDecoder().decode(SweepSpec.self, from: data), (try? spec.validate()) != nil else { continue }
            valid += 1
            _ = try? spec.metricSuite()
            let again = try JSONDecoder().decode(SweepSpec.self, from: JSONEncoder().encode(spec))
            #expect(again == spec, "\(name): a valid sweep.json does not round-trip")
        }
        #expect(valid > 3)
    }
}
