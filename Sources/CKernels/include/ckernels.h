#ifndef SKIPSTEP_CKERNELS_H
#define SKIPSTEP_CKERNELS_H

// Element-wise kernels compiled for AVX2 + FMA with a per-function target attribute, so the
// package builds for any x86-64 and the Tensor module calls these only when the CPU reports
// both features at run time (skipstep_cpu_has_avx2_fma). The arithmetic mirrors the Swift
// kernels in Sources/Tensor/Kernels (same Cephes exp polynomial), with fused multiply-adds.

#include <stddef.h>

/// 1 when the CPU (and OS) support AVX2 and FMA, else 0 (always 0 off x86-64).
int skipstep_cpu_has_avx2_fma(void);

/// GroupNorm of one (batch item, group) slice of CNHW data, then SiLU when `silu`; see
/// Kernels.groupNormSlice. `output` may equal `input`.
void skipstep_group_norm_slice_avx2(const float *input, float *output, long firstChannel, long channelCount,
                                    long batchItem, long batch, long spatial, float eps, const float *gamma,
                                    const float *beta, int silu);

/// dst[i] = src[i]·sigmoid(src[i]); dst may equal src.
void skipstep_silu_avx2(const float *src, float *dst, long count);

/// Softmax of one row in place.
void skipstep_softmax_row_avx2(float *x, long count);

#endif
