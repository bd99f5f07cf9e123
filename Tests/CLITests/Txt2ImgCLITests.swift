import Foundation
import Media
import Testing
import TestSupport

/// `skipstep txt2img` on the tiny random Stable Diffusion pipeline (StableDiffusionFixture).
@Suite struct Txt2ImgCLITests {
    @Test func writesOneImageAndAGrid() throws {
        let model = try StableDiffusionFixture.pipelineFolder()
        defer { try? FileManager.default.removeItem(at: model) }
        let one = model.appendingPathComponent("cat.png").path
        var result = try CLITests.run(["txt2img", "--model", model.path, "--prompt", "a cat", "--steps", "3", "--out", one])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("ddim"), "the folder's DDIMScheduler is the default sampler: \(result.stderr)")
        let image = try Image8.readPNG(from: URL(fileURLWithPath: one))
        #expect(image.width == 32 && image.height == 32 && image.channels == 3)
        let grid = model.appendingPathComponent("grid.png").path
        result = try CLITests.run(["txt2img", "--model", model.path, "--prompt", "a cat", "--steps", "2", "--count", "2",
                                   "--sampler", "mix:cutoff=500", "--guidance", "1", "--out", grid])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Image8.readPNG(from: URL(fileURLWithPath: grid)).width > 32)
    }

    @Test func aPromptListResumesAndRefusesAnotherRun() throws {
        let model = try StableDiffusionFixture.pipelineFolder()
        defer { try? FileManager.default.removeItem(at: model) }
        let prompts = model.appendingPathComponent("prompts.txt")
        try "a cat\n\na dog\na red chair\n".write(to: prompts, atomically: true, encoding: .utf8)
        let out = model.appendingPathComponent("out").path
        let arguments = ["txt2img", "--model", model.path, "--prompts", prompts.path, "--steps", "2", "--out", out]
        var result = try CLITests.run(arguments)
        #expect(result.status == 0, "\(result.stderr)")
        let names = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        #expect(names == ["sample_00000.png", "sample_00001.png", "sample_00002.png", "txt2img.json"])
        let second = try Data(contentsOf: URL(fileURLWithPath: out + "/sample_00001.png"))
        try FileManager.default.removeItem(atPath: out + "/sample_00001.png")
        result = try CLITests.run(arguments)
        #expect(result.status == 0 && result.stderr.contains("resuming: 2 of 3"), "\(result.stderr)")
        // Image 1 comes back identical: it depends on its own prompt and seed only.
        #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/sample_00001.png")) == second)
        result = try CLITests.run(arguments + ["--guidance", "3"])
        #expect(result.status != 0 && result.stderr.contains("guidance"), "\(result.stderr)")
    }

    @Test func dryRunMeasuresTheCost() throws {
        let model = try StableDiffusionFixture.pipelineFolder()
        defer { try? FileManager.default.removeItem(at: model) }
        let result = try CLITests.run(["txt2img", "--model", model.path, "--prompt", "x", "--steps", "25", "--dry-run"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("50 UNet evaluations") && result.stdout.contains("TFLOP") && result.stdout.contains("minutes"),
                "\(result.stdout)")
    }

    /// A folder whose scheduler is SD 2.1-base's PNDMScheduler (skip_prk_steps true) samples with `pndm`
    /// by default, and its cost counts the evaluation PLMS adds: 26 for 25 steps, twice with guidance.
    @Test func aPNDMFolderDefaultsToPNDMAndCountsItsEvaluations() throws {
        let model = try StableDiffusionFixture.pipelineFolder(schedulerClass: "PNDMScheduler") { root in
            let url = root.appendingPathComponent("scheduler/scheduler_config.json")
            var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
            config["skip_prk_steps"] = true
            try JSONSerialization.data(withJSONObject: config).write(to: url)
        }
        defer { try? FileManager.default.removeItem(at: model) }
        let result = try CLITests.run(["txt2img", "--model", model.path, "--prompt", "x", "--steps", "25", "--dry-run"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("sampler pndm") && !result.stderr.contains("note:"), "\(result.stderr)")
        #expect(result.stdout.contains("52 UNet evaluations each (25 steps, 26 network evaluations × 2 for guidance)"), "\(result.stdout)")
        let one = model.appendingPathComponent("cat.png").path
        let run = try CLITests.run(["txt2img", "--model", model.path, "--prompt", "a cat", "--steps", "2", "--out", one])
        #expect(run.status == 0 && run.stderr.contains("2 steps, 3 network evaluations"), "\(run.stderr)")
        #expect(try Image8.readPNG(from: URL(fileURLWithPath: one)).width == 32)
    }

    /// `bench --component`: each Stable Diffusion component timed alone, with its rows, FLOPs and parameters.
    @Test func benchTimesEachComponent() throws {
        let model = try StableDiffusionFixture.pipelineFolder()
        defer { try? FileManager.default.removeItem(at: model) }
        for (component, guidance, rows) in [("text", "7.5", 4), ("unet", "7.5", 4), ("unet", "1", 2), ("vae", "7.5", 2)] {
            let r = try CLITests.run(["bench", "--component", component, "--model", model.path, "--batch", "2", "--latent-size", "8x6",
                                      "--guidance", guidance, "--runs", "2", "--warmup", "0", "--json"])
            #expect(r.status == 0, "\(component): \(r.stderr)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout)")
            #expect(json["component"] as? String == component && json["rows"] as? Int == rows && json["batch"] as? Int == 2)
            #expect((json["gflop_per_image"] as? Double ?? 0) > 0 && (json["evaluations_per_s"] as? Double ?? 0) > 0)
            #expect((json["parameters"] as? Int ?? 0) > 0)
            #expect((json["latent_size"] as? [Int]) == (component == "text" ? nil : [8, 6]), "\(r.stdout)")
        }
        // The default latent size is the UNet's sample_size (16 for the tiny pipeline).
        let text = try CLITests.run(["bench", "--component", "unet", "--model", model.path, "--runs", "1", "--warmup", "0"])
        #expect(text.status == 0 && text.stdout.contains("UNet, latent 16×16, 2 row(s) (guidance 7.5)"), "\(text.stdout)")
        let unet = model.appendingPathComponent("unet").path
        for (arguments, message) in [(["--component", "unet", "--model", unet], "needs a Stable Diffusion pipeline folder"),
                                     (["--component", "gpu", "--model", model.path], "--component"),
                                     (["--component", "vae", "--model", model.path, "--latent-size", "0"], "--latent-size 0"),
                                     (["--latent-size", "8"], "--latent-size applies to --component only")] {
            let bad = try CLITests.run(["bench", "--runs", "1"] + arguments)
            #expect(bad.status != 0 && bad.stderr.contains(message), "\(arguments): \(bad.stderr)")
        }
    }

    @Test(arguments: [
        (["--height", "31"], "multiples of the VAE factor"),
        (["--guidance", "-1"], "--guidance"),
        (["--prompts", "/nonexistent/p.txt"], "give exactly one of --prompt and --prompts"),
        (["--count", "0"], "--count"),
    ])
    func badInputIsAClearError(extra: [String], message: String) throws {
        let model = try StableDiffusionFixture.pipelineFolder()
        defer { try? FileManager.default.removeItem(at: model) }
        let result = try CLITests.run(["txt2img", "--model", model.path, "--prompt", "x", "--steps", "1",
                                       "--out", model.appendingPathComponent("o.png").path] + extra)
        #expect(result.status != 0)
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }

    @Test func anUnconditionalCommandPointsToTxt2Img() throws {
        let model = try StableDiffusionFixture.pipelineFolder()
        defer { try? FileManager.default.removeItem(at: model) }
        let result = try CLITests.run(["sample", "--model", model.path, "--out", model.appendingPathComponent("o.npy").path])
        #expect(result.status != 0 && result.stderr.contains("txt2img"), "\(result.stderr)")
    }
}
