/* int4-weight GEMM microkernel, NEON (AArch64): 2 rows x 16 channels over the packed N16K8
 * nibbles (qs4_gemm.h). The int8 NEON kernel's arithmetic (qs8_gemm_neon.c: the panel flipped back
 * to int8, SMULL + SADALP, 128 * sum(w) added from the weights); each 64-byte pair of k-groups is
 * split in registers: the low nibbles sign extended by a left shift of 4 and an arithmetic right
 * shift of 4, the high nibbles by the arithmetic right shift alone. */
#include <string.h>

#include "pe_requant_neon.h"
#include "qs4_gemm.h"

#if defined(__aarch64__)
static inline int8x16_t bcast4(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return veorq_s8(vreinterpretq_s8_u32(vdupq_n_u32(v)), vdupq_n_s8((int8_t)0x80));
}

static inline int32x4_t mac_lo(int32x4_t acc, int8x16_t w, int8x16_t x) {
  return vpadalq_s16(acc, vmull_s8(vget_low_s8(w), vget_low_s8(x)));
}
static inline int32x4_t mac_hi(int32x4_t acc, int8x16_t w, int8x16_t x) {
  return vpadalq_s16(acc, vmull_high_s8(w, x));
}
static inline int8x16_t low4(int8x16_t v) { return vshrq_n_s8(vshlq_n_s8(v, 4), 4); }
static inline int8x16_t high4(int8x16_t v) { return vshrq_n_s8(v, 4); }

void pe_qs4_gemm_2x16c8__neon(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                              const int8_t *w, const int32_t *init, const int32_t *mult,
                              const int32_t *shift, int32_t output_offset, int32_t act_min,
                              int32_t act_max, int8_t *c, size_t c_stride, const int32_t *rowadd) {
  const int32x4_t voff = vdupq_n_s32(output_offset), vmin = vdupq_n_s32(act_min), vmax = vdupq_n_s32(act_max);
  const uint8_t *a0 = a, *a1 = mr > 1 ? a + a_stride : a;
  const int8_t *w_start = w;
  int32x4_t c00 = vdupq_n_s32(0), c01 = c00, c02 = c00, c03 = c00, c04 = c00, c05 = c00, c06 = c00, c07 = c00;
  int32x4_t c10 = c00, c11 = c00, c12 = c00, c13 = c00, c14 = c00, c15 = c00, c16 = c00, c17 = c00;
  int32x4_t s0 = c00, s1 = c00, s2 = c00, s3 = c00;
  size_t k;
#define PE_KGROUP(w0, w1, w2, w3, kk)                                                             \
  {                                                                                               \
    const int8x16_t x0 = bcast4(a0 + (kk)), x1 = bcast4(a1 + (kk));                               \
    c00 = mac_lo(c00, w0, x0); c01 = mac_hi(c01, w0, x0); c02 = mac_lo(c02, w1, x0);             \
    c03 = mac_hi(c03, w1, x0); c04 = mac_lo(c04, w2, x0); c05 = mac_hi(c05, w2, x0);             \
    c06 = mac_lo(c06, w3, x0); c07 = mac_hi(c07, w3, x0);                                         \
    c10 = mac_lo(c10, w0, x1); c11 = mac_hi(c11, w0, x1); c12 = mac_lo(c12, w1, x1);             \
    c13 = mac_hi(c13, w1, x1); c14 = mac_lo(c14, w2, x1); c15 = mac_hi(c15, w2, x1);             \
    c16 = mac_lo(c16, w3, x1); c17 = mac_hi(c17, w3, x1);                                         \
  }
  for (k = 0; k < kp; k += 8, w += 64) {
    const int8x16_t v0 = vld1q_s8(w), v1 = vld1q_s8(w + 16), v2 = vld1q_s8(w + 32), v3 = vld1q_s8(w + 48);
    PE_KGROUP(low4(v0), low4(v1), low4(v2), low4(v3), k)
    if (k + 4 < kp) PE_KGROUP(high4(v0), high4(v1), high4(v2), high4(v3), k + 4)
  }
#undef PE_KGROUP
  /* sum_k w (the high nibbles past kp are 0) */
  for (w = w_start, k = 0; k < kp; k += 8, w += 64) {
    const int8x16_t v0 = vld1q_s8(w), v1 = vld1q_s8(w + 16), v2 = vld1q_s8(w + 32), v3 = vld1q_s8(w + 48);
    s0 = vpadalq_s16(s0, vpaddlq_s8(vaddq_s8(low4(v0), high4(v0))));
    s1 = vpadalq_s16(s1, vpaddlq_s8(vaddq_s8(low4(v1), high4(v1))));
    s2 = vpadalq_s16(s2, vpaddlq_s8(vaddq_s8(low4(v2), high4(v2))));
    s3 = vpadalq_s16(s3, vpaddlq_s8(vaddq_s8(low4(v3), high4(v3))));
  }
  {
    const int32x4_t b0 = vaddq_s32(vld1q_s32(init), vshlq_n_s32(s0, 7));
    const int32x4_t b1 = vaddq_s32(vld1q_s32(init + 4), vshlq_n_s32(s1, 7));
    const int32x4_t b2 = vaddq_s32(vld1q_s32(init + 8), vshlq_n_s32(s2, 7));
    const int32x4_t b3 = vaddq_s32(vld1q_s32(init + 12), vshlq_n_s32(s3, 7));
    const int32x4_t ra0 = vdupq_n_s32(rowadd != NULL ? rowadd[0] : 0);
    const int32x4_t r0[4] = {vaddq_s32(vaddq_s32(b0, ra0), vpaddq_s32(c00, c01)),
                             vaddq_s32(vaddq_s32(b1, ra0), vpaddq_s32(c02, c03)),
                             vaddq_s32(vaddq_s32(b2, ra0), vpaddq_s32(c04, c05)),
                             vaddq_s32(vaddq_s32(b3, ra0), vpaddq_s32(c06, c07))};
    pe_requant16_store_neon(c, nc, r0, mult, shift, voff, vmin, vmax);
    if (mr > 1) {
      const int32x4_t ra1 = vdupq_n_s32(rowadd != NULL ? rowadd[1] : 0);
      const int32x4_t r1[4] = {vaddq_s32(vaddq_s32(b0, ra1), vpaddq_s32(c10, c11)),
                               vaddq_s32(vaddq_s32(b1, ra1), vpaddq_s32(c12, c13)),
                               vaddq_s32(vaddq_s32(b2, ra1), vpaddq_s32(c14, c15)),
                               vaddq_s32(vaddq_s32(b3, ra1), vpaddq_s32(c16, c17))};
      pe_requant16_store_neon(c + c_stride, nc, r1, mult, shift, voff, vmin, vmax);
    }
  }
}
#endif
