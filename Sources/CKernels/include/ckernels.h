#ifndef SKIPSTEP_CKERNELS_H
#define SKIPSTEP_CKERNELS_H

// Element-wise kernels compiled for AVX2 + FMA with a per-function target attribute, so the
// package builds for any x86-64 and the Tensor module calls these only when the CPU reports
// both features at run time (skipstep_cpu_has_avx2_fma). The arithmetic mirrors the Swift
// kernels in Sources/Tensor/Kernels (same Cephes exp polynomial), with fused multiply-adds.

#include <stddef.h>

/// 1 when the CPU (and OS) support AVX2 and FMA, else 0 (always 0 off x86-64).
int skipstep_cpu_has_avx2_fma(void);

/// A spin-wait hint (x86 `pause`): one iteration of a busy-wait loop.
void skipstep_cpu_relax(void);

/// GroupNorm of one (batch item, group) slice of CNHW data, then SiLU when `silu`; see
/// Kernels.groupNormSlice. `output` may equal `input`.
void skipstep_group_norm_slice_avx2(const float *input, float *output, long firstChannel, long channelCount,
                                    long batchItem, long batch, long spatial, float eps, const float *gamma,
                                    const float *beta, int silu);

/// dst[i] = src[i]·sigmoid(src[i]); dst may equal src.
void skipstep_silu_avx2(const float *src, float *dst, long count);

/// Softmax of one row in place.
void skipstep_softmax_row_avx2(float *x, long count);

/// Floats `skipstep_gemm_pack_a` writes for an m × k matrix (m rounded up to panels of 6 rows).
long skipstep_gemm_packed_a_floats(long m, long k);

/// Packs row-major A (m × k, rows `lda` apart) for `skipstep_gemm_packed_avx2` (any CPU).
void skipstep_gemm_pack_a(const float *a, long lda, long m, long k, float *packed);

/// Columns n0 ..< n1 of C (m × ·, rows `ldc` apart) = packed A · B (k × ·, rows `ldb` apart),
/// plus C's previous values when `accumulate`. AVX2 + FMA only (gemm.c).
void skipstep_gemm_packed_avx2(long m, long k, const float *packed_a, const float *b, long ldb, long n0, long n1,
                               float *c, long ldc, int accumulate);

/// F(4×4, 3×3) Winograd input transform of one tile row of one channel (Kernels+Winograd4x4.swift):
/// `Bᵀ d` of image rows d0…d5 (`width` floats; a zero row where the tile overhangs the image)
/// into `rows` (six rows `row_length` apart, zero-padded, image column x at pad_left + x), then
/// `· B` per tile into V[6a + c][t] = v[(6a + c)·xi_stride + t] for t < tiles_x, whole 8-tile
/// vectors below vector_end. AVX2 + FMA only (winograd.c).
void skipstep_winograd4x4_input_row_avx2(const float *d0, const float *d1, const float *d2, const float *d3,
                                         const float *d4, const float *d5, long width, long pad_left, float *rows,
                                         long row_length, float *v, long xi_stride, long vector_end, long tiles_x);

/// F(4×4, 3×3) output transform of one tile row of one output channel: `Aᵀ M A + bias` for the
/// tiles 0 ..< vector_tiles (a multiple of 8) of M[ξ][t] = m[ξ·xi_stride + t], output row i < rows
/// (≤ 4) written as 4·vector_tiles floats at out + i·out_stride. AVX2 + FMA only (winograd.c).
void skipstep_winograd4x4_output_row_avx2(const float *m, long xi_stride, long vector_tiles, float bias, float *out,
                                          long out_stride, long rows);

#endif
