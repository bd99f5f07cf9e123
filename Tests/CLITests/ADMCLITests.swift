import Foundation
import Media
import Models
import Testing
import TestSupport

/// `skipstep sample --model DIR` on a converted guided-diffusion folder (adm_config.json +
/// model.safetensors), made here from fixture B's config and hashed weights.
@Suite struct ADMCLITests {
    /// A folder holding fixture B (32 px, 10 classes), or its unconditional variant.
    static func folder(conditional: Bool = true) throws -> URL {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("skipstep-adm-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var config = try Fixtures.json(ADMConfig.self, "adm/B/adm_config.json")
        config.classCond = conditional
        try JSONEncoder().encode(config).write(to: directory.appendingPathComponent(ADMFolder.configName))
        var writer = SafeTensorsWriter()
        for (name, tensor) in try HashedWeights.tensors("adm/B/keys.json").sorted(by: { $0.key < $1.key })
        where conditional || name != "label_emb.weight" {
            try writer.add(name, tensor.values, shape: tensor.shape)
        }
        try writer.write(to: directory.appendingPathComponent(ADMFolder.weightsName))
        return directory
    }

    /// Issue 19's acceptance command, on the converted 10-class folder; it prints the parameter
    /// count before sampling and an ETA after the first step.
    @Test func samplesAClassWithMix() throws {
        let model = try Self.folder()
        defer { try? FileManager.default.removeItem(at: model) }
        let out = model.appendingPathComponent("out.npy").path
        let result = try CLITests.run(["sample", "--model", model.path, "--class", "7", "--sampler", "mix:cutoff=291",
                                       "--steps", "25", "--count", "1", "--out", out])
        #expect(result.status == 0, "\(result.stderr)")
        let array = try NPYArray.read(from: URL(fileURLWithPath: out))
        #expect(array.shape == [1, 3, 32, 32])
        #expect(array.values.allSatisfy { $0.isFinite && abs($0) <= 1 + 1e-5 }, "clipped x̂₀ ends in [−1, 1]")
        #expect(result.stderr.contains("clipped"), "clip_denoised: true is the default: \(result.stderr)")
        let parameters = try Fixtures.json(ADMParityGoldens.self, "adm/B/goldens.json").parameter_count
        #expect(result.stderr.contains("guided-diffusion UNetModel, \(parameters) parameters, 10 classes"), "\(result.stderr)")
        let lines = result.stderr.split(separator: "\n")
        let first = try #require(lines.firstIndex { $0.contains("step 1/25") && $0.contains("ETA") }, "\(result.stderr)")
        #expect(lines[..<first].contains { $0.contains("parameters") })
    }

    struct ADMParityGoldens: Decodable { var parameter_count: Int }

    /// `--sampler ddpm` on an ADM model is p_sample with the learned range; `--variance fixed_small`
    /// makes it skipped-step (the same samples up to Float32 rounding of the two coefficient forms),
    /// and `fixed_large` is another sampler again.
    @Test func ddpmWithFixedSmallIsSkippedStep() throws {
        let model = try Self.folder()
        defer { try? FileManager.default.removeItem(at: model) }
        func sample(_ name: String, _ flags: [String]) throws -> [Float] {
            let out = model.appendingPathComponent("\(name).npy").path
            let r = try CLITests.run(["sample", "--model", model.path, "--class", "3", "--steps", "5", "--count", "2",
                                      "--rng", "torch", "--seed", "4", "--out", out] + flags)
            #expect(r.status == 0, "\(r.stderr)")
            return try NPYArray.read(from: URL(fileURLWithPath: out)).values
        }
        let skip = try sample("skip", ["--sampler", "skip"])
        let small = try sample("small", ["--sampler", "ddpm", "--variance", "fixed_small"])
        let learned = try sample("learned", ["--sampler", "ddpm"])
        let large = try sample("large", ["--sampler", "ddpm", "--variance", "fixed_large"])
        #expect(relativeL2(small, skip) < 1e-5, "fixed_small vs skip: \(relativeL2(small, skip))")
        #expect(relativeL2(learned, skip) > 1e-3, "learned range vs skip: \(relativeL2(learned, skip))")
        #expect(relativeL2(learned, large) > 1e-3, "learned range vs fixed_large: \(relativeL2(learned, large))")
    }

    /// guided-diffusion's evaluator reference batch (mu, sigma, mu_s, sigma_s, arr_0;
    /// tools/make_reference_batch_fixture.py): FID from its stored mu and sigma, exactly as against
    /// the same statistics alone; the unused members are named.
    @Test func evalReadsAnEvaluatorReferenceBatch() throws {
        func eval(_ reference: String) throws -> (report: [String: Double], stderr: String) {
            let r = try CLITests.run(["eval", "fashion-mnist:test[0:64]", "--reference", Fixtures.url("adm/\(reference)").path,
                                      "--metrics", "fid,kid,is", "--json"])
            #expect(r.status == 0, "\(r.stderr)")
            return ((try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Double]) ?? [:], r.stderr)
        }
        let batch = try eval("reference_batch.npz"), stats = try eval("reference_stats.npz")
        let fid = try #require(batch.report["fid"])
        #expect(fid > 0 && fid == stats.report["fid"])
        #expect(batch.report["is_mean"] != nil && batch.report["is_mean"] == stats.report["is_mean"])
        #expect(batch.stderr.contains("not used: arr_0 (the reference images), mu_s (sFID's spatial statistics), sigma_s"),
                "\(batch.stderr)")
        #expect(batch.stderr.contains("kid needs per-image features"), "\(batch.stderr)")
        #expect(!stats.stderr.contains("not used"), "\(stats.stderr)")
    }

    @Test(arguments: [
        ([] as [String], true, "class-conditional (10 classes)"),
        (["--class", "10"], true, "class 10 is out of range"),
        (["--class", "dog"], true, "--class must be a class number or random"),
        (["--class", "random"], false, "unconditional"),
    ])
    func classErrors(arguments: [String], conditional: Bool, message: String) throws {
        let model = try Self.folder(conditional: conditional)
        defer { try? FileManager.default.removeItem(at: model) }
        let result = try CLITests.run(["sample", "--model", model.path, "--steps", "1", "--count", "1",
                                       "--out", model.appendingPathComponent("o.npy").path] + arguments)
        #expect(result.status != 0)
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }

    @Test func aPyTorchCheckpointIsSentToTheConverter() throws {
        let directory = try Self.folder()
        defer { try? FileManager.default.removeItem(at: directory) }
        let pt = directory.appendingPathComponent("256x256_diffusion.pt")
        try Data([0x50, 0x4b]).write(to: pt)
        let result = try CLITests.run(["sample", "--model", pt.path, "--out", directory.appendingPathComponent("o.npy").path])
        #expect(result.status != 0)
        #expect(result.stderr.contains("convert it with tools/convert_adm.py"), "\(result.stderr)")
    }
}

extension ADMCLITests {
    /// A sweep runs a class-conditional model like any other: sample i gets the random label of
    /// seed + i, so its cells hold what `sample --class random` draws from the same seeds (and the
    /// same batch: a network's batched GEMMs may round differently at another batch size).
    @Test func aSweepGivesEachSampleItsRandomLabel() throws {
        let model = try Self.folder()
        defer { try? FileManager.default.removeItem(at: model) }
        let sweep = model.appendingPathComponent("sweep")
        let r = try CLITests.run(["sweep", "--model", model.path, "--samplers", "skip", "--steps", "3", "--count", "3",
                                  "--batch", "4", "--seed", "5", "--metrics", "", "--out", sweep.path])
        #expect(r.status == 0, "\(r.stderr)")
        let out = model.appendingPathComponent("random.npy").path
        let s = try CLITests.run(["sample", "--model", model.path, "--class", "random", "--sampler", "skip", "--steps", "3",
                                  "--count", "3", "--batch", "4", "--seed", "5", "--out", out])
        #expect(s.status == 0, "\(s.stderr)")
        let preview = try NPYArray.read(from: sweep.appendingPathComponent("cells/skip-3/preview.npy"))
        #expect(preview.values == (try NPYArray.read(from: URL(fileURLWithPath: out))).values)
        // One sample per call: the same labels, so the same images up to float rounding.
        let single = model.appendingPathComponent("single.npy").path
        let one = try CLITests.run(["sample", "--model", model.path, "--class", "random", "--sampler", "skip", "--steps", "3",
                                    "--count", "3", "--batch", "1", "--seed", "5", "--out", single])
        #expect(one.status == 0, "\(one.stderr)")
        let error = relativeL2(try NPYArray.read(from: URL(fileURLWithPath: single)).values, preview.values)
        #expect(error < 1e-4, "relative L2 \(error) between batch 1 and batch 4")
    }
}

extension ADMCLITests {
    struct Blob: Decodable { var offset: Int; var count: Int; var shape: [Int] }
    struct ForwardCase: Decodable { var name: String; var timesteps: [Double]; var labels: [Int]; var input: Blob; var output: Blob }
    struct ForwardGoldens: Decodable { var cases: [ForwardCase] }

    /// `skipstep forward` writes the network's raw output: fixture B's t = 999 case against
    /// guided-diffusion's UNetModel (tools/make_adm_fixtures.py); bad inputs are named.
    @Test func forwardWritesTheNetworksOutput() throws {
        let model = try Self.folder()
        defer { try? FileManager.default.removeItem(at: model) }
        let goldens = try Fixtures.json(ForwardGoldens.self, "adm/B/goldens.json")
        let data = try Data(contentsOf: Fixtures.url("adm/B/goldens.bin"))
        func floats(_ t: Blob) -> [Float] {
            data.withUnsafeBytes { raw in
                (0..<t.count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: t.offset + 4 * $0, as: UInt32.self))) }
            }
        }
        let c = try #require(goldens.cases.first { $0.name == "t999" })
        let input = model.appendingPathComponent("x.npy"), out = model.appendingPathComponent("y.npy").path
        try NPYArray(shape: c.input.shape, values: floats(c.input)).write(to: input)
        let r = try CLITests.run(["forward", "--model", model.path, "--input", input.path, "--timestep", "999",
                                  "--class", "\(c.labels[0])", "--out", out])
        #expect(r.status == 0, "\(r.stderr)")
        let y = try NPYArray.read(from: URL(fileURLWithPath: out))
        #expect(y.shape == [1, 6, 32, 32])
        #expect(relativeL2(y.values, floats(c.output)) <= 1e-4, "relative L2 \(relativeL2(y.values, floats(c.output)))")

        for (flags, message) in [([] as [String], "class-conditional"), (["--class", "3,4"], "2 labels for 1 samples"),
                                 (["--class", "12"], "out of range"), (["--class", "x"], "--class must be"),
                                 (["--class", "3", "--timestep", "1000"], "past the model's last index 999")] {
            let bad = try CLITests.run(["forward", "--model", model.path, "--input", input.path, "--out", out]
                                       + (flags.contains("--timestep") ? [] : ["--timestep", "5"]) + flags)
            #expect(bad.status != 0 && bad.stderr.contains(message), "\(flags): \(bad.stderr)")
        }
    }
}
