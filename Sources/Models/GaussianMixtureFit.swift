import Files
import Foundation
import Tensor

extension GaussianMixture {
    /// Fits one Gaussian per class: `μ_k` the class mean, `Σ_k = X̃_kᵀX̃_k / (n_k − 1) + r·I` with
    /// `X̃_k` the centred class samples (one SYRK in Float64), `π_k = n_k / n`.
    ///
    /// - Parameters:
    ///   - samples: `labels.count × D` values, row-major.
    ///   - labels: class of each sample, in `0..<K`; every class in that range needs ≥ 2 samples.
    ///   - sampleShape: the shape of one sample (its product is D).
    ///   - regularization: `r`, added to each covariance's diagonal.
    ///   - progress: receives progress notes as text.
    public static func fitPerClass(
        samples: [Double], labels: [Int], sampleShape: [Int], regularization: Double = 1e-3,
        progress: ((String) -> Void)? = nil
    ) throws -> GaussianMixture {
        guard !sampleShape.isEmpty, sampleShape.allSatisfy({ $0 > 0 }), let d = CheckedSize.product(sampleShape) else {
            throw GaussianMixtureError.invalidSampleShape(sampleShape)
        }
        guard CheckedSize.product([labels.count, d]) == samples.count else {
            throw GaussianMixtureError.fitting("\(samples.count) values for \(labels.count) samples of dimension \(d)")
        }
        return try fitPerClass(labels: labels, sampleShape: sampleShape, regularization: regularization,
                               progress: progress) { i, row in
            for j in 0..<d { row[j] = samples[i * d + j] }
        }
    }

    /// The per-class fit over 8-bit images (`pixels`: N×H×W bytes) scaled to `x/127.5 − 1`, with
    /// their labels; the sample shape is `[1, H, W]`.
    public static func fitPerClass(
        pixels: [UInt8], imageShape shape: [Int], labels: [UInt8], regularization: Double = 1e-3,
        progress: ((String) -> Void)? = nil
    ) throws -> GaussianMixture {
        guard shape.count == 3, shape[0] == labels.count, shape.allSatisfy({ $0 > 0 }),
              pixels.count == CheckedSize.product(shape) else {
            throw GaussianMixtureError.fitting(
                "images of shape \(shape) (\(pixels.count) bytes) do not match \(labels.count) labels")
        }
        let d = shape[1] * shape[2]
        return try pixels.withUnsafeBufferPointer { pixels in
            try fitPerClass(labels: labels.map(Int.init), sampleShape: [1, shape[1], shape[2]],
                            regularization: regularization, progress: progress) { i, row in
                for j in 0..<d { row[j] = Double(pixels[i * d + j]) / 127.5 - 1 }
            }
        }
    }

    /// The core: `fillRow(i, row)` writes sample i's D values.
    static func fitPerClass(
        labels: [Int], sampleShape: [Int], regularization: Double, progress: ((String) -> Void)?,
        fillRow: (Int, UnsafeMutableBufferPointer<Double>) -> Void
    ) throws -> GaussianMixture {
        guard !sampleShape.isEmpty, sampleShape.allSatisfy({ $0 > 0 }), let d = CheckedSize.product(sampleShape),
              CheckedSize.product([d, d]) != nil else {
            throw GaussianMixtureError.invalidSampleShape(sampleShape)
        }
        guard regularization.isFinite, regularization >= 0 else {
            throw GaussianMixtureError.fitting("regularization \(regularization) must be finite and ≥ 0")
        }
        guard let maxLabel = labels.max(), let minLabel = labels.min(), minLabel >= 0 else {
            throw GaussianMixtureError.fitting(labels.isEmpty ? "no samples" : "negative label")
        }
        let classCount = maxLabel + 1
        var members = [[Int]](repeating: [], count: classCount)
        for (i, label) in labels.enumerated() { members[label].append(i) }
        for (k, rows) in members.enumerated() where rows.count < 2 {
            throw GaussianMixtureError.fitting("class \(k) has \(rows.count) samples; a covariance needs at least 2")
        }

        var components: [Component] = []
        for (k, rows) in members.enumerated() {
            progress?("class \(k + 1)/\(classCount): \(rows.count) samples")
            let count = rows.count
            var x = [Double](repeating: 0, count: count * d)
            x.withUnsafeMutableBufferPointer { xb in
                guard let base = xb.baseAddress else { return }
                for (r, i) in rows.enumerated() {
                    fillRow(i, UnsafeMutableBufferPointer(start: base + r * d, count: d))
                }
            }
            var mean = [Double](repeating: 0, count: d)
            var covariance = [Double](repeating: 0, count: d * d)
            x.withUnsafeMutableBufferPointer { xb in
                mean.withUnsafeMutableBufferPointer { mb in
                    for r in 0..<count {
                        for j in 0..<d { mb[j] += xb[r * d + j] }
                    }
                    for j in 0..<d { mb[j] /= Double(count) }
                    for r in 0..<count {
                        for j in 0..<d { xb[r * d + j] -= mb[j] }
                    }
                }
                covariance.withUnsafeMutableBufferPointer { cb in
                    Linalg.gram(UnsafeBufferPointer(xb), rows: count, cols: d,
                                alpha: 1 / Double(count - 1), into: cb)
                    for j in 0..<d { cb[j * d + j] += regularization }
                }
            }
            components.append(Component(weight: Double(count) / Double(labels.count), mean: mean,
                                        covariance: covariance))
        }
        progress?("eigendecomposing \(classCount) covariances of \(d)×\(d)")
        return try GaussianMixture(components: components, sampleShape: sampleShape)
    }

    // MARK: - fashion-gmm

    /// Name of the cached fit under the cache directory.
    public static let fashionGMMFileName = "fashion-gmm-v1.safetensors"

    /// Labelled 8-bit training images: N×H×W bytes and N labels.
    public typealias LabeledImages = (pixels: [UInt8], shape: [Int], labels: [UInt8])

    /// The `fashion-gmm` oracle: one Gaussian per class of Fashion-MNIST's 60 000 training images
    /// (pixels `x/127.5 − 1`, covariance divisor `n_k − 1`, plus `1e-3·I`, `π_k = n_k/60000`).
    ///
    /// Fitted once on `trainingSet()` (the caller reads the data set), then cached as safetensors
    /// in `cacheDirectory` and loaded from there; a cache that fails verification is refitted.
    /// What happens goes to `log`.
    public static func fashionGMM(cacheDirectory directory: URL, trainingSet: () throws -> LabeledImages,
                                  log: @escaping (String) -> Void = { _ in }) throws -> GaussianMixture {
        let url = directory.appendingPathComponent(fashionGMMFileName)
        if FileManager.default.fileExists(atPath: url.path) {
            do {
                return try loadFashionGMMCache(url)
            } catch {
                log("warning: ignoring the fashion-gmm cache: \(error.localizedDescription); refitting")
            }
        }
        log("fashion-gmm: fitting on Fashion-MNIST train (once; cached at \(url.path))")
        let start = Date()
        let data = try trainingSet()
        let mixture = try fitPerClass(pixels: data.pixels, imageShape: data.shape, labels: data.labels,
                                      regularization: 1e-3) { log("fashion-gmm: \($0)") }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw SafeTensorsError.writeFailed(path: url.path, reason: "cannot create the cache directory \(directory.path): \(FileErrorText.reason(error))")
        }
        try mixture.save(to: url, metadata: fashionGMMMetadata.merging(["images": String(data.labels.count)]) { _, new in new })
        log(String(format: "fashion-gmm: fitted in %.1f s", Date().timeIntervalSince(start)))
        return mixture
    }

    /// The options a fashion-gmm cache records (and must match to be used); `images` is the
    /// training-set size.
    public static let fashionGMMMetadata: [String: String] = [
        "name": "fashion-gmm",
        "dataset": "fashion-mnist train",
        "images": "60000",
        "pixel_scale": "x/127.5-1",
        "covariance": "centred gram / (n_k - 1) + 0.001*I",
    ]

    /// The cached fit at `url`, if its checksum verifies and it was made with `fashionGMMMetadata`'s
    /// options; otherwise an error saying why (the caller refits).
    static func loadFashionGMMCache(_ url: URL) throws -> GaussianMixture {
        let (mixture, metadata) = try loadWithMetadata(from: url)
        guard metadata[checksumKey] != nil else {
            throw GaussianMixtureFileError.staleCache(path: url.path, reason: "it has no \(checksumKey) (written by an older skipstep)")
        }
        for (key, value) in fashionGMMMetadata where metadata[key] != value {
            throw GaussianMixtureFileError.staleCache(
                path: url.path, reason: "metadata \(key) is \(metadata[key].map { "\"\($0)\"" } ?? "missing"), expected \"\(value)\"")
        }
        guard mixture.sampleShape == [1, 28, 28], mixture.componentCount == 10 else {
            throw GaussianMixtureFileError.staleCache(
                path: url.path, reason: "\(mixture.componentCount) components of shape \(mixture.sampleShape), expected 10 of [1, 28, 28]")
        }
        return mixture
    }
}
