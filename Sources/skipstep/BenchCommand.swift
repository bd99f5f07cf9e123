import ArgumentParser
import Diffusion
import Foundation
import Metrics
import Models
import Sweep
import Tensor

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the network (evaluations per second, GFLOP/s, peak memory), or FID on N×D features.",
        discussion: """
            Runs warm-up forward passes, then --runs timed ones on a random batch, and reports the median, \
            minimum and maximum time per forward pass. Compare with tools/bench_torch_unet.py (PyTorch, same \
            threads) in the same session: these machines are shared and noisy.
            With --fid N×D no network runs: each run computes FID between two sets of N random D-dimensional \
            features (both sets' mean and covariance in Float64, then the Fréchet distance); compare with \
            tools/bench_fid.py (pytorch-fid's numpy/scipy path).
            With --component text|unet|vae and a Stable Diffusion pipeline folder as --model, one component is \
            timed: text = one CLIP text-encoder pass over --batch 77-token prompts (twice as many rows with \
            --guidance > 1: the prompts and their negatives, as txt2img encodes them); unet = one \
            UNet2DConditionModel evaluation of --batch latents at --latent-size (2 × --batch rows with \
            --guidance > 1: one guided step); vae = one VAE decode of --batch latents. Evaluations per second \
            count images (--batch per pass), not rows.
            Examples: skipstep bench --fid 10000x2048 --runs 5
                      skipstep bench --component unet --model sd21-base --latent-size 32 --guidance 7.5 --runs 5
            """)

    @Option(help: ArgumentHelp("A diffusers model folder, or fashion-ddpm / fashion-gmm.", valueName: "dir"))
    var model: String = ModelCatalog.defaultModelName

    @Option(parsing: .unconditional, help: "Samples per forward pass.")
    var batch: Int = 1

    @Option(parsing: .unconditional, help: "Timed forward passes.")
    var runs: Int = 10

    @Option(parsing: .unconditional, help: "Untimed forward passes first.")
    var warmup: Int = 2

    @Option(parsing: .unconditional, help: "Model time index passed to the network.")
    var timestep: Int = 500

    @Option(help: ArgumentHelp("Time FID on two random N×D feature sets instead of a network.", valueName: "NxD"))
    var fid: String?

    @Option(help: ArgumentHelp("Time one component of a Stable Diffusion folder: text (CLIP text encoder), unet "
                               + "(UNet2DConditionModel), vae (VAE decoder).", valueName: "text|unet|vae"))
    var component: SDComponent?

    @Option(help: ArgumentHelp("--component unet/vae: the latent size, S or HxW (default: the UNet's sample_size; for vae, the VAE's sample_size over its scale factor).",
                               valueName: "S|HxW"))
    var latentSize: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("--component text/unet: classifier-free guidance scale; > 1 doubles "
                                                        + "the rows (prompt and negative), as txt2img runs them."))
    var guidance: Double = 7.5

    @Option(help: ArgumentHelp("--component: weights variant, *.VARIANT.safetensors (e.g. fp16).", valueName: "name"))
    var variant: String?

    /// The Stable Diffusion component `--component` times.
    enum SDComponent: String, ExpressibleByArgument, CaseIterable {
        case text, unet, vae
    }

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func validate() throws {
        guard batch >= 1, runs >= 1, warmup >= 0 else { throw ValidationError("--batch and --runs must be ≥ 1, --warmup ≥ 0") }
        _ = try fidShape()
        if component != nil, fid != nil { throw ValidationError("give either --fid or --component, not both") }
        if component == nil {
            for (flag, given) in [("--latent-size", latentSize != nil), ("--variant", variant != nil)] where given {
                throw ValidationError("\(flag) applies to --component only")
            }
        }
        guard guidance.isFinite, guidance >= 0 else { throw ValidationError("--guidance must be a finite number ≥ 0, got \(guidance)") }
        _ = try latentShape()
    }

    /// `--latent-size`'s height and width, nil when not given.
    func latentShape() throws -> (height: Int, width: Int)? {
        guard let latentSize else { return nil }
        let parts = latentSize.lowercased().split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
        guard (1...2).contains(parts.count), parts.allSatisfy({ ($0 ?? 0) >= 1 && ($0 ?? 0) <= 2048 }) else {
            throw ValidationError("--latent-size \(latentSize): expected S or HxW with sides in 1…2048 (latent pixels), e.g. 64 or 96x64")
        }
        return (parts[0]!, parts[parts.count - 1]!)
    }

    /// `--fid`'s N and D.
    func fidShape() throws -> (count: Int, dimension: Int)? {
        guard let fid else { return nil }
        let parts = fid.lowercased().split(whereSeparator: { $0 == "x" || $0 == "×" }).map { Int($0) }
        guard parts.count == 2, let n = parts[0], let d = parts[1], n >= 2, d >= 1 else {
            throw ValidationError("--fid \(fid): expected N×D (or NxD) with N ≥ 2 and D ≥ 1, e.g. 10000x2048")
        }
        return (n, d)
    }

    func run() async throws {
        if let shape = try fidShape() { return try benchFID(count: shape.count, dimension: shape.dimension) }
        if let component { return try benchComponent(component) }
        let loaded = try Settings.current.catalog.load(model)
        guard (0..<loaded.schedule.trainSteps).contains(timestep) else {
            throw ValidationError("--timestep must be in 0..<\(loaded.schedule.trainSteps)")
        }
        let denoiser = loaded.denoiser
        var source = RandomKind.philox.makeSource(seed: 0)
        let x = source.standardNormal(count: batch * denoiser.sampleCount)
        // A class-conditional model is timed with class 0 for every sample.
        let labels = denoiser.classCount.map { _ in Array(repeating: 0, count: batch) }
        var times = try timedRuns { _ = try denoiser.predict(x, batch: batch, timestep: Double(timestep), classLabels: labels) }
        let median = Self.median(&times)
        let forwardFLOPs = (denoiser as? UNet2DDenoiser)?.model.lastForwardFLOPs ?? (denoiser as? ADMDenoiser)?.model.lastForwardFLOPs
        let flopsPerImage = forwardFLOPs.map { Double($0) / Double(batch) }
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        let report = Report(model: model, batch: batch, runs: runs, medianSeconds: median, minSeconds: times[0],
                            maxSeconds: times[times.count - 1], evaluationsPerSecond: Double(batch) / median,
                            gflopPerImage: flopsPerImage.map { $0 / 1e9 },
                            gflopsPerSecond: flopsPerImage.map { $0 * Double(batch) / median / 1e9 },
                            peakRSSMiB: Double(usage.ru_maxrss) / 1024, blasCore: BLASRuntime.coreName,
                            parameters: (denoiser as? UNet2DDenoiser)?.model.parameterCount
                                ?? (denoiser as? ADMDenoiser)?.model.parameterCount)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(String(format: "%@ batch %d: median %.4f s (min %.4f, max %.4f) over %d runs, %.2f evaluations/s",
                         model, batch, median, times[0], times[times.count - 1], runs, report.evaluationsPerSecond))
            if let gflop = report.gflopPerImage, let rate = report.gflopsPerSecond {
                print(String(format: "%.3f GFLOP per image, %.1f GFLOP/s", gflop, rate))
            }
            print(String(format: "peak RSS %.0f MiB, OpenBLAS kernel %@", report.peakRSSMiB, report.blasCore))
        }
    }

    /// Seconds of each of `runs` timed calls of `pass`, after `warmup` untimed ones, with progress.
    func timedRuns(_ pass: () throws -> Void) rethrows -> [Double] {
        let clock = ContinuousClock()
        var times: [Double] = []
        for i in 0..<(warmup + runs) {
            let start = clock.now
            try pass()
            if i >= warmup { times.append(seconds(clock.now - start)) }
            progress("run \(i + 1)/\(warmup + runs)")
        }
        progressDone()
        return times
    }

    /// `--latent-size`, else the component config's sample_size (in latent pixels).
    func componentLatent(_ sampleSize: [Int]?, _ componentFolder: URL) throws -> (height: Int, width: Int) {
        if let shape = try latentShape() { return shape }
        guard let size = sampleSize, size.count == 2, size[0] > 0, size[1] > 0 else {
            throw RunError("\(componentFolder.path)/config.json has no sample_size: give --latent-size")
        }
        return (size[0], size[1])
    }

    /// Times one Stable Diffusion component (`--component`) on deterministic inputs.
    func benchComponent(_ component: SDComponent) throws {
        let directory = try Settings.current.catalog.directory(model)
        guard FileManager.default.fileExists(atPath: directory.appendingPathComponent("model_index.json").path) else {
            throw RunError("--component \(component.rawValue) needs a Stable Diffusion pipeline folder (model_index.json, text_encoder/, "
                           + "unet/, vae/): \(directory.path) has no model_index.json")
        }
        // Only the timed component is loaded (and the tokenizer, for the text length), so that the
        // peak RSS is that component's.
        func folder(_ name: String) -> URL { directory.appendingPathComponent(name) }
        let tokenizer = component == .vae ? nil : try CLIPTokenizer(directory: folder("tokenizer"))
        let rows = component != .vae && guidance > 1 ? 2 * batch : batch
        guard timestep >= 0 else { throw ValidationError("--timestep must be ≥ 0") }
        var source = RandomKind.philox.makeSource(seed: 0)
        let pass: () throws -> Int
        let parameters: Int
        var latent = (height: 0, width: 0)
        switch component {
        case .text:
            let encoder = try CLIPTextModel(directory: folder("text_encoder"), variant: variant)
            let ids = tokenizer!.encode("a photo of an astronaut riding a horse on mars").ids
            pass = {
                _ = try encoder.encode(Array(repeating: ids, count: rows))
                return encoder.lastForwardFLOPs
            }
            parameters = encoder.parameterCount
        case .unet:
            let unet = try UNet2DConditionModel(directory: folder("unet"), variant: variant)
            latent = try componentLatent(unet.config.sampleSize, folder("unet"))
            let sequenceLength = tokenizer!.maxLength, hidden = unet.config.crossDim(0)
            let x = source.standardNormal(count: rows * unet.config.inChannels * latent.height * latent.width)
            let states = source.standardNormal(count: rows * sequenceLength * hidden)
            pass = {
                _ = try unet(x, batch: rows, height: latent.height, width: latent.width,
                             timesteps: Array(repeating: Double(timestep), count: rows),
                             encoderHiddenStates: states, sequenceLength: sequenceLength)
                return unet.lastForwardFLOPs
            }
            parameters = unet.parameterCount
        case .vae:
            let vae = try AutoencoderKLDecoder(directory: folder("vae"), variant: variant)
            // Default: the VAE's own sample_size (pixels) in latent pixels.
            let side = vae.config.sampleSize.map { $0 / vae.scaleFactor }
            latent = try componentLatent(side.map { [$0, $0] }, folder("vae"))
            let z = source.standardNormal(count: rows * vae.config.latentChannels * latent.height * latent.width)
            pass = {
                _ = try vae.decode(z, batch: rows, height: latent.height, width: latent.width)
                return vae.lastForwardFLOPs
            }
            parameters = vae.parameterCount
        }
        var flops = 0
        var times = try timedRuns { flops = try pass() }
        let median = Self.median(&times)
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        let flopsPerImage = Double(flops) / Double(batch)
        var report = Report(model: model, batch: batch, runs: runs, medianSeconds: median, minSeconds: times[0],
                            maxSeconds: times[times.count - 1], evaluationsPerSecond: Double(batch) / median,
                            gflopPerImage: flopsPerImage / 1e9, gflopsPerSecond: Double(flops) / median / 1e9,
                            peakRSSMiB: Double(usage.ru_maxrss) / 1024, blasCore: BLASRuntime.coreName, parameters: parameters)
        report.component = component.rawValue
        report.rows = rows
        report.guidance = component == .vae ? nil : guidance
        report.latentSize = component == .text ? nil : [latent.height, latent.width]
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        let what = switch component {
        case .text: "text encoder, \(rows) prompt(s) of \(tokenizer?.maxLength ?? 0) tokens"
        case .unet: "UNet, latent \(latent.height)×\(latent.width), \(rows) row(s)" + (rows > batch ? " (guidance \(guidance))" : "")
        case .vae: "VAE decoder, latent \(latent.height)×\(latent.width)"
        }
        print(String(format: "%@ %@, batch %d: median %.4f s (min %.4f, max %.4f) over %d runs, %.3f evaluations/s",
                     model, what, batch, median, times[0], times[times.count - 1], runs, report.evaluationsPerSecond))
        print(String(format: "%.3f GFLOP per image, %.1f GFLOP/s, %.1f M parameters", flopsPerImage / 1e9,
                     Double(flops) / median / 1e9, Double(parameters) / 1e6))
        print(String(format: "peak RSS %.0f MiB, OpenBLAS kernel %@", report.peakRSSMiB, report.blasCore))
    }

    static func median(_ times: inout [Double]) -> Double {
        times.sort()
        return times.count % 2 == 1 ? times[times.count / 2] : (times[times.count / 2 - 1] + times[times.count / 2]) / 2
    }

    func benchFID(count n: Int, dimension d: Int) throws {
        // Standard normals with a per-column offset: full-rank covariances, means that differ from 0.
        var source = RandomKind.philox.makeSource(seed: 0)
        func features(_ name: String) throws -> Features {
            try Features(source.standardNormal(count: n * d).enumerated().map { i, z in z + 0.5 * Float(i % d) / Float(d) },
                         dimension: d, name: name)
        }
        let (x, y) = (try features("a"), try features("b"))
        var value = 0.0
        var times = try timedRuns { value = try Metrics.frechetDistance(x, y).value }
        let median = Self.median(&times)
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        if json {
            let report: [String: AnyEncodable] = [
                "fid_features": .string("\(n)x\(d)"), "runs": .int(runs), "median_s": .double(median), "min_s": .double(times[0]),
                "max_s": .double(times[times.count - 1]), "fid": .double(value), "peak_rss_mib": .double(Double(usage.ru_maxrss) / 1024),
                "blas_core": .string(BLASRuntime.coreName),
            ]
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(String(format: "FID of %d×%d features: median %.3f s (min %.3f, max %.3f) over %d runs; FID %.6f",
                         n, d, median, times[0], times[times.count - 1], runs, value))
            print(String(format: "peak RSS %.0f MiB, OpenBLAS kernel %@", Double(usage.ru_maxrss) / 1024, BLASRuntime.coreName))
        }
    }

    enum AnyEncodable: Encodable {
        case string(String), int(Int), double(Double)
        func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .string(let v): try c.encode(v)
            case .int(let v): try c.encode(v)
            case .double(let v): try c.encode(v)
            }
        }
    }

    struct Report: Encodable {
        var model: String, batch: Int, runs: Int
        var medianSeconds: Double, minSeconds: Double, maxSeconds: Double, evaluationsPerSecond: Double
        var gflopPerImage: Double?, gflopsPerSecond: Double?, peakRSSMiB: Double, blasCore: String
        var parameters: Int?
        /// `--component` runs: which component, the rows per pass (2 × batch with guidance), the
        /// guidance and the latent size.
        var component: String?, rows: Int?, guidance: Double?, latentSize: [Int]?
        enum CodingKeys: String, CodingKey {
            case model, batch, runs, medianSeconds = "median_s", minSeconds = "min_s", maxSeconds = "max_s"
            case evaluationsPerSecond = "evaluations_per_s", gflopPerImage = "gflop_per_image"
            case gflopsPerSecond = "gflops_per_s", peakRSSMiB = "peak_rss_mib", blasCore = "blas_core", parameters
            case component, rows, guidance, latentSize = "latent_size"
        }
    }
}
