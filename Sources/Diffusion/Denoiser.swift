import Foundation

/// What a diffusion network is, seen from the sampling math: a map from a batch of noisy samples
/// at one model time index to the network's raw output. Nothing here knows about layers.
public protocol Denoiser: Sendable {
    /// Shape of one sample, channels first, e.g. `[1, 28, 28]`.
    var sampleShape: [Int] { get }
    /// What the output means (ε, x₀ or v).
    var predictionType: PredictionType { get }
    /// True when the output has twice the sample's channels: the prediction, then the
    /// variance interpolation value of `learned_range` (ADM / improved DDPM).
    var learnsVariance: Bool { get }

    /// Evaluates the network on `batch` samples stored contiguously in `x`
    /// (`batch × sampleShape.product` floats) at model time `timestep` ∈ [0, T − 1]: a model index
    /// for the discrete samplers, any real number in range for samplers that need fractional t (a
    /// discrete-time network evaluates its time embedding there, as diffusers does).
    /// Returns `batch × outputChannels × H × W` floats.
    func predict(_ x: [Float], batch: Int, timestep: Double) throws -> [Float]

    /// The number of classes of a class-conditional network (labels `0..<classCount`); nil for
    /// an unconditional one.
    var classCount: Int? { get }

    /// `predict` with one class label per sample (nil for an unconditional network).
    func predict(_ x: [Float], batch: Int, timestep: Double, classLabels: [Int]?) throws -> [Float]
}

extension Denoiser {
    /// By default a network predicts no variance channels.
    public var learnsVariance: Bool { false }
    /// By default a network is unconditional.
    public var classCount: Int? { nil }

    /// An unconditional network: labels are an error.
    public func predict(_ x: [Float], batch: Int, timestep: Double, classLabels: [Int]?) throws -> [Float] {
        guard classLabels == nil else { throw ClassLabelError.unconditional }
        return try predict(x, batch: batch, timestep: timestep)
    }
    /// Number of floats in one sample.
    public var sampleCount: Int { sampleShape.reduce(1, *) }
}

/// What the network's output parameterises (diffusers `prediction_type`).
public enum PredictionType: String, Sendable, Codable, CaseIterable {
    case epsilon
    case sample
    case vPrediction = "v_prediction"
}

/// The variance of each ancestral step (diffusers `variance_type`, guided-diffusion `model_var_type`).
public enum VarianceType: String, Sendable, Codable, CaseIterable {
    /// β̃ = (1 − ᾱ_p)/(1 − ᾱ_s)·β: the posterior variance.
    case fixedSmall = "fixed_small"
    /// β = 1 − ᾱ_s/ᾱ_p (guided-diffusion's default when sigma_small is false).
    case fixedLarge = "fixed_large"
    /// log σ² = f·log β + (1 − f)·log β̃ with f = (v + 1)/2 read from the network's extra channels.
    case learnedRange = "learned_range"
}

/// Class labels for a class-conditional model: one fixed class for every sample, or a class per
/// sample drawn from that sample's label stream (`ClassLabels.random(seed:count:)`).
public enum ClassChoice: Sendable, Equatable, CustomStringConvertible {
    case fixed(Int)
    case random
    /// Sample i gets label i: one condition per sample, e.g. prompt i of a prompt list.
    case perSample

    /// `207` or `random`.
    public init?(_ text: String) {
        if text == "random" { self = .random } else if let c = Int(text) { self = .fixed(c) } else { return nil }
    }

    public var description: String {
        switch self {
        case .fixed(let c): "\(c)"
        case .random: "random"
        case .perSample: "per-sample"
        }
    }

    /// The labels of the samples `indices` of a run seeded with `seed`, checked against the
    /// model's class count (nil: unconditional).
    public func labels(for indices: Range<Int>, seed: UInt64, classCount: Int?) throws -> [Int] {
        guard let count = classCount else { throw ClassLabelError.unconditional }
        switch self {
        case .fixed(let c):
            guard (0..<count).contains(c) else { throw ClassLabelError.outOfRange(c, count: count) }
            return Array(repeating: c, count: indices.count)
        case .random:
            return indices.map { ClassLabels.random(seed: seed &+ UInt64(truncatingIfNeeded: $0), count: count) }
        case .perSample:
            guard indices.isEmpty || (0..<count).contains(indices.upperBound - 1), indices.lowerBound >= 0 else {
                throw ClassLabelError.outOfRange(indices.upperBound - 1, count: count)
            }
            return Array(indices)
        }
    }
}

/// The rule for `random` labels (docs/ARCHITECTURE.md, Randomness): sample i's label comes from
/// its own label stream, Philox4x32-10 keyed by seed + i at counter (0, 0, 0, 0x6c61626c "labl"),
/// apart from its noise stream (which starts at counter 0 of the same key with another last
/// word): label = ⌊u·count / 2³²⌋ of the first 32-bit output u. It depends neither on the batch
/// size nor on the `--rng` kind, and drawing it does not move x_T or any step's noise.
public enum ClassLabels {
    /// Labels must be given exactly when the model is class-conditional: one per sample, each in range.
    public static func check(_ labels: [Int]?, classCount: Int?, samples: Int) throws {
        switch (classCount, labels) {
        case (nil, nil): return
        case (nil, .some): throw ClassLabelError.unconditional
        case (.some(let count), nil): throw ClassLabelError.missing(count: count)
        case let (.some(count), .some(labels)):
            guard labels.count == samples else { throw ClassLabelError.count(labels.count, samples: samples) }
            if let bad = labels.first(where: { !(0..<count).contains($0) }) { throw ClassLabelError.outOfRange(bad, count: count) }
        }
    }

    /// The `random` label of the sample seeded with `seed`: uniform in 0..<count, from a Philox
    /// stream of its own (counter word 3 = "labl"), apart from the sample's noise.
    public static func random(seed: UInt64, count: Int) -> Int {
        let key = SIMD2<UInt32>(UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32))
        let u = PhiloxGenerator.philox4x32_10(counter: SIMD4<UInt32>(0, 0, 0, 0x6c61_626c), key: key)[0]
        return Int((UInt64(u) * UInt64(count)) >> 32)
    }
}

/// Class labels that do not fit the model.
public enum ClassLabelError: Error, LocalizedError, Equatable {
    /// Labels given to an unconditional model.
    case unconditional
    /// No labels for a class-conditional model of `count` classes.
    case missing(count: Int)
    /// A label outside 0..<count.
    case outOfRange(Int, count: Int)
    /// A number of labels other than one per sample.
    case count(Int, samples: Int)

    public var errorDescription: String? {
        switch self {
        case .unconditional: "the model is unconditional: it takes no class labels"
        case .missing(let count): "the model is class-conditional (\(count) classes): give a class (0…\(count - 1)) or random"
        case let .outOfRange(c, count): "class \(c) is out of range: the model has classes 0…\(count - 1)"
        case let .count(labels, samples): "\(labels) class labels for \(samples) samples"
        }
    }
}
