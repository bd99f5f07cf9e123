import Foundation

/// Where a model's named weights come from (a safetensors file, a test's dictionary): the
/// engine's only view of checkpoint formats, so the Tensor module depends on none of them.
public protocol WeightSource {
    /// A name for messages (the file's path).
    var sourceName: String { get }
    /// Every tensor name the source holds.
    var weightNames: [String] { get }
    /// The stored shape of `name`, nil when absent.
    func weightShape(_ name: String) -> [Int]?
    /// The values of `name` as Float32, row-major in the stored shape (Float16 / BFloat16
    /// storage converted); throws when they cannot be read.
    func weightValues(_ name: String) throws -> [Float]
}

/// Another name under which checkpoints store a weight: a key containing `current` is read as the
/// same key with `legacy` in its place when only that one exists. `reshapes`: the legacy tensor
/// may have another shape with the same number of elements (the same numbers, laid out as an
/// older layer stored them).
public struct WeightAlias: Sendable, Hashable {
    public var current: String
    public var legacy: String
    public var reshapes: Bool

    public init(_ current: String, legacy: String, reshapes: Bool = false) {
        self.current = current
        self.legacy = legacy
        self.reshapes = reshapes
    }

    /// diffusers' attention projections before 0.15 (`query`, `key`, `value`, `proj_attn`; the
    /// old projections may be stored with a trailing 1×1, hence `reshapes`).
    public static let diffusersLegacyAttention: [WeightAlias] = [
        WeightAlias(".to_q.", legacy: ".query.", reshapes: true),
        WeightAlias(".to_k.", legacy: ".key.", reshapes: true),
        WeightAlias(".to_v.", legacy: ".value.", reshapes: true),
        WeightAlias(".to_out.0.", legacy: ".proj_attn.", reshapes: true),
    ]
}

/// A failure to bind weights to layers; each names the source and the key.
public enum WeightBindingError: Error, Equatable, Sendable {
    case missing(source: String, key: String, shape: [Int])
    case shapeMismatch(source: String, key: String, expected: [Int], actual: [Int])
    case nonFinite(source: String, key: String)
    /// Keys no layer took (sorted).
    case unused(source: String, keys: [String])
    /// A layer's hyperparameters do not fit its weights or each other.
    case invalidLayer(source: String, reason: String)
}

/// Binds a source's weights to layers by explicit keys, strictly: every key a layer asks for must
/// exist (directly or through a declared alias) with the expected shape and finite values, and
/// `finish()` rejects keys nothing took. Errors are `WeightBindingError`s passed through
/// `mapError`, so a model can report them in its own error type.
public struct WeightBinder {
    public let source: any WeightSource
    public let aliases: [WeightAlias]
    /// The stored names taken so far.
    public private(set) var used: Set<String> = []
    private let mapError: @Sendable (WeightBindingError) -> any Error

    public init(_ source: any WeightSource, aliases: [WeightAlias] = [],
                mapError: @escaping @Sendable (WeightBindingError) -> any Error = { $0 }) {
        self.source = source
        self.aliases = aliases
        self.mapError = mapError
    }

    /// The error for `reason`, in the model's error type.
    public func error(_ error: WeightBindingError) -> any Error { mapError(error) }

    /// An invalid-layer error naming the source.
    public func invalidLayer(_ reason: String) -> any Error {
        mapError(.invalidLayer(source: source.sourceName, reason: reason))
    }

    /// Whether `key` (or an alias of it) exists.
    public func contains(_ key: String) -> Bool { resolve(key) != nil }

    /// The values of `key`, which must have `shape`; marks the stored tensor used.
    public mutating func take(_ key: String, _ shape: [Int]) throws -> [Float] {
        guard let (name, alias) = resolve(key), let stored = source.weightShape(name) else {
            throw mapError(.missing(source: source.sourceName, key: key, shape: shape))
        }
        let reshaped = alias?.reshapes == true && stored.reduce(1, *) == shape.reduce(1, *)
        guard stored == shape || reshaped else {
            throw mapError(.shapeMismatch(source: source.sourceName, key: key, expected: shape, actual: stored))
        }
        let values = try source.weightValues(name)
        guard values.allSatisfy(\.isFinite) else { throw mapError(.nonFinite(source: source.sourceName, key: name)) }
        used.insert(name)
        return values
    }

    /// Throws `unused` when the source holds keys nothing took.
    public func finish() throws {
        let unused = source.weightNames.filter { !used.contains($0) }.sorted()
        guard unused.isEmpty else { throw mapError(.unused(source: source.sourceName, keys: unused)) }
    }

    /// The stored name for `key`: itself when present, else the first alias's legacy name present.
    private func resolve(_ key: String) -> (String, WeightAlias?)? {
        if source.weightShape(key) != nil { return (key, nil) }
        for alias in aliases where key.contains(alias.current) {
            let legacy = key.replacingOccurrences(of: alias.current, with: alias.legacy)
            if source.weightShape(legacy) != nil { return (legacy, alias) }
        }
        return nil
    }
}

/// Weights held in memory (tests, weights made at run time).
public struct InMemoryWeights: WeightSource {
    public var sourceName: String
    public var tensors: [String: (shape: [Int], values: [Float])]

    public init(name: String = "<memory>", _ tensors: [String: (shape: [Int], values: [Float])]) {
        sourceName = name
        self.tensors = tensors
    }

    public var weightNames: [String] { tensors.keys.sorted() }
    public func weightShape(_ name: String) -> [Int]? { tensors[name]?.shape }
    public func weightValues(_ name: String) throws -> [Float] {
        guard let t = tensors[name] else { throw WeightBindingError.missing(source: sourceName, key: name, shape: []) }
        return t.values
    }
}
