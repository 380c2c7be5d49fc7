/* int8 GEMM microkernel, NEON (AArch64 and ARMv7): MR rows x 16 channels over the packed N16K4
 * layout (qs8_gemm.h). The panel's uint8 a = x + 128 is flipped back to the int8 x, so that
 * SMULL (int8 x int8 -> int16, exact: |product| <= 2^14) and SADALP (pairwise into int32) apply;
 * sum_k w * a = sum_k w * x + 128 * sum_k w, the second term summed from the same weights
 * (SADDLP + SADALP) once per tile. All int32 sums wrap, as TFLite's accumulator does.
 * Each weight vector holds 4 channels x 4 k; accumulator j of a row holds, for channel pair j,
 * the partial sums (ch 2j: k0+k1, k2+k3; ch 2j+1: k0+k1, k2+k3), folded by pairwise adds.
 * AArch64 (32 vector registers) takes 2 rows a tile; ARMv7 (16) one. */
#include <string.h>

#include "pe_requant_neon.h"
#include "qs8_gemm.h"

#if defined(__aarch64__)
#define MR 2
#else
#define MR 1
#endif

static inline int8x16_t bcast4(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return veorq_s8(vreinterpretq_s8_u32(vdupq_n_u32(v)), vdupq_n_s8((int8_t)0x80));
}

/* lanes (a0+a1, a2+a3, b0+b1, b2+b3) -> (a0+a1+a2+a3, b0+b1+b2+b3, c.., d..) */
static inline int32x4_t fold(int32x4_t ab, int32x4_t cd) {
#if defined(__aarch64__)
  return vpaddq_s32(ab, cd);
#else
  return vcombine_s32(vpadd_s32(vget_low_s32(ab), vget_high_s32(ab)), vpadd_s32(vget_low_s32(cd), vget_high_s32(cd)));
#endif
}

/* channels 0-1 (lo) and 2-3 (hi) of a weight vector against the 4 activations in every 32 bits */
static inline int32x4_t mac_lo(int32x4_t acc, int8x16_t w, int8x16_t x) {
  return vpadalq_s16(acc, vmull_s8(vget_low_s8(w), vget_low_s8(x)));
}
static inline int32x4_t mac_hi(int32x4_t acc, int8x16_t w, int8x16_t x) {
#if defined(__aarch64__)
  return vpadalq_s16(acc, vmull_high_s8(w, x));
#else
  return vpadalq_s16(acc, vmull_s8(vget_high_s8(w), vget_high_s8(x)));
#endif
}

#if defined(__aarch64__)
void pe_qs8_gemm_2x16c4__neon(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                              const int8_t *w, const int32_t *init, const int32_t *mult,
                              const int32_t *shift, int32_t output_offset, int32_t act_min,
                              int32_t act_max, int8_t *c, size_t c_stride)
#else
void pe_qs8_gemm_1x16c4__neon(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                              const int8_t *w, const int32_t *init, const int32_t *mult,
                              const int32_t *shift, int32_t output_offset, int32_t act_min,
                              int32_t act_max, int8_t *c, size_t c_stride)
#endif
{
  const int32x4_t voff = vdupq_n_s32(output_offset), vmin = vdupq_n_s32(act_min), vmax = vdupq_n_s32(act_max);
  const uint8_t *ar[MR];
  int32x4_t acc[MR][8], wsum[4];
  size_t k, r;
  int j;
  for (r = 0; r < MR; ++r) ar[r] = a + (r < mr ? r : mr - 1) * a_stride;
  for (j = 0; j < 4; ++j) wsum[j] = vdupq_n_s32(0);
  for (r = 0; r < MR; ++r)
    for (j = 0; j < 8; ++j) acc[r][j] = vdupq_n_s32(0);
  for (k = 0; k < kp; k += 4, w += 64) {
    const int8x16_t w0 = vld1q_s8(w), w1 = vld1q_s8(w + 16), w2 = vld1q_s8(w + 32), w3 = vld1q_s8(w + 48);
    wsum[0] = vpadalq_s16(wsum[0], vpaddlq_s8(w0));
    wsum[1] = vpadalq_s16(wsum[1], vpaddlq_s8(w1));
    wsum[2] = vpadalq_s16(wsum[2], vpaddlq_s8(w2));
    wsum[3] = vpadalq_s16(wsum[3], vpaddlq_s8(w3));
    for (r = 0; r < MR; ++r) {
      const int8x16_t x = bcast4(ar[r] + k);
      acc[r][0] = mac_lo(acc[r][0], w0, x);
      acc[r][1] = mac_hi(acc[r][1], w0, x);
      acc[r][2] = mac_lo(acc[r][2], w1, x);
      acc[r][3] = mac_hi(acc[r][3], w1, x);
      acc[r][4] = mac_lo(acc[r][4], w2, x);
      acc[r][5] = mac_hi(acc[r][5], w2, x);
      acc[r][6] = mac_lo(acc[r][6], w3, x);
      acc[r][7] = mac_hi(acc[r][7], w3, x);
    }
  }
  {
    int32x4_t base[4];
    for (j = 0; j < 4; ++j) base[j] = vaddq_s32(vld1q_s32(init + 4 * j), vshlq_n_s32(wsum[j], 7));
    for (r = 0; r < mr; ++r, c += c_stride) {
      int32x4_t s[4];
      for (j = 0; j < 4; ++j) s[j] = vaddq_s32(base[j], fold(acc[r][2 * j], acc[r][2 * j + 1]));
      pe_requant16_store_neon(c, nc, s, mult, shift, voff, vmin, vmax);
    }
  }
}
