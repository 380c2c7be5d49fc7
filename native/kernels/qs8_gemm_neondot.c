/* int8 GEMM microkernel, AArch64 dot product (SDOT, ARMv8.2 +dotprod; Cortex-A76, the Pi 5):
 * 4 rows x 16 channels over the packed N16K4 layout (qs8_gemm.h), whose weight vectors are
 * exactly SDOT's operand: 4 channels x 4 k in each 16 bytes. The panel's uint8 a = x + 128 is
 * flipped back to the int8 x (SDOT is signed x signed); sum_k w * a = sum_k w * x + 128 * sum_k w,
 * the second term from SDOT of the same weights with -128 (once per tile, not per row: it is
 * subtracted). Every sum is exact int32 with wrap-around, as TFLite's accumulator. */
#include <string.h>

#include "pe_requant_neon.h"
#include "qs8_gemm.h"

#define MR 4

void pe_qs8_gemm_4x16c4__neondot(size_t mr, size_t nc, size_t kp, const uint8_t *a, size_t a_stride,
                                 const int8_t *w, const int32_t *init, const int32_t *mult,
                                 const int32_t *shift, int32_t output_offset, int32_t act_min,
                                 int32_t act_max, int8_t *c, size_t c_stride) {
  const int32x4_t voff = vdupq_n_s32(output_offset), vmin = vdupq_n_s32(act_min), vmax = vdupq_n_s32(act_max);
  const int8x16_t flip = vdupq_n_s8((int8_t)0x80);
  const uint8_t *ar[MR];
  int32x4_t acc[MR][4], neg[4];
  size_t k = 0, r;
  int j;
  for (r = 0; r < MR; ++r) ar[r] = a + (r < mr ? r : mr - 1) * a_stride;
  for (j = 0; j < 4; ++j) neg[j] = vdupq_n_s32(0);
  for (r = 0; r < MR; ++r)
    for (j = 0; j < 4; ++j) acc[r][j] = vdupq_n_s32(0);
  /* 16 k at a time: one activation load per row, its four 32-bit lanes broadcast by SDOT */
  for (; k + 16 <= kp; k += 16, w += 256) {
    int8x16_t x[MR];
    for (r = 0; r < MR; ++r) x[r] = veorq_s8(vreinterpretq_s8_u8(vld1q_u8(ar[r] + k)), flip);
#define PE_DOT_STEP(g)                                                             \
  {                                                                                \
    const int8x16_t w0 = vld1q_s8(w + 64 * (g)), w1 = vld1q_s8(w + 64 * (g) + 16);  \
    const int8x16_t w2 = vld1q_s8(w + 64 * (g) + 32), w3 = vld1q_s8(w + 64 * (g) + 48); \
    neg[0] = vdotq_s32(neg[0], w0, flip);                                          \
    neg[1] = vdotq_s32(neg[1], w1, flip);                                          \
    neg[2] = vdotq_s32(neg[2], w2, flip);                                          \
    neg[3] = vdotq_s32(neg[3], w3, flip);                                          \
    for (r = 0; r < MR; ++r) {                                                     \
      acc[r][0] = vdotq_laneq_s32(acc[r][0], w0, x[r], g);                         \
      acc[r][1] = vdotq_laneq_s32(acc[r][1], w1, x[r], g);                         \
      acc[r][2] = vdotq_laneq_s32(acc[r][2], w2, x[r], g);                         \
      acc[r][3] = vdotq_laneq_s32(acc[r][3], w3, x[r], g);                         \
    }                                                                              \
  }
    PE_DOT_STEP(0)
    PE_DOT_STEP(1)
    PE_DOT_STEP(2)
    PE_DOT_STEP(3)
#undef PE_DOT_STEP
  }
  for (; k < kp; k += 4, w += 64) {
    const int8x16_t w0 = vld1q_s8(w), w1 = vld1q_s8(w + 16), w2 = vld1q_s8(w + 32), w3 = vld1q_s8(w + 48);
    neg[0] = vdotq_s32(neg[0], w0, flip);
    neg[1] = vdotq_s32(neg[1], w1, flip);
    neg[2] = vdotq_s32(neg[2], w2, flip);
    neg[3] = vdotq_s32(neg[3], w3, flip);
    for (r = 0; r < MR; ++r) {
      uint32_t v;
      int8x16_t x;
      memcpy(&v, ar[r] + k, 4);
      x = veorq_s8(vreinterpretq_s8_u32(vdupq_n_u32(v)), flip);
      acc[r][0] = vdotq_s32(acc[r][0], w0, x);
      acc[r][1] = vdotq_s32(acc[r][1], w1, x);
      acc[r][2] = vdotq_s32(acc[r][2], w2, x);
      acc[r][3] = vdotq_s32(acc[r][3], w3, x);
    }
  }
  {
    int32x4_t base[4];
    for (j = 0; j < 4; ++j) base[j] = vsubq_s32(vld1q_s32(init + 4 * j), neg[j]); /* init + 128 * wsum */
    for (r = 0; r < mr; ++r, c += c_stride) {
      int32x4_t s[4];
      for (j = 0; j < 4; ++j) s[j] = vaddq_s32(base[j], acc[r][j]);
      pe_requant16_store_neon(c, nc, s, mult, shift, voff, vmin, vmax);
    }
  }
}
