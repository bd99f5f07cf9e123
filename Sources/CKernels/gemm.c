#include "ckernels.h"

// C = A·B (+ C) with A pre-packed once (the weights), B and C row-major, for x86-64 CPUs with
// AVX2 + FMA (the caller checks skipstep_cpu_has_avx2_fma).
//
// The layout and loop order are BLIS's (Van Zee & van de Geijn, "BLIS: A Framework for Rapidly
// Instantiating BLAS Functionality", ACM TOMS 2015) with the operands' roles swapped: A (M × K)
// is packed into panels of 6 rows, each stored k-major (`packed[p·6·K + k·6 + r] = A[6p + r][k]`,
// rows past M zero); B is copied 16 columns at a time, in chunks of `KC` rows that stay in L1
// while every panel of A streams past them; the 6 × 16 micro-kernel keeps its block of C in
// twelve ymm registers. It is written in inline assembly so that its speed does not depend on the
// compiler's optimisation level (SwiftPM builds C at -O0 in debug): the surrounding C only copies
// blocks of B in and 6 × 16 blocks of C out.

#define MR 6
#define NR 16
#define KC 256

long skipstep_gemm_packed_a_floats(long m, long k) { return (m + MR - 1) / MR * MR * k; }

void skipstep_gemm_pack_a(const float *a, long lda, long m, long k, float *packed) {
    for (long p = 0; p < (m + MR - 1) / MR; p++) {
        float *panel = packed + p * MR * k;
        for (long r = 0; r < MR; r++) {
            long row = p * MR + r;
            for (long j = 0; j < k; j++) panel[j * MR + r] = row < m ? a[row * lda + j] : 0.0f;
        }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

// acc[6][16] = Σ_{k < kc} a[k][0..6) ⊗ b[k][0..16), with a packed (6 floats per k) and b's rows
// `ldb` floats apart. kc ≥ 1.
static void micro_6x16(long kc, const float *a, const float *b, long ldb, float *acc) {
    long ldb_bytes = ldb * (long)sizeof(float);
    __asm__ volatile(
        "vxorps %%ymm4, %%ymm4, %%ymm4\n\t"
        "vxorps %%ymm5, %%ymm5, %%ymm5\n\t"
        "vxorps %%ymm6, %%ymm6, %%ymm6\n\t"
        "vxorps %%ymm7, %%ymm7, %%ymm7\n\t"
        "vxorps %%ymm8, %%ymm8, %%ymm8\n\t"
        "vxorps %%ymm9, %%ymm9, %%ymm9\n\t"
        "vxorps %%ymm10, %%ymm10, %%ymm10\n\t"
        "vxorps %%ymm11, %%ymm11, %%ymm11\n\t"
        "vxorps %%ymm12, %%ymm12, %%ymm12\n\t"
        "vxorps %%ymm13, %%ymm13, %%ymm13\n\t"
        "vxorps %%ymm14, %%ymm14, %%ymm14\n\t"
        "vxorps %%ymm15, %%ymm15, %%ymm15\n\t"
        "1:\n\t"
        "vmovups (%[b]), %%ymm0\n\t"
        "vmovups 32(%[b]), %%ymm1\n\t"
        "add %[ldb], %[b]\n\t"
        "vbroadcastss (%[a]), %%ymm2\n\t"
        "vbroadcastss 4(%[a]), %%ymm3\n\t"
        "vfmadd231ps %%ymm0, %%ymm2, %%ymm4\n\t"
        "vfmadd231ps %%ymm1, %%ymm2, %%ymm5\n\t"
        "vfmadd231ps %%ymm0, %%ymm3, %%ymm6\n\t"
        "vfmadd231ps %%ymm1, %%ymm3, %%ymm7\n\t"
        "vbroadcastss 8(%[a]), %%ymm2\n\t"
        "vbroadcastss 12(%[a]), %%ymm3\n\t"
        "vfmadd231ps %%ymm0, %%ymm2, %%ymm8\n\t"
        "vfmadd231ps %%ymm1, %%ymm2, %%ymm9\n\t"
        "vfmadd231ps %%ymm0, %%ymm3, %%ymm10\n\t"
        "vfmadd231ps %%ymm1, %%ymm3, %%ymm11\n\t"
        "vbroadcastss 16(%[a]), %%ymm2\n\t"
        "vbroadcastss 20(%[a]), %%ymm3\n\t"
        "vfmadd231ps %%ymm0, %%ymm2, %%ymm12\n\t"
        "vfmadd231ps %%ymm1, %%ymm2, %%ymm13\n\t"
        "vfmadd231ps %%ymm0, %%ymm3, %%ymm14\n\t"
        "vfmadd231ps %%ymm1, %%ymm3, %%ymm15\n\t"
        "add $24, %[a]\n\t"
        "dec %[k]\n\t"
        "jnz 1b\n\t"
        "vmovups %%ymm4, (%[acc])\n\t"
        "vmovups %%ymm5, 32(%[acc])\n\t"
        "vmovups %%ymm6, 64(%[acc])\n\t"
        "vmovups %%ymm7, 96(%[acc])\n\t"
        "vmovups %%ymm8, 128(%[acc])\n\t"
        "vmovups %%ymm9, 160(%[acc])\n\t"
        "vmovups %%ymm10, 192(%[acc])\n\t"
        "vmovups %%ymm11, 224(%[acc])\n\t"
        "vmovups %%ymm12, 256(%[acc])\n\t"
        "vmovups %%ymm13, 288(%[acc])\n\t"
        "vmovups %%ymm14, 320(%[acc])\n\t"
        "vmovups %%ymm15, 352(%[acc])\n\t"
        "vzeroupper\n\t"
        : [a] "+r"(a), [b] "+r"(b), [k] "+r"(kc)
        : [ldb] "r"(ldb_bytes), [acc] "r"(acc)
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
          "xmm12", "xmm13", "xmm14", "xmm15", "memory", "cc");
}

#define AVX2 __attribute__((target("avx2,fma")))

// out[0 ..< cols] (=|+=) src[0 ..< cols], cols ≤ 16.
static inline AVX2 void store_row(float *out, const float *src, long cols, int add) {
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    if (cols == NR) {
        __m256 lo = _mm256_loadu_ps(src), hi = _mm256_loadu_ps(src + 8);
        if (add) {
            lo = _mm256_add_ps(lo, _mm256_loadu_ps(out));
            hi = _mm256_add_ps(hi, _mm256_loadu_ps(out + 8));
        }
        _mm256_storeu_ps(out, lo);
        _mm256_storeu_ps(out + 8, hi);
        return;
    }
    for (long h = 0; h < 2; h++) {
        long n = cols - 8 * h;
        if (n <= 0) break;
        __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n < 8 ? n : 8)), lanes);
        __m256 v = _mm256_loadu_ps(src + 8 * h);
        if (add) v = _mm256_add_ps(v, _mm256_maskload_ps(out + 8 * h, mask));
        _mm256_maskstore_ps(out + 8 * h, mask, v);
    }
}

AVX2 void skipstep_gemm_packed_avx2(long m, long k, const float *packed_a, const float *b, long ldb, long n0, long n1,
                               float *c, long ldc, int accumulate) {
    float acc[MR * NR] __attribute__((aligned(64)));
    // The kc × 16 block of B, copied contiguous and aligned (the last, narrower block zero-padded):
    // the micro-kernel then reads whole cache lines in sequence, whatever B's row length.
    float block[KC * NR] __attribute__((aligned(64)));
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (long j0 = n0; j0 < n1; j0 += NR) {
        long cols = n1 - j0 < NR ? n1 - j0 : NR;
        __m256i mask_lo = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(cols < 8 ? cols : 8)), lanes);
        __m256i mask_hi = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(cols - 8)), lanes);
        for (long k0 = 0; k0 < k; k0 += KC) {
            long kc = k - k0 < KC ? k - k0 : KC;
            const float *source = b + k0 * ldb + j0;
            if (cols == NR) {
                for (long kk = 0; kk < kc; kk++) {
                    _mm256_store_ps(block + kk * NR, _mm256_loadu_ps(source + kk * ldb));
                    _mm256_store_ps(block + kk * NR + 8, _mm256_loadu_ps(source + kk * ldb + 8));
                }
            } else {
                for (long kk = 0; kk < kc; kk++) {
                    _mm256_store_ps(block + kk * NR, _mm256_maskload_ps(source + kk * ldb, mask_lo));
                    _mm256_store_ps(block + kk * NR + 8, _mm256_maskload_ps(source + kk * ldb + 8, mask_hi));
                }
            }
            int add = accumulate || k0 > 0;
            for (long i0 = 0; i0 < m; i0 += MR) {
                micro_6x16(kc, packed_a + i0 * k + k0 * MR, block, NR, acc);
                long rows = m - i0 < MR ? m - i0 : MR;
                for (long r = 0; r < rows; r++) store_row(c + (i0 + r) * ldc + j0, acc + r * NR, cols, add);
            }
        }
    }
}

#else

void skipstep_gemm_packed_avx2(long m, long k, const float *packed_a, const float *b, long ldb, long n0, long n1,
                               float *c, long ldc, int accumulate) {}

#endif
