import Diffusion
import Foundation
import Models
import Testing
import TestSupport

/// Bad model folders: each a clear error that names the file and key, never a crash.
@Suite struct UNet2DLoadTests {
    /// A copy of the tiny_default fixture in a temporary folder, for the test to damage.
    static func copyOfTinyModel() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skipstep-unet-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for name in ["config.json", "diffusion_pytorch_model.safetensors"] {
            try FileManager.default.copyItem(at: Fixtures.url("unet/tiny_default/\(name)"),
                                             to: directory.appendingPathComponent(name))
        }
        return directory
    }

    static func message(loading directory: URL) -> String? {
        do {
            _ = try ModelCatalog.load(path: directory.path)
            return nil
        } catch {
            return error.localizedDescription
        }
    }

    /// Rewrites the weights file through `edit` on (name → (dtype, shape, bytes)).
    static func rewriteWeights(in directory: URL, _ edit: (inout [String: (SafeTensorsDType, [Int], Data)]) -> Void) throws {
        let url = directory.appendingPathComponent("diffusion_pytorch_model.safetensors")
        let file = try SafeTensorsFile(contentsOf: url)
        var tensors: [String: (SafeTensorsDType, [Int], Data)] = [:]
        for name in file.tensorNames {
            let info = try file.info(name)
            tensors[name] = (info.dtype, info.shape, try file.rawBytes(name))
        }
        edit(&tensors)
        var writer = SafeTensorsWriter()
        for (name, tensor) in tensors.sorted(by: { $0.key < $1.key }) {
            try writer.addRaw(name, dtype: tensor.0, shape: tensor.1, bytes: tensor.2)
        }
        try writer.write(to: url)
    }

    static func rewriteConfig(in directory: URL, _ edit: (inout [String: Any]) -> Void) throws {
        let url = directory.appendingPathComponent("config.json")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any] ?? [:]
        edit(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: url)
    }

    @Test func theIntactCopyLoads() throws {
        let directory = try Self.copyOfTinyModel()
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(Self.message(loading: directory) == nil)
    }

    @Test func damagedWeightsAreNamed() throws {
        let cases: [(String, (inout [String: (SafeTensorsDType, [Int], Data)]) -> Void, [String])] = [
            ("missing key", { $0["conv_in.bias"] = nil }, ["conv_in.bias", "missing"]),
            ("unused key", { $0["extra.weight"] = (.f32, [1], Data(count: 4)) }, ["extra.weight"]),
            ("wrong shape", { $0["conv_out.bias"] = (.f32, [2], Data(count: 8)) }, ["conv_out.bias", "[2]"]),
            ("wrong dtype", { $0["conv_out.bias"] = (.i32, [3], Data(count: 12)) }, ["conv_out.bias", "I32"]),
            ("NaN weight", { tensors in
                var nan = Float.nan
                let bytes = Data(bytes: &nan, count: 4)
                tensors["conv_out.bias"] = (.f32, [3], bytes + Data(count: 8))
            }, ["conv_out.bias", "NaN"]),
        ]
        for (what, edit, expected) in cases {
            let directory = try Self.copyOfTinyModel()
            defer { try? FileManager.default.removeItem(at: directory) }
            try Self.rewriteWeights(in: directory, edit)
            let message = Self.message(loading: directory) ?? "(loaded)"
            for text in expected { #expect(message.contains(text), "\(what): \(message)") }
        }
    }

    @Test func halfPrecisionWeightsLoadAndAgree() throws {
        let directory = try Self.copyOfTinyModel()
        defer { try? FileManager.default.removeItem(at: directory) }
        // conv_out.bias as F16 and BF16 holds values exactly representable in both.
        let values: [Float] = [0.5, -0.25, 1.5]
        for dtype in [SafeTensorsDType.f16, .bf16] {
            try Self.rewriteWeights(in: directory) { tensors in
                var bytes = Data()
                for v in values {
                    let bits: UInt16 = dtype == .f16 ? Float16(v).bitPattern : UInt16(v.bitPattern >> 16)
                    withUnsafeBytes(of: bits.littleEndian) { bytes.append(contentsOf: $0) }
                }
                tensors["conv_out.bias"] = (dtype, [3], bytes)
            }
            #expect(Self.message(loading: directory) == nil, "\(dtype)")
            let file = try SafeTensorsFile(contentsOf: directory.appendingPathComponent("diffusion_pytorch_model.safetensors"))
            #expect(try file.floatsConverting("conv_out.bias") == values)
        }
    }

    @Test func badConfigsAreNamed() throws {
        let cases: [(String, (inout [String: Any]) -> Void, [String])] = [
            ("unknown block", { $0["down_block_types"] = ["DownBlock2D", "CrossAttnDownBlock2D"] },
             ["down_block_types", "CrossAttnDownBlock2D"]),
            ("unknown mid block", { $0["mid_block_type"] = "UNetMidBlock2DCrossAttn" }, ["mid_block_type"]),
            ("fourier", { $0["time_embedding_type"] = "fourier" }, ["time_embedding_type", "fourier"]),
            ("class embedding", { $0["num_class_embeds"] = 10 }, ["class_embed_type"]),
            ("length mismatch", { $0["block_out_channels"] = [8] }, ["block_out_channels"]),
            ("groups", { $0["norm_num_groups"] = 3 }, ["divisible", "3 groups"]),
        ]
        for (what, edit, expected) in cases {
            let directory = try Self.copyOfTinyModel()
            defer { try? FileManager.default.removeItem(at: directory) }
            try Self.rewriteConfig(in: directory, edit)
            let message = Self.message(loading: directory) ?? "(loaded)"
            for text in expected { #expect(message.contains(text), "\(what): \(message)") }
            #expect(message.contains("config.json") || message.contains("safetensors"), "\(what) names the file: \(message)")
        }
    }

    @Test func missingFilesSayWhatIsExpected() throws {
        let directory = try Self.copyOfTinyModel()
        defer { try? FileManager.default.removeItem(at: directory) }
        let weights = directory.appendingPathComponent("diffusion_pytorch_model.safetensors")
        try FileManager.default.moveItem(at: weights, to: directory.appendingPathComponent("diffusion_pytorch_model.bin"))
        let pickle = Self.message(loading: directory) ?? ""
        #expect(pickle.contains(".bin") && pickle.contains("save_pretrained") && pickle.contains("safe_serialization=True"), "\(pickle)")
        try FileManager.default.removeItem(at: directory.appendingPathComponent("config.json"))
        let config = Self.message(loading: directory) ?? ""
        #expect(config.contains("config.json"), "\(config)")
        try Data("{not json".utf8).write(to: directory.appendingPathComponent("config.json"))
        #expect(Self.message(loading: directory)?.contains("config.json") == true)
        // A truncated weights file (the safetensors reader's own cases are in SafeTensorsTests).
        try FileManager.default.removeItem(at: directory.appendingPathComponent("config.json"))
        try FileManager.default.copyItem(at: Fixtures.url("unet/tiny_default/config.json"),
                                         to: directory.appendingPathComponent("config.json"))
        let intact = try Data(contentsOf: Fixtures.url("unet/tiny_default/diffusion_pytorch_model.safetensors"))
        try intact.prefix(intact.count / 2).write(to: weights)
        let truncated = Self.message(loading: directory) ?? ""
        #expect(truncated.contains("diffusion_pytorch_model.safetensors"), "\(truncated)")
    }
}

/// scheduler_config.json → the model's schedule and sampler defaults.
@Suite struct SchedulerConfigTests {
    static func decode(_ json: String) throws -> SchedulerConfig {
        try JSONDecoder().decode(SchedulerConfig.self, from: Data(json.utf8))
    }

    @Test func diffusersDefaultsApply() throws {
        // Clipping only when the config asks for it (ARCHITECTURE.md, Parity pitfalls), not diffusers' class default.
        let ddpm = try Self.decode(#"{"_class_name": "DDPMScheduler", "num_train_timesteps": 1000}"#)
        #expect(try ddpm.samplerOptions(path: "s.json").clipSampleRange == nil)
        let clipping = try Self.decode(#"{"_class_name": "DDPMScheduler", "clip_sample": true, "clip_sample_range": 2}"#)
        #expect(try clipping.samplerOptions(path: "s.json").clipSampleRange == 2)
        let dpm = try Self.decode(#"{"_class_name": "DPMSolverMultistepScheduler"}"#)
        #expect(try dpm.samplerOptions(path: "s.json").clipSampleRange == nil)
        let explicit = try Self.decode(#"{"_class_name": "DDPMScheduler", "clip_sample": false, "variance_type": "fixed_large"}"#)
        #expect(try explicit.samplerOptions(path: "s.json") == SamplerOptions(varianceType: .fixedLarge))
        let cosine = try Self.decode(#"{"beta_schedule": "squaredcos_cap_v2", "num_train_timesteps": 4000}"#)
        #expect(try cosine.schedule() == NoiseSchedule(.squaredCosCapV2, trainSteps: 4000))
    }

    @Test func unknownValuesAreNamed() throws {
        let variance = try Self.decode(#"{"variance_type": "learned"}"#)
        #expect(throws: UNetLoadError.unsupportedOption(path: "s.json", key: "variance_type", value: "learned",
                                                        supported: "fixed_small, fixed_large, learned_range")) {
            try variance.samplerOptions(path: "s.json")
        }
        #expect(throws: ScheduleError.unknownBetaSchedule("cosine")) {
            try Self.decode(#"{"beta_schedule": "cosine"}"#).schedule()
        }
    }
}
