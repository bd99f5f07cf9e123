import Tensor

/// A safetensors file is where the engine's layers read their weights (Float16 / BFloat16
/// converted by `floatsConverting`).
extension SafeTensorsFile: WeightSource {
    /// The file, for messages.
    public var sourceName: String { path }
    /// Every tensor name in the file.
    public var weightNames: [String] { tensorNames }
    /// The shape of tensor `name`, or nil.
    public func weightShape(_ name: String) -> [Int]? { tensors[name]?.shape }
    /// Tensor `name` as Float32 (F16/BF16 decoded).
    public func weightValues(_ name: String) throws -> [Float] { try floatsConverting(name) }
}

/// A weight source seen without the keys a model declares it ignores, by exact name (CLIP's
/// `position_ids`) or by prefix (a VAE's `encoder.`, `quant_conv.`): those are neither bound nor
/// reported as unused; every other stray key still is.
struct WeightsIgnoring: WeightSource {
    let base: any WeightSource
    let names: Set<String>
    let prefixes: [String]

    init(base: any WeightSource, names: Set<String> = [], prefixes: [String] = []) {
        self.base = base
        self.names = names
        self.prefixes = prefixes
    }

    func ignored(_ name: String) -> Bool { names.contains(name) || prefixes.contains { name.hasPrefix($0) } }
    var sourceName: String { base.sourceName }
    var weightNames: [String] { base.weightNames.filter { !ignored($0) } }
    func weightShape(_ name: String) -> [Int]? { ignored(name) ? nil : base.weightShape(name) }
    func weightValues(_ name: String) throws -> [Float] { try base.weightValues(name) }
}

extension WeightBinder {
    /// A binder over a model file whose failures are `UNetLoadError`s, the models' load errors.
    init(modelFile file: SafeTensorsFile, aliases: [WeightAlias] = []) {
        self.init(file, aliases: aliases, mapError: UNetLoadError.init(binding:))
    }
}

extension UNetLoadError {
    init(binding error: WeightBindingError) {
        switch error {
        case let .missing(source, key, shape): self = .missingWeight(path: source, key: key, shape: shape)
        case let .shapeMismatch(source, key, expected, actual):
            self = .shapeMismatch(path: source, key: key, expected: expected, actual: actual)
        case let .nonFinite(source, key): self = .nonFiniteWeight(path: source, key: key)
        case let .unused(source, keys): self = .unusedWeights(path: source, keys: keys)
        case let .invalidLayer(source, reason): self = .invalidConfig(path: source, reason: reason)
        }
    }
}
