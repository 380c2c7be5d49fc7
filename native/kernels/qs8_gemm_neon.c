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
                              int32_t act_max, int8_t *c, size_t c_stride,
    const int32_t *rowadd)
#else
void pe_qs8_gemm_1x16c4__neon(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                              const int8_t *w, const int32_t *init, const int32_t *mult,
                              const int32_t *shift, int32_t output_offset, int32_t act_min,
                              int32_t act_max, int8_t *c, size_t c_stride,
    const int32_t *rowadd)
#endif
{
  const int32x4_t voff = vdupq_n_s32(output_offset), vmin = vdupq_n_s32(act_min), vmax = vdupq_n_s32(act_max);
  const uint8_t *a0 = a;
  /* accumulators named, not arrayed: GCC spills an array of vectors to the stack */
  int32x4_t c00 = vdupq_n_s32(0), c01 = c00, c02 = c00, c03 = c00, c04 = c00, c05 = c00, c06 = c00, c07 = c00;
  int32x4_t s0 = c00, s1 = c00, s2 = c00, s3 = c00;
#if MR == 2
  const uint8_t *a1 = mr > 1 ? a0 + a_stride : a0;
  int32x4_t c10 = c00, c11 = c00, c12 = c00, c13 = c00, c14 = c00, c15 = c00, c16 = c00, c17 = c00;
#endif
  size_t k;
  (void)a_stride;
  for (k = 0; k < kp; k += 4, w += 64) {
    const int8x16_t w0 = vld1q_s8(w), w1 = vld1q_s8(w + 16), w2 = vld1q_s8(w + 32), w3 = vld1q_s8(w + 48);
    const int8x16_t x0 = bcast4(a0 + k);
    c00 = mac_lo(c00, w0, x0);
    c01 = mac_hi(c01, w0, x0);
    c02 = mac_lo(c02, w1, x0);
    c03 = mac_hi(c03, w1, x0);
    c04 = mac_lo(c04, w2, x0);
    c05 = mac_hi(c05, w2, x0);
    c06 = mac_lo(c06, w3, x0);
    c07 = mac_hi(c07, w3, x0);
#if MR == 2
    {
      const int8x16_t x1 = bcast4(a1 + k);
      c10 = mac_lo(c10, w0, x1);
      c11 = mac_hi(c11, w0, x1);
      c12 = mac_lo(c12, w1, x1);
      c13 = mac_hi(c13, w1, x1);
      c14 = mac_lo(c14, w2, x1);
      c15 = mac_hi(c15, w2, x1);
      c16 = mac_lo(c16, w3, x1);
      c17 = mac_hi(c17, w3, x1);
    }
#endif
  }
  /* sum_k w, in a pass of its own: summed in the loop above, it leaves too few registers */
  for (w -= kp * 16, k = 0; k < kp; k += 4, w += 64) {
    s0 = vpadalq_s16(s0, vpaddlq_s8(vld1q_s8(w)));
    s1 = vpadalq_s16(s1, vpaddlq_s8(vld1q_s8(w + 16)));
    s2 = vpadalq_s16(s2, vpaddlq_s8(vld1q_s8(w + 32)));
    s3 = vpadalq_s16(s3, vpaddlq_s8(vld1q_s8(w + 48)));
  }
  {
    /* init + 128 * wsum */
    const int32x4_t b0 = vaddq_s32(vld1q_s32(init), vshlq_n_s32(s0, 7));
    const int32x4_t b1 = vaddq_s32(vld1q_s32(init + 4), vshlq_n_s32(s1, 7));
    const int32x4_t b2 = vaddq_s32(vld1q_s32(init + 8), vshlq_n_s32(s2, 7));
    const int32x4_t b3 = vaddq_s32(vld1q_s32(init + 12), vshlq_n_s32(s3, 7));
    const int32x4_t ra0 = vdupq_n_s32(rowadd != NULL ? rowadd[0] : 0);
    const int32x4_t r0[4] = {vaddq_s32(vaddq_s32(b0, ra0), fold(c00, c01)), vaddq_s32(vaddq_s32(b1, ra0), fold(c02, c03)),
                             vaddq_s32(vaddq_s32(b2, ra0), fold(c04, c05)), vaddq_s32(vaddq_s32(b3, ra0), fold(c06, c07))};
    pe_requant16_store_neon(c, nc, r0, mult, shift, voff, vmin, vmax);
#if MR == 2
    if (mr > 1) {
      const int32x4_t ra1 = vdupq_n_s32(rowadd != NULL ? rowadd[1] : 0);
      const int32x4_t r1[4] = {vaddq_s32(vaddq_s32(b0, ra1), fold(c10, c11)), vaddq_s32(vaddq_s32(b1, ra1), fold(c12, c13)),
                               vaddq_s32(vaddq_s32(b2, ra1), fold(c14, c15)), vaddq_s32(vaddq_s32(b3, ra1), fold(c16, c17))};
      pe_requant16_store_neon(c + c_stride, nc, r1, mult, shift, voff, vmin, vmax);
    }
#else
    (void)mr;
    (void)c_stride;
#endif
  }
}
