import Foundation
import Media
import Testing
import TestSupport

/// `skipstep eval --network inception` without its weights: the error names the file and the fix.
@Suite struct EvalInceptionCLITests {
    @Test func missingInceptionWeightsSayWhereToGetThem() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("skipstep-incep-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = dir.appendingPathComponent("a.npy")
        try NPYArray(shape: [2, 3, 8, 8], values: (0..<384).map { Float($0 % 17) / 8 - 1 }).write(to: a)
        let missing = dir.appendingPathComponent("none.safetensors").path
        for (arguments, environment) in [
            (["--weights", missing], [String: String]()),
            ([], ["SKIPSTEP_INCEPTION_WEIGHTS": missing]),
        ] {
            let r = try CLITests.run(["eval", a.path, "--reference", a.path, "--network", "inception"] + arguments,
                                     environment: environment)
            #expect(r.status != 0, "\(r.stdout)")
            for part in [missing, "pt_inception-2015-12-05-6726825d.pth", "tools/convert_inception.py"] {
                #expect(r.stderr.contains(part), "\(r.stderr)")
            }
        }
        // The default location is the cache directory.
        let r = try CLITests.run(["eval", a.path, "--reference", a.path, "--network", "inception"],
                                 environment: ["SKIPSTEP_CACHE_DIR": dir.path, "SKIPSTEP_INCEPTION_WEIGHTS": ""])
        #expect(r.status != 0 && r.stderr.contains(dir.appendingPathComponent("pt_inception-2015-12-05-6726825d.safetensors").path),
                "\(r.stderr)")
        let bad = try CLITests.run(["eval", a.path, "--reference", a.path, "--network", "alexnet"])
        #expect(bad.status != 0 && bad.stderr.contains("alexnet"), "\(bad.stderr)")
    }
}
