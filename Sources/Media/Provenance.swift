import Files
import Foundation

/// How a sample file was made: written into PNGs as text chunks and beside `.npy`/`.npz` files as
/// a JSON sidecar (`FILE.json`), with the same keys in both.
public struct SampleProvenance: Sendable, Equatable {
    public var skipstepVersion: String
    /// `--model` as given (a built-in name, a path, ORG/NAME).
    public var model: String
    /// The weights file's name and its SHA-256 (nil for models without one).
    public var weightsFile: String?
    public var weightsSHA256: String?
    /// The sampler spec's canonical text, or `exact` for exact mixture samples.
    public var sampler: String
    public var steps: Int?
    public var seed: UInt64
    public var rng: String
    /// `--class` when given.
    public var classLabel: String?

    public init(skipstepVersion: String, model: String, weightsFile: String?, weightsSHA256: String?, sampler: String,
                steps: Int?, seed: UInt64, rng: String, classLabel: String? = nil) {
        self.skipstepVersion = skipstepVersion
        self.model = model
        self.weightsFile = weightsFile
        self.weightsSHA256 = weightsSHA256
        self.sampler = sampler
        self.steps = steps
        self.seed = seed
        self.rng = rng
        self.classLabel = classLabel
    }

    /// The sample indices a file holds, as written: "7" for one, "0-15" for a contiguous range.
    public static func indexText(_ indices: Range<Int>) -> String {
        indices.count == 1 ? "\(indices.lowerBound)" : "\(indices.lowerBound)-\(indices.upperBound - 1)"
    }

    /// Key–value pairs in a fixed order; `sample_index` for one sample (sample i was drawn with
    /// seed + i), `sample_indices` ("A-B", inclusive) for a grid or an array.
    public func entries(indices: Range<Int>) -> [(key: String, value: String)] {
        var out: [(key: String, value: String)] = [
            ("Software", "skipstep \(skipstepVersion)"),
            ("skipstep_version", skipstepVersion),
            ("model", model),
        ]
        if let weightsFile { out.append(("weights_file", weightsFile)) }
        if let weightsSHA256 { out.append(("weights_sha256", weightsSHA256)) }
        out.append(("sampler", sampler))
        if let steps { out.append(("steps", String(steps))) }
        out.append(("seed", String(seed)))
        out.append(("rng", rng))
        if let classLabel { out.append(("class", classLabel)) }
        out.append((indices.count == 1 ? "sample_index" : "sample_indices", Self.indexText(indices)))
        return out
    }

    /// The JSON sidecar: one object with `entries`' keys (numbers as JSON numbers where they are
    /// numbers: steps, seed, sample_index), keys sorted.
    public func sidecarData(indices: Range<Int>) throws -> Data {
        var object: [String: Any] = [:]
        for (key, value) in entries(indices: indices) where key != "Software" {
            switch key {
            case "steps", "sample_index": object[key] = Int(value) ?? value
            case "seed": object[key] = UInt64(value).map { NSNumber(value: $0) } ?? value
            default: object[key] = value
            }
        }
        return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]) + Data("\n".utf8)
    }

    /// Where the sidecar of `url` goes: the same path with `.json` appended (`samples.npy.json`).
    public static func sidecarURL(for url: URL) -> URL {
        url.deletingLastPathComponent().appendingPathComponent(url.lastPathComponent + ".json")
    }

    /// Writes the sidecar of `url` through `AtomicFile`.
    public func writeSidecar(for url: URL, indices: Range<Int>) throws {
        try AtomicFile.write(sidecarData(indices: indices), to: Self.sidecarURL(for: url))
    }
}
