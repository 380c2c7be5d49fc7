/* 16x8 GEMM microkernels (int16 activations, int8 weights) over the int8 GEMM's packed weights
 * (PE_LAYOUT_QS8_GEMM_N16K4, qs8_gemm.h): CONV_2D of one group (1x1 directly, k x k through an
 * int16 im2col panel) and FULLY_CONNECTED, driven by conv16_drivers.c.
 *
 * The layout is the int8 one, byte for byte: int32 init, wsum, mult, shift [ocp], then the
 * weights w[ocp / 16][kp / 4][16][4] (block b, k-group g: byte n * 4 + j = W[16 b + n][4 g + j]).
 * 16x8 ops are packed with no bias and input offset 128, so init is 0 (the kernels do not read
 * init or wsum); the op keeps its own bias (int64, or int32) as input 2, which the requantization
 * adds: TFLite's 16x8 bias can be int64, which the int32 init term cannot hold.
 *
 * GEMM contract: for rows r < mr (1 <= mr <= the kernel's MR) and the block's 16 channels n,
 *   acc[r * 16 + n] = sum_{k < kp} w[n][k] * a[r][k]     exactly (int64),
 * a: row r at a + r * a_stride (int16 elements), kp a multiple of 4; w: the block's kp * 16
 * bytes. The panel holds the input (zero point 0) with zeros in the convolution's padding and
 * past k (against zero weights), so the sums are TFLite's.
 *
 * Exactness: an int32 lane adds, per k-group of 4, at most two products (vpmaddwd / vpdpwssd
 * pairs; NEON: one), each of magnitude <= 32768 * 128 = 2^22, so at most 2^23 per k-group; the
 * lanes are added into int64 and cleared every PE_QS16_GEMM_FLUSH = 128 k-groups (512 inputs), so
 * |lane| <= 128 * 2^23 = 2^30 < 2^31 and no int32 sum wraps.
 *
 * Requantization contract (int64 path: an int64 bias or none, TFLite's int64 accumulator):
 *   out[n] = clamp(mbqm64(acc[n] + bias[n], mult[n], shift[n]), act_min, act_max), n < nc
 * (bias NULL: 0), bit for bit pe_conv_requant64.
 */
#ifndef PE_QS16_GEMM_H
#define PE_QS16_GEMM_H

#include <stddef.h>
#include <stdint.h>

#define PE_QS16_GEMM_FLUSH 128
#define PE_QS16_GEMM_MR_MAX 8

typedef void (*pe_qs16_gemm_fn)(size_t mr, size_t kp, const int16_t *a, size_t a_stride, const int8_t *w,
                                int64_t *acc);
typedef void (*pe_qs16_requant64_fn)(size_t nc, const int64_t *acc, const int64_t *bias, const int32_t *mult,
                                     const int32_t *shift, int32_t act_min, int32_t act_max, int16_t *out);

typedef struct {
  pe_qs16_gemm_fn fn;
  uint32_t mr;
  pe_qs16_requant64_fn requant64;
} pe_qs16_gemm_ukernel;

void pe_qs16_gemm_1x16c4__scalar(size_t mr, size_t kp, const int16_t *a, size_t a_stride, const int8_t *w,
                                 int64_t *acc);
void pe_qs16_gemm_2x16c4__avx2(size_t mr, size_t kp, const int16_t *a, size_t a_stride, const int8_t *w,
                               int64_t *acc);
void pe_qs16_gemm_8x16c4__avx512(size_t mr, size_t kp, const int16_t *a, size_t a_stride, const int8_t *w,
                                 int64_t *acc);
void pe_qs16_gemm_8x16c4__avx512vnni(size_t mr, size_t kp, const int16_t *a, size_t a_stride, const int8_t *w,
                                     int64_t *acc);
void pe_qs16_gemm_1x16c4__neon(size_t mr, size_t kp, const int16_t *a, size_t a_stride, const int8_t *w,
                               int64_t *acc);

void pe_qs16_requant64__scalar(size_t nc, const int64_t *acc, const int64_t *bias, const int32_t *mult,
                               const int32_t *shift, int32_t act_min, int32_t act_max, int16_t *out);
/* AVX-512 F + DQ (vpmullq, vpsravq): 8 lanes of int64 at a time */
void pe_qs16_requant64__avx512(size_t nc, const int64_t *acc, const int64_t *bias, const int32_t *mult,
                               const int32_t *shift, int32_t act_min, int32_t act_max, int16_t *out);

#endif
