import Diffusion
import Foundation
import Models
import Testing
import TestSupport

/// The Swift UNet2DModel against diffusers' own outputs for random-weight models of several
/// configs (Tests/Fixtures/unet, made by tools/make_unet_fixtures.py).
@Suite struct UNet2DParityTests {
    struct Tensor: Decodable { var offset: Int; var count: Int; var shape: [Int] }
    struct Case: Decodable { var name: String; var batch: Int; var timesteps: [Double]; var input: Tensor; var output: Tensor }
    struct Goldens: Decodable { var cases: [Case] }

    static let supported = ["tiny_default", "tiny_default_legacy_keys", "scale_shift", "no_mid_attention", "no_mid_block",
                            "one_channel_28", "learned_variance", "resnet_updown", "tiny_default_fp16", "tiny_default_bf16"]

    static func floats(_ data: Data, _ t: Tensor) -> [Float] {
        data.withUnsafeBytes { raw in
            (0..<t.count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: t.offset + 4 * $0, as: UInt32.self))) }
        }
    }

    static func load(_ name: String) throws -> UNet2DModel {
        let directory = Fixtures.url("unet/\(name)")
        let config = try JSONDecoder().decode(UNet2DConfig.self, from: Data(contentsOf: directory.appendingPathComponent("config.json")))
        return try UNet2DModel(config: config, weights: SafeTensorsFile(
            contentsOf: directory.appendingPathComponent("diffusion_pytorch_model.safetensors")))
    }

    @Test(arguments: supported)
    func forwardMatchesDiffusers(fixture: String) throws {
        let model = try Self.load(fixture)
        // The legacy-key folder holds tiny_default's weights under pre-0.15 attention names.
        let directory = Fixtures.url("unet/\(fixture == "tiny_default_legacy_keys" ? "tiny_default" : fixture)")
        let goldens = try JSONDecoder().decode(Goldens.self, from: Data(contentsOf: directory.appendingPathComponent("goldens.json")))
        let data = try Data(contentsOf: directory.appendingPathComponent("goldens.bin"))
        #expect(goldens.cases.count >= 2)
        for c in goldens.cases {
            let shape = c.input.shape
            let output = try model(Self.floats(data, c.input), batch: c.batch, height: shape[2], width: shape[3],
                                   timesteps: c.timesteps.count == c.batch ? c.timesteps : Array(repeating: c.timesteps[0], count: c.batch))
            let error = relativeL2(output, Self.floats(data, c.output))
            #expect(error <= 1e-4, "\(fixture) \(c.name): relative L2 \(error)")
        }
    }

    @Test(arguments: [("fourier_time", "time_embedding_type"), ("learned_time_class", "time_embedding_type")])
    func unsupportedOptionsAreRefusedByName(fixture: String, key: String) throws {
        do {
            _ = try Self.load(fixture)
            Issue.record("\(fixture) loaded")
        } catch let error as UNetLoadError {
            #expect(error.localizedDescription.contains(key), "\(error.localizedDescription)")
        }
    }
}

/// A whole sampling run with the Swift UNet against the diffusers pipeline from the same x_T
/// (Tests/Fixtures/unet/pipeline_one_channel_28, tools/make_unet_fixtures.py): 10-step DDIM and
/// 10-step DDPM on custom timesteps, which is skipped-step sampling (ARCHITECTURE.md, Samplers).
@Suite struct UNet2DPipelineTests {
    struct Tensor: Decodable { var offset: Int; var count: Int; var shape: [Int] }
    struct Run: Decodable { var name: String; var scheduler: String; var timesteps: [Int]; var x_T: Tensor; var final: Tensor }
    struct Pipeline: Decodable { var generator_seeds: [Int]; var runs: [Run] }

    @Test func samplersMatchTheDiffusersPipeline() throws {
        let directory = Fixtures.url("unet/pipeline_one_channel_28")
        let pipeline = try JSONDecoder().decode(Pipeline.self, from: Data(contentsOf: directory.appendingPathComponent("pipeline.json")))
        let data = try Data(contentsOf: directory.appendingPathComponent("pipeline.bin"))
        func floats(_ t: Tensor) -> [Float] {
            data.withUnsafeBytes { raw in
                (0..<t.count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: t.offset + 4 * $0, as: UInt32.self))) }
            }
        }
        let loaded = try ModelCatalog.load(path: directory.path)
        #expect(loaded.denoiser.sampleShape == [1, 28, 28])
        #expect(loaded.defaults == SamplerOptions())
        for run in pipeline.runs {
            let kind: SamplerKind = run.scheduler == "DDIMScheduler" ? .ddim(eta: 0) : .skip
            let sampler = try Sampler(kind, schedule: loaded.schedule, timesteps: run.timesteps, options: loaded.defaults)
            // Our torch-compatible generators draw x_T and every noise tensor themselves.
            let generators = pipeline.generator_seeds.map { RandomKind.torch.makeSource(seed: UInt64($0)) }
            var denoising = try Denoising(sampler: sampler, denoiser: loaded.denoiser, generators: generators)
            #expect(denoising.x == floats(run.x_T), "\(run.name): x_T from torch.randn")
            let result = try denoising.run()
            let error = relativeL2(result, floats(run.final))
            #expect(error <= 1e-3, "\(run.name): final relative L2 \(error)")
            print("\(run.name) (\(kind)): final relative L2 vs diffusers \(error)")
        }
    }
}
