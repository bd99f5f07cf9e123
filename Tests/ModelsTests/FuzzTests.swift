import Diffusion
import Foundation
import Media
@testable import Models
import Testing
import TestSupport

/// Mutation fuzzing of the model-side parsers (issue 22): the safetensors header and tensor
/// table, the Gaussian mixture file, UNet2DModel and scheduler configs, and whole model folders
/// loaded and run once. Each case must load or throw an error naming the file, never trap.
/// `SKIPSTEP_LONG_TESTS=1` runs 50× more; see docs/TESTING.md.
@Suite("Fuzz: model files")
struct ModelsFuzzTests {
    /// A safetensors file of every dtype, a scalar, an empty tensor and metadata.
    static func syntheticSafeTensors() throws -> Data {
        var writer = SafeTensorsWriter(metadata: ["format": "pt", "note": "fuzz seed"])
        try writer.add("f64", [1, -2.5, 1e300, 0], shape: [2, 2])
        try writer.add("f32", [Float](repeating: 0.5, count: 6), shape: [1, 2, 3])
        try writer.addRaw("f16", dtype: .f16, shape: [2], bytes: Data([0, 0x3C, 0, 0xBC]))
        try writer.addRaw("bf16", dtype: .bf16, shape: [2], bytes: Data([0x80, 0x3F, 0x80, 0xBF]))
        try writer.addRaw("i64", dtype: .i64, shape: [], bytes: Data(count: 8))
        try writer.addRaw("u8", dtype: .u8, shape: [0, 4], bytes: Data())
        return try writer.encoded()
    }

    /// The header's byte range (8 + its declared length), where mutations matter most.
    static func headerRange(_ data: Data) -> Range<Int> {
        guard data.count >= 8 else { return 0..<data.count }
        let length = data.withUnsafeBytes { Int(clamping: UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        return 0..<min(data.count, 8 + min(length, data.count))
    }

    static func expectNamed(_ error: any Error, _ path: String) {
        #expect(namedErrorProblem(error, path) == nil)
    }

    static func parseSafeTensors(_ data: Data) throws {
        let file = try SafeTensorsFile(bytes: data, path: "fuzz.safetensors")
        for name in file.tensorNames {
            let info = try file.info(name)
            #expect(try file.rawBytes(name).count == info.dataOffsets.count)
            if [.f16, .bf16, .f32, .f64].contains(info.dtype) {
                #expect(try file.floatsConverting(name).count == info.elementCount)
            }
        }
    }

    static func parseUNetConfig(_ data: Data) throws {
        let config = try ConfigFile.decode(UNet2DConfig.self, from: data, path: "fuzz/config.json", what: "UNet2DModel")
        try config.validate(path: "fuzz/config.json")
    }

    /// The committed libFuzzer corpora and crashers (Tests/Fixtures/fuzz/TARGET/), replayed
    /// without the fuzzer.
    @Test(arguments: ["safetensors", "unet-config"])
    func replayCorpus(_ target: String) {
        for (_, data) in fuzzCorpus(target) {
            do {
                try target == "safetensors" ? Self.parseSafeTensors(data) : Self.parseUNetConfig(data)
            } catch {
                Self.expectNamed(error, target == "safetensors" ? "fuzz.safetensors" : "fuzz/config.json")
            }
        }
    }

    @Test func safetensors() throws {
        let seeds: [(name: String, data: Data)] = [
            ("synthetic", try Self.syntheticSafeTensors()),
            ("reference", try Data(contentsOf: Fixtures.url("models/reference.safetensors"))),
            ("tiny_default_fp16", try Data(contentsOf: Fixtures.url("unet/tiny_default_fp16/diffusion_pytorch_model.safetensors"))),
        ]
        let result = fuzz("safetensors", seeds: seeds, count: FuzzMutator.iterations(2500), mutate: { rng, data in
            if rng.below(3) == 0 {  // the header's JSON, its length field rewritten to match
                let range = Self.headerRange(data)
                guard range.count > 8 else { return rng.mutate(data) }
                let header = Data(rng.mutateText(String(decoding: data[8..<range.upperBound], as: UTF8.self)).utf8)
                var out = Data()
                withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
                return out + header + data[range.upperBound...]
            }
            return rng.mutate(data, hot: Self.headerRange(data))
        }, body: Self.parseSafeTensors, check: { error, _ in Self.expectNamed(error, "fuzz.safetensors") })
        #expect(result.parsed > 0 && result.refused > 0, "\(result)")
    }

    @Test func gaussianMixtureFile() throws {
        let directory = try fastTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("fuzz.safetensors")
        try GMMGoldens.golden("d5k2").mixture().save(to: url, metadata: ["note": "seed"])
        let checksummed = try Data(contentsOf: url)
        try GaussianMixtureFileTests.writeFile(url)
        let plain = try Data(contentsOf: url)
        let result = fuzz("gmm", seeds: [("checksummed", checksummed), ("plain", plain)],
                          count: FuzzMutator.iterations(600), mutate: { rng, data in
            rng.mutate(data, hot: rng.below(2) == 0 ? Self.headerRange(data) : nil)
        }, body: { data in
            try data.write(to: url)
            _ = try GaussianMixture.load(from: url)
        }, check: { error, _ in Self.expectNamed(error, url.path) })
        #expect(result.parsed > 0 && result.refused > 0, "\(result)")
    }

    static func configSeeds() throws -> [(name: String, data: Data)] {
        let unet = Fixtures.url("unet")
        return try FileManager.default.contentsOfDirectory(atPath: unet.path).sorted().compactMap { folder in
            let url = unet.appendingPathComponent(folder).appendingPathComponent("config.json")
            return FileManager.default.fileExists(atPath: url.path) ? (folder, try Data(contentsOf: url)) : nil
        }
    }

    static let schedulerSeeds: [(name: String, data: Data)] = [
        ("pipeline", (try? Data(contentsOf: Fixtures.url("unet/pipeline_one_channel_28/scheduler/scheduler_config.json"))) ?? Data()),
        ("every key", Data(#"""
            {"_class_name": "DDIMScheduler", "num_train_timesteps": 1000, "beta_start": 0.0001, "beta_end": 0.02,
             "beta_schedule": "scaled_linear", "trained_betas": null, "prediction_type": "v_prediction",
             "variance_type": "fixed_large", "clip_sample": true, "clip_sample_range": 1.5, "thresholding": true,
             "dynamic_thresholding_ratio": 0.995, "sample_max_value": 1.0, "rescale_betas_zero_snr": true}
            """#.utf8)),
        ("trained betas", Data(#"{"trained_betas": [0.1, 0.2, 0.3, 0.4], "num_train_timesteps": 4}"#.utf8)),
    ]

    @Test func configs() throws {
        let result = fuzz("unet-config", seeds: try Self.configSeeds(), count: FuzzMutator.iterations(2500), mutate: { rng, data in
            Data(rng.mutateText(String(decoding: data, as: UTF8.self)).utf8)
        }, body: Self.parseUNetConfig, check: { error, _ in Self.expectNamed(error, "fuzz/config.json") })
        #expect(result.parsed > 0 && result.refused > 0, "\(result)")

        let scheduler = fuzz("scheduler-config", seeds: Self.schedulerSeeds, count: FuzzMutator.iterations(2500),
                             mutate: { rng, data in Data(rng.mutateText(String(decoding: data, as: UTF8.self)).utf8) },
                             body: { data in
            let config = try ConfigFile.decode(SchedulerConfig.self, from: data, path: "fuzz/scheduler_config.json", what: "scheduler")
            let options = try config.samplerOptions(path: "fuzz/scheduler_config.json")
            let schedule = try config.schedule()
            #expect(schedule.alphasCumprod.dropLast().allSatisfy { $0 > 0 && $0 < 1 })
            if let ratio = options.thresholding?.ratio { #expect(ratio > 0 && ratio <= 1) }
            if let range = options.clipSampleRange { #expect(range > 0) }
        }, check: { error, _ in
            // The schedule's own errors (ScheduleError) carry no path; the folder loader adds it.
            if !(error is ScheduleError) { Self.expectNamed(error, "fuzz/scheduler_config.json") }
        })
        #expect(scheduler.parsed > 0 && scheduler.refused > 0, "\(scheduler)")
    }

    /// Values that keep the tiny model's weights usable but stress the forward pass.
    static let plausibleValues: [String: [String]] = [
        "sample_size": ["4", "8", "12", "32", "64", "[8, 16]", "[4, 64]", "1", "0", "16384", "-4"],
        "freq_shift": ["0", "1", "2", "3", "3.999", "-1e6", "-3", "4"],
        "norm_eps": ["1e-30", "1e30", "5e-324", "1", "1e308"],
        "mid_block_scale_factor": ["0", "-1", "1e-300", "1e300", "1e308"],
        "center_input_sample": ["true", "false"],
        "flip_sin_to_cos": ["true", "false"],
        "attention_head_dim": ["null", "1", "2", "4", "16", "3"],
        "attn_norm_num_groups": ["null", "1", "2", "4", "8", "16", "3"],
        "norm_num_groups": ["1", "2", "4", "8"],
        "downsample_padding": ["0", "1"],
        "resnet_time_scale_shift": ["\"default\"", "\"scale_shift\""],
        "add_attention": ["true", "false"],
        "mid_block_type": ["null", "\"UNetMidBlock2D\""],
        "time_embedding_dim": ["null", "32", "64"],
    ]

    static func setKeys(_ rng: inout FuzzMutator, _ data: Data) -> Data {
        guard var config = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return data }
        let keys = plausibleValues.keys.sorted()
        for _ in 0..<(1 + rng.below(2)) {
            let key = rng.pick(keys)
            config[key] = try? JSONSerialization.jsonObject(with: Data(rng.pick(plausibleValues[key]!).utf8),
                                                            options: .fragmentsAllowed)
        }
        return (try? JSONSerialization.data(withJSONObject: config, options: [.sortedKeys])) ?? data
    }

    /// Whole folders: the tiny model's weights with a mutated config (and sometimes a mutated
    /// scheduler config), loaded and, when they load, run once.
    @Test func modelFolders() throws {
        let directory = try fastTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.copyItem(at: Fixtures.url("unet/tiny_default/diffusion_pytorch_model.safetensors"),
                                         to: directory.appendingPathComponent("diffusion_pytorch_model.safetensors"))
        let seed = try Data(contentsOf: Fixtures.url("unet/tiny_default/config.json"))
        let schedulerURL = directory.appendingPathComponent("scheduler_config.json")
        var rng = FuzzMutator(seed: 7)
        var loaded = 0
        let result = fuzz("model-folder", seeds: [("tiny_default", seed)], count: FuzzMutator.iterations(60), mutate: { rng, data in
            // Half the cases set one or two keys to values that pass the type check, so the
            // folder loads often enough to reach the forward pass; the rest are text mutations.
            rng.below(2) == 0 ? Self.setKeys(&rng, data) : Data(rng.mutateText(String(decoding: data, as: UTF8.self)).utf8)
        }, body: { data in
            try data.write(to: directory.appendingPathComponent("config.json"))
            try? FileManager.default.removeItem(at: schedulerURL)
            if rng.below(3) == 0 {
                let scheduler = rng.pick(Self.schedulerSeeds).data
                try Data(rng.mutateText(String(decoding: scheduler, as: UTF8.self)).utf8).write(to: schedulerURL)
            }
            let model = try DiffusersFolder.load(directory)
            loaded += 1
            let shape = model.denoiser.sampleShape
            guard shape[1] * shape[2] <= 64 * 64 else { return }
            let count = model.denoiser.sampleCount
            let output = try FiniteCheckingDenoiser(model.denoiser).predict([Float](repeating: 0.5, count: count), batch: 1,
                                                                            timestep: Double(model.schedule.trainSteps - 1))
            #expect(output.count == count * (model.denoiser.learnsVariance ? 2 : 1))
        }, check: { error, _ in
            if !(error is NonFiniteError) { Self.expectNamed(error, directory.path) }
        })
        #expect(loaded > 0 && result.refused > 0, "\(result)")
    }
}
