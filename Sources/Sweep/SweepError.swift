import Foundation

/// A sweep that cannot run or resume: a bad spec, a directory of another sweep, missing or damaged files.
public enum SweepError: Error, LocalizedError, Equatable {
    case invalidSpec(String)
    case mismatchedSpec(directory: String, field: String)
    case mismatchedShard(directory: String, field: String)
    case mismatchedReuse(directory: String, field: String)
    case incomplete(String)
    case corrupt(path: String, reason: String)
    case nonFinite(cell: String, samples: Int)

    public var errorDescription: String? {
        switch self {
        case .invalidSpec(let message): message
        case let .mismatchedSpec(directory, field):
            "\(directory) holds a different sweep (its sweep.json differs in \(field)); a sweep can grow by "
                + "adding samplers, steps or cutoffs, nothing else may change: use another --out or delete it"
                + (field == "quantize" ? " (a sweep.json without \"quantize\" scored raw floats: resume it with --no-quantize)" : "")
        case let .mismatchedShard(directory, field):
            "\(directory) is a shard of a different sweep (its sweep.json differs in \(field)); every shard must be run "
                + "with the same options"
        case let .mismatchedReuse(directory, field):
            "\(directory) is a sweep made with other options (its sweep.json differs in \(field)); cells can be reused "
                + "only from a sweep with the same model, seed, batch, rng, spacing, metrics, reference, network, quantisation and mode"
        case .incomplete(let message): message
        case let .corrupt(path, reason): "\(path): \(reason)"
        case let .nonFinite(cell, samples):
            "\(cell): \(samples) samples hold NaN or infinite values (the model or sampler diverged), so the cell cannot be "
                + "scored; rerun with --allow-nonfinite to record it unscored and go on"
        }
    }
}
