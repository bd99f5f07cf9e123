import Foundation
import Models
import Testing
import TestSupport

/// The Swift AutoencoderKL decoder against diffusers' `vae.decode` (tools/make_sd_fixtures.py):
/// relative L2 ≤ 1e-4, from the saved folder and from the legacy-named copy.
@Suite struct AutoencoderKLDecoderTests {
    @Test(arguments: ["vae", "vae_legacy"])
    func decodeMatchesDiffusers(folder: String) throws {
        let decoder = try AutoencoderKLDecoder(directory: Fixtures.url("sd/\(folder)"), variant: nil)
        #expect(decoder.scaleFactor == 2 && decoder.config.latentChannels == 4 && decoder.config.blockOutChannels == [32, 64])
        // vae_legacy's config omits scaling_factor: diffusers' default applies.
        #expect(decoder.config.scalingFactor == 0.18215)
        let directory = Fixtures.url("sd/vae")
        let goldens = try JSONDecoder().decode(SDFixtures.Goldens<SDFixtures.VAECase>.self,
                                               from: Data(contentsOf: directory.appendingPathComponent("goldens.json")))
        let data = try Data(contentsOf: directory.appendingPathComponent("goldens.bin"))
        #expect(goldens.cases.count == 2)
        for c in goldens.cases {
            let image = try decoder.decode(SDFixtures.floats(data, c.latents), batch: c.batch, height: c.height, width: c.width)
            #expect(image.count == c.batch * 3 * 4 * c.height * c.width)
            let error = relativeL2(image, SDFixtures.floats(data, c.output))
            #expect(error <= 1e-4, "\(folder) \(c.name): relative L2 \(error)")
            print("AutoencoderKL decoder \(folder) \(c.name): relative L2 vs diffusers \(error)")
        }
    }

    @Test func encoderKeysAreIgnoredAndEverythingElseIsStrict() throws {
        // The fixture holds encoder.* and quant_conv.* keys (it loads in decodeMatchesDiffusers);
        // a stray decoder key, a missing one or a misshaped one is an error.
        let key = "decoder.up_blocks.1.resnets.0.conv_shortcut.weight"
        let cases: [(String, (inout [String: (SafeTensorsDType, [Int], Data)]) -> Void)] = [
            ("missing", { $0[key] = nil }),
            ("has shape", { $0[key]!.1 = [32, 64] }),
            ("does not use", { $0["decoder.up_blocks.2.resnets.0.norm1.weight"] = (.f16, [32], Data(count: 64)) }),
            ("does not use", { $0["post_quant_conv.extra"] = (.f16, [1], Data(count: 2)) }),
            ("missing", { $0["decoder.mid_block.attentions.0.to_q.weight"] = nil }),
        ]
        for (expected, edit) in cases {
            let directory = try SDFixtures.copy("vae")
            defer { try? FileManager.default.removeItem(at: directory) }
            try SDFixtures.editWeights(directory, edit)
            let message = SDFixtures.message { _ = try AutoencoderKLDecoder(directory: directory, variant: nil) }
            #expect(message?.contains(expected) == true && message?.contains("diffusion_pytorch_model.safetensors") == true,
                    "\(expected): \(message ?? "loaded")")
        }
    }

    @Test func postQuantConvFollowsTheConfig() throws {
        let directory = try SDFixtures.copy("vae")
        defer { try? FileManager.default.removeItem(at: directory) }
        try SDFixtures.editConfig(directory) { $0["use_post_quant_conv"] = false }
        let message = SDFixtures.message { _ = try AutoencoderKLDecoder(directory: directory, variant: nil) }
        #expect(message?.contains("post_quant_conv") == true, "\(message ?? "loaded")")
    }

    @Test(arguments: [
        ("up_block_types", "[\"UpDecoderBlock2D\", \"AttnUpDecoderBlock2D\"]"), ("act_fn", "\"gelu\""),
        ("norm_num_groups", "5"), ("block_out_channels", "[32]"), ("layers_per_block", "0"), ("scaling_factor", "0"),
        ("latent_channels", "0"), ("_class_name", "\"VQModel\""),
    ])
    func badConfigsAreRefusedByName(key: String, json: String) throws {
        let directory = try SDFixtures.copy("vae")
        defer { try? FileManager.default.removeItem(at: directory) }
        try SDFixtures.editConfig(directory) { $0[key] = try! JSONSerialization.jsonObject(with: Data(json.utf8), options: .fragmentsAllowed) }
        let message = SDFixtures.message { _ = try AutoencoderKLDecoder(directory: directory, variant: nil) }
        let named = message?.contains(key) == true || (key == "block_out_channels" && message?.contains("up_block_types") == true)
        #expect(named && message?.contains("config.json") == true, "\(key) = \(json): \(message ?? "loaded")")
    }

    @Test func badLatentsAreErrors() throws {
        let decoder = try AutoencoderKLDecoder(directory: Fixtures.url("sd/vae"), variant: nil)
        #expect(throws: UNetLoadError.self) { _ = try decoder.decode([0, 1], batch: 1, height: 2, width: 2) }
        #expect(throws: UNetLoadError.self) { _ = try decoder.decode([], batch: 0, height: 2, width: 2) }
        let image = try decoder.decode([Float](repeating: 0.3, count: 4 * 3), batch: 1, height: 3, width: 1)
        #expect(image.count == 3 * 6 * 2 && image.allSatisfy(\.isFinite))
    }
}
