#include "ckernels.h"

#include <math.h>

#if defined(__x86_64__)
#include <immintrin.h>

int skipstep_cpu_has_avx2_fma(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

void skipstep_cpu_relax(void) { _mm_pause(); }

#define AVX2 __attribute__((target("avx2,fma")))

// Cephes expf on 8 lanes, as Kernels.exp: clamp to [-87.3, 88], n = round(x/ln2), two-part
// range reduction, degree-6 polynomial, 2^n from the exponent bits. NaN stays NaN.
static inline AVX2 __m256 exp8(__m256 x) {
    x = _mm256_max_ps(_mm256_set1_ps(-87.3f), x);
    x = _mm256_min_ps(_mm256_set1_ps(88.0f), x);
    const __m256 magic = _mm256_set1_ps(12582912.0f);
    __m256 t = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504f), magic);
    __m256 n = _mm256_sub_ps(t, magic);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    __m256 r2 = _mm256_mul_ps(r, r);
    __m256 y = _mm256_add_ps(_mm256_fmadd_ps(p, r2, r), _mm256_set1_ps(1.0f));
    __m256i bits = _mm256_add_epi32(_mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(0x4B400000)),
                                    _mm256_set1_epi32(127));
    return _mm256_mul_ps(y, _mm256_castsi256_ps(_mm256_slli_epi32(bits, 23)));
}

static inline AVX2 __m256 silu8(__m256 x) {
    __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), x));
    return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

static inline AVX2 float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

static inline AVX2 float hmax8(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

// A mask of the first n (0 < n < 8) lanes, for tails.
static inline AVX2 __m256i tail_mask(long n) {
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), lanes);
}

AVX2 void skipstep_silu_avx2(const float *src, float *dst, long count) {
    long i = 0;
    for (; i + 8 <= count; i += 8) _mm256_storeu_ps(dst + i, silu8(_mm256_loadu_ps(src + i)));
    if (i < count) {
        __m256i m = tail_mask(count - i);
        _mm256_maskstore_ps(dst + i, m, silu8(_mm256_maskload_ps(src + i, m)));
    }
}

AVX2 void skipstep_group_norm_slice_avx2(const float *input, float *output, long firstChannel, long channelCount,
                                         long b, long batch, long spatial, float eps, const float *gamma,
                                         const float *beta, int silu) {
    const long count = channelCount * spatial;
    const long vend = spatial - spatial % 8;
    const long tail = spatial - vend;
    const __m256i m = tail_mask(tail > 0 ? tail : 1);
    // Pass 1: mean.
    __m256 sv = _mm256_setzero_ps();
    for (long c = firstChannel; c < firstChannel + channelCount; c++) {
        const float *p = input + (c * batch + b) * spatial;
        for (long i = 0; i < vend; i += 8) sv = _mm256_add_ps(sv, _mm256_loadu_ps(p + i));
        if (tail) sv = _mm256_add_ps(sv, _mm256_maskload_ps(p + vend, m));
    }
    const float mean = hsum8(sv) / (float)count;
    // Pass 2: biased variance from deviations (masked-off lanes load 0 and must not count).
    const __m256 mv = _mm256_set1_ps(mean);
    __m256 qv = _mm256_setzero_ps();
    for (long c = firstChannel; c < firstChannel + channelCount; c++) {
        const float *p = input + (c * batch + b) * spatial;
        for (long i = 0; i < vend; i += 8) {
            __m256 d = _mm256_sub_ps(_mm256_loadu_ps(p + i), mv);
            qv = _mm256_fmadd_ps(d, d, qv);
        }
        if (tail) {
            __m256 d = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(p + vend, m), mv), _mm256_castsi256_ps(m));
            qv = _mm256_fmadd_ps(d, d, qv);
        }
    }
    const float variance = hsum8(qv) / (float)count;
    const float rstd = 1.0f / sqrtf(variance + eps);
    // Pass 3: y = x·a + shift, a = gamma·rstd, shift = beta − mean·a; then SiLU.
    for (long c = firstChannel; c < firstChannel + channelCount; c++) {
        const long offset = (c * batch + b) * spatial;
        const float *p = input + offset;
        float *o = output + offset;
        const float a = gamma[c] * rstd;
        const float shift = beta[c] - mean * a;
        const __m256 av = _mm256_set1_ps(a), cv = _mm256_set1_ps(shift);
        if (silu) {
            for (long i = 0; i < vend; i += 8) _mm256_storeu_ps(o + i, silu8(_mm256_fmadd_ps(_mm256_loadu_ps(p + i), av, cv)));
            if (tail) _mm256_maskstore_ps(o + vend, m, silu8(_mm256_fmadd_ps(_mm256_maskload_ps(p + vend, m), av, cv)));
        } else {
            for (long i = 0; i < vend; i += 8) _mm256_storeu_ps(o + i, _mm256_fmadd_ps(_mm256_loadu_ps(p + i), av, cv));
            if (tail) _mm256_maskstore_ps(o + vend, m, _mm256_fmadd_ps(_mm256_maskload_ps(p + vend, m), av, cv));
        }
    }
}

AVX2 void skipstep_softmax_row_avx2(float *x, long count) {
    const long vend = count - count % 8;
    const long tail = count - vend;
    const __m256i m = tail_mask(tail > 0 ? tail : 1);
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    __m256 mv = ninf;
    for (long i = 0; i < vend; i += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(x + i));
    if (tail) mv = _mm256_max_ps(mv, _mm256_blendv_ps(ninf, _mm256_maskload_ps(x + vend, m), _mm256_castsi256_ps(m)));
    const __m256 mb = _mm256_set1_ps(hmax8(mv));
    __m256 sv = _mm256_setzero_ps();
    for (long i = 0; i < vend; i += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), mb));
        _mm256_storeu_ps(x + i, e);
        sv = _mm256_add_ps(sv, e);
    }
    if (tail) {
        __m256 e = _mm256_and_ps(exp8(_mm256_sub_ps(_mm256_maskload_ps(x + vend, m), mb)), _mm256_castsi256_ps(m));
        _mm256_maskstore_ps(x + vend, m, e);
        sv = _mm256_add_ps(sv, e);
    }
    const __m256 inv = _mm256_set1_ps(1.0f / hsum8(sv));
    for (long i = 0; i < vend; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
    if (tail) _mm256_maskstore_ps(x + vend, m, _mm256_mul_ps(_mm256_maskload_ps(x + vend, m), inv));
}

#else

int skipstep_cpu_has_avx2_fma(void) { return 0; }

void skipstep_cpu_relax(void) {}
void skipstep_group_norm_slice_avx2(const float *input, float *output, long firstChannel, long channelCount,
                                    long batchItem, long batch, long spatial, float eps, const float *gamma,
                                    const float *beta, int silu) {}
void skipstep_silu_avx2(const float *src, float *dst, long count) {}
void skipstep_softmax_row_avx2(float *x, long count) {}

#endif
