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

    @Test func samplesAClassWithMix() throws {
        let model = try Self.folder()
        defer { try? FileManager.default.removeItem(at: model) }
        let out = model.appendingPathComponent("out.npy").path
        let result = try CLITests.run(["sample", "--model", model.path, "--class", "7", "--sampler", "mix:cutoff=291",
                                       "--steps", "3", "--count", "2", "--out", out])
        #expect(result.status == 0, "\(result.stderr)")
        let array = try NPYArray.read(from: URL(fileURLWithPath: out))
        #expect(array.shape == [2, 3, 32, 32])
        #expect(result.stderr.contains("clipped"), "clip_denoised: true is the default: \(result.stderr)")
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
