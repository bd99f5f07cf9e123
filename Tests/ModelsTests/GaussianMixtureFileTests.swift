import Diffusion
import Foundation
import Media
import Models
import Testing
import TestSupport

@Suite("Gaussian mixture files and fitting")
struct GaussianMixtureFileTests {
    @Test("save/load round trip keeps every value, the sample shape and extra metadata")
    func roundTrip() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let mixture = try GMMGoldens.golden("d5k2").mixture()
        let url = directory.appendingPathComponent("m.safetensors")
        try mixture.save(to: url, metadata: ["note": "test", "format": "ignored"])
        let (loaded, metadata) = try GaussianMixture.loadWithMetadata(from: url)
        #expect(loaded.components == mixture.components)
        #expect(loaded.sampleShape == [1, 5])
        #expect(metadata["note"] == "test")
        #expect(metadata["format"] == "skipstep-gmm" && metadata["version"] == "1")
        #expect(metadata["sample_shape"] == "1,5" && metadata["components"] == "2" && metadata["dimension"] == "5")
        let file = try SafeTensorsFile(contentsOf: url)
        #expect(try file.info("covariances").shape == [2, 5, 5] && file.info("covariances").dtype == .f64)
    }

    /// Writes a hand-made GMM file: K = 2, D = 2 unless changed.
    static func writeFile(
        _ url: URL, metadata: [String: String] = ["format": "skipstep-gmm", "version": "1", "sample_shape": "2"],
        edit: (inout SafeTensorsWriter) throws -> Void = { _ in },
        weights: [Double] = [0.5, 0.5], means: [Double] = [0, 0, 1, 1], meansShape: [Int] = [2, 2],
        covariances: [Double] = [1, 0, 0, 1, 2, 0, 0, 2], includeCovariances: Bool = true
    ) throws {
        var writer = SafeTensorsWriter(metadata: metadata)
        try writer.add("weights", weights, shape: [weights.count])
        try writer.add("means", means, shape: meansShape)
        if includeCovariances { try writer.add("covariances", covariances, shape: [2, 2, 2]) }
        try edit(&writer)
        try writer.write(to: url)
    }

    @Test("load names what is wrong with a file")
    func loadErrors() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("bad.safetensors")
        let path = url.path

        try Self.writeFile(url)
        #expect(try GaussianMixture.load(from: url).componentCount == 2, "the baseline file is valid")

        try Self.writeFile(url, metadata: ["format": "other", "version": "1", "sample_shape": "2"])
        #expect(throws: GaussianMixtureFileError.wrongFormat(path: path, found: "other")) {
            try GaussianMixture.load(from: url)
        }
        try Self.writeFile(url, metadata: ["format": "skipstep-gmm", "version": "2", "sample_shape": "2"])
        #expect(throws: GaussianMixtureFileError.unsupportedVersion(path: path, found: "2")) {
            try GaussianMixture.load(from: url)
        }
        try Self.writeFile(url, metadata: ["format": "skipstep-gmm", "version": "1"])
        #expect(throws: GaussianMixtureFileError.missingMetadata(path: path, key: "sample_shape")) {
            try GaussianMixture.load(from: url)
        }
        try Self.writeFile(url, metadata: ["format": "skipstep-gmm", "version": "1", "sample_shape": "1,x"])
        #expect(throws: GaussianMixtureFileError.invalidMetadata(path: path, key: "sample_shape", value: "1,x")) {
            try GaussianMixture.load(from: url)
        }
        try Self.writeFile(url, metadata: ["format": "skipstep-gmm", "version": "1", "sample_shape": "2",
                                           "components": "3"])
        #expect(throws: GaussianMixtureFileError.invalidMetadata(path: path, key: "components", value: "3")) {
            try GaussianMixture.load(from: url)
        }
        try Self.writeFile(url, edit: { try $0.add("extra", [1.0], shape: [1]) })
        #expect(throws: GaussianMixtureFileError.unexpectedTensor(path: path, tensor: "extra")) {
            try GaussianMixture.load(from: url)
        }
        try Self.writeFile(url, means: [0, 0, 1, 1], meansShape: [1, 4])
        #expect(throws: GaussianMixtureFileError.shapeMismatch(path: path, tensor: "means", expected: "[2, 2]",
                                                              actual: [1, 4])) {
            try GaussianMixture.load(from: url)
        }
        try Self.writeFile(url, includeCovariances: false)
        #expect(throws: SafeTensorsError.missingTensor(path: path, tensor: "covariances")) {
            try GaussianMixture.load(from: url)
        }
        try Self.writeFile(url, covariances: [1, 0, 0, 1, 1, 2, 2, 1])
        let error = #expect(throws: GaussianMixtureFileError.self) { try GaussianMixture.load(from: url) }
        #expect(error?.localizedDescription.contains("component 1: covariance is not positive definite") == true)
    }

    @Test("Per-class fit matches numpy (np.cov, ddof=1, + r·I)")
    func fitMatchesNumpy() throws {
        let fit = try GMMGoldens.load().fit
        let mixture = try GaussianMixture.fitPerClass(
            samples: fit.samples.flatMap { $0 }, labels: fit.labels, sampleShape: fit.sampleShape,
            regularization: fit.regularization)
        #expect(mixture.componentCount == 3)
        for k in 0..<3 {
            let c = mixture.components[k]
            #expect(abs(c.weight - fit.weights[k]) < 1e-15)
            #expect(closeness(c.mean, fit.means[k], rtol: 1e-13, atol: 1e-14).passes)
            let cov = closeness(c.covariance, fit.covariances[k].flatMap { $0 }, rtol: 1e-12, atol: 1e-14)
            #expect(cov.passes, "class \(k): \(cov)")
        }
    }

    @Test("Fit from 8-bit IDX images scales pixels to x/127.5 − 1")
    func fitFromIDX() throws {
        let n = 40, h = 2, w = 3
        var state: UInt32 = 12345
        let bytes: [UInt8] = (0..<(n * h * w)).map { _ in
            state = state &* 1_664_525 &+ 1_013_904_223
            return UInt8(truncatingIfNeeded: state >> 24)
        }
        let labels: [UInt8] = (0..<n).map { UInt8($0 % 3) }
        let fromImages = try GaussianMixture.fitPerClass(pixels: bytes, imageShape: [n, h, w], labels: labels)
        let fromValues = try GaussianMixture.fitPerClass(
            samples: bytes.map { Double($0) / 127.5 - 1 }, labels: labels.map(Int.init), sampleShape: [1, h, w])
        #expect(fromImages.sampleShape == [1, 2, 3])
        #expect(fromImages.components == fromValues.components)
        let expectedWeights: [Double] = [14.0 / 40, 13.0 / 40, 13.0 / 40]
        #expect(fromImages.components.map(\.weight) == expectedWeights)

        #expect(throws: GaussianMixtureError.self) {
            try GaussianMixture.fitPerClass(pixels: bytes, imageShape: [n, h, w], labels: Array(labels.dropLast()))
        }
        #expect(throws: GaussianMixtureError.fitting("class 1 has 1 samples; a covariance needs at least 2")) {
            try GaussianMixture.fitPerClass(samples: [0, 1, 2, 3, 4], labels: [0, 0, 1, 2, 2], sampleShape: [1])
        }
    }

    @Test("fashion-gmm loads a valid cache without refitting")
    func fashionCacheIsUsed() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // A stand-in with fashion-gmm's shape (K = 10, D = 784) and diagonal covariances, written
        // directly (building it as a GaussianMixture would add ten more eigendecompositions).
        let k = 10, d = 784
        var covariances = [Double](repeating: 0, count: k * d * d)
        for c in 0..<k { for i in 0..<d { covariances[(c * d + i) * d + i] = 0.5 + Double(c) * 0.01 } }
        let means = (0..<(k * d)).map { Double($0 / d) * 0.1 }
        let weights = [Double](repeating: 0.1, count: k)
        var writer = SafeTensorsWriter(metadata: GaussianMixture.fashionGMMMetadata.merging(
            ["format": "skipstep-gmm", "version": "1", "sample_shape": "1,28,28"]) { a, _ in a })
        writer.metadata[GaussianMixture.checksumKey] = GaussianMixture.contentChecksum(
            metadata: writer.metadata, weights: weights, means: means, covariances: covariances)
        try writer.add("weights", weights, shape: [k])
        try writer.add("means", means, shape: [k, d])
        try writer.add("covariances", covariances, shape: [k, d, d])
        try writer.write(to: directory.appendingPathComponent(GaussianMixture.fashionGMMFileName))

        let loaded = try GaussianMixture.fashionGMM(cacheDirectory: directory, trainingSet: {
            throw GaussianMixtureError.fitting("a valid cache must not be refitted")
        })
        #expect(loaded.sampleShape == [1, 28, 28] && loaded.componentCount == 10)
        #expect(loaded.components.flatMap(\.mean) == means)
        #expect(loaded.components[3].covariance == Array(covariances[(3 * d * d)..<(4 * d * d)]))
        #expect(loaded.eigenvalues[3].allSatisfy { abs($0 - 0.53) < 1e-14 })
    }

    /// The real fit: Fashion-MNIST's 60 000 training images (needs dataset-fashion-mnist).
    /// Slow in a debug build, so it runs only with SKIPSTEP_LONG_TESTS=1.
    @Test("fashion-gmm: full fit, cache written, corrupt cache refitted",
          .enabled(if: ProcessInfo.processInfo.environment["SKIPSTEP_LONG_TESTS"] == "1"))
    func fashionFullFit() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let start = Date()
        let train: () throws -> GaussianMixture.LabeledImages = {
            let (images, labels) = try FashionMNIST.load(split: .train)
            return (images.bytes, images.shape, labels)
        }
        let mixture = try GaussianMixture.fashionGMM(cacheDirectory: directory, trainingSet: train)
        let fitSeconds = Date().timeIntervalSince(start)
        #expect(mixture.componentCount == 10 && mixture.sampleShape == [1, 28, 28])
        #expect(mixture.components.allSatisfy { $0.weight == 0.1 }, "6000 images per class")
        // Σ_k ⪰ 1e-3·I: the smallest eigenvalue is the ridge, plus little (classes with
        // always-constant pixels reach it within rounding).
        for values in mixture.eigenvalues {
            let smallest = try #require(values.first)
            #expect(smallest > 1e-3 - 1e-12 && smallest < 1e-3 + 1e-6, "smallest eigenvalue \(smallest)")
        }
        let url = directory.appendingPathComponent(GaussianMixture.fashionGMMFileName)
        let cached = try GaussianMixture.load(from: url)
        #expect(cached.components == mixture.components)

        // A corrupt cache is refitted (with a warning on stderr) and rewritten.
        try Data("not a safetensors file".utf8).write(to: url)
        var warnings: [String] = []
        let refitted = try GaussianMixture.fashionGMM(cacheDirectory: directory, trainingSet: train) { warnings.append($0) }
        #expect(warnings.first?.hasPrefix("warning: ignoring the fashion-gmm cache") == true, "\(warnings)")
        #expect(refitted.components == mixture.components)
        #expect(try GaussianMixture.load(from: url).components == mixture.components)
        print("fashion-gmm fit in \(String(format: "%.1f", fitSeconds)) s")

        // Every sampler on the oracle: 25 steps, NaN-free x and x̂₀ at every step.
        let schedule = try NoiseSchedule(.linear())
        let denoiser = try GaussianMixtureDenoiser(mixture: mixture, alphasCumprod: schedule.alphasCumprod)
        let timesteps = try Spacing.uniform.timesteps(trainSteps: 1000, steps: 25)
        let kinds: [SamplerKind] = [.ddpm, .ddpmNaive, .skip, .ddim(eta: 0), .ddim(eta: 1),
                                    .mix(.timestep(291)), .dpmSolverPP2M]
        for kind in kinds {
            let sampler = try Sampler(kind, schedule: schedule, timesteps: timesteps)
            var run = try Denoising(sampler: sampler, denoiser: denoiser,
                                generators: (0..<8).map { RandomKind.philox.makeSource(seed: UInt64($0)) })
            while let step = try run.advance() {
                #expect(step.x.allSatisfy { $0.isFinite } && step.predictedX0.allSatisfy { $0.isFinite },
                        "\(kind) step \(step.step.index) (t=\(step.step.from))")
            }
        }
    }
}
