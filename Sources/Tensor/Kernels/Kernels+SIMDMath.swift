import CKernels

/// Vectorised `exp`, SiLU and softmax used by the kernels.
///
/// `exp` is Cephes' `expf` (range reduction by ln 2 split into a high and a low part, degree-6
/// polynomial, 2ⁿ built in the exponent bits), evaluated on `vecWidth` lanes at a time; its relative
/// error is ≤ 2 ulp on the range it accepts. Inputs are clamped to [−87.3, 88.0] so that 2ⁿ stays
/// a normal float: below, results are ≈ 1.2e−38 instead of underflowing to 0 (irrelevant for
/// softmax and SiLU, whose results there are below Float32's resolution of the sums they join).
extension Kernels {
    /// Whether the CPU has AVX2 and FMA: then SiLU, softmax and GroupNorm run their C versions
    /// (Sources/CKernels, compiled for AVX2 + FMA per function, so the binary still runs on any
    /// x86-64), else the portable Swift ones below (SSE on x86-64).
    static let hasAVX2FMA = skipstep_cpu_has_avx2_fma() != 0

    typealias Vec = SIMD8<Float>
    typealias VecBits = SIMD8<UInt32>
    static let vecWidth = 8

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> Vec {
        UnsafeRawPointer(p).loadUnaligned(as: Vec.self)
    }

    @inline(__always)
    static func store(_ v: Vec, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec.self)
    }

    @inline(__always)
    static func exp(_ x: Vec) -> Vec {
        // Clamp with compare-and-select (the stdlib's `clamped` goes lane by lane for NaN rules).
        let lo = Vec(repeating: -87.3), hi = Vec(repeating: 88.0)
        var x = x.replacing(with: lo, where: x .< lo)
        x = x.replacing(with: hi, where: x .> hi)
        // n = round(x / ln 2) by the 1.5·2²³ trick: the integer lands in the mantissa's low bits.
        let magic: Float = 12_582_912  // 0x4B40_0000
        let t = x * 1.442_695_04 + magic
        let n = t - magic
        var r = x - n * 0.693_359_375
        r = r - n * -2.121_944_4e-4
        var p = Vec(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_59e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_12e-1
        let r2 = r * r
        let y = p * r2 + r + 1
        let bits = unsafeBitCast(t, to: VecBits.self) &- 0x4B40_0000 &+ 127
        let scale = unsafeBitCast(bits &<< 23, to: Vec.self)
        return y * scale
    }

    @inline(__always)
    static func silu(_ x: Vec) -> Vec {
        x / (1 + exp(-x))
    }

    /// Scalar SiLU with the same formula, for tails shorter than a vector.
    @inline(__always)
    static func siluScalar(_ x: Float) -> Float {
        var v = Vec(repeating: 0)
        v[0] = x
        return silu(v)[0]
    }

    /// `dst[i] = silu(src[i])`; `dst` may equal `src`.
    @inline(__always)
    static func siluRange(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        if hasAVX2FMA { skipstep_silu_avx2(src, dst, count) } else { siluRangePortable(src, dst, count: count) }
    }

    static func siluRangePortable(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + vecWidth <= count {
            store(silu(load(src + i)), dst + i)
            i += vecWidth
        }
        if i < count {
            var tail = Vec(repeating: 0)
            for j in 0..<(count - i) { tail[j] = src[i + j] }
            let out = silu(tail)
            for j in 0..<(count - i) { dst[i + j] = out[j] }
        }
    }

    /// Softmax of one row in place: `x ← exp(x − max x) / Σ exp(x − max x)`.
    @inline(__always)
    static func softmaxRow(_ x: UnsafeMutablePointer<Float>, count: Int) {
        if hasAVX2FMA { skipstep_softmax_row_avx2(x, count) } else { softmaxRowPortable(x, count: count) }
    }

    static func softmaxRowPortable(_ x: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        var mv = Vec(repeating: -.infinity)
        while i + vecWidth <= count {
            let v = load(x + i)
            mv = mv.replacing(with: v, where: v .> mv)
            i += vecWidth
        }
        var m = mv.max()
        while i < count { m = max(m, x[i]); i += 1 }

        let mb = Vec(repeating: m)
        var sv = Vec(repeating: 0)
        i = 0
        while i + vecWidth <= count {
            let e = exp(load(x + i) - mb)
            store(e, x + i)
            sv += e
            i += vecWidth
        }
        if i < count {
            var tail = Vec(repeating: -.infinity)
            for j in 0..<(count - i) { tail[j] = x[i + j] }
            let e = exp(tail - mb)
            for j in 0..<(count - i) { x[i + j] = e[j]; sv[j] += e[j] }
        }
        let inv = 1 / sv.sum()
        i = 0
        while i + vecWidth <= count {
            store(load(x + i) * inv, x + i)
            i += vecWidth
        }
        while i < count { x[i] *= inv; i += 1 }
    }
}
