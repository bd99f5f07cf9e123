import Diffusion
import Foundation
import Models
import Testing
import TestSupport

/// Stable Diffusion end to end on a tiny random pipeline (tools/make_sd_pipeline_fixtures.py):
/// prompt → tokens → text encoder → guided UNet under each sampler → VAE decoder → pixels, against
/// diffusers' StableDiffusionPipeline (DDIM, DPM-Solver++ 2M, PNDM) and a Float64 reference loop around
/// diffusers' UNet (skipped-step, Mix), the same seeds and torch noise.
@Suite struct StableDiffusionPipelineTests {
    struct Goldens: Decodable {
        struct Case: Decodable {
            var source: String
            var sampler: String
            var steps: Int
            var guidance: Double
            var negative: String?
            var prediction: String
            var offset: Int
            var shape: [Int]
        }
        var prompt: String
        var seed: UInt64
        var images: Int
        var cases: [Case]
    }

    static func goldens() throws -> (Goldens, [Float]) {
        let meta = try Fixtures.json(Goldens.self, "sd/pipeline/goldens.json")
        let data = try Data(contentsOf: Fixtures.url("sd/pipeline/goldens.bin"))
        let values = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        return (meta, values)
    }

    static func pipelineFolder(prediction: String = "epsilon", schedulerClass: String = "DDIMScheduler",
                               edit: (URL) throws -> Void = { _ in }) throws -> URL {
        try StableDiffusionFixture.pipelineFolder(prediction: prediction, schedulerClass: schedulerClass, edit: edit)
    }

    /// Images of one golden case made by skipstep, NCHW in [−1, 1].
    static func images(_ sd: StableDiffusion, _ c: Goldens.Case, prompt: String, seed: UInt64, count: Int) async throws -> [Float] {
        let (h, w) = try #require(sd.defaultImageSize)
        let (model, _) = try sd.model(prompts: [prompt], negative: [c.negative ?? ""], guidance: c.guidance, height: h, width: w)
        let spacing = try sd.scheduler.spacing(path: sd.schedulerPath)
        // diffusers' cases ran the folder's own scheduler: skipstep's default sampler for that
        // config must be the same one; the reference cases name their spec.
        let spec = c.source == "diffusers" ? try sd.scheduler.defaultSampler(path: sd.schedulerPath).spec
                                           : try SamplerSpec(parsing: c.sampler)
        let sampler = try model.makeSampler(spec, steps: c.steps, defaultSpacing: spacing)
        let pipeline = try SamplingPipeline(model: model, sampler: sampler, seed: seed, rng: .torch, batch: count, classes: .fixed(0))
        let latents = try await pipeline.samples(0..<count)
        let shape = model.denoiser.sampleShape
        return try sd.decode(latents, batch: count, latentHeight: shape[1], latentWidth: shape[2])
    }

    @Test(arguments: ["epsilon", "v_prediction"])
    func matchesDiffusersAndTheReferenceLoop(prediction: String) async throws {
        let (goldens, values) = try Self.goldens()
        // The goldens swap the pipeline's scheduler: DDIMScheduler, DPMSolverMultistepScheduler.from_config,
        // or PNDMScheduler.from_config(..., skip_prk_steps=True) (Stable Diffusion's published PNDM config).
        let ddim = try StableDiffusion(directory: Self.pipelineFolder(prediction: prediction))
        let dpm = try StableDiffusion(directory: Self.pipelineFolder(prediction: prediction,
                                                                     schedulerClass: "DPMSolverMultistepScheduler"))
        let pndm = try StableDiffusion(directory: Self.pndmFolder(prediction: prediction))
        #expect(ddim.predictionType.rawValue == prediction)
        let cases = goldens.cases.filter { $0.prediction == prediction }
        #expect(cases.count == 16)
        #expect(cases.count(where: { $0.sampler == "pndm" }) == 2)
        for c in cases {
            let sd = c.sampler == "dpmpp-2m" ? dpm : c.sampler == "pndm" ? pndm : ddim
            let expected = values[c.offset..<(c.offset + c.shape.reduce(1, *))]
            let pixels = try await Self.images(sd, c, prompt: goldens.prompt, seed: goldens.seed, count: goldens.images)
            // diffusers' output_type "np": (x/2 + 0.5).clamp(0, 1).
            let image = pixels.map { min(max($0 / 2 + 0.5, 0), 1) }
            let error = relativeL2(image, expected)
            let label = "\(c.source) \(c.sampler) \(c.steps) steps, guidance \(c.guidance), negative \(c.negative ?? "default")"
            #expect(error <= 1e-3, "\(label): relative L2 \(error)")
            // PNG bytes round(255·x) within 1 on ≥ 99.9 % of pixels.
            let far = zip(image, expected).count { abs(($0 * 255).rounded() - ($1 * 255).rounded()) > 1 }
            #expect(Double(far) <= 0.001 * Double(image.count), "\(label): \(far) of \(image.count) bytes differ by more than 1")
        }
    }

    /// The pipeline folder with SD 2.1-base's own scheduler class, PNDMScheduler with `skip_prk_steps: true`.
    static func pndmFolder(prediction: String = "epsilon", skipPRKSteps: Bool? = true) throws -> URL {
        try pipelineFolder(prediction: prediction, schedulerClass: "PNDMScheduler") { root in
            let url = root.appendingPathComponent("scheduler/scheduler_config.json")
            var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
            config["skip_prk_steps"] = skipPRKSteps
            try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]).write(to: url)
        }
    }

    @Test func defaultSamplerFollowsTheSchedulerConfig() throws {
        let ddim = try StableDiffusion(directory: Self.pipelineFolder())
        let (spec, note) = try ddim.scheduler.defaultSampler(path: ddim.schedulerPath)
        #expect(spec.description == "ddim:spacing=[leading+1]" || spec.kind == .ddim(eta: 0))
        #expect(note == nil)
        #expect(try ddim.scheduler.spacing(path: ddim.schedulerPath) == .leading(offset: 1))
        #expect(ddim.scheduler.ddimFinalAlphaBar(ddim.schedule) == ddim.schedule.alphaBar(0))
        // PNDMScheduler: PLMS as SD publishes it (skip_prk_steps true), the class's own Runge–Kutta warm-up
        // when the key is false or absent; both end at ᾱ[0] (set_alpha_to_one false) on the folder's spacing.
        for (skip, kind) in [(true, SamplerKind.pndm(skipPRK: true)), (false, .pndm(skipPRK: false)), (nil, .pndm(skipPRK: false))] {
            let pndm = try StableDiffusion(directory: Self.pndmFolder(skipPRKSteps: skip))
            let (spec, note) = try pndm.scheduler.defaultSampler(path: pndm.schedulerPath)
            #expect(spec.kind == kind && spec.spacing == .leading(offset: 1) && note == nil, "skip_prk_steps \(String(describing: skip))")
            #expect(pndm.scheduler.ddimFinalAlphaBar(pndm.schedule) == pndm.schedule.alphaBar(0))
        }
        let dpm = try StableDiffusion(directory: Self.pipelineFolder(schedulerClass: "DPMSolverMultistepScheduler"))
        #expect(try dpm.scheduler.defaultSampler(path: dpm.schedulerPath).spec.kind == .dpmSolverPP2M)
        #expect(try dpm.scheduler.spacing(path: dpm.schedulerPath) == .dpmLinspace)
    }

    @Test func folderErrorsNameTheFileAndWhatWasExpected() throws {
        func message(_ edit: @escaping (URL) throws -> Void) -> String {
            do {
                _ = try StableDiffusion(directory: Self.pipelineFolder(edit: edit))
                return "loaded"
            } catch {
                return error.localizedDescription
            }
        }
        let manager = FileManager.default
        #expect(message { try manager.removeItem(at: $0.appendingPathComponent("model_index.json")) }.contains("model_index.json"))
        #expect(message { try manager.removeItem(at: $0.appendingPathComponent("vae")) }.contains("vae"))
        #expect(message { try manager.removeItem(at: $0.appendingPathComponent("tokenizer/merges.txt")) }.contains("merges.txt"))
        #expect(message { try manager.removeItem(at: $0.appendingPathComponent("scheduler/scheduler_config.json")) }
            .contains("scheduler_config.json"))
        let bin = message { root in
            let unet = root.appendingPathComponent("unet")
            try manager.moveItem(at: unet.appendingPathComponent("diffusion_pytorch_model.safetensors"),
                                 to: unet.appendingPathComponent("diffusion_pytorch_model.bin"))
        }
        #expect(bin.contains(".bin") && bin.contains("UNet2DConditionModel") && bin.contains("save_pretrained"))
        let sdxl = message { root in
            var index = try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("model_index.json"))) as! [String: Any]
            index["_class_name"] = "StableDiffusionXLPipeline"
            try JSONSerialization.data(withJSONObject: index).write(to: root.appendingPathComponent("model_index.json"))
        }
        #expect(sdxl.contains("StableDiffusionXLPipeline") && sdxl.contains("StableDiffusionPipeline"))
        let wrongClass = message { root in
            var index = try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("model_index.json"))) as! [String: Any]
            index["unet"] = ["diffusers", "UNet2DModel"]
            try JSONSerialization.data(withJSONObject: index).write(to: root.appendingPathComponent("model_index.json"))
        }
        #expect(wrongClass.contains("UNet2DConditionModel"))
    }

    @Test func sizesAndPromptsAreChecked() throws {
        let sd = try StableDiffusion(directory: Self.pipelineFolder())
        #expect(throws: StableDiffusionError.imageSize(height: 31, width: 32, factor: sd.vae.scaleFactor)) {
            _ = try sd.model(prompts: ["x"], guidance: 7.5, height: 31, width: 32)
        }
        #expect(throws: StableDiffusionError.noPrompt) { _ = try sd.model(prompts: [], guidance: 7.5, height: 32, width: 32) }
        #expect(throws: StableDiffusionError.guidance(-1)) { _ = try sd.model(prompts: ["x"], guidance: -1, height: 32, width: 32) }
        // A prompt over 77 tokens: the dropped text is reported, as diffusers warns with it.
        let long = Array(repeating: "cat", count: 90).joined(separator: " ")
        let (_, truncated) = try sd.model(prompts: [long], guidance: 7.5, height: 32, width: 32)
        #expect(truncated.count == 1 && truncated[0].text.hasPrefix("cat"))
    }
}
