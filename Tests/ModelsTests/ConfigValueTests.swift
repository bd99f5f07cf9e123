import Diffusion
import Foundation
import Models
import Testing
import TestSupport

/// Config values that used to crash (precondition, overflow, failed allocation, index out of
/// range) or mislead (NaN output, "sample_size is missing", "not valid JSON"): each is now an error
/// naming the file, the key, the value and what is expected.
@Suite struct ConfigValueTests {
    static func loadMessage(config edit: (inout [String: Any]) -> Void = { _ in },
                            scheduler: [String: Any]? = nil) throws -> String {
        let directory = try UNet2DLoadTests.copyOfTinyModel()
        defer { try? FileManager.default.removeItem(at: directory) }
        try UNet2DLoadTests.rewriteConfig(in: directory, edit)
        if let scheduler {
            try JSONSerialization.data(withJSONObject: scheduler)
                .write(to: directory.appendingPathComponent("scheduler_config.json"))
        }
        return UNet2DLoadTests.message(loading: directory) ?? "(loaded)"
    }

    @Test func unetConfigValuesAreRangeChecked() throws {
        let cases: [(String, Any?, [String])] = [
            ("sample_size", 0, ["1...16384"]),
            ("sample_size", -8, ["-8"]),
            ("sample_size", 1 << 31, ["2147483648"]),
            ("sample_size", [8], ["[8]", "[height, width]"]),
            ("sample_size", [16, 16, 16], ["[height, width]"]),
            ("sample_size", "big", ["\"big\"", "[height, width]"]),
            ("sample_size", 6, ["divisible by 4"]),
            ("sample_size", nil, ["missing"]),
            ("layers_per_block", 1.5, ["1.5", "an integer"]),
            ("layers_per_block", 0, ["1...64"]),
            ("layers_per_block", 1 << 40, ["1...64"]),
            ("in_channels", 0, ["1...65536"]),
            ("out_channels", -3, ["-3"]),
            ("block_out_channels", [8, 16, 0], ["[8, 16, 0]"]),
            ("block_out_channels", [8, 16, 1 << 40], ["1...65536"]),
            ("block_out_channels", [8, 16.5, 16], ["a list of integers", "16.5"]),
            ("norm_eps", -1, ["-1", "> 0"]),
            ("norm_eps", 0, ["> 0"]),
            ("norm_eps", 1e-300, ["Float32"]),
            ("norm_eps", 1e300, ["Float32"]),
            ("freq_shift", 4, ["freq_shift = 4", "below half"]),
            ("freq_shift", 9, ["freq_shift"]),
            ("norm_num_groups", 0, ["norm_num_groups = 0"]),
            ("attention_head_dim", -8, ["attention_head_dim = -8"]),
            ("time_embedding_dim", 0, ["time_embedding_dim = 0"]),
            ("downsample_padding", 2, ["downsample_padding = 2"]),
            ("flip_sin_to_cos", "yes", ["flip_sin_to_cos", "true or false"]),
            ("down_block_types", "DownBlock2D", ["down_block_types", "a list of strings"]),
        ]
        for (key, value, expected) in cases {
            let message = try Self.loadMessage(config: { $0[key] = value })
            let what = "\(key) = \(value.map { "\($0)" } ?? "absent")"
            #expect(message.contains("config.json") && message.contains(key), "\(what): \(message)")
            for text in expected { #expect(message.contains(text), "\(what): \(message)") }
        }
    }

    @Test func schedulerConfigValuesAreRangeChecked() throws {
        let cases: [([String: Any], [String])] = [
            (["num_train_timesteps": 1_000_000_000_000], ["num_train_timesteps", "1...1000000"]),
            (["num_train_timesteps": 0], ["num_train_timesteps"]),
            (["num_train_timesteps": "1000"], ["num_train_timesteps", "an integer", "\"1000\""]),
            (["thresholding": true, "dynamic_thresholding_ratio": 2.0], ["dynamic_thresholding_ratio", "(0, 1]"]),
            (["dynamic_thresholding_ratio": 0], ["dynamic_thresholding_ratio"]),
            (["clip_sample": true, "clip_sample_range": -1], ["clip_sample_range = -1", "> 0"]),
            (["beta_end": 2.0], ["beta_end = 2.0", "(0, 1]"]),
            (["beta_start": 0], ["beta_start"]),
            (["trained_betas": [0.5, 1.0, 0.5], "num_train_timesteps": 3], ["ᾱ[1]", "scheduler_config.json"]),
            (["trained_betas": [0.5, -1]], ["trained_betas", "β[1]"]),
            // libFuzzer's scheduler-config crasher: 4 betas for 2 training steps.
            (["trained_betas": [0.1, 0.2, 0.3, 0.2], "num_train_timesteps": 2],
             ["trained_betas = 4 values", "num_train_timesteps = 2"]),
            (["trained_betas": [0.1, 0.2]], ["trained_betas = 2 values", "num_train_timesteps = 1000"]),
            (["sample_max_value": 0], ["sample_max_value"]),
            (["clip_sample": 1], ["clip_sample", "true or false"]),
        ]
        for (scheduler, expected) in cases {
            let message = try Self.loadMessage(scheduler: scheduler)
            #expect(message.contains("scheduler_config.json"), "\(scheduler): \(message)")
            for text in expected { #expect(message.contains(text), "\(scheduler): \(message)") }
        }
        #expect(try Self.loadMessage(scheduler: ["num_train_timesteps": 1000, "clip_sample": true]) == "(loaded)")
    }

    @Test func unreadableAndMalformedFilesAreExplained() throws {
        let directory = try UNet2DLoadTests.copyOfTinyModel()
        defer { try? FileManager.default.removeItem(at: directory) }
        let scheduler = directory.appendingPathComponent("scheduler_config.json")
        try Data("{\"num_train_timesteps\": 1000,, }".utf8).write(to: scheduler)
        let syntax = UNet2DLoadTests.message(loading: directory) ?? ""
        #expect(syntax.contains("scheduler_config.json") && syntax.contains("not valid JSON") && syntax.contains("character"),
                "\(syntax)")
        try Data("[1, 2]".utf8).write(to: scheduler)
        let notObject = UNet2DLoadTests.message(loading: directory) ?? ""
        #expect(notObject.contains("a JSON object"), "\(notObject)")
        try FileManager.default.removeItem(at: scheduler)
        try FileManager.default.createDirectory(at: scheduler, withIntermediateDirectories: false)
        let directoryMessage = UNet2DLoadTests.message(loading: directory) ?? ""
        #expect(directoryMessage.contains("scheduler_config.json") && directoryMessage.contains("Is a directory")
                && !directoryMessage.contains("NSCocoaErrorDomain"), "\(directoryMessage)")
        try FileManager.default.removeItem(at: scheduler)
        // A weights path that is a directory: a plain reason, not "NSCocoaErrorDomain error 256".
        let weights = directory.appendingPathComponent("diffusion_pytorch_model.safetensors")
        try FileManager.default.removeItem(at: weights)
        try FileManager.default.createDirectory(at: weights, withIntermediateDirectories: false)
        let weightsMessage = UNet2DLoadTests.message(loading: directory) ?? ""
        #expect(weightsMessage.contains("Is a directory") && !weightsMessage.contains("NSCocoaErrorDomain"), "\(weightsMessage)")
    }

    @Test func schedulesRefuseAbsurdLengthsAndDeadSignal() {
        #expect(throws: ScheduleError.self) { try NoiseSchedule(.linear(), trainSteps: 1_000_000_000_000) }
        #expect(throws: ScheduleError.self) { try NoiseSchedule.diffusersFloat32(.linear(), trainSteps: -1) }
        #expect(throws: ScheduleError.self) { try NoiseSchedule(betas: [0.5, 1, 0.5]) }
        // Found by the scheduler-config fuzzer: β = 1e-320 makes ᾱ = 1, then β̃ = 0/0.
        #expect(throws: ScheduleError.self) { try NoiseSchedule(betas: [1e-320, 0.5]) }
        #expect(throws: ScheduleError.self) { try NoiseSchedule(.linear(start: 1e-320, end: 0.02), trainSteps: 10) }
        #expect(throws: ScheduleError.self) { try NoiseSchedule.diffusersFloat32(.linear(start: 1e-9, end: 0.02), trainSteps: 10) }
        // Zero terminal SNR reaches ᾱ = 0 at the last step only, which stays allowed.
        #expect((try? NoiseSchedule(.linear(), trainSteps: 1000, rescaleZeroTerminalSNR: true)) != nil)
    }

    @Test func modelInputSizesAreOverflowChecked() throws {
        let directory = try UNet2DLoadTests.copyOfTinyModel()
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = try ModelCatalog.load(path: directory.path)
        guard let unet = model.denoiser as? UNet2DDenoiser else { Issue.record("not a UNet"); return }
        #expect(throws: UNetLoadError.self) {
            try unet.model([0], batch: Int.max / 2, height: 1 << 20, width: 1 << 20, timesteps: [1])
        }
        #expect(throws: UNetLoadError.self) { try unet.model([], batch: 1, height: 0, width: 0, timesteps: [1]) }
    }
}

/// A pipeline's model_index.json is read: another pipeline's UNet, or a missing scheduler, is an
/// error instead of a silently wrong model or default betas.
@Suite struct PipelineIndexTests {
    static func copyOfPipeline() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skipstep-pipeline-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: Fixtures.url("unet/pipeline_one_channel_28"), to: directory)
        return directory
    }

    @Test func theIndexIsChecked() throws {
        let directory = try Self.copyOfPipeline()
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(UNet2DLoadTests.message(loading: directory) == nil)
        let index = directory.appendingPathComponent("model_index.json")
        let original = try Data(contentsOf: index)

        let stableDiffusion = String(decoding: original, as: UTF8.self)
            .replacingOccurrences(of: "DDPMPipeline", with: "StableDiffusionPipeline")
            .replacingOccurrences(of: "\"UNet2DModel\"", with: "\"UNet2DConditionModel\"")
        try Data(stableDiffusion.utf8).write(to: index)
        let wrongUNet = UNet2DLoadTests.message(loading: directory) ?? "(loaded)"
        #expect(wrongUNet.contains("model_index.json") && wrongUNet.contains("unet") && wrongUNet.contains("UNet2DConditionModel")
                && wrongUNet.contains("StableDiffusionPipeline"), "\(wrongUNet)")

        try Data("{\"unet\": 3".utf8).write(to: index)
        let notJSON = UNet2DLoadTests.message(loading: directory) ?? "(loaded)"
        #expect(notJSON.contains("model_index.json"), "\(notJSON)")

        try original.write(to: index)
        try FileManager.default.removeItem(at: directory.appendingPathComponent("scheduler"))
        let noScheduler = UNet2DLoadTests.message(loading: directory) ?? "(loaded)"
        #expect(noScheduler.contains("scheduler_config.json") && noScheduler.contains("DDPMScheduler"), "\(noScheduler)")
    }
}

/// The classifier's config.json: layer sizes that do not chain are refused by layer.
@Suite struct ClassifierConfigTests {
    @Test func layerSizesMustChain() throws {
        let source = Fixtures.url("classifier")
        let cases: [(String, (inout [String: Any]) -> Void, String)] = [
            ("conv in_channels", { config in
                var layers = config["layers"] as! [[String: Any]]
                layers[0]["in_channels"] = 3
                config["layers"] = layers
            }, "layers[0] (conv2d)"),
            ("huge input", { config in
                var input = config["input"] as! [String: Any]
                input["shape"] = [1, 1 << 40, 1 << 40]
                config["input"] = input
            }, "input.shape"),
            ("linear size", { config in
                var layers = config["layers"] as! [[String: Any]]
                if let i = layers.firstIndex(where: { $0["op"] as? String == "linear" }) { layers[i]["in_features"] = 7 }
                config["layers"] = layers
            }, "(linear)"),
            ("missing key", { $0["format"] = nil }, "format is missing"),
            ("fractional channels", { config in
                var layers = config["layers"] as! [[String: Any]]
                layers[0]["out_channels"] = 1.5
                config["layers"] = layers
            }, "wrong type"),
        ]
        for (what, edit, expected) in cases {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skipstep-classifier-\(UUID().uuidString)")
            try FileManager.default.copyItem(at: source, to: directory)
            defer { try? FileManager.default.removeItem(at: directory) }
            let url = directory.appendingPathComponent("config.json")
            var config = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
            edit(&config)
            try JSONSerialization.data(withJSONObject: config).write(to: url)
            let message: String
            do { _ = try FashionClassifier(directory: directory); message = "(loaded)" } catch { message = error.localizedDescription }
            #expect(message.contains("config.json") && message.contains(expected), "\(what): \(message)")
        }
    }
}
