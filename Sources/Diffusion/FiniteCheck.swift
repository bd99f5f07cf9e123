import Foundation

/// Where a NaN or infinity was first seen, so a run can stop with an error that names it instead
/// of writing non-finite samples (issue 22). `FiniteCheck` finds them; `FiniteCheckingDenoiser`
/// checks every network call.
public struct NonFiniteError: Error, LocalizedError, Equatable {
    /// What held the value: "the model input", "the model output", "the samples", ...
    public var what: String
    /// The model time index of the call, when the value came from one.
    public var timestep: Double?
    /// Which batch item (sample) and which element of it.
    public var sample: Int
    /// The element of that sample (flat index in C×H×W).
    public var element: Int
    /// The non-finite value found.
    public var value: Float

    /// Describes a non-finite `value` found at `element` of `sample`, in the output of `what`.
    public init(what: String, timestep: Double? = nil, sample: Int, element: Int, value: Float) {
        self.what = what
        self.timestep = timestep
        self.sample = sample
        self.element = element
        self.value = value
    }

    public var errorDescription: String? {
        "\(what)\(timestep.map { " at timestep " + ($0 == $0.rounded() && abs($0) < 1e15 ? String(Int($0)) : "\($0)") } ?? "") holds \(value) (sample \(sample), element \(element)): "
            + "the first non-finite value; a model or config fault (weights, norm_eps, freq_shift) "
            + "or non-finite input noise produces it"
    }
}

/// Scans for NaN and ±∞.
public enum FiniteCheck {
    /// Index and value of the first NaN or ±∞ in `values`, or nil when all are finite.
    public static func firstNonFinite<C: Collection<Float>>(_ values: C) -> (index: Int, value: Float)? {
        var index = 0
        for value in values {
            if !value.isFinite { return (index, value) }
            index += 1
        }
        return nil
    }

    /// Throws `NonFiniteError` for the first non-finite value of a batch of `sampleCount`-element
    /// samples stored one after another.
    public static func requireFinite(_ values: [Float], sampleCount: Int, what: String, timestep: Double? = nil) throws {
        guard let (index, value) = firstNonFinite(values) else { return }
        let count = max(sampleCount, 1)
        throw NonFiniteError(what: what, timestep: timestep, sample: index / count, element: index % count, value: value)
    }
}

/// A `Denoiser` that refuses non-finite inputs and outputs of `base`, naming the timestep, the
/// sample and the element: wrap a model in it unless the user asked to keep non-finite values.
public struct FiniteCheckingDenoiser: Denoiser {
    /// The wrapped network.
    public let base: any Denoiser

    /// Wraps `base`, whose every output is checked.
    public init(_ base: any Denoiser) { self.base = base }

    /// The wrapped network's sample shape.
    public var sampleShape: [Int] { base.sampleShape }
    /// The wrapped network's prediction type.
    public var predictionType: PredictionType { base.predictionType }
    /// Whether the wrapped network predicts variance channels.
    public var learnsVariance: Bool { base.learnsVariance }
    /// The wrapped network's number of classes.
    public var classCount: Int? { base.classCount }

    /// The wrapped network's output; a ``NonFiniteError`` at its first NaN or ±∞.
    public func predict(_ x: [Float], batch: Int, timestep: Double) throws -> [Float] {
        try predict(x, batch: batch, timestep: timestep, classLabels: nil)
    }

    /// The wrapped network's class-conditional output; a ``NonFiniteError`` at its first NaN or ±∞.
    public func predict(_ x: [Float], batch: Int, timestep: Double, classLabels: [Int]?) throws -> [Float] {
        let perSample = sampleCount
        try FiniteCheck.requireFinite(x, sampleCount: perSample, what: "the model input", timestep: timestep)
        let output = try base.predict(x, batch: batch, timestep: timestep, classLabels: classLabels)
        try FiniteCheck.requireFinite(output, sampleCount: batch > 0 ? output.count / batch : output.count,
                                      what: "the model output", timestep: timestep)
        return output
    }
}
