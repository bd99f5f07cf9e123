import Foundation

/// Inception Score: mean and population std (ddof = 0) of the per-split scores.
public struct InceptionScore: Sendable {
    public var mean: Double
    public var std: Double
    public var splitScores: [Double]
}

extension Metrics {
    /// Inception Score from classifier logits (`count × classes`), as torch-fidelity
    /// `metric_isc.py` `isc_features_to_metric` with `shuffle=False` (rows are used in the order
    /// given; shuffle them first to match torch-fidelity's default) and the original improved-GAN
    /// code: Float64 softmax, split `i` = rows `[i·N/splits, (i+1)·N/splits)`, score
    /// `exp(mean_x KL(p(y|x) ‖ p̂(y)))` with `p̂(y)` the split's mean prediction; mean and
    /// `np.std` (ddof = 0) over the splits.
    public static func inceptionScore(logits: Features, splits: Int = 10) throws -> InceptionScore {
        let n = logits.count, c = logits.dimension
        guard splits >= 1 else { throw MetricsError.invalidArgument("Inception Score: splits must be positive, got \(splits)") }
        guard n >= splits else {
            throw MetricsError.notEnoughSamples(set: logits.name, count: n, needed: splits,
                                                purpose: "an Inception Score with \(splits) splits")
        }
        // log_softmax and softmax per row, in Float64.
        var logP = [Double](repeating: 0, count: n * c), p = logP
        for r in 0..<n {
            var mx = -Double.infinity
            for k in 0..<c { mx = max(mx, Double(logits.values[r * c + k])) }
            var s = 0.0
            for k in 0..<c { s += Foundation.exp(Double(logits.values[r * c + k]) - mx) }
            let ls = Foundation.log(s)
            for k in 0..<c {
                let v = Double(logits.values[r * c + k]) - mx - ls
                logP[r * c + k] = v
                p[r * c + k] = Foundation.exp(v)
            }
        }
        var scores: [Double] = []
        for i in 0..<splits {
            let lo = i * n / splits, hi = (i + 1) * n / splits
            var q = [Double](repeating: 0, count: c)
            for r in lo..<hi { for k in 0..<c { q[k] += p[r * c + k] } }
            let logQ = q.map { Foundation.log($0 / Double(hi - lo)) }
            var klSum = 0.0
            for r in lo..<hi {
                var kl = 0.0
                for k in 0..<c { kl += p[r * c + k] * (logP[r * c + k] - logQ[k]) }
                klSum += kl
            }
            scores.append(Foundation.exp(klSum / Double(hi - lo)))
        }
        let mean = scores.reduce(0, +) / Double(splits)
        let variance = scores.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(splits)
        return InceptionScore(mean: mean, std: variance.squareRoot(), splitScores: scores)
    }
}
