import Foundation
import Tensor

/// Kernel Inception Distance over subsets: the per-subset unbiased MMD² values, their mean and
/// standard deviation (population std, ddof = 0, `np.std` as torch-fidelity reports it).
public struct KernelDistance: Sendable {
    public var mean: Double
    public var std: Double
    public var subsetValues: [Double]
}

/// One KID subset: row indices into the first and into the second feature set (equal lengths).
public struct KIDSubset: Sendable, Equatable {
    public var x: [Int]
    public var y: [Int]
    public init(x: [Int], y: [Int]) { self.x = x; self.y = y }
}

extension Metrics {
    /// Unbiased MMD² with the cubic polynomial kernel `k(a, b) = (aᵀb/d + 1)³` between the rows
    /// `subset.x` of `x` and `subset.y` of `y` (m each), as torch-fidelity `metric_kid.py`
    /// (`polynomial_kernel` with gamma = 1/d, coef0 = 1, degree 3; `mmd2`, mmd_est = "unbiased"):
    ///
    /// `(Σ_{i≠j} K_XX + Σ_{i≠j} K_YY)/(m(m−1)) − 2·Σ K_XY / m²`, in Float64 (torch-fidelity works
    /// in the features' Float32; values here are exact to Float64 rounding).
    public static func polynomialMMD2(_ x: Features, _ y: Features, subset: KIDSubset) throws -> Double {
        try x.requireDimension(y, "KID: \(y.name) vs \(x.name)")
        let m = subset.x.count
        guard subset.y.count == m else {
            throw MetricsError.invalidArgument("KID: subset sizes differ (\(m) vs \(subset.y.count))")
        }
        guard (2...maxKIDSubsetSize).contains(m) else {
            throw MetricsError.invalidArgument("KID: subset size must be between 2 and \(maxKIDSubsetSize), got \(m)")
        }
        try checkIndices(subset.x, count: x.count, set: x.name)
        try checkIndices(subset.y, count: y.count, set: y.name)
        let d = x.dimension
        let a = x.gather(subset.x), b = y.gather(subset.y)
        let gamma = 1 / Double(d)
        func kernelSum(_ p: [Double], _ q: [Double], offDiagonal: Bool) -> Double {
            let g = Linalg.matmul(p, .none, q, .transpose, m: m, n: m, k: d)
            var total = 0.0, diag = 0.0
            for i in 0..<m {
                var row = 0.0
                for j in 0..<m {
                    let t = g[i * m + j] * gamma + 1
                    row += t * t * t
                }
                total += row
                let t = g[i * m + i] * gamma + 1
                diag += t * t * t
            }
            return offDiagonal ? total - diag : total
        }
        let xx = kernelSum(a, a, offDiagonal: true)
        let yy = kernelSum(b, b, offDiagonal: true)
        let xy = kernelSum(a, b, offDiagonal: false)
        let mm = Double(m)
        return (xx + yy) / (mm * (mm - 1)) - 2 * xy / (mm * mm)
    }

    /// KID over explicit subsets (mean and population std of the per-subset MMD²).
    public static func kernelDistance(_ x: Features, _ y: Features, subsets: [KIDSubset]) throws -> KernelDistance {
        guard !subsets.isEmpty else { throw MetricsError.invalidArgument("KID: no subsets") }
        return summarize(try subsets.map { try polynomialMMD2(x, y, subset: $0) })
    }

    /// KID with torch-fidelity's defaults: `subsetCount` subsets of `subsetSize` rows from each set,
    /// each drawn without replacement (independently per subset) by `kidSubsets(seed:)`.
    ///
    /// torch-fidelity draws with numpy `RandomState(2020).choice`; this generator is not numpy's, so
    /// the subsets (and so the value, within its sampling std) differ from torch-fidelity's; pass
    /// the subsets explicitly to reproduce a given draw exactly. Like torch-fidelity, a subset
    /// larger than either set is an error.
    public static func kernelDistance(
        _ x: Features, _ y: Features, subsetCount: Int = 100, subsetSize: Int = 1000, seed: UInt64 = 2020
    ) throws -> KernelDistance {
        try x.requireDimension(y, "KID: \(y.name) vs \(x.name)")
        var sampler = try KIDSubsetSampler(count: subsetCount, size: subsetSize, xCount: x.count, yCount: y.count,
                                           seed: seed, names: (x.name, y.name))
        // One subset at a time: memory stays O(size) however many subsets are asked for.
        var values: [Double] = []
        values.reserveCapacity(subsetCount)
        while let subset = sampler.next() { values.append(try polynomialMMD2(x, y, subset: subset)) }
        return summarize(values)
    }

    /// The most subsets `kernelDistance(_:_:subsetCount:subsetSize:seed:)` draws (torch-fidelity's
    /// default is 100; beyond this the estimate no longer improves and the run would take days).
    public static let maxKIDSubsets = 100_000
    /// The largest KID subset: each subset needs three m × m Float64 kernel matrices (2 GiB at
    /// this size; torch-fidelity's default is 1000).
    public static let maxKIDSubsetSize = 16_384

    /// The subsets `kernelDistance(_:_:subsetCount:subsetSize:seed:)` uses: for each subset, `size`
    /// distinct indices of the first set, then `size` of the second, each by a partial
    /// Fisher–Yates shuffle of `0..<n` driven by SplitMix64(`seed`) (Steele et al. 2014) with
    /// Lemire's unbiased bounded integers (multiply-shift with rejection). One generator runs
    /// through all subsets in order, so the draw is fixed by (seed, count, size, xCount, yCount).
    public static func kidSubsets(count: Int, size: Int, xCount: Int, yCount: Int, seed: UInt64) throws -> [KIDSubset] {
        var sampler = try KIDSubsetSampler(count: count, size: size, xCount: xCount, yCount: yCount, seed: seed,
                                           names: ("first set", "second set"))
        return Array(AnyIterator { sampler.next() })
    }

    static func summarize(_ values: [Double]) -> KernelDistance {
        let n = Double(values.count)
        let mean = values.reduce(0, +) / n
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n
        return KernelDistance(mean: mean, std: variance.squareRoot(), subsetValues: values)
    }

    static func checkIndices(_ indices: [Int], count: Int, set: String) throws {
        var seen = Set<Int>()
        for i in indices {
            guard i >= 0 && i < count else {
                throw MetricsError.invalidArgument("KID: index \(i) out of range for \(set) (\(count) samples)")
            }
            guard seen.insert(i).inserted else {
                throw MetricsError.invalidArgument("KID: index \(i) repeated in a subset of \(set) (subsets are drawn without replacement)")
            }
        }
    }
}

/// Draws KID subsets one at a time (see `Metrics.kidSubsets`), after checking the arguments.
struct KIDSubsetSampler {
    let count: Int, size: Int, xCount: Int, yCount: Int
    var drawn = 0
    var rng: SplitMix64

    init(count: Int, size: Int, xCount: Int, yCount: Int, seed: UInt64, names: (String, String)) throws {
        guard size >= 2, size <= min(xCount, yCount, Metrics.maxKIDSubsetSize) else {
            throw MetricsError.invalidArgument(
                "KID: subset size \(size) must be between 2 and the smaller set's size "
                    + "(\(names.0): \(xCount), \(names.1): \(yCount)), at most \(Metrics.maxKIDSubsetSize); "
                    + "pass a smaller subset size")
        }
        guard (1...Metrics.maxKIDSubsets).contains(count) else {
            throw MetricsError.invalidArgument("KID: subset count \(count) must be between 1 and \(Metrics.maxKIDSubsets)")
        }
        (self.count, self.size, self.xCount, self.yCount) = (count, size, xCount, yCount)
        rng = SplitMix64(seed: seed)
    }

    mutating func next() -> KIDSubset? {
        guard drawn < count else { return nil }
        drawn += 1
        let a = choose(xCount)
        return KIDSubset(x: a, y: choose(yCount))
    }

    private mutating func choose(_ n: Int) -> [Int] {
        var pool = Array(0..<n)
        for i in 0..<size {
            let j = i + Int(rng.bounded(UInt64(n - i)))
            pool.swapAt(i, j)
        }
        return Array(pool[0..<size])
    }
}

/// SplitMix64 (Steele, Lea & Flood 2014): a tiny seeded generator with a fixed, documented output.
public struct SplitMix64: Sendable {
    public private(set) var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `0..<bound` (bound > 0), Lemire (2019) "Fast random integer generation in an interval".
    public mutating func bounded(_ bound: UInt64) -> UInt64 {
        precondition(bound > 0)
        var product = next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold { product = next().multipliedFullWidth(by: bound) }
        }
        return product.high
    }
}
