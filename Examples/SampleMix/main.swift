// skipstep as a library: load a diffusers model folder, sample 16 images with Mix (skipped-step
// while t ≥ 291, DDIM below) in 25 steps, and write them as a PNG grid.
//
//     swift run -c release skipstep-example [MODEL_FOLDER] [OUT.png]
//
// The README shows this program; CI builds it, and a test checks that its image is the one
// `skipstep sample --sampler mix:cutoff=291 --steps 25 --count 16 --seed 0 --out OUT.png` writes.
import Diffusion
import Foundation
import Media
import Models

let arguments = Array(CommandLine.arguments.dropFirst())
let folder = arguments.first ?? "models/fashion-ddpm-28"
let output = arguments.count > 1 ? arguments[1] : "mix.png"

let model = try ModelCatalog.load(path: folder)                  // a diffusers UNet2DModel folder
let spec = try SamplerSpec(parsing: "mix:cutoff=291")            // any spec: "skip", "ddim:eta=0.5", ...
let sampler = try model.makeSampler(spec, steps: 25)             // checked against the model, planned in Float64
let pipeline = try SamplingPipeline(model: model, sampler: sampler, seed: 0, batch: 16)
let samples = try await pipeline.samples(0..<16)                 // sample i uses the generator seeded with 0 + i

let shape = model.denoiser.sampleShape, d = model.denoiser.sampleCount
let images = (0..<16).map { i in
    Image8.fromModelSpace(samples[(i * d)..<((i + 1) * d)], channels: shape[0], height: shape[1], width: shape[2])
}
try Image8.grid(images).pngData().write(to: URL(fileURLWithPath: output))
print("wrote \(output): 16 samples of \(model.name), \(spec.displayName), \(sampler.steps.count) steps")
