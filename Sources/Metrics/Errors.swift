import Foundation

/// Failures of the metric computations; each names the feature set and what was wrong.
public enum MetricsError: Error, LocalizedError, Equatable {
    /// The value count is not a multiple of the feature dimension (or the dimension is not positive).
    case badShape(set: String, valueCount: Int, dimension: Int)
    /// Two inputs that must agree in feature dimension do not.
    case dimensionMismatch(expected: Int, actual: Int, what: String)
    /// A feature is NaN or ±∞.
    case nonFinite(set: String, row: Int, column: Int, value: Float)
    /// Too few samples for the requested computation.
    case notEnoughSamples(set: String, count: Int, needed: Int, purpose: String)
    /// An argument out of range (subset size, split count, k, an index).
    case invalidArgument(String)
    /// A covariance that is not one: not symmetric, or with a clearly negative eigenvalue.
    case invalidCovariance(set: String, reason: String)

    public var errorDescription: String? {
        switch self {
        case let .badShape(set, valueCount, dimension):
            dimension <= 0
                ? "\(set): feature dimension must be positive, got \(dimension)"
                : "\(set): \(valueCount) values is not a whole number of \(dimension)-dimensional features"
        case let .dimensionMismatch(expected, actual, what):
            "\(what): feature dimension \(actual) does not match \(expected)"
        case let .nonFinite(set, row, column, value):
            "\(set): feature \(row), component \(column) is \(value) (NaN or infinite features cannot be scored)"
        case let .notEnoughSamples(set, count, needed, purpose):
            "\(set): \(purpose) needs at least \(needed) samples, got \(count)"
        case let .invalidArgument(message):
            message
        case let .invalidCovariance(set, reason):
            "\(set): the covariance (sigma) is not a valid covariance matrix: \(reason)"
        }
    }
}

/// Conditions that do not stop a computation but make its result less trustworthy.
public enum MetricWarning: Sendable, Equatable, CustomStringConvertible {
    /// `count ≤ dimension`: the sample covariance has rank < dimension (singular), so the Fréchet
    /// distance is computed from a rank-deficient estimate and is biased; use more samples.
    case singularCovariance(set: String, count: Int, dimension: Int)

    public var description: String {
        switch self {
        case let .singularCovariance(set, count, dimension):
            "\(set): \(count) samples for \(dimension)-dimensional features (need more than \(dimension)); "
                + "the covariance is singular and the Fréchet distance is unreliable"
        }
    }
}

/// A row-major `count × dimension` matrix of Float32 features, checked on construction:
/// the shape must be whole and every value finite.
public struct Features: Sendable {
    /// Name used in errors and warnings ("generated", "reference", …).
    public let name: String
    public let values: [Float]
    public let count: Int
    public let dimension: Int

    /// The largest feature dimension accepted: its covariance (d² Float64) then takes 2 GiB, and
    /// every network skipstep scores with is far below it (Inception: 2048).
    public static let maxDimension = 16_384

    public init(_ values: [Float], dimension: Int, name: String = "features") throws {
        guard dimension > 0, values.count % dimension == 0 else {
            throw MetricsError.badShape(set: name, valueCount: values.count, dimension: dimension)
        }
        guard dimension <= Self.maxDimension else {
            throw MetricsError.invalidArgument("\(name): feature dimension \(dimension) is above the supported "
                                               + "\(Self.maxDimension) (its covariance alone would need \(dimension)² values)")
        }
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw MetricsError.nonFinite(set: name, row: bad / dimension, column: bad % dimension, value: values[bad])
        }
        self.name = name
        self.values = values
        self.dimension = dimension
        self.count = values.count / dimension
    }

    /// Rows `start..<start+rows` as Float64, row-major.
    func rowsAsDouble(_ start: Int, _ rows: Int) -> [Double] {
        let lo = start * dimension, hi = (start + rows) * dimension
        return values[lo..<hi].map(Double.init)
    }

    /// The rows at `indices` as Float64, row-major (indices already validated).
    func gather(_ indices: [Int]) -> [Double] {
        var out = [Double](repeating: 0, count: indices.count * dimension)
        for (r, i) in indices.enumerated() {
            for c in 0..<dimension { out[r * dimension + c] = Double(values[i * dimension + c]) }
        }
        return out
    }

    func requireDimension(_ other: Features, _ what: String) throws {
        guard other.dimension == dimension else {
            throw MetricsError.dimensionMismatch(expected: dimension, actual: other.dimension, what: what)
        }
    }
}

/// Namespace of the metric functions (Fréchet distance, KID, precision/recall, Inception Score).
public enum Metrics {}
