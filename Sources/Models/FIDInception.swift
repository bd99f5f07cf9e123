import Foundation
import Tensor

/// Errors of the FID Inception network: a missing weights file says where to get it.
public enum FIDInceptionError: Error, LocalizedError, Equatable {
    /// No converted weights at `path`; `searched` lists every place looked at.
    case missingWeights(path: String, searched: [String])
    case notInceptionWeights(path: String, format: String)
    case inputShape(expected: String, actual: String)
    /// Value `index` (row-major N×C×H×W) is NaN or infinite.
    case nonFiniteInput(index: Int)

    public var errorDescription: String? {
        switch self {
        case let .missingWeights(path, searched):
            let looked = searched.count > 1 ? " (looked in \(searched.joined(separator: ", ")))" : ""
            return "FID Inception weights not found at \(path)\(looked). Download pytorch-fid's "
                + "\(FIDInception.sourceFileName) from \(FIDInception.sourceURL) and convert it once with "
                + "`python3 tools/convert_inception.py \(FIDInception.sourceFileName) --out \(path)`"
        case let .notInceptionWeights(path, format):
            return "\(path): safetensors format '\(format)' is not \(FIDInception.format) "
                + "(make the file with tools/convert_inception.py)"
        case let .inputShape(expected, actual):
            return "the FID Inception network expects \(expected), got \(actual)"
        case let .nonFiniteInput(index):
            return "image value \(index) is NaN or infinite; the FID Inception network needs finite values"
        }
    }
}

/// pytorch-fid's FID Inception network (`pytorch_fid.inception.InceptionV3(output_blocks=[3],
/// resize_input=True, normalize_input=True, use_fid_inception=True)`, pytorch-fid 0.3.0 on
/// torchvision 0.28 `Inception3`): the TensorFlow Inception graph `pt_inception-2015-12-05` that
/// FID and Inception Score are defined with, in Float32 on the CPU over OpenBLAS.
///
/// Input: `N×C×H×W` images in skipstep's model space [−1, 1], `C` = 1 (repeated to 3 channels,
/// as pytorch-fid users do for grey images) or 3, any size. Preprocessing follows pytorch-fid's
/// order exactly: the images are first mapped to its input range [0, 1] (`(x + 1)/2`), resized
/// bilinearly to 299×299 (`F.interpolate(..., align_corners=False)`, no antialias;
/// `Kernels.resizeBilinear`), then scaled by `2y − 1`. (Resizing commutes with the affine map up
/// to rounding; doing it in pytorch-fid's order keeps even the rounding the same.)
///
/// Output: the 2048-d pool3 features (the adaptive average pool after Mixed_7c, pytorch-fid's
/// block 3) and, when the weights hold `fc.weight`/`fc.bias` (pytorch-fid's file does), the 1008
/// logits of the final linear layer as torchvision's `Inception3.forward` computes them (dropout
/// is the identity in eval mode), for the Inception Score.
///
/// Weights: `tools/convert_inception.py` turns the `.pth` into safetensors with the state-dict
/// names and the BatchNorm parameters raw; they are folded into the convolutions here at load
/// (`Kernels.foldBatchNorm`, eps 0.001). Loading is strict: every key checked by name and shape.
///
/// Parity (Tests/ModelsTests/FIDInceptionTests.swift, random weights regenerated from seeds):
/// relative L2 ≈ 2–5e-7 against pytorch-fid for features and logits. Speed: 11.4 GFLOP per image;
/// 4–5 images/s in release at batch 16 on the project's shared 2-core VM while it was loaded
/// (2.7–3.2× pytorch-fid timed alternately on the same machine, torch 2.13 with 2 threads).
public final class FIDInception: @unchecked Sendable {
    /// How images become the network's 299×299 input: the two FID conventions `eval --mode` names.
    public enum Preprocessing: String, Sendable, CaseIterable {
        /// pytorch-fid's: input in [−1, 1]; `(x + 1)/2`, bilinear resize (no antialias), `2y − 1`.
        case legacyPytorch = "legacy-pytorch"
        /// clean-fid 0.1.35's "clean" mode: input pixels in [0, 255]; each channel as float32
        /// through Pillow's bicubic resize in mode 'F' (`Kernels.resizeBicubicPIL`), clipped to
        /// [0, 255], not requantised; then clean-fid's normalisation `(x − 128)/128`
        /// (cleanfid/resize.py `make_resizer("PIL", False, "bicubic", (299, 299))`,
        /// cleanfid/inception_torchscript.py `InceptionV3W.forward`). clean-fid runs its own
        /// TorchScript export of the same TensorFlow graph; here it is pytorch-fid's port of it.
        case clean
    }

    /// The pool3 feature size.
    public static let featureDimension = 2048
    /// The logits of the 2015 TensorFlow graph's classifier (used for IS).
    public static let logitCount = 1008
    /// pytorch-fid's resize target.
    public static let inputSize = 299
    /// The `format` metadata of the converted safetensors file.
    public static let format = "skipstep-fid-inception-1"
    /// pytorch-fid's weights file, which tools/convert_inception.py converts.
    public static let sourceFileName = "pt_inception-2015-12-05-6726825d.pth"
    /// Where pytorch-fid's weights are downloaded from.
    public static let sourceURL =
        "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth"
    /// The converted file's name in the cache directory (where tools/convert_inception.py writes by default).
    public static let defaultFileName = "pt_inception-2015-12-05-6726825d.safetensors"
    /// Images per forward pass; larger inputs are processed in chunks of this many.
    public static let defaultChunk = 16

    /// The resize and normalisation applied before the network (`legacyPytorch` unless chosen).
    public let preprocessing: Preprocessing

    /// Whether `fc` weights were present, so calls return logits.
    public var hasLogits: Bool { fc != nil }
    /// The number of weights.
    public let parameterCount: Int

    private let stem: [BasicConv2d]
    private let blocks: [any InceptionBlock]
    private let fc: Linear?
    private let lock = NSLock()
    private let pool = BufferPool()
    private lazy var context = ForwardContext(pool: pool)

    /// Loads converted weights from `url`; a missing file is `FIDInceptionError.missingWeights`.
    public convenience init(contentsOf url: URL, preprocessing: Preprocessing = .legacyPytorch) throws {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw FIDInceptionError.missingWeights(path: url.path, searched: [url.path])
        }
        try self.init(weights: try SafeTensorsFile(contentsOf: url), preprocessing: preprocessing)
    }

    /// Builds the network from a state dict in safetensors form (names as in pytorch-fid's `.pth`
    /// minus `num_batches_tracked`; `fc.*` optional).
    public init(weights file: SafeTensorsFile, preprocessing: Preprocessing = .legacyPytorch) throws {
        self.preprocessing = preprocessing
        if let format = file.metadata["format"], format != Self.format {
            throw FIDInceptionError.notInceptionWeights(path: file.path, format: format)
        }
        var w = WeightBinder(modelFile: file)
        stem = [
            try BasicConv2d(&w, "Conv2d_1a_3x3", in: 3, out: 32, kernel: 3, stride: 2),
            try BasicConv2d(&w, "Conv2d_2a_3x3", in: 32, out: 32, kernel: 3),
            try BasicConv2d(&w, "Conv2d_2b_3x3", in: 32, out: 64, kernel: 3, padding: 1),
            // max-pool 3×3 stride 2 here
            try BasicConv2d(&w, "Conv2d_3b_1x1", in: 64, out: 80, kernel: 1),
            try BasicConv2d(&w, "Conv2d_4a_3x3", in: 80, out: 192, kernel: 3),
            // and here
        ]
        blocks = [
            try InceptionA(&w, "Mixed_5b", in: 192, poolFeatures: 32),
            try InceptionA(&w, "Mixed_5c", in: 256, poolFeatures: 64),
            try InceptionA(&w, "Mixed_5d", in: 288, poolFeatures: 64),
            try InceptionB(&w, "Mixed_6a", in: 288),
            try InceptionC(&w, "Mixed_6b", in: 768, channels7x7: 128),
            try InceptionC(&w, "Mixed_6c", in: 768, channels7x7: 160),
            try InceptionC(&w, "Mixed_6d", in: 768, channels7x7: 160),
            try InceptionC(&w, "Mixed_6e", in: 768, channels7x7: 192),
            try InceptionD(&w, "Mixed_7a", in: 768),
            try InceptionE(&w, "Mixed_7b", in: 1280, maxPool: false),
            try InceptionE(&w, "Mixed_7c", in: 2048, maxPool: true),
        ]
        fc = file.tensors["fc.weight"] != nil || file.tensors["fc.bias"] != nil
            ? try Linear(&w, "fc", in: Self.featureDimension, out: Self.logitCount) : nil
        try w.finish()
        parameterCount = file.tensors.values.filter { !$0.name.hasSuffix("running_mean") && !$0.name.hasSuffix("running_var") }
            .reduce(0) { $0 + $1.elementCount }
    }

    /// The converted weights to use: `explicit`, else `fromEnvironment` (the CLI passes
    /// `$SKIPSTEP_INCEPTION_WEIGHTS`), else `defaultFileName` in `cacheDirectory`. Throws
    /// `missingWeights` (naming the path and how to make the file) when that file does not exist.
    public static func locateWeights(_ explicit: String?, fromEnvironment: String? = nil, cacheDirectory: URL) throws -> URL {
        let url: URL
        if let explicit {
            url = URL(fileURLWithPath: explicit)
        } else if let path = fromEnvironment, !path.isEmpty {
            url = URL(fileURLWithPath: path)
        } else {
            url = cacheDirectory.appendingPathComponent(defaultFileName)
        }
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw FIDInceptionError.missingWeights(path: url.path, searched: [url.path])
        }
        return url
    }

    /// Pool3 features (`[N, 2048]` row-major) and logits (`[N, 1008]`, nil without fc weights) of
    /// `batch` images `x` (`[N, C, H, W]` row-major, values in [−1, 1], or pixels in [0, 255] with
    /// `preprocessing == .clean`; C = 1 or 3), computed in
    /// chunks of `chunk` images. `resizeInput` is pytorch-fid's option: false feeds the images at
    /// their own size (at least 75×75), as `InceptionV3(resize_input=False)` does.
    public func callAsFunction(_ x: [Float], batch: Int, channels: Int, height: Int, width: Int,
                               resizeInput: Bool = true,
                               chunk: Int = FIDInception.defaultChunk) throws -> (features: [Float], logits: [Float]?) {
        let imageSize = channels * height * width
        guard channels == 1 || channels == 3, height > 0, width > 0, batch >= 0, x.count == batch * imageSize else {
            throw FIDInceptionError.inputShape(expected: "N×1×H×W or N×3×H×W values",
                                               actual: "\(x.count) values for \(batch)×\(channels)×\(height)×\(width)")
        }
        if !resizeInput {
            guard height >= 75, width >= 75 else {
                throw FIDInceptionError.inputShape(expected: "at least 75×75 without resizing", actual: "\(height)×\(width)")
            }
        }
        if let index = x.firstIndex(where: { !$0.isFinite }) { throw FIDInceptionError.nonFiniteInput(index: index) }
        lock.lock()
        defer { lock.unlock() }
        var features: [Float] = [], logits: [Float] = []
        features.reserveCapacity(batch * Self.featureDimension)
        let step = max(1, chunk)
        var start = 0
        while start < batch {
            let n = min(step, batch - start)
            let pooled = x.withUnsafeBufferPointer {
                forward($0.baseAddress! + start * imageSize, batch: n, channels: channels, height: height, width: width,
                        resize: resizeInput)
            }
            features += pooled.sequence()
            if let fc { logits += fc(pooled, context).sequence() }
            start += n
        }
        return (features, fc == nil ? nil : logits)
    }

    /// Floating-point operations of the last forward chunk (2 per multiply-add of the convolutions and, with
    /// logits, the fc layer).
    public var lastForwardFLOPs: Int {
        lock.lock()
        defer { lock.unlock() }
        return context.flops
    }

    /// One chunk: preprocessing, stem, mixed blocks, global average pool → `[2048, n, 1, 1]`.
    private func forward(_ x: UnsafePointer<Float>, batch: Int, channels: Int, height: Int, width: Int,
                         resize: Bool) -> Tensor {
        let ctx = context
        ctx.begin(batch: batch)
        var a = preprocess(x, batch: batch, channels: channels, height: height, width: width, resize: resize)
        a = stem[0](a, ctx)
        a = stem[1](a, ctx)
        a = Resampling.maxPool2d(stem[2](a, ctx), kernel: 3, stride: 2)
        a = stem[3](a, ctx)
        a = Resampling.maxPool2d(stem[4](a, ctx), kernel: 3, stride: 2)
        for block in blocks { a = block(a, ctx) }
        return Resampling.globalAveragePool(a)
    }

    /// [−1, 1] NCHW → pytorch-fid's network input, CNHW 3 channels: `(x + 1)/2`, bilinear resize
    /// to 299×299 (when `resize`), `2y − 1`, grey repeated to 3 channels.
    private func preprocess(_ x: UnsafePointer<Float>, batch: Int, channels: Int, height: Int, width: Int,
                            resize: Bool) -> Tensor {
        if preprocessing == .clean {
            return preprocessClean(x, batch: batch, channels: channels, height: height, width: width, resize: resize)
        }
        let raw = Tensor(pool, nchw: x, batch: batch, channels: channels, height: height, width: width)
        for i in 0..<raw.count { raw.data[i] = (raw.data[i] + 1) / 2 }
        let size = resize ? (Self.inputSize, Self.inputSize) : (height, width)
        let y = Tensor(pool, channels: 3, batch: batch, height: size.0, width: size.1)
        if resize {
            Kernels.resizeBilinear(input: raw.data, planes: channels * batch, height: height, width: width,
                                   outHeight: size.0, outWidth: size.1, output: y.data)
        } else {
            y.data.update(from: raw.data, count: raw.count)
        }
        let count = channels * batch * y.spatial
        for i in 0..<count { y.data[i] = 2 * y.data[i] - 1 }
        if channels == 1 {
            // Channel-major: channels 1 and 2 are copies of channel 0's block.
            (y.data + count).update(from: y.data, count: count)
            (y.data + 2 * count).update(from: y.data, count: count)
        }
        return y
    }

    /// [0, 255] NCHW → clean-fid's network input, CNHW 3 channels: Pillow's bicubic 'F' resize per
    /// channel (when `resize`), clipped to [0, 255], `(x − 128)/128`, grey repeated to 3 channels
    /// (clean-fid reads images with `convert("RGB")`, so its three channels are equal; resizing one
    /// and copying it gives the same values).
    private func preprocessClean(_ x: UnsafePointer<Float>, batch: Int, channels: Int, height: Int, width: Int,
                                 resize: Bool) -> Tensor {
        let raw = Tensor(pool, nchw: x, batch: batch, channels: channels, height: height, width: width)
        let size = resize ? (Self.inputSize, Self.inputSize) : (height, width)
        let y = Tensor(pool, channels: 3, batch: batch, height: size.0, width: size.1)
        if resize {
            Kernels.resizeBicubicPIL(input: raw.data, planes: channels * batch, height: height, width: width,
                                     outHeight: size.0, outWidth: size.1, output: y.data)
        } else {
            y.data.update(from: raw.data, count: raw.count)
        }
        let count = channels * batch * y.spatial
        for i in 0..<count { y.data[i] = (min(max(y.data[i], 0), 255) - 128) / 128 }
        if channels == 1 {
            (y.data + count).update(from: y.data, count: count)
            (y.data + 2 * count).update(from: y.data, count: count)
        }
        return y
    }
}
