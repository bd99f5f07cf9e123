import ArgumentParser
import Diffusion
import Foundation
import Models
import Tensor

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the network: evaluations per second, GFLOP/s and peak memory.",
        discussion: """
            Runs warm-up forward passes, then --runs timed ones on a random batch, and reports the median, \
            minimum and maximum time per forward pass. Compare with tools/bench_torch_unet.py (PyTorch, same \
            threads) in the same session: these machines are shared and noisy.
            """)

    @Option(help: ArgumentHelp("A diffusers model folder, or fashion-ddpm / fashion-gmm.", valueName: "dir"))
    var model: String = ModelCatalog.defaultModelName

    @Option(help: "Samples per forward pass.")
    var batch: Int = 1

    @Option(help: "Timed forward passes.")
    var runs: Int = 10

    @Option(help: "Untimed forward passes first.")
    var warmup: Int = 2

    @Option(help: "Model time index passed to the network.")
    var timestep: Int = 500

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func validate() throws {
        guard batch >= 1, runs >= 1, warmup >= 0 else { throw ValidationError("--batch and --runs must be ≥ 1, --warmup ≥ 0") }
    }

    func run() async throws {
        let loaded = try ModelCatalog.load(model)
        guard (0..<loaded.schedule.trainSteps).contains(timestep) else {
            throw ValidationError("--timestep must be in 0..<\(loaded.schedule.trainSteps)")
        }
        let denoiser = loaded.denoiser
        var source = RandomKind.philox.makeSource(seed: 0)
        let x = source.standardNormal(count: batch * denoiser.sampleCount)
        let clock = ContinuousClock()
        var times: [Double] = []
        for i in 0..<(warmup + runs) {
            let start = clock.now
            _ = try denoiser.predict(x, batch: batch, timestep: timestep)
            let elapsed = clock.now - start
            if i >= warmup { times.append(seconds(elapsed)) }
            progress("run \(i + 1)/\(warmup + runs)")
        }
        progressDone()
        times.sort()
        let median = times.count % 2 == 1 ? times[times.count / 2] : (times[times.count / 2 - 1] + times[times.count / 2]) / 2
        let flopsPerImage = (denoiser as? UNet2DDenoiser).map { Double($0.model.lastForwardFLOPs) / Double(batch) }
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        let report = Report(model: model, batch: batch, runs: runs, medianSeconds: median, minSeconds: times[0],
                            maxSeconds: times[times.count - 1], evaluationsPerSecond: Double(batch) / median,
                            gflopPerImage: flopsPerImage.map { $0 / 1e9 },
                            gflopsPerSecond: flopsPerImage.map { $0 * Double(batch) / median / 1e9 },
                            peakRSSMiB: Double(usage.ru_maxrss) / 1024, blasCore: BLASRuntime.coreName,
                            parameters: (denoiser as? UNet2DDenoiser)?.model.parameterCount)
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

    struct Report: Encodable {
        var model: String, batch: Int, runs: Int
        var medianSeconds: Double, minSeconds: Double, maxSeconds: Double, evaluationsPerSecond: Double
        var gflopPerImage: Double?, gflopsPerSecond: Double?, peakRSSMiB: Double, blasCore: String
        var parameters: Int?
        enum CodingKeys: String, CodingKey {
            case model, batch, runs, medianSeconds = "median_s", minSeconds = "min_s", maxSeconds = "max_s"
            case evaluationsPerSecond = "evaluations_per_s", gflopPerImage = "gflop_per_image"
            case gflopsPerSecond = "gflops_per_s", peakRSSMiB = "peak_rss_mib", blasCore = "blas_core", parameters
        }
    }
}
