import Foundation
import Diffusion
import Media
import Models
import Testing
import TestSupport

/// Runs the built `skipstep` binary as a user would.
@Suite struct CLITests {
    struct Result { var status: Int32; var stdout: String; var stderr: String }

    static let binary: URL = {
        // The test bundle and the executable are built into the same directory.
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("skipstep").path),
              directory.path != "/" {
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent("skipstep")
    }()

    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// A temporary directory holding a small 1×2×3 two-component mixture saved as safetensors.
    static func workspace() throws -> (directory: URL, model: String) {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("skipstep-cli-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let d = 6
        func covariance(_ scale: Double) -> [Double] {
            (0..<(d * d)).map { i in i / d == i % d ? scale * (1 + Double(i % d) / 10) : (abs(i / d - i % d) == 1 ? 0.02 : 0) }
        }
        let mixture = try GaussianMixture(components: [
            .init(weight: 0.3, mean: [0.5, -0.5, 0.2, 0, 0.1, -0.2], covariance: covariance(0.05)),
            .init(weight: 0.7, mean: [-0.4, 0.3, 0, 0.6, -0.1, 0.2], covariance: covariance(0.1)),
        ], sampleShape: [1, 2, 3])
        let model = directory.appendingPathComponent("tiny.safetensors")
        try mixture.save(to: model)
        return (directory, model.path)
    }

    @Test func samplesDoNotDependOnTheBatchSize() throws {
        let (dir, model) = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        var outputs: [[Float]] = []
        for batch in ["1", "5"] {
            let out = dir.appendingPathComponent("b\(batch).npy").path
            let r = try Self.run(["sample", "--model", model, "--sampler", "mix", "--steps", "10", "--skip-steps", "4",
                                  "--count", "5", "--batch", batch, "--seed", "3", "--out", out])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stderr.contains("seed 3"))
            let array = try NPYArray.read(from: URL(fileURLWithPath: out))
            #expect(array.shape == [5, 1, 2, 3])
            outputs.append(array.values)
        }
        #expect(outputs[0] == outputs[1])
        #expect(outputs[0].allSatisfy { $0.isFinite })
    }

    @Test func givenNoiseIsUsedAndImagesAreWritten() throws {
        let (dir, model) = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let noise = dir.appendingPathComponent("noise.npy")
        try NPYArray(shape: [2, 1, 2, 3], values: (0..<12).map { Float($0) / 6 - 1 }).write(to: noise)
        let a = dir.appendingPathComponent("a.npy").path, b = dir.appendingPathComponent("b.npy").path
        for (out, seed) in [(a, "1"), (b, "2")] {
            let r = try Self.run(["sample", "--model", model, "--sampler", "ddim", "--steps", "5", "--noise", noise.path,
                                  "--seed", seed, "--out", out])
            #expect(r.status == 0, "\(r.stderr)")
        }
        // DDIM(η = 0) from a given x_T is deterministic: the seed no longer matters.
        let first = try NPYArray.read(from: URL(fileURLWithPath: a)), second = try NPYArray.read(from: URL(fileURLWithPath: b))
        #expect(first == second)
        // …and it is exactly what the library computes from that x_T.
        let loaded = try ModelCatalog.load(path: model)
        let timesteps = try Spacing.uniform.timesteps(trainSteps: loaded.schedule.trainSteps, steps: 5)
        let sampler = try Sampler(.ddim(eta: 0), schedule: loaded.schedule, timesteps: timesteps)
        var denoising = try Denoising(sampler: sampler, denoiser: loaded.denoiser,
                                  generators: [RandomKind.philox.makeSource(seed: 0), RandomKind.philox.makeSource(seed: 1)],
                                  initialNoise: try NPYArray.read(from: noise).values)
        #expect(try denoising.run() == first.values)
        let png = dir.appendingPathComponent("grid.png").path
        #expect(try Self.run(["sample", "--model", model, "--count", "4", "--out", png]).status == 0)
        #expect(try Image8.readPNG(from: URL(fileURLWithPath: png)).channels == 1)
        let folder = dir.appendingPathComponent("pngs").path
        #expect(try Self.run(["sample", "--model", model, "--count", "3", "--out", folder]).status == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
                == ["sample_00000.png", "sample_00001.png", "sample_00002.png"])
    }

    /// Bad input: a clear message naming the flag or file, a non-zero exit, no output file.
    @Test func badInputIsRefusedCleanly() throws {
        let (dir, model) = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out.npy").path
        let wrongNoise = dir.appendingPathComponent("wrong.npy")
        try NPYArray(shape: [2, 1, 3, 3], values: Array(repeating: 0, count: 18)).write(to: wrongNoise)
        let garbage = dir.appendingPathComponent("garbage.npy")
        try Data("not an npy file".utf8).write(to: garbage)
        let cases: [([String], String)] = [
            (["--sampler", "euler"], "euler"),
            (["--steps", "0"], "--steps"),
            (["--steps", "1001"], "1000"),
            (["--sampler", "mix", "--cutoff", "1000"], "t_c"),
            (["--sampler", "mix", "--cutoff", "-3"], "--cutoff"),
            (["--sampler", "mix", "--steps", "10", "--skip-steps", "11"], "--skip-steps"),
            (["--sampler", "mix"], "--cutoff"),
            (["--sampler", "skip", "--cutoff", "300"], "mix only"),
            (["--noise", wrongNoise.path], "wrong.npy"),
            (["--noise", garbage.path], "garbage.npy"),
            (["--noise", dir.appendingPathComponent("missing.npy").path], "missing.npy"),
            (["--spacing", "ddim", "--steps", "600"], "stride"),
            (["--spacing", "list:5,x"], "list"),
        ]
        for (arguments, expected) in cases {
            let r = try Self.run(["sample", "--model", model, "--out", out] + arguments)
            #expect(r.status != 0, "\(arguments) should fail")
            #expect(r.stderr.contains(expected), "\(arguments): \(r.stderr)")
            #expect(!r.stderr.contains("Fatal error"), "\(arguments) crashed: \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out), "\(arguments) left \(out)")
        }
        let unwritable = try Self.run(["sample", "--model", model, "--out", "/nonexistent/dir/out.npy"])
        #expect(unwritable.status != 0 && unwritable.stderr.contains("/nonexistent/dir"), "\(unwritable.stderr)")
        let badModel = try Self.run(["sample", "--model", dir.appendingPathComponent("nope").path, "--out", out])
        #expect(badModel.status != 0 && badModel.stderr.contains("nope"), "\(badModel.stderr)")
    }

    /// A diffusers pipeline folder (a random 1×28×28 UNet) with every sampler.
    @Test func everySamplerRunsOnADiffusersFolder() throws {
        let (dir, _) = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = Fixtures.url("unet/pipeline_one_channel_28").path
        let samplers: [[String]] = [["ddpm"], ["ddpm-naive"], ["skip"], ["ddim", "--eta", "0.5"],
                                    ["mix", "--skip-steps", "1"], ["dpmpp-2m"]]
        for sampler in samplers {
            let out = dir.appendingPathComponent("\(sampler[0]).npy")
            let r = try Self.run(["sample", "--model", model, "--steps", "3", "--count", "2", "--out", out.path,
                                  "--sampler"] + sampler)
            #expect(r.status == 0, "\(sampler): \(r.stderr)")
            let array = try NPYArray.read(from: out)
            #expect(array.shape == [2, 1, 28, 28] && array.values.allSatisfy { $0.isFinite }, "\(sampler)")
        }
        let bench = try Self.run(["bench", "--model", model, "--batch", "2", "--runs", "1", "--warmup", "0", "--json"])
        #expect(bench.status == 0 && bench.stdout.contains("gflop_per_image"), "\(bench.stderr)")
    }

    @Test func evalScoresImagesAndFeatures() throws {
        let (dir, model) = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Images: two small sets in [-1, 1], scored with the shipped classifier.
        var source = RandomKind.philox.makeSource(seed: 9)
        let a = dir.appendingPathComponent("a.npy"), b = dir.appendingPathComponent("b.npy")
        try NPYArray(shape: [12, 1, 28, 28], values: source.standardNormal(count: 12 * 784).map { max(-1, min(1, $0)) }).write(to: a)
        try NPYArray(shape: [15, 1, 28, 28], values: source.standardNormal(count: 15 * 784).map { max(-1, min(1, $0 / 2)) }).write(to: b)
        let r = try Self.run(["eval", a.path, "--reference", b.path, "--metrics", "fid,kid,precision,recall,is", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Double] ?? [:]
        #expect(Set(report.keys) == ["fid", "kid_mean", "kid_std", "precision", "recall", "is_mean", "is_std", "samples", "reference"])
        #expect(report["samples"] == 12 && report["reference"] == 15 && (report["fid"] ?? -1) > 0)
        #expect(r.stderr.contains("singular"), "12 samples of 128-d features: a singular covariance is warned about")
        // Raw features: FID of a set against itself is 0.
        let f = dir.appendingPathComponent("f.npy")
        try NPYArray(shape: [40, 4], values: source.standardNormal(count: 160)).write(to: f)
        let same = try Self.run(["eval", "--features", f.path, "--reference-features", f.path, "--metrics", "fid", "--json"])
        let fid = (try JSONSerialization.jsonObject(with: Data(same.stdout.utf8)) as? [String: Double])?["fid"] ?? -1
        #expect(same.status == 0 && abs(fid) < 1e-9, "\(same.stderr)")
        // Bad input.
        let bad = try Self.run(["eval", a.path, "--reference", dir.appendingPathComponent("none.npy").path])
        #expect(bad.status != 0 && bad.stderr.contains("none.npy"), "\(bad.stderr)")
        let badMetric = try Self.run(["eval", a.path, "--reference", b.path, "--metrics", "fdi"])
        #expect(badMetric.status != 0 && badMetric.stderr.contains("fdi"), "\(badMetric.stderr)")
        var withNaN = try NPYArray.read(from: a)
        withNaN.values[3 * 784 + 100] = .nan
        let nanFile = dir.appendingPathComponent("nan.npy")
        try withNaN.write(to: nanFile)
        let nan = try Self.run(["eval", nanFile.path, "--reference", b.path])
        #expect(nan.status != 0 && nan.stderr.contains("nan.npy: image 3 holds nan"), "\(nan.stderr)")
        let wrongShape = try Self.run(["eval", "--features", f.path, "--reference-features", a.path])
        #expect(wrongShape.status != 0 && wrongShape.stderr.contains("a.npy"), "\(wrongShape.stderr)")
        // A variance the model cannot provide is refused before sampling.
        let variance = try Self.run(["sample", "--model", model, "--sampler", "ddpm", "--variance", "learned_range",
                                     "--out", dir.appendingPathComponent("v.npy").path])
        #expect(variance.status != 0 && variance.stderr.contains("--variance"), "\(variance.stderr)")
    }

    @Test func evalTakesSlicesOfFashionMNIST() throws {
        // The same 300 test images on both sides: FID 0 up to rounding (the 128-d covariance of 300
        // images is singular); disjoint slices: a positive FID.
        let same = try Self.run(["eval", "fashion-mnist:test[0:300]", "--reference", "fashion-mnist:test[0:300]", "--metrics", "fid", "--json"])
        let sameReport = try JSONSerialization.jsonObject(with: Data(same.stdout.utf8)) as? [String: Double] ?? [:]
        #expect(same.status == 0 && sameReport["samples"] == 300 && abs(sameReport["fid"] ?? 1) < 1e-3, "\(same.stderr)")
        let other = try Self.run(["eval", "fashion-mnist:test[300:600]", "--reference", "fashion-mnist:test[0:300]", "--metrics", "fid", "--json"])
        let otherReport = try JSONSerialization.jsonObject(with: Data(other.stdout.utf8)) as? [String: Double] ?? [:]
        #expect(other.status == 0 && (otherReport["fid"] ?? 0) > 0.01, "\(other.stderr)")
        for (source, message) in [("fashion-mnist:test[5:2]", "0 ≤ A < B"), ("fashion-mnist:test[0:20000]", "has 10000 images"),
                                  ("fashion-mnist:valid", "fashion-mnist:test or fashion-mnist:train")] {
            let bad = try Self.run(["eval", source, "--reference", "fashion-mnist:test[0:300]"])
            #expect(bad.status != 0 && bad.stderr.contains(source) && bad.stderr.contains(message), "\(bad.stderr)")
        }
    }

    @Test func exactSamplesComeFromTheMixtureItself() throws {
        let (dir, model) = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("exact.npy")
        let r = try Self.run(["sample", "--model", model, "--exact", "--count", "7", "--seed", "3", "--out", out.path])
        #expect(r.status == 0, "\(r.stderr)")
        let written = try NPYArray.read(from: out)
        let mixture = try GaussianMixture.load(from: URL(fileURLWithPath: model))
        #expect(written.shape == [7, 1, 2, 3])
        #expect(written.values == mixture.samples(count: 7, seed: 3))
        let network = try Self.run(["sample", "--model", Fixtures.url("unet/one_channel_28").path, "--exact",
                                    "--out", dir.appendingPathComponent("n.npy").path])
        #expect(network.status != 0 && network.stderr.contains("--exact"), "\(network.stderr)")
    }

    @Test func evalReadsAndWritesPytorchFIDStatistics() throws {
        let (dir, _) = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        struct Golden: Decodable { var fid_a_b: Double }
        let golden = try Fixtures.json(Golden.self, "metrics/npz/golden.json")
        func fixture(_ name: String) -> String { Fixtures.url("metrics/npz/" + name).path }
        func fid(_ r: Result) -> Double {
            (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Double])?["fid"] ?? .nan
        }
        // pytorch-fid's own file against the one skipstep wrote: pytorch-fid's FID between them.
        let files = try Self.run(["eval", fixture("pytorch_fid_a.npz"), "--reference", fixture("skipstep_b.npz"), "--json"])
        #expect(files.status == 0, "\(files.stderr)")
        #expect(abs(fid(files) - golden.fid_a_b) <= 1e-6 * golden.fid_a_b, "\(files.stdout)")
        // Statistics saved now from the features equal the committed file's FID, and mixing a
        // statistics file with raw features gives the same number.
        let saved = dir.appendingPathComponent("b.npz").path
        let save = try Self.run(["eval", "--features", fixture("features_b.npy"), "--save-stats", saved])
        #expect(save.status == 0, "\(save.stderr)")
        let again = try Self.run(["eval", saved, "--reference", fixture("numpy_stored_a.npz"), "--json"])
        #expect(again.status == 0 && abs(fid(again) - golden.fid_a_b) <= 1e-6 * golden.fid_a_b, "\(again.stderr)")
        // Statistics carry no samples: metrics other than FID are skipped, and the note names them.
        let kid = try Self.run(["eval", fixture("pytorch_fid_a.npz"), "--reference", saved, "--metrics", "fid,kid", "--json"])
        #expect(kid.status == 0 && kid.stderr.contains("kid needs per-image features") && !kid.stdout.contains("kid"), "\(kid.stderr)")
    }

    @Test func plotDrawsCSVColumns() throws {
        let (dir, _) = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = dir.appendingPathComponent("log.csv")
        try Data("step,loss,lr\n10,0.9,1e-4\n20,,2e-4\n30,0.5,3e-4\n".utf8).write(to: csv)
        let svg = dir.appendingPathComponent("loss.svg"), png = dir.appendingPathComponent("loss.png")
        let r = try Self.run(["plot", csv.path, "--x", "step", "--y", "loss,lr", "--log-y", "--out", svg.path])
        #expect(r.status == 0, "\(r.stderr)")
        let text = try String(contentsOf: svg, encoding: .utf8)
        #expect(text.hasPrefix("<svg") || text.hasPrefix("<?xml"))
        #expect(text.contains("<desc>Series: loss; lr.</desc>"))
        #expect(try Self.run(["plot", csv.path, "--x", "step", "--y", "loss", "--out", png.path]).status == 0)
        let image = try Image8.readPNG(from: png)
        #expect(image.width == 960 && image.height == 630)
        let pdf = dir.appendingPathComponent("loss.pdf")
        #expect(try Self.run(["plot", csv.path, "--x", "step", "--y", "loss", "--out", pdf.path]).status == 0)
        #expect(try Data(contentsOf: pdf).prefix(5) == Data("%PDF-".utf8))
        let jpeg = try Self.run(["plot", csv.path, "--x", "step", "--y", "loss", "--out", dir.appendingPathComponent("loss.jpg").path])
        #expect(jpeg.status != 0 && jpeg.stderr.contains(".png, .svg or .pdf"), "\(jpeg.stderr)")
        let missing = try Self.run(["plot", csv.path, "--x", "step", "--y", "los", "--out", svg.path])
        #expect(missing.status != 0 && missing.stderr.contains("'los'") && missing.stderr.contains("log.csv"), "\(missing.stderr)")
    }

    @Test func aKilledSweepRerunFinishesWithTheSameResults() throws {
        let (dir, model) = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        func arguments(_ out: URL) -> [String] {
            ["sweep", "--model", model, "--samplers", "skip,ddim", "--steps", "100,1000", "--count", "40", "--batch", "4",
             "--metrics", "", "--out", out.path]
        }
        /// results.json without the wall-clock fields.
        func results(_ out: URL) throws -> [[String: AnyHashable]] {
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("results.json")))
            let cells = (json as? [String: Any])?["cells"] as? [[String: Any]] ?? []
            return cells.map { cell in
                var row = cell.filter { !$0.key.hasSuffix("seconds") && $0.key != "metrics" }.compactMapValues { $0 as? AnyHashable }
                // Values, and intervals (m_ci: [low, high]) beside them.
                row["metrics"] = (cell["metrics"] as? [String: Any])?.compactMapValues { value -> AnyHashable? in
                    (value as? Double).map(AnyHashable.init) ?? (value as? [Double]).map(AnyHashable.init)
                }
                return row
            }
        }
        let straight = dir.appendingPathComponent("straight")
        let reference = try Self.run(arguments(straight))
        #expect(reference.status == 0, "\(reference.stderr)")

        // SIGKILL the process once the last cell has its first chunk: no chance to clean up.
        let killed = dir.appendingPathComponent("killed")
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments(killed)
        process.standardError = FileHandle.nullDevice
        try process.run()
        let marker = killed.appendingPathComponent("cells/ddim-1000/chunk-0-4.npy").path
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: marker), process.isRunning, Date() < deadline { usleep(2_000) }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "the sweep finished before it could be killed")
        #expect(!FileManager.default.fileExists(atPath: killed.appendingPathComponent("results.json").path))

        // What was scored before the kill can be published: skip-100, ddim-100 and skip-1000.
        let collected = try Self.run(["sweep", "report", killed.path, "--collect"])
        #expect(collected.status == 0, "\(collected.stderr)")
        #expect(try results(killed).map { "\($0["sampler"] as? String ?? "")-\($0["steps"] as? Int ?? 0)" } == ["skip-100", "ddim-100", "skip-1000"])
        #expect(try results(killed) == Array(results(straight).prefix(3)))
        let partialTable = try String(contentsOf: killed.appendingPathComponent("table.md"), encoding: .utf8)
        #expect(partialTable.contains("Partial: 3 of 4 cells scored so far"))
        #expect(try !String(contentsOf: straight.appendingPathComponent("table.md"), encoding: .utf8).contains("Partial"))

        let rerun = try Self.run(arguments(killed))
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(try results(killed) == results(straight))
        #expect(try results(straight).count == 4)
        // Each metric has its interval beside it (m_ci: [low, high]).
        #expect(try results(straight).allSatisfy { (($0["metrics"] as? [String: Any])?["oracle_frechet"] as? Double) != nil })
        #expect(try results(straight).allSatisfy { (($0["metrics"] as? [String: Any])?["oracle_frechet_ci"] as? [Double])?.count == 2 })
    }

    @Test func aSweepLooksForTheClassifierBeforeSamplingUnlessItIsAShard() throws {
        let (dir, model) = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let noClassifier = ["SKIPSTEP_CLASSIFIER_DIR": dir.appendingPathComponent("none").path]
        func sweep(_ out: String, _ extra: [String] = []) throws -> Result {
            try Self.run(["sweep", "--model", model, "--samplers", "skip", "--steps", "5", "--count", "4", "--batch", "2",
                          "--out", dir.appendingPathComponent(out).path] + extra, environment: noClassifier)
        }
        let whole = try sweep("whole")
        #expect(whole.status != 0 && whole.stderr.contains("holds no classifier"), "\(whole.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("whole").path))  // nothing sampled
        let shard = try sweep("shard", ["--shard", "0/2"])  // samples only; the merge scores
        #expect(shard.status == 0, "\(shard.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("shard/cells/skip-5/chunk-0-2.npy").path))
        let stray = try Self.run(["sweep", "report", dir.appendingPathComponent("shard").path, "--classifier", "x"])
        #expect(stray.status != 0 && stray.stderr.contains("only used with --refresh-floors"), "\(stray.stderr)")
    }

    @Test func benchTimesFIDOnRandomFeatures() throws {
        let r = try Self.run(["bench", "--fid", "300x8", "--runs", "2", "--warmup", "0", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] ?? [:]
        #expect(report["fid_features"] as? String == "300x8" && report["runs"] as? Int == 2)
        // Two sets from one distribution: a small positive FID.
        #expect(((report["fid"] as? Double) ?? -1) > 0 && ((report["fid"] as? Double) ?? 1) < 1)
        let bad = try Self.run(["bench", "--fid", "300"])
        #expect(bad.status != 0 && bad.stderr.contains("--fid 300"), "\(bad.stderr)")
    }

    @Test func missingDatasetSaysHowToInstall() throws {
        let (dir, _) = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try Self.run(["sample", "--model", "fashion-gmm", "--out", dir.appendingPathComponent("x.npy").path],
                             environment: ["SKIPSTEP_FASHION_MNIST_DIR": dir.appendingPathComponent("none").path,
                                           "SKIPSTEP_CACHE_DIR": dir.appendingPathComponent("cache").path])
        #expect(r.status != 0)
        #expect(r.stderr.contains("apt-get install -y dataset-fashion-mnist"), "\(r.stderr)")
    }

    @Test func scheduleJSONListsStepsAndCoefficients() throws {
        let r = try Self.run(["schedule", "--steps", "25", "--sampler", "mix", "--cutoff", "291", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let timesteps = json?["timesteps"] as? [Int]
        #expect(timesteps?.prefix(3) == [999, 957, 916])
        let steps = json?["steps"] as? [[String: Any]] ?? []
        #expect(steps.count == 25)
        #expect(steps.map { $0["method"] as? String } == timesteps?.map { $0 >= 291 ? "skip" : "ddim" })
        let help = try Self.run(["sample", "--help"])
        #expect(help.status == 0 && help.stdout.contains("--skip-steps"))
        // PNDM: one planned step per network evaluation, the second timestep evaluated twice.
        let pndm = try Self.run(["schedule", "--steps", "10", "--sampler", "pndm:spacing=leading+1", "--json"])
        #expect(pndm.status == 0, "\(pndm.stderr)")
        let plan = (try JSONSerialization.jsonObject(with: Data(pndm.stdout.utf8)) as? [String: Any])?["steps"] as? [[String: Any]] ?? []
        #expect(plan.map { $0["time"] as? Double } == [901, 801, 801, 701, 601, 501, 401, 301, 201, 101, 1])
        #expect(plan.map { $0["method"] as? String }.prefix(3) == ["plms-1", "plms-heun", "plms-2"])
        let table = try Self.run(["schedule", "--steps", "10", "--sampler", "pndm"])
        #expect(table.status == 0 && table.stdout.contains("10 steps, 11 network evaluations"), "\(table.stdout)")
    }
}
