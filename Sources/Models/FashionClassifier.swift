import Foundation
import Files
import Tensor

/// The Fashion-MNIST classifier whose penultimate features serve as the domain's FID/IS network:
/// a sequence of conv2d / relu / maxpool2d / flatten / linear layers described by `config.json`
/// (format skipstep-fashion-cnn-1, written by tools/train_classifier.py) with weights in
/// `model.safetensors`, evaluated like its PyTorch original.
public final class FashionClassifier: @unchecked Sendable {
    enum Layer {
        case conv(Conv2d)
        case relu
        case maxPool
        case flatten
        case linear(Linear, output: String?)
        case reluOutput(String)
    }

    /// C × H × W of an input image (1 × 28 × 28).
    public let inputShape: [Int]
    /// The size of the penultimate-layer features used for FID and KID.
    public let featureDimension: Int
    /// The class names, in logit order.
    public let classes: [String]
    private let layers: [Layer]
    private let lock = NSLock()
    private let pool = BufferPool()
    private lazy var context = ForwardContext(pool: pool)

    struct Config: Decodable {
        struct Input: Decodable { var shape: [Int] }
        struct LayerConfig: Decodable {
            var op: String
            var name: String?
            var in_channels: Int?, out_channels: Int?, kernel_size: Int?, stride: Int?, padding: Int?
            var in_features: Int?, out_features: Int?
            var output: String?
        }
        var format: String
        var input: Input
        var layers: [LayerConfig]
        var classes: [String]
    }

    /// Loads `directory/config.json` and `directory/model.safetensors`, strictly.
    public init(directory: URL) throws {
        let configURL = directory.appendingPathComponent("config.json")
        let path = configURL.path
        guard FileManager.default.fileExists(atPath: path) else {
            throw UNetLoadError.missingFile(path: path, hint: "expected a classifier folder written by tools/train_classifier.py")
        }
        let config = try ConfigFile.decode(Config.self, at: configURL, what: "classifier")
        guard config.format == "skipstep-fashion-cnn-1" else {
            throw UNetLoadError.unsupportedOption(path: path, key: "format", value: config.format, supported: "skipstep-fashion-cnn-1")
        }
        try Self.checkShapes(config, path: path)
        var w = WeightBinder(modelFile: try SafeTensorsFile(contentsOf: directory.appendingPathComponent("model.safetensors")))
        var layers: [Layer] = []
        var features = 0
        for layer in config.layers {
            switch layer.op {
            case "conv2d":
                guard let name = layer.name, let i = layer.in_channels, let o = layer.out_channels,
                      let k = layer.kernel_size, layer.stride ?? 1 == 1 else {
                    throw UNetLoadError.invalidConfig(path: path, reason: "conv2d needs name, channels, kernel_size and stride 1")
                }
                layers.append(.conv(try Conv2d(&w, name, in: i, out: o, kernel: k, padding: layer.padding ?? 0)))
            case "relu":
                layers.append(layer.output.map { .reluOutput($0) } ?? .relu)
            case "maxpool2d":
                guard layer.kernel_size == 2, layer.stride ?? 2 == 2 else {
                    throw UNetLoadError.unsupportedOption(path: path, key: "maxpool2d", value: "\(layer.kernel_size ?? 0)", supported: "2×2, stride 2")
                }
                layers.append(.maxPool)
            case "flatten":
                layers.append(.flatten)
            case "linear":
                guard let name = layer.name, let i = layer.in_features, let o = layer.out_features else {
                    throw UNetLoadError.invalidConfig(path: path, reason: "linear needs name, in_features and out_features")
                }
                layers.append(.linear(try Linear(&w, name, in: i, out: o), output: layer.output))
                if layer.output == nil { features = o }
            default:
                throw UNetLoadError.unsupportedOption(path: path, key: "op", value: layer.op,
                                                      supported: "conv2d, relu, maxpool2d, flatten, linear")
            }
        }
        try w.finish()
        self.layers = layers
        inputShape = config.input.shape
        featureDimension = features
        classes = config.classes
    }

    /// Walks the layer list with the activation shape, so a config whose sizes do not chain (or are
    /// absurd) is refused here, naming the layer, instead of failing inside a kernel.
    static func checkShapes(_ config: Config, path: String) throws {
        func invalid(_ key: String, _ value: Any, _ expected: String) -> UNetLoadError {
            .invalidValue(path: path, key: key, value: "\(value)", expected: expected)
        }
        let limit = 1 << 16
        let shape = config.input.shape
        guard shape.count == 3, shape.allSatisfy({ (1...limit).contains($0) }), CheckedSize.product(shape) != nil else {
            throw invalid("input.shape", shape, "[channels, height, width], each in 1...\(limit)")
        }
        var (c, h, w) = (shape[0], shape[1], shape[2])
        var flat: Int?
        for (i, layer) in config.layers.enumerated() {
            let key = "layers[\(i)] (\(layer.op))"
            switch layer.op {
            case "conv2d":
                let k = layer.kernel_size ?? 0, p = layer.padding ?? 0
                guard flat == nil, layer.in_channels == c, let o = layer.out_channels, (1...limit).contains(o),
                      (1...15).contains(k), (0..<k).contains(p), h + 2 * p >= k, w + 2 * p >= k else {
                    throw invalid(key, "in_channels \(layer.in_channels.map(String.init) ?? "?"), out_channels "
                                  + "\(layer.out_channels.map(String.init) ?? "?"), kernel_size \(k), padding \(p)",
                                  "in_channels \(c) (the input's), out_channels in 1...\(limit), kernel_size 1...15, "
                                  + "padding below it, on a \(h)×\(w) map, before flatten")
                }
                (c, h, w) = (o, h + 2 * p - k + 1, w + 2 * p - k + 1)
            case "maxpool2d":
                guard flat == nil, h >= 2, w >= 2 else { throw invalid(key, "\(h)×\(w)", "a map of at least 2×2, before flatten") }
                (h, w) = (h / 2, w / 2)
            case "flatten":
                guard flat == nil, let size = CheckedSize.product([c, h, w]) else { throw invalid(key, "flatten", "one flatten") }
                flat = size
            case "linear":
                guard let n = flat, layer.in_features == n, let o = layer.out_features, (1...limit).contains(o) else {
                    throw invalid(key, "in_features \(layer.in_features.map(String.init) ?? "?")",
                                  flat.map { "in_features \($0) (the previous layer's size), out_features in 1...\(limit)" }
                                      ?? "a flatten before it")
                }
                flat = o
            default:
                break  // refused by name while the layers are built
            }
        }
    }

    /// Penultimate features ([B, D] row-major) and logits ([B, classes]) of `batch` images in
    /// model space (NCHW, [−1, 1]).
    public func callAsFunction(_ x: [Float], batch: Int) throws -> (features: [Float], logits: [Float]) {
        let (c, h, w) = (inputShape[0], inputShape[1], inputShape[2])
        guard batch >= 1, let expected = CheckedSize.product([batch, c, h, w]), x.count == expected else {
            throw UNetLoadError.inputShape(expected: "\(batch)×\(c)×\(h)×\(w)", actual: "\(x.count) values")
        }
        lock.lock()
        defer { lock.unlock() }
        let ctx = context
        ctx.begin(batch: batch)
        var a = Tensor(pool, nchw: x, batch: batch, channels: c, height: h, width: w)
        var features: [Float] = []
        for layer in layers {
            switch layer {
            case .conv(let conv): a = conv(a, ctx)
            case .relu: Activation.relu(inPlace: a)
            case .reluOutput: features = Activation.relu(inPlace: a).sequence()
            case .maxPool: a = Resampling.maxPool2d(a, kernel: 2, stride: 2)
            case .flatten: a = a.flattened()
            case .linear(let linear, _): a = linear(a, ctx)
            }
        }
        return (features, a.sequence())
    }
}
