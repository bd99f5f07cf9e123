import Foundation

/// The weights of the ADM fixtures (Tests/Fixtures/adm, tools/make_adm_fixtures.py), which are
/// not stored: each tensor is recomputed from its index in the fixture's keys.json and its name,
/// by the same 32-bit integer hash as the script's `hashed_uniform` / `hashed_value`.
public enum HashedWeights {
    public struct Entry: Sendable { public var name: String; public var shape: [Int] }

    /// keys.json: `[[name, shape], …]` in state_dict order.
    public static func manifest(_ relativePath: String) throws -> [Entry] {
        let raw = try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.url(relativePath))) as? [[Any]] ?? []
        return raw.map { Entry(name: $0[0] as! String, shape: $0[1] as! [Int]) }
    }

    /// Values in [−1, 1) with 24 bits (exact in Float32).
    /// Values in [−1, 1) with 24 bits (exact in Float32), each times `scale` plus `offset`.
    public static func uniform(keyIndex: Int, count: Int, scale: Float = 1, offset: Float = 0) -> [Float] {
        let salt = UInt64(keyIndex) &* 0x85EB_CA77 &+ 0x1656_67B1
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            for i in 0..<count {
                var h = UInt32(truncatingIfNeeded: UInt64(i) &* 0x9E37_79B1 &+ salt)
                h ^= h >> 15
                h = h &* 0x2C1B_3C6D
                h ^= h >> 12
                h = h &* 0x297A_2D39
                h ^= h >> 15
                out[i] = offset + (Float(h >> 8) - 8_388_608) / 8_388_608 * scale
            }
            initialized = count
        }
    }

    /// One tensor's values, as the script's `hashed_value`.
    public static func values(keyIndex: Int, _ entry: Entry) -> [Float] {
        let count = entry.shape.reduce(1, *)
        if entry.name.hasSuffix(".bias") { return uniform(keyIndex: keyIndex, count: count, scale: 0.1) }
        if entry.shape.count == 1 { return uniform(keyIndex: keyIndex, count: count, scale: 0.1, offset: 1) }
        if entry.name == "label_emb.weight" { return uniform(keyIndex: keyIndex, count: count, scale: Float(3.0.squareRoot())) }
        return uniform(keyIndex: keyIndex, count: count, scale: Float((3.0 / Double(count / entry.shape[0])).squareRoot()))
    }

    /// Every tensor of a manifest: name → (shape, values).
    public static func tensors(_ relativePath: String) throws -> [String: (shape: [Int], values: [Float])] {
        var out: [String: (shape: [Int], values: [Float])] = [:]
        for (i, entry) in try manifest(relativePath).enumerated() { out[entry.name] = (entry.shape, values(keyIndex: i, entry)) }
        return out
    }
}
