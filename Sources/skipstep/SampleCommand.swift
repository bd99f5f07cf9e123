import ArgumentParser
import Diffusion
import Files
import Foundation
import Media
import Models
import Sweep

struct SampleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Draw samples from a model with any sampler and write them as .npy, a PNG grid or PNG files.",
        discussion: """
            Sample i of a run uses its own generator seeded with seed + i: x_T is drawn first, then one \
            standard-normal tensor per step that adds noise. So a sample does not depend on --batch, \
            and --rng torch reproduces a diffusers pipeline given per-sample torch.Generators.
            Every file records how it was made (skipstep version, model, its weights file and SHA-256, sampler \
            spec, steps, seed, rng and the sample indices it holds): PNGs in tEXt chunks, .npy and .npz files in a \
            JSON sidecar FILE.json.
            Example: skipstep sample --sampler mix:cutoff=291 --steps 25 --count 64 --out grid.png
            Example: skipstep sample --count 50000 --format npz-uint8 --out samples.npz   (guided-diffusion's layout)
            """)

    @Option(help: ArgumentHelp(
        "The model: fashion-ddpm (the default: a DDPM UNet trained on Fashion-MNIST, models/fashion-ddpm-28), "
            + "fashion-gmm (the exact Gaussian-mixture oracle of Fashion-MNIST), a diffusers "
            + "UNet2DModel folder (pipeline or model folder), a guided-diffusion (ADM) folder converted by "
            + "tools/convert_adm.py, ORG/NAME[@REVISION] from the local Hugging Face cache, or a Gaussian mixture "
            + "saved as .safetensors.",
        valueName: "name|path"))
    var model: String = ModelCatalog.defaultModelName

    @Option(help: ArgumentHelp("Diffusers folders: the weights variant, as diffusers names it (fp16 reads "
                               + "diffusion_pytorch_model.fp16.safetensors).", valueName: "name"))
    var variant: String?

    @Option(name: .customLong("class"), help: ArgumentHelp(
        "Class-conditional models (e.g. ADM ImageNet): the class of every sample, or random (sample i's label from its "
            + "own label stream of seed + i, independent of --batch and of the noise).", valueName: "C|random"))
    var classLabel: String?

    @OptionGroup var sampling: SamplerArguments

    @Option(parsing: .unconditional, help: "Seed of sample 0; sample i uses seed + i.")
    var seed: UInt64 = 0

    @Option(parsing: .unconditional, help: "Number of samples (default 16, or the number of samples in --noise).")
    var count: Int?

    @Option(parsing: .unconditional, help: "Samples evaluated together in one network call.")
    var batch: Int = 64

    @Option(help: "Random generator: philox (fast) or torch (bit-compatible with torch.randn on the CPU).")
    var rng: RandomKind = .philox

    @Option(help: ArgumentHelp("Start from this x_T instead of drawing it: float32 .npy of shape N×C×H×W.",
                               valueName: "file.npy"))
    var noise: String?

    @Option(help: ArgumentHelp(
        "Where to write: a .npy file (float32 N×C×H×W in model space), a .png grid, or a directory "
            + "(one PNG per sample), or a .npz (--format npz-uint8).", valueName: "path"))
    var out: String

    @Option(help: ArgumentHelp(
        "Output format: npy, png (a grid, or one file per sample in a directory), or npz-uint8 (guided-diffusion's "
            + "sample batches: arr_0 of N×H×W×C uint8, quantised as the PNGs are, by rounding; guided-diffusion's "
            + "image_sample.py truncates instead). Default: from --out's extension.", valueName: "format"))
    var format: SampleFormat?

    @Flag(help: "With a directory --out: write into it even if it holds files (its older sample_*.png are replaced or removed).")
    var overwrite = false

    @Flag(help: "Write the samples even if some values are NaN or infinite (a diverged model); otherwise that is an error.")
    var allowNonfinite = false

    @Flag(help: ArgumentHelp("Mixture models only: draw exact samples from the mixture itself, no sampler (the "
                             + "quality floor samplers are judged against). Sample i uses the generator seeded with seed + i."))
    var exact = false

    func validate() throws {
        if exact, noise != nil { throw ValidationError("--exact draws from the mixture itself: it takes no --noise") }
        if let count, count < 1 { throw ValidationError("--count must be at least 1, got \(count)") }
        if let classLabel, ClassChoice(classLabel) == nil {
            throw ValidationError("--class must be a class number or random, got '\(classLabel)'")
        }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
        _ = try OutputTarget.kind(path: out, format: format)
    }

    func run() async throws {
        let output = try OutputTarget(path: out, overwrite: overwrite, format: format)
        let noiseArray = try noise.map { try NPYArray.read(from: URL(fileURLWithPath: $0)) }
        var loaded = try Settings.current.catalog.load(model, variant: variant)
        let adm = loaded.denoiser as? ADMDenoiser
        // Stop at the first NaN/∞ the model makes, naming its timestep, sample and element.
        if !allowNonfinite { loaded.denoiser = FiniteCheckingDenoiser(loaded.denoiser) }
        let shape = loaded.denoiser.sampleShape
        if case .npy = output {} else {
            guard shape.count == 3, [1, 3].contains(shape[0]) else {
                throw ValidationError("--out \(out): PNG output needs 1 or 3 channels (C×H×W), the model's samples are "
                                      + shape.map(String.init).joined(separator: "×") + "; write .npy instead")
            }
        }

        var initialNoise: [Float]?
        var total = count ?? 16
        if let noise, let array = noiseArray {
            guard array.shape.count == shape.count + 1, Array(array.shape.dropFirst()) == shape else {
                throw ValidationError("--noise \(noise) has shape \(array.shape), expected N×\(shape.map(String.init).joined(separator: "×"))")
            }
            guard array.shape[0] >= 1 else { throw ValidationError("--noise \(noise) holds no samples") }
            if let count, count != array.shape[0] {
                throw ValidationError("--count \(count) differs from the \(array.shape[0]) samples in --noise \(noise)")
            }
            if let bad = array.values.firstIndex(where: { !$0.isFinite }) {
                throw ValidationError("--noise \(noise): value \(bad) is \(array.values[bad]); x_T must be finite")
            }
            total = array.shape[0]
            initialNoise = array.values
        }
        guard total.multipliedReportingOverflow(by: loaded.denoiser.sampleCount).overflow == false,
              total * loaded.denoiser.sampleCount <= Self.maxValues else {
            throw ValidationError("--count \(total): \(total) samples of \(loaded.denoiser.sampleCount) values do not fit in memory "
                                  + "(at most \(Self.maxValues / loaded.denoiser.sampleCount)); sample in several runs with --seed")
        }

        if exact {
            guard let distribution = loaded.exact else {
                throw ValidationError("--exact: \(model) is a network, not a Gaussian mixture; exact samples exist only for "
                                      + "fashion-gmm and mixture .safetensors files")
            }
            log("model \(loaded.name), \(total) exact samples, seed \(seed), rng \(rng.rawValue)")
            let record = try provenance(loaded, sampler: "exact", steps: nil)
            try output.write(distribution.samples(count: total, seed: seed, kind: rng), count: total, shape: shape, provenance: record)
            log("wrote \(out)")
            return
        }
        let tuned = try sampling.tunedChoice(model: model, cache: Settings.current.cacheDirectory)
        if let tuned {
            log("tuned \(tuned.family.rawValue) (\(tuned.metric) \(String(format: "%.4g", tuned.value))"
                + (tuned.interval.map { String(format: " [%.4g, %.4g]", $0[0], $0[1]) } ?? "") + " at \(tuned.count) samples): \(tuned.spec)")
            if tuned.model != model { log("note: tuned for model \(tuned.model), sampling \(model)") }
        }
        let sampler = try sampling.makeSampler(loaded, tuned: tuned)
        let options = sampler.options
        if let adm {
            log("guided-diffusion UNetModel, \(adm.model.parameterCount) parameters"
                + (adm.classCount.map { ", \($0) classes" } ?? ", unconditional"))
        }
        let spec = try sampling.spec(tuned: tuned)
        log("model \(loaded.name), sampler \(spec), \(sampler.describedSteps), \(total) samples, seed \(seed), "
            + "rng \(rng.rawValue), variance \(options.varianceType.rawValue)"
            + (options.clipSampleRange.map { ", x̂₀ clipped to ±\($0)" } ?? "")
            + (options.thresholding != nil ? ", dynamic thresholding" : ""))
        // The weights' digest before the long work: an unreadable file is reported now, not after it.
        let record = try provenance(loaded, sampler: spec.description, steps: sampler.stepCount)
        let pipeline = try SamplingPipeline(model: loaded, sampler: sampler, seed: seed, rng: rng, batch: batch,
                                            classes: classLabel.flatMap(ClassChoice.init))
        let clock = ContinuousClock(), start = clock.now
        let work = Double(total * sampler.steps.count)
        let samples = try await pipeline.samples(0..<total, initialNoise: initialNoise) { p in
            let elapsed = seconds(clock.now - start)
            let done = Double(p.samples.lowerBound * p.steps + p.samples.count * p.step)
            progress("samples \(p.samples.lowerBound + 1)-\(p.samples.upperBound)/\(total)  step \(p.step)/\(p.steps)  t=\(p.timestep)  "
                     + "\(SweepRunner.clockText(elapsed)) elapsed, ETA \(SweepRunner.clockText(elapsed / done * (work - done)))",
                     logEvery: 30)
        }
        progressDone()
        let nonFinite = samples.count(where: { !$0.isFinite })
        if nonFinite > 0, allowNonfinite {
            log("warning: the samples hold \(nonFinite) NaN or infinite values (--allow-nonfinite: written anyway)")
        }
        guard nonFinite == 0 || allowNonfinite else {
            throw RunError("the samples hold \(nonFinite) NaN or infinite values (the model's output diverged); nothing was written "
                           + "to \(out). Check the model's config (e.g. norm_eps, freq_shift) and the sampler options")
        }
        try output.write(samples, count: total, shape: shape, provenance: record)
        log("wrote \(out) (\(String(format: "%.1f", seconds(clock.now - start))) s)")
    }

    /// What the output files record about this run; the weights' SHA-256 is computed once per file.
    func provenance(_ model: LoadedModel, sampler: String, steps: Int?) throws -> SampleProvenance {
        let digest = try model.weightsPath.map { path in
            do { return try FileDigest.sha256(of: URL(fileURLWithPath: path)) } catch {
                throw RunError("cannot read the weights \(path) to record their SHA-256: \(FileErrorText.reason(error))")
            }
        }
        return SampleProvenance(skipstepVersion: SkipStep.version, model: self.model,
                                weightsFile: model.weightsPath.map { URL(fileURLWithPath: $0).lastPathComponent },
                                weightsSHA256: digest, sampler: sampler, steps: steps, seed: seed, rng: rng.rawValue,
                                classLabel: classLabel)
    }

    /// The most sample values one run holds in memory (16 GiB of floats).
    static let maxValues = 1 << 32
}

/// `sample --format`.
enum SampleFormat: String, CaseIterable, ExpressibleByArgument {
    case npy, png
    case npzUInt8 = "npz-uint8"
}

/// Where `sample --out` writes, decided from the path before any work is done.
enum OutputTarget {
    case npy(URL), grid(URL), directory(URL), npzUInt8(URL)

    enum Kind { case npy, grid, directory, npz }

    /// What `--out path` (and `--format`) write, or an error naming both.
    static func kind(path: String, format: SampleFormat?) throws -> Kind {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        let kind: Kind
        switch URL(fileURLWithPath: path).pathExtension.lowercased() {
        case "npy": kind = .npy
        case "png": kind = .grid
        case "npz": kind = .npz
        case "" where !exists || isDirectory.boolValue: kind = .directory
        default:
            throw ValidationError("--out \(path): expected a path ending in .npy, .png or .npz, or a directory")
        }
        let expected: [Kind] = switch format {
        case nil: [kind]
        case .npy: [.npy]
        case .png: [.grid, .directory]
        case .npzUInt8: [.npz]
        }
        guard expected.contains(kind) else {
            throw ValidationError("--format \(format?.rawValue ?? ""): --out \(path) should end in "
                                  + (format == .npy ? ".npy" : format == .png ? ".png or be a directory" : ".npz"))
        }
        return kind
    }

    /// - Parameter overwrite: a directory may hold other files (else it must be new or empty).
    init(path: String, overwrite: Bool, format: SampleFormat? = nil) throws {
        let url = URL(fileURLWithPath: path)
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        let exists = manager.fileExists(atPath: path, isDirectory: &isDirectory)
        switch try Self.kind(path: path, format: format) {
        case .npy: self = .npy(url)
        case .grid: self = .grid(url)
        case .npz: self = .npzUInt8(url)
        case .directory: self = .directory(url)
        }
        if case .directory = self, exists, !overwrite,
           let entries = try? manager.contentsOfDirectory(atPath: path), !entries.isEmpty {
            throw ValidationError("--out \(path): the directory holds \(entries.count) files already (an earlier run?); "
                                  + "choose a new directory, or pass --overwrite to replace its samples")
        }
        // Fail before sampling, not after: the folder that will receive the file(s) must be writable.
        let folder = if case .directory = self { exists ? url : url.deletingLastPathComponent() }
                     else { url.deletingLastPathComponent() }
        guard manager.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("--out \(path): the directory \(folder.path) does not exist")
        }
        guard manager.isWritableFile(atPath: folder.path) else {
            throw ValidationError("--out \(path): the directory \(folder.path) is not writable")
        }
    }

    static func sampleFileName(_ i: Int) -> String { String(format: "sample_%05d.png", i) }

    /// Writes the samples with their provenance: text chunks in PNGs, a JSON sidecar beside .npy/.npz.
    func write(_ samples: [Float], count: Int, shape: [Int], provenance: SampleProvenance) throws {
        let d = shape.reduce(1, *)
        let (c, h, w) = (shape.count == 3 ? shape[0] : 1, shape.count == 3 ? shape[1] : 1, shape.last ?? d)
        func image(_ i: Int) -> Image8 {
            Image8.fromModelSpace(Array(samples[(i * d)..<((i + 1) * d)]), channels: c, height: h, width: w)
        }
        switch self {
        case .npy(let url):
            try NPYArray(shape: [count] + shape, values: samples).write(to: url)
            try provenance.writeSidecar(for: url, indices: 0..<count)
        case .npzUInt8(let url):
            guard c == 1 || c == 3 else {
                throw RunError("--format npz-uint8 holds images of 1 or 3 channels; these samples are \(shape)")
            }
            // N×H×W×C, each value as its PNG pixel.
            var pixels = [UInt8](repeating: 0, count: count * d)
            for i in 0..<count { pixels.replaceSubrange((i * d)..<((i + 1) * d), with: image(i).pixels) }
            try NPZArchive(members: ["arr_0": NPYUInt8Array(shape: [count, h, w, c], values: pixels).npyData()]).write(to: url)
            try provenance.writeSidecar(for: url, indices: 0..<count)
        case .grid(let url):
            try AtomicFile.write(Image8.grid((0..<count).map(image)).pngData(text: provenance.entries(indices: 0..<count)), to: url)
        case .directory(let url):
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            for i in 0..<count {
                try AtomicFile.write(image(i).pngData(text: provenance.entries(indices: i..<(i + 1))),
                                     to: url.appendingPathComponent(Self.sampleFileName(i)))
            }
            // An earlier, longer run's samples would be scored with these (`eval DIR`): remove them.
            let names = Set((0..<count).map(Self.sampleFileName))
            for name in try FileManager.default.contentsOfDirectory(atPath: url.path)
            where name.hasPrefix("sample_") && name.hasSuffix(".png") && !names.contains(name) {
                try FileManager.default.removeItem(at: url.appendingPathComponent(name))
            }
        }
    }
}


/// Progress goes to stderr; on a terminal it rewrites one line.
private let stderrIsTerminal = isatty(STDERR_FILENO) != 0
private nonisolated(unsafe) var progressLineOpen = false

func log(_ message: String) {
    progressDone()
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// When stderr is not a terminal (a log file, a batch job), `logEvery` seconds makes every such
/// message at least that long after the last one a log line instead.
func progress(_ message: String, logEvery: Double? = nil) {
    if stderrIsTerminal {
        FileHandle.standardError.write(Data(("\r\u{1B}[2K" + message).utf8))
        progressLineOpen = true
    } else if let logEvery, lastProgressLog.map({ seconds(ContinuousClock.now - $0) >= logEvery }) ?? true {
        lastProgressLog = .now
        log(message)
    }
}

private nonisolated(unsafe) var lastProgressLog: ContinuousClock.Instant?

func progressDone() {
    if progressLineOpen {
        FileHandle.standardError.write(Data("\n".utf8))
        progressLineOpen = false
    }
}
