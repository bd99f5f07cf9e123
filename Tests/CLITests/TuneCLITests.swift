import Foundation
import Media
import Testing
import TestSupport

/// `tune` stores its choice where `sample --cutoff auto` finds it; `--sampler-from` reads any tuned.json.
extension CLITests {
    @Test func tuneThenSampleWithTheTunedCutoff() throws {
        let (dir, model) = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let env = ["SKIPSTEP_CACHE_DIR": dir.appendingPathComponent("cache").path]
        let t = try Self.run(["tune", "--model", model, "--steps", "5", "--family", "cutoff", "--metric", "oracle_frechet",
                              "--start-count", "20", "--max-count", "40", "--batch", "10", "--seed", "3"], environment: env)
        #expect(t.status == 0, "\(t.stderr)")
        let key = model.replacingOccurrences(of: "/", with: "_")
        let tunedURL = dir.appendingPathComponent("cache/tuned/\(key)/steps-5/cutoff/tuned.json")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: tunedURL)) as? [String: Any])
        let spec = try #require(json["spec"] as? String)
        #expect(t.stdout.hasPrefix(spec), "\(t.stdout)")
        #expect(spec.hasPrefix("mix:"))
        #expect((json["cost"] as? [String: Any])?["network_evaluations"] != nil && (json["interval"] as? [Double])?.count == 2)

        // Rerun with the chunk files deleted (as docs/results keeps only results): the same choice
        // and the same cost, not the carried chunks counted again.
        let tuneDir = tunedURL.deletingLastPathComponent()
        let files = FileManager.default.enumerator(at: tuneDir, includingPropertiesForKeys: nil)?.allObjects as? [URL] ?? []
        let chunks = files.filter { $0.lastPathComponent.hasPrefix("chunk-") }
        #expect(!chunks.isEmpty)
        for chunk in chunks { try FileManager.default.removeItem(at: chunk) }
        let again = try Self.run(["tune", "--model", model, "--steps", "5", "--family", "cutoff", "--metric", "oracle_frechet",
                                  "--start-count", "20", "--max-count", "40", "--batch", "10", "--seed", "3"], environment: env)
        #expect(again.status == 0, "\(again.stderr)")
        let rerun = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: tunedURL)) as? [String: Any])
        let cost = { (j: [String: Any]) in (j["cost"] as? [String: Any])?["network_evaluations"] as? Int }
        #expect(rerun["spec"] as? String == spec && cost(rerun) == cost(json),
                "\(String(describing: rerun["cost"])) vs \(String(describing: json["cost"]))")

        // --cutoff auto and --sampler-from give the samples of the tuned spec itself.
        func sample(_ flags: [String], _ name: String) throws -> [Float] {
            let out = dir.appendingPathComponent(name).path
            let r = try Self.run(["sample", "--model", model, "--steps", "5", "--count", "6", "--seed", "2", "--out", out] + flags,
                                 environment: env)
            #expect(r.status == 0, "\(flags): \(r.stderr)")
            return try NPYArray.read(from: URL(fileURLWithPath: out)).values
        }
        let direct = try sample(["--sampler", spec], "direct.npy")
        #expect(try sample(["--sampler", "mix", "--cutoff", "auto"], "auto.npy") == direct)
        #expect(try sample(["--sampler-from", tunedURL.path], "from.npy") == direct)

        // No tuned file for another step count: the error says how to make one.
        let missing = try Self.run(["sample", "--model", model, "--steps", "7", "--sampler", "mix", "--cutoff", "auto",
                                    "--out", dir.appendingPathComponent("x.npy").path], environment: env)
        #expect(missing.status != 0 && missing.stderr.contains("skipstep tune --model"), "\(missing.stderr)")
        let wrongSteps = try Self.run(["sample", "--model", model, "--steps", "7", "--sampler-from", tunedURL.path,
                                       "--out", dir.appendingPathComponent("y.npy").path], environment: env)
        #expect(wrongSteps.status != 0 && wrongSteps.stderr.contains("tuned at 5 steps"), "\(wrongSteps.stderr)")
        let bad = try Self.run(["sample", "--model", model, "--sampler-from", dir.appendingPathComponent("nothing.json").path,
                                "--out", dir.appendingPathComponent("z.npy").path], environment: env)
        #expect(bad.status != 0 && bad.stderr.contains("nothing.json"), "\(bad.stderr)")
    }
}
