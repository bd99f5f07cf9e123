import Foundation

/// Fixtures made by the scripts under tools/ live in Tests/Fixtures; this finds them from any
/// test target without resources (the source tree is always beside the build in `swift test`).
public enum Fixtures {
    public static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures", isDirectory: true)

    public static func url(_ relativePath: String) -> URL {
        directory.appendingPathComponent(relativePath)
    }

    /// Decodes a JSON fixture.
    public static func json<T: Decodable>(_ type: T.Type, _ relativePath: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(contentsOf: url(relativePath)))
    }
}

/// The worst element of a comparison under |a − e| ≤ atol + rtol·|e|.
public struct Closeness: CustomStringConvertible, Sendable {
    public var index: Int
    public var actual: Double
    public var expected: Double
    /// (|a − e| − atol) / (rtol·|e|): ≤ 0 passes trivially, ≤ 1 passes.
    public var excess: Double
    public var maxAbsError: Double
    public var maxRelError: Double
    public var passes: Bool

    public var description: String {
        "worst element \(index): actual \(actual), expected \(expected); max |err| \(maxAbsError), "
            + "max rel err \(maxRelError)"
    }
}

/// Compares two equally long sequences element-wise with relative and absolute tolerance and
/// reports the worst element (NaN anywhere fails).
public func closeness<A: Collection, E: Collection>(
    _ actual: A, _ expected: E, rtol: Double, atol: Double
) -> Closeness where A.Element: BinaryFloatingPoint, E.Element: BinaryFloatingPoint {
    precondition(actual.count == expected.count, "length \(actual.count) vs \(expected.count)")
    var worst = Closeness(index: -1, actual: 0, expected: 0, excess: -.infinity,
                          maxAbsError: 0, maxRelError: 0, passes: true)
    for (i, (a, e)) in zip(actual, expected).enumerated() {
        let a = Double(a), e = Double(e)
        let err = abs(a - e)
        let allowed = atol + rtol * abs(e)
        let score = err.isNaN ? Double.infinity : err - allowed
        worst.maxAbsError = max(worst.maxAbsError, err.isNaN ? .infinity : err)
        if e != 0 { worst.maxRelError = max(worst.maxRelError, err / abs(e)) }
        if score > worst.excess || worst.index < 0 {
            worst.index = i; worst.actual = a; worst.expected = e; worst.excess = score
        }
        if !(err <= allowed) { worst.passes = false }
    }
    return worst
}

/// ‖a − e‖₂ / ‖e‖₂ in Float64.
public func relativeL2<A: Collection, E: Collection>(_ actual: A, _ expected: E) -> Double
where A.Element: BinaryFloatingPoint, E.Element: BinaryFloatingPoint {
    precondition(actual.count == expected.count)
    var num = 0.0, den = 0.0
    for (a, e) in zip(actual, expected) {
        let d = Double(a) - Double(e)
        num += d * d
        den += Double(e) * Double(e)
    }
    return (num / max(den, .leastNormalMagnitude)).squareRoot()
}
