import Foundation

/// Seeded mutation fuzzing for the parsers (issue 22): every mutation of a valid fixture must
/// either parse or throw, never trap. Deterministic: case `i` of seed `s` is always the same
/// bytes, so a failure names what to replay. `SKIPSTEP_LONG_TESTS=1` (CI) runs 50× more cases;
/// `SKIPSTEP_FUZZ_TRACE=1` prints each case before it runs (to find the one that trapped).
public struct FuzzMutator {
    private var state: UInt64

    public init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    /// Cases per fuzz test: `base`, or 50× with SKIPSTEP_LONG_TESTS=1.
    public static func iterations(_ base: Int) -> Int {
        ProcessInfo.processInfo.environment["SKIPSTEP_LONG_TESTS"] == "1" ? base * 50 : base
    }

    public static var trace: Bool { ProcessInfo.processInfo.environment["SKIPSTEP_FUZZ_TRACE"] == "1" }

    /// SplitMix64.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in 0..<n (n > 0; the tiny modulo bias does not matter here).
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }

    public mutating func pick<T>(_ values: [T]) -> T { values[below(values.count)] }

    /// Integers at the edges of every width, little- or big-endian when written.
    static let extremeIntegers: [UInt64] = [
        0, 1, 0xFF, 0x7F, 0x80, 0xFFFF, 0x7FFF, 0x8000, 0xFFFF_FFFF, 0x7FFF_FFFF, 0x8000_0000, 0x1_0000_0000,
        UInt64.max, UInt64(Int64.max), 1 << 63, 1 << 40, 1 << 20,
    ]

    /// JSON / Python-literal tokens that break assumptions about values.
    public static let extremeTokens = [
        "0", "-1", "1", "2", "3", "-2147483648", "2147483648", "4294967296", "9223372036854775807",
        "-9223372036854775808", "18446744073709551616", "1e308", "-1e308", "1e-320", "1.5", "0.5", "-0.0",
        "NaN", "Infinity", "null", "true", "false", "\"\"", "\"x\"", "[]", "[8]", "[0, 0]", "[-1]", "{}",
        "[1e308, 1e308]", "[2147483648, 2147483648]", "[4294967296, 4294967296, 4294967296]",
    ]

    /// 1–3 random byte-level mutations; positions fall in `hot` (e.g. a header) 3 times in 4.
    public mutating func mutate(_ input: Data, hot: Range<Int>? = nil) -> Data {
        var bytes = [UInt8](input)
        for _ in 0..<(1 + below(3)) { mutateOnce(&bytes, hot: hot) }
        return Data(bytes)
    }

    private mutating func position(_ count: Int, hot: Range<Int>?) -> Int {
        if let hot, !hot.isEmpty, hot.upperBound <= count, below(4) != 0 {
            return hot.lowerBound + below(hot.count)
        }
        return below(count)
    }

    private mutating func mutateOnce(_ bytes: inout [UInt8], hot: Range<Int>?) {
        guard !bytes.isEmpty else { bytes = [UInt8(truncatingIfNeeded: next())]; return }
        let at = position(bytes.count, hot: hot)
        switch below(8) {
        case 0:  // flip a bit
            bytes[at] ^= 1 << UInt8(below(8))
        case 1:  // a random or extreme byte
            bytes[at] = pick([0, 0xFF, 0x7F, 0x80, UInt8(truncatingIfNeeded: next())])
        case 2:  // truncate
            bytes.removeSubrange(at...)
        case 3:  // an extreme 1/2/4/8-byte integer, either byte order
            let width = pick([1, 2, 4, 8])
            let value = pick(Self.extremeIntegers)
            let bigEndian = below(2) == 0
            for k in 0..<width where at + k < bytes.count {
                let shift = (bigEndian ? width - 1 - k : k) * 8
                bytes[at + k] = UInt8(truncatingIfNeeded: value >> UInt64(shift))
            }
        case 4:  // delete a short range
            bytes.removeSubrange(at..<min(bytes.count, at + 1 + below(16)))
        case 5:  // insert random bytes
            bytes.insert(contentsOf: (0..<(1 + below(8))).map { _ in UInt8(truncatingIfNeeded: next()) }, at: at)
        case 6:  // duplicate a range elsewhere
            let length = min(bytes.count - at, 1 + below(32))
            let chunk = Array(bytes[at..<(at + length)])
            bytes.insert(contentsOf: chunk, at: below(bytes.count + 1))
        default:  // an extreme float32 or float64
            if below(2) == 0, at + 4 <= bytes.count {
                let v: Float = pick([.nan, .infinity, -.infinity, .greatestFiniteMagnitude, -0.0, 1e-45])
                withUnsafeBytes(of: v.bitPattern.littleEndian) { for k in 0..<4 { bytes[at + k] = $0[k] } }
            } else if at + 8 <= bytes.count {
                let v: Double = pick([.nan, .infinity, -.infinity, 1e308, -1e308, 5e-324])
                withUnsafeBytes(of: v.bitPattern.littleEndian) { for k in 0..<8 { bytes[at + k] = $0[k] } }
            }
        }
    }

    /// Text mutations for JSON and Python literals: replace a number, a value after ':', a string
    /// or a bracketed list with an extreme token, delete or duplicate a line, or (1 in 4) a
    /// byte-level mutation.
    public mutating func mutateText(_ text: String) -> String {
        var result = text
        for _ in 0..<(1 + below(3)) {
            if below(4) == 0 {
                result = String(decoding: mutate(Data(result.utf8)), as: UTF8.self)
                continue
            }
            let patterns = [#"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?"#, #":\s*[^,}\]\n]+"#, #""[^"]*""#, #"\[[^\[\]]*\]"#]
            let pattern = pick(patterns)
            guard let regex = try? NSRegularExpression(pattern: pattern) else { continue }
            let ns = result as NSString
            let matches = regex.matches(in: result, range: NSRange(location: 0, length: ns.length))
            guard !matches.isEmpty else { continue }
            let match = pick(matches).range
            let replacement = pattern.hasPrefix(":") ? ": " + pick(Self.extremeTokens) : pick(Self.extremeTokens)
            switch below(6) {
            case 0:  // delete the token (and so, often, a whole key's value)
                result = ns.replacingCharacters(in: match, with: "")
            case 1:  // duplicate it
                result = ns.replacingCharacters(in: match, with: ns.substring(with: match) + ", " + ns.substring(with: match))
            default:
                result = ns.replacingCharacters(in: match, with: replacement)
            }
        }
        return result
    }
}

/// Runs `body` on `count` mutations of each seed; `mutate` makes case `i` from a seed. A thrown
/// error is fine (that is the point); `check` may inspect it. Traps end the test process, and with
/// SKIPSTEP_FUZZ_TRACE=1 the last printed line names the case.
public func fuzz(
    _ name: String, seeds: [(name: String, data: Data)], count: Int, seed: UInt64 = 22,
    mutate: (inout FuzzMutator, Data) -> Data, body: (Data) throws -> Void, check: (any Error, Data) -> Void = { _, _ in }
) -> (parsed: Int, refused: Int) {
    var rng = FuzzMutator(seed: seed)
    var parsed = 0, refused = 0
    for i in 0..<count {
        let (seedName, seedData) = seeds[i % seeds.count]
        let input = mutate(&rng, seedData)
        if FuzzMutator.trace {
            // The last case before a trap stays on disk, to be committed as a regression input.
            let last = FileManager.default.temporaryDirectory.appendingPathComponent("skipstep-fuzz-\(name).last")
            try? input.write(to: last)
            print("fuzz \(name) case \(i) from \(seedName): \(input.count) bytes, saved to \(last.path)")
        }
        do {
            try body(input)
            parsed += 1
        } catch {
            refused += 1
            check(error, input)
        }
    }
    print("fuzz \(name): \(count) cases, \(parsed) parsed, \(refused) refused, no trap")
    return (parsed, refused)
}

/// A fresh directory for the many small files a fuzz test writes: under /dev/shm when it exists
/// (a write to an overlay /tmp can take milliseconds), else the system temporary directory.
public func fastTemporaryDirectory() throws -> URL {
    var isDirectory: ObjCBool = false
    let base = FileManager.default.fileExists(atPath: "/dev/shm", isDirectory: &isDirectory) && isDirectory.boolValue
        && FileManager.default.isWritableFile(atPath: "/dev/shm")
        ? URL(fileURLWithPath: "/dev/shm") : FileManager.default.temporaryDirectory
    let url = base.appendingPathComponent("skipstep-fuzz-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// The inputs committed under Tests/Fixtures/fuzz/`target`/ (a libFuzzer corpus and any
/// crashers), sorted by name; empty when there are none.
public func fuzzCorpus(_ target: String) -> [(name: String, data: Data)] {
    let directory = Fixtures.url("fuzz/\(target)")
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    return names.sorted().compactMap { name in
        (try? Data(contentsOf: directory.appendingPathComponent(name))).map { (name, $0) }
    }
}

/// Why `error` is not a good refusal of a file at `path` — not a LocalizedError, a message that
/// does not name the file, or a raw Foundation error — or nil when it is one.
public func namedErrorProblem(_ error: any Error, _ path: String) -> String? {
    guard let message = (error as? any LocalizedError)?.errorDescription else {
        return "not a LocalizedError: \(type(of: error)) \(error)"
    }
    if !message.contains(path) { return "does not name \(path): \(message)" }
    if message.contains("NSCocoaErrorDomain") { return "a raw Foundation error: \(message)" }
    return nil
}
