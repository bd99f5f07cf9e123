#include "ckernels.h"

// The F(4×4, 3×3) Winograd transforms of Sources/Tensor/Kernels/Kernels+Winograd4x4.swift for
// AVX2 + FMA (the Swift versions there are the fallback and the specification; same arithmetic
// order, so both give the same values up to the fused multiply-adds the compiler may form).
//   Bᵀ rows: (4 0 −5 0 1 0) (0 −4 −4 1 1 0) (0 4 −4 −1 1 0) (0 −2 −1 2 1 0) (0 2 −1 −2 1 0) (0 4 0 −5 0 1)
//   Aᵀ rows: (1 1 1 1 1 0) (0 1 −1 2 −2 0) (0 1 1 4 4 0) (0 1 −1 8 −8 1)

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))

// Bᵀx for six vectors x0…x5, into y[0…5].
static inline AVX2 void input_combination(__m256 x0, __m256 x1, __m256 x2, __m256 x3, __m256 x4, __m256 x5,
                                          __m256 y[6]) {
    const __m256 two = _mm256_set1_ps(2), four = _mm256_set1_ps(4), five = _mm256_set1_ps(5);
    y[0] = _mm256_add_ps(_mm256_sub_ps(_mm256_mul_ps(four, x0), _mm256_mul_ps(five, x2)), x4);
    y[1] = _mm256_sub_ps(_mm256_add_ps(x3, x4), _mm256_mul_ps(four, _mm256_add_ps(x1, x2)));
    y[2] = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(four, _mm256_sub_ps(x1, x2)), x4), x3);
    y[3] = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(two, _mm256_sub_ps(x3, x1)), x4), x2);
    y[4] = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(two, _mm256_sub_ps(x1, x3)), x4), x2);
    y[5] = _mm256_add_ps(_mm256_sub_ps(_mm256_mul_ps(four, x1), _mm256_mul_ps(five, x3)), x5);
}

// Columns 0…3 of 8 consecutive 4-float groups at p (tiles t … t+7 of a row): x[j][i] = p[4i + j].
static inline AVX2 void deinterleave4(const float *p, __m256 x[4]) {
    __m256 r0 = _mm256_loadu_ps(p), r1 = _mm256_loadu_ps(p + 8), r2 = _mm256_loadu_ps(p + 16),
           r3 = _mm256_loadu_ps(p + 24);
    __m256 u0 = _mm256_permute2f128_ps(r0, r2, 0x20), u1 = _mm256_permute2f128_ps(r0, r2, 0x31);
    __m256 u2 = _mm256_permute2f128_ps(r1, r3, 0x20), u3 = _mm256_permute2f128_ps(r1, r3, 0x31);
    __m256 t0 = _mm256_unpacklo_ps(u0, u1), t1 = _mm256_unpackhi_ps(u0, u1);
    __m256 t2 = _mm256_unpacklo_ps(u2, u3), t3 = _mm256_unpackhi_ps(u2, u3);
    x[0] = _mm256_shuffle_ps(t0, t2, 0x44);
    x[1] = _mm256_shuffle_ps(t0, t2, 0xEE);
    x[2] = _mm256_shuffle_ps(t1, t3, 0x44);
    x[3] = _mm256_shuffle_ps(t1, t3, 0xEE);
}

// The inverse: out[4i + j] = y[j][i] for i < 8, j < 4.
static inline AVX2 void interleave4(__m256 y0, __m256 y1, __m256 y2, __m256 y3, float *out) {
    __m256 t0 = _mm256_unpacklo_ps(y0, y1), t1 = _mm256_unpackhi_ps(y0, y1);
    __m256 t2 = _mm256_unpacklo_ps(y2, y3), t3 = _mm256_unpackhi_ps(y2, y3);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    _mm256_storeu_ps(out, _mm256_permute2f128_ps(u0, u1, 0x20));
    _mm256_storeu_ps(out + 8, _mm256_permute2f128_ps(u2, u3, 0x20));
    _mm256_storeu_ps(out + 16, _mm256_permute2f128_ps(u0, u1, 0x31));
    _mm256_storeu_ps(out + 24, _mm256_permute2f128_ps(u2, u3, 0x31));
}

// Bᵀx for six scalars (the same arithmetic as input_combination).
static inline void input_combination1(float x0, float x1, float x2, float x3, float x4, float x5, float *y,
                                      long stride) {
    y[0] = 4 * x0 - 5 * x2 + x4;
    y[stride] = x3 + x4 - 4 * (x1 + x2);
    y[2 * stride] = 4 * (x1 - x2) + x4 - x3;
    y[3 * stride] = 2 * (x3 - x1) + x4 - x2;
    y[4 * stride] = 2 * (x1 - x3) + x4 - x2;
    y[5 * stride] = 4 * x1 - 5 * x3 + x5;
}

AVX2 void skipstep_winograd4x4_input_row_avx2(const float *d0, const float *d1, const float *d2, const float *d3,
                                              const float *d4, const float *d5, long width, long pad_left,
                                              float *rows, long row_length, float *v, long xi_stride, long vector_end,
                                              long tiles_x) {
    // Bᵀ d down the six image rows, into the padded rows (columns pad_left …).
    long x = 0;
    for (; x + 8 <= width; x += 8) {
        __m256 y[6];
        input_combination(_mm256_loadu_ps(d0 + x), _mm256_loadu_ps(d1 + x), _mm256_loadu_ps(d2 + x),
                          _mm256_loadu_ps(d3 + x), _mm256_loadu_ps(d4 + x), _mm256_loadu_ps(d5 + x), y);
        for (int a = 0; a < 6; a++) _mm256_storeu_ps(rows + a * row_length + pad_left + x, y[a]);
    }
    if (x < width) {
        // The last 1…7 columns with masked loads and stores.
        const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(width - x)), lanes);
        __m256 y[6];
        input_combination(_mm256_maskload_ps(d0 + x, mask), _mm256_maskload_ps(d1 + x, mask),
                          _mm256_maskload_ps(d2 + x, mask), _mm256_maskload_ps(d3 + x, mask),
                          _mm256_maskload_ps(d4 + x, mask), _mm256_maskload_ps(d5 + x, mask), y);
        for (int a = 0; a < 6; a++) _mm256_maskstore_ps(rows + a * row_length + pad_left + x, mask, y[a]);
    }
    // · B along each padded row, 8 tiles at a time: tile t's columns are row[4t … 4t + 5].
    for (int a = 0; a < 6; a++) {
        const float *row = rows + a * row_length;
        float *o = v + (6 * a) * xi_stride;
        long t = 0;
        for (; t < vector_end; t += 8) {
            __m256 lo[4], hi[4], y[6];
            deinterleave4(row + 4 * t, lo);
            deinterleave4(row + 4 * t + 4, hi);
            input_combination(lo[0], lo[1], lo[2], lo[3], hi[0], hi[1], y);
            for (int c = 0; c < 6; c++) _mm256_storeu_ps(o + c * xi_stride + t, y[c]);
        }
        for (; t < tiles_x; t++) {
            const float *p = row + 4 * t;
            input_combination1(p[0], p[1], p[2], p[3], p[4], p[5], o + t, xi_stride);
        }
    }
}

AVX2 void skipstep_winograd4x4_output_row_avx2(const float *m, long xi_stride, long vector_tiles, float bias,
                                               float *out, long out_stride, long rows) {
    const __m256 two = _mm256_set1_ps(2), four = _mm256_set1_ps(4), eight = _mm256_set1_ps(8);
    const __m256 b = _mm256_set1_ps(bias);
    for (long x = 0; x < vector_tiles; x += 8) {
        // Aᵀ down each column c: s[i][c] = row i of Aᵀ M.
        __m256 s[4][6];
        for (int c = 0; c < 6; c++) {
#define MV(a) _mm256_loadu_ps(m + (6 * (a) + c) * xi_stride + x)
            __m256 m1 = MV(1), m2 = MV(2), m3 = MV(3), m4 = MV(4);
            __m256 a12 = _mm256_add_ps(m1, m2), d12 = _mm256_sub_ps(m1, m2);
            __m256 a34 = _mm256_add_ps(m3, m4), d34 = _mm256_sub_ps(m3, m4);
            s[0][c] = _mm256_add_ps(_mm256_add_ps(MV(0), a12), a34);
            s[1][c] = _mm256_add_ps(d12, _mm256_mul_ps(two, d34));
            s[2][c] = _mm256_add_ps(a12, _mm256_mul_ps(four, a34));
            s[3][c] = _mm256_add_ps(_mm256_add_ps(d12, _mm256_mul_ps(eight, d34)), MV(5));
#undef MV
        }
        // · A along each row: the row's four output columns per tile, interleaved.
        for (long i = 0; i < rows; i++) {
            __m256 *q = s[i];
            __m256 a12 = _mm256_add_ps(q[1], q[2]), d12 = _mm256_sub_ps(q[1], q[2]);
            __m256 a34 = _mm256_add_ps(q[3], q[4]), d34 = _mm256_sub_ps(q[3], q[4]);
            __m256 y0 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(q[0], a12), a34), b);
            __m256 y1 = _mm256_add_ps(_mm256_add_ps(d12, _mm256_mul_ps(two, d34)), b);
            __m256 y2 = _mm256_add_ps(_mm256_add_ps(a12, _mm256_mul_ps(four, a34)), b);
            __m256 y3 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(d12, _mm256_mul_ps(eight, d34)), q[5]), b);
            interleave4(y0, y1, y2, y3, out + i * out_stride + 4 * x);
        }
    }
}

#else

void skipstep_winograd4x4_input_row_avx2(const float *d0, const float *d1, const float *d2, const float *d3,
                                         const float *d4, const float *d5, long width, long pad_left, float *rows,
                                         long row_length, float *v, long xi_stride, long vector_end, long tiles_x) {}
void skipstep_winograd4x4_output_row_avx2(const float *m, long xi_stride, long vector_tiles, float bias, float *out,
                                          long out_stride, long rows) {}

#endif
