import ArgumentParser
import Diffusion
import Files
import Foundation
import Media
import Models
import Sweep

struct Txt2ImgCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "txt2img",
        abstract: "Text to image with a Stable Diffusion 1.x/2.x diffusers folder and any sampler.",
        discussion: """
            Runs a diffusers StableDiffusionPipeline folder (model_index.json, tokenizer/, text_encoder/, unet/, vae/, \
            scheduler/) on the CPU with classifier-free guidance. Without --sampler it samples as the folder's \
            scheduler would (DDIM, DPM-Solver++ 2M; PNDM folders run DDIM on PNDM's timesteps). --rng torch \
            (the default here) draws the latents as torch.randn with torch.Generator().manual_seed(seed + i), so \
            diffusers given one generator per image starts from the same noise.
            Examples:
              skipstep txt2img --model sd21-base --prompt "a photo of a cat" --steps 25 --out cat.png
              skipstep txt2img --model sd21-base --prompt "a cat" --sampler mix:cutoff=300 --count 4 --out cats/
              skipstep txt2img --model sd21-base --prompts captions.txt --out coco/   (prompt j seeded seed + j; resumable)
            """)

    @Option(help: ArgumentHelp("A diffusers StableDiffusionPipeline folder, or ORG/NAME[@REVISION] in the local Hugging Face cache.",
                               valueName: "path"))
    var model: String

    @Option(help: "The prompt.")
    var prompt: String?

    @Option(help: ArgumentHelp("A text file with one prompt a line (empty lines skipped); prompt j is image j, seeded seed + j, "
                               + "written to --out DIR as sample_J.png. A rerun into the same DIR resumes.", valueName: "file"))
    var prompts: String?

    @Option(help: "The negative prompt (diffusers' default: empty), used when --guidance > 1.")
    var negativePrompt: String = ""

    @Option(parsing: .unconditional, help: "Classifier-free guidance scale; ≤ 1 runs the UNet once per step without guidance.")
    var guidance: Double = 7.5

    @OptionGroup var sampling: SamplerArguments

    @Option(parsing: .unconditional, help: "Seed of image 0; image i uses seed + i.")
    var seed: UInt64 = 0

    @Option(help: "Random generator: torch (the default here: the noise diffusers draws from the same seeds) or philox.")
    var rng: RandomKind = .torch

    @Option(parsing: .unconditional, help: "Image height in pixels (default: the UNet's sample_size × the VAE factor).")
    var height: Int?

    @Option(parsing: .unconditional, help: "Image width in pixels (default: the UNet's sample_size × the VAE factor).")
    var width: Int?

    @Option(parsing: .unconditional, help: "Images of --prompt (default 1).")
    var count: Int?

    @Option(parsing: .unconditional, help: "Images per UNet call (twice as many rows with guidance).")
    var batch: Int = 1

    @Option(help: ArgumentHelp("Weights variant: read *.VARIANT.safetensors (e.g. fp16).", valueName: "name"))
    var variant: String?

    @Option(help: ArgumentHelp("A .png file (one image, or a grid of --count images) or a directory (one PNG per image).",
                               valueName: "path"))
    var out: String?

    @Flag(help: "Load the model, print the plan (steps, network evaluations, TFLOP, estimated minutes) and stop.")
    var dryRun = false

    @Flag(help: "With a directory --out and --prompt: write into it even if it holds files.")
    var overwrite = false

    @Flag(help: "Write the images even if the latents hold NaN or infinite values; otherwise that is an error.")
    var allowNonfinite = false

    func validate() throws {
        if sampling.samplerFrom != nil || sampling.cutoff == .auto {
            throw ValidationError("txt2img takes its sampler from --sampler (a tuned file from `skipstep tune` is for unconditional models)")
        }
        guard (prompt == nil) != (prompts == nil) else { throw ValidationError("give exactly one of --prompt and --prompts") }
        if let count, count < 1 { throw ValidationError("--count must be at least 1, got \(count)") }
        if prompts != nil, count != nil { throw ValidationError("--count applies to --prompt; --prompts makes one image a line") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
        guard guidance.isFinite, guidance >= 0 else { throw ValidationError("--guidance must be a finite number ≥ 0, got \(guidance)") }
        for (flag, value) in [("--height", height), ("--width", width)] {
            if let value, value < 1 || value > 16384 { throw ValidationError("\(flag) must be in 1…16384 pixels, got \(value)") }
        }
        if !dryRun, out == nil { throw ValidationError("--out is required (a .png file or a directory), unless --dry-run") }
        if let variant, variant.isEmpty || variant.contains("/") {
            throw ValidationError("--variant must be a name like fp16, got '\(variant)'")
        }
    }

    func run() async throws {
        let texts = try promptList()
        let output = try out.map { try Txt2ImgOutput(path: $0, promptList: prompts != nil, overwrite: overwrite) }
        let directory = try Settings.current.catalog.directory(model)
        let clock = ContinuousClock(), start = clock.now
        let sd = try StableDiffusion(directory: directory, variant: variant)
        guard let size = (height.flatMap { h in width.map { (height: h, width: $0) } })
                ?? sd.defaultImageSize.map({ (height: height ?? $0.height, width: width ?? $0.width) }) else {
            throw RunError("\(directory.path)/unet/config.json has no sample_size: give --height and --width")
        }
        var (loaded, truncated) = try sd.model(prompts: texts, negative: [negativePrompt], guidance: guidance,
                                               height: size.height, width: size.width)
        for (index, text) in truncated {
            log("warning: prompt \(index) is longer than the tokenizer's \(sd.tokenizer.maxLength) tokens; dropped: \"\(text)\"")
        }
        if !allowNonfinite { loaded.denoiser = FiniteCheckingDenoiser(loaded.denoiser) }
        let fallback = try sd.scheduler.defaultSampler(path: sd.schedulerPath)
        if sampling.sampler == nil, let note = fallback.note { log("note: \(note)") }
        let sampler = try sampling.makeSampler(loaded, fallback: fallback.spec.description,
                                               defaultSpacing: sd.scheduler.spacing(path: sd.schedulerPath))
        let spec = try sampling.spec(fallback: fallback.spec.description)
        let total = count ?? texts.count
        let latentShape = loaded.denoiser.sampleShape
        let evaluations = sampler.steps.count * (guidance > 1 ? 2 : 1)
        log("model \(directory.path) (\(sd.predictionType.rawValue)), \(size.height)×\(size.width), sampler \(spec), "
            + "\(sampler.describedSteps), guidance \(guidance), \(total) image(s), seed \(seed), rng \(rng.rawValue) "
            + "(loaded in \(String(format: "%.1f", seconds(clock.now - start))) s)")
        if dryRun {
            log("measuring one UNet evaluation and one VAE decode at \(size.height)×\(size.width)…")
            let cost = try StableDiffusionCost(sd, latentHeight: latentShape[1], latentWidth: latentShape[2])
            let unetTF = Double(cost.unetFLOPs) * Double(evaluations * total) / 1e12
            let vaeTF = Double(cost.decoderFLOPs) * Double(total) / 1e12
            let minutes = (cost.unetSeconds * Double(evaluations) + cost.decoderSeconds) * Double(total) / 60
            print("\(total) image(s) of \(size.height)×\(size.width): \(evaluations) UNet evaluations each (\(sampler.describedSteps)"
                  + (guidance > 1 ? " × 2 for guidance" : "") + ")")
            print(String(format: "UNet %.3f TFLOP (%.1f GFLOP an evaluation, %.2f s measured), VAE decoder %.3f TFLOP (%.2f s an image)",
                         unetTF, Double(cost.unetFLOPs) / 1e9, cost.unetSeconds, vaeTF, cost.decoderSeconds))
            print(String(format: "≈ %.1f minutes on this machine (batch 1, guidance rows counted as evaluations)", minutes))
            return
        }
        guard let output else { return }
        let pending = try output.pending(total: total, record: runRecord(spec: spec, size: size, directory: directory))
        if pending.count < total { log("resuming: \(total - pending.count) of \(total) images are already in \(out ?? "")") }
        let pipeline = try SamplingPipeline(model: loaded, sampler: sampler, seed: seed, rng: rng, batch: batch,
                                            classes: prompts != nil ? .perSample : .fixed(0))
        var images: [Int: Image8] = [:]
        let work = Double(pending.count * sampler.steps.count)
        var doneSteps = 0.0
        let sampling = clock.now
        for range in Self.runs(pending) {
            try await pipeline.run(range, progress: { p in
                let done = doneSteps + Double(p.samples.lowerBound - range.lowerBound) * Double(p.steps)
                    + Double(p.samples.count * p.step)
                let elapsed = seconds(clock.now - sampling)
                progress("images \(p.samples.lowerBound + 1)-\(p.samples.upperBound)/\(total)  step \(p.step)/\(p.steps)  t=\(p.timestep)  "
                         + "\(SweepRunner.clockText(elapsed)) elapsed, ETA \(SweepRunner.clockText(elapsed / done * (work - done)))",
                         logEvery: 30)
            }) { part, latents in
                let pixels = try sd.decode(latents, batch: part.count, latentHeight: latentShape[1], latentWidth: latentShape[2])
                let bad = pixels.count(where: { !$0.isFinite })
                guard bad == 0 || allowNonfinite else {
                    throw RunError("images \(part.lowerBound)…\(part.upperBound - 1) hold \(bad) NaN or infinite values after the "
                                   + "VAE decoder; nothing was written for them (--allow-nonfinite writes them anyway)")
                }
                let d = pixels.count / part.count
                for (k, i) in part.enumerated() {
                    let image = Image8.fromModelSpace(pixels[(k * d)..<((k + 1) * d)], channels: 3,
                                                      height: size.height, width: size.width)
                    if try output.write(image, index: i) == false { images[i] = image }
                }
            }
            doneSteps += Double(range.count * sampler.steps.count)
        }
        progressDone()
        try output.finish(images: (0..<total).compactMap { images[$0] })
        log("wrote \(out ?? "") (\(String(format: "%.1f", seconds(clock.now - start))) s)")
    }

    /// The prompts: --prompt once, or each non-empty line of --prompts.
    func promptList() throws -> [String] {
        if let prompt { return [prompt] }
        guard let prompts else { return [] }
        let text: String
        do { text = try String(contentsOfFile: prompts, encoding: .utf8) } catch {
            throw RunError("--prompts \(prompts): cannot read it as UTF-8 text (\(FileErrorText.reason(error)))")
        }
        let lines = text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.allSatisfy(\.isWhitespace) }
        guard !lines.isEmpty else { throw RunError("--prompts \(prompts) holds no prompt (one prompt a line)") }
        return lines
    }

    /// What a prompt-list directory records so that a rerun resumes only the same run.
    func runRecord(spec: SamplerSpec, size: (height: Int, width: Int), directory: URL) -> [String: String] {
        ["model": directory.standardizedFileURL.path, "variant": variant ?? "", "sampler": spec.description,
         "steps": "\(sampling.stepCount())", "guidance": "\(guidance)", "negative_prompt": negativePrompt, "seed": "\(seed)",
         "rng": rng.rawValue, "height": "\(size.height)", "width": "\(size.width)",
         "prompts": prompts.map { (try? Files.crc32(of: Data(contentsOf: URL(fileURLWithPath: $0)))).map { String($0, radix: 16) } ?? "" } ?? ""]
    }

    /// Sorted indices as contiguous ranges.
    static func runs(_ indices: [Int]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        for i in indices {
            if let last = out.last, last.upperBound == i { out[out.count - 1] = last.lowerBound..<(i + 1) } else { out.append(i..<(i + 1)) }
        }
        return out
    }
}

/// Where `txt2img` writes: one PNG (or a grid), or a directory of `sample_NNNNN.png`.
enum Txt2ImgOutput {
    case file(URL)
    case directory(URL, resumable: Bool)

    static let recordName = "txt2img.json"

    init(path: String, promptList: Bool, overwrite: Bool) throws {
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        if url.pathExtension.lowercased() == "png" {
            guard !promptList else { throw ValidationError("--out \(path): --prompts writes one PNG per prompt into a directory") }
            self = .file(url)
            let parent = url.deletingLastPathComponent()
            guard FileManager.default.fileExists(atPath: parent.path, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("--out \(path): the directory \(parent.path) does not exist")
            }
            return
        }
        guard url.pathExtension.isEmpty, !exists || isDirectory.boolValue else {
            throw ValidationError("--out \(path): expected a path ending in .png, or a directory")
        }
        if exists, !promptList, !overwrite, let entries = try? FileManager.default.contentsOfDirectory(atPath: path), !entries.isEmpty {
            throw ValidationError("--out \(path): the directory holds \(entries.count) files already; choose a new one or pass --overwrite")
        }
        self = .directory(url, resumable: promptList)
    }

    /// The images still to make; a prompt-list directory records the run and refuses another run's.
    func pending(total: Int, record: [String: String]) throws -> [Int] {
        guard case let .directory(url, resumable) = self else { return Array(0..<total) }
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        guard resumable else { return Array(0..<total) }
        let recordURL = url.appendingPathComponent(Self.recordName)
        let data = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys, .prettyPrinted])
        if let old = try? Data(contentsOf: recordURL) {
            guard let previous = try? JSONSerialization.jsonObject(with: old) as? [String: String], previous == record else {
                let differing = ((try? JSONSerialization.jsonObject(with: old) as? [String: String]) ?? [:])
                    .filter { record[$0.key] != $0.value }.keys.sorted()
                throw RunError("--out \(url.path) holds images of another txt2img run (\(Self.recordName) differs in "
                               + "\(differing.isEmpty ? "its format" : differing.joined(separator: ", "))); choose a new directory")
            }
        } else {
            try AtomicFile.write(data, to: recordURL)
        }
        return (0..<total).filter {
            !FileManager.default.fileExists(atPath: url.appendingPathComponent(OutputTarget.sampleFileName($0)).path)
        }
    }

    /// Writes image `index` now when the output is a directory; false when it waits for `finish`.
    func write(_ image: Image8, index: Int) throws -> Bool {
        guard case let .directory(url, _) = self else { return false }
        try AtomicFile.write(image.pngData(), to: url.appendingPathComponent(OutputTarget.sampleFileName(index)))
        return true
    }

    func finish(images: [Image8]) throws {
        guard case .file(let url) = self, !images.isEmpty else { return }
        try AtomicFile.write((images.count == 1 ? images[0] : Image8.grid(images)).pngData(), to: url)
    }
}
