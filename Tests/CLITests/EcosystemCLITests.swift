import Diffusion
import Files
import Foundation
import Media
import Testing
import TestSupport

/// FID conventions, provenance and weight variants through the CLI.
extension CLITests {
    static func fid(_ arguments: [String]) throws -> Double {
        let r = try run(["eval"] + arguments + ["--metrics", "fid", "--json"])
        #expect(r.status == 0, "\(arguments): \(r.stderr)")
        return (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Double])?["fid"] ?? .nan
    }

    /// The issue's case: the same samples scored from the .npy and from the PNGs written from it
    /// gave different FIDs (raw floats vs 8-bit pixels). By default they are now the same number;
    /// --no-quantize gives the old, different one. guided-diffusion's .npz of the PNGs' bytes too.
    @Test func anNPYAndItsPNGsScoreTheSame() throws {
        let (dir, _) = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        var source = RandomKind.philox.makeSource(seed: 21)
        let n = 16, d = 784
        // Samples as a sampler leaves them: off the 8-bit grid and a little outside [-1, 1].
        let floats = source.standardNormal(count: n * d).map { $0 * 0.6 }
        let npy = dir.appendingPathComponent("s.npy")
        try NPYArray(shape: [n, 1, 28, 28], values: floats).write(to: npy)
        let pngs = dir.appendingPathComponent("pngs")
        try FileManager.default.createDirectory(at: pngs, withIntermediateDirectories: true)
        var bytes: [UInt8] = []
        for i in 0..<n {
            let image = Image8.fromModelSpace(Array(floats[(i * d)..<((i + 1) * d)]), channels: 1, height: 28, width: 28)
            try image.writePNG(to: pngs.appendingPathComponent(String(format: "%03d.png", i)))
            bytes += image.pixels
        }
        let npz = dir.appendingPathComponent("s.npz")
        try NPZArchive(members: ["arr_0": NPYUInt8Array(shape: [n, 28, 28, 1], values: bytes).npyData()]).write(to: npz)
        let reference = dir.appendingPathComponent("r.npy")
        try NPYArray(shape: [20, 1, 28, 28], values: source.standardNormal(count: 20 * d).map { max(-1, min(1, $0 / 2)) }).write(to: reference)

        let fromNPY = try Self.fid([npy.path, "--reference", reference.path])
        let fromPNGs = try Self.fid([pngs.path, "--reference", reference.path])
        let fromNPZ = try Self.fid([npz.path, "--reference", reference.path])
        let raw = try Self.fid([npy.path, "--reference", reference.path, "--no-quantize"])
        #expect(fromNPY.isFinite && fromNPY == fromPNGs && fromNPZ == fromPNGs, "npy \(fromNPY), pngs \(fromPNGs), npz \(fromNPZ)")
        #expect(raw.isFinite && raw != fromPNGs, "--no-quantize scores the raw floats: \(raw) vs \(fromPNGs)")
        // [0, 1] floats with --range 0,1 are the same images.
        let unit = dir.appendingPathComponent("unit.npy")
        try NPYArray(shape: [n, 28, 28, 1], values: bytes.map { Float($0) / 255 }).write(to: unit)
        #expect(try Self.fid([unit.path, "--range", "0,1", "--reference", reference.path]) == fromPNGs)
        // A wrong layout names the accepted ones; --mode is an Inception convention.
        let bad = dir.appendingPathComponent("bad.npy")
        try NPYArray(shape: [2, 5, 28, 28], values: [Float](repeating: 0, count: 2 * 5 * d)).write(to: bad)
        let refused = try Self.run(["eval", bad.path, "--reference", reference.path])
        #expect(refused.status != 0 && refused.stderr.contains("N×C×H×W or N×H×W×C"), "\(refused.stderr)")
        let mode = try Self.run(["eval", npy.path, "--reference", reference.path, "--mode", "clean"])
        #expect(mode.status != 0 && mode.stderr.contains("--network inception"), "\(mode.stderr)")
    }

    /// Every sample file says how it was made, and `--format npz-uint8` writes guided-diffusion's layout.
    @Test func sampleFilesRecordTheirProvenance() throws {
        let (dir, _) = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = Fixtures.url("unet/one_channel_28").path
        let weights = Fixtures.url("unet/one_channel_28/diffusion_pytorch_model.safetensors")
        let digest = try Self.sha256sum(weights)
        let common = ["sample", "--model", model, "--sampler", "mix:cutoff=500", "--steps", "4", "--count", "3", "--seed", "40"]
        let folder = dir.appendingPathComponent("pngs"), grid = dir.appendingPathComponent("grid.png")
        let npy = dir.appendingPathComponent("s.npy"), npz = dir.appendingPathComponent("s.npz")
        for out in [folder, grid, npy, npz] {
            let r = try Self.run(common + ["--out", out.path])
            #expect(r.status == 0, "\(r.stderr)")
        }
        let expected: [String: String] = [
            "skipstep_version": SkipStepVersion.current, "model": model, "weights_file": "diffusion_pytorch_model.safetensors",
            "weights_sha256": digest, "sampler": "mix:cutoff=500", "steps": "4", "seed": "40", "rng": "philox",
        ]
        for i in 0..<3 {
            let text = try Image8.readPNGText(from: folder.appendingPathComponent(String(format: "sample_%05d.png", i)))
            let fields = Dictionary(text.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
            for (key, value) in expected { #expect(fields[key] == value, "sample \(i): \(key)") }
            #expect(fields["sample_index"] == String(i))
        }
        let gridFields = Dictionary(try Image8.readPNGText(from: grid).map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        #expect(gridFields["sample_indices"] == "0-2" && gridFields["weights_sha256"] == digest)
        for file in [npy, npz] {
            let data = try Data(contentsOf: SampleProvenance.sidecarURL(for: file))
            let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
            for (key, value) in expected { #expect("\(object[key] ?? "missing")" == value, "\(file.lastPathComponent): \(key)") }
            #expect(object["sample_indices"] as? String == "0-2")
        }
        // npz-uint8: arr_0 is N×H×W×C uint8 holding exactly the PNGs' pixels.
        let batch = try NPZArchive.read(from: npz).imageArray("arr_0", path: npz.path)
        #expect(batch.isUInt8 && batch.shape == [3, 28, 28, 1])
        for i in 0..<3 {
            let image = try Image8.readPNG(from: folder.appendingPathComponent(String(format: "sample_%05d.png", i)))
            #expect(Array(batch.values[(i * 784)..<((i + 1) * 784)]) == image.pixels.map(Float.init))
        }
        let wrong = try Self.run(common + ["--format", "npz-uint8", "--out", dir.appendingPathComponent("x.npy").path])
        #expect(wrong.status != 0 && wrong.stderr.contains("--format npz-uint8"), "\(wrong.stderr)")
    }

    /// `--variant fp16` reads `diffusion_pytorch_model.fp16.safetensors` from a folder holding only that.
    @Test func variantReadsTheVariantsWeights() throws {
        let (dir, _) = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = Fixtures.url("unet/tiny_default_fp16")
        let folder = dir.appendingPathComponent("fp16-only")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: source.appendingPathComponent("config.json"), to: folder.appendingPathComponent("config.json"))
        try FileManager.default.copyItem(at: source.appendingPathComponent("diffusion_pytorch_model.safetensors"),
                                         to: folder.appendingPathComponent("diffusion_pytorch_model.fp16.safetensors"))
        let common = ["sample", "--sampler", "ddim", "--steps", "3", "--count", "2", "--seed", "5"]
        let viaVariant = dir.appendingPathComponent("variant.npy"), plain = dir.appendingPathComponent("plain.npy")
        let r = try Self.run(common + ["--model", folder.path, "--variant", "fp16", "--out", viaVariant.path])
        #expect(r.status == 0, "\(r.stderr)")
        let p = try Self.run(common + ["--model", source.path, "--out", plain.path])
        #expect(p.status == 0, "\(p.stderr)")
        #expect(try Data(contentsOf: viaVariant) == Data(contentsOf: plain))
        let sidecar = try String(contentsOf: SampleProvenance.sidecarURL(for: viaVariant), encoding: .utf8)
        #expect(sidecar.contains("diffusion_pytorch_model.fp16.safetensors"))
        // Without --variant the folder's file is named, with the flag to choose it.
        let missing = try Self.run(common + ["--model", folder.path, "--out", dir.appendingPathComponent("m.npy").path])
        #expect(missing.status != 0 && missing.stderr.contains("diffusion_pytorch_model.fp16.safetensors")
                && missing.stderr.contains("--variant"), "\(missing.stderr)")
        // A variant the folder lacks, and a model that has none.
        let other = try Self.run(common + ["--model", folder.path, "--variant", "bf16", "--out", dir.appendingPathComponent("b.npy").path])
        #expect(other.status != 0 && other.stderr.contains("diffusion_pytorch_model.bf16.safetensors"), "\(other.stderr)")
        let gmm = try Self.run(common + ["--model", dir.appendingPathComponent("tiny.safetensors").path, "--variant", "fp16",
                                         "--out", dir.appendingPathComponent("g.npy").path])
        #expect(gmm.status != 0 && gmm.stderr.contains("not a diffusers folder"), "\(gmm.stderr)")
        // A pipeline folder (model_index.json, unet/, scheduler/) whose UNet has only the variant.
        let pipeline = dir.appendingPathComponent("pipeline")
        try FileManager.default.copyItem(at: Fixtures.url("unet/pipeline_one_channel_28"), to: pipeline)
        let unet = pipeline.appendingPathComponent("unet")
        try FileManager.default.moveItem(at: unet.appendingPathComponent("diffusion_pytorch_model.safetensors"),
                                         to: unet.appendingPathComponent("diffusion_pytorch_model.fp16.safetensors"))
        let fromVariant = dir.appendingPathComponent("pv.npy"), fromOriginal = dir.appendingPathComponent("po.npy")
        let pv = try Self.run(common + ["--model", pipeline.path, "--variant", "fp16", "--out", fromVariant.path])
        let po = try Self.run(common + ["--model", Fixtures.url("unet/pipeline_one_channel_28").path, "--out", fromOriginal.path])
        #expect(pv.status == 0 && po.status == 0, "\(pv.stderr) \(po.stderr)")
        #expect(try Data(contentsOf: fromVariant) == Data(contentsOf: fromOriginal))
        // A sweep takes it too (and records it).
        let sweep = dir.appendingPathComponent("sweep")
        let s = try Self.run(["sweep", "--model", folder.path, "--variant", "fp16", "--samplers", "skip", "--steps", "2", "--count", "2",
                              "--metrics", "", "--out", sweep.path])
        #expect(s.status == 0, "\(s.stderr)")
        #expect(try String(contentsOf: sweep.appendingPathComponent("sweep.json"), encoding: .utf8).contains("\"variant\" : \"fp16\""))
    }

    /// New sweeps record that they quantise; a sweep.json without the key (made before) is resumed
    /// only with --no-quantize, and the error says so.
    @Test func sweepsRecordQuantisation() throws {
        let (dir, model) = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("sweep")
        let command = ["sweep", "--model", model, "--samplers", "skip", "--steps", "3", "--count", "2", "--metrics", "", "--out", out.path]
        let first = try Self.run(command)
        #expect(first.status == 0, "\(first.stderr)")
        let specURL = out.appendingPathComponent("sweep.json")
        let text = try String(contentsOf: specURL, encoding: .utf8)
        #expect(text.contains("\"quantize\" : true"), "\(text)")
        // As a sweep made before the option.
        try text.replacingOccurrences(of: "\"quantize\" : true,\n", with: "").replacingOccurrences(of: ",\n  \"quantize\" : true", with: "")
            .write(to: specURL, atomically: true, encoding: .utf8)
        #expect(try !String(contentsOf: specURL, encoding: .utf8).contains("quantize"))
        let resumed = try Self.run(command)
        #expect(resumed.status != 0 && resumed.stderr.contains("quantize") && resumed.stderr.contains("--no-quantize"), "\(resumed.stderr)")
        let old = try Self.run(command + ["--no-quantize"])
        #expect(old.status == 0, "\(old.stderr)")
    }

    static func sha256sum(_ url: URL) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [url.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return String(output.prefix(64))
    }
}

/// The version `skipstep --version` prints, read from the binary.
enum SkipStepVersion {
    static let current: String = {
        (try? CLITests.run(["--version"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? "?"
    }()
}
