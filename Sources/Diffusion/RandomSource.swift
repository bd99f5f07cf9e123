/// A stream of standard-normal Float32 values. Each sample of a run owns one, seeded from
/// (seed + sample index), so a sample never depends on the batch it was computed in.
public protocol RandomSource: Sendable {
    /// Fills `out` with independent N(0, 1) values, exactly as one `torch.randn(out.count)` call
    /// would for the torch-compatible source.
    mutating func fillStandardNormal(_ out: UnsafeMutableBufferPointer<Float>)
}

extension RandomSource {
    /// Convenience: `count` standard-normal values.
    public mutating func standardNormal(count: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            fillStandardNormal(buffer)
            initialized = count
        }
    }
}

/// The random generators skipstep offers.
public enum RandomKind: String, Sendable, CaseIterable, Codable {
    /// MT19937 and `torch.randn`'s CPU algorithm: the same floats as
    /// `torch.Generator().manual_seed(seed)` followed by `torch.randn`.
    case torch
    /// Philox4x32-10, counter based and fast; the default.
    case philox

    /// A fresh generator for one sample stream.
    public func makeSource(seed: UInt64) -> any RandomSource {
        switch self {
        case .torch: TorchGenerator(seed: seed)
        case .philox: PhiloxGenerator(seed: seed)
        }
    }
}
