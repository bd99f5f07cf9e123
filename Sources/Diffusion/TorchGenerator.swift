import Foundation

/// The CPU `torch.Generator` and `torch.randn` / `torch.rand` for float32, value for value:
/// after `g = torch.Generator().manual_seed(seed)`, successive `torch.randn(n, generator=g)`
/// calls give the same floats as successive `fillStandardNormal` calls with `n`-element
/// buffers, state carried between calls included (MT19937 position and the cached second
/// Box–Muller value of the double path).
///
/// Matches PyTorch 2.13 (goldens: tools/make_random_goldens.py):
/// - aten/src/ATen/core/MT19937RNGEngine.h and aten/src/ATen/CPUGeneratorImpl.cpp (the engine,
///   `random()`, `random64()`, `next_double_normal_sample`);
/// - aten/src/ATen/core/TransformationHelper.h `uniform_real` and DistributionsHelper.h
///   `uniform_real_distribution`, `normal_distribution<double>`;
/// - aten/src/ATen/native/cpu/DistributionTemplates.h `normal_kernel`, `normal_fill` and the
///   AVX2 `NormalFill16<float>` (which x86-64 builds run on AVX2 and AVX-512 CPUs), with its
///   `log256_ps` / `sincos256_ps` from aten/src/ATen/native/cpu/avx_mathfun.h ported in
///   `CephesFloat`. torch's DEFAULT (non-AVX2) kernel uses libm instead and differs in the
///   last bits of ~40% of values; this port follows the AVX2 one.
public struct TorchGenerator: RandomSource {
    private var engine: MT19937
    /// `CPUGeneratorImpl::next_double_normal_sample_`: the sine half of the last double-path
    /// Box–Muller pair, consumed by the next double-path draw (calls with fewer than 16 values).
    private var nextDoubleNormal: Double?

    /// `torch.Generator().manual_seed(seed)`. Like torch, only the low 32 bits seed MT19937.
    public init(seed: UInt64) {
        engine = MT19937(seed: seed)
        nextDoubleNormal = nil
    }

    /// `torch.randn(out.count, generator=g)` for float32 on CPU
    /// (matches DistributionTemplates.h `normal_kernel` with mean 0 and std 1).
    public mutating func fillStandardNormal(_ out: UnsafeMutableBufferPointer<Float>) {
        guard let base = out.baseAddress else { return }
        let n = out.count
        guard n >= 16 else {
            // Serial kernel: `static_cast<float>(at::normal_distribution<double>(0, 1)(gen))`.
            for i in 0..<n { base[i] = Float(nextDoubleStandardNormal()) }
            return
        }
        // normal_fill: n uniforms first, Box–Muller in place on blocks of 16 ...
        fillUniform(out)
        var i = 0
        while i + 16 <= n {
            Self.normalFill16(base + i)
            i += 16
        }
        // ... and if n % 16 != 0, 16 fresh uniforms overwrite the last 16 slots, redone.
        if n % 16 != 0 {
            let tail = UnsafeMutableBufferPointer(start: base + (n - 16), count: 16)
            fillUniform(tail)
            Self.normalFill16(base + (n - 16))
        }
    }

    /// `torch.rand(out.count, generator=g)` for float32: `(random() & (2²⁴−1)) · 2⁻²⁴`, in [0, 1)
    /// (TransformationHelper.h `uniform_real` with 24 mantissa digits).
    public mutating func fillUniform(_ out: UnsafeMutableBufferPointer<Float>) {
        for i in out.indices {
            out[i] = Float(engine.next() & 0xFF_FFFF) * 0x1p-24
        }
    }

    /// One `at::normal_distribution<double>(0, 1)` draw (DistributionsHelper.h): Box–Muller on
    /// two 53-bit uniforms, returning the cosine half and caching the sine half in the generator.
    mutating func nextDoubleStandardNormal() -> Double {
        if let cached = nextDoubleNormal {
            nextDoubleNormal = nil
            return cached * 1 + 0  // transformation::normal(ret, mean 0, std 1)
        }
        let u1 = nextUniformDouble()
        let u2 = nextUniformDouble()
        let r = (-2.0 * log1p(-u2)).squareRoot()
        let theta = 2.0 * Double.pi * u1
        nextDoubleNormal = r * sin(theta)
        return r * cos(theta) * 1 + 0
    }

    /// `uniform_real_distribution<double>(0, 1)`: `(random64() & (2⁵³−1)) · 2⁻⁵³`, where
    /// `random64()` joins two 32-bit draws, the first as the high word.
    private mutating func nextUniformDouble() -> Double {
        let hi = UInt64(engine.next()), lo = UInt64(engine.next())
        return Double((hi << 32 | lo) & (1 << 53 - 1)) * 0x1p-53
    }

    /// DistributionTemplates.h `NormalFill16<float>` (AVX2), one lane at a time: 8 pairs
    /// (data[j], data[j+8]) of [0, 1) uniforms become 8 cosine and 8 sine normals.
    @inline(__always)
    static func normalFill16(_ data: UnsafeMutablePointer<Float>) {
        let twoPi = Float(bitPattern: 0x40C9_0FDB)  // _mm256_set1_ps(2.0f * c10::pi<double>)
        for j in 0..<8 {
            let u1 = 1 - data[j]  // [0, 1) -> (0, 1] for log
            let u2 = data[j + 8]
            let radius = (-2 * CephesFloat.log(u1, fused: true)).squareRoot()
            let (sine, cosine) = CephesFloat.sincos(twoPi * u2, fused: true)
            // _mm256_fmadd_ps(n, std = 1, mean = 0): exact, except that it turns −0 into +0.
            data[j] = radius * cosine + 0
            data[j + 8] = radius * sine + 0
        }
    }
}

/// MT19937 as torch implements it (aten/src/ATen/core/MT19937RNGEngine.h): 32-bit state words,
/// `init_with_uint32` seeding from the low 32 bits of the seed, tempering on output.
struct MT19937: Sendable {
    private static let n = 624, m = 397
    private var state: [UInt32]
    private var position: Int  // `next_`
    private var left: Int      // `left_`

    init(seed: UInt64) {
        var s = [UInt32](repeating: 0, count: Self.n)
        s[0] = UInt32(truncatingIfNeeded: seed)
        for j in 1..<Self.n {
            s[j] = 1_812_433_253 &* (s[j - 1] ^ (s[j - 1] >> 30)) &+ UInt32(j)
        }
        state = s
        position = 0
        left = 1
    }

    /// `mt19937_engine::operator()`: one tempered 32-bit word.
    @inline(__always)
    mutating func next() -> UInt32 {
        left -= 1
        if left == 0 { regenerate() }
        var y = state[position]
        position += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    /// `next_state()`: the twist of all 624 words.
    private mutating func regenerate() {
        let n = Self.n, m = Self.m
        @inline(__always) func twist(_ u: UInt32, _ v: UInt32) -> UInt32 {
            ((u & 0x8000_0000) | (v & 0x7FFF_FFFF)) >> 1 ^ (v & 1 == 0 ? 0 : 0x9908_B0DF)
        }
        state.withUnsafeMutableBufferPointer { s in
            for i in 0..<(n - m) { s[i] = s[i + m] ^ twist(s[i], s[i + 1]) }
            for i in (n - m)..<(n - 1) { s[i] = s[i + m - n] ^ twist(s[i], s[i + 1]) }
            s[n - 1] = s[m - 1] ^ twist(s[n - 1], s[0])
        }
        left = n
        position = 0
    }
}

/// Single-precision log and sincos from aten/src/ATen/native/cpu/avx_mathfun.h (Julien
/// Pommier's sse_mathfun after Cephes `logf` / `sinf` / `cosf`), one lane at a time, the same
/// operations in the same order. Valid for the arguments used here: log on (0, 1], sincos on
/// [0, 2π].
///
/// `fused: true` is torch's arithmetic: its build lets GCC contract a multiply feeding an add
/// into one fused multiply-add (`-ffp-contract=fast`), and GCC fuses the first multiply, in
/// statement order, whose only use is the add; `madd` marks those places. With that, every value
/// of the goldens (and 2·10⁷ more checked once) matches torch bit for bit; unfused, ~1% differ by
/// 1–2 ULP. `fused: false` is plain multiplies and adds, which inline and run faster where the
/// build has no FMA instructions (then `addingProduct` is a call to `fmaf`). Both are exactly
/// rounded IEEE operations, so either gives the same bits on every platform.
enum CephesFloat {
    /// a·b + c, in one rounding when `fused`.
    @inline(__always)
    private static func madd(_ a: Float, _ b: Float, _ c: Float, _ fused: Bool) -> Float {
        fused ? c.addingProduct(a, b) : a * b + c
    }

    /// `log256_ps` for a positive normal `x`.
    @inline(__always)
    static func log(_ xIn: Float, fused: Bool) -> Float {
        let one: Float = 1
        // Exponent and mantissa in [0.5, 1).
        let bits = max(xIn, Float(bitPattern: 0x0080_0000)).bitPattern
        var e = Float(Int32(bitPattern: bits >> 23) - 0x7F) + one
        var x = Float(bitPattern: (bits & ~0x7F80_0000) | Float(0.5).bitPattern)
        // if x < SQRTHF { e -= 1; x = x + x - 1 } else { x = x - 1 }, as the vector code does it.
        let small = x < Float(bitPattern: 0x3F35_04F3)
        let tmp: Float = small ? x : 0
        x = x - one
        e = e - (small ? one : 0)
        x = x + tmp
        let z = x * x
        var y = Float(bitPattern: 0x3D90_21BB)                             //  7.0376836292e-2
        y = madd(y, x, Float(bitPattern: 0xBDEB_D1B8), fused)             // -1.1514610310e-1
        y = madd(y, x, Float(bitPattern: 0x3DEF_251A), fused)             //  1.1676998740e-1
        y = madd(y, x, Float(bitPattern: 0xBDFE_5D4F), fused)             // -1.2420140846e-1
        y = madd(y, x, Float(bitPattern: 0x3E11_E9BF), fused)             //  1.4249322787e-1
        y = madd(y, x, Float(bitPattern: 0xBE2A_AE50), fused)             // -1.6668057665e-1
        y = madd(y, x, Float(bitPattern: 0x3E4C_CEAC), fused)             //  2.0000714765e-1
        y = madd(y, x, Float(bitPattern: 0xBE7F_FFFC), fused)             // -2.4999993993e-1
        y = madd(y, x, Float(bitPattern: 0x3EAA_AAAA), fused)             //  3.3333331174e-1
        y = y * x
        y = madd(y, z, e * Float(bitPattern: 0xB95E_8083), fused)         // + e·q1, q1 = -2.12194440e-4
        y = madd(-z, 0.5, y, fused)                                       // − z·0.5
        x = x + y
        return madd(e, Float(bitPattern: 0x3F31_8000), x, fused)          // + e·q2, q2 = 0.693359375
    }

    /// `sincos256_ps` for `x ≥ 0` (the sign handling of negative arguments is left out).
    @inline(__always)
    static func sincos(_ xIn: Float, fused: Bool) -> (sin: Float, cos: Float) {
        var x = xIn
        // j = (int(x · 4/π) + 1) & ~1; y = float(j).
        var j = Int32(x * Float(bitPattern: 0x3FA2_F983))  // cephes_FOPI = 4/π
        j = (j &+ 1) & ~1
        let y = Float(j)
        let sinSign = UInt32(bitPattern: j & 4) << 29
        let cosSign = UInt32(bitPattern: ~(j &- 2) & 4) << 29
        let usePolySin = j & 2 == 0  // the sine polynomial gives sin (else cos gives sin)
        // Extended-precision reduction x = ((x − y·DP1) − y·DP2) − y·DP3.
        x = madd(y, Float(bitPattern: 0xBF49_0000), x, fused)             // -0.78515625
        x = madd(y, Float(bitPattern: 0xB97D_A000), x, fused)             // -2.4187564849853515625e-4
        x = madd(y, Float(bitPattern: 0xB322_2169), x, fused)             // -3.77489497744594108e-8
        let z = x * x
        // Cosine polynomial on [−π/4, π/4].
        var c = Float(bitPattern: 0x37CC_F5CE)                             //  2.443315711809948e-5
        c = madd(c, z, Float(bitPattern: 0xBAB6_061A), fused)             // -1.388731625493765e-3
        c = madd(c, z, Float(bitPattern: 0x3D2A_AAA5), fused)             //  4.166664568298827e-2
        c = c * z
        c = madd(c, z, -(z * 0.5), fused)                                 // c·z − z·0.5
        c = c + 1
        // Sine polynomial on [−π/4, π/4].
        var s = Float(bitPattern: 0xB94C_A1F9)                             // -1.9515295891e-4
        s = madd(s, z, Float(bitPattern: 0x3C08_839E), fused)             //  8.3321608736e-3
        s = madd(s, z, Float(bitPattern: 0xBE2A_AAA3), fused)             // -1.6666654611e-1
        s = s * z
        s = madd(s, x, x, fused)                                          // s·x + x
        // Select with the vector code's arithmetic (it decides the signs of zeros).
        let ysin2: Float = usePolySin ? s : 0
        let ysin1: Float = usePolySin ? 0 : c
        s = s - ysin2
        c = c - ysin1
        let sine = Float(bitPattern: (ysin1 + ysin2).bitPattern ^ sinSign)
        let cosine = Float(bitPattern: (c + s).bitPattern ^ cosSign)
        return (sine, cosine)
    }
}
