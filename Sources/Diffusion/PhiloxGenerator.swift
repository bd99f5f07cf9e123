/// Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3",
/// SC 2011; the constants and round of Random123's philox.h) with Box–Muller, as a stream of
/// standard normals. Counter based: value `i` of the stream depends only on (seed, i), so
/// filling 3 + 5 values gives the same 8 values as filling 8, and the stream is the same on every
/// platform (the math is `CephesFloat` unfused: plain IEEE single-precision operations, no libm).
///
/// Stream layout: block `k` (k = 0, 1, …) is Philox4x32-10 of the 128-bit counter
/// (k mod 2³², k / 2³², 0, 0) under the key (seed mod 2³², seed / 2³²); its words (w0, w1, w2, w3)
/// give normals 4k…4k+3 as the Box–Muller pairs of (w0, w1) and (w2, w3), with
/// u1 = ((w >> 8) + 1)·2⁻²⁴ ∈ (0, 1] feeding the radius √(−2 ln u1) and
/// u2 = (w >> 8)·2⁻²⁴ ∈ [0, 1) the angle 2π·u2: (r cos θ, r sin θ).
public struct PhiloxGenerator: RandomSource {
    /// The Philox key: the seed's low and high 32 bits.
    public let key: SIMD2<UInt32>
    /// Normals handed out so far; the next one is value `position` of the stream.
    public private(set) var position: UInt64 = 0
    /// The normals of block `position / 4`, valid while `position % 4 != 0`.
    private var block = SIMD4<Float>()

    /// The stream of `seed`, at its start.
    public init(seed: UInt64) {
        key = SIMD2(UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32))
    }

    /// Fills `out` with the next normals of the stream.
    public mutating func fillStandardNormal(_ out: UnsafeMutableBufferPointer<Float>) {
        guard let base = out.baseAddress else { return }
        let n = out.count
        var i = 0
        // Finish the block a previous call started.
        while i < n && position % 4 != 0 {
            base[i] = block[Int(position % 4)]
            i += 1
            position += 1
        }
        while i + 4 <= n {
            let normals = Self.normals(block: position / 4, key: key)
            base[i] = normals[0]; base[i + 1] = normals[1]
            base[i + 2] = normals[2]; base[i + 3] = normals[3]
            i += 4
            position += 4
        }
        if i < n {
            block = Self.normals(block: position / 4, key: key)
            while i < n {
                base[i] = block[Int(position % 4)]
                i += 1
                position += 1
            }
        }
    }

    /// The four normals of block `index` (see the type's documentation).
    @inline(__always)
    static func normals(block index: UInt64, key: SIMD2<UInt32>) -> SIMD4<Float> {
        let counter = SIMD4<UInt32>(UInt32(truncatingIfNeeded: index),
                                    UInt32(truncatingIfNeeded: index >> 32), 0, 0)
        let w = philox4x32_10(counter: counter, key: key)
        let twoPi = Float(bitPattern: 0x40C9_0FDB)  // Float(2π)
        let r0 = (-2 * CephesFloat.log(Float((w[0] >> 8) + 1) * 0x1p-24, fused: false)).squareRoot()
        let r1 = (-2 * CephesFloat.log(Float((w[2] >> 8) + 1) * 0x1p-24, fused: false)).squareRoot()
        let a0 = CephesFloat.sincos(twoPi * (Float(w[1] >> 8) * 0x1p-24), fused: false)
        let a1 = CephesFloat.sincos(twoPi * (Float(w[3] >> 8) * 0x1p-24), fused: false)
        return SIMD4(r0 * a0.cos, r0 * a0.sin, r1 * a1.cos, r1 * a1.sin)
    }

    /// Philox4x32 with 10 rounds: Random123 philox.h `philox4x32_R(10, ctr, key)`.
    public static func philox4x32_10(counter: SIMD4<UInt32>, key: SIMD2<UInt32>) -> SIMD4<UInt32> {
        var (c0, c1, c2, c3) = (counter[0], counter[1], counter[2], counter[3])
        var (k0, k1) = (key[0], key[1])
        for round in 0..<10 {
            if round > 0 {  // key bump: PHILOX_W32_0, PHILOX_W32_1
                k0 &+= 0x9E37_79B9
                k1 &+= 0xBB67_AE85
            }
            let p0 = UInt64(0xD251_1F53) &* UInt64(c0)  // PHILOX_M4x32_0
            let p1 = UInt64(0xCD9E_8D57) &* UInt64(c2)  // PHILOX_M4x32_1
            (c0, c1, c2, c3) = (UInt32(truncatingIfNeeded: p1 >> 32) ^ c1 ^ k0,
                                UInt32(truncatingIfNeeded: p1),
                                UInt32(truncatingIfNeeded: p0 >> 32) ^ c3 ^ k1,
                                UInt32(truncatingIfNeeded: p0))
        }
        return SIMD4(c0, c1, c2, c3)
    }
}
