import Foundation
import Testing

/// Flags with values out of range, and runtime errors: a clear message, a non-zero exit, no usage
/// line where the command line itself was fine, nothing written.
extension CLITests {
    @Test func negativeNumbersAreRefusedByRangeNotAsMissingValues() throws {
        let (dir, model) = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out.npy").path
        let cases: [([String], String)] = [
            (["sample", "--model", model, "--count", "-5", "--out", out], "--count must be at least 1, got -5"),
            (["sample", "--model", model, "--batch", "-1", "--out", out], "--batch must be at least 1, got -1"),
            (["sample", "--model", model, "--sampler", "mix", "--cutoff", "-3", "--out", out], "--cutoff: cutoff -3: expected a model index ≥ 0"),
            (["sample", "--model", model, "--sampler", "ddim", "--eta", "-1", "--out", out], "--eta: eta must be a finite number ≥ 0"),
            (["schedule", "--timesteps", "-10"], "--timesteps must be in 1…"),
            (["schedule", "--timesteps", "1000000000000"], "--timesteps must be in 1…"),
        ]
        for (arguments, expected) in cases {
            let r = try Self.run(arguments)
            #expect(r.status != 0 && r.stderr.contains(expected), "\(arguments): \(r.stderr)")
            #expect(!r.stderr.contains("Missing value"), "\(arguments): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }

    @Test func aSampleFolderIsNotMixedWithAnEarlierRun() throws {
        let (dir, model) = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        // The mixture's samples are 1×2×3: PNGs need C×H×W with 1 or 3 channels, which it has.
        let folder = dir.appendingPathComponent("pngs")
        let first = try Self.run(["sample", "--model", model, "--count", "5", "--out", folder.path])
        #expect(first.status == 0, "\(first.stderr)")
        let again = try Self.run(["sample", "--model", model, "--count", "3", "--out", folder.path])
        #expect(again.status != 0 && again.stderr.contains("--overwrite"), "\(again.stderr)")
        #expect(!again.stderr.contains("Usage:"), "a runtime error needs no usage line: \(again.stderr)")
        let overwrite = try Self.run(["sample", "--model", model, "--count", "3", "--overwrite", "--out", folder.path])
        #expect(overwrite.status == 0, "\(overwrite.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
                == ["sample_00000.png", "sample_00001.png", "sample_00002.png"])
    }
}
