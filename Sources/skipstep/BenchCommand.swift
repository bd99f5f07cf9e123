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
            Example: skipstep bench --fid 10000x2048 --runs 5
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

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func validate() throws {
        guard batch >= 1, runs >= 1, warmup >= 0 else { throw ValidationError("--batch and --runs must be ≥ 1, --warmup ≥ 0") }
        _ = try fidShape()
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
        let loaded = try Settings.current.catalog.load(model)
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
            // A class-conditional model is timed with class 0 for every sample.
            _ = try denoiser.predict(x, batch: batch, timestep: Double(timestep),
                                     classLabels: denoiser.classCount.map { _ in Array(repeating: 0, count: batch) })
            let elapsed = clock.now - start
            if i >= warmup { times.append(seconds(elapsed)) }
            progress("run \(i + 1)/\(warmup + runs)")
        }
        progressDone()
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
        let clock = ContinuousClock()
        var times: [Double] = [], value = 0.0
        for i in 0..<(warmup + runs) {
            let start = clock.now
            value = try Metrics.frechetDistance(x, y).value
            if i >= warmup { times.append(seconds(clock.now - start)) }
            progress("run \(i + 1)/\(warmup + runs)")
        }
        progressDone()
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
        enum CodingKeys: String, CodingKey {
            case model, batch, runs, medianSeconds = "median_s", minSeconds = "min_s", maxSeconds = "max_s"
            case evaluationsPerSecond = "evaluations_per_s", gflopPerImage = "gflop_per_image"
            case gflopsPerSecond = "gflops_per_s", peakRSSMiB = "peak_rss_mib", blasCore = "blas_core", parameters
        }
    }
}
